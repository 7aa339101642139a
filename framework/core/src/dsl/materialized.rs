//! [`Materialized`] (how a KTable or aggregation keeps its state) and
//! [`Grouped`] (how a grouping repartitions).

use crate::serde::SharedSerde;
use crate::store::{BytesStoreSupplier, KeyValueStoreBuilder};

/// How a KTable or an aggregation keeps its state (Kafka Streams'
/// `Materialized`): the store's name (required, so the state keeps its name
/// as the topology changes), its serdes, and the options of
/// [`KeyValueStoreBuilder`]: backend, change-logging, caching.
///
/// ```
/// use weir_core::dsl::Materialized;
/// use weir_core::Serdes;
///
/// let counts = Materialized::as_("counts", Serdes::string(), Serdes::i64())
///     .with_logging(true)
///     .with_caching(false);
/// assert_eq!(counts.name(), "counts");
/// let store = counts.into_store_builder();
/// assert!(store.logging_enabled());
/// assert!(!store.caching_enabled());
/// ```
pub struct Materialized<K, V> {
    builder: KeyValueStoreBuilder<K, V>,
    retention: Option<i64>,
    /// The history retention of a versioned store (see `as_versioned`).
    pub(crate) history_retention: Option<i64>,
}

impl<K, V> Clone for Materialized<K, V> {
    fn clone(&self) -> Self {
        Materialized {
            builder: self.builder.clone(),
            retention: self.retention,
            history_retention: self.history_retention,
        }
    }
}

impl<K: 'static, V: 'static> Materialized<K, V> {
    /// A store called `name` (unique in the topology) with these serdes, as
    /// in Kafka Streams: persistent (the runtime's default backend: RocksDB
    /// under `<state.dir>/<application.id>/<task>/rocksdb/<name>`; in memory
    /// where the runtime has no default, as in the test driver without a
    /// state directory), cached in the stream thread's record cache
    /// (`statestore.cache.max.bytes`), and logged to
    /// `<application.id>-<name>-changelog`, from which the runtime restores it.
    pub fn as_(name: &str, key_serde: SharedSerde<K>, value_serde: SharedSerde<V>) -> Self {
        Materialized {
            builder: KeyValueStoreBuilder::new(name, key_serde, value_serde)
                .with_logging(true)
                .with_caching(true),
            retention: None,
            history_retention: None,
        }
    }

    /// For a windowed aggregation: how long its store keeps windows, behind
    /// the newest (Kafka Streams' `withRetention`). The default and the
    /// minimum are the window's size plus its grace (sliding windows: twice
    /// the time difference plus the grace; sessions: the gap plus the
    /// grace); a shorter retention is an error when the topology is built.
    /// Key-value stores keep everything and ignore it.
    pub fn with_retention(mut self, retention: std::time::Duration) -> Self {
        self.retention = Some(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
        self
    }

    /// The retention given with [`with_retention`](Self::with_retention).
    pub fn retention_ms(&self) -> Option<i64> {
        self.retention
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        self.builder.name()
    }

    /// The store's key and value serdes.
    pub(crate) fn serdes(&self) -> (SharedSerde<K>, SharedSerde<V>) {
        self.builder.serdes()
    }

    /// Turns change-logging of the store on or off.
    pub fn with_logging(mut self, enabled: bool) -> Self {
        self.builder = self.builder.with_logging(enabled);
        self
    }

    /// Turns the store's cache on (the default) or off (Kafka Streams'
    /// `withCachingEnabled` / `withCachingDisabled`). With a cache, the table
    /// or aggregation forwards only the latest update of each key when the
    /// task commits (or when the thread's cache budget,
    /// `statestore.cache.max.bytes` divided over the stream threads, evicts
    /// the key), as Kafka Streams does; without one, or with a budget of 0,
    /// it forwards every update.
    pub fn with_caching(mut self, enabled: bool) -> Self {
        self.builder = self.builder.with_caching(enabled);
        self
    }

    /// Keeps the data in the bytes stores `supplier` creates, instead of the
    /// runtime's default backend (RocksDB under `state.dir`).
    pub fn with_bytes_supplier(mut self, supplier: BytesStoreSupplier) -> Self {
        self.builder = self.builder.with_bytes_supplier(supplier);
        self
    }

    /// Keeps the data in memory instead of the runtime's default backend
    /// (Kafka Streams' `Materialized.as(Stores.inMemoryKeyValueStore(..))`):
    /// nothing on disk, and the store is restored from its changelog on
    /// every start.
    pub fn in_memory(mut self) -> Self {
        self.builder = self.builder.in_memory();
        self
    }

    /// The store builder this describes.
    pub fn into_store_builder(self) -> KeyValueStoreBuilder<K, V> {
        self.builder
    }
}

/// How a grouping repartitions its records (Kafka Streams' `Grouped`): the
/// name of the internal topic `<application.id>-<name>-repartition` and the
/// serdes it is written with.
///
/// ```
/// use weir_core::dsl::Grouped;
/// use weir_core::Serdes;
///
/// let by_region = Grouped::as_("by-region", Serdes::string(), Serdes::string());
/// assert_eq!(by_region.name(), "by-region");
/// ```
pub struct Grouped<K, V> {
    pub(crate) name: String,
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<V>,
}

impl<K: 'static, V: 'static> Grouped<K, V> {
    /// Groups through `<application.id>-<name>-repartition`, written and read
    /// with these serdes.
    pub fn as_(name: &str, key_serde: SharedSerde<K>, value_serde: SharedSerde<V>) -> Self {
        Grouped {
            name: name.to_string(),
            key_serde,
            value_serde,
        }
    }

    /// The grouping's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}
