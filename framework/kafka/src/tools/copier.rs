//! A raw consume -> produce copier: the "ceiling" baseline of the
//! benchmarks.
//!
//! [`run_copier`] copies records from one topic to another with nothing but
//! the Kafka clients: one consumer and one producer with the same settings
//! as a stream thread of the runtime (consumer group, range assignor, manual
//! commits, bounded prefetch; idempotent producer, `acks=all`,
//! `linger.ms=10`; the client settings of `tuning.rs`) and the same
//! at-least-once discipline (every commit interval: flush the producer, then
//! commit the next offsets). It does no deserialization, no processing and
//! no copying into owned records, so it shows the throughput and cost a Weir
//! application could reach at best on the same cluster. It is a benchmarking
//! baseline, not an API for applications.
//!
//! With [`CopierOptions::transactional`] it is the exactly-once ceiling
//! instead: the consumer reads `read_committed`, the producer is
//! transactional, and every commit interval the input offsets are sent to
//! the transaction (`send_offsets_to_transaction` with the consumer's group
//! metadata) and the transaction is committed, as an exactly-once stream
//! thread does.
//!
//! ```no_run
//! use std::time::Duration;
//! use weir_kafka::tools::copier::{run_copier, CopierOptions};
//!
//! let opts = CopierOptions::new("127.0.0.1:9092", "copier-group", "in", "out", 1_000)
//!     .commit_interval(Duration::from_millis(1000));
//! let copied = run_copier(opts)?;
//! assert_eq!(copied, 1_000);
//! # Ok::<(), weir_kafka::Error>(())
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use weir_core::ErrorKind;

use crate::error::{classify, Error, Result};

/// What [`run_copier`] copies, where, and how (plain values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopierOptions {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// The consumer group id (a fresh one reads the input from the beginning).
    pub group_id: String,
    /// The topic to read.
    pub input_topic: String,
    /// The topic to write (must exist).
    pub output_topic: String,
    /// How often offsets are committed (after a producer flush).
    pub commit_interval: Duration,
    /// Stop after copying this many records.
    pub stop_after: u64,
    /// Bound on the whole run: [`Error::Timeout`] when exceeded.
    pub max_duration: Duration,
    /// Extra librdkafka properties for both clients (they win over the defaults).
    pub client_properties: Vec<(String, String)>,
    /// `Some(transactional.id)`: copy exactly-once, in transactions (see the
    /// module doc); `None`: at-least-once.
    pub transactional_id: Option<String>,
}

impl CopierOptions {
    /// Options with a 30 s commit interval (Kafka Streams' default), a
    /// 10 minute bound and no extra client properties.
    pub fn new(
        bootstrap_servers: impl Into<String>,
        group_id: impl Into<String>,
        input_topic: impl Into<String>,
        output_topic: impl Into<String>,
        stop_after: u64,
    ) -> Self {
        CopierOptions {
            bootstrap_servers: bootstrap_servers.into(),
            group_id: group_id.into(),
            input_topic: input_topic.into(),
            output_topic: output_topic.into(),
            commit_interval: Duration::from_secs(30),
            stop_after,
            max_duration: Duration::from_secs(600),
            client_properties: Vec::new(),
            transactional_id: None,
        }
    }

    /// Copies exactly-once: in transactions of the producer with
    /// `transactional.id` = `id`, reading `read_committed`, committing the
    /// input offsets inside each transaction.
    pub fn transactional(mut self, id: impl Into<String>) -> Self {
        self.transactional_id = Some(id.into());
        self
    }

    /// Sets the commit interval.
    pub fn commit_interval(mut self, interval: Duration) -> Self {
        self.commit_interval = interval;
        self
    }

    /// Sets the bound on the whole run.
    pub fn max_duration(mut self, bound: Duration) -> Self {
        self.max_duration = bound;
        self
    }

    /// Adds a librdkafka property for both clients.
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.client_properties.push((key.into(), value.into()));
        self
    }
}

/// Counts failed deliveries and keeps the first failure.
#[derive(Default)]
struct CopierReports {
    failed: AtomicU64,
    first_failure: Mutex<Option<(String, ErrorKind)>>,
}

/// The producer's context: feeds delivery failures into [`CopierReports`].
struct ReportsContext(Arc<CopierReports>);

impl ClientContext for ReportsContext {}

impl ProducerContext for ReportsContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((err, _)) = result {
            self.0.failed.fetch_add(1, Ordering::Relaxed);
            let mut first = self
                .0
                .first_failure
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            first.get_or_insert_with(|| (err.to_string(), classify(err)));
        }
    }
}

struct Copier {
    opts: CopierOptions,
    consumer: BaseConsumer,
    producer: ThreadedProducer<ReportsContext>,
    reports: Arc<CopierReports>,
    /// Next offset to commit, per input partition.
    pending: BTreeMap<i32, i64>,
    deadline: Instant,
    /// Whether a transaction is open (transactional mode only).
    in_transaction: bool,
}

/// Copies records (key, value, timestamp, headers) from
/// [`CopierOptions::input_topic`] to [`CopierOptions::output_topic`]
/// unchanged until [`CopierOptions::stop_after`] records are copied, then
/// flushes, commits and returns how many it copied.
///
/// At-least-once, like the runtime: offsets are committed every
/// [`CopierOptions::commit_interval`] and at the end, each time after every
/// record sent so far was acknowledged. Fails on the first record that could
/// not be written, on a fatal consumer error, or with [`Error::Timeout`]
/// after [`CopierOptions::max_duration`].
///
/// With [`CopierOptions::transactional`], exactly-once: the offsets are
/// committed in the producer's transaction, which is committed every
/// commit interval and at the end; any transaction error fails the run (a
/// benchmark baseline does not recover).
pub fn run_copier(opts: CopierOptions) -> Result<u64> {
    let mut copier = Copier::new(opts)?;
    copier.run()
}

impl Copier {
    fn new(opts: CopierOptions) -> Result<Self> {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &opts.bootstrap_servers)
            .set("group.id", &opts.group_id)
            .set("client.id", format!("{}-copier-consumer", opts.group_id))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "range")
            .set("enable.partition.eof", "false")
            .set(
                "isolation.level",
                if opts.transactional_id.is_some() {
                    "read_committed"
                } else {
                    "read_uncommitted"
                },
            );
        // The same client settings as a stream thread's, so the ceiling
        // differs from Weir by the framework alone.
        crate::client::tuning::apply(&mut c, crate::client::tuning::CLIENT);
        crate::client::tuning::apply(&mut c, crate::client::tuning::CONSUMER);
        for (k, v) in &opts.client_properties {
            c.set(k, v);
        }
        let consumer: BaseConsumer = c.create().map_err(|e| Error::client(&e))?;

        let mut p = ClientConfig::new();
        p.set("bootstrap.servers", &opts.bootstrap_servers)
            .set("client.id", format!("{}-copier-producer", opts.group_id))
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "10");
        crate::client::tuning::apply(&mut p, crate::client::tuning::CLIENT);
        crate::client::tuning::apply(&mut p, crate::client::tuning::PRODUCER);
        if let Some(id) = &opts.transactional_id {
            p.set("transactional.id", id);
        }
        for (k, v) in &opts.client_properties {
            p.set(k, v);
        }
        let reports = Arc::new(CopierReports::default());
        let producer: ThreadedProducer<ReportsContext> =
            crate::client::tuning::producer(p, ReportsContext(reports.clone()))?;
        let deadline = Instant::now() + opts.max_duration;
        let mut copier = Copier {
            opts,
            consumer,
            producer,
            reports,
            pending: BTreeMap::new(),
            deadline,
            in_transaction: false,
        };
        if copier.opts.transactional_id.is_some() {
            let remaining = copier.deadline.saturating_duration_since(Instant::now());
            crate::client::flush::init_transactions_connected(&copier.producer, remaining)
                .map_err(|e| txn_error("init_transactions", &e))?;
            copier.begin()?;
        }
        Ok(copier)
    }

    /// Opens a transaction (transactional mode).
    fn begin(&mut self) -> Result<()> {
        self.producer
            .begin_transaction()
            .map_err(|e| txn_error("begin_transaction", &e))?;
        self.in_transaction = true;
        Ok(())
    }

    fn timeout(&self, what: &str, copied: u64) -> Error {
        Error::Timeout {
            operation: format!(
                "copying '{}' to '{}' ({what}; {copied} of {} records copied)",
                self.opts.input_topic, self.opts.output_topic, self.opts.stop_after
            ),
            after: self.opts.max_duration,
        }
    }

    fn run(&mut self) -> Result<u64> {
        let input = self.opts.input_topic.clone();
        self.consumer
            .subscribe(&[input.as_str()])
            .map_err(|e| Error::Consume {
                topic: input.clone(),
                message: e.to_string(),
                kind: classify(&e),
            })?;
        let mut copied = 0u64;
        let mut last_commit = Instant::now();
        while copied < self.opts.stop_after {
            if Instant::now() >= self.deadline {
                return Err(self.timeout("consuming", copied));
            }
            match self.consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Ok(msg)) => {
                    self.send(&msg, copied)?;
                    self.pending.insert(msg.partition(), msg.offset() + 1);
                    copied += 1;
                }
                Some(Err(e)) => match classify(&e) {
                    kind @ (ErrorKind::Fatal | ErrorKind::User) => {
                        return Err(Error::Consume {
                            topic: input,
                            message: e.to_string(),
                            kind,
                        })
                    }
                    _ => tracing::warn!(error = %e, "copier: consumer error; retrying"),
                },
            }
            if last_commit.elapsed() >= self.opts.commit_interval {
                self.commit(copied, false)?;
                last_commit = Instant::now();
            }
        }
        self.commit(copied, true)?;
        Ok(copied)
    }

    /// Sends `msg` unchanged to the output topic, waiting while the local
    /// queue is full.
    fn send(&self, msg: &BorrowedMessage<'_>, copied: u64) -> Result<()> {
        let topic = self.opts.output_topic.as_str();
        let mut record: BaseRecord<'_, [u8], [u8], ()> = BaseRecord::to(topic);
        if let Some(k) = msg.key() {
            record = record.key(k);
        }
        if let Some(v) = msg.payload() {
            record = record.payload(v);
        }
        if let Some(ts) = msg.timestamp().to_millis() {
            record = record.timestamp(ts);
        }
        if let Some(h) = msg.headers() {
            if h.count() > 0 {
                record = record.headers(h.detach());
            }
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    if Instant::now() >= self.deadline {
                        return Err(self.timeout("producer queue full", copied));
                    }
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => {
                    return Err(Error::Produce {
                        topic: topic.to_owned(),
                        message: e.to_string(),
                        kind: classify(&e),
                    })
                }
            }
        }
    }

    /// The input offsets to commit, as a list.
    fn pending_offsets(&self) -> Result<TopicPartitionList> {
        let mut tpl = TopicPartitionList::new();
        for (&partition, &offset) in &self.pending {
            tpl.add_partition_offset(&self.opts.input_topic, partition, Offset::Offset(offset))
                .map_err(|e| Error::Commit {
                    message: e.to_string(),
                    kind: ErrorKind::Fatal,
                })?;
        }
        Ok(tpl)
    }

    /// The delivery failure reported first, if any.
    fn check_deliveries(&self) -> Result<()> {
        if self.reports.failed.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let (message, kind) = self
            .reports
            .first_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| ("delivery failed".to_string(), ErrorKind::Fatal));
        Err(Error::Produce {
            topic: self.opts.output_topic.clone(),
            message,
            kind,
        })
    }

    /// Transactional commit: the pending offsets into the transaction, then
    /// `commit_transaction` (which flushes), then a new transaction unless `last`.
    fn commit_transaction(&mut self, copied: u64, last: bool) -> Result<()> {
        if !self.in_transaction {
            return Ok(());
        }
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(self.timeout("committing a transaction", copied));
        }
        if !self.pending.is_empty() {
            let tpl = self.pending_offsets()?;
            let group = self
                .consumer
                .group_metadata()
                .ok_or_else(|| Error::Commit {
                    message:
                        "the consumer has no group metadata to send offsets to the transaction"
                            .to_string(),
                    kind: ErrorKind::Fatal,
                })?;
            self.producer
                .send_offsets_to_transaction(&tpl, &group, remaining)
                .map_err(|e| txn_error("send_offsets_to_transaction", &e))?;
        }
        crate::client::flush::commit_transaction_threaded(&self.producer, remaining)
            .map_err(|e| txn_error("commit_transaction", &e))?;
        self.in_transaction = false;
        self.check_deliveries()?;
        self.pending.clear();
        if !last {
            self.begin()?;
        }
        Ok(())
    }

    /// Waits until every record sent is acknowledged, then commits the next
    /// offsets of the partitions copied from; in transactional mode commits
    /// the transaction with those offsets in it, and opens the next one
    /// unless `last`.
    fn commit(&mut self, copied: u64, last: bool) -> Result<()> {
        if self.opts.transactional_id.is_some() {
            return self.commit_transaction(copied, last);
        }
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        match crate::client::flush::flush_threaded(&self.producer, remaining) {
            Ok(()) => {}
            Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {
                return Err(self.timeout("waiting for acknowledgements", copied))
            }
            Err(e) => {
                return Err(Error::Produce {
                    topic: self.opts.output_topic.clone(),
                    message: format!("flush failed: {e}"),
                    kind: classify(&e),
                })
            }
        }
        self.check_deliveries()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        let tpl = self.pending_offsets()?;
        match self.consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => {
                self.pending.clear();
                Ok(())
            }
            Err(e) => match classify(&e) {
                kind @ (ErrorKind::Fatal | ErrorKind::User) => Err(Error::Commit {
                    message: e.to_string(),
                    kind,
                }),
                _ => {
                    tracing::warn!(error = %e, "copier: offset commit failed; retrying at the next commit");
                    Ok(())
                }
            },
        }
    }
}

/// A transaction call's error, classified.
fn txn_error(call: &str, e: &KafkaError) -> Error {
    Error::Commit {
        message: format!("{call}: {e}"),
        kind: classify(e),
    }
}
