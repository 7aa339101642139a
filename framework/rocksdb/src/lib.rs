//! weir-rocksdb: RocksDB-backed state stores for Weir, the only crate that
//! links RocksDB.
//!
//! - [`RocksDbBytesStore`]: a [`KeyValueBytesStore`](weir_core::store::KeyValueBytesStore)
//!   in one RocksDB database per (store, task), at
//!   `<state.dir>/<application.id>/<task>/rocksdb/<store>` ([`store_path`]),
//!   writing each batch and its changelog offset in one RocksDB write batch.
//! - [`RocksDbBudget`]: bounded memory by default. Every store of the process
//!   shares one block cache and one write-buffer manager within
//!   `rocksdb.memory.budget.bytes` (default 256 MiB), so memory does not grow
//!   with stores x partitions.
//! - [`rocksdb_bytes_supplier`]: plugs the store into
//!   [`KeyValueStoreBuilder`](weir_core::store::KeyValueStoreBuilder).
//! - [`rocksdb_default_bytes_store`]: makes RocksDB the default backend of
//!   every store that did not choose one (what `weir` sets from `state.dir`).
//!
//! ```
//! use weir_core::store::{KeyValueBytesStore, WriteBatch};
//! use weir_rocksdb::{RocksDbBudget, RocksDbBytesStore};
//!
//! let budget = RocksDbBudget::new(16 << 20)?;
//! let dir = std::env::temp_dir().join(format!("weir-doc-{}", std::process::id()));
//! let mut store = RocksDbBytesStore::open("counts", &dir, budget)?;
//! let mut batch = WriteBatch::new();
//! batch.put(b"apple".to_vec(), b"1".to_vec()).set_offset(41);
//! store.write(batch)?;
//! assert_eq!(store.get(b"apple")?, Some(b"1".to_vec()));
//! assert_eq!(store.committed_offset()?, Some(41));
//! store.close()?;
//! # let _ = std::fs::remove_dir_all(&dir);
//! # Ok::<(), weir_core::Error>(())
//! ```

mod budget;
mod error;
mod store;

#[cfg(test)]
mod tests;

pub use budget::{RocksDbBudget, BUDGET_CONFIG, DEFAULT_BUDGET_BYTES, MIN_BUDGET_BYTES};
pub use store::{
    rocksdb_bytes_supplier, rocksdb_default_bytes_store, store_path, RocksDbBytesStore,
    META_COLUMN_FAMILY,
};
