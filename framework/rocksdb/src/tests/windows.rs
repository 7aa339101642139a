//! Window stores on RocksDB: expired segments go in one range delete, the
//! data survives a reopen, and under exactly-once an aborted transaction
//! keeps the committed windows.

use std::time::Duration;

use weir_core::serde::Serdes;
use weir_core::store::{
    KeyValueBytesStore, ReadOnlyWindowStore, StateStore, StoreContext, WindowStore,
    WindowStoreBuilder, WriteBatch,
};
use weir_core::task::TaskId;

use super::{budget, keys, open, put_all};
use crate::rocksdb_bytes_supplier;

const MINUTE: i64 = 60_000;

#[test]
fn a_range_delete_removes_the_range_and_stays_removed_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    put_all(
        &mut store,
        &[(b"a1", b"1"), (b"a2", b"2"), (b"b1", b"3"), (b"c1", b"4")],
    );
    let mut batch = WriteBatch::new();
    batch
        .delete_range(b"a".to_vec(), b"b2".to_vec())
        .put(b"a9".to_vec(), b"5".to_vec())
        .set_offset(7);
    store.write(batch).unwrap();
    let all = |s: &dyn KeyValueBytesStore| keys(s.all().unwrap());
    assert_eq!(all(&store), [b"a9".to_vec(), b"c1".to_vec()]);
    assert_eq!(store.get(b"a1").unwrap(), None);
    store.delete_range(b"c", b"d").unwrap();
    assert_eq!(all(&store), [b"a9".to_vec()]);
    store.close().unwrap();
    let store = open(dir.path());
    assert_eq!(all(&store), [b"a9".to_vec()]);
    assert_eq!(store.committed_offset().unwrap(), Some(7));
}

fn builder(dir: &std::path::Path) -> WindowStoreBuilder<String, i64> {
    let supplier = rocksdb_bytes_supplier(dir.to_path_buf(), "app".into(), "w".into(), budget());
    WindowStoreBuilder::new(
        "w",
        Serdes::string(),
        Serdes::i64(),
        Duration::from_secs(120),
        Duration::from_secs(60),
        false,
    )
    .with_bytes_supplier(supplier)
}

fn starts(store: &dyn WindowStore<String, i64>, key: &str) -> Vec<(i64, i64)> {
    store
        .fetch_range(&key.to_string(), 0, i64::MAX)
        .unwrap()
        .collect::<weir_core::Result<_>>()
        .unwrap()
}

#[test]
fn a_window_store_on_rocksdb_expires_segments_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = StoreContext::new(TaskId::new(0, 0));
    let mut store = builder(dir.path()).build_in(&ctx).unwrap();
    let a = "a".to_string();
    store.put(&a, Some(&1), 0).unwrap();
    store.put(&a, Some(&2), MINUTE).unwrap();
    store.put(&"ab".to_string(), Some(&3), MINUTE).unwrap();
    store.put(&a, Some(&4), 4 * MINUTE).unwrap(); // segments 0 and 1 go
    assert_eq!(starts(&store, "a"), [(4 * MINUTE, 4)]);
    // Only the live window is left in the database.
    assert_eq!(keys(store.bytes_store().all().unwrap()).len(), 1);
    StateStore::close(&mut store).unwrap();

    let store = builder(dir.path()).build_in(&ctx).unwrap();
    assert_eq!(starts(&store, "a"), [(4 * MINUTE, 4)]);
    assert_eq!(store.fetch(&"ab".to_string(), MINUTE).unwrap(), None);
}

#[test]
fn under_exactly_once_an_aborted_expiry_keeps_the_committed_windows() {
    let dir = tempfile::tempdir().unwrap();
    let eos = StoreContext::new(TaskId::new(0, 0)).with_exactly_once(true);
    let a = "a".to_string();
    let mut store = builder(dir.path()).build_in(&eos).unwrap();
    store.put(&a, Some(&1), 0).unwrap();
    store.put(&a, Some(&2), MINUTE).unwrap();
    StateStore::commit(&mut store, Some(1)).unwrap();
    store.put(&a, Some(&3), 4 * MINUTE).unwrap(); // drops segments 0, 1: held
    assert_eq!(starts(&store, "a"), [(4 * MINUTE, 3)]);
    StateStore::close(&mut store).unwrap(); // aborted: never committed

    let mut store = builder(dir.path()).build_in(&eos).unwrap();
    assert_eq!(StateStore::committed_offset(&store).unwrap(), Some(1));
    assert_eq!(starts(&store, "a"), [(0, 1), (MINUTE, 2)]);
    store.put(&a, Some(&3), 4 * MINUTE).unwrap();
    StateStore::commit(&mut store, Some(2)).unwrap();
    StateStore::close(&mut store).unwrap();

    let store = builder(dir.path()).build_in(&eos).unwrap();
    assert_eq!(starts(&store, "a"), [(4 * MINUTE, 3)]);
}

/// A store that retains duplicates (a stream-stream join's) tells RocksDB
/// its writes are short-lived, through the exactly-once layer: its
/// memtables stay small however much it writes, and every window stays
/// readable.
#[test]
fn a_join_window_store_keeps_small_memtables_on_rocksdb() {
    let dir = tempfile::tempdir().unwrap();
    let budget = crate::RocksDbBudget::new(64 << 20).unwrap();
    let supplier = rocksdb_bytes_supplier(
        dir.path().to_path_buf(),
        "app".into(),
        "j".into(),
        std::sync::Arc::clone(&budget),
    );
    let eos = StoreContext::new(TaskId::new(0, 0)).with_exactly_once(true);
    let mut store = WindowStoreBuilder::new(
        "j",
        Serdes::string(),
        Serdes::string(),
        Duration::from_secs(120),
        Duration::from_secs(60),
        true,
    )
    .with_bytes_supplier(supplier)
    .build_in(&eos)
    .unwrap();
    // 20,000 windows of about 130 bytes, all live: 2.6 MB, under the 4 MiB
    // write buffer of this budget's other stores.
    let value = "v".repeat(100);
    for i in 0..20_000i64 {
        store
            .put(&format!("key-{}", i % 1_000), Some(&value), MINUTE + i)
            .unwrap();
        if i % 1_000 == 999 {
            StateStore::commit(&mut store, Some(i)).unwrap();
        }
    }
    super::budget::assert_memtable_written_down(&budget, 1 << 20);
    let windows: Vec<(i64, String)> = store
        .fetch_range(&"key-7".to_string(), 0, i64::MAX)
        .unwrap()
        .collect::<weir_core::Result<_>>()
        .unwrap();
    let expected: Vec<i64> = (0..20).map(|n| MINUTE + 7 + n * 1_000).collect();
    assert_eq!(
        windows.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        expected
    );
    assert!(windows.iter().all(|(_, v)| *v == value));
}
