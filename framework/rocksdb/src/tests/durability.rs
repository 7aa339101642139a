//! What a store held at its last commit (`flush`) survives the process
//! dying without closing it (no destructor): the write-ahead log is written
//! out at each commit. Writes after it may be lost, but what survives is a
//! prefix of the writes, its changelog offset with it.

use std::path::PathBuf;
use std::process::Command;

use weir_core::store::{KeyValueBytesStore, WriteBatch};

use super::{budget, collect};
use crate::RocksDbBytesStore;

const CHILD_ENV: &str = "WEIR_ROCKSDB_ABORT_DIR";

#[test]
fn writes_survive_an_abort() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        // The child: write, then die like SIGKILL would (no unwinding, no drop).
        let mut store = RocksDbBytesStore::open("s", PathBuf::from(dir), budget()).unwrap();
        let write = |store: &mut RocksDbBytesStore, i: u32| {
            let mut batch = WriteBatch::new();
            batch
                .put(i.to_be_bytes().to_vec(), vec![7; 100])
                .set_offset(i64::from(i));
            store.write(batch).unwrap();
        };
        for i in 0..100u32 {
            write(&mut store, i);
        }
        store.flush().unwrap(); // a commit
        for i in 100..150u32 {
            write(&mut store, i);
        }
        std::process::abort();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tests::durability::writes_survive_an_abort",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .status()
        .unwrap();
    assert!(
        !status.success(),
        "the child must die before closing the store"
    );
    let store = RocksDbBytesStore::open("s", &path, budget()).unwrap();
    let offset = store.committed_offset().unwrap().unwrap();
    assert!(
        (99..150).contains(&offset),
        "everything up to the commit survives: offset {offset}"
    );
    let kept = collect(store.all().unwrap());
    assert_eq!(
        kept.len() as i64,
        offset + 1,
        "the data is the prefix its offset says"
    );
}
