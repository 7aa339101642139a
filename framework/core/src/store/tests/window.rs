//! The window store: reads across segments, expiry by range delete, and
//! the same through every layer (cache, changelog, exactly-once, restore).

use std::sync::{Arc, Mutex};

use super::windowed_support::{cached_task, s, task, windows, SharedBytes, MINUTE};
use crate::error::Result;
use crate::store::{
    FlushedEntry, MeteredWindowStore, ReadOnlyWindowStore, StateStore, WindowStore, WriteBatch,
};
use crate::window::{Window, Windowed};

type Store = MeteredWindowStore<String, i64>;

fn put(store: &mut Store, key: &str, start: i64, value: i64) {
    store.put(&s(key), Some(&value), start).unwrap();
}

fn starts(iter: crate::store::WindowStoreIter<'_, i64>) -> Vec<(i64, i64)> {
    iter.collect::<Result<_>>().unwrap()
}

fn windowed(
    iter: crate::store::KeyValueIter<'_, Windowed<String>, i64>,
) -> Vec<(String, i64, i64)> {
    iter.map(|kv| {
        let (w, v) = kv.unwrap();
        (w.key().clone(), w.window().start(), v)
    })
    .collect()
}

#[test]
fn fetches_by_key_and_time_across_segments_both_ways() {
    let mut store = windows().build_in(&task()).unwrap();
    // "a" is a prefix of "ab": its reads must never see "ab"'s windows.
    // (At stream time 2 min, a window starting at 0 would be expired.)
    for (key, start, v) in [
        ("a", 1, 1),
        ("ab", 1, 2),
        ("a", MINUTE, 3),
        ("ab", MINUTE + 1, 4),
        ("b", MINUTE, 5),
        ("a", 2 * MINUTE, 6),
    ] {
        put(&mut store, key, start, v);
    }
    assert_eq!(store.fetch(&s("a"), MINUTE).unwrap(), Some(3));
    assert_eq!(store.fetch(&s("a"), MINUTE + 1).unwrap(), None);
    let a = starts(store.fetch_range(&s("a"), 0, 2 * MINUTE).unwrap());
    assert_eq!(a, [(1, 1), (MINUTE, 3), (2 * MINUTE, 6)]);
    let a_back = starts(store.backward_fetch_range(&s("a"), 0, 2 * MINUTE).unwrap());
    assert_eq!(a_back, [(2 * MINUTE, 6), (MINUTE, 3), (1, 1)]);
    let middle = starts(store.fetch_range(&s("a"), 2, 2 * MINUTE - 1).unwrap());
    assert_eq!(middle, [(MINUTE, 3)]);
    assert_eq!(
        starts(store.fetch_range(&s("ab"), 0, i64::MAX).unwrap()),
        [(1, 2), (MINUTE + 1, 4)]
    );

    // Every window, by key then start, merged across the three segments.
    let all = windowed(store.all().unwrap());
    assert_eq!(
        all,
        [
            (s("a"), 1, 1),
            (s("a"), MINUTE, 3),
            (s("a"), 2 * MINUTE, 6),
            (s("ab"), 1, 2),
            (s("ab"), MINUTE + 1, 4),
            (s("b"), MINUTE, 5),
        ]
    );
    let mut reversed = windowed(store.backward_all().unwrap());
    reversed.reverse();
    assert_eq!(reversed, all);
    let ranged = windowed(
        store
            .fetch_key_range(Some(&s("ab")), Some(&s("b")), MINUTE, MINUTE + 1)
            .unwrap(),
    );
    assert_eq!(ranged, [(s("ab"), MINUTE + 1, 4), (s("b"), MINUTE, 5)]);
    let back = windowed(
        store
            .backward_fetch_key_range(None, Some(&s("ab")), 0, MINUTE)
            .unwrap(),
    );
    assert_eq!(back, [(s("ab"), 1, 2), (s("a"), MINUTE, 3), (s("a"), 1, 1)]);
    // A windowed key ends one window size after its start.
    let (first, _) = store.fetch_all(0, 1).unwrap().next().unwrap().unwrap();
    assert_eq!(first.window(), Window::new(1, MINUTE + 1));
    // A delete removes the window.
    store.put(&s("a"), None, MINUTE).unwrap();
    assert_eq!(store.fetch(&s("a"), MINUTE).unwrap(), None);
}

#[test]
fn expired_windows_are_skipped_dropped_and_their_segments_deleted_in_bulk() {
    let bytes = SharedBytes::new();
    let mut store = windows()
        .with_bytes_supplier(bytes.supplier())
        .build_in(&task())
        .unwrap();
    put(&mut store, "a", 0, 1);
    put(&mut store, "a", MINUTE, 2);
    put(&mut store, "a", 2 * MINUTE, 3);
    put(&mut store, "b", 2 * MINUTE + 5, 4);
    assert_eq!(bytes.segments(), [0, 1, 2]);
    // Stream time 4 min: live windows start after 2 min; segments below 2 go.
    put(&mut store, "a", 4 * MINUTE, 5);
    assert_eq!(store.observed_stream_time(), Some(4 * MINUTE));
    assert_eq!(bytes.segments(), [2, 4]);
    // Window 2 min is still stored (its segment lives) but expired for reads.
    assert_eq!(store.fetch(&s("a"), 2 * MINUTE).unwrap(), None);
    assert_eq!(
        starts(store.fetch_range(&s("a"), 0, i64::MAX).unwrap()),
        [(4 * MINUTE, 5)]
    );
    assert_eq!(
        windowed(store.all().unwrap()),
        [(s("a"), 4 * MINUTE, 5), (s("b"), 2 * MINUTE + 5, 4)]
    );
    // A put into an expired window is dropped and counted.
    put(&mut store, "c", 2 * MINUTE, 9);
    assert_eq!(store.expired_puts(), 1);
    assert_eq!(store.fetch(&s("c"), 2 * MINUTE).unwrap(), None);
    // A put within retention into a live segment still lands.
    put(&mut store, "c", 3 * MINUTE, 7);
    assert_eq!(store.fetch(&s("c"), 3 * MINUTE).unwrap(), Some(7));
}

#[test]
fn negative_window_starts_are_refused() {
    let mut store = windows().build_in(&task()).unwrap();
    let err = store.put(&s("a"), Some(&1), -1).unwrap_err();
    assert!(err.to_string().contains("negative"), "{err}");
    assert_eq!(store.fetch(&s("a"), -1).unwrap(), None);
    assert!(starts(store.fetch_range(&s("a"), i64::MIN, -1).unwrap()).is_empty());
}

#[test]
fn a_store_retaining_duplicates_keeps_every_put_and_ignores_deletes() {
    let builder = crate::store::WindowStoreBuilder::new(
        "joins",
        crate::serde::Serdes::string(),
        crate::serde::Serdes::i64(),
        std::time::Duration::from_secs(120),
        std::time::Duration::from_secs(60),
        true,
    );
    assert!(builder.retains_duplicates());
    let mut store = builder.build_in(&task()).unwrap();
    put(&mut store, "k", 10, 1);
    put(&mut store, "k", 10, 2);
    put(&mut store, "k", 20, 3);
    store.put(&s("k"), None, 10).unwrap();
    assert_eq!(
        starts(store.fetch_range(&s("k"), 0, 100).unwrap()),
        [(10, 1), (10, 2), (20, 3)]
    );
    assert_eq!(store.fetch(&s("k"), 10).unwrap(), Some(1));
    assert_eq!(windowed(store.all().unwrap()).len(), 3);
}

#[test]
fn the_retention_must_cover_the_window_size() {
    let builder = crate::store::WindowStoreBuilder::from_key_value(
        crate::store::KeyValueStoreBuilder::new(
            "w",
            crate::serde::Serdes::string(),
            crate::serde::Serdes::i64(),
        ),
        MINUTE - 1,
        MINUTE,
        false,
    );
    assert!(builder.build_in(&task()).is_err());
}

#[test]
fn a_cached_store_folds_updates_and_expiry_drops_dirty_windows_unwritten() {
    let bytes = SharedBytes::new();
    let mut store = windows()
        .with_bytes_supplier(bytes.supplier())
        .with_logging(true)
        .with_caching(true)
        .build_in(&cached_task())
        .unwrap();
    let flushed: Arc<Mutex<Vec<FlushedEntry>>> = Arc::default();
    let sink = Arc::clone(&flushed);
    assert!(store.set_flush_listener(Box::new(move |entries| {
        sink.lock().unwrap().extend_from_slice(entries)
    })));
    put(&mut store, "a", 0, 1);
    put(&mut store, "a", 0, 2);
    put(&mut store, "b", MINUTE, 3);
    assert!(bytes.keys().is_empty()); // all in the cache
    assert_eq!(store.fetch(&s("a"), 0).unwrap(), Some(2));
    assert_eq!(windowed(store.all().unwrap()).len(), 2);
    store.flush().unwrap();
    assert_eq!(bytes.keys().len(), 2);
    assert_eq!(store.take_changelog().len(), 2);
    let decoded: Vec<_> = flushed
        .lock()
        .unwrap()
        .iter()
        .map(|e| store.decode_flushed(e).unwrap())
        .collect();
    assert_eq!(
        decoded[0],
        (Windowed::new(s("a"), Window::new(0, MINUTE)), Some(2), None)
    );
    // A dirty window in a segment that expires is never written down.
    put(&mut store, "a", 0, 5);
    put(&mut store, "c", 5 * MINUTE, 6);
    store.flush().unwrap();
    assert_eq!(bytes.segments(), [5]);
    let logged: Vec<_> = store.take_changelog();
    assert_eq!(
        logged.len(),
        1,
        "only the live window is logged: {logged:?}"
    );
    assert_eq!(flushed.lock().unwrap().len(), 3);
}

#[test]
fn a_restored_store_reads_the_logged_windows_and_expires_from_restored_time() {
    let mut logged = windows().with_logging(true).build_in(&task()).unwrap();
    put(&mut logged, "a", 0, 1);
    put(&mut logged, "a", MINUTE, 2);
    put(&mut logged, "b", 2 * MINUTE, 3);
    logged.put(&s("a"), None, MINUTE).unwrap();
    put(&mut logged, "b", 3 * MINUTE, 4);
    let entries = logged.take_changelog();
    assert_eq!(entries.len(), 5);

    let bytes = SharedBytes::new();
    let mut fresh = windows()
        .with_bytes_supplier(bytes.supplier())
        .build_in(&task())
        .unwrap();
    assert_eq!(fresh.observed_stream_time(), None);
    let mut batch = WriteBatch::new();
    for e in entries {
        batch.write(e.key, e.value);
    }
    batch.set_offset(4);
    StateStore::restore(&mut fresh, batch).unwrap();
    assert_eq!(fresh.observed_stream_time(), Some(3 * MINUTE));
    assert_eq!(StateStore::committed_offset(&fresh).unwrap(), Some(4));
    // Stream time 3 min: windows at or before 1 min expired: left out of
    // the restore.
    assert_eq!(bytes.segments(), [2, 3]);
    assert_eq!(
        windowed(fresh.all().unwrap()),
        [(s("b"), 2 * MINUTE, 3), (s("b"), 3 * MINUTE, 4)]
    );
    put(&mut fresh, "a", MINUTE, 9);
    assert_eq!(fresh.expired_puts(), 1);
}

#[test]
fn a_reopened_store_finds_its_segments() {
    let bytes = SharedBytes::new();
    let builder = windows().with_bytes_supplier(bytes.supplier());
    let mut store = builder.build_in(&task()).unwrap();
    put(&mut store, "a", 0, 1);
    put(&mut store, "a", 2 * MINUTE, 2);
    StateStore::close(&mut store).unwrap();
    let reopened = builder.build_in(&task()).unwrap();
    // No stream time yet (as Kafka Streams): nothing is taken for expired.
    assert_eq!(
        starts(reopened.fetch_range(&s("a"), 0, i64::MAX).unwrap()),
        [(0, 1), (2 * MINUTE, 2)]
    );
}

#[test]
fn under_exactly_once_the_segment_drop_waits_for_the_commit() {
    let bytes = SharedBytes::new();
    let builder = windows().with_bytes_supplier(bytes.supplier());
    let eos = task().with_exactly_once(true);
    let mut store = builder.build_in(&eos).unwrap();
    put(&mut store, "a", 0, 1);
    put(&mut store, "a", MINUTE, 2);
    StateStore::commit(&mut store, Some(1)).unwrap();
    assert_eq!(bytes.segments(), [0, 1]);

    put(&mut store, "a", 4 * MINUTE, 3);
    // Hidden through the layers, still committed below.
    assert_eq!(
        starts(store.fetch_range(&s("a"), 0, i64::MAX).unwrap()),
        [(4 * MINUTE, 3)]
    );
    assert_eq!(bytes.segments(), [0, 1]);
    // Abort: the task closes without a commit; the committed windows stay.
    StateStore::close(&mut store).unwrap();
    assert_eq!(bytes.segments(), [0, 1]);
    assert_eq!(bytes.offset(), Some(1));

    let mut store = builder.build_in(&eos).unwrap();
    put(&mut store, "a", 4 * MINUTE, 3);
    put(&mut store, "a", 3 * MINUTE, 4);
    StateStore::commit(&mut store, Some(2)).unwrap();
    assert_eq!(bytes.segments(), [3, 4]);
    assert_eq!(bytes.offset(), Some(2));
}
