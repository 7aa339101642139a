//! The engine: the task manager of one stream thread, the same code for the
//! Kafka runtime and the test driver.
//!
//! It owns the thread's active tasks and decides everything about them:
//! which tasks exist (assign, revoke, lost, reset, close), when a restored
//! task starts, which records are processed in a round, when a partition is
//! paused for back-pressure, and how a commit happens. It performs no I/O:
//! it reaches Kafka (or the driver's in-memory topics) only through the
//! ports: [`Input`], [`Output`], [`Committer`], [`Restoration`] and the
//! [`Clock`](crate::collector::Clock).
//!
//! # The commit protocol
//!
//! One sequence for both guarantees ([`TaskManager::commit`]):
//!
//! 1. **flush**: every processor forwards what it holds back (cached table
//!    updates);
//! 2. **prepare**: every store flushes its cache, the change-logging layer
//!    sends what it recorded, and the task reports its offsets (last
//!    processed + 1);
//! 3. **output acknowledged**: [`Output::flush`] waits for every record sent;
//! 4. **commit** through [`Committer::commit`]: the consumer's offsets
//!    (at-least-once) or the transaction carrying output, changelog records
//!    and offsets (exactly-once);
//! 5. **post-commit**: each store records how far its changelog is written
//!    and, under exactly-once, writes down the writes it held back; only
//!    after step 4 succeeded (an at-least-once offset commit that failed is
//!    retried at the next commit, and no offset is recorded before then).
//!
//! Under exactly-once a failure of steps 3-4 (or a send refused mid-round)
//! aborts the transaction ([`TaskManager::recover`]) and the thread resets
//! its tasks to the last commit ([`TaskManager::reset`]): their stores drop
//! what they held back and the inputs are read again from the committed
//! offsets.

mod commit;
mod lifecycle;
mod ports;
mod process;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

pub use ports::{Committer, Input, Output, PortError, Ports, Restoration, TaskFailure, WallClock};

use crate::record::{OffsetAndMetadata, TopicPartition};
use crate::store::ThreadCache;
use crate::task::{Task, TaskConfig, TaskId};
use crate::topology::Topology;

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitOutcome {
    /// Partitions whose offsets were committed.
    pub partitions: usize,
    /// Whether anything was committed (offsets, or a transaction).
    pub committed: bool,
}

/// The tasks of one stream thread and what happens to them.
pub struct TaskManager {
    topology: Arc<Topology>,
    config: TaskConfig,
    tasks: BTreeMap<TaskId, Task>,
    /// Input partitions paused because their queue is full, or to let a
    /// starved partition be fetched (those are also in `fetch_paused`).
    paused: HashSet<TopicPartition>,
    /// Input partitions paused while a task waits for a starved partition
    /// (see `process::STARVED_AFTER_MS`).
    fetch_paused: HashSet<TopicPartition>,
    /// The partitions found starved since the tasks last waited for none:
    /// not paused again for another starved one while the episode lasts
    /// (paused, a partition just fed runs dry and starves in turn).
    relieved: HashSet<TopicPartition>,
    /// Exactly-once: the offsets (and metadata) the last transaction
    /// committed, so that a commit without progress opens no transaction.
    committed: HashMap<TopicPartition, OffsetAndMetadata>,
    /// Exactly-once: a transaction was aborted; [`reset`](Self::reset) before
    /// processing more.
    needs_reset: bool,
    /// The record cache the caching stores of all the thread's tasks share.
    thread_cache: Option<Arc<ThreadCache>>,
    /// Since when (clock ms) at-least-once offset commits have been failing.
    commit_failing_since: Option<i64>,
    /// `buffered.records.per.partition`: pause a partition past this many queued records.
    max_buffered: usize,
    /// The task the last added record went to, with its topic and partition:
    /// records come in runs of one partition.
    last_route: Option<(String, i32, Option<TaskId>)>,
}

impl std::fmt::Debug for TaskManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskManager")
            .field("tasks", &self.tasks.keys().collect::<Vec<_>>())
            .field("paused", &self.paused)
            .field("needs_reset", &self.needs_reset)
            .finish_non_exhaustive()
    }
}

/// How long at-least-once offset commits may keep failing with an error
/// called fatal before the thread gives up (retriable ones are retried forever).
pub const FATAL_COMMIT_FAILURES_FOR_MS: i64 = 300_000;

impl TaskManager {
    /// A manager creating the tasks of `topology` with `config`. Partitions
    /// are paused past 1000 queued records (see [`with_max_buffered`](Self::with_max_buffered)).
    pub fn new(topology: Arc<Topology>, config: TaskConfig) -> Self {
        TaskManager {
            topology,
            config,
            tasks: BTreeMap::new(),
            paused: HashSet::new(),
            fetch_paused: HashSet::new(),
            relieved: HashSet::new(),
            committed: HashMap::new(),
            needs_reset: false,
            thread_cache: None,
            commit_failing_since: None,
            max_buffered: 1000,
            last_route: None,
        }
    }

    /// Pauses a partition once `records` are queued for it, and resumes it
    /// once half of them are processed (`buffered.records.per.partition`).
    pub fn with_max_buffered(mut self, records: usize) -> Self {
        self.max_buffered = records.max(1);
        self
    }

    /// A manager with no task, for the same topology and settings: what a
    /// restarted process starts with.
    pub fn fresh(&self) -> TaskManager {
        TaskManager::new(Arc::clone(&self.topology), self.config.clone())
            .with_max_buffered(self.max_buffered)
    }

    /// The topology the tasks run.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The settings tasks are created with.
    pub fn task_config(&self) -> &TaskConfig {
        &self.config
    }

    /// The ids of the active tasks, in order.
    pub fn task_ids(&self) -> Vec<TaskId> {
        self.tasks.keys().copied().collect()
    }

    /// Whether no task is active.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Active task `id`.
    pub fn task(&self, id: TaskId) -> Option<&Task> {
        self.tasks.get(&id)
    }

    /// Active task `id`, to read its stores.
    pub fn task_mut(&mut self, id: TaskId) -> Option<&mut Task> {
        self.tasks.get_mut(&id)
    }

    /// The active tasks, in id order.
    pub fn tasks_mut(&mut self) -> impl Iterator<Item = &mut Task> {
        self.tasks.values_mut()
    }

    /// Exactly-once: whether a transaction was aborted and the tasks must be
    /// [`reset`](Self::reset) before processing more.
    pub fn needs_reset(&self) -> bool {
        self.needs_reset
    }

    /// Whether a processor asked for a commit since the last one.
    pub fn commit_requested(&self) -> bool {
        self.tasks.values().any(Task::commit_requested)
    }

    /// Records queued in all tasks.
    pub fn buffered(&self) -> usize {
        self.tasks.values().map(Task::buffered_total).sum()
    }

    /// Records the processors of the running tasks dropped (late records,
    /// missing keys), summed: Kafka Streams' `dropped-records` over the
    /// tasks this thread runs now (a task's count starts again where it
    /// is created, as a Kafka Streams task metric does).
    pub fn dropped_records(&self) -> u64 {
        self.tasks.values().map(Task::dropped_records).sum()
    }

    /// Records the error handlers of the running tasks skipped and
    /// dead-lettered, per stage, summed (as [`dropped_records`](Self::dropped_records)).
    pub fn error_counts(&self) -> crate::handler::ErrorCounts {
        let mut counts = crate::handler::ErrorCounts::default();
        for task in self.tasks.values() {
            counts.add(&task.error_counts());
        }
        counts
    }

    /// The task of the sub-topology reading `tp`, if the topology reads it.
    pub fn task_id_reading(&self, tp: &TopicPartition) -> Option<TaskId> {
        self.topology
            .subtopology_reading(&tp.topic, &self.config.application_id)
            .map(|sub| TaskId::new(sub, tp.partition))
    }
}

/// Wraps a task's error with the task's id.
fn failed<E: PortError>(task: TaskId) -> impl Fn(crate::Error) -> E {
    move |source| E::from(TaskFailure { task, source })
}
