//! Exactly-once: the transactions of a stream thread's producer.
//!
//! One transactional producer per thread (`transactional.id` =
//! `<application.id>-<process id>-<thread>`). The first record sent after a
//! commit begins a transaction; a commit adds the consumed offsets to it
//! (with the consumer's group metadata, so a zombie from an older group
//! generation is fenced) and commits output, changelog records and offsets
//! together. A failure that leaves the transaction abortable aborts it; one
//! that leaves the producer unusable (fenced, fatal) replaces the producer,
//! whose `init_transactions` fences the old one.

use std::time::{Duration, Instant};

use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{Producer, PurgeConfig};
use rdkafka::TopicPartitionList;
use weir_core::ErrorKind;

use crate::error::{classify, classify_code, Error, Result};
use crate::runtime::collector::ProducerCollector;

/// Bound of one blocking transaction call; retried while the error is retriable.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long retriable failures of one transaction step are retried before
/// the step fails (the broker has been away that long).
const RETRY_FOR: Duration = Duration::from_secs(120);

/// How long a transaction refused for good waits for librdkafka's log line
/// naming the refused partition (the thread stops after it either way).
const REFUSAL_LOGGED_WITHIN: Duration = Duration::from_secs(2);

/// The class of a failed transaction call: retriable (call again),
/// abortable (abort, then start over) or fatal for the producer.
fn txn_kind(e: &KafkaError) -> (bool, ErrorKind) {
    match e {
        KafkaError::Transaction(t) if t.is_fatal() => {
            let kind = match classify(e) {
                ErrorKind::Fenced => ErrorKind::Fenced,
                _ => ErrorKind::Fatal,
            };
            (false, kind)
        }
        KafkaError::Transaction(t) if t.txn_requires_abort() => (false, ErrorKind::Retriable),
        KafkaError::Transaction(t) if t.is_retriable() => (true, ErrorKind::Retriable),
        // commit_transaction flushes first; a flush that timed out is retried.
        KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut) => (true, ErrorKind::Retriable),
        other => match classify(other) {
            ErrorKind::Retriable => (true, ErrorKind::Retriable),
            kind => (false, kind),
        },
    }
}

/// The topic and the line from `Failed to add partition "<topic>" [<n>] to
/// transaction: <reason>` in librdkafka's log line `message`, unless the
/// reason is that the request failed for another partition.
pub(crate) fn refused_partition(message: &str) -> Option<(&str, &str)> {
    let start = message.find("Failed to add partition \"")?;
    let line = message.get(start..)?;
    let (topic, rest) = line.split_once('"')?.1.split_once('"')?;
    (rest.contains("to transaction") && !rest.contains("Operation not attempted"))
        .then_some((topic, line))
}

impl ProducerCollector {
    /// Whether this collector writes in transactions (exactly-once).
    pub(crate) fn is_transactional(&self) -> bool {
        self.transactional_id.is_some()
    }

    /// Whether a transaction is open.
    pub(crate) fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    fn txn_error(&self, operation: &'static str, e: &KafkaError, kind: ErrorKind) -> Error {
        Error::Transaction {
            operation,
            transactional_id: self.transactional_id.clone().unwrap_or_default(),
            message: e.to_string(),
            kind,
        }
    }

    /// Runs `call` until it succeeds, fails for good, or retriable failures
    /// have lasted [`RETRY_FOR`].
    fn retrying(
        &self,
        operation: &'static str,
        mut call: impl FnMut(&Self) -> rdkafka::error::KafkaResult<()>,
    ) -> Result<()> {
        let start = Instant::now();
        loop {
            match call(self) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let (retriable, kind) = txn_kind(&e);
                    if !retriable || start.elapsed() >= RETRY_FOR {
                        return Err(self.txn_error(operation, &e, kind));
                    }
                    tracing::warn!(operation, error = %e, "transaction step failed; retrying");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    /// Registers the `transactional.id` with the broker, fencing any older
    /// producer with the same id and aborting its open transaction.
    pub(crate) fn init_transactions(&mut self) -> Result<()> {
        if !self.is_transactional() {
            return Ok(());
        }
        self.retrying("init", |c| {
            crate::client::flush::init_transactions_connected(&c.producer, CALL_TIMEOUT)
        })?;
        self.in_transaction = false;
        tracing::info!(transactional_id = ?self.transactional_id, "transactions initialized");
        Ok(())
    }

    /// Begins a transaction (the first send after a commit does).
    pub(crate) fn begin_transaction(&mut self) -> weir_core::Result<()> {
        if let Err(e) = self.producer.begin_transaction() {
            let (_, kind) = txn_kind(&e);
            return Err(weir_core::Error::Send {
                topic: String::new(),
                message: format!("cannot begin a transaction: {e}"),
                kind,
            });
        }
        self.in_transaction = true;
        Ok(())
    }

    /// Commits the open transaction with `offsets` (the next offsets to
    /// consume) added for `group`. Begins one first when offsets moved but
    /// nothing was sent. An `Error::Transaction` of kind
    /// [`ErrorKind::Retriable`] means: abort, roll back, and process again
    /// from the committed offsets; `Fenced` or `Fatal`: the producer must be
    /// replaced too.
    pub(crate) fn commit_transaction(
        &mut self,
        offsets: &TopicPartitionList,
        group: Option<&ConsumerGroupMetadata>,
    ) -> Result<()> {
        if offsets.count() > 0 && !self.in_transaction {
            self.begin_transaction().map_err(|e| Error::Transaction {
                operation: "begin",
                transactional_id: self.transactional_id.clone().unwrap_or_default(),
                message: e.to_string(),
                kind: e.kind(),
            })?;
        }
        if !self.in_transaction {
            return Ok(());
        }
        if offsets.count() > 0 {
            let Some(group) = group else {
                return Err(Error::Transaction {
                    operation: "send offsets",
                    transactional_id: self.transactional_id.clone().unwrap_or_default(),
                    message: "the consumer has no group metadata (not in a group)".to_string(),
                    kind: ErrorKind::Retriable,
                });
            };
            self.retrying("send offsets", |c| {
                c.producer
                    .send_offsets_to_transaction(offsets, group, CALL_TIMEOUT)
            })?;
        }
        if let Some((topic, message, _)) = self.reports.failure() {
            // A record of this transaction was not written: it must not commit.
            return Err(Error::Transaction {
                operation: "commit",
                transactional_id: self.transactional_id.clone().unwrap_or_default(),
                message: format!("a record to '{topic}' was not written: {message}"),
                kind: ErrorKind::Retriable,
            });
        }
        self.retrying("commit", |c| {
            crate::client::flush::commit_transaction_threaded(&c.producer, CALL_TIMEOUT)
        })?;
        self.in_transaction = false;
        Ok(())
    }

    /// Aborts the open transaction: nothing it wrote becomes visible to
    /// `read_committed` readers. Failing, the producer must be replaced.
    pub(crate) fn abort_transaction(&mut self) -> Result<()> {
        if !self.in_transaction {
            self.reports.clear_after_abort();
            return Ok(());
        }
        self.retrying("abort", |c| c.producer.abort_transaction(CALL_TIMEOUT))?;
        self.in_transaction = false;
        self.reports.clear_after_abort();
        tracing::warn!(transactional_id = ?self.transactional_id, "transaction aborted");
        Ok(())
    }

    /// Replaces a producer left unusable (fenced, fatal error): drops what
    /// it still holds, creates it again with the same `transactional.id` and
    /// initializes transactions, which fences the old one for good.
    pub(crate) fn replace_producer(&mut self) -> Result<()> {
        self.producer
            .purge(PurgeConfig::default().queue().inflight());
        let (producer, reports) = self.fresh_producer()?;
        self.producer = producer;
        self.reports = reports;
        self.in_transaction = false;
        tracing::warn!(transactional_id = ?self.transactional_id, "transactional producer replaced");
        self.init_transactions()
    }

    /// The open transaction's own error when the broker refused it for
    /// good (not authorized to write a topic, an invalid topic: a
    /// [`ErrorKind::User`] cause), naming the topic: processing the same
    /// records again would meet the same refusal, so the thread stops (as
    /// in Kafka Streams, where an authorization error on send is fatal)
    /// rather than abort and retry for ever. `None` otherwise.
    fn refused_for_good(&self) -> Option<Error> {
        if !self.in_transaction {
            return None;
        }
        // Allowed only with no transaction open, `begin` changes nothing
        // here: it answers with the error that failed the transaction, or a
        // state error while the transaction is still fine.
        let Err(e) = self.producer.begin_transaction() else {
            return None;
        };
        let KafkaError::Transaction(t) = &e else {
            return None;
        };
        if !t.txn_requires_abort() || classify_code(t.code()) != ErrorKind::User {
            return None;
        }
        // The topic: the partition the coordinator refused, else a topic
        // written that no longer exists, else the first record not written
        // (which may be only a record the refusal purged, of any topic:
        // the refusal and the purge reports race).
        let (topic, detail) = self
            .awaited_refused_partition()
            .or_else(|| {
                self.missing_topic()
                    .map(|topic| (topic, "the topic does not exist".to_string()))
            })
            .or_else(|| {
                self.reports
                    .failure()
                    .map(|(topic, message, _)| (topic, message))
            })
            .unwrap_or_default();
        let mut message = format!(
            "{t} (transactional.id '{}')",
            self.transactional_id.as_deref().unwrap_or_default()
        );
        if !detail.is_empty() {
            message = format!("{message}: {detail}");
        }
        Some(Error::Produce {
            topic,
            message,
            kind: ErrorKind::User,
        })
    }

    /// The partition the coordinator refused to the transaction (see
    /// [`refused_partition`]), waited for up to [`REFUSAL_LOGGED_WITHIN`]:
    /// librdkafka logs it on its own thread, and the transaction's error
    /// can be seen before the log line arrives (CI saw an error naming no
    /// topic).
    fn awaited_refused_partition(&self) -> Option<(String, String)> {
        let start = Instant::now();
        loop {
            if let Some(refused) = self.reports.refused_partition() {
                return Some(refused);
            }
            if start.elapsed() >= REFUSAL_LOGGED_WITHIN {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// After a failure of kind `cause`: aborts the transaction, or replaces
    /// the producer when the failure (or the abort) left it unusable. A
    /// transaction the broker refused for good is aborted and its error
    /// returned: the thread stops, nothing of it committed.
    pub(crate) fn recover(&mut self, cause: ErrorKind) -> Result<()> {
        if let Some(refused) = self.refused_for_good() {
            tracing::error!(error = %refused, "transaction refused for good; stopping");
            if let Err(e) = self.abort_transaction() {
                tracing::warn!(error = %e, "abort failed; the broker aborts the transaction when it times out");
            }
            return Err(refused);
        }
        if cause == ErrorKind::Retriable {
            match self.abort_transaction() {
                Ok(()) => return Ok(()),
                Err(e) => tracing::warn!(error = %e, "abort failed; replacing the producer"),
            }
        }
        self.replace_producer()
    }
}

#[cfg(test)]
mod tests {
    use super::refused_partition;

    #[test]
    fn the_partition_refused_to_a_transaction_is_read_from_the_log() {
        let line = "[thrd:main]: TxnCoordinator/1: Failed to add partition \"out\" [0] to \
                    transaction: Broker: Topic authorization failed";
        let (topic, said) = refused_partition(line).unwrap();
        assert_eq!(topic, "out");
        assert!(
            said.starts_with("Failed to add partition \"out\""),
            "{said}"
        );
        assert!(said.ends_with("Topic authorization failed"), "{said}");
        let other = "TxnCoordinator/1: Failed to add partition \"changelog\" [1] to \
                     transaction: Broker: Operation not attempted";
        assert_eq!(refused_partition(other), None);
        assert_eq!(
            refused_partition("Failed to add partition(s) to transaction on broker 1"),
            None
        );
    }
}
