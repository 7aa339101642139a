//! Stream-table and table-table joins under the TopologyTestDriver: inner,
//! left and outer, null keys and values, derived (unmaterialized) tables
//! read through their value getters, materialized results, result
//! timestamps, and a join after a restart from the state directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use weir_core::dsl::{Joined, KTable, Materialized, StreamsBuilder};
use weir_core::topology::{Consumed, Produced};
use weir_core::{Record, Serdes};
use weir_testing::{DriverConfig, TestInputTopic, TopologyTestDriver};

fn s(text: &str) -> String {
    text.to_string()
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn to_strings() -> Produced<String, String> {
    Produced::with(Serdes::string(), Serdes::string())
}

fn table(builder: &StreamsBuilder, topic: &str) -> KTable<String, String> {
    builder.table(
        topic,
        strings(),
        Materialized::as_(topic, Serdes::string(), Serdes::string()).with_caching(false),
    )
}

fn joined() -> Joined<String, String, String> {
    Joined::with(Serdes::string(), Serdes::string(), Serdes::string())
}

fn drive(builder: StreamsBuilder) -> TopologyTestDriver {
    let config = DriverConfig::new()
        .with_application_id("joins")
        .with_cache_max_bytes(0);
    TopologyTestDriver::new(builder.build().unwrap(), config).unwrap()
}

fn input(driver: &TopologyTestDriver, topic: &str) -> TestInputTopic<String, String> {
    driver.create_input_topic(topic, Serdes::string(), Serdes::string())
}

fn out(driver: &TopologyTestDriver) -> Vec<Record<String, String>> {
    driver
        .create_output_topic("out", Serdes::string(), Serdes::string())
        .read_records_to_list()
        .unwrap()
}

fn rec(key: &str, value: &str, ts: i64) -> Record<String, String> {
    Record::new(s(key), s(value), ts)
}

fn tomb(key: &str, ts: i64) -> Record<String, String> {
    Record::from_parts(Some(s(key)), None, ts, Default::default())
}

#[test]
fn an_inner_stream_table_join_joins_stream_records_with_the_current_row() {
    let b = StreamsBuilder::new();
    let t = table(&b, "table");
    b.stream("stream", strings())
        .join_table(&t, |v, row| format!("{v}+{row}"), joined())
        .to("out", to_strings());
    let driver = drive(b);
    let (mut stream, mut tbl) = (input(&driver, "stream"), input(&driver, "table"));
    stream.pipe_key_value_at(s("a"), s("s1"), 1).unwrap(); // no row yet: nothing
    tbl.pipe_key_value_at(s("a"), s("t1"), 2).unwrap(); // table updates emit nothing
    stream.pipe_key_value_at(s("a"), s("s2"), 3).unwrap();
    tbl.pipe_key_value_at(s("a"), s("t2"), 10).unwrap();
    stream.pipe_key_value_at(s("a"), s("s3"), 4).unwrap(); // the latest row, ts of the stream
    tbl.pipe_record(tomb("a", 11)).unwrap();
    stream.pipe_key_value_at(s("a"), s("s4"), 12).unwrap(); // deleted: nothing
    stream.pipe_record(tomb("a", 13)).unwrap(); // null value: dropped
    assert_eq!(
        out(&driver),
        vec![rec("a", "s2+t1", 3), rec("a", "s3+t2", 4)]
    );
    assert_eq!(driver.dropped_records(), 1);
}

#[test]
fn a_left_stream_table_join_keeps_records_without_a_row_or_a_key() {
    let b = StreamsBuilder::new();
    let t = table(&b, "table");
    b.stream("stream", strings())
        .left_join_table(
            &t,
            |v, row| format!("{v}+{}", row.map_or("null", String::as_str)),
            joined(),
        )
        .to("out", to_strings());
    let driver = drive(b);
    let (mut stream, mut tbl) = (input(&driver, "stream"), input(&driver, "table"));
    stream.pipe_key_value_at(s("a"), s("s1"), 1).unwrap();
    tbl.pipe_key_value_at(s("a"), s("t1"), 2).unwrap();
    stream.pipe_key_value_at(s("a"), s("s2"), 3).unwrap();
    // KIP-962: a record without a key is joined with no row by a left join.
    stream
        .pipe_record(Record::from_parts(
            None,
            Some(s("s3")),
            4,
            Default::default(),
        ))
        .unwrap();
    let got = driver
        .create_output_topic("out", Serdes::string(), Serdes::string())
        .read_records_to_list()
        .unwrap();
    assert_eq!(
        got,
        vec![
            rec("a", "s1+null", 1),
            rec("a", "s2+t1", 3),
            Record::from_parts(None, Some(s("s3+null")), 4, Default::default()),
        ]
    );
    assert_eq!(driver.dropped_records(), 0);
}

#[test]
fn an_inner_stream_table_join_drops_records_without_a_key() {
    let b = StreamsBuilder::new();
    let t = table(&b, "table");
    b.stream("stream", strings())
        .join_table(&t, |v, row| format!("{v}+{row}"), joined())
        .to("out", to_strings());
    let driver = drive(b);
    let mut stream = input(&driver, "stream");
    stream
        .pipe_record(Record::from_parts(
            None,
            Some(s("s")),
            1,
            Default::default(),
        ))
        .unwrap();
    assert_eq!(out(&driver), vec![]);
    assert_eq!(driver.dropped_records(), 1);
}

#[test]
fn a_stream_joins_a_filtered_and_mapped_table_through_its_value_getter() {
    let b = StreamsBuilder::new();
    let t = table(&b, "table")
        .filter(|_k, v| !v.starts_with('x'))
        .map_values(|v| v.to_uppercase());
    b.stream("stream", strings())
        .left_join_table(
            &t,
            |v, row| format!("{v}+{}", row.map_or("null", String::as_str)),
            joined(),
        )
        .to("out", to_strings());
    let driver = drive(b);
    let (mut stream, mut tbl) = (input(&driver, "stream"), input(&driver, "table"));
    tbl.pipe_key_value_at(s("a"), s("t1"), 1).unwrap();
    tbl.pipe_key_value_at(s("b"), s("x1"), 1).unwrap();
    stream.pipe_key_value_at(s("a"), s("s1"), 2).unwrap();
    stream.pipe_key_value_at(s("b"), s("s2"), 2).unwrap();
    assert_eq!(
        out(&driver),
        vec![rec("a", "s1+T1", 2), rec("b", "s2+null", 2)]
    );
}

fn table_join_topology(kind: &str, materialized: bool) -> StreamsBuilder {
    let b = StreamsBuilder::new();
    let (l, r) = (table(&b, "left"), table(&b, "right"));
    let show = |v: Option<&String>| v.map_or("null", String::as_str).to_string();
    let result = match (kind, materialized) {
        ("inner", false) => l.join(&r, |a, b| format!("{a}+{b}")),
        ("left", false) => l.left_join(&r, move |a, b| format!("{a}+{}", show(b))),
        ("outer", false) => l.outer_join(&r, move |a, b| format!("{}+{}", show(a), show(b))),
        ("inner", true) => l.join_materialized(
            &r,
            |a, b| format!("{a}+{b}"),
            Materialized::as_("joined", Serdes::string(), Serdes::string()).with_caching(false),
        ),
        _ => unreachable!(),
    };
    result.to("out", to_strings());
    b
}

/// The table-table script: left and right updates of one key, in order.
fn play_table_script(driver: &TopologyTestDriver) {
    let (mut l, mut r) = (input(driver, "left"), input(driver, "right"));
    l.pipe_key_value_at(s("k"), s("l1"), 1).unwrap();
    r.pipe_key_value_at(s("k"), s("r1"), 5).unwrap();
    l.pipe_key_value_at(s("k"), s("l2"), 3).unwrap();
    r.pipe_record(tomb("k", 6)).unwrap();
    l.pipe_record(tomb("k", 7)).unwrap();
    r.pipe_key_value_at(s("k"), s("r2"), 8).unwrap();
}

#[test]
fn an_inner_table_join_recomputes_on_either_side_with_the_newer_timestamp() {
    let driver = drive(table_join_topology("inner", false));
    play_table_script(&driver);
    assert_eq!(
        out(&driver),
        vec![
            rec("k", "l1+r1", 5),
            rec("k", "l2+r1", 5), // max(3, 5)
            tomb("k", 6),
        ]
    );
}

#[test]
fn a_left_table_join_keeps_the_left_rows() {
    let driver = drive(table_join_topology("left", false));
    play_table_script(&driver);
    assert_eq!(
        out(&driver),
        vec![
            rec("k", "l1+null", 1),
            rec("k", "l1+r1", 5),
            rec("k", "l2+r1", 5),
            rec("k", "l2+null", 6),
            tomb("k", 7),
        ]
    );
}

#[test]
fn an_outer_table_join_keeps_rows_of_either_side() {
    let driver = drive(table_join_topology("outer", false));
    play_table_script(&driver);
    assert_eq!(
        out(&driver),
        vec![
            rec("k", "l1+null", 1),
            rec("k", "l1+r1", 5),
            rec("k", "l2+r1", 5),
            rec("k", "l2+null", 6),
            tomb("k", 7),
            rec("k", "null+r2", 8),
        ]
    );
}

#[test]
fn a_materialized_table_join_keeps_its_rows_in_its_store() {
    let driver = drive(table_join_topology("inner", true));
    let (mut l, mut r) = (input(&driver, "left"), input(&driver, "right"));
    l.pipe_key_value_at(s("a"), s("l1"), 1).unwrap();
    r.pipe_key_value_at(s("a"), s("r1"), 2).unwrap();
    l.pipe_key_value_at(s("b"), s("l2"), 3).unwrap();
    r.pipe_key_value_at(s("b"), s("r2"), 4).unwrap();
    r.pipe_record(tomb("b", 5)).unwrap();
    assert_eq!(
        out(&driver),
        vec![rec("a", "l1+r1", 2), rec("b", "l2+r2", 4), tomb("b", 5)]
    );
    let store = driver.key_value_store::<String, String>("joined").unwrap();
    assert_eq!(store.get(&s("a")).unwrap(), Some(s("l1+r1")));
    assert_eq!(store.get(&s("b")).unwrap(), None);
}

#[test]
fn a_stream_joins_an_unmaterialized_table_join() {
    let b = StreamsBuilder::new();
    let (l, r) = (table(&b, "left"), table(&b, "right"));
    let both = l.join(&r, |a, b| format!("{a}+{b}"));
    b.stream("stream", strings())
        .join_table(&both, |v, row| format!("{v}:{row}"), joined())
        .to("out", to_strings());
    let driver = drive(b);
    let (mut stream, mut left, mut right) = (
        input(&driver, "stream"),
        input(&driver, "left"),
        input(&driver, "right"),
    );
    left.pipe_key_value_at(s("a"), s("l"), 1).unwrap();
    stream.pipe_key_value_at(s("a"), s("s1"), 2).unwrap(); // no right row: no joined row
    right.pipe_key_value_at(s("a"), s("r"), 3).unwrap();
    stream.pipe_key_value_at(s("a"), s("s2"), 4).unwrap();
    assert_eq!(out(&driver), vec![rec("a", "s2:l+r", 4)]);
}

#[test]
fn joining_a_table_of_windows_fails_the_build_naming_the_join() {
    use std::time::Duration;
    use weir_core::dsl::TimeWindows;
    let b = StreamsBuilder::new();
    let counts = b
        .stream("in", strings())
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(
            10,
        )))
        .count(Materialized::as_("counts", Serdes::string(), Serdes::i64()));
    counts
        .to_stream()
        .join_table(&counts, |a, b| a + b, Joined::as_("self-windows"))
        .foreach(|_, _| {});
    let err = b.build().unwrap_err().to_string();
    assert!(err.contains("self-windows"), "{err}");
    assert!(err.contains("cannot be joined"), "{err}");
}
