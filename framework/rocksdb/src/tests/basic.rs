//! Reads, writes, scans, offsets, reopen and close.

use weir_core::store::{
    KeyValueBytesStore, KeyValueStoreBuilder, UncommittedWritesLayer, WriteBatch,
};
use weir_core::task::TaskId;

use super::{budget, collect, keys, open, put_all};
use crate::{rocksdb_bytes_supplier, store_path, RocksDbBytesStore};

#[test]
fn get_put_delete() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    assert!(store.persistent());
    assert_eq!(store.name(), "test-store");
    assert_eq!(store.get(b"a").unwrap(), None);
    put_all(&mut store, &[(b"a", b"1"), (b"b", b"2")]);
    assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
    let mut batch = WriteBatch::new();
    batch
        .delete(b"a".to_vec())
        .put(b"b".to_vec(), b"3".to_vec());
    store.write(batch).unwrap();
    assert_eq!(store.get(b"a").unwrap(), None);
    assert_eq!(store.get(b"b").unwrap(), Some(b"3".to_vec()));
    // A later write of a key in the same batch wins.
    let mut batch = WriteBatch::new();
    batch
        .put(b"c".to_vec(), b"x".to_vec())
        .delete(b"c".to_vec());
    batch
        .put(b"d".to_vec(), b"x".to_vec())
        .put(b"d".to_vec(), b"y".to_vec());
    store.write(batch).unwrap();
    assert_eq!(store.get(b"c").unwrap(), None);
    assert_eq!(store.get(b"d").unwrap(), Some(b"y".to_vec()));
    // Empty keys and values are values like any other.
    put_all(&mut store, &[(b"", b"")]);
    assert_eq!(store.get(b"").unwrap(), Some(Vec::new()));
}

/// What `get_with` lends, from the memtable and from a table file after a
/// flush (read where RocksDB pinned it), and what the layers above pass down.
#[test]
fn get_with_lends_what_get_returns() {
    fn lent(store: &dyn KeyValueBytesStore, key: &[u8]) -> Option<Vec<u8>> {
        let mut seen = None;
        store
            .get_with(key, &mut |v| {
                seen = v.map(<[u8]>::to_vec);
                Ok(())
            })
            .unwrap();
        seen
    }
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    put_all(&mut store, &[(b"a", b"1"), (b"b", b"")]);
    for _ in 0..2 {
        assert_eq!(lent(&store, b"a"), Some(b"1".to_vec()));
        assert_eq!(lent(&store, b"b"), Some(Vec::new()));
        assert_eq!(lent(&store, b"c"), None);
        assert_eq!(lent(&store, b"a"), store.get(b"a").unwrap());
        // The second round reads from a table file.
        store.close().unwrap();
        store = open(dir.path());
    }
    // An error of the reader is the call's error.
    let failed = store.get_with(b"a", &mut |_| {
        Err(weir_core::Error::Processor {
            node: "n".into(),
            message: "reader failed".into(),
        })
    });
    assert!(failed.unwrap_err().to_string().contains("reader failed"));
    // Through the exactly-once layer: its pending writes win over RocksDB.
    let mut layered = UncommittedWritesLayer::new(Box::new(store));
    let mut batch = WriteBatch::new();
    batch.put(b"a".to_vec(), b"pending".to_vec());
    layered.write(batch).unwrap();
    assert_eq!(lent(&layered, b"a"), Some(b"pending".to_vec()));
    assert_eq!(lent(&layered, b"b"), Some(Vec::new()));
}

#[test]
fn range_is_inclusive_at_both_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    put_all(
        &mut store,
        &[
            (b"a", b"1"),
            (b"b", b"2"),
            (b"b\0", b"2.5"),
            (b"c", b"3"),
            (b"d", b"4"),
        ],
    );
    let r = |from: Option<&[u8]>, to: Option<&[u8]>, rev| keys(store.range(from, to, rev).unwrap());
    let k = |s: &[&[u8]]| s.iter().map(|k| k.to_vec()).collect::<Vec<_>>();
    assert_eq!(r(Some(b"b"), Some(b"c"), false), k(&[b"b", b"b\0", b"c"]));
    assert_eq!(r(Some(b"b"), Some(b"c"), true), k(&[b"c", b"b\0", b"b"]));
    assert_eq!(r(Some(b"b"), Some(b"b"), false), k(&[b"b"]));
    assert_eq!(r(Some(b"b"), Some(b"b"), true), k(&[b"b"]));
    assert_eq!(r(Some(b"bb"), Some(b"cc"), false), k(&[b"c"]));
    assert_eq!(r(None, Some(b"b"), true), k(&[b"b", b"a"]));
    assert_eq!(r(Some(b"c"), None, false), k(&[b"c", b"d"]));
    assert_eq!(r(None, None, true), k(&[b"d", b"c", b"b\0", b"b", b"a"]));
    assert!(r(Some(b"c"), Some(b"b"), false).is_empty());
    assert!(r(Some(b"c"), Some(b"b"), true).is_empty());
    assert!(r(Some(b"x"), None, false).is_empty());
    // The same after the data moved from the memtable to table files.
    store.flush().unwrap();
    let r = |from: Option<&[u8]>, to: Option<&[u8]>, rev| keys(store.range(from, to, rev).unwrap());
    assert_eq!(r(Some(b"b"), Some(b"c"), true), k(&[b"c", b"b\0", b"b"]));
    assert_eq!(
        collect(store.all().unwrap()).len(),
        5,
        "all() sees every entry and no metadata"
    );
}

#[test]
fn prefix_scan_with_ff_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let entries: Vec<&[u8]> = vec![
        b"\x01",
        b"\x01\xff",
        b"\x01\xff\x00",
        b"\x01\xff\xff",
        b"\x02",
        b"\xff",
        b"\xff\x00",
        b"\xff\xff",
        b"\xff\xff\xff",
    ];
    let kvs: Vec<(&[u8], &[u8])> = entries.iter().map(|k| (*k, &b"v"[..])).collect();
    put_all(&mut store, &kvs);
    let mut batch = WriteBatch::new();
    batch.set_offset(5);
    store.write(batch).unwrap();
    let p = |prefix: &[u8]| keys(store.prefix_scan(prefix).unwrap());
    let k = |s: &[&[u8]]| s.iter().map(|k| k.to_vec()).collect::<Vec<_>>();
    assert_eq!(
        p(b"\x01\xff"),
        k(&[b"\x01\xff", b"\x01\xff\x00", b"\x01\xff\xff"])
    );
    assert_eq!(p(b"\x01"), k(&entries[..4]));
    assert_eq!(p(b"\xff"), k(&entries[5..]));
    assert_eq!(p(b"\xff\xff"), k(&[b"\xff\xff", b"\xff\xff\xff"]));
    assert_eq!(p(b""), k(&entries), "the offset never shows in a scan");
    assert!(p(b"\x03").is_empty());
    assert_eq!(store.committed_offset().unwrap(), Some(5));
}

#[test]
fn large_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let big: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 251) as u8).collect();
    put_all(&mut store, &[(b"big", &big), (b"small", b"s")]);
    assert_eq!(store.get(b"big").unwrap().as_deref(), Some(&big[..]));
    store.flush().unwrap();
    assert_eq!(store.get(b"big").unwrap().as_deref(), Some(&big[..]));
    let all = collect(store.all().unwrap());
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].1.len(), big.len());
}

#[test]
fn offset_is_written_with_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    assert_eq!(store.committed_offset().unwrap(), None);
    let mut batch = WriteBatch::new();
    batch.put(b"k".to_vec(), b"v".to_vec()).set_offset(10);
    store.write(batch).unwrap();
    assert_eq!(store.committed_offset().unwrap(), Some(10));
    // A batch without an offset keeps the last one.
    put_all(&mut store, &[(b"k2", b"v")]);
    assert_eq!(store.committed_offset().unwrap(), Some(10));
    // An offset alone.
    let mut batch = WriteBatch::new();
    batch.set_offset(i64::MAX);
    store.write(batch).unwrap();
    assert_eq!(store.committed_offset().unwrap(), Some(i64::MAX));
    let mut batch = WriteBatch::new();
    batch.set_offset(-1);
    store.write(batch).unwrap();
    assert_eq!(store.committed_offset().unwrap(), Some(-1));
    assert_eq!(store.approximate_count().unwrap(), 2);
}

#[test]
fn commit_records_the_offset_and_held_writes_land_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let mut store = RocksDbBytesStore::open("s", &path, budget()).unwrap();
    store.commit(None).unwrap();
    assert_eq!(store.committed_offset().unwrap(), None);
    store.commit(Some(4)).unwrap();
    assert_eq!(store.committed_offset().unwrap(), Some(4));
    // Under exactly-once the held writes and the offset go down in one batch.
    let mut layer = UncommittedWritesLayer::new(Box::new(store));
    put_all(&mut layer, &[(b"a", b"1")]);
    layer.commit(Some(9)).unwrap();
    put_all(&mut layer, &[(b"b", b"2")]); // never committed
    layer.close().unwrap();
    let store = RocksDbBytesStore::open("s", &path, budget()).unwrap();
    assert_eq!(store.committed_offset().unwrap(), Some(9));
    assert_eq!(
        collect(store.all().unwrap()),
        vec![(b"a".to_vec(), b"1".to_vec())]
    );
}

#[test]
fn reopen_keeps_data_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let mut store = RocksDbBytesStore::open("s", &path, budget()).unwrap();
    let mut batch = WriteBatch::new();
    batch
        .put(b"a".to_vec(), b"1".to_vec())
        .put(b"b".to_vec(), b"2".to_vec());
    batch.set_offset(7);
    store.write(batch).unwrap();
    store.flush().unwrap();
    // Written after the flush: only in the WAL when the store closes.
    let mut batch = WriteBatch::new();
    batch
        .delete(b"a".to_vec())
        .put(b"c".to_vec(), b"3".to_vec());
    batch.set_offset(8);
    store.write(batch).unwrap();
    store.close().unwrap();
    let store = RocksDbBytesStore::open("s", &path, budget()).unwrap();
    assert_eq!(store.committed_offset().unwrap(), Some(8));
    assert_eq!(
        collect(store.all().unwrap()),
        vec![
            (b"b".to_vec(), b"2".to_vec()),
            (b"c".to_vec(), b"3".to_vec())
        ]
    );
}

#[test]
fn a_second_open_of_the_same_store_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(dir.path());
    let second = RocksDbBytesStore::open("test-store", dir.path().join("store"), budget());
    let Err(weir_core::Error::Store { store, message }) = second else {
        panic!("expected a store error, got {second:?}");
    };
    assert_eq!(store, "test-store");
    let path = dir.path().join("store");
    assert!(
        message.contains(&format!("{} is locked", path.display())),
        "{message}"
    );
}

/// Set in the child process of the test below: the directory to hold.
const HOLD_ENV: &str = "WEIR_ROCKSDB_TEST_HOLD_DIR";

/// Run as a child process by the test below: opens the store in the
/// directory given by [`HOLD_ENV`], says so, and holds it until stdin closes.
#[test]
fn hold_a_store_open_for_another_process() {
    let Some(dir) = std::env::var_os(HOLD_ENV) else {
        return; // only meaningful as the child of the test below
    };
    let _store =
        RocksDbBytesStore::open("test-store", std::path::PathBuf::from(dir), budget()).unwrap();
    println!("HOLDING");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

#[test]
fn a_store_held_by_another_process_is_an_error_naming_the_directory() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tests::basic::hold_a_store_open_for_another_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLD_ENV, &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let held = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("HOLDING"));
    assert!(held, "the child process did not open the store");

    let err = RocksDbBytesStore::open("test-store", &path, budget()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&format!("{} is locked by another process", path.display())),
        "{message}"
    );
    drop(child.stdin.take());
    lines.for_each(drop); // read the child's output to its end
    child.wait().unwrap();
    // Once the other process is gone, the store opens.
    RocksDbBytesStore::open("test-store", &path, budget()).unwrap();
}

#[test]
fn calls_after_close_fail() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    put_all(&mut store, &[(b"a", b"1")]);
    store.close().unwrap();
    let closed = |r: weir_core::Result<()>| match r {
        Err(weir_core::Error::Store { store, message }) => {
            assert_eq!(store, "test-store");
            assert!(message.contains("closed"), "{message}");
        }
        other => panic!("expected a store error, got {other:?}"),
    };
    closed(store.get(b"a").map(drop));
    closed(store.write(WriteBatch::new()).map(drop));
    closed(store.committed_offset().map(drop));
    closed(store.range(None, None, false).map(drop));
    closed(store.range(Some(b"b"), Some(b"a"), false).map(drop));
    closed(store.prefix_scan(b"a").map(drop));
    closed(store.all().map(drop));
    closed(store.approximate_count().map(drop));
    closed(store.flush());
    store.close().unwrap();
}

#[test]
fn supplier_opens_one_store_per_task_in_the_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let supplier =
        rocksdb_bytes_supplier(dir.path().into(), "app".into(), "counts".into(), budget());
    let task = TaskId::new(1, 2);
    let mut store = supplier(task).unwrap();
    put_all(store.as_mut(), &[(b"k", b"v")]);
    store.close().unwrap();
    let expected = dir
        .path()
        .join("app")
        .join("1_2")
        .join("rocksdb")
        .join("counts");
    assert_eq!(store_path(dir.path(), "app", task, "counts"), expected);
    assert!(expected.join("CURRENT").exists());
    let other = supplier(TaskId::new(1, 3)).unwrap();
    assert_eq!(other.get(b"k").unwrap(), None);
    // Through the typed builder.
    let builder = KeyValueStoreBuilder::new(
        "counts",
        weir_core::serde::Serdes::string(),
        weir_core::serde::Serdes::i64(),
    )
    .with_bytes_supplier(supplier);
    let mut typed = builder.build(task).unwrap();
    use weir_core::store::{KeyValueStore, ReadOnlyKeyValueStore};
    typed.put(&"x".to_string(), &3).unwrap();
    assert_eq!(typed.get(&"x".to_string()).unwrap(), Some(3));
}
