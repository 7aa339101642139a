//! Waiting on a threaded producer without rdkafka's and librdkafka's fixed
//! waits: for its acknowledgements, its transaction's commit, the start of
//! its transactions.

use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::producer::{Producer, ProducerContext, ThreadedProducer};

/// How often [`flush_threaded`] looks again while records are in flight.
const CHECK_EVERY: Duration = Duration::from_millis(1);

/// Waits until `producer` has nothing in flight: every record sent so far
/// acknowledged (or failed) and its delivery report served. Fails with
/// `KafkaError::Flush(OperationTimedOut)` after `timeout`.
///
/// rdkafka's own `flush` waits in steps of up to 100 ms, polling the
/// delivery-report queue from the calling thread, while a
/// `ThreadedProducer`'s polling thread serves the same queue: the reports
/// go to that thread and the caller sleeps out its step, so a flush took
/// about 100 ms however fast the broker answered (every at-least-once
/// commit stalled the stream thread that long). Here each check is a
/// zero-timeout `rd_kafka_flush`, which wakes the broker threads to send
/// batches still waiting for `linger.ms`, serves the reports already there
/// and returns; between checks the thread sleeps [`CHECK_EVERY`].
pub(crate) fn flush_threaded<C: ProducerContext + 'static>(
    producer: &ThreadedProducer<C>,
    timeout: Duration,
) -> KafkaResult<()> {
    let deadline = Instant::now() + timeout;
    loop {
        match producer.flush(Duration::ZERO) {
            Ok(()) => return Ok(()),
            Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {}
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut));
        }
        std::thread::sleep(CHECK_EVERY.min(deadline - now));
    }
}

/// Commits `producer`'s transaction. rdkafka's `commit_transaction` begins
/// with its own `flush`, which has the 100 ms steps [`flush_threaded`]
/// avoids: every exactly-once commit took 100 ms however fast the broker
/// answered. Flushing here first leaves it nothing to wait for.
pub(crate) fn commit_transaction_threaded<C: ProducerContext + 'static>(
    producer: &ThreadedProducer<C>,
    timeout: Duration,
) -> KafkaResult<()> {
    let deadline = Instant::now() + timeout;
    flush_threaded(producer, timeout)?;
    producer.commit_transaction(deadline.saturating_duration_since(Instant::now()))
}

/// Initialises `producer`'s transactions once it is connected to a broker
/// that the cluster's metadata names.
///
/// librdkafka looks the transaction coordinator up as soon as
/// `init_transactions` is called; when no connection is up yet, or the
/// bootstrap connection it asked on is being replaced by the connection to
/// the broker the metadata named, it asks again only when a fixed 500 ms
/// timer fires: one start in two of an exactly-once application took half
/// a second longer. Two metadata requests first (the first learns the
/// brokers over the bootstrap connection, the second waits for a learned
/// broker's connection) leave it a connection to ask on. Their errors are
/// left to `init_transactions` to report.
pub(crate) fn init_transactions_connected<C: ProducerContext + 'static>(
    producer: &ThreadedProducer<C>,
    timeout: Duration,
) -> KafkaResult<()> {
    let deadline = Instant::now() + timeout;
    for _ in 0..2 {
        // At most half of what is left each: init_transactions keeps time
        // of its own when the broker is away.
        let remaining = deadline.saturating_duration_since(Instant::now());
        if let Err(e) = producer.client().fetch_metadata(None, remaining / 2) {
            tracing::debug!(error = %e, "metadata before init_transactions");
            break;
        }
    }
    producer.init_transactions(deadline.saturating_duration_since(Instant::now()))
}
