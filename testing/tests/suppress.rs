//! `KTable::suppress` under the TopologyTestDriver: the cases of Kafka
//! Streams' `SuppressScenarioTest` (same inputs, same expected outputs; the
//! windowed ones in `suppress/windows.rs`), then what Weir adds to check: non-resetting buffer
//! times, the newest value, emission order, the old value forwarded, deletes,
//! bounds (emit early, shut down), the store's cache upstream, and the
//! buffer restored after a restart or a crash under exactly-once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use weir_core::dsl::{BufferConfig, Grouped, KTable, Materialized, StreamsBuilder, Suppressed};
use weir_core::topology::{Consumed, Produced};
use weir_core::{ErrorKind, Headers, Record, Serdes};
use weir_testing::{CrashPoint, DriverConfig, TestInputTopic, TestOutputTopic, TopologyTestDriver};

#[path = "suppress/windows.rs"]
mod windows;

const APP: &str = "suppress-app";

fn s(text: &str) -> String {
    text.to_string()
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

/// A table of strings in `name`, neither cached nor logged (as the scenario
/// test's `withCachingDisabled().withLoggingDisabled()`).
fn plain_table(builder: &StreamsBuilder, topic: &str, name: &str) -> KTable<String, String> {
    builder.table(
        topic,
        strings(),
        Materialized::as_(name, Serdes::string(), Serdes::string())
            .with_caching(false)
            .with_logging(false),
    )
}

/// The scenario test's table: `input` (key -> value) regrouped by value and
/// counted: how many keys hold each value.
fn value_counts(builder: &StreamsBuilder) -> KTable<String, i64> {
    plain_table(builder, "input", "input-store")
        .group_by(
            |k: &String, v: String| (v, k.clone()),
            Grouped::as_("by-value", Serdes::string(), Serdes::string()),
        )
        .count(Materialized::as_("counts", Serdes::string(), Serdes::i64()).with_caching(false))
}

fn limit(ms: u64, buffer: BufferConfig) -> Suppressed<String, i64> {
    Suppressed::until_time_limit(Duration::from_millis(ms), buffer)
        .with_serdes(Serdes::string(), Serdes::i64())
}

fn drive(builder: StreamsBuilder, config: DriverConfig) -> TopologyTestDriver {
    TopologyTestDriver::new(builder.build().unwrap(), config.with_application_id(APP)).unwrap()
}

/// `(key, value, timestamp)` of every record in `out`, read and removed.
fn drain<V: 'static>(out: &TestOutputTopic<String, V>) -> Vec<(String, Option<V>, i64)> {
    out.read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.key.unwrap(), r.value, r.timestamp))
        .collect()
}

fn kvt<V>(key: &str, value: V, ts: i64) -> (String, Option<V>, i64) {
    (s(key), Some(value), ts)
}

fn pipe(input: &mut TestInputTopic<String, String>, key: &str, value: &str, ts: i64) {
    input.pipe_key_value_at(s(key), s(value), ts).unwrap();
}

fn delete(input: &mut TestInputTopic<String, String>, key: &str, ts: i64) {
    input
        .pipe_record(Record::from_parts(Some(s(key)), None, ts, Headers::new()))
        .unwrap();
}

/// The scenario's driver, input and both outputs.
struct Scenario {
    _driver: TopologyTestDriver,
    input: TestInputTopic<String, String>,
    raw: TestOutputTopic<String, i64>,
    suppressed: TestOutputTopic<String, i64>,
}

/// The scenario's topology: the counts raw to `output-raw`, suppressed by
/// `suppressed` to `output-suppressed`.
fn scenario(suppressed: Suppressed<String, i64>) -> Scenario {
    let builder = StreamsBuilder::new();
    let counts = value_counts(&builder);
    counts.suppress(suppressed).to(
        "output-suppressed",
        Produced::with(Serdes::string(), Serdes::i64()),
    );
    counts.to(
        "output-raw",
        Produced::with(Serdes::string(), Serdes::i64()),
    );
    let driver = drive(builder, DriverConfig::new());
    Scenario {
        input: driver.create_input_topic("input", Serdes::string(), Serdes::string()),
        raw: driver.create_output_topic("output-raw", Serdes::string(), Serdes::i64()),
        suppressed: driver.create_output_topic(
            "output-suppressed",
            Serdes::string(),
            Serdes::i64(),
        ),
        _driver: driver,
    }
}

fn first_three(input: &mut TestInputTopic<String, String>) {
    pipe(input, "k1", "v1", 0);
    pipe(input, "k1", "v2", 1);
    pipe(input, "k2", "v1", 2);
}

fn first_three_raw() -> Vec<(String, Option<i64>, i64)> {
    vec![
        kvt("v1", 1, 0),
        kvt("v1", 0, 1),
        kvt("v2", 1, 1),
        kvt("v1", 1, 2),
    ]
}

#[test]
fn a_zero_time_limit_emits_every_update_at_once() {
    // SuppressScenarioTest.shouldImmediatelyEmitEventsWithZeroEmitAfter
    let Scenario {
        mut input,
        raw,
        suppressed,
        _driver,
    } = scenario(limit(0, BufferConfig::unbounded()));
    first_three(&mut input);
    assert_eq!(drain(&raw), first_three_raw());
    assert_eq!(drain(&suppressed), first_three_raw());
    pipe(&mut input, "x", "x", 3);
    assert_eq!(drain(&raw), vec![kvt("x", 1, 3)]);
    assert_eq!(drain(&suppressed), vec![kvt("x", 1, 3)]);
    pipe(&mut input, "x", "y", 4);
    let both = vec![kvt("x", 0, 4), kvt("y", 1, 4)];
    assert_eq!(drain(&raw), both);
    assert_eq!(drain(&suppressed), both);
}

#[test]
fn a_time_limit_suppresses_intermediate_updates_and_does_not_reset() {
    // SuppressScenarioTest.shouldSuppressIntermediateEventsWithTimeLimit
    let Scenario {
        mut input,
        raw,
        suppressed,
        _driver,
    } = scenario(limit(2, BufferConfig::unbounded()));
    first_three(&mut input);
    assert_eq!(drain(&raw), first_three_raw());
    // v1 was first buffered at 0: due at stream time 2, with its latest
    // value and that update's timestamp.
    assert_eq!(drain(&suppressed), vec![kvt("v1", 1, 2)]);
    pipe(&mut input, "tick", "tick", 3);
    assert_eq!(drain(&raw), vec![kvt("tick", 1, 3)]);
    assert_eq!(drain(&suppressed), vec![kvt("v2", 1, 1)]);
    pipe(&mut input, "tick", "tock", 4);
    assert_eq!(drain(&raw), vec![kvt("tick", 0, 4), kvt("tock", 1, 4)]);
    // tick keeps its slot at 3 (non-resetting): not due at 4.
    assert_eq!(drain(&suppressed), vec![]);
    pipe(&mut input, "z", "z", 5);
    assert_eq!(drain(&suppressed), vec![kvt("tick", 0, 4)]);
}

#[test]
fn max_records_emits_the_oldest_early() {
    // SuppressScenarioTest.shouldSuppressIntermediateEventsWithRecordLimit
    let buffer = BufferConfig::max_records(1).emit_early_when_full();
    let Scenario {
        mut input,
        raw,
        suppressed,
        _driver,
    } = scenario(limit(u64::MAX, buffer));
    first_three(&mut input);
    assert_eq!(drain(&raw), first_three_raw());
    // Consecutive updates of v1 fold into the latter; the last update waits
    // until another key comes along.
    assert_eq!(drain(&suppressed), vec![kvt("v1", 0, 1), kvt("v2", 1, 1)]);
    pipe(&mut input, "x", "x", 3);
    assert_eq!(drain(&raw), vec![kvt("x", 1, 3)]);
    assert_eq!(drain(&suppressed), vec![kvt("v1", 1, 2)]);
}

#[test]
fn max_bytes_emits_the_oldest_early() {
    // SuppressScenarioTest.shouldSuppressIntermediateEventsWithBytesLimit,
    // with Weir's entry size: a key of 2 bytes and an entry of 38 bytes
    // (format, buffer time, timestamp, flags, lengths, an 8-byte count),
    // plus 8 with a prior count: one entry fits in 70 bytes, two do not.
    let buffer = BufferConfig::max_bytes(70).emit_early_when_full();
    let Scenario {
        mut input,
        raw,
        suppressed,
        _driver,
    } = scenario(limit(u64::MAX, buffer));
    first_three(&mut input);
    assert_eq!(drain(&raw), first_three_raw());
    assert_eq!(drain(&suppressed), vec![kvt("v1", 0, 1), kvt("v2", 1, 1)]);
    pipe(&mut input, "x", "x", 3);
    assert_eq!(drain(&suppressed), vec![kvt("v1", 1, 2)]);
}

#[test]
fn a_full_strict_buffer_stops_the_application_naming_the_node() {
    let buffer = BufferConfig::max_records(1).shut_down_when_full();
    let Scenario {
        mut input,
        raw: _raw,
        suppressed,
        _driver,
    } = scenario(limit(100, buffer).with_name("capped"));
    pipe(&mut input, "k1", "v1", 0);
    assert_eq!(drain(&suppressed), vec![]);
    let err = input
        .pipe_key_value_at(s("k2"), s("v2"), 1)
        .expect_err("a second key overfills the buffer");
    assert_eq!(err.kind(), ErrorKind::Fatal, "{err}");
    let text = err.to_string();
    assert!(text.contains("capped"), "{text}");
    assert!(text.contains("2 of at most 1 records"), "{text}");
}

#[test]
fn a_suppressed_table_feeds_a_regrouping() {
    // SuppressScenarioTest.shouldWorkBeforeGroupBy
    let builder = StreamsBuilder::new();
    builder
        .table(
            "topic",
            strings(),
            Materialized::as_("topic-store", Serdes::string(), Serdes::string()),
        )
        .suppress(
            Suppressed::until_time_limit(Duration::from_millis(10), BufferConfig::unbounded())
                .with_serdes(Serdes::string(), Serdes::string()),
        )
        .group_by(
            |k: &String, v: String| (k.clone(), v),
            Grouped::as_("regroup", Serdes::string(), Serdes::string()),
        )
        .count(Materialized::as_(
            "regrouped",
            Serdes::string(),
            Serdes::i64(),
        ))
        .to("output", Produced::with(Serdes::string(), Serdes::i64()));
    let driver = drive(builder, DriverConfig::new());
    let mut input = driver.create_input_topic("topic", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("output", Serdes::string(), Serdes::i64());
    pipe(&mut input, "A", "a", 0);
    pipe(&mut input, "tick", "tick", 10);
    assert_eq!(drain(&out), vec![kvt("A", 1, 0)]);
}

/// `table` (key -> value) suppressed by a time limit of 10 ms, written to
/// `out`, and counted by value into `by-value-out`.
fn suppressed_values(config: DriverConfig, name: Option<&str>) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let mut suppressed =
        Suppressed::until_time_limit(Duration::from_millis(10), BufferConfig::unbounded())
            .with_serdes(Serdes::string(), Serdes::string());
    if let Some(name) = name {
        suppressed = suppressed.with_name(name);
    }
    let table = builder
        .table(
            "table",
            strings(),
            Materialized::as_("table-store", Serdes::string(), Serdes::string()),
        )
        .suppress(suppressed);
    table.to("out", Produced::with(Serdes::string(), Serdes::string()));
    table
        .group_by(
            |k: &String, v: String| (v, k.clone()),
            Grouped::as_("values", Serdes::string(), Serdes::string()),
        )
        .count(Materialized::as_(
            "value-counts",
            Serdes::string(),
            Serdes::i64(),
        ))
        .to(
            "by-value-out",
            Produced::with(Serdes::string(), Serdes::i64()),
        );
    drive(builder, config)
}

#[test]
fn each_key_keeps_its_first_slot_and_emits_its_newest_value_in_buffer_time_order() {
    let driver = suppressed_values(DriverConfig::new(), None);
    let mut input = driver.create_input_topic("table", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    pipe(&mut input, "b", "b1", 1);
    pipe(&mut input, "a", "a1", 2);
    pipe(&mut input, "b", "b2", 9); // b keeps its slot at 1
    pipe(&mut input, "c", "c1", 3); // out of order: slot 3
    pipe(&mut input, "a", "a2", 10);
    // Stream time 10, so slots <= 0: none yet.
    assert_eq!(drain(&out), vec![]);
    pipe(&mut input, "d", "d1", 13);
    // Slots <= 3 are due, oldest first, each with its newest value and
    // timestamp: b (slot 1), a (slot 2), c (slot 3).
    assert_eq!(
        drain(&out),
        vec![
            kvt("b", s("b2"), 9),
            kvt("a", s("a2"), 10),
            kvt("c", s("c1"), 3)
        ]
    );
    // A late record's slot is already due: out at once; it does not move
    // the node's stream time (13).
    pipe(&mut input, "e", "e1", 0);
    assert_eq!(drain(&out), vec![kvt("e", s("e1"), 0)]);
    pipe(&mut input, "f", "f1", 22);
    assert_eq!(drain(&out), vec![]);
    pipe(&mut input, "f", "f2", 23);
    assert_eq!(drain(&out), vec![kvt("d", s("d1"), 13)]);
}

#[test]
fn the_old_value_forwarded_is_what_downstream_saw_before() {
    // A count by value downstream retracts the value the key had when it
    // was last emitted, not an intermediate one it never saw (Kafka Streams
    // forwards the latest update's own old value: `x2` here, which was
    // never counted).
    let driver = suppressed_values(DriverConfig::new(), None);
    let mut input = driver.create_input_topic("table", Serdes::string(), Serdes::string());
    let counts = driver.create_output_topic("by-value-out", Serdes::string(), Serdes::i64());
    pipe(&mut input, "k", "x1", 0);
    pipe(&mut input, "tick", "t", 10);
    assert_eq!(drain(&counts), vec![kvt("x1", 1, 0)]);
    pipe(&mut input, "k", "x2", 11);
    pipe(&mut input, "k", "x3", 12);
    pipe(&mut input, "tick", "t", 30);
    assert_eq!(
        drain(&counts),
        vec![kvt("t", 1, 30), kvt("x1", 0, 12), kvt("x3", 1, 12)]
    );
}

#[test]
fn deletes_are_buffered_and_forwarded_by_a_time_limit() {
    let driver = suppressed_values(DriverConfig::new(), None);
    let mut input = driver.create_input_topic("table", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    pipe(&mut input, "k", "v", 0);
    pipe(&mut input, "tick", "t", 10);
    assert_eq!(drain(&out), vec![kvt("k", s("v"), 0)]);
    delete(&mut input, "k", 11);
    pipe(&mut input, "tick", "t", 21);
    assert_eq!(
        drain(&out),
        vec![kvt("tick", s("t"), 21), (s("k"), None, 11)]
    );
    // Put and deleted within the limit: the delete is still forwarded.
    pipe(&mut input, "j", "v", 22);
    delete(&mut input, "j", 23);
    pipe(&mut input, "tick", "t", 40);
    assert_eq!(drain(&out), vec![(s("j"), None, 23)]);
}

#[test]
fn a_cached_table_upstream_feeds_the_buffer_on_commit() {
    let builder = StreamsBuilder::new();
    builder
        .table(
            "table",
            strings(),
            Materialized::as_("table-store", Serdes::string(), Serdes::string()),
        )
        .suppress(
            Suppressed::until_time_limit(Duration::from_millis(5), BufferConfig::unbounded())
                .with_serdes(Serdes::string(), Serdes::string()),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = drive(builder, DriverConfig::new().with_cache_max_bytes(1 << 20));
    let mut input = driver.create_input_topic("table", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    let at = |k: &str, v: &str, ts| (0, Record::new(s(k), s(v), ts));
    // One commit: the cache forwards b and a once, each with its row's
    // timestamp (the table's store is timestamped, as Kafka Streams').
    input
        .pipe_records([at("a", "a1", 1), at("b", "b1", 2), at("a", "a2", 3)])
        .unwrap();
    assert_eq!(drain(&out), vec![]);
    input.pipe_records([at("tick", "t", 10)]).unwrap();
    assert_eq!(
        drain(&out),
        vec![kvt("b", s("b1"), 2), kvt("a", s("a2"), 3)]
    );
}

#[test]
fn names_give_the_node_and_its_store_and_changelog() {
    let driver = suppressed_values(DriverConfig::new(), Some("latest"));
    assert!(driver.state_store_names().contains(&s("latest-store")));
    let mut input = driver.create_input_topic("table", Serdes::string(), Serdes::string());
    pipe(&mut input, "k", "v", 0);
    let changelog = format!("{APP}-latest-store-changelog");
    assert!(
        driver
            .producer_records()
            .iter()
            .any(|r| r.topic == changelog),
        "{:?}",
        driver.output_topics()
    );

    let generated = suppressed_values(DriverConfig::new(), None);
    let names = generated.state_store_names();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("KTABLE-SUPPRESS-STATE-STORE-")),
        "{names:?}"
    );
}

#[test]
fn the_buffer_survives_a_restart_from_its_changelog_and_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    for config in [
        DriverConfig::new(),
        DriverConfig::new().with_state_dir(dir.path()),
    ] {
        let driver = suppressed_values(config, Some("latest"));
        let mut input = driver.create_input_topic("table", Serdes::string(), Serdes::string());
        let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
        pipe(&mut input, "a", "a1", 0);
        pipe(&mut input, "b", "b1", 5);
        pipe(&mut input, "a", "a2", 6);
        driver.restart().unwrap();
        // The node's stream time starts over; the buffer does not.
        pipe(&mut input, "c", "c1", 12);
        assert_eq!(drain(&out), vec![kvt("a", s("a2"), 6)]);
        pipe(&mut input, "c", "c2", 15);
        assert_eq!(drain(&out), vec![kvt("b", s("b1"), 5)]);
        driver.close().unwrap();
    }
}

const CRASHES: [CrashPoint; 3] = [
    CrashPoint::BeforeFlush,
    CrashPoint::AfterSend,
    CrashPoint::AfterCommit,
];

#[test]
fn under_exactly_once_a_crash_neither_loses_nor_repeats_an_emission() {
    let updates: Vec<(&str, &str, i64)> = vec![
        ("a", "a1", 0),
        ("b", "b1", 3),
        ("a", "a2", 5),
        ("tick", "t1", 12),
        ("c", "c1", 14),
        ("a", "a3", 15),
        ("tick", "t2", 30),
    ];
    let want = vec![
        kvt("a", s("a2"), 5),
        kvt("b", s("b1"), 3),
        // tick was buffered at 12 and updated before it was due.
        kvt("tick", s("t2"), 30),
        kvt("c", s("c1"), 14),
        kvt("a", s("a3"), 15),
    ];
    for state_dir in [false, true] {
        for point in CRASHES {
            for crash_at in 0..updates.len() {
                let dir = tempfile::tempdir().unwrap();
                let mut config = DriverConfig::new().with_exactly_once(true);
                if state_dir {
                    config = config.with_state_dir(dir.path());
                }
                let driver = suppressed_values(config, Some("latest"));
                let mut input =
                    driver.create_input_topic("table", Serdes::string(), Serdes::string());
                let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
                for (i, (k, v, ts)) in updates.iter().enumerate() {
                    if i == crash_at {
                        driver.crash_at_next_commit(point);
                        let err = input.pipe_key_value_at(s(k), s(v), *ts).unwrap_err();
                        assert!(err.to_string().contains("simulated crash"), "{err}");
                        driver.restart().unwrap();
                    } else {
                        pipe(&mut input, k, v, *ts);
                    }
                }
                assert_eq!(
                    drain(&out),
                    want,
                    "crash {point:?} at update {crash_at}, state dir {state_dir}"
                );
                driver.close().unwrap();
            }
        }
    }
}

#[test]
fn build_errors_name_the_node() {
    // A materialized table knows its serdes; a mapped one does not know its
    // new values' serde, so its suppress needs with_serdes.
    let builder = StreamsBuilder::new();
    plain_table(&builder, "t", "t-store")
        .map_values(|v: String| v.len() as i64)
        .suppress(
            Suppressed::until_time_limit(Duration::ZERO, BufferConfig::unbounded())
                .with_name("nameless"),
        );
    let err = builder.build().unwrap_err().to_string();
    assert!(
        err.contains("'nameless'") && err.contains("with_serdes"),
        "{err}"
    );
}

#[test]
fn idle_close_emits_what_is_due_on_an_idle_input_by_the_wall_clock() {
    let builder = StreamsBuilder::new();
    value_counts(&builder)
        .suppress(limit(100, BufferConfig::unbounded()).close_when_idle(Duration::from_millis(50)))
        .to(
            "output-suppressed",
            Produced::with(Serdes::string(), Serdes::i64()),
        );
    let driver = drive(builder, DriverConfig::new().with_wall_clock_time_ms(0));
    let mut input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("output-suppressed", Serdes::string(), Serdes::i64());
    pipe(&mut input, "k1", "v1", 10);
    // Without idle close the count waits for a record at 110 or later.
    driver
        .advance_wall_clock_time(Duration::from_millis(60))
        .unwrap();
    assert_eq!(drain(&out), vec![]);
    // Idle 100 ms on the wall clock: stream time 10 + 100 reaches the limit.
    driver
        .advance_wall_clock_time(Duration::from_millis(40))
        .unwrap();
    assert_eq!(drain(&out), vec![kvt("v1", 1, 10)]);
}
