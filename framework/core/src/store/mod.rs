//! State stores. Processors reach the stores connected to them through
//! [`ProcessorContext::state_store`](crate::processor::ProcessorContext::state_store),
//! typed through `ctx.store::<S>(name)` (any store type `S`) or
//! `ctx.key_value_store::<K, V>(name)` (methods of every
//! `dyn ProcessorContext`).
//!
//! A key-value store is a stack of layers over a bytes store:
//!
//! ```text
//! MeteredKeyValueStore<K, V>   serdes (the only typed layer), operation counts
//!   -> CachingLayer            optional: folds updates of a key until commit,
//!                              within the stream thread's ThreadCache budget
//!   -> ChangeLoggingLayer      optional: records every write for the changelog topic
//!   -> KeyValueBytesStore      InMemoryBytesStore here; RocksDB in weir-rocksdb
//! ```
//!
//! Every layer below the metered one is a [`KeyValueBytesStore`], so layers
//! stack in any combination and a new backend implements one trait. The
//! innermost store applies each [`WriteBatch`] atomically with the changelog
//! offset it carries; restoration and exactly-once recovery start there.
//! At the end of each commit the task calls [`StateStore::commit`] with the
//! changelog offset reached: held-back writes and that offset land in one
//! batch. [`StateStore::restore`] only restores.
//! [`KeyValueStoreBuilder`] assembles the stack and plugs it into a topology.
//!
//! The DSL's aggregations keep [`TimestampedKeyValueStore`]s (the builder's
//! `with_timestamps(true)`): a [`MeteredKeyValueStore`] of
//! [`ValueAndTimestamp`]s (Kafka Streams' bytes: the timestamp, 8 bytes
//! big-endian, then the value; the changelog carries the same bytes, where
//! Kafka Streams' changelog has the plain value and the timestamp in the
//! record) that also reads as a plain `KeyValueStore<K, V>`.
//!
//! # Window and session stores
//!
//! [`WindowStoreBuilder`] and [`SessionStoreBuilder`] build the same stack
//! under a typed [`MeteredWindowStore`] or [`MeteredSessionStore`], so
//! caching, change-logging, restoration, exactly-once and the memory budget
//! work as for key-value stores. Their keys begin with a segment id, so
//! that expired windows go a segment at a time, in one range delete
//! ([`KeyValueBytesStore::delete_range`]), never a scan of keys:
//!
//! ```text
//! window store:  segment(start) : 8 BE | key | start : 8 BE | seq : 4 BE
//! session store: segment(end)   : 8 BE | key | end : 8 BE   | start : 8 BE
//! segment(t) = t / max(retention / 2, 60 000 ms)
//! ```
//!
//! The values are the value serde's bytes. The changelog topics carry the
//! same keys: unlike Kafka Streams' window changelogs (whose keys are
//! `key | start | seq`, and `key | end | start` for sessions), Weir's keys
//! have the segment prefix, so a Kafka Streams application cannot restore
//! from a Weir window changelog (nor the reverse). Restoration files each
//! changelog key under its own time's segment, whatever segment the key
//! names (a changelog written under another retention, or damaged), and
//! refuses negative times and sessions ending before they start.
//! Changelog topics are `cleanup.policy=compact,delete` with
//! `retention.ms` = the store's retention +
//! `windowstore.changelog.additional.retention.ms` (see
//! [`StoreKind::changelog_configs_with`]).
//!
//! # Versioned stores
//!
//! [`VersionedKeyValueStoreBuilder`] builds a [`MeteredVersionedKeyValueStore`]
//! (no cache; change-logging in the typed layer) over the same bytes stack,
//! laid out as:
//!
//! ```text
//! latest row:   0x00 | key                               -> timestamp : 8 BE | value
//! history row:  0x01 | len(key) : 4 BE | key | from : 8  -> valid_to : 8 BE | tag : 1 | value
//! stream time:  0x02                                     -> observed : 8 BE
//! changelog:    key                                      -> timestamp : 8 BE | tag : 1 | value
//! ```
//!
//! `from` is order-preserving (sign bit flipped, big-endian), so one seek
//! finds the version valid at a time; `tag` is 1 for a value, 0 for a
//! delete, and a delete that is a key's latest version is a history row
//! with `valid_to = i64::MAX`. The changelog topic is compacted with
//! `min.compaction.lag.ms` = history retention + 24 hours.
//!
//! # A word count with a store
//!
//! ```
//! use weir_core::dsl::StreamsBuilder;
//! use weir_core::processor::{Processor, ProcessorContext};
//! use weir_core::serde::Serdes;
//! use weir_core::store::KeyValueStoreBuilder;
//! use weir_core::topology::{Consumed, Produced};
//! use weir_core::{Record, Result};
//!
//! struct WordCount;
//!
//! impl Processor<String, String, String, i64> for WordCount {
//!     fn process(
//!         &mut self,
//!         ctx: &mut dyn ProcessorContext<String, i64>,
//!         record: Record<String, String>,
//!     ) -> Result<()> {
//!         let Some(word) = record.value.clone() else { return Ok(()) };
//!         let counts = ctx.key_value_store::<String, i64>("counts")?;
//!         let count = counts.get(&word)?.unwrap_or(0) + 1;
//!         counts.put(&word, &count)?;
//!         ctx.forward(record.with_key(Some(word)).with_value(Some(count)))
//!     }
//! }
//!
//! let builder = StreamsBuilder::new();
//! let counts = KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64());
//! builder.add_state_store("counts", counts.build_supplier());
//! builder
//!     .stream("words", Consumed::with(Serdes::string(), Serdes::string()))
//!     .process(|| WordCount, &["counts"])
//!     .named("count")
//!     .to("word-counts", Produced::with(Serdes::string(), Serdes::i64()));
//! let topology = builder.build()?;
//! # Ok::<(), weir_core::Error>(())
//! ```

mod builder;
mod bytes;
mod caching;
mod codec;
mod delegate;
mod held_windows;
mod kind;
mod kv;
mod logged_offsets;
mod logging;
mod memory;
mod metered;
mod overlay;
mod packed_windows;
mod recent_windows;
mod segmented;
mod segments;
mod session_store;
mod thread_cache;
mod timestamped;
mod timestamped_kv;
mod uncommitted;
mod versioned;
mod versioned_builder;
mod versioned_bytes;
mod versioned_layout;
mod versioned_store;
mod window_builder;
mod window_store;
mod windowed;

#[cfg(test)]
mod tests;

use std::any::Any;

pub use builder::{BytesStoreSupplier, DefaultBytesStoreSupplier, KeyValueStoreBuilder};
pub use bytes::{
    BatchOp, BytesIter, ChangelogEntry, FlushListener, FlushedEntries, FlushedEntry,
    KeyValueBytesStore, WriteBatch,
};
pub use caching::{CachingLayer, CACHE_ENTRY_OVERHEAD};
pub use kind::{StoreKind, DEFAULT_WINDOW_CHANGELOG_ADDITIONAL_RETENTION_MS};
pub use kv::{KeyValueIter, KeyValueStore, ReadOnlyKeyValueStore};
pub use logging::ChangeLoggingLayer;
pub use memory::InMemoryBytesStore;
pub use metered::{MeteredKeyValueStore, StoreMetrics};
pub use session_store::MeteredSessionStore;
pub use thread_cache::ThreadCache;
pub use timestamped::{TimestampedSerde, ValueAndTimestamp};
pub use timestamped_kv::{TimestampedKeyValueStore, NO_TIMESTAMP};
pub use uncommitted::UncommittedWritesLayer;
pub use versioned::{VersionedKeyValueStore, VersionedPut, VersionedRecord};
pub use versioned_builder::VersionedKeyValueStoreBuilder;
pub use versioned_store::MeteredVersionedKeyValueStore;
pub use window_builder::{SessionStoreBuilder, WindowStoreBuilder};
pub use window_store::MeteredWindowStore;
pub use windowed::{
    ReadOnlySessionStore, ReadOnlyWindowStore, SessionStore, WindowStore, WindowStoreIter,
};

use crate::error::{Error, Result};
// The one name the store module shares with tasks: a store instance belongs
// to a task, and persistent backends key their directories by its id.
use crate::task_id::TaskId;

/// A state store owned by one task.
///
/// The methods with defaults are the runtime's seams for change-logged
/// stores; a store without a changelog keeps the defaults.
pub trait StateStore: Send {
    /// The store's name, unique within the topology.
    fn name(&self) -> &str;
    /// Whether the store keeps its data on disk.
    fn persistent(&self) -> bool;
    /// Makes buffered writes durable; called before every commit.
    fn flush(&mut self) -> Result<()>;
    /// Releases the store's resources; called when the task closes.
    fn close(&mut self) -> Result<()>;
    /// For downcasting to the concrete store type.
    fn as_any_mut(&mut self) -> &mut dyn Any;

    /// Drains the updates recorded for the store's changelog topic since
    /// the last call, in write order. The task calls it after
    /// [`flush`](Self::flush), before it commits.
    fn take_changelog(&mut self) -> Vec<ChangelogEntry> {
        Vec::new()
    }

    /// The changelog offset the store's data has reached (see
    /// [`KeyValueBytesStore::committed_offset`]); `None` if unknown.
    fn committed_offset(&self) -> Result<Option<i64>> {
        Ok(None)
    }

    /// Writes a batch read from the changelog while restoring, bypassing the
    /// cache and the change-logging; it only restores (see
    /// [`commit`](Self::commit)). Stores that cannot restore refuse.
    fn restore(&mut self, batch: WriteBatch) -> Result<()> {
        let _ = batch;
        Err(Error::Store {
            store: self.name().to_string(),
            message: "this store cannot be restored from a changelog".to_string(),
        })
    }

    /// Commits the store, once the task's output and offsets are committed:
    /// what the store holds back since the last commit becomes its committed
    /// data, and its changelog is known written up to `changelog_offset`
    /// (inclusive; `None`: no offset to record), written in the same atomic
    /// batch (one RocksDB write batch). See [`KeyValueBytesStore::commit`].
    /// The default, for stores that hold nothing back and keep no offset,
    /// does nothing.
    fn commit(&mut self, changelog_offset: Option<i64>) -> Result<()> {
        let _ = changelog_offset;
        Ok(())
    }
}

/// The error of a typed store lookup that found another kind or types.
fn not_a<K, V>(store: String, kind: &str) -> Error {
    Error::Store {
        store,
        message: format!(
            "not a {kind} of <{}, {}>",
            std::any::type_name::<K>(),
            std::any::type_name::<V>()
        ),
    }
}

/// `store` as its concrete type `T`, or the error `error` makes from the
/// store's name (copied only then: stores are looked up for every record).
fn downcast_store<'s, T: 'static>(
    store: &'s mut (dyn StateStore + '_),
    error: impl Fn(String) -> Error,
) -> Result<&'s mut T> {
    if !store.as_any_mut().is::<T>() {
        return Err(error(store.name().to_string()));
    }
    store
        .as_any_mut()
        .downcast_mut::<T>()
        .ok_or_else(|| error(String::new()))
}

impl<'a> dyn StateStore + 'a {
    /// The store as its concrete type `S`, if it is one.
    pub fn downcast_mut<S: StateStore + 'static>(&mut self) -> Option<&mut S> {
        self.as_any_mut().downcast_mut::<S>()
    }

    /// The store as its concrete type `S` (for a key-value store built by
    /// [`KeyValueStoreBuilder`], [`MeteredKeyValueStore<K, V>`]); otherwise
    /// an [`Error::Store`] naming the type asked for.
    pub fn as_store<S: StateStore + 'static>(&mut self) -> Result<&mut S> {
        downcast_store::<S>(self, |store| Error::Store {
            store,
            message: format!("not a store of type {}", std::any::type_name::<S>()),
        })
    }

    /// The store as a typed key-value store, if it is one built by
    /// [`KeyValueStoreBuilder`] with keys `K` and values `V`; otherwise an
    /// [`Error::Store`] naming the types asked for. A
    /// [`TimestampedKeyValueStore<K, V>`] (an aggregation's store) is one
    /// too: its plain values, without their timestamps (see
    /// `as_timestamped_key_value_store`).
    pub fn as_key_value_store<K: 'static, V: 'static>(
        &mut self,
    ) -> Result<&mut dyn KeyValueStore<K, V>> {
        let error = |name| not_a::<K, V>(name, "key-value store");
        if self.as_any_mut().is::<TimestampedKeyValueStore<K, V>>() {
            return downcast_store::<TimestampedKeyValueStore<K, V>>(self, error).map(|s| s as _);
        }
        downcast_store::<MeteredKeyValueStore<K, V>>(self, error).map(|s| s as _)
    }
}

impl<'a> dyn StateStore + 'a {
    /// The store as a key-value store of values with their timestamps, if
    /// it is a [`TimestampedKeyValueStore<K, V>`] (the store of a
    /// `count`, `reduce` or `aggregate`) or a key-value store of
    /// `ValueAndTimestamp<V>`; otherwise an [`Error::Store`] naming the
    /// types asked for.
    pub fn as_timestamped_key_value_store<K: 'static, V: 'static>(
        &mut self,
    ) -> Result<&mut dyn KeyValueStore<K, ValueAndTimestamp<V>>> {
        let error = |name| not_a::<K, V>(name, "timestamped key-value store");
        if self.as_any_mut().is::<TimestampedKeyValueStore<K, V>>() {
            return downcast_store::<TimestampedKeyValueStore<K, V>>(self, error)
                .map(|s| s.timestamped() as _);
        }
        downcast_store::<MeteredKeyValueStore<K, ValueAndTimestamp<V>>>(self, error).map(|s| s as _)
    }
}

impl<'a> dyn StateStore + 'a {
    /// The store as a typed window store, if it is one built by
    /// [`WindowStoreBuilder`] with keys `K` and values `V`; otherwise an
    /// [`Error::Store`] naming the types asked for.
    pub fn as_window_store<K: 'static, V: 'static>(
        &mut self,
    ) -> Result<&mut dyn WindowStore<K, V>> {
        downcast_store::<MeteredWindowStore<K, V>>(self, |name| not_a::<K, V>(name, "window store"))
            .map(|s| s as _)
    }

    /// The store as a typed versioned key-value store, if it is one built
    /// by [`VersionedKeyValueStoreBuilder`] with keys `K` and values `V`;
    /// otherwise an [`Error::Store`] naming the types asked for.
    pub fn as_versioned_key_value_store<K: 'static, V: 'static>(
        &mut self,
    ) -> Result<&mut dyn VersionedKeyValueStore<K, V>> {
        downcast_store::<MeteredVersionedKeyValueStore<K, V>>(self, |name| {
            not_a::<K, V>(name, "versioned key-value store")
        })
        .map(|s| s as _)
    }

    /// The store as a typed session store, if it is one built by
    /// [`SessionStoreBuilder`] with keys `K` and values `V`; otherwise an
    /// [`Error::Store`] naming the types asked for.
    pub fn as_session_store<K: 'static, V: 'static>(
        &mut self,
    ) -> Result<&mut dyn SessionStore<K, V>> {
        downcast_store::<MeteredSessionStore<K, V>>(self, |name| {
            not_a::<K, V>(name, "session store")
        })
        .map(|s| s as _)
    }
}

/// Creates a task's instance of a store, from what the task provides (see
/// [`StoreContext`]).
pub type StoreSupplier =
    std::sync::Arc<dyn Fn(StoreContext) -> Result<Box<dyn StateStore>> + Send + Sync>;

/// What a task gives the stores it creates: its id and the defaults the
/// runtime chose for stores that did not choose for themselves (the backend
/// of a store built without [`KeyValueStoreBuilder::in_memory`] or
/// [`KeyValueStoreBuilder::with_bytes_supplier`]).
///
/// The Kafka runtime sets the default backend to RocksDB under `state.dir`;
/// without one (weir-core alone, the test driver by default) stores keep
/// their data in memory.
///
/// ```
/// use weir_core::store::StoreContext;
/// use weir_core::task::TaskId;
///
/// let ctx = StoreContext::new(TaskId::new(0, 1));
/// assert_eq!(ctx.task(), TaskId::new(0, 1));
/// assert!(ctx.default_bytes_store().is_none()); // in memory
/// ```
#[derive(Clone)]
pub struct StoreContext {
    task: TaskId,
    default_bytes_store: Option<DefaultBytesStoreSupplier>,
    thread_cache: Option<std::sync::Arc<ThreadCache>>,
    exactly_once: bool,
}

impl std::fmt::Debug for StoreContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreContext")
            .field("task", &self.task)
            .field("default_bytes_store", &self.default_bytes_store.is_some())
            .field("thread_cache", &self.thread_cache)
            .field("exactly_once", &self.exactly_once)
            .finish()
    }
}

impl StoreContext {
    /// The context of task `task`, without defaults: stores are in memory.
    pub fn new(task: TaskId) -> Self {
        StoreContext {
            task,
            default_bytes_store: None,
            thread_cache: None,
            exactly_once: false,
        }
    }

    /// Sets the cache whose budget caching stores share.
    pub fn with_thread_cache(mut self, cache: std::sync::Arc<ThreadCache>) -> Self {
        self.thread_cache = Some(cache);
        self
    }

    /// The cache caching stores share; `None` (or a budget of 0): no
    /// caching, every update is written through and forwarded.
    pub fn thread_cache(&self) -> Option<&std::sync::Arc<ThreadCache>> {
        self.thread_cache.as_ref()
    }

    /// Sets the backend of stores that did not choose one.
    pub fn with_default_bytes_store(mut self, supplier: DefaultBytesStoreSupplier) -> Self {
        self.default_bytes_store = Some(supplier);
        self
    }

    /// Exactly-once: stores hold their writes until the transaction commits.
    pub fn with_exactly_once(mut self, on: bool) -> Self {
        self.exactly_once = on;
        self
    }

    /// Whether stores must hold their writes until the transaction commits
    /// (see [`UncommittedWritesLayer`]).
    pub fn exactly_once(&self) -> bool {
        self.exactly_once
    }

    /// The task creating the store.
    pub fn task(&self) -> TaskId {
        self.task
    }

    /// The backend of stores that did not choose one; `None`: in memory.
    pub fn default_bytes_store(&self) -> Option<&DefaultBytesStoreSupplier> {
        self.default_bytes_store.as_ref()
    }
}
