//! Logged stores write every update to `<application.id>-<store>-changelog`,
//! partition = the task's, through the same record collector as the output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use weir_core::dsl::{Materialized, StreamsBuilder};
use weir_core::store::{TimestampedSerde, ValueAndTimestamp};
use weir_core::topology::{Consumed, Produced};
use weir_core::Serdes;
use weir_testing::{DriverConfig, TopologyTestDriver};

fn count_topology(logged: bool) -> weir_core::topology::Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream("words", Consumed::with(Serdes::string(), Serdes::string()))
        .select_key(|_k, w: &String| w.clone())
        .group_by_key()
        .count(Materialized::as_("counts", Serdes::string(), Serdes::i64()).with_logging(logged))
        .to_stream()
        .to(
            "counts-out",
            Produced::with(Serdes::string(), Serdes::i64()),
        );
    builder.build().unwrap()
}

#[test]
fn a_logged_count_writes_each_update_to_its_changelog_partition() {
    let driver = TopologyTestDriver::new(
        count_topology(true),
        DriverConfig::new()
            .with_application_id("wc")
            .with_partitions(2),
    )
    .unwrap();
    let mut words = driver.create_input_topic("words", Serdes::string(), Serdes::string());
    for (p, w) in [(0, "a"), (1, "b"), (0, "a")] {
        words
            .pipe_record_at(p, weir_core::Record::new(w.to_string(), w.to_string(), 10))
            .unwrap();
    }
    // An aggregation's store is timestamped: its changelog values are the
    // aggregate's timestamp (8 bytes big-endian), then the count.
    let stamped = std::sync::Arc::new(TimestampedSerde::new(Serdes::i64()));
    let changelog = driver.create_output_topic("wc-counts-changelog", Serdes::string(), stamped);
    let log = changelog.read_records_to_list().unwrap();
    let pairs: Vec<(String, ValueAndTimestamp<i64>)> = log
        .iter()
        .map(|r| (r.key.clone().unwrap(), r.value.unwrap()))
        .collect();
    let at10 = |count| ValueAndTimestamp::new(count, 10);
    assert_eq!(
        pairs,
        vec![
            ("a".into(), at10(1)),
            ("b".into(), at10(1)),
            ("a".into(), at10(2))
        ]
    );
    // Partition = the task's: "a" was counted by task 0_0, "b" by 0_1.
    let raw = driver.producer_records();
    let parts: Vec<(String, i32)> = raw
        .iter()
        .filter(|r| r.topic == "wc-counts-changelog")
        .map(|r| {
            (
                String::from_utf8(r.key.clone().unwrap()).unwrap(),
                r.partition,
            )
        })
        .collect();
    assert!(
        parts.contains(&("a".to_string(), 0)) && parts.contains(&("b".to_string(), 1)),
        "{parts:?}"
    );
}

#[test]
fn an_unlogged_store_writes_no_changelog() {
    let driver = TopologyTestDriver::new(
        count_topology(false),
        DriverConfig::new().with_application_id("wc"),
    )
    .unwrap();
    let mut words = driver.create_input_topic("words", Serdes::string(), Serdes::string());
    words
        .pipe_key_value("x".to_string(), "a".to_string())
        .unwrap();
    assert!(!driver
        .output_topics()
        .iter()
        .any(|t| t.ends_with("-changelog")));
}

#[test]
fn the_topology_lists_its_changelog_topics() {
    let topology = count_topology(true);
    let logs: Vec<_> = topology
        .subtopologies()
        .iter()
        .flat_map(|s| topology.changelog_topics(s.id()))
        .map(|(store, t)| (store, t.resolve("wc")))
        .collect();
    assert_eq!(
        logs,
        vec![("counts".to_string(), "wc-counts-changelog".to_string())]
    );
}
