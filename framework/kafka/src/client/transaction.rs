//! A transactional producer: init, begin, send, commit or abort.
//!
//! rdkafka's transaction calls block; call these from a plain thread, not
//! from an async executor.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rdkafka::error::KafkaError;
use rdkafka::producer::{Producer, ThreadedProducer};

use crate::client::delivery::DeliveryTracker;
use crate::client::produce::{base_record, enqueue_with_retry, ProduceRecord};
use crate::error::{classify, Error, Result};
use crate::Connection;

/// A producer with a `transactional.id`: its writes become visible to
/// read_committed consumers only when [`commit`](Self::commit) succeeds.
///
/// Call [`init`](Self::init) once, then for each transaction
/// [`begin`](Self::begin), [`send`](Self::send) any number of records, and
/// [`commit`](Self::commit) or [`abort`](Self::abort). An error of kind
/// [`weir_core::ErrorKind::Fenced`] means another producer with the same
/// `transactional.id` took over: drop this one.
pub struct TransactionalProducer {
    producer: ThreadedProducer<DeliveryTracker>,
    transactional_id: String,
    conn: Connection,
    next_index: AtomicUsize,
}

impl std::fmt::Debug for TransactionalProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionalProducer")
            .field("transactional_id", &self.transactional_id)
            .field("bootstrap_servers", &self.conn.bootstrap_servers())
            .finish_non_exhaustive()
    }
}

impl TransactionalProducer {
    /// Creates the producer (`acks=all`, idempotent). Does not contact the
    /// broker yet: call [`init`](Self::init).
    pub fn new(conn: &Connection, transactional_id: impl Into<String>) -> Result<Self> {
        let transactional_id = transactional_id.into();
        if transactional_id.is_empty() {
            return Err(Error::Config {
                key: "transactional.id".into(),
                message: "must not be empty".into(),
            });
        }
        let timeout_ms = conn.timeout().as_millis().to_string();
        let producer = crate::client::tuning::producer(
            conn.client_config(&[
                ("acks", "all"),
                ("enable.idempotence", "true"),
                ("linger.ms", "5"),
                ("transactional.id", &transactional_id),
                ("message.timeout.ms", &timeout_ms),
            ]),
            DeliveryTracker::default(),
        )?;
        Ok(TransactionalProducer {
            producer,
            transactional_id,
            conn: conn.clone(),
            next_index: AtomicUsize::new(0),
        })
    }

    /// The producer's `transactional.id`.
    pub fn transactional_id(&self) -> &str {
        &self.transactional_id
    }

    fn txn_error(&self, operation: &'static str, e: &KafkaError) -> Error {
        Error::Transaction {
            operation,
            transactional_id: self.transactional_id.clone(),
            message: e.to_string(),
            kind: classify(e),
        }
    }

    /// Registers the `transactional.id` with the broker, fencing older
    /// producers that used it and completing their open transaction.
    pub fn init(&self) -> Result<()> {
        crate::client::flush::init_transactions_connected(&self.producer, self.conn.timeout())
            .map_err(|e| self.txn_error("init", &e))
    }

    /// Begins a transaction.
    pub fn begin(&self) -> Result<()> {
        // Reports of an earlier transaction must not leak into this one.
        let _ = self.producer.context().drain_first_error();
        self.producer
            .begin_transaction()
            .map_err(|e| self.txn_error("begin", &e))
    }

    /// Enqueues `record` to `topic` in the current transaction. Delivery
    /// failures surface at [`commit`](Self::commit).
    pub fn send(&self, topic: &str, record: &ProduceRecord) -> Result<()> {
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + self.conn.timeout();
        enqueue_with_retry(
            base_record(topic, record, index),
            deadline,
            |r| self.producer.send(r).map_err(Box::new),
            std::thread::sleep,
        )
        .map_err(|e| Error::Produce {
            topic: topic.to_owned(),
            message: e.to_string(),
            kind: classify(&e),
        })
    }

    /// Waits until every record sent so far is acknowledged by the broker
    /// (written to the log, still uncommitted). Without it, [`abort`](Self::abort)
    /// may drop records that were never sent.
    pub fn flush(&self) -> Result<()> {
        crate::client::flush::flush_threaded(&self.producer, self.conn.timeout())
            .map_err(|e| self.txn_error("flush", &e))?;
        self.delivered("flush")
    }

    /// Fails with the first delivery failure reported since the last look,
    /// as a failure of `operation`.
    fn delivered(&self, operation: &'static str) -> Result<()> {
        match self.producer.context().drain_first_error() {
            None => Ok(()),
            Some((message, kind)) => Err(Error::Transaction {
                operation,
                transactional_id: self.transactional_id.clone(),
                message: format!("a record was not delivered: {message}"),
                kind,
            }),
        }
    }

    /// Flushes the transaction's records and commits it.
    pub fn commit(&self) -> Result<()> {
        crate::client::flush::commit_transaction_threaded(&self.producer, self.conn.timeout())
            .map_err(|e| self.txn_error("commit", &e))?;
        self.delivered("commit")
    }

    /// Aborts the transaction. Records already written stay in the log and
    /// read_committed consumers skip them; records still queued in the client
    /// are dropped.
    pub fn abort(&self) -> Result<()> {
        let result = self
            .producer
            .abort_transaction(self.conn.timeout())
            .map_err(|e| self.txn_error("abort", &e));
        let _ = self.producer.context().drain_first_error();
        result
    }
}
