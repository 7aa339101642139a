//! The tasks a stream thread owns, and what happens to them on assignment,
//! revocation and commit.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use weir_core::collector::{Clock, SystemClock};
use weir_core::record::TopicPartition;
use weir_core::task::{Task, TaskId};
use weir_core::topology::Topology;
use weir_core::ErrorKind;

use crate::error::{classify, retry_retriable, Error, Result};
use crate::runtime::collector::ProducerCollector;
use crate::runtime::restore::Restorer;
use crate::runtime::thread::with_raw_record;
use crate::runtime::AppShared;

/// What a stream thread owns besides its consumer; shared with the consumer's
/// rebalance callbacks.
pub(crate) struct ThreadTasks {
    pub(crate) tasks: BTreeMap<TaskId, Task>,
    pub(crate) collector: ProducerCollector,
    pub(crate) paused: HashSet<TopicPartition>,
    /// An error raised inside a rebalance callback, for the thread loop to act on.
    pub(crate) error: Option<Error>,
    /// New tasks whose stores are being restored (their input partitions paused).
    pub(crate) restorer: Restorer,
    /// Since when offset commits have been failing, if they are.
    pub(crate) failing_since: Option<Instant>,
    /// Exactly-once: a transaction was aborted inside a rebalance callback;
    /// the thread loop must reset its tasks before processing more.
    pub(crate) needs_reset: bool,
    /// Exactly-once: the offsets the last transaction committed, so that a
    /// commit interval without progress opens no transaction.
    pub(crate) committed: HashMap<TopicPartition, i64>,
    /// The record cache the caching stores of all this thread's tasks share.
    pub(crate) thread_cache: Option<Arc<weir_core::store::ThreadCache>>,
}

/// How long offset commits may keep failing with an error librdkafka calls
/// fatal before the thread gives up (retriable ones are retried forever).
const FATAL_COMMIT_FAILURES_FOR: std::time::Duration = std::time::Duration::from_secs(300);

fn processing(task: TaskId, source: weir_core::Error) -> Error {
    Error::Processing {
        task: task.to_string(),
        source,
    }
}

impl ThreadTasks {
    pub(crate) fn new(collector: ProducerCollector) -> Self {
        ThreadTasks {
            tasks: BTreeMap::new(),
            collector,
            paused: HashSet::new(),
            error: None,
            restorer: Restorer::default(),
            failing_since: None,
            needs_reset: false,
            committed: HashMap::new(),
            thread_cache: None,
        }
    }

    /// Creates the tasks for newly assigned partitions. A task whose stores
    /// are behind their changelogs goes to the restorer, its input partitions
    /// paused until [`restore`](Self::restore) hands it back; the others
    /// start at once.
    pub(crate) fn assign<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        partitions: &[TopicPartition],
        topology: &Topology,
        app: &AppShared,
    ) -> Result<()> {
        let app_id = &app.config.application_id;
        for tp in partitions {
            let Some(sub) = topology.subtopology_reading(&tp.topic, app_id) else {
                return Err(Error::Config {
                    key: "topology".to_string(),
                    message: format!("assigned partition {tp} is not read by the topology"),
                });
            };
            let id = TaskId::new(sub, tp.partition);
            if self.tasks.contains_key(&id) || self.restorer.contains(&id) {
                continue;
            }
            let mut config = app.config.task.clone();
            let cache = self
                .thread_cache
                .get_or_insert_with(|| weir_core::store::ThreadCache::new(config.cache_max_bytes));
            config.thread_cache = Some(Arc::clone(cache));
            let task = topology
                .create_task(id, config)
                .map_err(|e| processing(id, e))?;
            let inputs = task.input_partitions();
            match self.restorer.add(task, &app.config)? {
                Some(task) => self.start_task(task)?,
                None => {
                    let mut pause = TopicPartitionList::new();
                    for tp in &inputs {
                        pause.add_partition(&tp.topic, tp.partition);
                    }
                    consumer.pause(&pause).map_err(|e| consume_error(&e))?;
                    tracing::info!(task = %id, "task created; restoring its stores");
                }
            }
        }
        Ok(())
    }

    /// Initializes `task` and makes it active.
    fn start_task(&mut self, mut task: Task) -> Result<()> {
        let id = task.id();
        task.init(&mut self.collector, &SystemClock)
            .map_err(|e| processing(id, e))?;
        tracing::info!(task = %id, "task created");
        self.tasks.insert(id, task);
        Ok(())
    }

    /// Restores for up to `budget`, then starts the tasks whose stores are
    /// up to date: their input partitions are rewound to the committed
    /// offsets (records fetched for them meanwhile were dropped) and resumed.
    pub(crate) fn restore<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        budget: std::time::Duration,
        app: &AppShared,
    ) -> Result<()> {
        // Restore time is the wall-clock time spent restoring (tasks restore
        // together, so their own durations overlap): rate = records / time.
        let start = Instant::now();
        let ready = self.restorer.poll(budget)?;
        let records = ready.iter().map(|(_, restored, _)| restored).sum();
        app.metrics.record_restore(records, start.elapsed());
        for (task, _, _) in ready {
            let mut inputs = TopicPartitionList::new();
            for tp in task.input_partitions() {
                inputs.add_partition(&tp.topic, tp.partition);
            }
            rewind_to_committed(consumer, inputs.clone())?;
            consumer.resume(&inputs).map_err(|e| consume_error(&e))?;
            self.start_task(task)?;
        }
        Ok(())
    }

    /// Commits, then closes, the tasks reading any of `partitions`. With
    /// `lost` the partitions already belong to someone else: close without
    /// committing (their records will be processed again there).
    pub(crate) fn revoke<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        partitions: &[TopicPartition],
        lost: bool,
        app: &AppShared,
    ) -> Result<()> {
        for mut task in self.restorer.remove(Some(partitions)) {
            // Never started: nothing to commit; what was restored stays in the store.
            if let Err(e) = task.close_dirty() {
                tracing::warn!(task = %task.id(), error = %e, "error while closing a restoring task");
            }
        }
        let ids: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.input_partitions().iter().any(|p| partitions.contains(p)))
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        if self.collector.is_transactional() {
            return self.revoke_eos(consumer, partitions, ids, lost, app);
        }
        let result = if lost {
            tracing::warn!(
                tasks = ids.len(),
                "partitions lost; closing tasks without commit"
            );
            Ok(())
        } else {
            self.commit(consumer, Some(&ids), app)
        };
        for id in ids {
            if let Some(mut task) = self.tasks.remove(&id) {
                if let Err(e) = task.close(&mut self.collector) {
                    tracing::warn!(task = %id, error = %e, "error while closing task");
                }
                tracing::info!(task = %id, "task closed");
            }
        }
        self.resume_paused(consumer, partitions);
        if let Err(e) = self.collector.flush() {
            tracing::warn!(error = %e, "output written while closing tasks could not be flushed");
        }
        result
    }

    /// Resumes those of `partitions` paused for back-pressure: a paused
    /// partition stays paused in librdkafka across a reassignment.
    fn resume_paused<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        partitions: &[TopicPartition],
    ) {
        let mut resume = TopicPartitionList::new();
        for tp in partitions {
            if self.paused.remove(tp) {
                resume.add_partition(&tp.topic, tp.partition);
            }
        }
        if resume.count() > 0 {
            if let Err(e) = consumer.resume(&resume) {
                tracing::warn!(error = %e, "resuming partitions failed");
            }
        }
    }

    /// Exactly-once revocation: one transaction covers every task of the
    /// thread, so all of them commit; the revoked ones then close. When the
    /// partitions were lost, or the commit fails, the transaction is
    /// aborted instead, the revoked tasks close dirty and the others are
    /// reset by the thread loop before it processes again.
    fn revoke_eos<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        partitions: &[TopicPartition],
        ids: Vec<TaskId>,
        lost: bool,
        app: &AppShared,
    ) -> Result<()> {
        let committed = if lost {
            tracing::warn!(
                tasks = ids.len(),
                "partitions lost; aborting the open transaction"
            );
            Err(Error::Transaction {
                operation: "commit",
                transactional_id: String::new(),
                message: "partitions lost".to_string(),
                kind: ErrorKind::Retriable,
            })
        } else {
            self.commit_eos(consumer, app)
        };
        let clean = committed.is_ok();
        if let Err(failure) = committed {
            if !lost {
                tracing::warn!(error = %failure, "commit on revocation failed; aborting");
            }
            self.collector.recover(&failure)?;
            self.needs_reset = true;
        }
        for id in ids {
            if let Some(mut task) = self.tasks.remove(&id) {
                let closed = if clean {
                    task.close(&mut self.collector)
                } else {
                    task.close_dirty()
                };
                if let Err(e) = closed {
                    tracing::warn!(task = %id, error = %e, "error while closing task");
                }
                tracing::info!(task = %id, clean, "task closed");
            }
        }
        for tp in partitions {
            self.committed.remove(tp);
        }
        self.resume_paused(consumer, partitions);
        if clean && self.collector.in_transaction() {
            // Output the closing processors wrote.
            let none = TopicPartitionList::new();
            if let Err(e) = self.collector.commit_transaction(&none, None) {
                tracing::warn!(error = %e, "output written while closing tasks was not committed");
                self.collector.recover(&e)?;
                self.needs_reset = true;
            }
        }
        Ok(())
    }

    /// Exactly-once: after an aborted transaction (or a replaced producer),
    /// drops every task without committing, so their state since the last
    /// commit is discarded, rewinds the consumer to the committed offsets and
    /// creates the tasks again (restoring their stores from the changelogs,
    /// read_committed). Nothing processed since the last commit is lost: it
    /// is processed again.
    pub(crate) fn reset<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        topology: &Topology,
        app: &AppShared,
    ) -> Result<()> {
        self.needs_reset = false;
        self.committed.clear();
        self.close_all_dirty();
        let assignment = consumer.assignment().map_err(|e| consume_error(&e))?;
        let partitions = partitions_of(&assignment);
        self.resume_paused(consumer, &partitions);
        if partitions.is_empty() {
            return Ok(());
        }
        rewind_to_committed(consumer, assignment)?;
        tracing::warn!(
            partitions = partitions.len(),
            "exactly-once: tasks reset to the last commit; processing again from there"
        );
        app.metrics.aborts.fetch_add(1, Ordering::Relaxed);
        self.assign(consumer, &partitions, topology, app)
    }

    /// Drops every task (restoring ones too) without flushing or committing anything.
    pub(crate) fn close_all_dirty(&mut self) {
        let restoring = self.restorer.remove(None);
        let tasks = std::mem::take(&mut self.tasks)
            .into_iter()
            .chain(restoring.into_iter().map(|t| (t.id(), t)));
        for (id, mut task) in tasks {
            if let Err(e) = task.close_dirty() {
                tracing::warn!(task = %id, error = %e, "error while closing task");
            }
        }
    }

    /// Queues polled records in their tasks, decoded straight from the
    /// consumer's buffers.
    pub(crate) fn add(
        &mut self,
        topology: &Topology,
        app_id: &str,
        records: Vec<BorrowedMessage<'_>>,
    ) -> Result<()> {
        // Records come in runs of one partition: look its task up once per run.
        let mut run: Option<(&str, i32, Option<u32>)> = None;
        for msg in &records {
            let (topic, partition) = (msg.topic(), msg.partition());
            let same = run.is_some_and(|(t, p, _)| p == partition && t == topic);
            if !same {
                let sub = topology.subtopology_reading(topic, app_id);
                if let Some(task) = sub.and_then(|s| self.tasks.get_mut(&TaskId::new(s, partition)))
                {
                    task.set_caught_up(&TopicPartition::new(topic, partition), false);
                }
                run = Some((topic, partition, sub));
            }
            let Some(sub) = run.and_then(|(_, _, sub)| sub) else {
                continue;
            };
            let id = TaskId::new(sub, partition);
            let Some(task) = self.tasks.get_mut(&id) else {
                // A record of a partition revoked meanwhile: it will be read again by its new owner.
                continue;
            };
            with_raw_record(msg, |raw| task.add_record(raw)).map_err(|e| processing(id, e))?;
        }
        Ok(())
    }

    /// Processes up to `budget` records, round-robin over tasks, and fires
    /// due wall-clock punctuations. Returns how many records were processed.
    pub(crate) fn process(&mut self, budget: usize, clock: &dyn Clock) -> Result<usize> {
        // One clock reading per round: wall-clock time is only used for
        // punctuation and idling, which need no finer grain than a round.
        let clock = &FixedClock(clock.now_ms());
        let mut done = 0;
        let per_task = (budget / self.tasks.len().max(1)).max(1);
        loop {
            let mut progress = false;
            for (id, task) in self.tasks.iter_mut() {
                for _ in 0..per_task {
                    if !task
                        .process(&mut self.collector, clock)
                        .map_err(|e| processing(*id, e))?
                    {
                        break;
                    }
                    done += 1;
                    progress = true;
                }
            }
            if !progress || done >= budget {
                break;
            }
        }
        for (id, task) in self.tasks.iter_mut() {
            task.punctuate_wall_clock(&mut self.collector, clock)
                .map_err(|e| processing(*id, e))?;
        }
        Ok(done)
    }

    pub(crate) fn mark_caught_up(&mut self) {
        for task in self.tasks.values_mut() {
            for tp in task.input_partitions() {
                if task.buffered(&tp) == 0 {
                    task.set_caught_up(&tp, true);
                }
            }
        }
    }

    pub(crate) fn commit_requested(&self) -> bool {
        self.tasks.values().any(|t| t.commit_requested())
    }

    pub(crate) fn buffered(&self) -> usize {
        self.tasks.values().map(|t| t.buffered_total()).sum()
    }

    /// At-least-once commit: wait until every output record is acknowledged,
    /// then commit the next offsets (last processed + 1) of `only` tasks, or of all.
    pub(crate) fn commit<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        only: Option<&[TaskId]>,
        app: &AppShared,
    ) -> Result<()> {
        if self.collector.is_transactional() {
            // One transaction covers every task of the thread.
            return self.commit_eos(consumer, app);
        }
        let start = Instant::now();
        // Processors forward what they hold back (cached table updates)
        // before the sends are flushed and the offsets committed.
        for (id, task) in self.tasks.iter_mut() {
            if only.is_some_and(|ids| !ids.contains(id)) {
                continue;
            }
            task.flush(&mut self.collector)
                .map_err(|e| processing(*id, e))?;
        }
        let mut tpl = TopicPartitionList::new();
        for (id, task) in self.tasks.iter_mut() {
            if only.is_some_and(|ids| !ids.contains(id)) {
                continue;
            }
            for (tp, offset) in task.prepare_commit().map_err(|e| processing(*id, e))? {
                tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(offset))
                    .map_err(|e| Error::Commit {
                        message: e.to_string(),
                        kind: ErrorKind::Fatal,
                    })?;
            }
            // Store writes go to the changelogs before the offsets that caused them commit.
            task.send_changelogs(&mut self.collector)
                .map_err(|e| processing(*id, e))?;
        }
        self.collector.flush()?;
        self.record_changelog_offsets(only)?;
        if tpl.count() == 0 {
            return Ok(());
        }
        match consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => {
                self.failing_since = None;
                let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                app.metrics.record_commit(micros);
                app.metrics
                    .records_sent
                    .store(self.collector.sent(), Ordering::Relaxed);
                tracing::debug!(partitions = tpl.count(), micros, "committed offsets");
                Ok(())
            }
            Err(e) => match classify(&e) {
                ErrorKind::User => Err(Error::Commit {
                    message: e.to_string(),
                    kind: ErrorKind::User,
                }),
                kind => {
                    // A rebalance, a broker away, a coordinator moving: nothing is lost, the
                    // records since the last successful commit are processed again (at-least-once).
                    let since = *self.failing_since.get_or_insert_with(Instant::now);
                    if kind == ErrorKind::Fatal && since.elapsed() >= FATAL_COMMIT_FAILURES_FOR {
                        return Err(Error::Commit {
                            message: format!("{e} (commits failing for {:?})", since.elapsed()),
                            kind,
                        });
                    }
                    tracing::warn!(error = %e, %kind, "offset commit failed; will retry at the next commit");
                    Ok(())
                }
            },
        }
    }

    /// Exactly-once commit: every task flushes, its changelog records and
    /// the consumed offsets join the open transaction, which commits; then
    /// the stores write down what they held back and record how far their
    /// changelogs are committed. An error means the transaction did not
    /// commit: the caller aborts and resets (see [`reset`](Self::reset)).
    pub(crate) fn commit_eos<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        app: &AppShared,
    ) -> Result<()> {
        let start = Instant::now();
        for (id, task) in self.tasks.iter_mut() {
            task.flush(&mut self.collector)
                .map_err(|e| processing(*id, e))?;
        }
        let mut tpl = TopicPartitionList::new();
        let mut moved = Vec::new();
        for (id, task) in self.tasks.iter_mut() {
            for (tp, offset) in task.prepare_commit().map_err(|e| processing(*id, e))? {
                if self.committed.get(&tp) == Some(&offset) {
                    continue;
                }
                tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(offset))
                    .map_err(|e| Error::Commit {
                        message: e.to_string(),
                        kind: ErrorKind::Fatal,
                    })?;
                moved.push((tp, offset));
            }
            task.send_changelogs(&mut self.collector)
                .map_err(|e| processing(*id, e))?;
        }
        if tpl.count() == 0 && !self.collector.in_transaction() {
            return Ok(());
        }
        let group = consumer.group_metadata();
        self.collector.commit_transaction(&tpl, group.as_ref())?;
        self.committed.extend(moved);
        self.record_changelog_offsets(None)?;
        for (id, task) in self.tasks.iter_mut() {
            task.commit_state().map_err(|e| processing(*id, e))?;
        }
        let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        app.metrics.record_commit(micros);
        app.metrics
            .records_sent
            .store(self.collector.sent(), Ordering::Relaxed);
        tracing::debug!(partitions = tpl.count(), micros, "transaction committed");
        Ok(())
    }

    /// Records in each logged store of `only` tasks (or of all) how far the
    /// broker has acknowledged its changelog (committed, under exactly-once).
    fn record_changelog_offsets(&mut self, only: Option<&[TaskId]>) -> Result<()> {
        for (id, task) in self.tasks.iter_mut() {
            if only.is_some_and(|ids| !ids.contains(id)) {
                continue;
            }
            for (store, tp) in task.changelog_partitions() {
                let Some(offset) = self.collector.changelog_offset(&tp.topic, tp.partition) else {
                    continue;
                };
                // Only forward: after a task moves away and back, the acknowledged
                // offset seen by this producer may be older than the restored one.
                let reached = task
                    .changelog_offset(&store)
                    .map_err(|e| processing(*id, e))?;
                if reached.is_none_or(|r| offset > r) {
                    task.set_changelog_offset(&store, offset)
                        .map_err(|e| processing(*id, e))?;
                }
            }
        }
        Ok(())
    }

    /// Closes every task (after the final commit, or dirty after an error).
    pub(crate) fn close_all(&mut self) {
        for mut task in self.restorer.remove(None) {
            if let Err(e) = task.close_dirty() {
                tracing::warn!(task = %task.id(), error = %e, "error while closing a restoring task");
            }
        }
        for (id, mut task) in std::mem::take(&mut self.tasks) {
            if let Err(e) = task.close(&mut self.collector) {
                tracing::warn!(task = %id, error = %e, "error while closing task");
            }
        }
    }
}

fn consume_error(e: &rdkafka::error::KafkaError) -> Error {
    Error::Consume {
        topic: String::new(),
        message: format!("moving the consumer: {e}"),
        kind: classify(e),
    }
}

/// How long rewinding retries while the broker is away.
const REWIND_RETRY: std::time::Duration = std::time::Duration::from_secs(120);

/// Seeks each of `partitions` to its committed offset (or the beginning,
/// `auto.offset.reset=earliest`, when nothing is committed).
fn rewind_to_committed<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    partitions: TopicPartitionList,
) -> Result<()> {
    let timeout = std::time::Duration::from_secs(30);
    let committed = retry_retriable("reading the committed offsets", REWIND_RETRY, || {
        consumer.committed_offsets(partitions.clone(), timeout)
    })
    .map_err(|e| consume_error(&e))?;
    for e in committed.elements() {
        let offset = match e.offset() {
            Offset::Offset(o) => Offset::Offset(o),
            _ => Offset::Beginning,
        };
        retry_retriable("rewinding to the committed offsets", REWIND_RETRY, || {
            consumer.seek(e.topic(), e.partition(), offset, timeout)
        })
        .map_err(|err| consume_error(&err))?;
    }
    Ok(())
}

/// A clock stopped at one reading.
struct FixedClock(i64);

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

/// The partitions of a rebalance list.
pub(crate) fn partitions_of(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements()
        .iter()
        .map(|e| TopicPartition::new(e.topic(), e.partition()))
        .collect()
}

/// Keeps an `Arc` alive with a name for the shared thread state.
pub(crate) type SharedTasks = Arc<std::sync::Mutex<ThreadTasks>>;
