//! How far each assigned partition's fetch is behind the end of its log, for
//! the engine's choice to hold a task back (Kafka Streams' KIP-695): the
//! end is the high watermark librdkafka caches from every fetch response,
//! the position is where the thread stands (librdkafka steps it over
//! transaction markers), or, before the first record since the assignment,
//! the committed offset (looked up once, then cached). Reading
//! `read_committed`, a partition behind its high watermark may only have an
//! open transaction left: its last stable offset is then asked of the broker
//! (at most every [`STABLE_REFRESH`]), as Kafka Streams' lag is against it.
//!
//! The last stable offset is asked through a consumer of its own (the
//! *probe*), never through the thread's: the broker answers a connection's
//! requests in order, so a ListOffsets sent behind the thread's fetch (held
//! up to `fetch.wait.max.ms` for data) timed out, and librdkafka then closed
//! the connection, in-flight fetch included: under exactly-once a join's
//! partitions went unfetched for minutes.

use std::collections::HashMap;
use std::ffi::CString;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};
use weir_core::record::TopicPartition;

use crate::runtime::restore::manual_consumer;
use crate::runtime::RuntimeConfig;

/// Time given to a committed-offset lookup.
const LOOKUP_TIMEOUT: Duration = Duration::from_millis(500);
/// Time between retries of a failed committed-offset lookup.
const LOOKUP_RETRY: Duration = Duration::from_secs(1);

/// How long an asked last stable offset is used before it is asked again.
const STABLE_REFRESH: Duration = Duration::from_millis(100);
/// Time given to asking a last stable offset.
const STABLE_TIMEOUT: Duration = Duration::from_millis(500);

/// What the lag of a thread's partitions needs beyond librdkafka's cache:
/// where the thread starts reading a partition it has read nothing from yet
/// (the committed offset, or `None`: nothing committed, so the log's start),
/// and the last stable offsets asked of the broker.
pub(crate) struct FetchLagCache {
    /// Whether the thread reads `read_committed` (lags are then against the
    /// last stable offset).
    read_committed: bool,
    starts: HashMap<TopicPartition, Option<i64>>,
    failed_at: Option<Instant>,
    /// Last stable offsets asked of the broker (`read_committed` only).
    stable: HashMap<TopicPartition, (i64, Instant)>,
    /// The consumer that asks them, on a connection of its own (made at
    /// the first question, kept across assignments).
    probe: Option<BaseConsumer>,
}

impl FetchLagCache {
    /// An empty cache for a thread that reads `read_committed` or not.
    pub(crate) fn new(read_committed: bool) -> Self {
        FetchLagCache {
            read_committed,
            starts: HashMap::new(),
            failed_at: None,
            stable: HashMap::new(),
            probe: None,
        }
    }

    /// Forgets every offset: the assignment changed, or the thread rewound.
    pub(crate) fn clear(&mut self) {
        self.starts.clear();
        self.failed_at = None;
        self.stable.clear();
    }

    /// The lag of every partition in `partitions`: records in the log not yet
    /// handed to the thread, as of the last fetch response (`None`: unknown).
    /// `config` makes the probe when a last stable offset is first asked.
    pub(crate) fn lags<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        partitions: &[TopicPartition],
        config: &RuntimeConfig,
    ) -> HashMap<TopicPartition, i64> {
        let mut lags = HashMap::new();
        if partitions.is_empty() {
            return lags;
        }
        let positions = consumer.position().ok();
        let mut unstarted = Vec::new();
        for tp in partitions {
            let Some((low, high)) = cached_watermarks(consumer, tp) else {
                continue;
            };
            let position = positions.as_ref().and_then(|p| offset_in(p, tp));
            if let Some(position) = position {
                let mut lag = high - position;
                if lag > 0 && self.read_committed {
                    if let Some(stable) = self.stable_offset(config, tp) {
                        lag = lag.min(stable - position);
                    }
                }
                lags.insert(tp.clone(), lag);
            } else if high <= low {
                // An empty log: nothing to fetch wherever the thread starts.
                lags.insert(tp.clone(), 0);
            } else {
                match self.starts.get(tp) {
                    Some(start) => {
                        lags.insert(tp.clone(), high - start.unwrap_or(low).max(low));
                    }
                    None => unstarted.push((tp, low, high)),
                }
            }
        }
        if !unstarted.is_empty() && self.failed_at.is_none_or(|t| t.elapsed() >= LOOKUP_RETRY) {
            let mut tpl = TopicPartitionList::new();
            for (tp, _, _) in &unstarted {
                tpl.add_partition(&tp.topic, tp.partition);
            }
            match consumer.committed_offsets(tpl, LOOKUP_TIMEOUT) {
                Ok(committed) => {
                    self.failed_at = None;
                    for (tp, low, high) in unstarted {
                        let start =
                            committed
                                .find_partition(&tp.topic, tp.partition)
                                .and_then(|e| match e.offset() {
                                    Offset::Offset(o) => Some(o),
                                    _ => None,
                                });
                        self.starts.insert(tp.clone(), start);
                        lags.insert(tp.clone(), high - start.unwrap_or(low).max(low));
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "committed offsets lookup for the fetch lag failed");
                    self.failed_at = Some(Instant::now());
                }
            }
        }
        lags
    }
}

impl FetchLagCache {
    /// `tp`'s last stable offset, asked of the broker through the probe
    /// when the one known is older than [`STABLE_REFRESH`] (`None` when the
    /// broker does not answer).
    fn stable_offset(&mut self, config: &RuntimeConfig, tp: &TopicPartition) -> Option<i64> {
        if let Some((offset, at)) = self.stable.get(tp) {
            if at.elapsed() < STABLE_REFRESH {
                return Some(*offset);
            }
        }
        if self.probe.is_none() {
            match manual_consumer(config, "lag", &[]) {
                Ok(probe) => self.probe = Some(probe),
                Err(e) => {
                    tracing::debug!(error = %e, "the consumer asking last stable offsets could not be made");
                    return None;
                }
            }
        }
        let probe = self.probe.as_ref()?;
        // A read_committed consumer's ListOffsets answers the last stable
        // offset as the end.
        match probe.fetch_watermarks(&tp.topic, tp.partition, STABLE_TIMEOUT) {
            Ok((_, end)) => {
                self.stable.insert(tp.clone(), (end, Instant::now()));
                Some(end)
            }
            Err(e) => {
                tracing::debug!(partition = %tp, error = %e, "asking the last stable offset failed");
                None
            }
        }
    }
}

/// `tp`'s offset in `list`, when it is a real offset (not invalid, end, ...).
fn offset_in(list: &TopicPartitionList, tp: &TopicPartition) -> Option<i64> {
    match list.find_partition(&tp.topic, tp.partition)?.offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    }
}

/// The low and high watermarks librdkafka last saw in a fetch response for
/// `tp` (no request is sent); `None` before the first.
#[allow(unsafe_code)]
fn cached_watermarks<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    tp: &TopicPartition,
) -> Option<(i64, i64)> {
    let topic = CString::new(tp.topic.as_str()).ok()?;
    let (mut low, mut high) = (-1_i64, -1_i64);
    // SAFETY: the client handle is valid for the consumer's lifetime, which
    // outlives this call; `topic` is a NUL-terminated string alive for the
    // call; `low` and `high` are valid for writes. librdkafka only reads its
    // cached partition state under the partition's lock (rdkafka.h:
    // rd_kafka_get_watermark_offsets).
    let err = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            tp.partition,
            &mut low,
            &mut high,
        )
    };
    (err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some((low.max(0), high))
}
