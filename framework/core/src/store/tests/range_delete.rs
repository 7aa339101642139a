//! Range deletes through every layer: what each one does with them.

use std::sync::{Arc, Mutex};

use super::windowed_support::SharedBytes;
use super::{b, pairs, put, strings};
use crate::store::{
    CachingLayer, ChangeLoggingLayer, FlushedEntry, InMemoryBytesStore, KeyValueBytesStore,
    UncommittedWritesLayer, WriteBatch,
};

fn filled(store: &mut dyn KeyValueBytesStore, keys: &[&str]) {
    for k in keys {
        put(store, k, "v");
    }
}

fn keys(store: &dyn KeyValueBytesStore) -> Vec<String> {
    strings(store.all().unwrap())
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

#[test]
fn the_in_memory_store_drops_a_range_at_the_start_or_in_the_middle() {
    let mut store = InMemoryBytesStore::new("m");
    filled(&mut store, &["a", "b", "c", "d", "e"]);
    store.delete_range(b"a", b"c").unwrap(); // nothing below: split
    assert_eq!(keys(&store), ["c", "d", "e"]);
    store.delete_range(b"d", b"e").unwrap(); // in the middle
    assert_eq!(keys(&store), ["c", "e"]);
    store.delete_range(b"z", b"a").unwrap(); // empty
    assert_eq!(keys(&store), ["c", "e"]);
    // In a batch, the range applies before the batch's writes.
    let mut batch = WriteBatch::new();
    batch.put(b("c"), b("new")).delete_range(b("a"), b("z"));
    store.write(batch).unwrap();
    assert_eq!(strings(store.all().unwrap()), pairs(&[("c", "new")]));
}

#[test]
fn the_cache_forgets_the_range_dirty_entries_too_and_never_writes_them() {
    let below = SharedBytes::new();
    let mut store = CachingLayer::new(Box::new(below.clone()), 1 << 20);
    let flushed: Arc<Mutex<Vec<FlushedEntry>>> = Arc::default();
    let sink = Arc::clone(&flushed);
    store.set_flush_listener(Box::new(move |e| sink.lock().unwrap().extend_from_slice(e)));
    filled(&mut store, &["a", "b"]);
    store.flush().unwrap(); // a, b clean in the cache and below
    filled(&mut store, &["b", "c", "x"]); // b, c, x dirty
    store.delete_range(b"a", b"d").unwrap();
    assert_eq!(store.cached_entries(), 1);
    assert_eq!(store.get(b"b").unwrap(), None);
    assert!(below.keys().is_empty(), "x is still dirty in the cache");
    store.flush().unwrap();
    assert_eq!(below.keys(), [b("x")]);
    let written: Vec<Vec<u8>> = flushed
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.key.clone())
        .collect();
    assert_eq!(written, [b("a"), b("b"), b("x")]);
}

#[test]
fn the_change_logging_layer_passes_a_range_down_and_logs_nothing() {
    let mut store = ChangeLoggingLayer::new(Box::new(InMemoryBytesStore::new("l")));
    filled(&mut store, &["a", "b"]);
    assert_eq!(store.take_changelog().len(), 2);
    store.delete_range(b"a", b"b").unwrap();
    assert!(store.take_changelog().is_empty());
    assert_eq!(keys(&store), ["b"]);
}

#[test]
fn under_exactly_once_a_range_waits_for_the_commit_and_an_abort_drops_it() {
    let below = SharedBytes::new();
    filled(&mut below.clone(), &["a", "b", "c"]);
    let mut layer = UncommittedWritesLayer::new(Box::new(below.clone()));
    put(&mut layer, "b", "held"); // dropped by the range below
    layer.delete_range(b"a", b"c").unwrap();
    put(&mut layer, "a", "after"); // written after the range: survives it
    assert_eq!(layer.pending_range_deletes(), 1);
    assert_eq!(layer.get(b"b").unwrap(), None);
    assert_eq!(layer.get(b"a").unwrap(), Some(b("after")));
    assert_eq!(keys(&layer), ["a", "c"]);
    assert_eq!(
        strings(layer.range(None, None, true).unwrap()),
        pairs(&[("c", "v"), ("a", "after")])
    );
    // Nothing reached the store below yet.
    assert_eq!(below.keys(), [b("a"), b("b"), b("c")]);
    // A restore while a range is held is refused.
    assert!(layer.restore(WriteBatch::new()).is_err());
    layer.commit(Some(5)).unwrap();
    assert_eq!(below.keys(), [b("a"), b("c")]);
    assert_eq!(layer.get(b"a").unwrap(), Some(b("after")));
    assert_eq!(below.offset(), Some(5));

    // Abort: closing without a commit drops the held range.
    layer.delete_range(b"a", b"z").unwrap();
    layer.close().unwrap();
    assert_eq!(below.keys(), [b("a"), b("c")]);
}
