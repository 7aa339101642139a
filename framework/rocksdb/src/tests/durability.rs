//! What a write returned survives the process dying without closing the
//! store (no destructor, no flush): the write-ahead log is on.

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
        for i in 0..100u32 {
            let mut batch = WriteBatch::new();
            batch
                .put(i.to_be_bytes().to_vec(), vec![7; 100])
                .set_offset(i64::from(i));
            store.write(batch).unwrap();
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
    assert_eq!(store.committed_offset().unwrap(), Some(99));
    assert_eq!(collect(store.all().unwrap()).len(), 100);
}
