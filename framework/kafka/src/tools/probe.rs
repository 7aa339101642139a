//! Instruments for benchmarks: an [`OutputProbe`] that follows a topic as it
//! is written (counting the records a reader can see, noting when the first
//! and the N-th became visible, optionally keeping them with their
//! timestamps), and [`PacedProducer`], a producer that offers records at a
//! fixed rate stamped with the time they are sent.
//!
//! Like [`crate::tools::copier`], these serve the benchmarks (testing/bench), not
//! applications.
//!
//! ```no_run
//! use std::time::Duration;
//! use weir_kafka::tools::probe::OutputProbe;
//! use weir_kafka::{Connection, Isolation};
//!
//! let conn = Connection::new("127.0.0.1:9092");
//! let probe = OutputProbe::start(&conn, "out", Isolation::ReadCommitted, 1_000, false, Duration::from_secs(60))?;
//! // ... run the application that writes "out" ...
//! while probe.reached_at().is_none() && probe.is_running() {
//!     std::thread::sleep(Duration::from_millis(5));
//! }
//! let seen = probe.finish()?;
//! # Ok::<(), weir_kafka::Error>(())
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, Timestamp};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::client::delivery::DeliveryTracker;
use crate::error::{classify, Error, Result};
use crate::{Connection, Isolation, ProduceRecord};

/// A record the probe kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbedRecord {
    /// Partition.
    pub partition: i32,
    /// Key bytes, if any.
    pub key: Option<Vec<u8>>,
    /// Value bytes, if any.
    pub value: Option<Vec<u8>>,
    /// Timestamp in ms since the epoch, if the record has one.
    pub timestamp: Option<i64>,
    /// Whether that timestamp is the broker's log-append time (the topic's
    /// `message.timestamp.type=LogAppendTime`) rather than the producer's.
    pub log_append_time: bool,
}

struct Progress {
    count: AtomicU64,
    first_at: OnceLock<Instant>,
    reached_at: OnceLock<Instant>,
    done: AtomicBool,
}

/// Follows every partition of a topic from the beginning on a thread of its
/// own (manual assignment, no group, no commits). See the module doc.
pub struct OutputProbe {
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Result<Vec<ProbedRecord>>>,
}

impl OutputProbe {
    /// Starts following `topic` (which must exist) with `isolation`.
    /// `target`: [`reached_at`](Self::reached_at) notes when the count of
    /// records seen reaches it. `keep`: keep every record seen (for
    /// [`finish`](Self::finish)). The thread stops by itself after
    /// `max_duration`.
    pub fn start(
        conn: &Connection,
        topic: &str,
        isolation: Isolation,
        target: u64,
        keep: bool,
        max_duration: Duration,
    ) -> Result<Self> {
        let consume_error = |e: &KafkaError| Error::Consume {
            topic: topic.to_owned(),
            message: e.to_string(),
            kind: classify(e),
        };
        let group = format!(
            "weir-probe-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let consumer: BaseConsumer = conn
            .client_config(&[
                ("group.id", &group),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("enable.partition.eof", "false"),
                ("auto.offset.reset", "earliest"),
                ("isolation.level", isolation.as_config()),
                ("fetch.wait.max.ms", "100"),
            ])
            .create()
            .map_err(|e| Error::client(&e))?;
        let metadata = consumer
            .fetch_metadata(Some(topic), conn.timeout())
            .map_err(|e| consume_error(&e))?;
        let mut assignment = TopicPartitionList::new();
        for t in metadata.topics().iter().filter(|t| t.name() == topic) {
            for p in t.partitions() {
                assignment
                    .add_partition_offset(topic, p.id(), Offset::Beginning)
                    .map_err(|e| consume_error(&e))?;
            }
        }
        if assignment.count() == 0 {
            return Err(Error::UnknownTopic {
                topic: topic.to_owned(),
            });
        }
        consumer
            .assign(&assignment)
            .map_err(|e| consume_error(&e))?;
        let progress = Arc::new(Progress {
            count: AtomicU64::new(0),
            first_at: OnceLock::new(),
            reached_at: OnceLock::new(),
            done: AtomicBool::new(false),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s, name) = (progress.clone(), stop.clone(), topic.to_owned());
        let handle = std::thread::Builder::new()
            .name("weir-probe".to_string())
            .spawn(move || {
                let result = follow(&consumer, &name, &p, &s, target, keep, max_duration);
                p.done.store(true, Ordering::Release);
                result
            })
            .map_err(|e| Error::Consume {
                topic: topic.to_owned(),
                message: format!("cannot start the probe thread: {e}"),
                kind: weir_core::ErrorKind::Fatal,
            })?;
        Ok(OutputProbe {
            progress,
            stop,
            handle,
        })
    }

    /// Records seen so far.
    pub fn count(&self) -> u64 {
        self.progress.count.load(Ordering::Acquire)
    }

    /// When the first record was seen.
    pub fn first_at(&self) -> Option<Instant> {
        self.progress.first_at.get().copied()
    }

    /// When the count reached the target given to [`start`](Self::start).
    pub fn reached_at(&self) -> Option<Instant> {
        self.progress.reached_at.get().copied()
    }

    /// Whether the probe thread still runs (it stops on an error or after
    /// its `max_duration`).
    pub fn is_running(&self) -> bool {
        !self.progress.done.load(Ordering::Acquire)
    }

    /// Stops the probe and returns the records it kept (none unless `keep`),
    /// or the error that stopped it.
    pub fn finish(self) -> Result<Vec<ProbedRecord>> {
        self.stop.store(true, Ordering::Release);
        self.handle.join().map_err(|_| Error::Consume {
            topic: String::new(),
            message: "the probe thread panicked".to_string(),
            kind: weir_core::ErrorKind::Fatal,
        })?
    }
}

fn follow(
    consumer: &BaseConsumer,
    topic: &str,
    progress: &Progress,
    stop: &AtomicBool,
    target: u64,
    keep: bool,
    max_duration: Duration,
) -> Result<Vec<ProbedRecord>> {
    let deadline = Instant::now() + max_duration;
    let mut kept = Vec::new();
    let mut count = 0u64;
    while !stop.load(Ordering::Acquire) && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(20)) {
            None => {}
            Some(Ok(msg)) => {
                count += 1;
                let now = Instant::now();
                if count == 1 {
                    let _ = progress.first_at.set(now);
                }
                if count == target {
                    let _ = progress.reached_at.set(now);
                }
                progress.count.store(count, Ordering::Release);
                if keep {
                    let (timestamp, log_append_time) = match msg.timestamp() {
                        Timestamp::NotAvailable => (None, false),
                        Timestamp::CreateTime(t) => (Some(t), false),
                        Timestamp::LogAppendTime(t) => (Some(t), true),
                    };
                    kept.push(ProbedRecord {
                        partition: msg.partition(),
                        key: msg.key().map(<[u8]>::to_vec),
                        value: msg.payload().map(<[u8]>::to_vec),
                        timestamp,
                        log_append_time,
                    });
                }
            }
            Some(Err(e)) => match classify(&e) {
                kind @ (weir_core::ErrorKind::Fatal | weir_core::ErrorKind::User) => {
                    return Err(Error::Consume {
                        topic: topic.to_owned(),
                        message: e.to_string(),
                        kind,
                    })
                }
                _ => tracing::debug!(error = %e, "probe: consumer error; retrying"),
            },
        }
    }
    Ok(kept)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A producer that offers records at a fixed rate, each stamped with the
/// wall-clock time it is handed to the producer (see [`offer`](Self::offer)).
///
/// Idempotent, `acks=all`, `linger.ms=0`, so the time a record waits before
/// it is sent is short and the same for every reader. Offer a few records
/// first (a warm-up): a new producer holds its first records until it has
/// its metadata and producer id, which would count as latency.
pub struct PacedProducer {
    producer: BaseProducer<DeliveryTracker>,
    topic: String,
    max_duration: Duration,
}

impl PacedProducer {
    /// A producer to `topic`; every [`offer`](Self::offer) is bounded by `max_duration`.
    pub fn new(conn: &Connection, topic: &str, max_duration: Duration) -> Result<Self> {
        let timeout_ms = max_duration.as_millis().to_string();
        let producer: BaseProducer<DeliveryTracker> = crate::client::tuning::producer(
            conn.client_config(&[
                ("acks", "all"),
                ("enable.idempotence", "true"),
                ("linger.ms", "0"),
                ("message.timeout.ms", &timeout_ms),
            ]),
            DeliveryTracker::default(),
        )?;
        Ok(PacedProducer {
            producer,
            topic: topic.to_owned(),
            max_duration,
        })
    }

    fn produce_error(&self, e: &KafkaError) -> Error {
        Error::Produce {
            topic: self.topic.clone(),
            message: e.to_string(),
            kind: classify(e),
        }
    }

    fn check_deliveries(&self) -> Result<()> {
        match self.producer.context().drain_first_error() {
            Some((message, kind)) => Err(Error::Produce {
                topic: self.topic.clone(),
                message,
                kind,
            }),
            None => Ok(()),
        }
    }

    /// Produces `count` records at `rate` records per second (in small
    /// bursts every `tick`, catching up when behind), record `i` made by
    /// `make(i)`, and waits for every acknowledgement. Returns each record's
    /// timestamp (ms since the epoch), in order.
    pub fn offer(
        &self,
        count: u64,
        rate: f64,
        tick: Duration,
        mut make: impl FnMut(u64) -> ProduceRecord,
    ) -> Result<Vec<i64>> {
        let topic = self.topic.as_str();
        let start = Instant::now();
        let deadline = start + self.max_duration;
        let rate = rate.max(1.0);
        let mut stamps = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        let mut sent = 0u64;
        while sent < count {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    operation: format!("offering {count} records to '{topic}' ({sent} sent)"),
                    after: self.max_duration,
                });
            }
            // Records due by now on the fixed schedule.
            let due = ((now - start).as_secs_f64() * rate) as u64 + 1;
            while sent < due.min(count) {
                stamps.push(self.send_at(&make(sent), sent, deadline)?);
                sent += 1;
            }
            self.poll_deliveries()?;
            if sent < count {
                std::thread::sleep(tick);
            }
        }
        self.wait_until(deadline)?;
        Ok(stamps)
    }

    /// Sends `record` (number `seq`, its delivery opaque), stamped with the
    /// wall-clock time it is handed to the producer, without waiting for its
    /// acknowledgement; returns the stamp (ms since the epoch). A full
    /// producer queue is waited on until `deadline`.
    pub fn send_at(&self, record: &ProduceRecord, seq: u64, deadline: Instant) -> Result<i64> {
        let ts = now_ms();
        let mut r: BaseRecord<'_, [u8], [u8], usize> =
            BaseRecord::with_opaque_to(&self.topic, usize::try_from(seq).unwrap_or(usize::MAX));
        if let Some(k) = &record.key {
            r = r.key(k.as_slice());
        }
        if let Some(v) = &record.value {
            r = r.payload(v.as_slice());
        }
        if let Some(p) = record.partition {
            r = r.partition(p);
        }
        r = r.timestamp(ts);
        crate::client::produce::enqueue_with_retry(
            r,
            deadline,
            |r| self.producer.send(r).map_err(Box::new),
            |d| {
                self.producer.poll(d);
            },
        )
        .map_err(|e| self.produce_error(&e))?;
        Ok(ts)
    }

    /// Waits until `deadline` for every record sent to be acknowledged;
    /// fails with the first refused one.
    pub fn wait_until(&self, deadline: Instant) -> Result<()> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        self.producer
            .flush(remaining)
            .map_err(|e| self.produce_error(&e))?;
        self.check_deliveries()
    }

    /// Serves the acknowledgements that came, without waiting; fails with
    /// the first refused record.
    pub fn poll_deliveries(&self) -> Result<()> {
        self.producer.poll(Duration::ZERO);
        self.check_deliveries()
    }
}
