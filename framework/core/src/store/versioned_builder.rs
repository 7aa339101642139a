//! Building versioned key-value stores: a key-value store's options (name,
//! serdes, backend, logging) plus the history retention.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::builder::{BytesStoreSupplier, KeyValueStoreBuilder};
use super::kind::StoreKind;
use super::versioned_store::MeteredVersionedKeyValueStore;
use super::{StateStore, StoreContext, StoreSupplier};
use crate::error::{Error, Result};
use crate::serde::SharedSerde;
use crate::task_id::TaskId;
use crate::topology::TopologyBuilder;

/// Describes a versioned key-value store and builds one instance per task
/// (Kafka Streams' `Stores.versionedKeyValueStoreBuilder` over
/// `Stores.persistentVersionedKeyValueStore(name, historyRetention)`): the
/// options of a [`KeyValueStoreBuilder`] (name, serdes, backend, logging;
/// never a cache) plus the history retention, which is also the store's
/// grace period. Built stores are [`MeteredVersionedKeyValueStore`]s; add
/// one to a topology with
/// [`TopologyBuilder::add_versioned_key_value_store`], which plans its
/// changelog (compacted, `min.compaction.lag.ms` = history retention + 24 h).
///
/// ```
/// use std::time::Duration;
/// use weir_core::serde::Serdes;
/// use weir_core::store::{StoreKind, VersionedKeyValueStoreBuilder};
///
/// let builder = VersionedKeyValueStoreBuilder::new(
///     "rates", Serdes::string(), Serdes::f64(), Duration::from_secs(3600),
/// )
/// .with_logging(true);
/// assert_eq!(builder.history_retention_ms(), 3_600_000);
/// assert_eq!(builder.store_kind(), StoreKind::Versioned { history_retention_ms: 3_600_000 });
/// ```
pub struct VersionedKeyValueStoreBuilder<K, V> {
    kv: KeyValueStoreBuilder<K, V>,
    history_retention_ms: i64,
}

impl<K, V> Clone for VersionedKeyValueStoreBuilder<K, V> {
    fn clone(&self) -> Self {
        VersionedKeyValueStoreBuilder {
            kv: self.kv.clone(),
            history_retention_ms: self.history_retention_ms,
        }
    }
}

impl<K, V> fmt::Debug for VersionedKeyValueStoreBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VersionedKeyValueStoreBuilder")
            .field("kv", &self.kv)
            .field("history_retention_ms", &self.history_retention_ms)
            .finish()
    }
}

impl<K: 'static, V: 'static> VersionedKeyValueStoreBuilder<K, V> {
    /// A versioned store called `name` with these serdes, keeping
    /// `history_retention` of older versions. Not logged, default backend.
    pub fn new(
        name: impl Into<String>,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
        history_retention: Duration,
    ) -> Self {
        Self::from_key_value(
            KeyValueStoreBuilder::new(name, key_serde, value_serde),
            i64::try_from(history_retention.as_millis()).unwrap_or(i64::MAX),
        )
    }

    /// A versioned store with the name, serdes, backend and logging of `kv`
    /// (its caching is ignored: versioned stores have no cache).
    pub fn from_key_value(kv: KeyValueStoreBuilder<K, V>, history_retention_ms: i64) -> Self {
        VersionedKeyValueStoreBuilder {
            kv,
            history_retention_ms,
        }
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        self.kv.name()
    }

    /// The history retention (and grace period), in milliseconds.
    pub fn history_retention_ms(&self) -> i64 {
        self.history_retention_ms
    }

    /// Whether updates are change-logged.
    pub fn logging_enabled(&self) -> bool {
        self.kv.logging_enabled()
    }

    /// Turns change-logging on or off (off by default).
    pub fn with_logging(mut self, enabled: bool) -> Self {
        self.kv = self.kv.with_logging(enabled);
        self
    }

    /// Keeps the data in memory, whatever the runtime's default.
    pub fn in_memory(mut self) -> Self {
        self.kv = self.kv.in_memory();
        self
    }

    /// Keeps the data in the bytes stores `supplier` creates, one per task.
    pub fn with_bytes_supplier(mut self, supplier: BytesStoreSupplier) -> Self {
        self.kv = self.kv.with_bytes_supplier(supplier);
        self
    }

    /// The store's kind, which plans its changelog topic.
    pub fn store_kind(&self) -> StoreKind {
        StoreKind::Versioned {
            history_retention_ms: self.history_retention_ms,
        }
    }

    /// Checks the options: a history retention >= 0; an [`Error::Config`]
    /// otherwise.
    pub fn validate(&self) -> Result<()> {
        if self.history_retention_ms < 0 {
            return Err(Error::Config {
                key: format!("versioned store '{}'", self.name()),
                message: format!(
                    "the history retention must be >= 0, got {} ms",
                    self.history_retention_ms
                ),
            });
        }
        Ok(())
    }

    /// Builds task `task`'s instance without runtime defaults (in memory).
    pub fn build(&self, task: TaskId) -> Result<MeteredVersionedKeyValueStore<K, V>> {
        self.build_in(&StoreContext::new(task))
    }

    /// Builds the instance of the task `ctx` describes: the backend (the
    /// runtime's default unless chosen), under exactly-once the uncommitted
    /// writes layer, and the typed layer, which logs.
    pub fn build_in(&self, ctx: &StoreContext) -> Result<MeteredVersionedKeyValueStore<K, V>> {
        self.validate()?;
        let (key_serde, value_serde) = self.kv.serdes();
        let stack = self
            .kv
            .clone()
            .with_logging(false)
            .with_caching(false)
            .build_stack(ctx)?;
        MeteredVersionedKeyValueStore::new(
            self.name().to_string(),
            stack,
            key_serde,
            value_serde,
            self.history_retention_ms,
            self.kv.logging_enabled(),
        )
    }

    /// A [`StoreSupplier`] building this store; prefer
    /// [`TopologyBuilder::add_versioned_key_value_store`], which also plans
    /// the changelog topic.
    pub fn build_supplier(&self) -> StoreSupplier {
        let this = self.clone();
        Arc::new(move |ctx| Ok(Box::new(this.build_in(&ctx)?) as Box<dyn StateStore>))
    }
}

impl TopologyBuilder {
    /// Adds the versioned store `builder` describes, connected to
    /// `processors`. With logging on, its changelog topic
    /// `<application.id>-<store>-changelog` is compacted with
    /// `min.compaction.lag.ms` = the history retention + 24 hours.
    pub fn add_versioned_key_value_store<K: 'static, V: 'static>(
        &mut self,
        builder: &VersionedKeyValueStoreBuilder<K, V>,
        processors: &[&str],
    ) -> &mut Self {
        if let Err(e) = builder.validate() {
            self.problems.push(e.to_string());
        }
        self.add_store_of_kind(
            builder.name(),
            builder.build_supplier(),
            builder.store_kind(),
            builder.logging_enabled(),
            processors,
        )
    }
}
