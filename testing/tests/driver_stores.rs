//! Reading state stores by name through the TopologyTestDriver
//! (`TopologyTestDriver::key_value_store`): DSL and Processor API stores,
//! across partitions, with and without a cache.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use weir_core::dsl::{Materialized, StreamsBuilder};
use weir_core::processor::{Processor, ProcessorContext};
use weir_core::store::{FlushedEntry, KeyValueStoreBuilder, MeteredKeyValueStore};
use weir_core::topology::{Consumed, Produced, Topology};
use weir_core::{Error, Record, Result, Serdes};
use weir_testing::{DriverConfig, TestInputTopic, TopologyTestDriver};

fn s(text: &str) -> String {
    text.to_string()
}

fn map(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| (s(k), *v)).collect()
}

/// Words (as keys) counted per key into the store `counts`.
fn dsl_count(materialized: Materialized<String, i64>) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream("words", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .count(materialized)
        .to_stream()
        .to(
            "counts-out",
            Produced::with(Serdes::string(), Serdes::i64()),
        );
    builder.build().unwrap()
}

fn counts(name: &str) -> Materialized<String, i64> {
    Materialized::as_(name, Serdes::string(), Serdes::i64())
}

fn two_partitions(topology: Topology) -> TopologyTestDriver {
    TopologyTestDriver::new(topology, DriverConfig::new().with_partitions(2)).unwrap()
}

fn pipe_words(input: &mut TestInputTopic<String, String>, words: &[&str]) {
    for w in words {
        input.pipe_key_value(s(w), s("x")).unwrap();
    }
}

const WORDS: &[&str] = &[
    "apple", "pear", "fig", "apple", "kiwi", "plum", "fig", "apple",
];

fn word_counts() -> BTreeMap<String, i64> {
    map(&[
        ("apple", 3),
        ("fig", 2),
        ("kiwi", 1),
        ("pear", 1),
        ("plum", 1),
    ])
}

#[test]
fn a_dsl_count_store_reads_across_both_partitions() {
    let driver = two_partitions(dsl_count(counts("counts")));
    let mut words = driver.create_input_topic("words", Serdes::string(), Serdes::string());
    pipe_words(&mut words, WORDS);
    // The words land on both partitions: two tasks, two store instances.
    assert_eq!(driver.task_ids().len(), 2);

    let store = driver.key_value_store::<String, i64>("counts").unwrap();
    assert_eq!(store.name(), "counts");
    assert_eq!(store.get(&s("apple")).unwrap(), Some(3));
    assert_eq!(store.get(&s("kiwi")).unwrap(), Some(1));
    assert_eq!(store.get(&s("banana")).unwrap(), None);
    assert_eq!(store.all().unwrap(), word_counts());
    assert_eq!(store.approximate_num_entries().unwrap(), 5);

    // The view is live: it reads the stores as they are at each call.
    pipe_words(&mut words, &["banana", "kiwi"]);
    assert_eq!(store.get(&s("banana")).unwrap(), Some(1));
    assert_eq!(store.get(&s("kiwi")).unwrap(), Some(2));
    assert_eq!(store.all().unwrap().len(), 6);
}

#[test]
fn a_store_is_empty_before_any_record_and_unreadable_once_closed() {
    let driver = two_partitions(dsl_count(counts("counts")));
    let store = driver.key_value_store::<String, i64>("counts").unwrap();
    assert!(driver.task_ids().is_empty());
    assert_eq!(store.all().unwrap(), BTreeMap::new());
    assert_eq!(store.get(&s("apple")).unwrap(), None);
    assert_eq!(store.approximate_num_entries().unwrap(), 0);

    driver.close().unwrap();
    let err = store.get(&s("apple")).unwrap_err().to_string();
    assert!(err.contains("closed"), "{err}");
    assert!(driver.key_value_store::<String, i64>("counts").is_err());
}

#[test]
fn a_cached_dsl_store_reads_the_same() {
    let config = DriverConfig::new()
        .with_partitions(2)
        .with_cache_max_bytes(1 << 20);
    let driver = TopologyTestDriver::new(dsl_count(counts("counts")), config).unwrap();
    let mut words = driver.create_input_topic("words", Serdes::string(), Serdes::string());
    pipe_words(&mut words, WORDS);
    let store = driver.key_value_store::<String, i64>("counts").unwrap();
    assert_eq!(store.get(&s("fig")).unwrap(), Some(2));
    assert_eq!(store.all().unwrap(), word_counts());
}

#[test]
fn an_unknown_store_is_an_error_naming_it_and_the_known_stores() {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream("words", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key();
    grouped.count(counts("counts"));
    grouped.count(counts("also-counts"));
    let driver = TopologyTestDriver::with_defaults(builder.build().unwrap());
    assert_eq!(driver.state_store_names(), [s("also-counts"), s("counts")]);

    let err = driver.key_value_store::<String, i64>("cuonts").unwrap_err();
    assert!(
        matches!(&err, Error::Store { store, .. } if store == "cuonts"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "state store 'cuonts': the topology has no such store (its stores: [also-counts, counts])"
    );
}

#[test]
fn asking_for_the_wrong_types_is_an_error() {
    let driver = TopologyTestDriver::with_defaults(dsl_count(counts("counts")));
    let mut words = driver.create_input_topic("words", Serdes::string(), Serdes::string());
    pipe_words(&mut words, &["apple"]);
    let err = driver
        .key_value_store::<String, String>("counts")
        .unwrap_err();
    assert!(err.to_string().contains("not a key-value store"), "{err}");
}

type Flushed = Arc<Mutex<Vec<FlushedEntry>>>;

/// Counts the words of each line in the `counts` store (Processor API) and
/// forwards each word's count; fails on the line "boom", after counting the
/// lines before it. Records what the store's cache writes down.
struct WordCount {
    flushed: Flushed,
}

impl Processor<String, String, String, i64> for WordCount {
    fn init(&mut self, ctx: &mut dyn ProcessorContext<String, i64>) -> Result<()> {
        let flushed = self.flushed.clone();
        let store = ctx
            .state_store("counts")?
            .downcast_mut::<MeteredKeyValueStore<String, i64>>()
            .expect("the built store type");
        // false without a cache: nothing is recorded then.
        store.set_flush_listener(Box::new(move |entries| {
            flushed.lock().unwrap().extend_from_slice(entries)
        }));
        Ok(())
    }

    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, i64>,
        record: Record<String, String>,
    ) -> Result<()> {
        let line = record.value.clone().unwrap_or_default();
        if line == "boom" {
            return Err(Error::Processor {
                node: s("count"),
                message: s("boom"),
            });
        }
        for word in line.split_whitespace() {
            let counts = ctx.key_value_store::<String, i64>("counts")?;
            let count = counts.get(&s(word))?.unwrap_or(0) + 1;
            counts.put(&s(word), &count)?;
            ctx.forward(
                record
                    .clone()
                    .with_key(Some(s(word)))
                    .with_value(Some(count)),
            )?;
        }
        Ok(())
    }
}

fn processor_word_count(store: KeyValueStoreBuilder<String, i64>, flushed: Flushed) -> Topology {
    let builder = StreamsBuilder::new();
    builder.add_state_store(store.name(), store.build_supplier());
    builder
        .stream("lines", Consumed::with(Serdes::string(), Serdes::string()))
        .process(
            move || WordCount {
                flushed: flushed.clone(),
            },
            &["counts"],
        )
        .named("count")
        .to(
            "word-counts",
            Produced::with(Serdes::string(), Serdes::i64()),
        );
    builder.build().unwrap()
}

fn counts_store() -> KeyValueStoreBuilder<String, i64> {
    KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64())
}

#[test]
fn a_processor_api_store_reads_across_partitions() {
    let driver = two_partitions(processor_word_count(counts_store(), Flushed::default()));
    let mut lines = driver.create_input_topic("lines", Serdes::string(), Serdes::string());
    // One word per record, keyed by the word: each word's count lives in the
    // instance of the partition its key goes to.
    for w in WORDS {
        lines.pipe_key_value(s(w), s(w)).unwrap();
    }
    assert_eq!(driver.task_ids().len(), 2);
    let store = driver.key_value_store::<String, i64>("counts").unwrap();
    assert_eq!(store.all().unwrap(), word_counts());
    assert_eq!(store.get(&s("apple")).unwrap(), Some(3));
    assert_eq!(store.get(&s("plum")).unwrap(), Some(1));
    assert_eq!(store.get(&s("banana")).unwrap(), None);
    assert_eq!(store.approximate_num_entries().unwrap(), 5);
}

#[test]
fn a_cached_store_shows_values_not_yet_flushed() {
    let flushed = Flushed::default();
    let store = counts_store().with_caching(true);
    let config = DriverConfig::new().with_cache_max_bytes(1 << 20);
    let driver =
        TopologyTestDriver::new(processor_word_count(store, flushed.clone()), config).unwrap();
    let mut lines = driver.create_input_topic("lines", Serdes::string(), Serdes::string());
    // One batch: "boom" fails the call after the first two lines were
    // counted, so the driver never reaches its commit and the cache holds the
    // counts unflushed.
    let batch = [(1, "the cat"), (2, "the dog"), (3, "boom")]
        .map(|(ts, line)| (0, Record::new(s("k"), s(line), ts)));
    let result = lines.pipe_records(batch);
    assert!(result.is_err());
    assert!(flushed.lock().unwrap().is_empty(), "nothing was flushed");

    let counts = driver.key_value_store::<String, i64>("counts").unwrap();
    assert_eq!(counts.get(&s("the")).unwrap(), Some(2));
    assert_eq!(
        counts.all().unwrap(),
        map(&[("cat", 1), ("dog", 1), ("the", 2)])
    );
    // The estimate counts only what reached the store under the cache.
    assert_eq!(counts.approximate_num_entries().unwrap(), 0);
    // Reading flushes nothing.
    assert!(flushed.lock().unwrap().is_empty());

    // The next call commits: the same values, now flushed.
    lines.pipe_input(s("a cat")).unwrap();
    assert_eq!(
        counts.all().unwrap(),
        map(&[("a", 1), ("cat", 2), ("dog", 1), ("the", 2)])
    );
    assert_eq!(counts.approximate_num_entries().unwrap(), 4);
    assert!(!flushed.lock().unwrap().is_empty());
}
