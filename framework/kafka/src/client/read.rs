//! Reading a topic from the beginning up to its current end.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers as _, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::error::{classify, Error, Result};
use crate::Connection;

/// Which records a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// Only records of committed transactions (and non-transactional ones);
    /// reading stops at the last stable offset.
    ReadCommitted,
    /// Every record in the log, aborted transactions included.
    ReadUncommitted,
}

impl Isolation {
    /// The value of Kafka's `isolation.level` setting.
    pub fn as_config(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "read_committed",
            Isolation::ReadUncommitted => "read_uncommitted",
        }
    }
}

/// A record read from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedRecord {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// Key bytes, if any.
    pub key: Option<Vec<u8>>,
    /// Value bytes, if any.
    pub value: Option<Vec<u8>>,
    /// Timestamp in ms since the epoch, if the record has one.
    pub timestamp: Option<i64>,
    /// Headers, in order: name and value (`None`: a null value).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// The reader's client context: the end-of-partition signals it asks for are
/// expected, so they are not logged as errors (librdkafka also reports them
/// as global errors, which rdkafka's default context logs at `error`).
struct ReadContext;

impl ClientContext for ReadContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let eof = matches!(error, KafkaError::PartitionEOF(_))
            || error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF);
        if eof {
            tracing::trace!(%error, reason, "end of partition");
        } else {
            tracing::error!(%error, reason, "librdkafka error while reading a topic");
        }
    }
}

impl ConsumerContext for ReadContext {}

/// Reads every partition of `topic` from the beginning up to its end as of
/// the call, and returns the records ordered by partition then offset.
///
/// The end of a partition is its high watermark under
/// [`Isolation::ReadUncommitted`] and its last stable offset under
/// [`Isolation::ReadCommitted`] (the broker's partition-EOF signal marks
/// it). Assigns partitions by hand: joins no consumer group, commits nothing. Bounded by
/// [`Connection::timeout`]: [`Error::Timeout`] if the end is not reached.
pub fn read_to_end(
    conn: &Connection,
    topic: &str,
    isolation: Isolation,
) -> Result<Vec<ConsumedRecord>> {
    let consume_error = |e: &KafkaError| Error::Consume {
        topic: topic.to_owned(),
        message: e.to_string(),
        kind: classify(e),
    };
    // librdkafka wants a group id even for manual assignment; this one is
    // never joined nor committed to.
    let group = format!(
        "weir-read-to-end-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let consumer: BaseConsumer<ReadContext> = conn
        .client_config(&[
            ("group.id", &group),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "true"),
            ("auto.offset.reset", "earliest"),
            ("isolation.level", isolation.as_config()),
        ])
        .create_with_context(ReadContext)
        .map_err(|e| Error::client(&e))?;
    let deadline = Instant::now() + conn.timeout();

    let partitions = topic_partitions(&consumer, topic, conn.timeout())?;

    // Snapshot the high watermarks: a partition is done once a record at
    // high - 1 was read, or at its EOF (the last stable offset under
    // read_committed, which may lie below the high watermark).
    let mut pending = BTreeSet::new();
    let mut high_of = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for &p in &partitions {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let (low, high) = consumer
            .fetch_watermarks(topic, p, remaining)
            .map_err(|e| consume_error(&e))?;
        high_of.insert(p, high);
        if high > low {
            pending.insert(p);
            assignment
                .add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|e| consume_error(&e))?;
        }
    }
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    consumer
        .assign(&assignment)
        .map_err(|e| consume_error(&e))?;

    let mut records = Vec::new();
    while !pending.is_empty() {
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::Timeout {
                operation: format!(
                    "reading topic '{topic}' to its end ({} of {} partitions not done)",
                    pending.len(),
                    partitions.len()
                ),
                after: conn.timeout(),
            });
        }
        let wait = (deadline - now).min(Duration::from_millis(200));
        match consumer.poll(wait) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
            }
            Some(Err(e)) => return Err(consume_error(&e)),
            Some(Ok(msg)) => {
                let (p, offset) = (msg.partition(), msg.offset());
                records.push(ConsumedRecord {
                    topic: msg.topic().to_owned(),
                    partition: p,
                    offset,
                    key: msg.key().map(<[u8]>::to_vec),
                    value: msg.payload().map(<[u8]>::to_vec),
                    timestamp: msg.timestamp().to_millis(),
                    headers: msg
                        .headers()
                        .map(|hs| {
                            hs.iter()
                                .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                                .collect()
                        })
                        .unwrap_or_default(),
                });
                if high_of.get(&p).is_some_and(|&high| offset + 1 >= high) {
                    pending.remove(&p);
                }
            }
        }
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    Ok(records)
}

/// The end offset (high watermark) of every partition of `topic`, as
/// `(partition, end)` ordered by partition. The sum of `end` is the number
/// of records ever written to a topic that was never truncated or compacted.
///
/// Joins no group and reads no record. Bounded by [`Connection::timeout`];
/// [`Error::UnknownTopic`] when the topic does not exist.
pub fn end_offsets(conn: &Connection, topic: &str) -> Result<Vec<(i32, i64)>> {
    let consume_error = |e: &KafkaError| Error::Consume {
        topic: topic.to_owned(),
        message: e.to_string(),
        kind: classify(e),
    };
    let consumer: BaseConsumer = conn
        .client_config(&[
            ("group.id", "weir-end-offsets"),
            ("enable.auto.commit", "false"),
        ])
        .create()
        .map_err(|e| Error::client(&e))?;
    let deadline = Instant::now() + conn.timeout();
    let partitions = topic_partitions(&consumer, topic, conn.timeout())?;
    partitions
        .into_iter()
        .map(|p| {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let (_, high) = consumer
                .fetch_watermarks(topic, p, remaining)
                .map_err(|e| consume_error(&e))?;
            Ok((p, high))
        })
        .collect()
}

/// The version of the librdkafka library linked in (for reports such as
/// benchmark headers).
pub fn librdkafka_version() -> String {
    rdkafka::util::get_rdkafka_version().1
}

/// The partitions of `topic`, sorted; an error naming it if it does not exist.
fn topic_partitions<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    timeout: std::time::Duration,
) -> Result<Vec<i32>> {
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| Error::Consume {
            topic: topic.to_owned(),
            message: e.to_string(),
            kind: classify(&e),
        })?;
    let mut partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(Error::UnknownTopic {
            topic: topic.to_owned(),
        });
    }
    partitions.sort_unstable();
    Ok(partitions)
}
