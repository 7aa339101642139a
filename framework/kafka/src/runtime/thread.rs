//! A stream thread: one consumer, one producer, the tasks of its partitions,
//! and the poll -> queue -> process -> commit loop.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use weir_core::record::RawRecordRef;
use weir_core::{ErrorKind, Headers as WeirHeaders};

use crate::client::headers::read_headers;
use crate::error::{classify, Error, Result};
use crate::runtime::ports::consume_error;
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
                tasks.fetch_lag.clear();
                let (engine, mut ports) = tasks.split(consumer, &self.app);
                if let Err(e) = engine.revoke(&mut ports, &partitions, lost) {
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
            tasks.fetch_lag.clear();
            let (engine, mut ports) = tasks.split(consumer, &self.app);
            if let Err(e) = engine.assign(&mut ports, &partitions) {
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
    let headers = match read_headers(msg) {
        Ok(headers) => headers,
        Err(problem) => {
            // rdkafka cannot read a header key that is not UTF-8: the record
            // goes on without its headers rather than stopping the thread.
            tracing::warn!(
                topic = msg.topic(),
                partition = msg.partition(),
                offset = msg.offset(),
                %problem,
                "a record's headers cannot be read; processing it without them"
            );
            WeirHeaders::default()
        }
    };
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
    let result = run_loop(index, &consumer, &app, &shared);
    let mut tasks = shared.lock().unwrap_or_else(|e| e.into_inner());
    // A clean stop commits first; so does an error that left the work done
    // committable (at-least-once, not fenced, no lost delivery).
    let commit_first = match &result {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, kind = %e.kind(), "stream thread failed; closing its tasks");
            !tasks.collector.is_transactional()
                && e.kind() != ErrorKind::Fenced
                && !matches!(e, Error::Produce { .. })
        }
    };
    let (engine, mut ports) = tasks.split(&consumer, &app);
    let closed = engine.close(&mut ports, commit_first);
    drop(tasks);
    consumer.unsubscribe();
    tracing::info!("stream thread stopped");
    match (result, closed) {
        (Err(e), closed) => {
            if let Err(close_error) = closed {
                tracing::warn!(error = %close_error, "commit of the work done before the failure failed");
            }
            Err(e)
        }
        (Ok(()), Err(e)) => {
            tracing::error!(error = %e, "final commit failed");
            Err(e)
        }
        (Ok(()), Ok(())) => Ok(()),
    }
}

fn run_loop(
    index: usize,
    consumer: &BaseConsumer<ThreadContext>,
    app: &AppShared,
    shared: &SharedTasks,
) -> Result<()> {
    let mut last_commit = Instant::now();
    let mut idle = true;
    let mut last_poll_error: Option<Instant> = None;
    // Allocated whole once, and kept: grown record by record it was
    // reallocated ~11 times a turn (~6% of a join's stream thread), and
    // allocated afresh each turn (tens of kilobytes) it made the allocator
    // gather up every small freed block first, each turn (2-5% of the join
    // benchmark's process).
    let mut batch = Vec::with_capacity(POLL_BATCH);
    while !app.shutdown.load(Ordering::Acquire) {
        // Left over by a turn that reset its tasks instead (the `continue`
        // after `reset` below): those records are fetched again.
        batch.clear();
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
                        let mut message = e.to_string();
                        if e.rdkafka_error_code()
                            == Some(rdkafka::error::RDKafkaErrorCode::GroupAuthorizationFailed)
                        {
                            // librdkafka's error does not say which group.
                            message = format!(
                                "{message} (consumer group '{}')",
                                app.config.application_id
                            );
                        }
                        return Err(Error::Consume {
                            topic: subscribed_topics(consumer),
                            message,
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
        if tasks.engine.needs_reset() {
            reset(index, consumer, app, &mut tasks)?;
            continue;
        }
        let restoring = tasks.restorer.is_restoring();
        if restoring {
            let budget = if tasks.engine.is_empty() {
                RESTORE_SLICE_IDLE
            } else {
                RESTORE_SLICE
            };
            let (engine, mut ports) = tasks.split(consumer, app);
            engine.restore(&mut ports, budget_ms(budget))?;
            if !tasks.restorer.is_restoring() {
                app.state.thread_rebalancing(index, false);
            }
        }
        let mut processed = 0;
        let turn = (|| {
            for msg in &batch {
                with_raw_record(msg, |raw| tasks.engine.add_record(raw))?;
            }
            // The messages go back to the consumer; the room stays.
            batch.clear();
            if drained {
                let empty = tasks.engine.empty_input_partitions();
                let lags = tasks.fetch_lag.lags(consumer, &empty, &app.config);
                tasks.engine.update_fetch_lags(|tp| lags.get(tp).copied());
            }
            let (engine, mut ports) = tasks.split(consumer, app);
            processed = engine.process(&mut ports, PROCESS_BUDGET)?;
            app.metrics
                .records_processed
                .fetch_add(processed as u64, Ordering::Relaxed);
            app.metrics.set_buffered(index, tasks.engine.buffered());
            app.metrics
                .set_dropped(index, tasks.engine.dropped_records());
            app.metrics.set_errors(index, tasks.engine.error_counts());
            if last_commit.elapsed() >= app.config.commit_interval
                || tasks.engine.commit_requested()
            {
                tasks.commit(consumer, app)?;
                last_commit = Instant::now();
            }
            Ok::<(), Error>(())
        })();
        if let Err(e) = turn {
            // Exactly-once: abort, roll the state back to the last commit,
            // process again from there; any other error stops the thread.
            let (engine, mut ports) = tasks.split(consumer, app);
            engine.recover(&mut ports, e)?;
            reset(index, consumer, app, &mut tasks)?;
            last_commit = Instant::now();
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
    app: &AppShared,
    tasks: &mut ThreadTasks,
) -> Result<()> {
    let assignment = consumer.assignment().map_err(|e| consume_error(&e))?;
    let partitions = partitions_of(&assignment);
    tasks.fetch_lag.clear();
    let (engine, mut ports) = tasks.split(consumer, app);
    engine.reset(&mut ports, &partitions)?;
    if tasks.restorer.is_restoring() {
        app.state.thread_rebalancing(index, true);
    }
    Ok(())
}

/// The topics `consumer` subscribes to, comma-separated: a consumer error
/// (a topic deleted or denied) does not say which topic it is about.
fn subscribed_topics(consumer: &BaseConsumer<ThreadContext>) -> String {
    let Ok(subscription) = consumer.subscription() else {
        return String::new();
    };
    let topics: Vec<String> = subscription
        .elements()
        .iter()
        .map(|e| e.topic().to_string())
        .collect();
    topics.join(",")
}

/// A restore slice's budget in whole milliseconds.
fn budget_ms(budget: Duration) -> u64 {
    u64::try_from(budget.as_millis()).unwrap_or(u64::MAX)
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
