//! Records: what flows through a topology, and where a record came from.

use crate::headers::Headers;

/// A record as processors see it: an optional key, an optional value (a
/// missing value is a tombstone), an event timestamp in milliseconds since the
/// epoch, and headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<K, V> {
    /// The key; `None` for a record without a key.
    pub key: Option<K>,
    /// The value; `None` is a tombstone.
    pub value: Option<V>,
    /// Event time in milliseconds since the epoch.
    pub timestamp: i64,
    /// Record headers.
    pub headers: Headers,
}

impl<K, V> Record<K, V> {
    /// A record with a key and a value at `timestamp`, without headers.
    pub fn new(key: K, value: V, timestamp: i64) -> Self {
        Record {
            key: Some(key),
            value: Some(value),
            timestamp,
            headers: Headers::default(),
        }
    }

    /// A record whose key and value may be missing.
    pub fn from_parts(key: Option<K>, value: Option<V>, timestamp: i64, headers: Headers) -> Self {
        Record {
            key,
            value,
            timestamp,
            headers,
        }
    }

    /// The same record with another key (and key type).
    pub fn with_key<K2>(self, key: Option<K2>) -> Record<K2, V> {
        Record {
            key,
            value: self.value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The same record with another value (and value type).
    pub fn with_value<V2>(self, value: Option<V2>) -> Record<K, V2> {
        Record {
            key: self.key,
            value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The same record with another timestamp.
    pub fn with_timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// The same record with other headers.
    pub fn with_headers(mut self, headers: Headers) -> Self {
        self.headers = headers;
        self
    }
}

/// A topic and a partition of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
}

impl TopicPartition {
    /// Names `topic`'s `partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

/// An offset to commit (the next one to consume) and the metadata
/// committed with it: the task's processor metadata (see
/// [`ProcessorContext::processor_metadata`](crate::processor::ProcessorContext::processor_metadata)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset to consume.
    pub offset: i64,
    /// The metadata committed with it, if any.
    pub metadata: Option<std::sync::Arc<str>>,
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Where the record being processed came from. Absent during punctuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Source topic.
    pub topic: String,
    /// Source partition.
    pub partition: i32,
    /// Offset of the record in its partition.
    pub offset: i64,
}

/// A record as read from a topic, still in bytes. The runtime and the test
/// driver hand these to a task.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    /// Source topic.
    pub topic: String,
    /// Source partition.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// The timestamp the broker stored with the record.
    pub timestamp: i64,
    /// Key bytes; `None` for a null key.
    pub key: Option<Vec<u8>>,
    /// Value bytes; `None` for a null value.
    pub value: Option<Vec<u8>>,
    /// Record headers.
    pub headers: Headers,
}

impl RawRecord {
    /// The record borrowed, as [`Task::add_record`](crate::task::Task::add_record) takes it.
    pub fn as_ref(&self) -> RawRecordRef<'_> {
        RawRecordRef {
            topic: &self.topic,
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            headers: &self.headers,
        }
    }
}

/// The source record behind a task's output, as read (in bytes) and with
/// the task that read it. The task keeps one per queued record only when
/// it must (a dead-letter topic is set, or a handler asks for the bytes),
/// and shares it by reference count with every record its sinks send while
/// processing it: a send the broker refuses in its delivery report still
/// reaches the production handler with its source record, which stays in
/// memory until the last of those sends is acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// The task that read the record.
    pub task: crate::task::TaskId,
    /// The record as read.
    pub record: RawRecord,
}

impl SourceRecord {
    /// Where the record came from.
    pub fn metadata(&self) -> RecordMetadata {
        RecordMetadata {
            topic: self.record.topic.clone(),
            partition: self.record.partition,
            offset: self.record.offset,
        }
    }
}

/// A [`RawRecord`] borrowed from wherever its bytes are: the Kafka runtime
/// hands a task each record straight from the client's fetch buffers, so the
/// source decodes the key and value without copying them first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawRecordRef<'a> {
    /// Source topic.
    pub topic: &'a str,
    /// Source partition.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// The timestamp the broker stored with the record.
    pub timestamp: i64,
    /// Key bytes; `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// Value bytes; `None` for a null value.
    pub value: Option<&'a [u8]>,
    /// Record headers.
    pub headers: &'a Headers,
}

impl RawRecordRef<'_> {
    /// An owned copy (for a deserialization handler, which gets the record
    /// it is told about as a [`RawRecord`]).
    pub fn to_owned_record(&self) -> RawRecord {
        RawRecord {
            topic: self.topic.to_string(),
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.map(<[u8]>::to_vec),
            headers: self.headers.clone(),
        }
    }
}

/// A record in bytes on its way to a topic, as a task hands it to a
/// [`RecordCollector`](crate::collector::RecordCollector).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputRecord {
    /// Destination topic (internal topics already carry the application id
    /// prefix); shared, so a sink does not allocate its name for each record.
    pub topic: std::sync::Arc<str>,
    /// The partition chosen by a partitioner, or `None` for the producer's default
    /// (murmur2 of the key bytes, as Kafka's Java producer does).
    pub partition: Option<i32>,
    /// Key bytes.
    pub key: Option<Vec<u8>>,
    /// Value bytes.
    pub value: Option<Vec<u8>>,
    /// Record timestamp.
    pub timestamp: i64,
    /// Record headers.
    pub headers: Headers,
}
