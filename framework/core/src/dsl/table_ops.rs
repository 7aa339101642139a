//! The processors behind KTables and aggregations. Each forwards
//! `Record<K, Change<V>>` (see [`Change`]). As in Kafka Streams, a table or
//! an aggregation ignores records without a key, and a stream aggregation
//! ignores null values.

use std::collections::HashMap;
use std::sync::Arc;

use crate::dsl::Change;
use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::{Deserializer, SerdeContext, SerializeContext, Serializer, SharedSerde};
use crate::store::{
    FlushedEntries, KeyValueStore, MeteredKeyValueStore, TimestampedKeyValueStore,
    TimestampedSerde, ValueAndTimestamp,
};

/// How a materializing processor forwards its store's updates. Without a
/// cache, each update is forwarded as it is written. With one, the store's
/// flush listener collects what the cache writes down (on commit or
/// eviction), folded per key with the value the key had before; those
/// entries are decoded and forwarded. An aggregation's store is a
/// [`TimestampedKeyValueStore`]: its flushed entries carry the aggregate's
/// timestamp, as Kafka Streams' `TimestampedCacheFlushListener` forwards
/// them (a delete, which has none, and a plain table's entries are stamped
/// with the task's stream time).
pub(crate) struct Emit<K, V> {
    pub(crate) store: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    /// Whether the store is a [`TimestampedKeyValueStore<K, V>`] (else a
    /// [`MeteredKeyValueStore<K, V>`]).
    timestamped: bool,
    flushed: Option<FlushedEntries>,
    /// The timestamps of deletes waiting in the cache, by stored key: a
    /// flushed delete carries its record's timestamp, as Kafka Streams'
    /// cache entries keep their record's.
    delete_times: HashMap<Vec<u8>, i64>,
}

impl<K, V> Clone for Emit<K, V> {
    fn clone(&self) -> Self {
        Emit {
            store: self.store.clone(),
            key_serde: Arc::clone(&self.key_serde),
            value_serde: Arc::clone(&self.value_serde),
            timestamped: self.timestamped,
            flushed: None,
            delete_times: HashMap::new(),
        }
    }
}

impl<K: Data, V: Data> Emit<K, V> {
    /// The emitter of a plain table's store (a [`MeteredKeyValueStore`]).
    pub(crate) fn new(store: String, serdes: (SharedSerde<K>, SharedSerde<V>)) -> Self {
        Emit {
            store,
            key_serde: serdes.0,
            value_serde: serdes.1,
            timestamped: false,
            flushed: None,
            delete_times: HashMap::new(),
        }
    }

    /// The emitter of an aggregation's store (a [`TimestampedKeyValueStore`]).
    pub(crate) fn timestamped(store: String, serdes: (SharedSerde<K>, SharedSerde<V>)) -> Self {
        Emit {
            timestamped: true,
            ..Emit::new(store, serdes)
        }
    }

    /// Installs the flush listener if the store has a cache.
    pub(crate) fn init<KO, VO>(&mut self, ctx: &mut dyn ProcessorContext<KO, VO>) -> Result<()> {
        let flushed = FlushedEntries::default();
        let listener = flushed.listener();
        let store = ctx.state_store(&self.store)?;
        let installed = if self.timestamped {
            store
                .downcast_mut::<TimestampedKeyValueStore<K, V>>()
                .map(|s| s.timestamped().set_flush_listener(listener))
        } else {
            store
                .downcast_mut::<MeteredKeyValueStore<K, V>>()
                .map(|s| s.set_flush_listener(listener))
        };
        let Some(installed) = installed else {
            return Err(Error::Store {
                store: self.store.clone(),
                message: "not the key-value store the DSL built".to_string(),
            });
        };
        self.flushed = installed.then_some(flushed);
        Ok(())
    }

    /// Whether the store has a cache (updates wait for a flush).
    fn cached(&self) -> bool {
        self.flushed.is_some()
    }

    /// Remembers the timestamp of a delete of `key` that waits in the
    /// cache, for the flush to forward it with.
    fn note_delete(&mut self, key: &K, timestamp: i64) -> Result<()> {
        if !self.cached() {
            return Ok(());
        }
        let mut headers = Headers::new();
        let mut key_ctx = SerializeContext::key(&self.store, &mut headers);
        if let Some(bytes) = self.key_serde.serialize(&mut key_ctx, key)? {
            self.delete_times.insert(bytes, timestamp);
        }
        Ok(())
    }

    /// Forwards what the cache wrote down since the last call.
    fn drain(&mut self, ctx: &mut dyn ProcessorContext<K, Change<V>>) -> Result<()> {
        let Some(flushed) = &self.flushed else {
            return Ok(());
        };
        let entries = flushed.take();
        let headers = Headers::new();
        let key_ctx = SerdeContext::key(&self.store, &headers);
        let value_ctx = SerdeContext::value(&self.store, &headers);
        let stamped = TimestampedSerde::new(Arc::clone(&self.value_serde));
        // A stored value and its timestamp (none in a plain table's store).
        let read = |bytes: Option<&[u8]>| -> Result<Option<(V, Option<i64>)>> {
            if self.timestamped {
                let v = stamped.deserialize(&value_ctx, bytes)?;
                Ok(v.map(|v| (v.value, Some(v.timestamp))))
            } else {
                let v = self.value_serde.deserialize(&value_ctx, bytes)?;
                Ok(v.map(|v| (v, None)))
            }
        };
        for entry in entries {
            let Some(key) = self.key_serde.deserialize(&key_ctx, Some(&entry.key))? else {
                continue;
            };
            let new = read(entry.new_value.as_deref())?;
            let old = read(entry.old_value.as_deref())?;
            if new.is_none() && old.is_none() {
                continue;
            }
            let delete_time = match &new {
                None => self.delete_times.remove(&entry.key),
                Some(_) => None,
            };
            let ts = match (new.as_ref().and_then(|(_, ts)| *ts), delete_time) {
                (Some(ts), _) | (None, Some(ts)) => ts,
                (None, None) => ctx.stream_time().max(0),
            };
            let change = Change::new(new.map(|(v, _)| v), old.map(|(v, _)| v));
            forward_change(ctx, key, change, ts, Headers::new())?;
        }
        Ok(())
    }

    /// Flushes the store's cache and forwards what it wrote down.
    pub(crate) fn flush(&mut self, ctx: &mut dyn ProcessorContext<K, Change<V>>) -> Result<()> {
        if !self.cached() {
            return Ok(());
        }
        ctx.state_store(&self.store)?.flush()?;
        self.drain(ctx)
    }
}

/// Forwards `change` for `key` with the input record's timestamp and headers.
fn forward_change<K, V>(
    ctx: &mut dyn ProcessorContext<K, Change<V>>,
    key: K,
    change: Change<V>,
    timestamp: i64,
    headers: Headers,
) -> Result<()> {
    ctx.forward(Record::from_parts(
        Some(key),
        Some(change),
        timestamp,
        headers,
    ))
}

/// Materializes a stream of upserts into a store: a value puts, a null value
/// deletes; forwards the change with the value the key had.
pub(crate) struct Materialize<K, V> {
    pub(crate) emit: Emit<K, V>,
}

impl<K: Data, V: Data> Processor<K, V, K, Change<V>> for Materialize<K, V> {
    fn init(&mut self, ctx: &mut dyn ProcessorContext<K, Change<V>>) -> Result<()> {
        self.emit.init(ctx)
    }

    fn flush(&mut self, ctx: &mut dyn ProcessorContext<K, Change<V>>) -> Result<()> {
        self.emit.flush(ctx)
    }

    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, Change<V>>,
        record: Record<K, V>,
    ) -> Result<()> {
        upsert(&mut self.emit, ctx, record)
    }
}

/// Writes one upsert into `emit`'s (timestamped) store: a value puts it
/// with the record's timestamp, a null value deletes the key; forwards the
/// change with the value the key had (or leaves it to the cache's flush).
/// Records without a key are ignored.
pub(crate) fn upsert<K: Data, V: Data>(
    emit: &mut Emit<K, V>,
    ctx: &mut dyn ProcessorContext<K, Change<V>>,
    record: Record<K, V>,
) -> Result<()> {
    let Record {
        key,
        value,
        timestamp,
        headers,
    } = record;
    let Some(key) = key else {
        return Ok(());
    };
    let store = aggregates::<K, V, _, _>(ctx, &emit.store)?;
    let old = match &value {
        Some(v) => {
            let old = store.get(&key)?;
            store.put(&key, &ValueAndTimestamp::new(v.clone(), timestamp))?;
            old
        }
        None => {
            let old = store.delete(&key)?;
            emit.note_delete(&key, timestamp)?;
            old
        }
    }
    .map(|old| old.value);
    if emit.cached() {
        return emit.drain(ctx);
    }
    // A delete of a key the table does not hold is still forwarded, as
    // Kafka Streams does: `to_stream()` shows the tombstone.
    forward_change(ctx, key, Change::new(value, old), timestamp, headers)
}

/// Keeps the table's rows whose value satisfies the predicate (or fails it
/// when `keep` is false). Both sides of a change are filtered, so a row that
/// stops passing forwards a delete of what passed before.
pub(crate) struct TableFilter<F> {
    pub(crate) predicate: Arc<F>,
    pub(crate) keep: bool,
}

impl<K: Data, V: Data, F> Processor<K, Change<V>> for TableFilter<F>
where
    F: Fn(&K, &V) -> bool + Send + Sync,
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, Change<V>>,
        record: Record<K, Change<V>>,
    ) -> Result<()> {
        let (Some(key), Some(change)) = (record.key, record.value) else {
            return Ok(());
        };
        let pass = |v: Option<V>| v.filter(|v| (self.predicate)(&key, v) == self.keep);
        let new = pass(change.new);
        let old = pass(change.old);
        if new.is_none() && old.is_none() {
            return Ok(());
        }
        forward_change(
            ctx,
            key,
            Change::new(new, old).with_latest(change.is_latest),
            record.timestamp,
            record.headers,
        )
    }
}

/// Maps both sides of each change.
pub(crate) struct TableMapValues<F>(pub(crate) Arc<F>);

impl<K: Data, V: Data, VR: Data, F> Processor<K, Change<V>, K, Change<VR>> for TableMapValues<F>
where
    F: Fn(&K, V) -> VR + Send + Sync,
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, Change<VR>>,
        record: Record<K, Change<V>>,
    ) -> Result<()> {
        let (Some(key), Some(change)) = (record.key, record.value) else {
            return Ok(());
        };
        let is_latest = change.is_latest;
        let new = change.new.map(|v| (self.0)(&key, v));
        let old = change.old.map(|v| (self.0)(&key, v));
        forward_change(
            ctx,
            key,
            Change::new(new, old).with_latest(is_latest),
            record.timestamp,
            record.headers,
        )
    }
}

/// Turns changes into plain records of the new value (null for a delete).
pub(crate) struct ToStream;

impl<K: Data, V: Data> Processor<K, Change<V>, K, V> for ToStream {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, V>,
        record: Record<K, Change<V>>,
    ) -> Result<()> {
        let new = record.value.as_ref().and_then(|c| c.new.clone());
        ctx.forward(record.with_value(new))
    }
}

/// The timestamped store of an aggregation, `name`.
fn aggregates<'c, K: Data, VA: Data, KO, VO>(
    ctx: &'c mut dyn ProcessorContext<KO, VO>,
    name: &str,
) -> Result<&'c mut dyn KeyValueStore<K, ValueAndTimestamp<VA>>> {
    ctx.state_store(name)?
        .as_timestamped_key_value_store::<K, VA>()
}

/// The timestamp of an aggregate updated by a record at `record_ts`: the
/// newer of it and the stored aggregate's, if there is one.
fn newest<VA>(record_ts: i64, stored: Option<&ValueAndTimestamp<VA>>) -> i64 {
    stored.map_or(record_ts, |s| record_ts.max(s.timestamp))
}

/// Folds a grouped stream's values into a store: `step(key, value, current)`
/// gives the new aggregate. Records with a null key or value are ignored.
pub(crate) struct StreamAggregate<K, VA, F> {
    pub(crate) emit: Emit<K, VA>,
    pub(crate) step: Arc<F>,
}

impl<K: Data, V: Data, VA: Data, F> Processor<K, V, K, Change<VA>> for StreamAggregate<K, VA, F>
where
    F: Fn(&K, V, Option<VA>) -> VA + Send + Sync,
{
    fn init(&mut self, ctx: &mut dyn ProcessorContext<K, Change<VA>>) -> Result<()> {
        self.emit.init(ctx)
    }

    fn flush(&mut self, ctx: &mut dyn ProcessorContext<K, Change<VA>>) -> Result<()> {
        self.emit.flush(ctx)
    }

    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, Change<VA>>,
        record: Record<K, V>,
    ) -> Result<()> {
        let (Some(key), Some(value)) = (record.key, record.value) else {
            return Ok(());
        };
        let store = aggregates::<K, VA, _, _>(ctx, &self.emit.store)?;
        let stored = store.get(&key)?;
        // Kafka Streams' rule: the aggregate's timestamp is the newest of
        // its records' (a first update: the record's).
        let timestamp = newest(record.timestamp, stored.as_ref());
        let old = stored.map(|a| a.value);
        let new = (self.step)(&key, value, old.clone());
        store.put(&key, &ValueAndTimestamp::new(new.clone(), timestamp))?;
        if self.emit.cached() {
            return self.emit.drain(ctx);
        }
        forward_change(
            ctx,
            key,
            Change::new(Some(new), old),
            timestamp,
            record.headers,
        )
    }
}

/// Re-keys a table's changes for `KTable::group_by`: the old value goes to
/// the group it left, the new one to the group it joins. When both land in
/// the same group they travel as one change; otherwise as two, the
/// retraction first.
pub(crate) struct TableSelect<F>(pub(crate) Arc<F>);

impl<K: Data, V: Data, KR: Data + PartialEq, VR: Data, F> Processor<K, Change<V>, KR, Change<VR>>
    for TableSelect<F>
where
    F: Fn(&K, V) -> (KR, VR) + Send + Sync,
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<KR, Change<VR>>,
        record: Record<K, Change<V>>,
    ) -> Result<()> {
        let (Some(key), Some(change)) = (record.key, record.value) else {
            return Ok(());
        };
        // An update a versioned table stored out of order is not the key's
        // value: an aggregation leaves it out (as Kafka Streams).
        if !change.is_latest {
            return Ok(());
        }
        let old = change.old.map(|v| (self.0)(&key, v));
        let new = change.new.map(|v| (self.0)(&key, v));
        let (ts, headers) = (record.timestamp, record.headers);
        match (old, new) {
            (Some((ko, vo)), Some((kn, vn))) if ko == kn => {
                forward_change(ctx, kn, Change::new(Some(vn), Some(vo)), ts, headers)
            }
            (old, new) => {
                if let Some((ko, vo)) = old {
                    forward_change(ctx, ko, Change::new(None, Some(vo)), ts, headers.clone())?;
                }
                if let Some((kn, vn)) = new {
                    forward_change(ctx, kn, Change::new(Some(vn), None), ts, headers)?;
                }
                Ok(())
            }
        }
    }
}

/// Folds a grouped table's changes into a store: first `subtract(key, old,
/// aggregate)` retracts the old value (if the group has an aggregate), then
/// `add(key, new, aggregate)` adds the new one.
pub(crate) struct TableAggregate<K, VA, A, S> {
    pub(crate) emit: Emit<K, VA>,
    pub(crate) add: Arc<A>,
    pub(crate) subtract: Arc<S>,
}

impl<K: Data, V: Data, VA: Data, A, S> Processor<K, Change<V>, K, Change<VA>>
    for TableAggregate<K, VA, A, S>
where
    A: Fn(&K, V, Option<VA>) -> VA + Send + Sync,
    S: Fn(&K, V, VA) -> VA + Send + Sync,
{
    fn init(&mut self, ctx: &mut dyn ProcessorContext<K, Change<VA>>) -> Result<()> {
        self.emit.init(ctx)
    }

    fn flush(&mut self, ctx: &mut dyn ProcessorContext<K, Change<VA>>) -> Result<()> {
        self.emit.flush(ctx)
    }

    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, Change<VA>>,
        record: Record<K, Change<V>>,
    ) -> Result<()> {
        let (Some(key), Some(change)) = (record.key, record.value) else {
            return Ok(());
        };
        let store = aggregates::<K, VA, _, _>(ctx, &self.emit.store)?;
        let stored = store.get(&key)?;
        // As Kafka Streams: a retraction from, or an addition to, a stored
        // aggregate is stamped with the newer of the record's timestamp and
        // the aggregate's; anything else with the record's.
        let timestamp = if change.old.is_some() || change.new.is_some() {
            newest(record.timestamp, stored.as_ref())
        } else {
            record.timestamp
        };
        let old_agg = stored.map(|a| a.value);
        let retracted = match (change.old, old_agg.clone()) {
            (Some(old), Some(agg)) => Some((self.subtract)(&key, old, agg)),
            (_, agg) => agg,
        };
        let new_agg = match change.new {
            Some(new) => Some((self.add)(&key, new, retracted)),
            None => retracted,
        };
        match &new_agg {
            Some(agg) => store.put(&key, &ValueAndTimestamp::new(agg.clone(), timestamp))?,
            None => {
                store.delete(&key)?;
                self.emit.note_delete(&key, timestamp)?;
            }
        }
        if self.emit.cached() {
            return self.emit.drain(ctx);
        }
        forward_change(
            ctx,
            key,
            Change::new(new_agg, old_agg),
            timestamp,
            record.headers,
        )
    }
}
