//! The running state of global stores: one store per application instance,
//! written by whoever reads the global topics (the runtime's global thread,
//! the test driver), read by every task of every stream thread.
//!
//! Sharing: each global store's bytes store sits behind one
//! `Arc<Mutex<..>>`. The writer takes the lock for each record it applies;
//! a task reads through a view of its own (built per task with the store's
//! serdes: deserialization happens outside the lock) whose every read takes
//! the lock for one lookup, so no reader ever sees half a write. The view is
//! an ordinary typed store (a [`TimestampedKeyValueStore`]), so processors
//! reach it with `ctx.key_value_store::<K, V>(name)` or
//! `ctx.state_store(name)?.as_timestamped_key_value_store::<K, V>()`; its
//! writes fail: only the topic updates a global store. Scans copy the range
//! under the read lock, then iterate the copy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::error::{Error, Result};
use crate::handler::{DeserializationHandler, ErrorContext, ErrorStage, HandlerAction};
use crate::processor::Data;
use crate::record::{OutputRecord, RawRecordRef, RecordMetadata};
use crate::serde::SharedSerde;
use crate::store::{
    BytesIter, KeyValueBytesStore, KeyValueStore, MeteredKeyValueStore, StateStore,
    TimestampedKeyValueStore, TimestampedSerde, ValueAndTimestamp, WriteBatch,
};
use crate::task_id::TaskId;
use crate::topology::{SourceDecoder, TypedSource};

/// The task id global stores are created with (they belong to no task):
/// a backend that keys its directories by task keeps them under
/// `<u32::MAX>_0` (the Kafka runtime's RocksDB:
/// `<state.dir>/<application.id>/4294967295_0/rocksdb/<store>`).
pub const GLOBAL_STORE_TASK: TaskId = TaskId {
    subtopology: u32::MAX,
    partition: 0,
};

type SharedBytesStore = Arc<Mutex<Box<dyn KeyValueBytesStore>>>;

/// Locks the shared data. (A mutex, not a read-write lock: bytes stores are
/// `Send` but not `Sync`. Each read holds it for one lookup.)
fn lock(store: &SharedBytesStore) -> MutexGuard<'_, Box<dyn KeyValueBytesStore>> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A bytes store over a global store's shared data: the writer's (it
/// writes, flushes and closes the data) or a task's read-only view (its
/// writes fail, its flush, commit and close do nothing to the data).
struct SharedBytes {
    name: String,
    persistent: bool,
    data: SharedBytesStore,
    writable: bool,
}

impl SharedBytes {
    fn read_only(&self) -> Error {
        Error::Store {
            store: self.name.clone(),
            message: "a global store is read-only: only its topic updates it".to_string(),
        }
    }
}

impl KeyValueBytesStore for SharedBytes {
    fn name(&self) -> &str {
        &self.name
    }

    fn persistent(&self) -> bool {
        self.persistent
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        lock(&self.data).get(key)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<()> {
        if !self.writable {
            return Err(self.read_only());
        }
        lock(&self.data).write(batch)
    }

    fn committed_offset(&self) -> Result<Option<i64>> {
        lock(&self.data).committed_offset()
    }

    fn range(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        reverse: bool,
    ) -> Result<BytesIter<'_>> {
        let copied: Vec<(Vec<u8>, Vec<u8>)> = lock(&self.data)
            .range(from, to, reverse)?
            .collect::<Result<_>>()?;
        Ok(Box::new(copied.into_iter().map(Ok)))
    }

    fn delete_range(&mut self, from: &[u8], to_exclusive: &[u8]) -> Result<()> {
        if !self.writable {
            return Err(self.read_only());
        }
        lock(&self.data).delete_range(from, to_exclusive)
    }

    fn approximate_count(&self) -> Result<u64> {
        lock(&self.data).approximate_count()
    }

    fn flush(&mut self) -> Result<()> {
        if self.writable {
            lock(&self.data).flush()?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if self.writable {
            lock(&self.data).close()?;
        }
        Ok(())
    }

    fn restore(&mut self, _batch: WriteBatch) -> Result<()> {
        Err(self.read_only())
    }

    fn commit(&mut self, _changelog_offset: Option<i64>) -> Result<()> {
        Ok(())
    }
}

/// One global store's state, typed inside, erased for the runtime.
pub(crate) trait GlobalStoreState: Send + Sync {
    fn name(&self) -> &str;
    fn topic(&self) -> &str;
    fn persistent(&self) -> bool;
    /// Applies one record of the topic: a put, a delete (null value), or
    /// nothing (null key, or a timestamp the source's policy skips).
    /// Returns whether it changed the store.
    fn update(&self, raw: &RawRecordRef<'_>) -> Result<bool>;
    /// A task's read-only view of the store.
    fn view(&self) -> Box<dyn StateStore>;
    fn flush(&self) -> Result<()>;
    fn close(&self) -> Result<()>;
}

/// The writer of a global store of `K` and `V`: the topic's serdes, and the
/// store (as a timestamped store, like a table's) over the shared data.
struct Writer<K, V> {
    store: TimestampedKeyValueStore<K, V>,
    /// The highest timestamp seen on each partition (for the source's
    /// invalid-timestamp policy).
    partition_time: HashMap<i32, i64>,
}

pub(crate) struct TypedGlobalStore<K, V> {
    name: String,
    topic: String,
    persistent: bool,
    data: SharedBytesStore,
    source: TypedSource<K, V>,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    writer: Mutex<Writer<K, V>>,
}

fn timestamped<K: 'static, V: 'static>(
    name: &str,
    bytes: SharedBytes,
    key_serde: &SharedSerde<K>,
    value_serde: &SharedSerde<V>,
) -> TimestampedKeyValueStore<K, V> {
    let inner = MeteredKeyValueStore::new(
        name.to_string(),
        Box::new(bytes),
        Arc::clone(key_serde),
        Arc::new(TimestampedSerde::new(Arc::clone(value_serde))) as _,
    );
    TimestampedKeyValueStore::new(inner, Arc::clone(key_serde), Arc::clone(value_serde))
}

impl<K: Data, V: Data> TypedGlobalStore<K, V> {
    /// The global store `name` fed by `topic`, read with `source`'s serdes
    /// and kept in `data` with the store's serdes.
    pub(crate) fn new(
        name: &str,
        topic: &str,
        data: Box<dyn KeyValueBytesStore>,
        source: TypedSource<K, V>,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> Self {
        let persistent = data.persistent();
        let data: SharedBytesStore = Arc::new(Mutex::new(data));
        let bytes = SharedBytes {
            name: name.to_string(),
            persistent,
            data: Arc::clone(&data),
            writable: true,
        };
        let store = timestamped(name, bytes, &key_serde, &value_serde);
        TypedGlobalStore {
            name: name.to_string(),
            topic: topic.to_string(),
            persistent,
            data,
            source,
            key_serde,
            value_serde,
            writer: Mutex::new(Writer {
                store,
                partition_time: HashMap::new(),
            }),
        }
    }
}

impl<K: Data, V: Data> GlobalStoreState for TypedGlobalStore<K, V> {
    fn name(&self) -> &str {
        &self.name
    }

    fn topic(&self) -> &str {
        &self.topic
    }

    fn persistent(&self) -> bool {
        self.persistent
    }

    fn update(&self, raw: &RawRecordRef<'_>) -> Result<bool> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let time = writer
            .partition_time
            .get(&raw.partition)
            .copied()
            .unwrap_or(-1);
        let Some(decoded) = self.source.decode(raw, time)? else {
            return Ok(false);
        };
        let record = decoded.typed::<K, V>(&self.name)?;
        writer
            .partition_time
            .insert(raw.partition, time.max(record.timestamp));
        let Some(key) = record.key else {
            tracing::warn!(
                topic = %raw.topic,
                partition = raw.partition,
                offset = raw.offset,
                store = %self.name,
                "skipping a record with a null key for a global store"
            );
            return Ok(false);
        };
        let store = writer.store.timestamped();
        match record.value {
            Some(value) => store.put(&key, &ValueAndTimestamp::new(value, record.timestamp))?,
            None => {
                store.delete(&key)?;
            }
        }
        Ok(true)
    }

    fn view(&self) -> Box<dyn StateStore> {
        let bytes = SharedBytes {
            name: self.name.clone(),
            persistent: self.persistent,
            data: Arc::clone(&self.data),
            writable: false,
        };
        Box::new(timestamped(
            &self.name,
            bytes,
            &self.key_serde,
            &self.value_serde,
        ))
    }

    fn flush(&self) -> Result<()> {
        self.writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .store
            .flush()
    }

    fn close(&self) -> Result<()> {
        self.writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .store
            .close()
    }
}

/// The global stores of one application instance (create them with
/// [`Topology::create_global_stores`](crate::topology::Topology::create_global_stores)).
/// Cheap to clone: every clone shares the same stores. See the module docs
/// of [`topology`](crate::topology) for how tasks read them.
#[derive(Clone)]
pub struct GlobalStores {
    stores: Arc<Vec<Box<dyn GlobalStoreState>>>,
}

impl std::fmt::Debug for GlobalStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.stores.iter().map(|s| (s.name(), s.topic())))
            .finish()
    }
}

impl GlobalStores {
    pub(crate) fn new(stores: Vec<Box<dyn GlobalStoreState>>) -> Self {
        GlobalStores {
            stores: Arc::new(stores),
        }
    }

    /// The stores' names, in the order the topology declares them.
    pub fn store_names(&self) -> Vec<String> {
        self.stores.iter().map(|s| s.name().to_string()).collect()
    }

    /// The topics feeding the stores (one per store).
    pub fn topics(&self) -> Vec<String> {
        self.stores.iter().map(|s| s.topic().to_string()).collect()
    }

    /// Whether the store fed by `topic` keeps its data on disk (so a
    /// checkpoint of the offsets it reached is worth resuming from).
    pub fn is_persistent(&self, topic: &str) -> bool {
        self.stores
            .iter()
            .any(|s| s.topic() == topic && s.persistent())
    }

    /// Applies one record read from a global topic to its store: the key
    /// gets the value (with the record's timestamp, from the source's
    /// timestamp extractor), a null value deletes the key, a null key is
    /// skipped. A record that cannot be deserialized goes to `handler`:
    /// skipped if it says continue, else an [`Error::Deserialization`]
    /// naming the topic, partition and offset. Returns whether the store
    /// changed. A topic no global store reads is an error.
    pub fn update(
        &self,
        raw: &RawRecordRef<'_>,
        handler: &dyn DeserializationHandler,
    ) -> Result<bool> {
        Ok(self.update_with_dead_letters(raw, handler, None)?.0)
    }

    /// As [`update`](Self::update), with `dead_letter_topic` in the
    /// handler's context; also returns, for a record the handler skipped,
    /// `Some` of the dead-letter records it gave (the global thread writes
    /// them: there is no transaction there, so at least once).
    pub fn update_with_dead_letters(
        &self,
        raw: &RawRecordRef<'_>,
        handler: &dyn DeserializationHandler,
        dead_letter_topic: Option<&str>,
    ) -> Result<(bool, Option<Vec<OutputRecord>>)> {
        let Some(store) = self.stores.iter().find(|s| s.topic() == raw.topic) else {
            return Err(Error::Store {
                store: raw.topic.to_string(),
                message: "no global store reads this topic".to_string(),
            });
        };
        match store.update(raw) {
            Ok(changed) => Ok((changed, None)),
            Err(e @ Error::Deserialization { .. }) => {
                let metadata = RecordMetadata {
                    topic: raw.topic.to_string(),
                    partition: raw.partition,
                    offset: raw.offset,
                };
                let context = ErrorContext {
                    stage: ErrorStage::Deserialization,
                    task: None,
                    node: None,
                    metadata: Some(&metadata),
                    source: Some(*raw),
                    dead_letter_topic,
                };
                let response = handler.handle(&context, &e);
                match response.action {
                    HandlerAction::Continue => Ok((false, Some(response.dead_letters))),
                    HandlerAction::Fail | HandlerAction::Retry => Err(at_record(e, raw)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// A read-only view of global store `name` (what tasks give their
    /// processors), or `None` if there is no such global store.
    pub fn view(&self, name: &str) -> Option<Box<dyn StateStore>> {
        self.stores
            .iter()
            .find(|s| s.name() == name)
            .map(|s| s.view())
    }

    /// Read-only views of every store, for a task.
    pub(crate) fn views(&self) -> Vec<Box<dyn StateStore>> {
        self.stores.iter().map(|s| s.view()).collect()
    }

    /// Makes what the stores hold durable (before their offsets are
    /// checkpointed).
    pub fn flush(&self) -> Result<()> {
        for s in self.stores.iter() {
            s.flush()?;
        }
        Ok(())
    }

    /// Closes the stores (their views fail afterwards).
    pub fn close(&self) -> Result<()> {
        let mut first = Ok(());
        for s in self.stores.iter() {
            if let Err(e) = s.close() {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}

/// Adds where the refused record sits to a deserialization error.
fn at_record(error: Error, raw: &RawRecordRef<'_>) -> Error {
    match error {
        Error::Deserialization {
            topic,
            what,
            message,
        } => Error::Deserialization {
            topic,
            what,
            message: format!(
                "{message} (partition {}, offset {}; global store topic)",
                raw.partition, raw.offset
            ),
        },
        other => other,
    }
}
