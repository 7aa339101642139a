//! Waiting for a threaded producer's acknowledgements.

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
