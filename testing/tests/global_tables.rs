//! Global tables and stream-global joins under the TopologyTestDriver: a
//! record piped into a global topic goes straight into its store (as in
//! Kafka Streams' driver), inner and left joins with a key mapper, null
//! keys (KIP-962), missing keys, updates and deletes, a key mapped to
//! null, the read-only store, and the topology's description.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use weir_core::dsl::{GlobalKTable, KStream, Materialized, StreamsBuilder};
use weir_core::processor::{Processor, ProcessorContext};
use weir_core::topology::{Consumed, Produced};
use weir_core::{Error, Headers, Record, Result, Serdes};
use weir_testing::{DriverConfig, KeyValue, TestInputTopic, TopologyTestDriver};

fn s(text: &str) -> String {
    text.to_string()
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

/// The table's key is the second comma-separated token of the stream's
/// value ("X0,FKey0"), none if there is no second token.
#[allow(clippy::ptr_arg)] // a key mapper: the stream's value type is `String`
fn foreign_key(_key: Option<&i32>, value: &String) -> Option<String> {
    value.split(',').nth(1).map(str::to_string)
}

/// Kafka Streams' tests' topology: stream `stream` (i32 keys) joined with
/// the global table of `global` into `out`, values `"<stream>+<table>"`.
fn driver(left: bool, config: DriverConfig) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let stream: KStream<i32, String> =
        builder.stream("stream", Consumed::with(Serdes::i32(), Serdes::string()));
    let table: GlobalKTable<String, String> = builder.global_table(
        "global",
        strings(),
        Materialized::as_("global-store", Serdes::string(), Serdes::string()),
    );
    let joined = if left {
        stream.left_join_global(&table, foreign_key, |v, t| {
            format!("{v}+{}", t.map_or("null", String::as_str))
        })
    } else {
        stream.join_global(&table, foreign_key, |v, t| format!("{v}+{t}"))
    };
    joined.to("out", Produced::with(Serdes::i32(), Serdes::string()));
    TopologyTestDriver::new(builder.build().unwrap(), config).unwrap()
}

struct Topics {
    stream: TestInputTopic<i32, String>,
    table: TestInputTopic<String, String>,
}

fn topics(driver: &TopologyTestDriver) -> Topics {
    Topics {
        stream: driver.create_input_topic_with_time(
            "stream",
            Serdes::i32(),
            Serdes::string(),
            0,
            std::time::Duration::from_millis(1),
        ),
        table: driver.create_input_topic_with_time(
            "global",
            Serdes::string(),
            Serdes::string(),
            0,
            std::time::Duration::from_millis(1),
        ),
    }
}

impl Topics {
    /// Kafka Streams' `pushToStream`: keys 0.., values `<prefix><i>[,FKey<i>]`,
    /// the first key null if asked.
    fn push_stream(&mut self, n: i32, prefix: &str, foreign: bool, null_first: bool) {
        for i in 0..n {
            let mut value = format!("{prefix}{i}");
            if foreign {
                value.push_str(&format!(",FKey{i}"));
            }
            let key = (!(null_first && i == 0)).then_some(i);
            let ts = self.stream.current_time_ms();
            self.stream
                .pipe_record(Record::from_parts(key, Some(value), ts, Headers::new()))
                .unwrap();
            self.stream
                .advance_time(std::time::Duration::from_millis(1));
        }
    }

    fn push_table(&mut self, n: i32, prefix: &str) {
        for i in 0..n {
            self.table
                .pipe_key_value(format!("FKey{i}"), format!("{prefix}{i}"))
                .unwrap();
        }
    }

    fn delete_table(&mut self, n: i32) {
        for i in 0..n {
            let ts = self.table.current_time_ms();
            self.table
                .pipe_record(Record::from_parts(
                    Some(format!("FKey{i}")),
                    None,
                    ts,
                    Headers::new(),
                ))
                .unwrap();
        }
    }
}

/// What `out` holds: (key, value, timestamp).
fn read(driver: &TopologyTestDriver) -> Vec<(Option<i32>, String, i64)> {
    driver
        .create_output_topic("out", Serdes::i32(), Serdes::string())
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value.unwrap(), r.timestamp))
        .collect()
}

fn kvt(key: i32, value: &str, ts: i64) -> (Option<i32>, String, i64) {
    (Some(key), s(value), ts)
}

#[test]
fn inner_join_outputs_only_matches_and_ignores_table_updates() {
    let driver = driver(false, DriverConfig::new());
    let mut t = topics(&driver);
    t.push_stream(2, "X", true, false);
    assert!(read(&driver).is_empty(), "empty table: no match");
    t.push_table(2, "Y");
    assert!(read(&driver).is_empty(), "table updates join nothing");
    t.push_stream(4, "X", true, false);
    assert_eq!(
        read(&driver),
        [kvt(0, "X0,FKey0+Y0", 2), kvt(1, "X1,FKey1+Y1", 3)]
    );
    t.push_table(4, "YY");
    t.push_stream(4, "X", true, false);
    assert_eq!(
        read(&driver),
        [
            kvt(0, "X0,FKey0+YY0", 6),
            kvt(1, "X1,FKey1+YY1", 7),
            kvt(2, "X2,FKey2+YY2", 8),
            kvt(3, "X3,FKey3+YY3", 9),
        ]
    );
}

#[test]
fn left_join_outputs_every_record_with_none_for_missing_keys() {
    let driver = driver(true, DriverConfig::new());
    let mut t = topics(&driver);
    t.push_stream(2, "X", true, false);
    assert_eq!(
        read(&driver),
        [kvt(0, "X0,FKey0+null", 0), kvt(1, "X1,FKey1+null", 1)]
    );
    t.push_table(2, "Y");
    assert!(read(&driver).is_empty(), "table updates join nothing");
    t.push_stream(4, "X", true, false);
    assert_eq!(
        read(&driver),
        [
            kvt(0, "X0,FKey0+Y0", 2),
            kvt(1, "X1,FKey1+Y1", 3),
            kvt(2, "X2,FKey2+null", 4),
            kvt(3, "X3,FKey3+null", 5),
        ]
    );
}

#[test]
fn a_table_delete_removes_the_match() {
    for left in [false, true] {
        let driver = driver(left, DriverConfig::new());
        let mut t = topics(&driver);
        t.push_table(4, "Y");
        t.push_stream(4, "X", true, false);
        assert_eq!(read(&driver).len(), 4);
        t.delete_table(2);
        t.push_stream(4, "XX", true, false);
        let mut expected = vec![kvt(2, "XX2,FKey2+Y2", 6), kvt(3, "XX3,FKey3+Y3", 7)];
        if left {
            expected.splice(
                0..0,
                [kvt(0, "XX0,FKey0+null", 4), kvt(1, "XX1,FKey1+null", 5)],
            );
        }
        assert_eq!(read(&driver), expected, "left: {left}");
        let store = driver
            .key_value_store::<String, String>("global-store")
            .unwrap();
        assert_eq!(store.get(&s("FKey0")).unwrap(), None);
        assert_eq!(store.get(&s("FKey3")).unwrap(), Some(s("Y3")));
    }
}

#[test]
fn a_key_mapped_to_null_is_dropped_by_the_inner_join_and_joined_with_none_by_the_left() {
    let inner = driver(false, DriverConfig::new());
    let mut t = topics(&inner);
    t.push_table(4, "Y");
    t.push_stream(4, "XXX", false, false);
    assert!(read(&inner).is_empty());
    assert_eq!(inner.dropped_records(), 4);

    let left = driver(true, DriverConfig::new());
    let mut t = topics(&left);
    t.push_table(4, "Y");
    t.push_stream(2, "XXX", false, false);
    assert_eq!(
        read(&left),
        [kvt(0, "XXX0+null", 0), kvt(1, "XXX1+null", 1)]
    );
    assert_eq!(left.dropped_records(), 0);
}

#[test]
fn a_stream_record_without_a_key_joins_on_its_mapped_key() {
    // Inner: joined when the mapped key matches (Kafka Streams'
    // shouldJoinOnNullKeyWithNonNullKeyMapperValues).
    let driver_inner = driver(false, DriverConfig::new());
    let mut t = topics(&driver_inner);
    t.push_table(2, "Y");
    t.push_stream(4, "X", true, true);
    assert_eq!(
        read(&driver_inner),
        [(None, s("X0,FKey0+Y0"), 0), kvt(1, "X1,FKey1+Y1", 1)]
    );

    // Left: kept even when its mapped key is null (KIP-962).
    let driver_left = driver(true, DriverConfig::new());
    let mut t = topics(&driver_left);
    t.push_table(4, "Y");
    t.push_stream(1, "X", false, true);
    assert_eq!(read(&driver_left), [(None, s("X0+null"), 0)]);
    assert_eq!(driver_left.dropped_records(), 0);
}

#[test]
fn a_null_stream_value_is_dropped() {
    for left in [false, true] {
        let driver = driver(left, DriverConfig::new());
        let mut t = topics(&driver);
        t.push_table(1, "Y");
        t.stream
            .pipe_record(Record::from_parts(Some(0), None, 5, Headers::new()))
            .unwrap();
        assert!(read(&driver).is_empty(), "left: {left}");
        assert_eq!(driver.dropped_records(), 1);
    }
}

#[test]
fn every_partition_of_the_global_topic_feeds_the_store_and_keyless_records_are_skipped() {
    let config = DriverConfig::new()
        .with_topic_partitions("global", 3)
        .with_topic_partitions("stream", 2);
    let driver = driver(false, config);
    let mut t = topics(&driver);
    for p in 0..3 {
        t.table
            .pipe_record_at(
                p,
                Record::from_parts(
                    Some(format!("FKey{p}")),
                    Some(format!("P{p}")),
                    0,
                    Headers::new(),
                ),
            )
            .unwrap();
    }
    t.table
        .pipe_record(Record::from_parts(
            None,
            Some(s("orphan")),
            0,
            Headers::new(),
        ))
        .unwrap();
    // Both stream partitions see the whole table.
    for p in 0..2 {
        t.stream
            .pipe_record_at(
                p,
                Record::from_parts(
                    Some(p),
                    Some(format!("V,FKey{}", p + 1)),
                    10,
                    Headers::new(),
                ),
            )
            .unwrap();
    }
    let mut got = read(&driver);
    got.sort();
    assert_eq!(got, [kvt(0, "V,FKey1+P1", 10), kvt(1, "V,FKey2+P2", 10)]);
    let all = driver
        .key_value_store::<String, String>("global-store")
        .unwrap()
        .all()
        .unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    let stamped = driver
        .timestamped_key_value_store::<String, String>("global-store")
        .unwrap();
    assert_eq!(stamped.get(&s("FKey1")).unwrap().unwrap().timestamp, 0);
    assert!(driver.state_store_names().contains(&s("global-store")));
    // The global store makes no task.
    assert!(driver.task_ids().iter().all(|id| id.subtopology == 0));
    assert_eq!(driver.task_ids().len(), 2);
}

/// Writes to the global store from a processor.
struct Writer;

impl Processor<String, String> for Writer {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, String>,
        record: Record<String, String>,
    ) -> Result<()> {
        let store = ctx.key_value_store::<String, String>("global-store")?;
        assert_eq!(store.get(&s("k"))?, Some(s("v")), "reads work");
        store.put(&s("k"), &s("changed"))?;
        ctx.forward(record)
    }
}

#[test]
fn processors_read_a_global_store_without_connecting_it_and_cannot_write_it() {
    let builder = StreamsBuilder::new();
    builder.global_table(
        "global",
        strings(),
        Materialized::as_("global-store", Serdes::string(), Serdes::string()),
    );
    builder
        .stream("in", strings())
        .process(|| Writer, &[])
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::with_defaults(builder.build().unwrap());
    driver
        .create_input_topic("global", Serdes::string(), Serdes::string())
        .pipe_key_value(s("k"), s("v"))
        .unwrap();
    let err = driver
        .create_input_topic("in", Serdes::string(), Serdes::string())
        .pipe_key_value(s("a"), s("b"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Store { store, message } if store == "global-store" && message.contains("read-only")),
        "{err}"
    );
    let store = driver
        .key_value_store::<String, String>("global-store")
        .unwrap();
    assert_eq!(store.get(&s("k")).unwrap(), Some(s("v")));
}

#[test]
fn a_bad_global_record_follows_the_deserialization_handler() {
    let build = || {
        let builder = StreamsBuilder::new();
        let table = builder.global_table(
            "global",
            Consumed::with(Serdes::string(), Serdes::i64()),
            Materialized::as_("global-store", Serdes::string(), Serdes::i64()),
        );
        builder
            .stream("stream", strings())
            .join_global(&table, |k, _| k.cloned(), |v, t| format!("{v}{t}"))
            .to("out", Produced::with(Serdes::string(), Serdes::string()));
        builder.build().unwrap()
    };
    // Log and fail (the default): the error names the topic and offset.
    let driver = TopologyTestDriver::with_defaults(build());
    let mut bad = driver.create_input_topic("global", Serdes::string(), Serdes::string());
    let err = bad.pipe_key_value(s("k"), s("x")).unwrap_err();
    assert!(matches!(err, Error::Deserialization { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("global") && text.contains("offset 0"),
        "{text}"
    );

    // Log and continue: skipped, the next record applies.
    let config =
        DriverConfig::new().with_deserialization_handler(weir_core::handler::LogAndContinue);
    let driver = TopologyTestDriver::new(build(), config).unwrap();
    let mut bad = driver.create_input_topic("global", Serdes::string(), Serdes::string());
    bad.pipe_key_value(s("k"), s("x")).unwrap();
    let mut good = driver.create_input_topic("global", Serdes::string(), Serdes::i64());
    good.pipe_key_value(s("k"), 7).unwrap();
    let mut stream = driver.create_input_topic("stream", Serdes::string(), Serdes::string());
    stream.pipe_key_value(s("k"), s("v")).unwrap();
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        [KeyValue::new(s("k"), s("v7"))]
    );
}

#[test]
fn describe_shows_the_global_store_as_kafka_streams_does() {
    let builder = StreamsBuilder::new();
    let stream = builder.stream("stream", strings());
    let table = builder.global_table(
        "global",
        strings(),
        Materialized::as_("global-store", Serdes::string(), Serdes::string()),
    );
    stream
        .join_global(&table, |k, _| k.cloned(), |v, t| format!("{v}{t}"))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let topology = builder.build().unwrap();
    let text = topology.describe().to_string();
    let expected = "Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [stream])
      --> KSTREAM-JOIN-0000000003
    Processor: KSTREAM-JOIN-0000000003 (stores: [])
      --> KSTREAM-SINK-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Sink: KSTREAM-SINK-0000000004 (topic: out)
      <-- KSTREAM-JOIN-0000000003

   Sub-topology: 1 for global store (will not generate tasks)
    Source: KSTREAM-SOURCE-0000000001 (topics: [global])
      --> KTABLE-SOURCE-0000000002
    Processor: KTABLE-SOURCE-0000000002 (stores: [global-store])
      --> none
      <-- KSTREAM-SOURCE-0000000001

";
    assert_eq!(text, expected);
    assert_eq!(topology.global_topics(), [s("global")]);
    assert_eq!(topology.subtopologies().len(), 1);
    assert!(!topology.source_topics("app").contains(&s("global")));
}

#[test]
fn a_global_topic_read_by_a_stream_too_fails_the_build() {
    let builder = StreamsBuilder::new();
    builder.stream("global", strings());
    builder.global_table(
        "global",
        strings(),
        Materialized::as_("global-store", Serdes::string(), Serdes::string()),
    );
    let err = builder.build().unwrap_err();
    assert!(err.to_string().contains("'global'"), "{err}");
}
