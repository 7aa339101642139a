//! Event time: timestamp extractors and what to do with a record whose
//! timestamp is unusable.

use std::sync::Arc;

use crate::record::Record;

/// Picks a record's event time. The default, [`RecordTimestamp`], takes the
/// timestamp Kafka stored with the record; a custom extractor can read it from
/// the payload.
///
/// `partition_time` is the highest timestamp seen so far on the record's
/// partition (`-1` before the first), useful as a fallback.
pub trait TimestampExtractor<K, V>: Send + Sync {
    /// The event time of `record`, in milliseconds. A negative result is
    /// invalid and handled by the [`InvalidTimestampPolicy`].
    fn extract(&self, record: &Record<K, V>, partition_time: i64) -> i64;
}

/// The timestamp Kafka stored with the record (create time or log-append time).
#[derive(Debug, Default, Clone, Copy)]
pub struct RecordTimestamp;

impl<K, V> TimestampExtractor<K, V> for RecordTimestamp {
    fn extract(&self, record: &Record<K, V>, _partition_time: i64) -> i64 {
        record.timestamp
    }
}

impl<K, V, F> TimestampExtractor<K, V> for F
where
    F: Fn(&Record<K, V>, i64) -> i64 + Send + Sync,
{
    fn extract(&self, record: &Record<K, V>, partition_time: i64) -> i64 {
        self(record, partition_time)
    }
}

/// A shared timestamp extractor.
pub type SharedTimestampExtractor<K, V> = Arc<dyn TimestampExtractor<K, V>>;

/// What happens to a record whose extracted timestamp is negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidTimestampPolicy {
    /// Stop processing with [`Error::InvalidTimestamp`](crate::Error::InvalidTimestamp) (the default, as in Kafka Streams).
    #[default]
    Fail,
    /// Drop the record with a warning naming topic, partition and offset.
    LogAndSkip,
    /// Use the partition's time instead; fail if the partition has no time yet.
    UsePartitionTime,
}
