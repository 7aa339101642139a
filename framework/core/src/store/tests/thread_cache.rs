//! One stream thread's cache budget, shared by the caching stores of all
//! its tasks.

use std::sync::{Arc, Mutex};

use super::{b, put};
use crate::serde::Serdes;
use crate::store::{
    CachingLayer, ChangeLoggingLayer, FlushedEntry, InMemoryBytesStore, KeyValueBytesStore,
    KeyValueStore, KeyValueStoreBuilder, StoreContext, ThreadCache, WriteBatch,
    CACHE_ENTRY_OVERHEAD,
};
use crate::task::{TaskConfig, TaskId};

/// What one entry with a one-byte key and a one-byte value costs.
const ENTRY: usize = 1 + 1 + CACHE_ENTRY_OVERHEAD;

type Seen = Arc<Mutex<Vec<FlushedEntry>>>;

/// caching -> logging -> memory in `cache`, recording what the cache writes down.
fn store(name: &str, cache: &Arc<ThreadCache>) -> (CachingLayer, Seen) {
    let logged = ChangeLoggingLayer::new(Box::new(InMemoryBytesStore::new(name)));
    let mut store = CachingLayer::with_thread_cache(Box::new(logged), Arc::clone(cache));
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    store.set_flush_listener(Box::new(move |entries| {
        sink.lock().unwrap().extend_from_slice(entries)
    }));
    (store, seen)
}

fn keys(seen: &Seen) -> Vec<String> {
    std::mem::take(&mut *seen.lock().unwrap())
        .into_iter()
        .map(|e| String::from_utf8(e.key).unwrap())
        .collect()
}

#[test]
fn stores_of_a_thread_count_against_one_budget() {
    let cache = ThreadCache::new(4 * ENTRY);
    let (mut a, seen_a) = store("a", &cache);
    let (mut c, seen_c) = store("c", &cache);
    put(&mut a, "1", "x");
    put(&mut a, "2", "x");
    put(&mut c, "1", "x");
    assert_eq!(cache.used_bytes(), 3 * ENTRY);
    assert_eq!(a.cached_bytes(), 2 * ENTRY);
    assert_eq!(c.cached_bytes(), ENTRY);
    // Each store alone is far below the budget; together they are at it.
    put(&mut c, "2", "x");
    assert_eq!(cache.used_bytes(), 4 * ENTRY);
    assert!(keys(&seen_a).is_empty() && keys(&seen_c).is_empty());
    assert_eq!(cache.evictions(), 0);

    // One more entry in c: the thread is over budget, c evicts its least
    // recently written entry; it was dirty, so c's dirty entries are
    // written down and forwarded first, in order.
    put(&mut c, "3", "x");
    assert_eq!(cache.used_bytes(), 4 * ENTRY);
    assert_eq!(cache.evictions(), 1);
    assert_eq!(keys(&seen_c), ["1", "2", "3"]);
    assert_eq!(c.cached_entries(), 2);
    assert_eq!(c.dirty_entries(), 0);
    // a was not touched: still folding its updates.
    assert!(keys(&seen_a).is_empty());
    assert_eq!(a.dirty_entries(), 2);
    // The evicted entry is read from below.
    assert_eq!(c.get(b"1").unwrap(), Some(b("x")));
}

#[test]
fn a_flush_writes_dirty_entries_down_and_keeps_them_for_reads() {
    let cache = ThreadCache::new(1 << 20);
    let (mut a, seen) = store("a", &cache);
    put(&mut a, "k", "1");
    put(&mut a, "k", "2");
    a.flush().unwrap();
    let flushed = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(
        flushed,
        [FlushedEntry {
            key: b("k"),
            new_value: Some(b("2")),
            old_value: None,
        }]
    );
    assert_eq!(a.take_changelog().len(), 1);
    assert_eq!(a.dirty_entries(), 0);
    assert_eq!(a.cached_entries(), 1);
    assert_eq!(cache.used_bytes(), ENTRY);
}

#[test]
fn a_store_evicts_only_its_own_entries() {
    let cache = ThreadCache::new(2 * ENTRY);
    let (mut a, seen_a) = store("a", &cache);
    let (mut c, seen_c) = store("c", &cache);
    put(&mut a, "1", "x");
    put(&mut a, "2", "x");
    // a fills the budget: c has nothing of its own to evict but what it
    // just wrote, so its update goes straight down and is forwarded.
    put(&mut c, "1", "x");
    assert_eq!(keys(&seen_c), ["1"]);
    assert_eq!(c.cached_entries(), 0);
    assert_eq!(cache.used_bytes(), 2 * ENTRY);
    assert!(keys(&seen_a).is_empty());
    // a evicts its own oldest entry, writing its dirty entries down first.
    put(&mut a, "3", "x");
    assert_eq!(keys(&seen_a), ["1", "2", "3"]);
    assert_eq!(a.cached_entries(), 2);
    assert_eq!(cache.used_bytes(), 2 * ENTRY);
    assert_eq!(cache.evictions(), 2);
}

#[test]
fn closing_or_dropping_a_store_gives_its_bytes_back() {
    let cache = ThreadCache::new(1 << 20);
    let (mut a, _) = store("a", &cache);
    let (mut c, _) = store("c", &cache);
    put(&mut a, "1", "x");
    put(&mut c, "1", "x");
    assert_eq!(cache.used_bytes(), 2 * ENTRY);
    a.flush().unwrap();
    a.close().unwrap();
    assert_eq!(cache.used_bytes(), ENTRY);
    drop(c);
    assert_eq!(cache.used_bytes(), 0);
}

#[test]
fn recording_the_changelog_offset_keeps_the_cache() {
    let cache = ThreadCache::new(1 << 20);
    let (mut a, _) = store("a", &cache);
    put(&mut a, "k", "1");
    a.flush().unwrap();
    put(&mut a, "d", "dirty");
    // What a task does after every commit: record the offset reached.
    a.commit(Some(41)).unwrap();
    assert_eq!(a.committed_offset().unwrap(), Some(41));
    assert_eq!(a.cached_entries(), 2, "the read cache survives the commit");
    assert_eq!(a.dirty_entries(), 1);
    // A restored batch with data replaces what the cache held for its keys.
    let mut batch = WriteBatch::new();
    batch.put(b("k"), b("restored")).set_offset(42);
    a.restore(batch).unwrap();
    assert_eq!(a.get(b"k").unwrap(), Some(b("restored")));
    assert_eq!(a.committed_offset().unwrap(), Some(42));
}

#[test]
fn builders_cache_in_the_thread_cache_they_are_given() {
    let cache = ThreadCache::new(1 << 20);
    let ctx = StoreContext::new(TaskId::new(0, 0)).with_thread_cache(Arc::clone(&cache));
    let caching =
        KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64()).with_caching(true);
    let mut store = caching.build_in(&ctx).unwrap();
    assert!(store.set_flush_listener(Box::new(|_| {})));
    store.put(&"apple".to_string(), &1).unwrap();
    assert!(cache.used_bytes() > 0);

    // No cache without a thread cache, with a budget of 0, or when turned off.
    let mut plain = caching.build(TaskId::new(0, 0)).unwrap();
    assert!(!plain.set_flush_listener(Box::new(|_| {})));
    let zero = StoreContext::new(TaskId::new(0, 0)).with_thread_cache(ThreadCache::new(0));
    let mut unbudgeted = caching.build_in(&zero).unwrap();
    assert!(!unbudgeted.set_flush_listener(Box::new(|_| {})));
    let mut off = caching.clone().with_caching(false).build_in(&ctx).unwrap();
    assert!(!off.set_flush_listener(Box::new(|_| {})));
}

#[test]
fn tasks_share_the_thread_cache_of_their_config() {
    use crate::dsl::{Materialized, StreamsBuilder};
    use crate::topology::Consumed;

    let builder = StreamsBuilder::new();
    builder
        .stream("words", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .count(Materialized::as_("counts", Serdes::string(), Serdes::i64()));
    let topology = builder.build().unwrap();
    let cache = ThreadCache::new(1 << 20);
    let mut config = TaskConfig::new("app");
    config.cache_max_bytes = 1 << 20;
    config.thread_cache = Some(Arc::clone(&cache));
    let mut tasks: Vec<_> = (0..2)
        .map(|p| {
            topology
                .create_task(TaskId::new(0, p), config.clone())
                .unwrap()
        })
        .collect();
    for task in &mut tasks {
        let store = task.state_store("counts").unwrap();
        let counts = store.as_key_value_store::<String, i64>().unwrap();
        counts.put(&"w".to_string(), &1).unwrap();
    }
    // The count's store is timestamped: 8 bytes of timestamp, then the count.
    let one = "w".len() + 8 + 8 + CACHE_ENTRY_OVERHEAD;
    assert_eq!(cache.used_bytes(), 2 * one);
    // A commit writes the dirty entries down (they stay cached, clean).
    for task in &mut tasks {
        let mut out = Counting(0);
        task.prepare_commit(&mut out).unwrap();
        assert_eq!(out.0, 1, "the dirty entry went to the changelog");
    }
    assert_eq!(cache.used_bytes(), 2 * one);

    // Without a thread cache, a budget gives each task a cache of its own.
    let mut config = TaskConfig::new("app");
    config.cache_max_bytes = 1 << 20;
    let mut task = topology.create_task(TaskId::new(0, 0), config).unwrap();
    let store = task.state_store("counts").unwrap();
    let counts = store.as_key_value_store::<String, i64>().unwrap();
    counts.put(&"w".to_string(), &1).unwrap();
    assert_eq!(cache.used_bytes(), 2 * one);
}

/// A collector that counts what it is sent.
struct Counting(usize);

impl crate::collector::RecordCollector for Counting {
    fn send(&mut self, _record: crate::record::OutputRecord) -> crate::Result<()> {
        self.0 += 1;
        Ok(())
    }

    fn partition_count(&mut self, _topic: &str) -> crate::Result<Option<i32>> {
        Ok(None)
    }
}
