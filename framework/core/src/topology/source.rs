//! Source nodes: how a topology reads a topic (serdes, event time).

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::processor::{Data, ErasedRecord};
use crate::record::{RawRecordRef, Record};
use crate::serde::{SerdeContext, SharedSerde};
use crate::time::{
    InvalidTimestampPolicy, RecordTimestamp, SharedTimestampExtractor, TimestampExtractor,
};

/// How to read a topic: key and value serdes, the timestamp extractor, the
/// policy for invalid timestamps, and an optional node name (Kafka Streams'
/// `Consumed`).
pub struct Consumed<K, V> {
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<V>,
    pub(crate) extractor: SharedTimestampExtractor<K, V>,
    pub(crate) policy: InvalidTimestampPolicy,
    pub(crate) name: Option<String>,
}

impl<K, V> Clone for Consumed<K, V> {
    fn clone(&self) -> Self {
        Consumed {
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            extractor: self.extractor.clone(),
            policy: self.policy,
            name: self.name.clone(),
        }
    }
}

impl<K: 'static, V: 'static> Consumed<K, V> {
    /// Reads keys with `key_serde` and values with `value_serde`; event time is
    /// the record's Kafka timestamp.
    pub fn with(key_serde: SharedSerde<K>, value_serde: SharedSerde<V>) -> Self {
        Consumed {
            key_serde,
            value_serde,
            extractor: Arc::new(RecordTimestamp),
            policy: InvalidTimestampPolicy::default(),
            name: None,
        }
    }

    /// Takes event time from `extractor` instead of the Kafka timestamp.
    pub fn with_timestamp_extractor(
        mut self,
        extractor: impl TimestampExtractor<K, V> + 'static,
    ) -> Self {
        self.extractor = Arc::new(extractor);
        self
    }

    /// What to do with records whose extracted timestamp is negative.
    pub fn with_invalid_timestamp_policy(mut self, policy: InvalidTimestampPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Names the source node.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// Turns bytes from a topic into a typed record with its event time.
pub(crate) trait SourceDecoder: Send + Sync {
    /// `Ok(None)` means the record is skipped (invalid timestamp, by policy).
    fn decode(&self, raw: &RawRecordRef<'_>, partition_time: i64) -> Result<Option<ErasedRecord>>;
}

pub(crate) struct TypedSource<K, V>(pub(crate) Consumed<K, V>);

impl<K: Data, V: Data> SourceDecoder for TypedSource<K, V> {
    fn decode(&self, raw: &RawRecordRef<'_>, partition_time: i64) -> Result<Option<ErasedRecord>> {
        let c = &self.0;
        let key = c
            .key_serde
            .deserialize(&SerdeContext::key(raw.topic, raw.headers), raw.key)?;
        let value = c
            .value_serde
            .deserialize(&SerdeContext::value(raw.topic, raw.headers), raw.value)?;
        let mut record = Record::from_parts(key, value, raw.timestamp, raw.headers.clone());
        let mut ts = c.extractor.extract(&record, partition_time);
        if ts < 0 {
            match c.policy {
                InvalidTimestampPolicy::Fail => {
                    return Err(invalid_timestamp(raw, ts));
                }
                InvalidTimestampPolicy::LogAndSkip => {
                    tracing::warn!(
                        topic = %raw.topic,
                        partition = raw.partition,
                        offset = raw.offset,
                        timestamp = ts,
                        "skipping record with invalid timestamp"
                    );
                    return Ok(None);
                }
                InvalidTimestampPolicy::UsePartitionTime => {
                    if partition_time < 0 {
                        return Err(invalid_timestamp(raw, ts));
                    }
                    ts = partition_time;
                }
            }
        }
        record.timestamp = ts;
        Ok(Some(ErasedRecord::erase(record)))
    }
}

fn invalid_timestamp(raw: &RawRecordRef<'_>, timestamp: i64) -> Error {
    Error::InvalidTimestamp {
        topic: raw.topic.to_string(),
        partition: raw.partition,
        offset: raw.offset,
        timestamp,
    }
}
