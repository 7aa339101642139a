//! Versioned tables under the TopologyTestDriver (KIP-889 / 914 / 923):
//! a versioned table source (out-of-order updates kept in its history,
//! updates past the history retention dropped), the stream-table join
//! looking a versioned table up as of each stream record's timestamp, the
//! join's grace buffer (timestamp order, late records joined at once) and
//! its restoration after a restart, under both guarantees.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

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

fn versioned(builder: &StreamsBuilder, topic: &str, history_ms: u64) -> KTable<String, String> {
    builder.table(
        topic,
        strings(),
        Materialized::as_versioned(
            topic,
            Serdes::string(),
            Serdes::string(),
            Duration::from_millis(history_ms),
        ),
    )
}

fn joined() -> Joined<String, String, String> {
    Joined::with(Serdes::string(), Serdes::string(), Serdes::string())
}

fn config(eos: bool) -> DriverConfig {
    DriverConfig::new()
        .with_application_id("versioned")
        .with_exactly_once(eos)
}

fn drive(builder: StreamsBuilder) -> TopologyTestDriver {
    TopologyTestDriver::new(builder.build().unwrap(), config(false)).unwrap()
}

fn input(driver: &TopologyTestDriver, topic: &str) -> TestInputTopic<String, String> {
    driver.create_input_topic(topic, Serdes::string(), Serdes::string())
}

fn out(driver: &TopologyTestDriver) -> Vec<(String, Option<String>, i64)> {
    driver
        .create_output_topic("out", Serdes::string(), Serdes::string())
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r: Record<String, String>| (r.key.unwrap(), r.value, r.timestamp))
        .collect()
}

fn o(key: &str, value: &str, ts: i64) -> (String, Option<String>, i64) {
    (s(key), Some(s(value)), ts)
}

#[test]
fn a_versioned_table_keeps_out_of_order_updates_in_history_and_drops_expired_ones() {
    let b = StreamsBuilder::new();
    versioned(&b, "table", 100)
        .to_stream()
        .to("out", to_strings());
    let driver = drive(b);
    let mut table = input(&driver, "table");
    table.pipe_key_value_at(s("a"), s("a10"), 10).unwrap();
    table.pipe_key_value_at(s("a"), s("a30"), 30).unwrap();
    table.pipe_key_value_at(s("a"), s("a20"), 20).unwrap(); // out of order: history
    table.pipe_key_value_at(s("b"), s("b200"), 200).unwrap();
    table.pipe_key_value_at(s("a"), s("a99"), 99).unwrap(); // past the grace: dropped
    table.pipe_key_value_at(s("a"), s("a100"), 100).unwrap();
    // Kafka Streams' KTableSource forwards what the store took, the
    // out-of-order update too; the one it refused is not forwarded.
    assert_eq!(
        out(&driver),
        [
            o("a", "a10", 10),
            o("a", "a30", 30),
            o("a", "a20", 20),
            o("b", "b200", 200),
            o("a", "a100", 100)
        ]
    );
    assert_eq!(driver.dropped_records(), 1);
    let store = driver
        .versioned_key_value_store::<String, String>("table")
        .unwrap();
    let latest = store.get(&s("a")).unwrap().unwrap();
    assert_eq!((latest.value.as_str(), latest.timestamp), ("a100", 100));
    let then = store.get_as_of(&s("a"), 25).unwrap();
    // 25 is older than stream time 200 - history 100: only the latest can answer.
    assert_eq!(then, None);
    let at = store.get_as_of(&s("a"), 150).unwrap().unwrap();
    assert_eq!((at.value.as_str(), at.valid_to), ("a100", None));
}

#[test]
fn a_stream_table_join_reads_a_versioned_table_as_of_the_stream_record() {
    let b = StreamsBuilder::new();
    let t = versioned(&b, "table", 1_000);
    b.stream("stream", strings())
        .left_join_table(
            &t,
            |v, row: Option<&String>| format!("{v}+{}", row.map_or("-", String::as_str)),
            joined(),
        )
        .to("out", to_strings());
    let driver = drive(b);
    let (mut stream, mut table) = (input(&driver, "stream"), input(&driver, "table"));
    table.pipe_key_value_at(s("a"), s("t10"), 10).unwrap();
    table.pipe_key_value_at(s("a"), s("t30"), 30).unwrap();
    table.pipe_key_value_at(s("a"), s("t20"), 20).unwrap(); // late, into the history
    stream.pipe_key_value_at(s("a"), s("s5"), 5).unwrap();
    stream.pipe_key_value_at(s("a"), s("s15"), 15).unwrap();
    stream.pipe_key_value_at(s("a"), s("s25"), 25).unwrap();
    stream.pipe_key_value_at(s("a"), s("s40"), 40).unwrap();
    table
        .pipe_record(Record::from_parts(
            Some(s("a")),
            None,
            50,
            Default::default(),
        ))
        .unwrap();
    stream.pipe_key_value_at(s("a"), s("s45"), 45).unwrap();
    stream.pipe_key_value_at(s("a"), s("s55"), 55).unwrap();
    assert_eq!(
        out(&driver),
        [
            o("a", "s5+-", 5),
            o("a", "s15+t10", 15),
            o("a", "s25+t20", 25),
            o("a", "s40+t30", 40),
            o("a", "s45+t30", 45),
            o("a", "s55+-", 55)
        ]
    );
}

fn graced_join(history_ms: u64, grace_ms: u64) -> StreamsBuilder {
    let b = StreamsBuilder::new();
    let t = versioned(&b, "table", history_ms);
    b.stream("stream", strings())
        .join_table(
            &t,
            |v, row| format!("{v}+{row}"),
            joined()
                .with_name("graced")
                .with_grace_period(Duration::from_millis(grace_ms)),
        )
        .to("out", to_strings());
    b
}

#[test]
fn the_grace_period_waits_for_late_table_updates_and_emits_in_timestamp_order() {
    let driver = drive(graced_join(1_000, 10));
    let (mut stream, mut table) = (input(&driver, "stream"), input(&driver, "table"));
    table.pipe_key_value_at(s("a"), s("t0"), 0).unwrap();
    stream.pipe_key_value_at(s("a"), s("s5"), 5).unwrap();
    stream.pipe_key_value_at(s("a"), s("s3"), 3).unwrap();
    // A table update arriving late, for time 4: s5 must see it, s3 not.
    table.pipe_key_value_at(s("a"), s("t4"), 4).unwrap();
    assert_eq!(out(&driver), []);
    stream.pipe_key_value_at(s("b"), s("s14"), 14).unwrap();
    assert_eq!(out(&driver), [o("a", "s3+t0", 3)]);
    stream.pipe_key_value_at(s("a"), s("s20"), 20).unwrap();
    assert_eq!(out(&driver), [o("a", "s5+t4", 5)]);
    // Older than the buffer's stream time (20) - grace: joined at once.
    stream.pipe_key_value_at(s("a"), s("s2"), 2).unwrap();
    assert_eq!(out(&driver), [o("a", "s2+t0", 2)]);
    table.pipe_key_value_at(s("b"), s("u1"), 1).unwrap();
    stream.pipe_key_value_at(s("c"), s("s40"), 40).unwrap();
    assert_eq!(out(&driver), [o("b", "s14+u1", 14), o("a", "s20+t4", 20)]);
    assert!(driver.state_store_names().contains(&s("graced-Buffer")));
}

#[test]
fn a_grace_period_on_a_table_that_is_not_versioned_fails_the_build() {
    let b = StreamsBuilder::new();
    let t = b.table(
        "table",
        strings(),
        Materialized::as_("table", Serdes::string(), Serdes::string()),
    );
    b.stream("stream", strings())
        .join_table(
            &t,
            |v, row| format!("{v}+{row}"),
            joined().with_grace_period(Duration::from_millis(10)),
        )
        .to("out", to_strings());
    let err = b.build().unwrap_err().to_string();
    assert!(err.contains("versioned"), "{err}");
}

fn restart_keeps_the_buffer(eos: bool) {
    let driver =
        TopologyTestDriver::new(graced_join(1_000, 10).build().unwrap(), config(eos)).unwrap();
    let (mut stream, mut table) = (input(&driver, "stream"), input(&driver, "table"));
    table.pipe_key_value_at(s("a"), s("t0"), 0).unwrap();
    stream.pipe_key_value_at(s("a"), s("s5"), 5).unwrap();
    stream.pipe_key_value_at(s("a"), s("s8"), 8).unwrap();
    stream.pipe_key_value_at(s("a"), s("s16"), 16).unwrap();
    assert_eq!(out(&driver), [o("a", "s5+t0", 5)]);
    driver.restart().unwrap();
    let (mut stream, mut table) = (input(&driver, "stream"), input(&driver, "table"));
    table.pipe_key_value_at(s("a"), s("t7"), 7).unwrap();
    // The buffer's stream time (16) survived: 5 is joined at once.
    stream.pipe_key_value_at(s("a"), s("s5b"), 5).unwrap();
    stream.pipe_key_value_at(s("a"), s("s30"), 30).unwrap();
    assert_eq!(
        out(&driver),
        [
            o("a", "s5b+t0", 5),
            o("a", "s8+t7", 8),
            o("a", "s16+t7", 16)
        ]
    );
}

#[test]
fn a_restart_restores_the_grace_buffer() {
    restart_keeps_the_buffer(false);
}

#[test]
fn a_restart_restores_the_grace_buffer_under_exactly_once() {
    restart_keeps_the_buffer(true);
}

#[test]
fn a_versioned_table_and_grace_buffer_on_rocksdb_survive_a_new_driver() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(false).with_state_dir(dir.path());
    let first =
        TopologyTestDriver::new(graced_join(1_000, 10).build().unwrap(), config.clone()).unwrap();
    let (mut stream, mut table) = (input(&first, "stream"), input(&first, "table"));
    table.pipe_key_value_at(s("a"), s("t0"), 0).unwrap();
    table.pipe_key_value_at(s("a"), s("t9"), 9).unwrap();
    table.pipe_key_value_at(s("a"), s("t4"), 4).unwrap(); // out of order
    stream.pipe_key_value_at(s("a"), s("s5"), 5).unwrap();
    stream.pipe_key_value_at(s("a"), s("s12"), 12).unwrap();
    assert_eq!(out(&first), []);
    first.close().unwrap();
    drop(first);
    assert!(std::fs::read_dir(dir.path().join("versioned"))
        .unwrap()
        .any(|task| task.unwrap().path().join("rocksdb/table/CURRENT").exists()));

    let second = TopologyTestDriver::new(graced_join(1_000, 10).build().unwrap(), config).unwrap();
    let mut stream = input(&second, "stream");
    stream.pipe_key_value_at(s("b"), s("s30"), 30).unwrap();
    assert_eq!(out(&second), [o("a", "s5+t4", 5), o("a", "s12+t9", 12)]);
    let store = second
        .versioned_key_value_store::<String, String>("table")
        .unwrap();
    let at = store.get_as_of(&s("a"), 6).unwrap().unwrap();
    assert_eq!(
        (at.value.as_str(), at.timestamp, at.valid_to),
        ("t4", 4, Some(9))
    );
}

#[test]
fn aggregating_a_versioned_table_leaves_out_of_order_updates_out() {
    let b = StreamsBuilder::new();
    versioned(&b, "table", 1_000)
        .group_by(
            |_k, v: String| (v.chars().take(1).collect::<String>(), v),
            weir_core::dsl::Grouped::as_("by-initial", Serdes::string(), Serdes::string()),
        )
        .count(Materialized::as_("counts", Serdes::string(), Serdes::i64()).with_caching(false))
        .to_stream()
        .to(
            "counts-out",
            Produced::with(Serdes::string(), Serdes::i64()),
        );
    let driver = drive(b);
    let mut table = input(&driver, "table");
    table.pipe_key_value_at(s("k1"), s("a1"), 10).unwrap();
    table.pipe_key_value_at(s("k1"), s("b1"), 5).unwrap(); // out of order: not counted
    table.pipe_key_value_at(s("k1"), s("b2"), 20).unwrap(); // moves k1 from a to b
    let counts: Vec<(String, Option<i64>)> = driver
        .create_output_topic("counts-out", Serdes::string(), Serdes::i64())
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r: Record<String, i64>| (r.key.unwrap(), r.value))
        .collect();
    assert_eq!(
        counts,
        [(s("a"), Some(1)), (s("a"), Some(0)), (s("b"), Some(1))]
    );
}
