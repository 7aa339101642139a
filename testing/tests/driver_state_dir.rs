//! A driver with a state directory keeps its stores in RocksDB there, and a
//! later driver on the same directory continues from them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use weir_core::dsl::{Materialized, StreamsBuilder};
use weir_core::topology::{Consumed, Produced, Topology};
use weir_core::Serdes;
use weir_testing::{DriverConfig, KeyValue, TestInputTopic, TopologyTestDriver};

fn s(text: &str) -> String {
    text.to_string()
}

/// Counts words in "counts" (default backend) and in "scratch" (in memory),
/// and writes the counts to "word-counts".
fn word_count() -> Topology {
    let builder = StreamsBuilder::new();
    let words = builder
        .stream("words", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key();
    words
        .count(Materialized::as_("counts", Serdes::string(), Serdes::i64()))
        .to_stream()
        .to(
            "word-counts",
            Produced::with(Serdes::string(), Serdes::i64()),
        );
    words.count(Materialized::as_("scratch", Serdes::string(), Serdes::i64()).in_memory());
    builder.build().unwrap()
}

fn pipe(input: &mut TestInputTopic<String, String>, words: &[&str]) {
    for w in words {
        input.pipe_key_value(s(w), s("x")).unwrap();
    }
}

fn counts(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| (s(k), *v)).collect()
}

#[test]
fn a_second_driver_on_the_same_state_dir_continues_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let config = DriverConfig::new()
        .with_application_id("wc")
        .with_partitions(2)
        .with_state_dir(dir.path());
    assert_eq!(config.state_dir(), Some(dir.path()));

    let first = TopologyTestDriver::new(word_count(), config.clone()).unwrap();
    let mut words = first.create_input_topic("words", Serdes::string(), Serdes::string());
    pipe(&mut words, &["kafka", "weir", "kafka"]);
    let store = first.key_value_store::<String, i64>("counts").unwrap();
    assert_eq!(store.all().unwrap(), counts(&[("kafka", 2), ("weir", 1)]));
    let tasks: Vec<String> = first.task_ids().iter().map(ToString::to_string).collect();
    first.close().unwrap();
    // One RocksDB per task, where the runtime puts it; the in-memory store
    // left nothing on disk.
    drop(first);
    let app_dir = dir.path().join("wc");
    let on_disk: Vec<String> = std::fs::read_dir(&app_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|task| app_dir.join(task).join("rocksdb/counts/CURRENT").exists())
        .collect();
    assert!(!on_disk.is_empty());
    for task in &on_disk {
        assert!(!app_dir.join(task).join("rocksdb/scratch").exists());
    }
    assert!(
        on_disk.iter().all(|t| tasks.contains(t)),
        "{on_disk:?} {tasks:?}"
    );

    let second = TopologyTestDriver::new(word_count(), config).unwrap();
    let store = second.key_value_store::<String, i64>("counts").unwrap();
    let mut words = second.create_input_topic("words", Serdes::string(), Serdes::string());
    let out = second.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
    // A partition's task (and its stores) opens with its first record.
    pipe(&mut words, &["kafka", "rust", "weir"]);
    // The persistent counts continue; the in-memory one starts over.
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        [
            KeyValue::new(s("kafka"), 3),
            KeyValue::new(s("rust"), 1),
            KeyValue::new(s("weir"), 2)
        ]
    );
    assert_eq!(
        store.all().unwrap(),
        counts(&[("kafka", 3), ("rust", 1), ("weir", 2)])
    );
    let scratch = second.key_value_store::<String, i64>("scratch").unwrap();
    assert_eq!(scratch.get(&s("kafka")).unwrap(), Some(1));
}

#[test]
fn two_drivers_cannot_share_a_state_dir_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = DriverConfig::new().with_state_dir(dir.path());
    let first = TopologyTestDriver::new(word_count(), config.clone()).unwrap();
    let mut words = first.create_input_topic("words", Serdes::string(), Serdes::string());
    pipe(&mut words, &["kafka"]);

    let second = TopologyTestDriver::new(word_count(), config).unwrap();
    let mut words = second.create_input_topic("words", Serdes::string(), Serdes::string());
    let err = words
        .pipe_key_value(s("kafka"), s("x"))
        .unwrap_err()
        .to_string();
    let store_dir = dir.path().join("test-app/0_0/rocksdb/counts");
    assert!(
        err.contains(&format!("{} is locked", store_dir.display())),
        "{err}"
    );
}

#[test]
fn without_a_state_dir_nothing_survives_the_driver() {
    let first = TopologyTestDriver::with_defaults(word_count());
    let mut words = first.create_input_topic("words", Serdes::string(), Serdes::string());
    pipe(&mut words, &["kafka"]);
    drop(first);
    let second = TopologyTestDriver::with_defaults(word_count());
    let mut words = second.create_input_topic("words", Serdes::string(), Serdes::string());
    pipe(&mut words, &["kafka"]);
    let store = second.key_value_store::<String, i64>("counts").unwrap();
    assert_eq!(store.get(&s("kafka")).unwrap(), Some(1));
}
