//! Building key-value stores: name, serdes, backend, logging, caching.

use std::fmt;
use std::sync::Arc;

use super::bytes::KeyValueBytesStore;
use super::caching::CachingLayer;
use super::logging::ChangeLoggingLayer;
use super::memory::InMemoryBytesStore;
use super::metered::MeteredKeyValueStore;
use super::timestamped::TimestampedSerde;
use super::timestamped_kv::TimestampedKeyValueStore;
use super::uncommitted::UncommittedWritesLayer;
use super::{StateStore, StoreContext, StoreSupplier};
use crate::error::Result;
use crate::serde::SharedSerde;
use crate::task_id::TaskId;

/// Creates a task's instance of a bytes store: how a backend (in-memory,
/// RocksDB in weir-rocksdb) plugs into [`KeyValueStoreBuilder`]. It receives
/// the task id, so a persistent backend can keep one directory per task.
pub type BytesStoreSupplier =
    Arc<dyn Fn(TaskId) -> Result<Box<dyn KeyValueBytesStore>> + Send + Sync>;

/// The backend a runtime gives stores that did not choose one: creates the
/// bytes store of store `name` (the second argument) for a task. The Kafka
/// runtime's opens RocksDB under `state.dir`; see
/// [`TaskConfig::default_bytes_store`](crate::task::TaskConfig::default_bytes_store).
pub type DefaultBytesStoreSupplier =
    Arc<dyn Fn(TaskId, &str) -> Result<Box<dyn KeyValueBytesStore>> + Send + Sync>;

/// Where a store keeps its data.
#[derive(Clone)]
enum Backend {
    /// What the runtime provides ([`StoreContext::default_bytes_store`]),
    /// else in memory.
    Default,
    /// In memory, whatever the runtime's default.
    InMemory,
    /// The bytes stores this supplier creates.
    Supplier(BytesStoreSupplier),
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Default => "default",
            Backend::InMemory => "in memory",
            Backend::Supplier(_) => "supplier",
        })
    }
}

/// Describes a key-value store and builds one instance per task.
///
/// Defaults: the runtime's default backend (RocksDB under `state.dir` in the
/// Kafka runtime; in memory when the runtime has none, as in weir-core alone
/// and the test driver unless given a state directory), not change-logged,
/// no cache (as Kafka Streams' store builders; a store `with_caching(true)`
/// shares the stream thread's cache budget, `statestore.cache.max.bytes`).
/// The built stack is metered -> caching (if enabled) -> change-logging (if
/// enabled) -> uncommitted writes (under exactly-once) -> bytes.
///
/// ```
/// use weir_core::dsl::StreamsBuilder;
/// use weir_core::serde::Serdes;
/// use weir_core::store::KeyValueStoreBuilder;
///
/// let counts = KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64())
///     .with_caching(true)
///     .with_logging(true);
/// let builder = StreamsBuilder::new();
/// builder.add_state_store(counts.name(), counts.build_supplier());
/// ```
pub struct KeyValueStoreBuilder<K, V> {
    name: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    backend: Backend,
    logging: bool,
    caching: bool,
    timestamps: bool,
}

impl<K, V> Clone for KeyValueStoreBuilder<K, V> {
    fn clone(&self) -> Self {
        KeyValueStoreBuilder {
            name: self.name.clone(),
            key_serde: Arc::clone(&self.key_serde),
            value_serde: Arc::clone(&self.value_serde),
            backend: self.backend.clone(),
            logging: self.logging,
            caching: self.caching,
            timestamps: self.timestamps,
        }
    }
}

impl<K, V> fmt::Debug for KeyValueStoreBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValueStoreBuilder")
            .field("name", &self.name)
            .field("backend", &self.backend)
            .field("logging", &self.logging)
            .field("caching", &self.caching)
            .field("timestamps", &self.timestamps)
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
            backend: Backend::Default,
            logging: false,
            caching: false,
            timestamps: false,
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

    /// Whether the store caches its writes (when the thread has a cache budget).
    pub fn caching_enabled(&self) -> bool {
        self.caching
    }

    /// Keeps the data in an [`InMemoryBytesStore`], whatever the runtime's
    /// default (a logged store is then rebuilt from its changelog on every start).
    pub fn in_memory(mut self) -> Self {
        self.backend = Backend::InMemory;
        self
    }

    /// Keeps the data in the bytes stores `supplier` creates, one per task
    /// (the way RocksDB plugs in), whatever the runtime's default.
    pub fn with_bytes_supplier(mut self, supplier: BytesStoreSupplier) -> Self {
        self.backend = Backend::Supplier(supplier);
        self
    }

    /// Keeps the data where the runtime puts stores by default (the default):
    /// undoes [`in_memory`](Self::in_memory) and
    /// [`with_bytes_supplier`](Self::with_bytes_supplier).
    pub fn with_default_backend(mut self) -> Self {
        self.backend = Backend::Default;
        self
    }

    /// Whether the store uses the runtime's default backend (neither
    /// [`in_memory`](Self::in_memory) nor a supplier was given).
    pub fn uses_default_backend(&self) -> bool {
        matches!(self.backend, Backend::Default)
    }

    /// Turns change-logging on or off (off by default for now: the runtime does
    /// not yet send the logged writes to `<application.id>-<store>-changelog`,
    /// so a logged store would only buffer them until a task drains
    /// [`StateStore::take_changelog`]).
    pub fn with_logging(mut self, enabled: bool) -> Self {
        self.logging = enabled;
        self
    }

    /// Turns caching on or off (off by default). A caching store folds
    /// repeated updates of a key until the next commit (see [`CachingLayer`])
    /// within the budget its stream thread shares among all its caching
    /// stores ([`ThreadCache`](super::ThreadCache), sized by
    /// `statestore.cache.max.bytes`); with a budget of 0 there is no cache.
    pub fn with_caching(mut self, enabled: bool) -> Self {
        self.caching = enabled;
        self
    }

    /// Keeps each value with a timestamp (off by default): the store is then
    /// a [`TimestampedKeyValueStore`] (Kafka Streams'
    /// `Stores.timestampedKeyValueStoreBuilder`), as the DSL's aggregations
    /// keep their results, and [`build_supplier`](Self::build_supplier)
    /// builds one. It still reads and writes plain values as a
    /// [`KeyValueStore<K, V>`](super::KeyValueStore); the stored bytes (and
    /// the changelog's) are the timestamp, 8 bytes big-endian, then the
    /// value serde's bytes.
    pub fn with_timestamps(mut self, enabled: bool) -> Self {
        self.timestamps = enabled;
        self
    }

    /// Whether the store keeps each value with a timestamp.
    pub fn timestamps_enabled(&self) -> bool {
        self.timestamps
    }

    /// Builds task `task`'s instance as a [`TimestampedKeyValueStore`],
    /// without runtime defaults (see [`build`](Self::build)), whether or not
    /// [`with_timestamps`](Self::with_timestamps) was set.
    pub fn build_timestamped(&self, task: TaskId) -> Result<TimestampedKeyValueStore<K, V>> {
        self.build_timestamped_in(&StoreContext::new(task))
    }

    /// Builds the instance of the task `ctx` describes as a
    /// [`TimestampedKeyValueStore`] (see [`build_in`](Self::build_in)).
    pub fn build_timestamped_in(
        &self,
        ctx: &StoreContext,
    ) -> Result<TimestampedKeyValueStore<K, V>> {
        let inner = MeteredKeyValueStore::new(
            self.name.clone(),
            self.build_stack(ctx)?,
            Arc::clone(&self.key_serde),
            Arc::new(TimestampedSerde::new(Arc::clone(&self.value_serde))) as _,
        );
        Ok(TimestampedKeyValueStore::new(
            inner,
            Arc::clone(&self.key_serde),
            Arc::clone(&self.value_serde),
        ))
    }

    /// Builds task `task`'s instance without runtime defaults: a store using
    /// the default backend is in memory, and there is no cache. Tasks use
    /// [`build_in`](Self::build_in). It is the plain store whatever
    /// [`with_timestamps`](Self::with_timestamps) says (see
    /// [`build_timestamped`](Self::build_timestamped)).
    pub fn build(&self, task: TaskId) -> Result<MeteredKeyValueStore<K, V>> {
        self.build_in(&StoreContext::new(task))
    }

    /// Builds the instance of the task `ctx` describes, resolving the default
    /// backend with [`StoreContext::default_bytes_store`] (in memory when it
    /// has none) and caching in [`StoreContext::thread_cache`].
    pub fn build_in(&self, ctx: &StoreContext) -> Result<MeteredKeyValueStore<K, V>> {
        Ok(MeteredKeyValueStore::new(
            self.name.clone(),
            self.build_stack(ctx)?,
            Arc::clone(&self.key_serde),
            Arc::clone(&self.value_serde),
        ))
    }

    /// The bytes stack below the typed layer, for the task `ctx` describes:
    /// caching (if enabled) -> change-logging (if enabled) -> uncommitted
    /// writes (under exactly-once) -> the backend. Window and session
    /// stores build theirs here too.
    pub(crate) fn build_stack(&self, ctx: &StoreContext) -> Result<Box<dyn KeyValueBytesStore>> {
        let task = ctx.task();
        let mut stack: Box<dyn KeyValueBytesStore> = match &self.backend {
            Backend::Supplier(supplier) => supplier(task)?,
            Backend::Default => match ctx.default_bytes_store() {
                Some(default) => default(task, &self.name)?,
                None => Box::new(InMemoryBytesStore::new(self.name.clone())),
            },
            Backend::InMemory => Box::new(InMemoryBytesStore::new(self.name.clone())),
        };
        if ctx.exactly_once() {
            // Below the change-logging layer: the data waits for the commit,
            // the changelog records go into the transaction.
            stack = Box::new(UncommittedWritesLayer::new(stack));
        }
        if self.logging {
            stack = Box::new(ChangeLoggingLayer::new(stack));
        }
        if self.caching {
            if let Some(cache) = ctx.thread_cache().filter(|c| c.max_bytes() > 0) {
                stack = Box::new(CachingLayer::with_thread_cache(stack, Arc::clone(cache)));
            }
        }
        Ok(stack)
    }

    /// A [`StoreSupplier`] for
    /// [`StreamsBuilder::add_state_store`](crate::dsl::StreamsBuilder::add_state_store)
    /// or [`TopologyBuilder::add_state_store`](crate::topology::TopologyBuilder::add_state_store):
    /// it builds [`MeteredKeyValueStore`]s, or [`TimestampedKeyValueStore`]s
    /// [`with_timestamps`](Self::with_timestamps).
    pub fn build_supplier(&self) -> StoreSupplier {
        let this = self.clone();
        if self.timestamps {
            return Arc::new(move |ctx| {
                Ok(Box::new(this.build_timestamped_in(&ctx)?) as Box<dyn StateStore>)
            });
        }
        Arc::new(move |ctx| Ok(Box::new(this.build_in(&ctx)?) as Box<dyn StateStore>))
    }
}

impl<K, V> KeyValueStoreBuilder<K, V> {
    /// The same store with values of another type, through `value_serde`
    /// (the DSL's aggregations keep `ValueAndTimestamp`s of the value type
    /// their `Materialized` names).
    pub(crate) fn with_value_serde<V2>(
        self,
        value_serde: SharedSerde<V2>,
    ) -> KeyValueStoreBuilder<K, V2> {
        KeyValueStoreBuilder {
            name: self.name,
            key_serde: self.key_serde,
            value_serde,
            backend: self.backend,
            logging: self.logging,
            caching: self.caching,
            timestamps: self.timestamps,
        }
    }
}
