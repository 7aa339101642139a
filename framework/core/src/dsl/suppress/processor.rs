//! The suppress processor: buffers a table's updates per key in a logged
//! store and forwards each key's latest update when its buffer time is old
//! enough, or early when the buffer is full.

use std::sync::Arc;

use super::buffer::{Entry, Index};
use super::{BufferConfig, BufferFullStrategy};
use crate::dsl::window::idle::IdleClose;
use crate::dsl::Change;
use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::processor::{Data, Processor, ProcessorContext, Punctuation};
use crate::record::Record;
use crate::serde::{SerdeContext, SerializeContext, SharedSerde};
use crate::store::KeyValueStore;

/// A key's buffer time: the record's timestamp, or its window's end.
pub(super) enum BufferTime<K> {
    /// The timestamp of the key's first buffered update (`until_time_limit`).
    Record,
    /// The end of the key's window (`until_window_closes`).
    WindowEnd(fn(&K) -> i64),
}

/// What every task's instance of one suppress node shares.
pub(super) struct Config<K, V> {
    pub(super) store: String,
    pub(super) key_serde: SharedSerde<K>,
    pub(super) value_serde: SharedSerde<V>,
    pub(super) time: BufferTime<K>,
    /// How long after its buffer time (in stream time) a key is emitted.
    pub(super) delay: i64,
    pub(super) buffer: BufferConfig,
    /// Whether deletes are dropped instead of emitted (`until_window_closes`,
    /// as Kafka Streams: a final result is never a delete).
    pub(super) drop_tombstones: bool,
    /// Idle close: how long without a record before stream time follows
    /// the wall clock.
    pub(super) idle_after: Option<i64>,
}

/// One task's suppress node.
pub(super) struct SuppressProcessor<K, V> {
    config: Arc<Config<K, V>>,
    index: Index,
    /// The highest timestamp this node has seen (Kafka Streams'
    /// `observedStreamTime`): only records move it.
    observed: i64,
    /// The topic name serdes see: the buffer's changelog topic.
    topic: String,
    idle: Option<IdleClose>,
}

impl<K, V> SuppressProcessor<K, V> {
    pub(super) fn new(config: Arc<Config<K, V>>) -> Self {
        SuppressProcessor {
            index: Index::default(),
            observed: i64::MIN,
            topic: String::new(),
            idle: config.idle_after.map(IdleClose::new),
            config,
        }
    }
}

type Ctx<'a, K, V> = dyn ProcessorContext<K, Change<V>> + 'a;

impl<K: Data, V: Data> SuppressProcessor<K, V> {
    fn store<'c>(
        &self,
        ctx: &'c mut Ctx<'_, K, V>,
    ) -> Result<&'c mut dyn KeyValueStore<Vec<u8>, Vec<u8>>> {
        ctx.key_value_store::<Vec<u8>, Vec<u8>>(&self.config.store)
    }

    fn serialize_value(&self, value: Option<&V>, headers: &mut Headers) -> Result<Option<Vec<u8>>> {
        match value {
            Some(v) => self
                .config
                .value_serde
                .serialize(&mut SerializeContext::value(&self.topic, headers), v),
            None => Ok(None),
        }
    }

    fn deserialize_value(&self, bytes: Option<&[u8]>, headers: &Headers) -> Result<Option<V>> {
        self.config
            .value_serde
            .deserialize(&SerdeContext::value(&self.topic, headers), bytes)
    }

    fn over_capacity(&self) -> bool {
        self.index.len() > self.config.buffer.max_records
            || self.index.bytes() > self.config.buffer.max_bytes
    }

    /// Emits what is due, then enforces the buffer's bounds.
    fn enforce(&mut self, ctx: &mut Ctx<'_, K, V>) -> Result<()> {
        let expiry = self.observed.saturating_sub(self.config.delay);
        while let Some((time, key)) = self.index.oldest() {
            if time > expiry {
                break;
            }
            self.emit(ctx, &key)?;
        }
        if !self.over_capacity() {
            return Ok(());
        }
        match self.config.buffer.when_full {
            BufferFullStrategy::EmitEarly => {
                while self.over_capacity() {
                    let Some((_, key)) = self.index.oldest() else {
                        break;
                    };
                    self.emit(ctx, &key)?;
                }
                Ok(())
            }
            BufferFullStrategy::ShutDown => Err(Error::Processor {
                node: ctx.node_name().to_string(),
                message: format!(
                    "the suppress buffer (store '{}') exceeded its capacity: {} of at most {} \
                     records, {} of at most {} bytes; with shut_down_when_full the application \
                     stops (give it a larger buffer, or emit_early_when_full)",
                    self.config.store,
                    self.index.len(),
                    self.config.buffer.max_records,
                    self.index.bytes(),
                    self.config.buffer.max_bytes,
                ),
            }),
        }
    }

    /// Takes `key` out of the buffer and forwards its latest update with the
    /// value downstream had before it was buffered.
    fn emit(&mut self, ctx: &mut Ctx<'_, K, V>, key: &[u8]) -> Result<()> {
        let stored = self.store(ctx)?.delete(&key.to_vec())?;
        self.index.remove(key);
        let Some(bytes) = stored else {
            return Err(Error::Store {
                store: self.config.store.clone(),
                message: "a key of the suppress buffer's index is missing from its store"
                    .to_string(),
            });
        };
        let entry = Entry::decode(&bytes, &self.config.store)?;
        if entry.new.is_none() && self.config.drop_tombstones {
            return Ok(());
        }
        let key_ctx = SerdeContext::key(&self.topic, &entry.headers);
        let Some(key) = self.config.key_serde.deserialize(&key_ctx, Some(key))? else {
            return Ok(());
        };
        let new = self.deserialize_value(entry.new.as_deref(), &entry.headers)?;
        let prior = self.deserialize_value(entry.prior.as_deref(), &entry.headers)?;
        ctx.forward(Record::from_parts(
            Some(key),
            Some(Change::new(new, prior)),
            entry.timestamp,
            entry.headers,
        ))
    }
}

impl<K: Data, V: Data> Processor<K, Change<V>> for SuppressProcessor<K, V> {
    /// Rebuilds the time index from the (restored) store.
    fn init(&mut self, ctx: &mut Ctx<'_, K, V>) -> Result<()> {
        self.topic = format!("{}-{}-changelog", ctx.application_id(), self.config.store);
        let store_name = self.config.store.clone();
        let mut index = Index::default();
        for item in self.store(ctx)?.all()? {
            let (key, bytes) = item?;
            let entry = Entry::decode(&bytes, &store_name)?;
            index.insert(key, entry.time, bytes.len());
        }
        self.index = index;
        self.observed = i64::MIN;
        if let Some(idle) = &mut self.idle {
            idle.start(ctx, self.observed)?;
        }
        Ok(())
    }

    /// Idle close: moves the stream time on with the wall clock once the
    /// input has been idle long enough, and emits what is due.
    fn punctuate(&mut self, ctx: &mut Ctx<'_, K, V>, punctuation: Punctuation) -> Result<()> {
        let now = punctuation.timestamp;
        let Some(stream_time) = self.idle.and_then(|idle| idle.stream_time_at(now)) else {
            return Ok(());
        };
        if stream_time <= self.observed {
            return Ok(());
        }
        self.observed = stream_time;
        self.enforce(ctx)
    }

    fn process(&mut self, ctx: &mut Ctx<'_, K, V>, record: Record<K, Change<V>>) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            mut headers,
        } = record;
        let (Some(key), Some(change)) = (key, value) else {
            return Ok(());
        };
        self.observed = self.observed.max(timestamp);
        if let Some(idle) = &mut self.idle {
            idle.saw_record(ctx.wall_clock_time(), self.observed);
        }
        let key_bytes = self
            .config
            .key_serde
            .serialize(&mut SerializeContext::key(&self.topic, &mut headers), &key)?
            .ok_or_else(|| Error::Processor {
                node: ctx.node_name().to_string(),
                message: "the key serde wrote null for a key of the table".to_string(),
            })?;
        let (time, prior) = match self.index.time_of(&key_bytes) {
            // Non-resetting: the key keeps its slot and what downstream last saw.
            Some(time) => {
                let store_name = self.config.store.clone();
                let bytes = self
                    .store(ctx)?
                    .get(&key_bytes)?
                    .ok_or_else(|| Error::Store {
                        store: store_name.clone(),
                        message: "a key of the suppress buffer's index is missing from its store"
                            .to_string(),
                    })?;
                (time, Entry::decode(&bytes, &store_name)?.prior)
            }
            None => {
                let time = match self.config.time {
                    BufferTime::Record => timestamp,
                    BufferTime::WindowEnd(end) => end(&key),
                };
                (
                    time,
                    self.serialize_value(change.old.as_ref(), &mut headers)?,
                )
            }
        };
        let new = self.serialize_value(change.new.as_ref(), &mut headers)?;
        let entry = Entry {
            time,
            timestamp,
            new,
            prior,
            headers,
        };
        let bytes = entry.encode(&self.config.store)?;
        let len = bytes.len();
        self.store(ctx)?.put(&key_bytes, &bytes)?;
        self.index.insert(key_bytes, time, len);
        self.enforce(ctx)
    }
}
