use std::sync::{Arc, Mutex};

use super::{b, delete, pairs, put, strings};
use crate::store::{
    CachingLayer, ChangeLoggingLayer, FlushedEntry, InMemoryBytesStore, KeyValueBytesStore,
    WriteBatch, CACHE_ENTRY_OVERHEAD,
};

/// caching -> logging -> memory: the changelog shows what left the cache.
fn cached(max_bytes: usize) -> CachingLayer {
    let logged = ChangeLoggingLayer::new(Box::new(InMemoryBytesStore::new("c")));
    CachingLayer::new(Box::new(logged), max_bytes)
}

fn logged_keys(store: &mut CachingLayer) -> Vec<(String, Option<String>)> {
    store
        .take_changelog()
        .into_iter()
        .map(|e| {
            (
                String::from_utf8(e.key).unwrap(),
                e.value.map(|v| String::from_utf8(v).unwrap()),
            )
        })
        .collect()
}

#[test]
fn repeated_updates_fold_until_flush() {
    let mut store = cached(1 << 20);
    for v in ["1", "2", "3"] {
        put(&mut store, "a", v);
    }
    put(&mut store, "b", "1");
    delete(&mut store, "b");
    assert_eq!(store.get(b"a").unwrap(), Some(b("3")));
    assert_eq!(store.get(b"b").unwrap(), None);
    assert_eq!(store.dirty_entries(), 2);
    assert!(store.take_changelog().is_empty());
    store.flush().unwrap();
    assert_eq!(
        logged_keys(&mut store),
        [
            ("a".to_string(), Some("3".to_string())),
            ("b".to_string(), None)
        ]
    );
    assert_eq!(store.dirty_entries(), 0);
    // Flushed entries stay readable from the cache, and the store below agrees.
    assert_eq!(store.get(b"a").unwrap(), Some(b("3")));
    store.flush().unwrap();
    assert!(store.take_changelog().is_empty());
}

#[test]
fn flush_follows_the_order_of_each_keys_latest_update() {
    let mut store = cached(1 << 20);
    put(&mut store, "x", "1");
    put(&mut store, "y", "1");
    put(&mut store, "z", "1");
    put(&mut store, "x", "2"); // x moves behind z
    store.flush().unwrap();
    let keys: Vec<String> = logged_keys(&mut store).into_iter().map(|e| e.0).collect();
    assert_eq!(keys, ["y", "z", "x"]);
}

#[test]
fn the_byte_budget_evicts_and_flushes_dirty_entries_in_one_batch() {
    let entry = 1 + 1 + CACHE_ENTRY_OVERHEAD; // one-byte keys and values
    let mut store = cached(3 * entry);
    put(&mut store, "a", "1");
    put(&mut store, "b", "1");
    put(&mut store, "c", "1");
    assert!(store.take_changelog().is_empty());
    assert_eq!(store.cached_bytes(), 3 * entry);
    put(&mut store, "d", "1"); // over budget: "a" is evicted, all dirty go down
    assert!(store.cached_bytes() <= 3 * entry);
    assert_eq!(store.cached_entries(), 3);
    let keys: Vec<String> = logged_keys(&mut store).into_iter().map(|e| e.0).collect();
    assert_eq!(keys, ["a", "b", "c", "d"]);
    // The evicted key is still readable from below.
    assert_eq!(store.get(b"a").unwrap(), Some(b("1")));
    // A budget smaller than one entry writes everything straight down.
    let mut tiny = cached(1);
    put(&mut tiny, "a", "1");
    assert_eq!(tiny.cached_entries(), 0);
    assert_eq!(logged_keys(&mut tiny).len(), 1);
}

#[test]
fn the_listener_gets_flushed_entries_with_their_old_values() {
    let mut store = cached(1 << 20);
    put(&mut store, "a", "old");
    store.flush().unwrap();
    let seen: Arc<Mutex<Vec<FlushedEntry>>> = Arc::default();
    let sink = Arc::clone(&seen);
    assert!(store.set_flush_listener(Box::new(move |entries| {
        sink.lock().unwrap().extend_from_slice(entries)
    })));
    put(&mut store, "a", "mid");
    put(&mut store, "a", "new");
    put(&mut store, "b", "1");
    delete(&mut store, "b");
    store.flush().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        *seen,
        [
            FlushedEntry {
                key: b("a"),
                new_value: Some(b("new")),
                old_value: Some(b("old")),
            },
            FlushedEntry {
                key: b("b"),
                new_value: None,
                old_value: None,
            },
        ]
    );
}

#[test]
fn ranges_merge_the_cache_over_the_store_below() {
    let mut store = cached(1 << 20);
    for k in ["a", "b", "c", "d"] {
        put(&mut store, k, "old");
    }
    store.flush().unwrap();
    put(&mut store, "b", "new");
    delete(&mut store, "c");
    put(&mut store, "bb", "added");
    let got = strings(store.range(Some(b"b"), Some(b"d"), false).unwrap());
    assert_eq!(got, pairs(&[("b", "new"), ("bb", "added"), ("d", "old")]));
    let got = strings(store.range(None, None, true).unwrap());
    assert_eq!(
        got,
        pairs(&[("d", "old"), ("bb", "added"), ("b", "new"), ("a", "old")])
    );
    let got = strings(store.prefix_scan(b"b").unwrap());
    assert_eq!(got, pairs(&[("b", "new"), ("bb", "added")]));
    assert!(strings(store.range(Some(b"d"), Some(b"a"), false).unwrap()).is_empty());
}

#[test]
fn a_batch_with_an_offset_writes_the_cache_down_with_it() {
    let mut store = cached(1 << 20);
    put(&mut store, "a", "1");
    let mut batch = WriteBatch::new();
    batch.put(b("b"), b("2")).set_offset(5);
    store.write(batch).unwrap();
    assert_eq!(store.dirty_entries(), 0);
    assert_eq!(store.committed_offset().unwrap(), Some(5));
    assert_eq!(logged_keys(&mut store).len(), 2);
}

#[test]
fn restore_bypasses_cache_and_log() {
    let mut store = cached(1 << 20);
    put(&mut store, "a", "cached");
    let mut batch = WriteBatch::new();
    batch.put(b("a"), b("restored")).set_offset(3);
    store.restore(batch).unwrap();
    assert_eq!(store.get(b"a").unwrap(), Some(b("restored")));
    assert_eq!(store.committed_offset().unwrap(), Some(3));
    // Only the cached write (flushed first) was logged, not the restored one.
    assert_eq!(
        logged_keys(&mut store),
        [("a".to_string(), Some("cached".to_string()))]
    );
}

/// What `get_with` lends, through the cache and the exactly-once layer, is
/// what `get` returns: a cached entry (a deletion too), a pending write, a
/// key hidden by a pending range delete, and what lies below.
#[test]
fn get_with_lends_what_get_returns_through_the_layers() {
    fn lent(store: &dyn KeyValueBytesStore, key: &str) -> Option<Vec<u8>> {
        let mut seen = None;
        store
            .get_with(key.as_bytes(), &mut |v| {
                seen = v.map(<[u8]>::to_vec);
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, store.get(key.as_bytes()).unwrap(), "{key}");
        seen
    }
    let mut below = InMemoryBytesStore::new("c");
    put(&mut below, "flushed", "1");
    put(&mut below, "deleted", "2");
    put(&mut below, "ranged", "3");
    let mut store = CachingLayer::new(Box::new(below), 1 << 20);
    put(&mut store, "cached", "4");
    delete(&mut store, "deleted");
    assert_eq!(lent(&store, "flushed"), Some(b("1")));
    assert_eq!(lent(&store, "cached"), Some(b("4")));
    assert_eq!(lent(&store, "deleted"), None);
    assert_eq!(lent(&store, "absent"), None);
    let mut held = crate::store::UncommittedWritesLayer::new(Box::new(store));
    put(&mut held, "pending", "5");
    held.delete_range(b"r", b"s").unwrap();
    assert_eq!(lent(&held, "pending"), Some(b("5")));
    assert_eq!(lent(&held, "ranged"), None);
    assert_eq!(lent(&held, "cached"), Some(b("4")));
    assert_eq!(lent(&held, "flushed"), Some(b("1")));
}
