//! A stream thread: one consumer, one producer, the tasks of its partitions,
//! and the poll -> queue -> process -> commit loop.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::TopicPartitionList;
use weir_core::collector::SystemClock;
use weir_core::record::{RawRecordRef, TopicPartition};
use weir_core::topology::Topology;
use weir_core::{ErrorKind, Headers as WeirHeaders};

use crate::error::{classify, Error, Result};
use crate::runtime::tasks::{partitions_of, SharedTasks, ThreadTasks};
use crate::runtime::AppShared;

/// Records taken from the consumer per loop turn before processing.
const POLL_BATCH: usize = 2000;
/// Records processed per loop turn before polling again.
const PROCESS_BUDGET: usize = 2000;
/// Time given to restoration per loop turn while other tasks are active.
const RESTORE_SLICE: Duration = Duration::from_millis(50);
/// Time given to restoration per loop turn when no task is active.
const RESTORE_SLICE_IDLE: Duration = Duration::from_millis(500);

/// The consumer's context: runs the rebalance callbacks on the thread's tasks.
pub(crate) struct ThreadContext {
    pub(crate) index: usize,
    pub(crate) topology: Arc<Topology>,
    pub(crate) app: Arc<AppShared>,
    pub(crate) tasks: SharedTasks,
}

impl ThreadContext {
    fn lock(&self) -> MutexGuard<'_, ThreadTasks> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ClientContext for ThreadContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log_client_message(level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Transport errors while the broker is away are retried by librdkafka.
        tracing::warn!(thread = self.index, %error, reason, "Kafka client error");
    }

    /// librdkafka's periodic statistics: the lag of this thread's partitions
    /// (records in the log not yet handed to the thread).
    fn stats_raw(&self, statistics: &[u8]) {
        match consumer_lag(statistics) {
            Some(lag) => self.app.metrics.set_lag(self.index, lag),
            None => tracing::debug!("could not read the fetch lag from librdkafka's statistics"),
        }
    }
}

/// The lag in librdkafka's statistics JSON: for every partition, the records
/// in the log not yet fetched (`hi_offset - next_offset`, Kafka's
/// `records-lag`) plus those fetched but still in librdkafka's queue
/// (`fetchq_cnt`), summed; partitions with unknown offsets are skipped.
pub(crate) fn consumer_lag(statistics: &[u8]) -> Option<u64> {
    let json: serde_json::Value = serde_json::from_slice(statistics).ok()?;
    let topics = json.get("topics")?.as_object()?;
    let offset =
        |p: &serde_json::Value, name: &str| p.get(name).and_then(serde_json::Value::as_i64);
    let lag = topics
        .values()
        .filter_map(|t| t.get("partitions").and_then(|p| p.as_object()))
        .flat_map(|parts| parts.iter())
        .filter(|(id, _)| id.as_str() != "-1")
        // Only partitions assigned to this consumer: a revoked one keeps
        // stale offsets in the statistics.
        .filter(|(_, p)| p.get("desired").and_then(serde_json::Value::as_bool) == Some(true))
        .filter_map(|(_, p)| {
            let (hi, next) = (offset(p, "hi_offset")?, offset(p, "next_offset")?);
            let queued = offset(p, "fetchq_cnt").unwrap_or(0).max(0).unsigned_abs();
            (hi >= 0 && next >= 0).then(|| (hi - next).max(0).unsigned_abs() + queued)
        })
        .sum();
    Some(lag)
}

impl ConsumerContext for ThreadContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => {
                self.app.state.thread_rebalancing(self.index, true);
                let partitions = partitions_of(tpl);
                let lost = consumer.assignment_lost();
                tracing::info!(
                    thread = self.index,
                    partitions = partitions.len(),
                    lost,
                    "partitions revoked"
                );
                let mut tasks = self.lock();
                if let Err(e) = tasks.revoke(consumer, &partitions, lost, &self.app) {
                    tasks.error.get_or_insert(e);
                }
            }
            Rebalance::Assign(_) => self.app.state.thread_rebalancing(self.index, true),
            Rebalance::Error(e) => {
                tracing::warn!(thread = self.index, error = %e, "rebalance error")
            }
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            // librdkafka keeps a partition paused by the application across a
            // reassignment: a new task starts with an empty queue, so resume.
            if tpl.count() > 0 {
                if let Err(e) = consumer.resume(tpl) {
                    tracing::warn!(error = %e, "resuming newly assigned partitions failed");
                }
            }
            let partitions = partitions_of(tpl);
            tracing::info!(
                thread = self.index,
                partitions = ?partitions.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                "partitions assigned"
            );
            let mut tasks = self.lock();
            if let Err(e) = tasks.assign(consumer, &partitions, &self.topology, &self.app) {
                tasks.error.get_or_insert(e);
            }
            // As in Kafka Streams, the thread stays rebalancing until its
            // new tasks' stores are restored (the loop ends it).
            let restoring = tasks.restorer.is_restoring();
            drop(tasks);
            self.app.metrics.rebalances.fetch_add(1, Ordering::Relaxed);
            self.app.state.thread_rebalancing(self.index, restoring);
        }
    }
}

/// Routes librdkafka's log lines to `tracing`.
pub(crate) fn log_client_message(level: RDKafkaLogLevel, fac: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", fac, "{message}")
        }
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", fac, "{message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", fac, "{message}")
        }
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", fac, "{message}"),
    }
}

/// Hands `msg` to `add` as a record borrowed from librdkafka's buffer: the
/// task's source decodes key and value from there, with no copy before.
pub(crate) fn with_raw_record<T>(
    msg: &BorrowedMessage<'_>,
    add: impl FnOnce(RawRecordRef<'_>) -> T,
) -> T {
    let mut headers = WeirHeaders::default();
    if let Some(h) = msg.headers() {
        for header in h.iter() {
            headers.add(header.key, header.value.map(|v| v.to_vec()));
        }
    }
    add(RawRecordRef {
        topic: msg.topic(),
        partition: msg.partition(),
        offset: msg.offset(),
        timestamp: msg.timestamp().to_millis().unwrap_or(-1),
        key: msg.key(),
        value: msg.payload(),
        headers: &headers,
    })
}

/// Runs one stream thread until shutdown or a fatal error.
pub(crate) fn run(consumer: BaseConsumer<ThreadContext>, topics: Vec<String>) -> Result<()> {
    let ctx = consumer.context();
    let index = ctx.index;
    let app = ctx.app.clone();
    let topology = ctx.topology.clone();
    let shared = ctx.tasks.clone();
    let span = tracing::info_span!("stream_thread", thread = index);
    let _enter = span.enter();
    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topic_refs)
        .map_err(|e| Error::Consume {
            topic: topics.join(","),
            message: e.to_string(),
            kind: classify(&e),
        })?;
    shared
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .collector
        .init_transactions()?;
    tracing::info!(topics = ?topics, "stream thread started");
    let result = run_loop(index, &consumer, &topology, &app, &shared);
    let mut tasks = shared.lock().unwrap_or_else(|e| e.into_inner());
    if tasks.collector.is_transactional() {
        let result = close_eos(&consumer, &mut tasks, &app, result);
        drop(tasks);
        consumer.unsubscribe();
        tracing::info!("stream thread stopped");
        return result;
    }
    match &result {
        Ok(()) => {
            if let Err(e) = tasks.commit(&consumer, None, &app) {
                tracing::error!(error = %e, "final commit failed");
                tasks.close_all();
                drop(tasks);
                return Err(e);
            }
            tasks.close_all();
            // Output a processor wrote while closing is flushed before the producer goes.
            if let Err(e) = tasks.collector.flush() {
                tracing::warn!(error = %e, "output written while closing could not be flushed");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, kind = %e.kind(), "stream thread failed; closing its tasks");
            // Work finished before the failure is committed (its output first), so a
            // restart resumes at the failing record. Not when the partitions moved on.
            if e.kind() != ErrorKind::Fenced && !matches!(e, Error::Produce { .. }) {
                if let Err(commit_error) = tasks.commit(&consumer, None, &app) {
                    tracing::warn!(error = %commit_error, "commit of the work done before the failure failed");
                }
            }
            tasks.close_all();
        }
    }
    drop(tasks);
    consumer.unsubscribe();
    tracing::info!("stream thread stopped");
    result
}

fn run_loop(
    index: usize,
    consumer: &BaseConsumer<ThreadContext>,
    topology: &Topology,
    app: &AppShared,
    shared: &SharedTasks,
) -> Result<()> {
    let clock = SystemClock;
    let app_id = app.config.application_id.as_str();
    let max_buffered = app.config.buffered_records_per_partition.max(1);
    let mut last_commit = Instant::now();
    let mut idle = true;
    let mut last_poll_error: Option<Instant> = None;
    while !app.shutdown.load(Ordering::Acquire) {
        let mut batch = Vec::new();
        let mut drained = false;
        let first_timeout = if idle {
            Duration::from_millis(50)
        } else {
            Duration::ZERO
        };
        while batch.len() < POLL_BATCH {
            let timeout = if batch.is_empty() {
                first_timeout
            } else {
                Duration::ZERO
            };
            match consumer.poll(timeout) {
                None => {
                    drained = true;
                    break;
                }
                Some(Ok(msg)) => batch.push(msg),
                Some(Err(e)) => {
                    let kind = classify(&e);
                    if kind == ErrorKind::Fatal || kind == ErrorKind::User {
                        return Err(Error::Consume {
                            topic: String::new(),
                            message: e.to_string(),
                            kind,
                        });
                    }
                    if last_poll_error.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                        tracing::warn!(error = %e, "consumer error; retrying");
                        last_poll_error = Some(Instant::now());
                    }
                    break;
                }
            }
        }
        let mut tasks = shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = tasks.error.take() {
            return Err(e);
        }
        if tasks.needs_reset {
            // Records polled before the rewind are read again after it.
            reset(index, consumer, topology, app, &mut tasks)?;
            continue;
        }
        let restoring = tasks.restorer.is_restoring();
        if restoring {
            // A slice of restoration per turn: the other tasks keep going.
            let budget = if tasks.tasks.is_empty() {
                RESTORE_SLICE_IDLE
            } else {
                RESTORE_SLICE
            };
            tasks.restore(consumer, budget, app)?;
            if !tasks.restorer.is_restoring() {
                app.state.thread_rebalancing(index, false);
            }
        }
        let mut processed = 0;
        let turn = (|| {
            tasks.add(topology, app_id, batch)?;
            if drained {
                tasks.mark_caught_up();
            }
            processed = tasks.process(PROCESS_BUDGET, &clock)?;
            app.metrics
                .records_processed
                .fetch_add(processed as u64, Ordering::Relaxed);
            apply_backpressure(consumer, &mut tasks, max_buffered)?;
            app.metrics.set_buffered(index, tasks.buffered());
            if last_commit.elapsed() >= app.config.commit_interval || tasks.commit_requested() {
                tasks.commit(consumer, None, app)?;
                last_commit = Instant::now();
            }
            Ok(())
        })();
        match turn {
            Ok(()) => {}
            Err(e) if tasks.collector.is_transactional() && recoverable_under_eos(&e) => {
                // Abort, roll the state back to the last commit, process again from there.
                tracing::warn!(error = %e, "exactly-once: transaction failed; aborting");
                tasks.collector.recover(&e)?;
                reset(index, consumer, topology, app, &mut tasks)?;
                last_commit = Instant::now();
            }
            Err(e) => return Err(e),
        }
        idle = processed == 0 && !restoring;
    }
    Ok(())
}

/// Exactly-once: resets the thread's tasks to the last commit; the thread
/// is rebalancing again while their stores are restored.
fn reset(
    index: usize,
    consumer: &BaseConsumer<ThreadContext>,
    topology: &Topology,
    app: &AppShared,
    tasks: &mut ThreadTasks,
) -> Result<()> {
    tasks.reset(consumer, topology, app)?;
    if tasks.restorer.is_restoring() {
        app.state.thread_rebalancing(index, true);
    }
    Ok(())
}

/// Whether, under exactly-once, `e` is handled by aborting the transaction
/// and processing again from the last commit (rather than stopping): a
/// transaction step that failed, or a send refused because the producer is
/// fenced or its transaction must abort. Errors of the application's own
/// code (processors, serdes) and of configuration still stop the thread.
fn recoverable_under_eos(e: &Error) -> bool {
    match e {
        Error::Transaction { .. } => true,
        Error::Produce { kind, .. } => *kind != ErrorKind::User,
        Error::Processing {
            source: weir_core::Error::Send { kind, .. },
            ..
        } => *kind != ErrorKind::User,
        _ => false,
    }
}

/// Exactly-once shutdown. After a clean run: a final commit, the tasks
/// close, and what closing processors wrote commits in one more
/// transaction. After a failure (or a failed final commit): the open
/// transaction is aborted and the tasks close dirty, so nothing
/// uncommitted is kept; a restart processes again from the last commit.
fn close_eos(
    consumer: &BaseConsumer<ThreadContext>,
    tasks: &mut ThreadTasks,
    app: &AppShared,
    result: Result<()>,
) -> Result<()> {
    let result = result.and_then(|()| tasks.commit(consumer, None, app));
    match result {
        Ok(()) => {
            tasks.close_all();
            let none = TopicPartitionList::new();
            if let Err(e) = tasks.collector.commit_transaction(&none, None) {
                tracing::warn!(error = %e, "output written while closing was not committed");
                if let Err(abort) = tasks.collector.abort_transaction() {
                    tracing::warn!(error = %abort, "aborting it failed too");
                }
            }
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, kind = %e.kind(), "stream thread failed; aborting its transaction");
            if let Err(abort) = tasks.collector.abort_transaction() {
                tracing::warn!(error = %abort, "abort failed; the broker aborts the transaction when it times out");
            }
            tasks.close_all_dirty();
            Err(e)
        }
    }
}

/// Pauses partitions whose queue is full and resumes them once half drained.
fn apply_backpressure(
    consumer: &BaseConsumer<ThreadContext>,
    tasks: &mut ThreadTasks,
    max_buffered: usize,
) -> Result<()> {
    let mut pause = TopicPartitionList::new();
    let mut resume = TopicPartitionList::new();
    let mut to_pause = Vec::new();
    let mut to_resume = Vec::new();
    for task in tasks.tasks.values() {
        for tp in task.input_partitions() {
            let n = task.buffered(&tp);
            let paused = tasks.paused.contains(&tp);
            if !paused && n >= max_buffered {
                pause.add_partition(&tp.topic, tp.partition);
                to_pause.push(tp);
            } else if paused && n <= max_buffered / 2 {
                resume.add_partition(&tp.topic, tp.partition);
                to_resume.push(tp);
            }
        }
    }
    let err = |e: KafkaError| Error::Consume {
        topic: String::new(),
        message: format!("pause/resume failed: {e}"),
        kind: classify(&e),
    };
    if pause.count() > 0 {
        tracing::debug!(partitions = ?to_pause, "pausing: queues full");
        consumer.pause(&pause).map_err(err)?;
        tasks.paused.extend(to_pause);
    }
    if resume.count() > 0 {
        tracing::debug!(partitions = ?to_resume, "resuming: queues drained");
        consumer.resume(&resume).map_err(err)?;
        for tp in &to_resume {
            tasks.paused.remove::<TopicPartition>(tp);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::consumer_lag;

    #[test]
    fn lag_sums_known_partitions_only() {
        let stats = br#"{"topics":{"in":{"partitions":{
            "0":{"desired":true,"hi_offset":15,"next_offset":10,"fetchq_cnt":3},
            "1":{"desired":true,"hi_offset":-1001,"next_offset":0},
            "2":{"desired":true,"hi_offset":4,"next_offset":4},
            "5":{"desired":false,"hi_offset":9,"next_offset":1},
            "-1":{"hi_offset":9,"next_offset":0}}},
            "other":{"partitions":{"3":{"desired":true,"hi_offset":2,"next_offset":0}}}}}"#;
        assert_eq!(consumer_lag(stats), Some(10));
        assert_eq!(consumer_lag(b"{}"), None);
        assert_eq!(consumer_lag(b"not json"), None);
    }
}
