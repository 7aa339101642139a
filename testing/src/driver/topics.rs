//! [`TestInputTopic`] and [`TestOutputTopic`]: typed ends of the driver's topics.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use weir_core::serde::SharedSerde;
use weir_core::{Error, Headers, RawRecord, Record, Result, SerdeContext, SerializeContext};

use super::state::{lock, Incoming, Shared};

/// A key and a value read from an output topic; either may be missing (a
/// record without a key, a tombstone).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyValue<K, V> {
    /// The key, `None` for a record without a key.
    pub key: Option<K>,
    /// The value, `None` for a tombstone.
    pub value: Option<V>,
}

impl<K, V> KeyValue<K, V> {
    /// A key with a value.
    pub fn new(key: K, value: V) -> Self {
        KeyValue {
            key: Some(key),
            value: Some(value),
        }
    }

    /// A tombstone for `key`.
    pub fn tombstone(key: K) -> Self {
        KeyValue {
            key: Some(key),
            value: None,
        }
    }
}

/// Writes typed records into one of the driver's topics; each pipe call
/// processes what it piped (and all that follows from it) before returning.
///
/// Records piped without a timestamp take the topic's time, which then
/// advances by the topic's step (see
/// [`create_input_topic_with_time`](super::TopologyTestDriver::create_input_topic_with_time)).
/// Records piped without a partition go where Kafka's default partitioner puts
/// them ([`default_partition`](super::default_partition)).
pub struct TestInputTopic<K, V> {
    shared: Shared,
    topic: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
    current_ms: i64,
    advance_ms: i64,
}

impl<K, V> fmt::Debug for TestInputTopic<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestInputTopic")
            .field("topic", &self.topic)
            .field("current_ms", &self.current_ms)
            .field("advance_ms", &self.advance_ms)
            .finish_non_exhaustive()
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl<K, V> TestInputTopic<K, V> {
    pub(crate) fn new(
        shared: Shared,
        topic: &str,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
        start_ms: i64,
        advance: Duration,
    ) -> Self {
        TestInputTopic {
            shared,
            topic: topic.to_string(),
            key_serde,
            value_serde,
            current_ms: start_ms,
            advance_ms: millis(advance),
        }
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The timestamp the next record piped without one will get.
    pub fn current_time_ms(&self) -> i64 {
        self.current_ms
    }

    /// Moves the topic's time forward by `advance`.
    pub fn advance_time(&mut self, advance: Duration) {
        self.current_ms = self.current_ms.saturating_add(millis(advance));
    }

    /// The topic's time for a record without a timestamp; the time advances.
    fn next_time(&mut self) -> i64 {
        let t = self.current_ms;
        self.current_ms = self.current_ms.saturating_add(self.advance_ms);
        t
    }

    fn encode(&self, partition: Option<i32>, record: Record<K, V>) -> Result<Incoming> {
        let mut headers = record.headers;
        let key = match &record.key {
            Some(k) => self
                .key_serde
                .serialize(&mut SerializeContext::key(&self.topic, &mut headers), k)?,
            None => None,
        };
        let value = match &record.value {
            Some(v) => self
                .value_serde
                .serialize(&mut SerializeContext::value(&self.topic, &mut headers), v)?,
            None => None,
        };
        Ok(Incoming {
            topic: self.topic.clone(),
            partition,
            key,
            value,
            timestamp: record.timestamp,
            headers,
        })
    }

    fn pipe_encoded(&self, records: Vec<Incoming>) -> Result<()> {
        lock(&self.shared).pipe(records)
    }

    /// Pipes a value without a key, at the topic's time.
    pub fn pipe_input(&mut self, value: V) -> Result<()> {
        let ts = self.next_time();
        self.pipe_record(Record::from_parts(None, Some(value), ts, Headers::new()))
    }

    /// Pipes a key and a value, at the topic's time.
    pub fn pipe_key_value(&mut self, key: K, value: V) -> Result<()> {
        let ts = self.next_time();
        self.pipe_record(Record::new(key, value, ts))
    }

    /// Pipes a key and a value at `timestamp` (the topic's time does not move).
    pub fn pipe_key_value_at(&mut self, key: K, value: V, timestamp: i64) -> Result<()> {
        self.pipe_record(Record::new(key, value, timestamp))
    }

    /// Pipes `record` (its key or value may be missing) at its own timestamp.
    pub fn pipe_record(&mut self, record: Record<K, V>) -> Result<()> {
        let encoded = self.encode(None, record)?;
        self.pipe_encoded(vec![encoded])
    }

    /// Pipes `record` into `partition` at its own timestamp.
    pub fn pipe_record_at(&mut self, partition: i32, record: Record<K, V>) -> Result<()> {
        let encoded = self.encode(Some(partition), record)?;
        self.pipe_encoded(vec![encoded])
    }

    /// Pipes each value (without a key) at the topic's time, one after the
    /// other: each is processed before the next is piped.
    pub fn pipe_value_list(&mut self, values: impl IntoIterator<Item = V>) -> Result<()> {
        for v in values {
            self.pipe_input(v)?;
        }
        Ok(())
    }

    /// Pipes each key and value at the topic's time, one after the other:
    /// each is processed before the next is piped.
    pub fn pipe_key_value_list(&mut self, pairs: impl IntoIterator<Item = (K, V)>) -> Result<()> {
        for (k, v) in pairs {
            self.pipe_key_value(k, v)?;
        }
        Ok(())
    }

    /// Pipes a batch of `(partition, record)` at once: every record is queued
    /// in its task before any is processed, so each task takes them in
    /// timestamp order across its partitions, as the runtime does with a
    /// fetched batch. Nothing is queued if a record cannot be serialized.
    pub fn pipe_records(
        &mut self,
        records: impl IntoIterator<Item = (i32, Record<K, V>)>,
    ) -> Result<()> {
        let encoded = self.encode_all(records)?;
        self.pipe_encoded(encoded)
    }

    /// Queues a batch of `(partition, record)` in the tasks without processing
    /// it: the next pipe call on any topic, or
    /// [`process_queued`](super::TopologyTestDriver::process_queued), processes
    /// it. Use it to model one fetch that brings records of several topics,
    /// which a task then takes in timestamp order.
    pub fn queue_records(
        &mut self,
        records: impl IntoIterator<Item = (i32, Record<K, V>)>,
    ) -> Result<()> {
        let encoded = self.encode_all(records)?;
        lock(&self.shared).enqueue(encoded)
    }

    fn encode_all(
        &self,
        records: impl IntoIterator<Item = (i32, Record<K, V>)>,
    ) -> Result<Vec<Incoming>> {
        records
            .into_iter()
            .map(|(p, r)| self.encode(Some(p), r))
            .collect()
    }
}

/// Reads typed records from one of the driver's topics, in the order the
/// topology sent them (across partitions). Reading consumes.
///
/// Value-only reads ([`read_value`](Self::read_value),
/// [`read_values_to_list`](Self::read_values_to_list)) refuse a tombstone with
/// an error: read tables through [`read_key_value`](Self::read_key_value),
/// [`read_record`](Self::read_record) or
/// [`read_key_values_to_map`](Self::read_key_values_to_map).
pub struct TestOutputTopic<K, V> {
    shared: Shared,
    topic: String,
    key_serde: SharedSerde<K>,
    value_serde: SharedSerde<V>,
}

impl<K, V> fmt::Debug for TestOutputTopic<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestOutputTopic")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl<K, V> TestOutputTopic<K, V> {
    pub(crate) fn new(
        shared: Shared,
        topic: &str,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> Self {
        TestOutputTopic {
            shared,
            topic: topic.to_string(),
            key_serde,
            value_serde,
        }
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// How many records are waiting to be read.
    pub fn queue_size(&self) -> usize {
        lock(&self.shared).unread_count(&self.topic)
    }

    /// Whether no record is waiting to be read.
    pub fn is_empty(&self) -> bool {
        self.queue_size() == 0
    }

    fn take(&self, max: usize) -> Vec<RawRecord> {
        lock(&self.shared).read_output(&self.topic, max)
    }

    fn decode(&self, raw: RawRecord) -> Result<Record<K, V>> {
        let key = self.key_serde.deserialize(
            &SerdeContext::key(&raw.topic, &raw.headers),
            raw.key.as_deref(),
        )?;
        let value = self.value_serde.deserialize(
            &SerdeContext::value(&raw.topic, &raw.headers),
            raw.value.as_deref(),
        )?;
        Ok(Record::from_parts(key, value, raw.timestamp, raw.headers))
    }

    /// The value of `raw`; a tombstone is an error naming where it sits.
    fn decode_value(&self, raw: RawRecord) -> Result<V> {
        let at = position(&raw);
        self.decode(raw)?
            .value
            .ok_or_else(|| Error::Deserialization {
                topic: self.topic.clone(),
                what: "value",
                message: format!(
                    "the record at {at} is a tombstone; read it with read_record or read_key_value"
                ),
            })
    }

    fn decode_all(&self, raws: Vec<RawRecord>) -> Result<Vec<Record<K, V>>> {
        raws.into_iter().map(|r| self.decode(r)).collect()
    }

    /// The next record (key, value, timestamp, headers), or `None` if none is left.
    pub fn read_record(&self) -> Result<Option<Record<K, V>>> {
        self.take(1)
            .into_iter()
            .next()
            .map(|r| self.decode(r))
            .transpose()
    }

    /// The next key and value, or `None` if no record is left.
    pub fn read_key_value(&self) -> Result<Option<KeyValue<K, V>>> {
        Ok(self.read_record()?.map(|r| KeyValue {
            key: r.key,
            value: r.value,
        }))
    }

    /// The next value, or `None` if no record is left. A tombstone is an error.
    pub fn read_value(&self) -> Result<Option<V>> {
        self.take(1)
            .into_iter()
            .next()
            .map(|r| self.decode_value(r))
            .transpose()
    }

    /// Every record left, in order.
    pub fn read_records_to_list(&self) -> Result<Vec<Record<K, V>>> {
        self.decode_all(self.take(usize::MAX))
    }

    /// Every key and value left, in order.
    pub fn read_key_values_to_list(&self) -> Result<Vec<KeyValue<K, V>>> {
        Ok(self
            .read_records_to_list()?
            .into_iter()
            .map(|r| KeyValue {
                key: r.key,
                value: r.value,
            })
            .collect())
    }

    /// Every value left, in order. A tombstone is an error.
    pub fn read_values_to_list(&self) -> Result<Vec<V>> {
        self.take(usize::MAX)
            .into_iter()
            .map(|r| self.decode_value(r))
            .collect()
    }

    /// The latest value of every key, reading every record left: a table's
    /// final state. A tombstone removes its key; a record without a key is an
    /// error.
    pub fn read_key_values_to_map(&self) -> Result<BTreeMap<K, V>>
    where
        K: Ord,
    {
        let mut map = BTreeMap::new();
        for raw in self.take(usize::MAX) {
            let at = position(&raw);
            let r = self.decode(raw)?;
            let Some(key) = r.key else {
                return Err(Error::Deserialization {
                    topic: self.topic.clone(),
                    what: "key",
                    message: format!(
                        "the record at {at} has no key; read_key_values_to_map needs keys"
                    ),
                });
            };
            match r.value {
                Some(v) => {
                    map.insert(key, v);
                }
                None => {
                    map.remove(&key);
                }
            }
        }
        Ok(map)
    }
}

fn position(raw: &RawRecord) -> String {
    format!("partition {}, offset {}", raw.partition, raw.offset)
}
