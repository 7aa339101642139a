//! weir-rocksdb: RocksDB-backed state stores for Weir. The only crate that
//! links RocksDB; the stores themselves arrive with the state work (key-value
//! stores over one shared block cache and write-buffer budget).
