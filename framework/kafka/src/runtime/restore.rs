//! Restoration: a new task's logged stores are brought up to date from their
//! changelog partitions — from the offset each store reached (kept in the
//! store with its data) to the end the changelog had when the task arrived —
//! in large batches, by the thread loop a slice at a time, so the thread's
//! other tasks keep processing and the consumer keeps polling (no
//! `max.poll.interval.ms` risk however long a restore takes). The task's
//! input partitions stay paused until it is restored.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use weir_core::record::TopicPartition;
use weir_core::store::WriteBatch;
use weir_core::task::{Task, TaskId};

use crate::error::{classify, retry_retriable, Error, Result};
use crate::runtime::RuntimeConfig;

/// Records written to a store per batch while restoring.
const RESTORE_BATCH: usize = 10_000;
/// Records read between two looks at the clock while restoring.
const CLOCK_EVERY: u32 = 64;
/// A changelog partition that yields nothing for this long fails the
/// restore (the broker is away).
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a changelog partition the broker's metadata does not list is
/// waited for when a task arrives. Right after a broker restart the
/// metadata may not list it yet (the verifier saw an instance stop on
/// "Unknown partition" twice in one long round); the changelogs were
/// checked or created at start, so one still unknown after this was deleted
/// and fails the thread, naming it.
const UNKNOWN_CHANGELOG_WAIT: Duration = Duration::from_secs(30);

/// Where a store's restoration starts in its changelog partition whose log
/// starts at `low`: after the offset the store reached (none: at `low`),
/// never before `low`. The reached offset is read from the store's files,
/// so any value is possible: `i64::MAX` saturates (it overflowed, a panic
/// in a debug build).
fn restore_from(reached: Option<i64>, low: i64) -> i64 {
    reached.map_or(low, |o| o.saturating_add(1).max(low))
}

/// The low and high watermarks of changelog partition `tp`, retrying
/// while the broker is away ([`STALL_TIMEOUT`]) and while its metadata
/// does not list the partition ([`UNKNOWN_CHANGELOG_WAIT`]).
fn changelog_watermarks(
    consumer: &BaseConsumer,
    tp: &TopicPartition,
) -> rdkafka::error::KafkaResult<(i64, i64)> {
    let start = Instant::now();
    loop {
        let read = retry_retriable("reading a changelog's offsets", STALL_TIMEOUT, || {
            consumer.fetch_watermarks(&tp.topic, tp.partition, Duration::from_secs(30))
        });
        match read {
            Err(e) if unknown_partition(&e) && start.elapsed() < UNKNOWN_CHANGELOG_WAIT => {
                tracing::warn!(changelog = %tp, error = %e, "the broker does not list the changelog partition yet; retrying");
                std::thread::sleep(Duration::from_millis(500));
            }
            other => return other,
        }
    }
}

/// Whether `e` says the broker does not know the topic or partition.
fn unknown_partition(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(C::UnknownPartition | C::UnknownTopicOrPartition | C::UnknownTopic)
    )
}

fn consume_error(topic: &str, e: &rdkafka::error::KafkaError) -> Error {
    Error::Consume {
        topic: topic.to_string(),
        message: format!("restoring: {e}"),
        kind: classify(e),
    }
}

/// The consumer a stream thread restores with: assigned by hand, never joins
/// the group nor commits, reads `read_committed`, fetching in large chunks.
fn restore_consumer(config: &RuntimeConfig) -> Result<BaseConsumer> {
    let tuning = [
        // A start offset out of range (retention) reads from the earliest kept.
        ("auto.offset.reset", "earliest"),
        // Fetches of a few MiB keep the restoring thread busy; librdkafka
        // holds each fetched record as an operation of a few hundred bytes,
        // so 100 MiB fetches of small changelog records took 600 MiB.
        ("fetch.max.bytes", "4194304"),
        ("max.partition.fetch.bytes", "1048576"),
        ("fetch.wait.max.ms", "50"),
        // librdkafka stops fetching past this many queued records (all
        // partitions together) and, by default, waits a whole second before
        // it looks again: restoration stood still for a second at a time.
        ("queued.min.messages", "50000"),
        ("queued.max.messages.kbytes", "8192"),
        ("fetch.queue.backoff.ms", "1"),
    ];
    manual_consumer(config, "restore", &tuning)
}

/// A consumer of the application's cluster that is assigned by hand (or
/// only asks offsets), never joins the group nor commits, and reads
/// `read_committed`: `tuning` over the client defaults, the user's client
/// and consumer properties over both. `role` names its group id
/// (`<application.id>-<role>`, never joined).
pub(crate) fn manual_consumer(
    config: &RuntimeConfig,
    role: &str,
    tuning: &[(&str, &str)],
) -> Result<BaseConsumer> {
    let mut c = ClientConfig::new();
    crate::client::tuning::apply(&mut c, crate::client::tuning::CLIENT);
    c.set("bootstrap.servers", &config.bootstrap_servers)
        .set("group.id", format!("{}-{role}", config.application_id))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    crate::client::tuning::apply(&mut c, tuning);
    for (k, v) in config
        .client_properties
        .iter()
        .chain(&config.consumer_properties)
    {
        c.set(k, v);
    }
    // Forced: an aborted transaction's changelog records never reach a
    // store, and an offset asked is the last stable one.
    c.set("isolation.level", "read_committed");
    c.create().map_err(|e| Error::client(&e))
}

/// One changelog partition being restored.
struct Partition {
    task: TaskId,
    store: String,
    /// The changelog's end when the task arrived: restored once reached.
    end: i64,
    /// The next offset to read.
    next: i64,
    batch: WriteBatch,
    /// `next` when progress was last checked, and when it last moved (read
    /// only when the consumer has nothing to hand over, not per record).
    checked_next: i64,
    last_progress: Instant,
}

/// A task waiting for its stores.
struct Waiting {
    task: Task,
    partitions_left: usize,
    restored: u64,
    started: Instant,
}

/// What a restoration slice finished: tasks ready to process, with the
/// records restored into them and how long it took.
pub(crate) type Restored = Vec<(Task, u64, Duration)>;

/// A stream thread's restorations in progress.
#[derive(Default)]
pub(crate) struct Restorer {
    consumer: Option<BaseConsumer>,
    partitions: HashMap<(String, i32), Partition>,
    waiting: BTreeMap<TaskId, Waiting>,
}

impl Restorer {
    /// Whether tasks are waiting for their stores.
    pub(crate) fn is_restoring(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Whether task `id` is waiting for its stores.
    pub(crate) fn contains(&self, id: &TaskId) -> bool {
        self.waiting.contains_key(id)
    }

    /// Takes `task` in: returns it at once when no store is behind its
    /// changelog, else keeps it until [`poll`](Self::poll) has restored it.
    pub(crate) fn add(&mut self, mut task: Task, config: &RuntimeConfig) -> Result<Option<Task>> {
        let stores = task.changelog_partitions();
        if stores.is_empty() {
            return Ok(Some(task));
        }
        if self.consumer.is_none() {
            self.consumer = Some(restore_consumer(config)?);
        }
        let Some(consumer) = &self.consumer else {
            return Ok(Some(task));
        };
        let id = task.id();
        let task_err = |e| Error::Processing {
            task: id.to_string(),
            source: e,
        };
        let mut assign = TopicPartitionList::new();
        let mut behind = Vec::new();
        for (store, tp) in stores {
            let reached = task.changelog_offset(&store).map_err(task_err)?;
            let (low, high) =
                changelog_watermarks(consumer, &tp).map_err(|e| consume_error(&tp.topic, &e))?;
            let from = restore_from(reached, low);
            if from >= high {
                tracing::debug!(task = %id, store, "store up to date with its changelog");
                continue;
            }
            assign
                .add_partition_offset(&tp.topic, tp.partition, Offset::Offset(from))
                .map_err(|e| consume_error(&tp.topic, &e))?;
            tracing::info!(task = %id, store, from, to = high, "restoring store from its changelog");
            behind.push((
                (tp.topic.clone(), tp.partition),
                Partition {
                    task: id,
                    store,
                    end: high,
                    next: from,
                    batch: WriteBatch::new(),
                    checked_next: from,
                    last_progress: Instant::now(),
                },
            ));
        }
        if behind.is_empty() {
            return Ok(Some(task));
        }
        consumer
            .incremental_assign(&assign)
            .map_err(|e| consume_error("changelog", &e))?;
        self.waiting.insert(
            id,
            Waiting {
                task,
                partitions_left: behind.len(),
                restored: 0,
                started: Instant::now(),
            },
        );
        self.partitions.extend(behind);
        Ok(None)
    }

    /// Restores for up to `budget`; returns the tasks whose stores are now
    /// all up to date.
    pub(crate) fn poll(&mut self, budget: Duration) -> Result<Restored> {
        let mut ready = Vec::new();
        let Some(consumer) = self.consumer.take() else {
            return Ok(ready);
        };
        let result = self.poll_with(&consumer, budget, &mut ready);
        self.consumer = Some(consumer);
        result.map(|()| ready)
    }

    fn poll_with(
        &mut self,
        consumer: &BaseConsumer,
        budget: Duration,
        ready: &mut Restored,
    ) -> Result<()> {
        let start = Instant::now();
        let mut polls = 0u32;
        let mut flowing = false;
        while !self.partitions.is_empty() {
            // The clock is read every few records, not for each.
            polls = polls.wrapping_add(1);
            if polls.is_multiple_of(CLOCK_EVERY) && start.elapsed() >= budget {
                break;
            }
            // While records flow, take them without a timeout (a timed poll
            // reads the clock several times per record); wait only when the
            // last poll came back empty.
            let wait = if flowing {
                Duration::ZERO
            } else {
                Duration::from_millis(20)
            };
            let polled = consumer.poll(wait);
            flowing = polled.is_some();
            if polled.is_none() && wait.is_zero() {
                continue;
            }
            match polled {
                Some(Ok(msg)) => {
                    // A linear search without allocating: a thread restores a few partitions.
                    let Some((key, p)) = self
                        .partitions
                        .iter_mut()
                        .find(|((t, n), _)| *n == msg.partition() && t == msg.topic())
                    else {
                        continue;
                    };
                    p.next = msg.offset() + 1;
                    if let Some(k) = msg.key() {
                        p.batch.write(k.to_vec(), msg.payload().map(<[u8]>::to_vec));
                    }
                    if p.batch.len() >= RESTORE_BATCH || p.next >= p.end {
                        let key = key.clone();
                        self.apply(consumer, &key, ready)?;
                    }
                }
                Some(Err(e)) => {
                    let kind = classify(&e);
                    if matches!(
                        kind,
                        weir_core::ErrorKind::Fatal | weir_core::ErrorKind::User
                    ) {
                        return Err(consume_error("changelog", &e));
                    }
                    tracing::warn!(error = %e, "changelog read failed while restoring; retrying");
                }
                None => {
                    self.catch_up_positions(consumer, ready)?;
                    if start.elapsed() >= budget {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// With nothing to read: transaction markers or compacted records can
    /// end a changelog before its end offset; the consumer's position says
    /// where each partition really is. Also fails a partition that stalled.
    fn catch_up_positions(&mut self, consumer: &BaseConsumer, ready: &mut Restored) -> Result<()> {
        let positions = consumer
            .position()
            .map_err(|e| consume_error("changelog", &e))?;
        let mut done = Vec::new();
        for (key, p) in &mut self.partitions {
            if let Some(Offset::Offset(pos)) =
                positions.find_partition(&key.0, key.1).map(|e| e.offset())
            {
                p.next = p.next.max(pos);
            }
            if p.next != p.checked_next {
                p.checked_next = p.next;
                p.last_progress = Instant::now();
            }
            if p.next >= p.end {
                done.push(key.clone());
            } else if p.last_progress.elapsed() > STALL_TIMEOUT {
                return Err(Error::Timeout {
                    operation: format!(
                        "restoring store '{}' from {}-{} (at {} of {})",
                        p.store, key.0, key.1, p.next, p.end
                    ),
                    after: STALL_TIMEOUT,
                });
            }
        }
        for key in done {
            self.apply(consumer, &key, ready)?;
        }
        Ok(())
    }

    /// Writes partition `key`'s batch to its store; when the partition has
    /// reached its end, stops reading it, and hands its task over once all
    /// of the task's partitions are done.
    fn apply(
        &mut self,
        consumer: &BaseConsumer,
        key: &(String, i32),
        ready: &mut Restored,
    ) -> Result<()> {
        let Some(p) = self.partitions.get_mut(key) else {
            return Ok(());
        };
        let finished = p.next >= p.end;
        let mut batch = std::mem::take(&mut p.batch);
        let (task_id, store) = (p.task, p.store.clone());
        let Some(waiting) = self.waiting.get_mut(&task_id) else {
            return Ok(());
        };
        let n = batch.len() as u64;
        if n > 0 || finished {
            batch.set_offset(p.next - 1);
            waiting
                .task
                .restore(&store, batch)
                .map_err(|e| Error::Processing {
                    task: task_id.to_string(),
                    source: e,
                })?;
            waiting.restored += n;
        }
        if !finished {
            return Ok(());
        }
        self.partitions.remove(key);
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&key.0, key.1);
        consumer
            .incremental_unassign(&tpl)
            .map_err(|e| consume_error(&key.0, &e))?;
        waiting.partitions_left -= 1;
        if waiting.partitions_left == 0 {
            if let Some(w) = self.waiting.remove(&task_id) {
                let took = w.started.elapsed();
                tracing::info!(
                    task = %task_id,
                    records = w.restored,
                    seconds = took.as_secs_f64(),
                    rate = w.restored as f64 / took.as_secs_f64().max(1e-9),
                    "task restored"
                );
                ready.push((w.task, w.restored, took));
            }
        }
        Ok(())
    }

    /// Stops restoring the tasks reading any of `revoked` or, with `None`,
    /// all; returns them so they can be closed.
    pub(crate) fn remove(&mut self, revoked: Option<&[TopicPartition]>) -> Vec<Task> {
        let take: Vec<TaskId> = self
            .waiting
            .iter()
            .filter(|(_, w)| {
                revoked.is_none_or(|r| w.task.input_partitions().iter().any(|tp| r.contains(tp)))
            })
            .map(|(id, _)| *id)
            .collect();
        let mut tpl = TopicPartitionList::new();
        self.partitions.retain(|key, p| {
            let keep = !take.contains(&p.task);
            if !keep {
                tpl.add_partition(&key.0, key.1);
            }
            keep
        });
        if tpl.count() > 0 {
            if let Some(consumer) = &self.consumer {
                if let Err(e) = consumer.incremental_unassign(&tpl) {
                    tracing::warn!(error = %e, "could not stop reading changelogs");
                }
            }
        }
        take.iter()
            .filter_map(|id| self.waiting.remove(id))
            .map(|w| w.task)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode;

    use super::{restore_from, unknown_partition};

    #[test]
    fn only_an_unknown_topic_or_partition_waits_for_the_metadata() {
        let fetch = KafkaError::MetadataFetch;
        assert!(unknown_partition(&fetch(
            RDKafkaErrorCode::UnknownPartition
        )));
        assert!(unknown_partition(&fetch(
            RDKafkaErrorCode::UnknownTopicOrPartition
        )));
        assert!(!unknown_partition(&fetch(
            RDKafkaErrorCode::BrokerTransportFailure
        )));
        assert!(!unknown_partition(&fetch(
            RDKafkaErrorCode::TopicAuthorizationFailed
        )));
    }

    #[test]
    fn restoration_starts_after_the_reached_offset_and_never_overflows() {
        assert_eq!(restore_from(None, 3), 3);
        assert_eq!(restore_from(Some(9), 3), 10);
        assert_eq!(restore_from(Some(-7), 3), 3);
        assert_eq!(restore_from(Some(i64::MAX), 3), i64::MAX);
        assert_eq!(restore_from(Some(i64::MIN), 0), 0);
    }
}
