//! Unit tests of the RocksDB store, each in its own temporary directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod basic;
mod budget;
mod compare;
mod corrupt;
mod durability;
mod windows;

use std::path::Path;
use std::sync::Arc;

use weir_core::store::{BytesIter, KeyValueBytesStore, WriteBatch};

use crate::{RocksDbBudget, RocksDbBytesStore};

/// A small budget for tests that do not measure memory.
fn budget() -> Arc<RocksDbBudget> {
    RocksDbBudget::new(8 << 20).unwrap()
}

fn open(dir: &Path) -> RocksDbBytesStore {
    RocksDbBytesStore::open("test-store", dir.join("store"), budget()).unwrap()
}

fn put_all(store: &mut dyn KeyValueBytesStore, kvs: &[(&[u8], &[u8])]) {
    let mut batch = WriteBatch::new();
    for (k, v) in kvs {
        batch.put(k.to_vec(), v.to_vec());
    }
    store.write(batch).unwrap();
}

fn collect(iter: BytesIter<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
    iter.collect::<Result<_, _>>().unwrap()
}

fn keys(iter: BytesIter<'_>) -> Vec<Vec<u8>> {
    collect(iter).into_iter().map(|(k, _)| k).collect()
}
