//! Building key-value stores: name, serdes, backend, logging, caching.

use std::fmt;
use std::sync::Arc;

use super::bytes::KeyValueBytesStore;
use super::caching::CachingLayer;
use super::logging::ChangeLoggingLayer;
use super::memory::InMemoryBytesStore;
use super::metered::MeteredKeyValueStore;
use super::{StateStore, StoreSupplier};
use crate::error::Result;
use crate::serde::SharedSerde;
use crate::task::TaskId;

/// Creates a task's instance of a bytes store: how a backend (in-memory,
/// RocksDB in weir-rocksdb) plugs into [`KeyValueStoreBuilder`]. It receives
/// the task id, so a persistent backend can keep one directory per task.
pub type BytesStoreSupplier =
    Arc<dyn Fn(TaskId) -> Result<Box<dyn KeyValueBytesStore>> + Send + Sync>;

/// Describes a key-value store and builds one instance per task.
///
/// Defaults: in memory, change-logged (as in Kafka Streams: the runtime
/// sends the logged updates to `<application.id>-<name>-changelog`), no cache.
/// The built stack is metered -> caching (if enabled) -> change-logging (if
/// enabled) -> bytes.
///
/// ```
/// use weir_core::dsl::StreamsBuilder;
/// use weir_core::serde::Serdes;
/// use weir_core::store::KeyValueStoreBuilder;
///
/// let counts = KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64())
///     .with_caching(1 << 20)
///     .with_logging(true);
/// let builder = StreamsBuilder::new();
/// builder.add_state_store(counts.name(), counts.build_supplier());
/// ```
pub struct KeyValueStoreBuilder<K, V> {
    name: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    bytes: Option<BytesStoreSupplier>,
    logging: bool,
    cache_bytes: usize,
}

impl<K, V> Clone for KeyValueStoreBuilder<K, V> {
    fn clone(&self) -> Self {
        KeyValueStoreBuilder {
            name: self.name.clone(),
            key_serde: Arc::clone(&self.key_serde),
            value_serde: Arc::clone(&self.value_serde),
            bytes: self.bytes.clone(),
            logging: self.logging,
            cache_bytes: self.cache_bytes,
        }
    }
}

impl<K, V> fmt::Debug for KeyValueStoreBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValueStoreBuilder")
            .field("name", &self.name)
            .field("in_memory", &self.bytes.is_none())
            .field("logging", &self.logging)
            .field("cache_bytes", &self.cache_bytes)
            .finish()
    }
}

impl<K: 'static, V: 'static> KeyValueStoreBuilder<K, V> {
    /// A store called `name` (unique in the topology) with these serdes.
    pub fn new(
        name: impl Into<String>,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> Self {
        KeyValueStoreBuilder {
            name: name.into(),
            key_serde,
            value_serde,
            bytes: None,
            logging: false,
            cache_bytes: 0,
        }
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key and value serdes.
    pub(crate) fn serdes(&self) -> (SharedSerde<K>, SharedSerde<V>) {
        (Arc::clone(&self.key_serde), Arc::clone(&self.value_serde))
    }

    /// Whether updates are change-logged.
    pub fn logging_enabled(&self) -> bool {
        self.logging
    }

    /// The cache budget in bytes; 0 when caching is off.
    pub fn cache_max_bytes(&self) -> usize {
        self.cache_bytes
    }

    /// Keeps the data in an [`InMemoryBytesStore`] (the default).
    pub fn in_memory(mut self) -> Self {
        self.bytes = None;
        self
    }

    /// Keeps the data in the bytes stores `supplier` creates, one per task
    /// (the way RocksDB plugs in).
    pub fn with_bytes_supplier(mut self, supplier: BytesStoreSupplier) -> Self {
        self.bytes = Some(supplier);
        self
    }

    /// Turns change-logging on or off (off by default for now: the runtime does
    /// not yet send the logged writes to `<application.id>-<store>-changelog`,
    /// so a logged store would only buffer them until a task drains
    /// [`StateStore::take_changelog`]).
    pub fn with_logging(mut self, enabled: bool) -> Self {
        self.logging = enabled;
        self
    }

    /// Caches writes within `max_bytes` per task instance, folding repeated
    /// updates of a key until the next commit (see [`CachingLayer`]); 0 turns
    /// the cache off (the default).
    pub fn with_caching(mut self, max_bytes: usize) -> Self {
        self.cache_bytes = max_bytes;
        self
    }

    /// Builds task `task`'s instance.
    pub fn build(&self, task: TaskId) -> Result<MeteredKeyValueStore<K, V>> {
        let mut stack: Box<dyn KeyValueBytesStore> = match &self.bytes {
            Some(supplier) => supplier(task)?,
            None => Box::new(InMemoryBytesStore::new(self.name.clone())),
        };
        if self.logging {
            stack = Box::new(ChangeLoggingLayer::new(stack));
        }
        if self.cache_bytes > 0 {
            stack = Box::new(CachingLayer::new(stack, self.cache_bytes));
        }
        Ok(MeteredKeyValueStore::new(
            self.name.clone(),
            stack,
            Arc::clone(&self.key_serde),
            Arc::clone(&self.value_serde),
        ))
    }

    /// A [`StoreSupplier`] for
    /// [`StreamsBuilder::add_state_store`](crate::dsl::StreamsBuilder::add_state_store)
    /// or [`TopologyBuilder::add_state_store`](crate::topology::TopologyBuilder::add_state_store).
    pub fn build_supplier(&self) -> StoreSupplier {
        let this = self.clone();
        Arc::new(move |task| Ok(Box::new(this.build(task)?) as Box<dyn StateStore>))
    }
}
