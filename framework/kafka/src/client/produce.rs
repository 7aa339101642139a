//! Producing records: the record type, and a batch producer that waits for
//! the broker's acknowledgements.

use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::client::delivery::DeliveryTracker;
use crate::error::{classify, Error, Result};
use crate::Connection;

/// A record to produce. Without a partition, the producer's partitioner
/// picks one from the key.
///
/// ```
/// use weir_kafka::ProduceRecord;
/// let r = ProduceRecord::new("k", "v").to_partition(2).with_header("id", "7");
/// assert_eq!(r.partition, Some(2));
/// assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
/// assert_eq!(r.headers, [("id".to_string(), Some(b"7".to_vec()))]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProduceRecord {
    /// Key bytes, if any.
    pub key: Option<Vec<u8>>,
    /// Value bytes, if any (`None` is a tombstone).
    pub value: Option<Vec<u8>>,
    /// Destination partition, if fixed.
    pub partition: Option<i32>,
    /// Timestamp in milliseconds since the epoch; `None` lets the producer stamp it.
    pub timestamp: Option<i64>,
    /// Headers, in order (a key may repeat; a `None` value is a null header),
    /// as [`ConsumedRecord::headers`](crate::ConsumedRecord::headers) reads them.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl ProduceRecord {
    /// A record with a key and a value.
    pub fn new(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        ProduceRecord {
            key: Some(key.into()),
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// A record with a value and no key.
    pub fn value_only(value: impl Into<Vec<u8>>) -> Self {
        ProduceRecord {
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// Sends the record to `partition`.
    pub fn to_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the record's timestamp (ms since the epoch).
    pub fn with_timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Adds header `key` with `value` after the record's other headers.
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((key.into(), Some(value.into())));
        self
    }
}

/// Where a produced record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordPosition {
    /// Partition.
    pub partition: i32,
    /// Offset in that partition.
    pub offset: i64,
}

/// Builds the rdkafka record for `record`, tagged with `index`.
pub(crate) fn base_record<'a>(
    topic: &'a str,
    record: &'a ProduceRecord,
    index: usize,
) -> BaseRecord<'a, [u8], [u8], usize> {
    let mut r: BaseRecord<'a, [u8], [u8], usize> = BaseRecord::with_opaque_to(topic, index);
    if let Some(key) = &record.key {
        r = r.key(key.as_slice());
    }
    if let Some(value) = &record.value {
        r = r.payload(value.as_slice());
    }
    if let Some(partition) = record.partition {
        r = r.partition(partition);
    }
    if let Some(ts) = record.timestamp {
        r = r.timestamp(ts);
    }
    if !record.headers.is_empty() {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (key, value) in &record.headers {
            headers = headers.insert(Header {
                key,
                value: value.as_deref(),
            });
        }
        r = r.headers(headers);
    }
    r
}

/// Enqueues `record`, waiting (up to `deadline`) while the local queue is full.
/// `poll` serves delivery reports to make room.
pub(crate) fn enqueue_with_retry<'a>(
    mut record: BaseRecord<'a, [u8], [u8], usize>,
    deadline: Instant,
    send: impl Fn(
        BaseRecord<'a, [u8], [u8], usize>,
    ) -> std::result::Result<(), Box<(KafkaError, BaseRecord<'a, [u8], [u8], usize>)>>,
    poll: impl Fn(Duration),
) -> std::result::Result<(), KafkaError> {
    loop {
        match send(record).map_err(|e| *e) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                if Instant::now() < deadline =>
            {
                record = back;
                poll(Duration::from_millis(50));
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Produces `records` to `topic` with an idempotent producer (`acks=all`)
/// and waits until every one is acknowledged, returning where each landed
/// (in the order given).
///
/// Bounded by [`Connection::timeout`].
pub fn produce_batch(
    conn: &Connection,
    topic: &str,
    records: &[ProduceRecord],
) -> Result<Vec<RecordPosition>> {
    let timeout_ms = conn.timeout().as_millis().to_string();
    let producer: BaseProducer<DeliveryTracker> = crate::client::tuning::producer(
        conn.client_config(&[
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("linger.ms", "5"),
            ("message.timeout.ms", &timeout_ms),
        ]),
        DeliveryTracker::default(),
    )?;
    let produce_error = |e: &KafkaError| Error::Produce {
        topic: topic.to_owned(),
        message: e.to_string(),
        kind: classify(e),
    };
    let deadline = Instant::now() + conn.timeout();
    for (index, record) in records.iter().enumerate() {
        enqueue_with_retry(
            base_record(topic, record, index),
            deadline,
            |r| producer.send(r).map_err(Box::new),
            |d| producer.poll(d),
        )
        .map_err(|e| produce_error(&e))?;
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    producer.flush(remaining).map_err(|e| match e {
        KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut) => Error::Timeout {
            operation: format!("producing {} records to topic '{topic}'", records.len()),
            after: conn.timeout(),
        },
        e => produce_error(&e),
    })?;
    let tracker = producer.context();
    (0..records.len())
        .map(|index| match tracker.take(index) {
            Some(Ok(position)) => Ok(position),
            Some(Err((message, kind))) => Err(Error::Produce {
                topic: topic.to_owned(),
                message,
                kind,
            }),
            None => Err(Error::Timeout {
                operation: format!("acknowledgement of record {index} to topic '{topic}'"),
                after: conn.timeout(),
            }),
        })
        .collect()
}
