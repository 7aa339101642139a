//! Key-value stores under the TopologyTestDriver: a word count over a store
//! added with `StreamsBuilder::add_state_store` and used from `KStream::process`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use weir_core::dsl::StreamsBuilder;
use weir_core::processor::{Processor, ProcessorContext};
use weir_core::store::{FlushedEntry, KeyValueStoreBuilder, MeteredKeyValueStore};
use weir_core::topology::{Consumed, Produced, Topology};
use weir_core::{Error, Record, Result, Serdes};
use weir_testing::TopologyTestDriver;

type Flushed = Arc<Mutex<Vec<FlushedEntry>>>;

/// Counts the words of each line in the `counts` store and forwards each
/// word's new count. With `flushed`, it records what the store's cache
/// writes down.
struct WordCount {
    flushed: Option<Flushed>,
}

impl Processor<String, String, String, i64> for WordCount {
    fn init(&mut self, ctx: &mut dyn ProcessorContext<String, i64>) -> Result<()> {
        if let Some(flushed) = self.flushed.clone() {
            let store = ctx
                .state_store("counts")?
                .downcast_mut::<MeteredKeyValueStore<String, i64>>()
                .expect("the built store type");
            let installed = store.set_flush_listener(Box::new(move |entries| {
                flushed.lock().unwrap().extend_from_slice(entries)
            }));
            assert!(installed, "the store has a cache");
        }
        Ok(())
    }

    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, i64>,
        record: Record<String, String>,
    ) -> Result<()> {
        let line = record.value.clone().unwrap_or_default();
        for word in line.split_whitespace().map(str::to_lowercase) {
            let counts = ctx.key_value_store::<String, i64>("counts")?;
            let count = counts.get(&word)?.unwrap_or(0) + 1;
            counts.put(&word, &count)?;
            ctx.forward(record.clone().with_key(Some(word)).with_value(Some(count)))?;
        }
        Ok(())
    }
}

fn word_count(store: KeyValueStoreBuilder<String, i64>, flushed: Option<Flushed>) -> Topology {
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
fn word_count_keeps_its_counts_in_a_key_value_store() {
    let driver = TopologyTestDriver::with_defaults(word_count(counts_store(), None));
    let mut lines = driver.create_input_topic("lines", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
    lines
        .pipe_value_list(["the cat sat", "The dog", "the cat ran"].map(String::from))
        .unwrap();
    let updates: Vec<(String, i64)> = out
        .read_key_values_to_list()
        .unwrap()
        .into_iter()
        .map(|kv| (kv.key.unwrap(), kv.value.unwrap()))
        .collect();
    let expect = |pairs: &[(&str, i64)]| -> Vec<(String, i64)> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    assert_eq!(
        updates,
        expect(&[
            ("the", 1),
            ("cat", 1),
            ("sat", 1),
            ("the", 2),
            ("dog", 1),
            ("the", 3),
            ("cat", 2),
            ("ran", 1),
        ])
    );
    lines.pipe_input("dog days".to_string()).unwrap();
    let latest: BTreeMap<String, i64> = out.read_key_values_to_map().unwrap();
    assert_eq!(
        latest,
        BTreeMap::from([("dog".into(), 2), ("days".into(), 1)])
    );
    driver.close().unwrap();
}

#[test]
fn the_drivers_commit_flushes_the_store_cache() {
    let flushed: Flushed = Arc::default();
    let store = counts_store().with_caching(true);
    let config = weir_testing::DriverConfig::new().with_cache_max_bytes(1 << 20);
    let driver = TopologyTestDriver::new(word_count(store, Some(flushed.clone())), config).unwrap();
    let mut lines = driver.create_input_topic("lines", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
    let take = || -> Vec<(String, Option<i64>, Option<i64>)> {
        let i64_of = |b: &Option<Vec<u8>>| {
            b.as_ref()
                .map(|b| i64::from_be_bytes(b.as_slice().try_into().unwrap()))
        };
        std::mem::take(&mut *flushed.lock().unwrap())
            .iter()
            .map(|e| {
                (
                    String::from_utf8(e.key.clone()).unwrap(),
                    i64_of(&e.old_value),
                    i64_of(&e.new_value),
                )
            })
            .collect()
    };

    // Three updates of "the" fold in the cache; the commit after the record
    // writes one of them down, with the value it replaced. Entries go down in
    // the order of their latest update: "cat" before the last "the".
    lines.pipe_input("the the cat the".to_string()).unwrap();
    assert_eq!(out.read_values_to_list().unwrap(), [1, 2, 1, 3]);
    assert_eq!(
        take(),
        [
            ("cat".to_string(), None, Some(1)),
            ("the".to_string(), None, Some(3))
        ]
    );
    lines.pipe_input("the".to_string()).unwrap();
    assert_eq!(take(), [("the".to_string(), Some(3), Some(4))]);
    driver.close().unwrap();
}

/// Asks for the `counts` store with the wrong value type.
struct WrongTypes;

impl Processor<String, String> for WrongTypes {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, String>,
        _record: Record<String, String>,
    ) -> Result<()> {
        ctx.key_value_store::<String, String>("counts")?;
        Ok(())
    }
}

#[test]
fn asking_for_the_wrong_types_is_a_store_error() {
    let builder = StreamsBuilder::new();
    builder.add_state_store("counts", counts_store().build_supplier());
    builder
        .stream("lines", Consumed::with(Serdes::string(), Serdes::string()))
        .process(|| WrongTypes, &["counts"])
        .named("wrong");
    let driver = TopologyTestDriver::with_defaults(builder.build().unwrap());
    let mut lines = driver.create_input_topic("lines", Serdes::string(), Serdes::string());
    let err = lines.pipe_input("x".to_string()).unwrap_err();
    assert!(
        matches!(err, Error::Store { ref store, ref message } if store == "counts" && message.contains("not a key-value store")),
        "{err}"
    );
}
