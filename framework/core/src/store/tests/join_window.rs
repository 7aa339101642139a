//! The window store that retains duplicates (a stream-stream join's): its
//! recent windows held in memory until the commit, and read from there.

use super::windowed_support::{s, task, SharedBytes, MINUTE};
use crate::error::Result;
use crate::serde::Serdes;
use crate::store::packed_windows::unpack;
use crate::store::{
    KeyValueStoreBuilder, MeteredWindowStore, ReadOnlyWindowStore, StateStore, StoreContext,
    WindowStore, WindowStoreBuilder, WriteBatch,
};
use crate::window::Windowed;

type Store = MeteredWindowStore<String, i64>;

/// A join store over `bytes`, change-logged, keeping windows 2 minutes
/// (1-minute segments).
fn join_store(bytes: &SharedBytes, ctx: &StoreContext) -> Store {
    WindowStoreBuilder::from_key_value(
        KeyValueStoreBuilder::new("join", Serdes::string(), Serdes::i64()),
        2 * MINUTE,
        0,
        true,
    )
    .with_bytes_supplier(bytes.supplier())
    .with_logging(true)
    .build_in(ctx)
    .unwrap()
}

fn put(store: &mut Store, key: &str, start: i64, value: i64) {
    store.put(&s(key), Some(&value), start).unwrap();
}

fn fetch(store: &Store, key: &str, reverse: bool) -> Vec<(i64, i64)> {
    let iter = if reverse {
        store.backward_fetch_range(&s(key), 0, i64::MAX).unwrap()
    } else {
        store.fetch_range(&s(key), 0, i64::MAX).unwrap()
    };
    iter.collect::<Result<_>>().unwrap()
}

fn all(store: &Store) -> Vec<(String, i64, i64)> {
    store
        .all()
        .unwrap()
        .map(|kv| {
            let (w, v): (Windowed<String>, i64) = kv.unwrap();
            (w.key().clone(), w.window().start(), v)
        })
        .collect()
}

/// The values of the windows logged since the last call, unpacked from
/// the changelog records.
fn logged_values(store: &mut Store) -> Vec<i64> {
    let mut batch = WriteBatch::new();
    for e in store.take_changelog() {
        batch.write(e.key, e.value);
    }
    let (ops, _) = unpack(batch, "join").unwrap().into_parts();
    ops.into_iter()
        .map(|(_, v)| i64::from_be_bytes(v.unwrap().try_into().unwrap()))
        .collect()
}

#[test]
fn puts_wait_in_memory_for_the_flush_and_are_read_from_there() {
    let bytes = SharedBytes::new();
    let mut store = join_store(&bytes, &task());
    put(&mut store, "k", 10, 1);
    put(&mut store, "k", 10, 2);
    put(&mut store, "j", 5, 3);
    put(&mut store, "k", MINUTE + 20, 4);
    assert!(bytes.keys().is_empty());
    assert!(store.take_changelog().is_empty());
    assert_eq!(
        fetch(&store, "k", false),
        [(10, 1), (10, 2), (MINUTE + 20, 4)]
    );
    assert_eq!(
        fetch(&store, "k", true),
        [(MINUTE + 20, 4), (10, 2), (10, 1)]
    );
    assert_eq!(store.fetch(&s("j"), 5).unwrap(), Some(3));
    assert_eq!(
        all(&store),
        [
            (s("j"), 5, 3),
            (s("k"), 10, 1),
            (s("k"), 10, 2),
            (s("k"), MINUTE + 20, 4)
        ]
    );

    store.flush().unwrap();
    // Logged, and not written below: they wait for a write-down.
    assert!(bytes.keys().is_empty());
    let mut logged = logged_values(&mut store);
    logged.sort_unstable();
    assert_eq!(logged, [1, 2, 3, 4]);
    // Logged once: a second flush logs nothing again.
    store.flush().unwrap();
    assert!(store.take_changelog().is_empty());
    assert_eq!(
        fetch(&store, "k", false),
        [(10, 1), (10, 2), (MINUTE + 20, 4)]
    );
    // The commit: every window is live and not below, so the offset below
    // stays where it was (restoration replays them).
    StateStore::commit(&mut store, Some(3)).unwrap();
    assert_eq!(bytes.offset(), None);
    assert!(bytes.keys().is_empty());
    // A close after the commit writes them below, with its offset.
    StateStore::close(&mut store).unwrap();
    assert_eq!(bytes.keys().len(), 4);
    assert_eq!(bytes.offset(), Some(3));
}

#[test]
fn a_window_expired_before_the_flush_is_neither_written_nor_logged() {
    let bytes = SharedBytes::new();
    let mut store = join_store(&bytes, &task());
    put(&mut store, "k", 10, 1);
    put(&mut store, "k", MINUTE, 2);
    // Stream time 3 min: the window at 10 ms is expired (the one at 1 min
    // is too: 3 min - 2 min retention), the one at 3 min is live.
    put(&mut store, "k", 3 * MINUTE, 3);
    put(&mut store, "j", 3 * MINUTE - 1, 4);
    store.flush().unwrap();
    let mut logged = logged_values(&mut store);
    logged.sort_unstable();
    assert_eq!(logged, [3, 4]);
    assert_eq!(fetch(&store, "k", false), [(3 * MINUTE, 3)]);
    assert_eq!(store.expired_puts(), 0);
    StateStore::commit(&mut store, Some(1)).unwrap();
    StateStore::close(&mut store).unwrap();
    assert_eq!(bytes.keys().len(), 2);
}

#[test]
fn a_reopened_store_reads_its_old_windows_below_and_the_new_ones_in_memory() {
    let bytes = SharedBytes::new();
    let mut store = join_store(&bytes, &task());
    put(&mut store, "k", 10, 1);
    put(&mut store, "k", MINUTE + 10, 2);
    store.flush().unwrap();
    StateStore::commit(&mut store, Some(1)).unwrap();
    StateStore::close(&mut store).unwrap();

    let mut reopened = join_store(&bytes, &task());
    assert_eq!(fetch(&reopened, "k", false), [(10, 1), (MINUTE + 10, 2)]);
    // New windows in the segment the old ones are in, and after it.
    put(&mut reopened, "k", MINUTE + 5, 3);
    put(&mut reopened, "k", 2 * MINUTE + 5, 4);
    put(&mut reopened, "j", MINUTE + 10, 5);
    assert_eq!(bytes.keys().len(), 2);
    assert_eq!(
        fetch(&reopened, "k", false),
        [
            (10, 1),
            (MINUTE + 5, 3),
            (MINUTE + 10, 2),
            (2 * MINUTE + 5, 4)
        ]
    );
    assert_eq!(
        fetch(&reopened, "k", true),
        [
            (2 * MINUTE + 5, 4),
            (MINUTE + 10, 2),
            (MINUTE + 5, 3),
            (10, 1)
        ]
    );
    assert_eq!(
        all(&reopened),
        [
            (s("j"), MINUTE + 10, 5),
            (s("k"), 10, 1),
            (s("k"), MINUTE + 5, 3),
            (s("k"), MINUTE + 10, 2),
            (s("k"), 2 * MINUTE + 5, 4)
        ]
    );
}

#[test]
fn a_store_restored_from_its_changelog_reads_the_restored_windows() {
    let source = SharedBytes::new();
    let mut logged = join_store(&source, &task());
    put(&mut logged, "k", 10, 1);
    put(&mut logged, "k", 20, 2);
    logged.flush().unwrap();
    let entries = logged.take_changelog();

    let bytes = SharedBytes::new();
    let mut fresh = join_store(&bytes, &task());
    let mut batch = WriteBatch::new();
    for e in entries {
        batch.write(e.key, e.value);
    }
    batch.set_offset(1);
    StateStore::restore(&mut fresh, batch).unwrap();
    assert_eq!(fetch(&fresh, "k", false), [(10, 1), (20, 2)]);
    put(&mut fresh, "k", 15, 3);
    assert_eq!(fetch(&fresh, "k", false), [(10, 1), (15, 3), (20, 2)]);
}

/// The changelog entries taken since the last call, appended to
/// `changelog` (an entry's offset is its index).
fn log_into(store: &mut Store, changelog: &mut Vec<(Vec<u8>, Option<Vec<u8>>)>) -> i64 {
    changelog.extend(store.take_changelog().into_iter().map(|e| (e.key, e.value)));
    i64::try_from(changelog.len()).unwrap() - 1
}

/// A store over `bytes` restored from `changelog` after the offset below.
fn restored(
    bytes: &SharedBytes,
    ctx: &StoreContext,
    changelog: &[(Vec<u8>, Option<Vec<u8>>)],
) -> Store {
    let mut store = join_store(bytes, ctx);
    let from = StateStore::committed_offset(&store)
        .unwrap()
        .map_or(0, |o| usize::try_from(o).unwrap() + 1);
    if from < changelog.len() {
        let mut batch = WriteBatch::new();
        for (key, value) in &changelog[from..] {
            batch.write(key.clone(), value.clone());
        }
        batch.set_offset(i64::try_from(changelog.len()).unwrap() - 1);
        StateStore::restore(&mut store, batch).unwrap();
    }
    store
}

#[test]
fn under_exactly_once_an_abort_leaves_the_committed_windows_to_restoration() {
    let eos = task().with_exactly_once(true);
    let bytes = SharedBytes::new();
    let mut changelog = Vec::new();
    let mut store = join_store(&bytes, &eos);
    put(&mut store, "k", 10, 1);
    store.flush().unwrap();
    let offset = log_into(&mut store, &mut changelog);
    assert_eq!(fetch(&store, "k", false), [(10, 1)]);
    StateStore::commit(&mut store, Some(offset)).unwrap();
    assert!(bytes.keys().is_empty());
    assert_eq!(bytes.offset(), None);

    // An abort: what was put since the commit is dropped with the store,
    // and nothing is written below at the close.
    put(&mut store, "k", 30, 2);
    StateStore::close(&mut store).unwrap();
    assert!(bytes.keys().is_empty());
    let reopened = restored(&bytes, &eos, &changelog);
    assert_eq!(fetch(&reopened, "k", false), [(10, 1)]);
}

#[test]
fn the_offset_below_passes_logged_windows_once_they_expired() {
    let eos = task().with_exactly_once(true);
    let bytes = SharedBytes::new();
    let mut changelog = Vec::new();
    let mut store = join_store(&bytes, &eos);
    put(&mut store, "k", 10, 1);
    store.flush().unwrap();
    let first = log_into(&mut store, &mut changelog);
    StateStore::commit(&mut store, Some(first)).unwrap();
    assert_eq!(bytes.offset(), None);
    // Stream time 3 min: the window at 10 ms expired (2-minute retention);
    // the one at 3 min is live, logged in the next generation.
    put(&mut store, "k", 3 * MINUTE, 2);
    store.flush().unwrap();
    let second = log_into(&mut store, &mut changelog);
    StateStore::commit(&mut store, Some(second)).unwrap();
    assert_eq!(bytes.offset(), Some(first), "past the expired window");
    assert!(bytes.keys().is_empty(), "nothing was written below");
    // A crash: restoration replays from there.
    drop(store);
    let reopened = restored(&bytes, &eos, &changelog);
    assert_eq!(fetch(&reopened, "k", false), [(3 * MINUTE, 2)]);
}

#[test]
fn logged_windows_go_below_when_the_offset_would_lag_too_far() {
    let eos = task().with_exactly_once(true);
    let bytes = SharedBytes::new();
    let mut changelog = Vec::new();
    let mut store = join_store(&bytes, &eos).with_logged_max_lag(std::time::Duration::ZERO);
    put(&mut store, "k", 10, 1);
    put(&mut store, "k", 20, 2);
    store.flush().unwrap();
    let offset = log_into(&mut store, &mut changelog);
    // Written down at the flush: below after the commit, with its offset.
    assert!(bytes.keys().is_empty());
    StateStore::commit(&mut store, Some(offset)).unwrap();
    assert_eq!(bytes.keys().len(), 2);
    assert_eq!(bytes.offset(), Some(offset));
    // Logged once, written once.
    store.flush().unwrap();
    assert!(store.take_changelog().is_empty());
    put(&mut store, "k", 30, 3);
    store.flush().unwrap();
    let offset = log_into(&mut store, &mut changelog);
    StateStore::commit(&mut store, Some(offset)).unwrap();
    assert_eq!(bytes.keys().len(), 3);
    drop(store);
    let reopened = restored(&bytes, &eos, &changelog);
    assert_eq!(fetch(&reopened, "k", false), [(10, 1), (20, 2), (30, 3)]);
}
