//! The record collector of a stream thread: sends task output through the
//! thread's producer and tracks delivery failures.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use weir_core::collector::RecordCollector;
use weir_core::handler::{
    ErrorContext, ErrorCounts, ErrorStage, HandlerAction, SharedProductionHandler,
};
use weir_core::record::{OutputRecord, RawRecord, SourceRecord};
use weir_core::task::TaskId;
use weir_core::ErrorKind;

use super::size_limit::SizeLimits;
use super::written_topics::WrittenTopics;
use crate::error::{classify, Error, Result};

/// Counts deliveries and keeps the first failure.
pub(crate) struct DeliveryReports {
    /// The changelog topics of the topology (resolved), whose acknowledged
    /// offsets are tracked.
    changelog_topics: Arc<[Box<str>]>,
    acked: AtomicU64,
    failed: AtomicU64,
    first_failure: Mutex<Option<(String, String, ErrorKind)>>,
    /// Exactly-once: the first partition the transaction coordinator
    /// refused to add to the transaction, as (topic, librdkafka's line).
    /// librdkafka says which topic only in its log; the transaction's own
    /// error has the cause but no topic.
    refused_partition: Mutex<Option<(String, String)>>,
    /// Highest acknowledged offset per changelog partition (a thread writes
    /// a few: searched in place, so a delivery report allocates nothing).
    changelog_offsets: Mutex<Vec<(String, i32, i64)>>,
    /// The production handler, asked about records the broker refused for
    /// good (set once, before the first send; carried over to a replaced
    /// producer).
    production: OnceLock<Arc<DeliveryHandling>>,
    /// The delivery opaque of a record sent without a source record (a
    /// changelog or dead-letter record, output of a punctuation, or no
    /// source kept): one shared placeholder, so such a send allocates
    /// nothing.
    no_source: Arc<SourceRecord>,
}

impl DeliveryReports {
    fn new(changelog_topics: Arc<[Box<str>]>) -> Self {
        DeliveryReports {
            changelog_topics,
            acked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            first_failure: Mutex::new(None),
            refused_partition: Mutex::new(None),
            changelog_offsets: Mutex::new(Vec::new()),
            production: OnceLock::new(),
            no_source: Arc::new(SourceRecord {
                task: TaskId::new(0, -1),
                record: RawRecord {
                    topic: String::new(),
                    partition: -1,
                    offset: -1,
                    timestamp: -1,
                    key: None,
                    value: None,
                    headers: weir_core::Headers::new(),
                },
            }),
        }
    }

    /// The source record of a delivery's opaque, `None` for the placeholder.
    fn source_of<'a>(&self, opaque: &'a Arc<SourceRecord>) -> Option<&'a SourceRecord> {
        (!Arc::ptr_eq(opaque, &self.no_source)).then_some(&**opaque)
    }
}

/// How the delivery callback hands records the broker refused for good to
/// the production handler (Kafka Streams' `RecordCollectorImpl` send
/// callback).
pub(crate) struct DeliveryHandling {
    pub(crate) handler: SharedProductionHandler,
    pub(crate) dead_letter_topic: Option<String>,
    /// Exactly-once: the refused record failed its transaction, whatever
    /// the handler answers.
    pub(crate) transactional: bool,
    /// Where the skipped and dead-lettered records are counted (the
    /// application's metrics).
    pub(crate) counts: Arc<Mutex<ErrorCounts>>,
    /// Dead-letter records a custom handler gave, sent at the next flush.
    pub(crate) pending: Mutex<Vec<OutputRecord>>,
}

/// Whether a delivery error means this record can never be written (too
/// large, invalid), as opposed to the broker or the topic being unavailable.
fn refused_for_good(err: &KafkaError) -> bool {
    matches!(
        err.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidRecord
        )
    )
}

impl DeliveryHandling {
    /// Handling by `handler`, writing dead-letter records to
    /// `dead_letter_topic` (when set) and counting into `counts`.
    pub(crate) fn new(
        handler: SharedProductionHandler,
        dead_letter_topic: Option<String>,
        counts: Arc<Mutex<ErrorCounts>>,
    ) -> Self {
        DeliveryHandling {
            handler,
            dead_letter_topic,
            transactional: false,
            counts,
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Asks the handler about `msg`, refused with `err`, which a sink sent
    /// while its task processed `source` (`None`: not a sink's record, or
    /// no source record kept). `Ok` when the record is skipped (the failure
    /// does not stop the thread), else the failure's message.
    ///
    /// At least once, the handler's dead-letter records are written at the
    /// next flush, before the offsets past the source record commit,
    /// whatever it answered. Exactly once, the refused record has failed
    /// its transaction: as in Kafka Streams (whose producer is in error
    /// then, so the next send or commit fails), the handler is asked but its
    /// answer cannot save the transaction and its dead-letter records are
    /// not written.
    fn decide(
        &self,
        err: &KafkaError,
        msg: &rdkafka::message::BorrowedMessage<'_>,
        source: Option<&SourceRecord>,
    ) -> std::result::Result<(), String> {
        use rdkafka::message::{Headers as _, Message};
        let mut headers = weir_core::Headers::new();
        if let Some(hs) = msg.headers() {
            for h in hs.iter() {
                headers.add(h.key, h.value.map(<[u8]>::to_vec));
            }
        }
        let record = OutputRecord {
            topic: Arc::from(msg.topic()),
            partition: Some(msg.partition()),
            key: msg.key().map(<[u8]>::to_vec),
            value: msg.payload().map(<[u8]>::to_vec),
            timestamp: msg.timestamp().to_millis().unwrap_or(-1),
            headers,
        };
        let error = weir_core::Error::Send {
            topic: msg.topic().to_string(),
            message: err.to_string(),
            kind: ErrorKind::User,
        };
        let metadata = source.map(SourceRecord::metadata);
        // The sink node is not known here (one pointer travels with each
        // send: the source record, shared); the error names the topic.
        let context = ErrorContext {
            stage: ErrorStage::Production,
            task: source.map(|s| s.task),
            node: None,
            metadata: metadata.as_ref(),
            source: source.map(|s| s.record.as_ref()),
            dead_letter_topic: self.dead_letter_topic.as_deref(),
        };
        let response = self.handler.handle(&context, Some(&record), &error);
        let from = metadata.map_or_else(String::new, |m| {
            format!(
                " (output of record {}-{} offset {})",
                m.topic, m.partition, m.offset
            )
        });
        if self.transactional {
            if !response.dead_letters.is_empty() {
                tracing::warn!(
                    topic = msg.topic(),
                    records = response.dead_letters.len(),
                    "the production handler's dead-letter records are not written: the \
                     transaction failed"
                );
            }
            return Err(format!(
                "{err}{from}; under exactly_once_v2 a record the broker refuses after it was \
                 sent fails its transaction, whatever the production handler answers (it said \
                 {:?})",
                response.action
            ));
        }
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(response.dead_letters);
        match response.action {
            HandlerAction::Continue => {
                self.counts
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .production
                    .dropped += 1;
                Ok(())
            }
            HandlerAction::Fail | HandlerAction::Retry => {
                if response.action == HandlerAction::Retry {
                    tracing::warn!("the handler said retry for a record refused for good; failing");
                }
                Err(format!("{err}{from}; the production handler said fail"))
            }
        }
    }
}

impl DeliveryReports {
    /// The highest acknowledged offset of changelog partition `topic`-`partition`.
    pub(crate) fn changelog_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.changelog_offsets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(t, p, _)| *p == partition && t == topic)
            .map(|(_, _, offset)| *offset)
    }

    /// Forgets failures and acknowledged changelog offsets: after a
    /// transaction aborted, nothing it wrote counts.
    pub(crate) fn clear_after_abort(&self) {
        *self.first_failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *self
            .refused_partition
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        self.changelog_offsets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The topic of the first partition refused to the open transaction,
    /// with librdkafka's line about it.
    pub(crate) fn refused_partition(&self) -> Option<(String, String)> {
        self.refused_partition
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The first delivery failure. It stays: once a record could not be
    /// written, no later flush may report success (offsets past it must never
    /// commit), so the thread stops and its records are processed again.
    /// Under exactly-once it stays until the transaction is aborted.
    pub(crate) fn failure(&self) -> Option<(String, String, ErrorKind)> {
        self.first_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The producer's context: feeds delivery reports into [`DeliveryReports`].
pub(crate) struct ReportingContext(pub(crate) Arc<DeliveryReports>);

impl ClientContext for ReportingContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        super::thread::log_client_message(level, fac, message);
        if fac == "ADDPARTS" {
            if let Some((topic, line)) = super::transaction::refused_partition(message) {
                self.0
                    .refused_partition
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert_with(|| (topic.to_string(), line.to_string()));
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "Kafka producer error");
    }
}

impl ProducerContext for ReportingContext {
    /// The source record of a sink's send (shared with its task), or the
    /// reports' placeholder.
    type DeliveryOpaque = Arc<SourceRecord>;

    fn delivery(&self, result: &DeliveryResult<'_>, source: Arc<SourceRecord>) {
        let reports = &self.0;
        match result {
            Ok(msg) => {
                use rdkafka::message::Message;
                reports.acked.fetch_add(1, Ordering::Relaxed);
                let topic = msg.topic();
                if reports.changelog_topics.iter().any(|t| **t == *topic) {
                    let mut offsets = reports
                        .changelog_offsets
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    let (topic, partition) = (msg.topic(), msg.partition());
                    match offsets
                        .iter_mut()
                        .find(|(t, p, _)| *p == partition && t == topic)
                    {
                        Some((_, _, offset)) => *offset = (*offset).max(msg.offset()),
                        None => offsets.push((topic.to_string(), partition, msg.offset())),
                    }
                }
            }
            Err((err, msg)) => {
                use rdkafka::message::Message;
                reports.failed.fetch_add(1, Ordering::Relaxed);
                let mut kind = classify(err);
                let mut message = err.to_string();
                if refused_for_good(err) {
                    // Refused again if written again: it stops the thread
                    // (never an abort and a retry of the transaction).
                    kind = ErrorKind::User;
                    if let Some(handling) = reports.production.get() {
                        match handling.decide(err, msg, reports.source_of(&source)) {
                            Ok(()) => return,
                            Err(why) => message = why,
                        }
                    }
                }
                let mut first = reports
                    .first_failure
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if first.is_none() {
                    *first = Some((msg.topic().to_string(), message, kind));
                }
            }
        }
    }
}

/// Sends a thread's output records and waits for their acknowledgements;
/// under exactly-once, inside transactions (see `transaction.rs`).
pub(crate) struct ProducerCollector {
    pub(super) producer: ThreadedProducer<ReportingContext>,
    pub(super) reports: Arc<DeliveryReports>,
    /// The producer's settings, to create it again after a fatal error.
    pub(super) config: ClientConfig,
    /// The topology's changelog topics (resolved).
    pub(super) changelog_topics: Arc<[Box<str>]>,
    /// `transactional.id` under exactly-once.
    pub(super) transactional_id: Option<String>,
    /// Whether a transaction is open (begun by the first send after a commit).
    pub(super) in_transaction: bool,
    partition_counts: HashMap<String, Option<i32>>,
    /// The topics' `max.message.bytes`: records too large are refused
    /// before they are sent.
    size_limits: SizeLimits,
    metadata_timeout: Duration,
    sent: u64,
    /// The topics written to, to name one the broker no longer knows.
    written: WrittenTopics,
}

/// Creates a producer reporting deliveries into a fresh [`DeliveryReports`]
/// that tracks the acknowledged offsets of `changelog_topics`.
pub(super) fn create_producer(
    config: &ClientConfig,
    changelog_topics: &Arc<[Box<str>]>,
) -> Result<(ThreadedProducer<ReportingContext>, Arc<DeliveryReports>)> {
    let reports = Arc::new(DeliveryReports::new(Arc::clone(changelog_topics)));
    let producer =
        crate::client::tuning::producer(config.clone(), ReportingContext(reports.clone()))?;
    Ok((producer, reports))
}

impl ProducerCollector {
    /// A collector over a producer created from `config`; transactional when
    /// `config` has a `transactional.id` (call `init_transactions` before use).
    /// `changelog_topics` are the topology's changelog topics (resolved):
    /// their acknowledged offsets are what the stores record at a commit.
    pub(crate) fn new(config: ClientConfig, changelog_topics: Vec<String>) -> Result<Self> {
        let changelog_topics: Arc<[Box<str>]> = changelog_topics
            .into_iter()
            .map(String::into_boxed_str)
            .collect();
        let (producer, reports) = create_producer(&config, &changelog_topics)?;
        let transactional_id = config.get("transactional.id").map(str::to_string);
        let size_limits = SizeLimits::new(&config);
        Ok(ProducerCollector {
            size_limits,
            producer,
            reports,
            config,
            changelog_topics,
            transactional_id,
            in_transaction: false,
            partition_counts: HashMap::new(),
            metadata_timeout: Duration::from_secs(10),
            sent: 0,
            written: WrittenTopics::default(),
        })
    }

    /// The highest acknowledged offset of a changelog partition.
    pub(crate) fn changelog_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.reports.changelog_offset(topic, partition)
    }

    /// Hands records the broker refuses for good in their delivery report
    /// to the production handler of `handling` (under exactly-once, the
    /// handler is asked but the transaction fails whatever it answers).
    pub(crate) fn handle_delivery_failures(&self, mut handling: DeliveryHandling) {
        handling.transactional = self.transactional_id.is_some();
        let _ = self.reports.production.set(Arc::new(handling));
    }

    /// A new producer over the same settings, its delivery reports handled
    /// as this one's (to replace a producer left unusable).
    pub(super) fn fresh_producer(
        &self,
    ) -> Result<(ThreadedProducer<ReportingContext>, Arc<DeliveryReports>)> {
        let (producer, reports) = create_producer(&self.config, &self.changelog_topics)?;
        if let Some(handling) = self.reports.production.get() {
            let _ = reports.production.set(Arc::clone(handling));
        }
        Ok((producer, reports))
    }

    /// Sends the dead-letter records a production handler gave in the
    /// delivery callback.
    fn send_pending_dead_letters(&mut self) -> Result<()> {
        let Some(handling) = self.reports.production.get() else {
            return Ok(());
        };
        let pending =
            std::mem::take(&mut *handling.pending.lock().unwrap_or_else(|e| e.into_inner()));
        let n = pending.len() as u64;
        let counts = handling.counts.clone();
        for record in pending {
            let topic = record.topic.to_string();
            self.send(record).map_err(|e| Error::Produce {
                topic,
                message: e.to_string(),
                kind: e.kind(),
            })?;
        }
        counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .production
            .dead_lettered += n;
        Ok(())
    }

    /// The first topic (in the order first written) this collector has written to that the
    /// broker no longer knows, asked now. When the coordinator refuses a
    /// transaction because a partition is unknown, librdkafka names the
    /// partition at debug level only, or not at all when another partition
    /// of the same request was skipped for it.
    pub(super) fn missing_topic(&self) -> Option<String> {
        self.written.all().find_map(|topic| {
            let md = self
                .producer
                .client()
                .fetch_metadata(Some(topic), self.metadata_timeout)
                .ok()?;
            let known = md
                .topics()
                .iter()
                .any(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty());
            (!known).then(|| topic.to_string())
        })
    }

    /// Records sent so far.
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// Waits until every record sent so far is acknowledged, retrying while
    /// the broker is away (librdkafka retries each record until its
    /// `message.timeout.ms`). Fails on the first record that could not be written.
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.send_pending_dead_letters()?;
        let start = Instant::now();
        let mut next_log = Duration::from_secs(10);
        loop {
            if let Some(failure) = self.reports.failure() {
                return Err(self.delivery_failure(failure));
            }
            match crate::client::flush::flush_threaded(&self.producer, Duration::from_secs(1)) {
                Ok(()) => break,
                Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {
                    if start.elapsed() >= next_log {
                        tracing::warn!(
                            waiting_s = start.elapsed().as_secs(),
                            in_flight = self.producer.in_flight_count(),
                            "still waiting for the broker to acknowledge output; retrying"
                        );
                        next_log += Duration::from_secs(10);
                    }
                }
                Err(e) => {
                    return Err(Error::Produce {
                        topic: String::new(),
                        message: format!("flush failed: {e}"),
                        kind: classify(&e),
                    })
                }
            }
        }
        match self.reports.failure() {
            Some(failure) => Err(self.delivery_failure(failure)),
            // Dead-letter records given during this flush: written before
            // it ends (so before the offsets past their records commit).
            None if self.dead_letters_pending() => self.flush(),
            None => Ok(()),
        }
    }

    /// Whether the delivery callback left dead-letter records to send.
    fn dead_letters_pending(&self) -> bool {
        self.reports.production.get().is_some_and(|h| {
            !h.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
        })
    }

    /// The error of the first delivery `failure`. The dead-letter records a
    /// production handler gave in the delivery callback (at least once,
    /// with fail too, as Kafka Streams sends them from its callback) are
    /// written first, as far as they can be: nothing commits after this.
    fn delivery_failure(&mut self, (topic, message, kind): (String, String, ErrorKind)) -> Error {
        if self.dead_letters_pending() {
            let written = self.send_pending_dead_letters().and_then(|()| {
                crate::client::flush::flush_threaded(&self.producer, Duration::from_secs(30))
                    .map_err(|e| Error::Produce {
                        topic: String::new(),
                        message: format!("flush failed: {e}"),
                        kind: classify(&e),
                    })
            });
            if let Err(e) = written {
                tracing::warn!(error = %e, "dead-letter records of a refused record not written");
            }
        }
        Error::Produce {
            topic,
            message,
            kind,
        }
    }
}

fn core_send_error(topic: &str, err: &KafkaError) -> weir_core::Error {
    weir_core::Error::Send {
        topic: topic.to_string(),
        message: err.to_string(),
        kind: classify(err),
    }
}

impl ProducerCollector {
    /// Sends `record`, its delivery report tagged with `source`.
    fn send_tagged(
        &mut self,
        record: OutputRecord,
        source: Arc<SourceRecord>,
    ) -> weir_core::Result<()> {
        if let Some((size, limit)) = self.size_limits.too_large(&record) {
            // Refused here, the sink's production handler decides (with
            // the source record at hand); sent, it would fail its whole
            // transaction.
            return Err(weir_core::Error::Send {
                topic: record.topic.to_string(),
                message: format!(
                    "the record is {size} bytes, more than max.message.bytes {limit} of the \
                     topic: the broker would refuse it"
                ),
                kind: ErrorKind::User,
            });
        }
        if self.transactional_id.is_some() && !self.in_transaction {
            self.begin_transaction()?;
        }
        self.written.note(&record.topic);
        let mut headers = None;
        if !record.headers.is_empty() {
            let mut h = OwnedHeaders::new_with_capacity(record.headers.len());
            for (key, value) in record.headers.iter() {
                h = h.insert(Header { key, value });
            }
            headers = Some(h);
        }
        let mut base: BaseRecord<'_, [u8], [u8], Arc<SourceRecord>> =
            BaseRecord::with_opaque_to(&record.topic, source).timestamp(record.timestamp);
        if let Some(k) = &record.key {
            base = base.key(k.as_slice());
        }
        if let Some(v) = &record.value {
            base = base.payload(v.as_slice());
        }
        if let Some(p) = record.partition {
            base = base.partition(p);
        }
        if let Some(h) = headers {
            base = base.headers(h);
        }
        let mut full_since: Option<Instant> = None;
        loop {
            match self.producer.send(base) {
                Ok(()) => {
                    self.sent += 1;
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The local queue is full: wait for deliveries to drain it.
                    if full_since.get_or_insert_with(Instant::now).elapsed()
                        > Duration::from_secs(300)
                    {
                        return Err(weir_core::Error::Send {
                            topic: record.topic.to_string(),
                            message: "producer queue stayed full for 300 s".to_string(),
                            kind: ErrorKind::Retriable,
                        });
                    }
                    base = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(core_send_error(&record.topic, &e)),
            }
        }
    }
}

impl RecordCollector for ProducerCollector {
    fn send(&mut self, record: OutputRecord) -> weir_core::Result<()> {
        let placeholder = Arc::clone(&self.reports.no_source);
        self.send_tagged(record, placeholder)
    }

    /// The source record travels with the send (one shared pointer, no
    /// copy) until its delivery is reported.
    fn send_from(
        &mut self,
        record: OutputRecord,
        source: &Arc<SourceRecord>,
    ) -> weir_core::Result<()> {
        self.send_tagged(record, Arc::clone(source))
    }

    fn partition_count(&mut self, topic: &str) -> weir_core::Result<Option<i32>> {
        if let Some(n) = self.partition_counts.get(topic) {
            return Ok(*n);
        }
        let md = self
            .producer
            .client()
            .fetch_metadata(Some(topic), self.metadata_timeout)
            .map_err(|e| core_send_error(topic, &e))?;
        let n = md
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map(|t| i32::try_from(t.partitions().len()).unwrap_or(i32::MAX))
            .filter(|n| *n > 0);
        self.partition_counts.insert(topic.to_string(), n);
        Ok(n)
    }
}
