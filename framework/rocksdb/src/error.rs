//! What can go wrong in a RocksDB store, and how it reaches the caller:
//! every failure becomes a [`weir_core::Error`] so it travels through the
//! store stack like any other store error.

use std::path::PathBuf;

/// The failures of this crate. Internal: callers see them as
/// [`weir_core::Error::Store`] (or [`weir_core::Error::Config`] for a bad
/// budget) through the `From` conversion below.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum Error {
    /// The store was closed; it cannot be used any more.
    #[error("the store is closed")]
    Closed {
        /// The store.
        store: String,
    },
    /// RocksDB refused an operation.
    #[error("rocksdb {op} failed: {message}")]
    RocksDb {
        /// The store.
        store: String,
        /// The operation (open, write, get, ...).
        op: &'static str,
        /// RocksDB's message.
        message: String,
    },
    /// Another process (or another open store in this one) holds the
    /// store's directory.
    #[error(
        "the store directory {} is locked by another process or another open instance \
         of the store (is another instance of the application running with the same \
         state.dir and application.id?): {message}",
        path.display()
    )]
    Locked {
        /// The store.
        store: String,
        /// The directory.
        path: PathBuf,
        /// RocksDB's message.
        message: String,
    },
    /// The store's directory could not be created.
    #[error("cannot create directory {}: {source}", path.display())]
    Io {
        /// The store.
        store: String,
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Data in the store is not what this crate wrote (for example a
    /// damaged changelog offset).
    #[error("corrupt store data: {message}")]
    Corrupt {
        /// The store.
        store: String,
        /// What is wrong.
        message: String,
    },
    /// The memory budget is unusable (zero bytes).
    #[error("the memory budget must be at least {min} bytes, got {bytes}")]
    Budget {
        /// Bytes asked for.
        bytes: usize,
        /// The smallest accepted budget.
        min: usize,
    },
}

impl Error {
    /// A RocksDB failure of `op` in `store`.
    pub(crate) fn rocksdb(store: &str, op: &'static str, err: &rocksdb::Error) -> Self {
        Error::RocksDb {
            store: store.to_string(),
            op,
            message: err.to_string(),
        }
    }
}

impl From<Error> for weir_core::Error {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::Closed { store }
            | Error::RocksDb { store, .. }
            | Error::Io { store, .. }
            | Error::Locked { store, .. }
            | Error::Corrupt { store, .. } => weir_core::Error::Store { store, message },
            Error::Budget { .. } => weir_core::Error::Config {
                key: crate::BUDGET_CONFIG.to_string(),
                message,
            },
        }
    }
}
