//! What the driver holds behind its handle: the engine (the same task
//! manager and commit protocol as the Kafka runtime), the in-memory world
//! behind its ports, and the loop that processes until every task is idle.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use weir_core::collector::{Clock, RecordCollector};
use weir_core::engine::TaskManager;
use weir_core::handler::ErrorCounts;
use weir_core::headers::Headers;
use weir_core::store::StateStore;
use weir_core::task::{Task, TaskId};
use weir_core::topology::Topology;
use weir_core::{Error, RawRecord, Result, TopicPartition};

use super::collector::{default_partition, MemoryCollector, MockClock, TopicPartitions};
use super::config::DriverConfig;
use super::global::DriverGlobals;
use super::world::{CrashPoint, World};

/// The driver's state, shared by the driver and its test topics.
pub(crate) type Shared = Arc<Mutex<DriverState>>;

/// Locks the shared state. A panic while it was held (a panicking processor)
/// leaves it usable: the driver holds no invariant a panic could break halfway
/// that a test would care about.
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, DriverState> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An error about how the driver was used (unknown topic, closed driver, ...).
pub(crate) fn misuse(message: impl Into<String>) -> Error {
    Error::Task {
        task: "test driver".to_string(),
        message: message.into(),
    }
}

/// A record on its way into the driver, still without an offset.
pub(crate) struct Incoming {
    pub(crate) topic: String,
    /// `None`: the default partitioner picks (see [`default_partition`]).
    pub(crate) partition: Option<i32>,
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) value: Option<Vec<u8>>,
    pub(crate) timestamp: i64,
    pub(crate) headers: Headers,
}

pub(crate) struct DriverState {
    engine: TaskManager,
    pub(crate) world: World,
    config: DriverConfig,
    /// Source topic (real name) -> the sub-topology that reads it.
    readers: BTreeMap<String, u32>,
    /// Tasks moved away by [`revoke_task`](Self::revoke_task): their
    /// partitions are not assigned again when records arrive.
    revoked: BTreeSet<TaskId>,
    /// The global stores, fed directly by records piped into their topics.
    globals: DriverGlobals,
    /// Records the global stores' deserialization handler skipped and
    /// dead-lettered.
    global_errors: ErrorCounts,
    closed: bool,
}

impl DriverState {
    pub(crate) fn new(topology: Topology, config: DriverConfig) -> Self {
        let app = config.application_id().to_string();
        let mut readers = BTreeMap::new();
        let mut counts = config.explicit_partitions().clone();
        for sub in topology.subtopologies() {
            for t in sub.source_topics() {
                let name = t.resolve(&app);
                counts.insert(name.clone(), config.resolve_partitions(&topology, &name));
                readers.insert(name, sub.id());
            }
        }
        // Internal topics as planned: repartition topics, and changelogs
        // (one partition per task of their sub-topology, which may differ
        // from the default when user topics have explicit counts).
        let changelogs = topology
            .subtopologies()
            .iter()
            .flat_map(|s| topology.changelog_topics(s.id()))
            .map(|(_, t)| t);
        for t in topology
            .internal_topics()
            .iter()
            .map(|t| t.topic.clone())
            .chain(changelogs)
        {
            let name = t.resolve(&app);
            let n = config.resolve_partitions(&topology, &name);
            counts.insert(name, n);
        }
        let collector = MemoryCollector {
            partitions: TopicPartitions {
                counts,
                default: config.default_partitions(),
            },
            sent: Vec::new(),
        };
        let mut task_config = config.task_config();
        let globals = DriverGlobals::open(&topology, &config, &mut task_config);
        let world = World::new(
            collector,
            MockClock::new(config.wall_clock_time_ms()),
            task_config.guarantee.is_exactly_once(),
        );
        DriverState {
            engine: TaskManager::new(Arc::new(topology), task_config),
            world,
            config,
            readers,
            revoked: BTreeSet::new(),
            globals,
            global_errors: ErrorCounts::default(),
            closed: false,
        }
    }

    pub(crate) fn application_id(&self) -> &str {
        self.config.application_id()
    }

    pub(crate) fn partition_count(&self, topic: &str) -> i32 {
        if let Some(n) = self.globals.partition_count(topic) {
            return n;
        }
        self.world.collector.partitions.count(topic)
    }

    pub(crate) fn task_ids(&self) -> Vec<TaskId> {
        self.engine.task_ids()
    }

    pub(crate) fn stream_time(&self, id: TaskId) -> Option<i64> {
        self.engine.task(id).map(Task::stream_time)
    }

    pub(crate) fn dropped_records(&self) -> u64 {
        self.engine.dropped_records()
    }

    pub(crate) fn error_counts(&self) -> ErrorCounts {
        let mut counts = self.engine.error_counts();
        counts.add(&self.global_errors);
        counts
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(misuse("the driver is closed"))
        } else if self.world.crashed {
            Err(misuse(
                "the driver crashed (simulated): call restart() first",
            ))
        } else {
            Ok(())
        }
    }

    /// Assigns the task reading `tp` (all its input partitions), unless it
    /// exists or was moved away: it is created, its stores restored from
    /// their changelogs, and it reads from the committed offsets.
    fn ensure_assigned(&mut self, tp: &TopicPartition) -> Result<()> {
        let Some(&sub) = self.readers.get(&tp.topic) else {
            return Ok(());
        };
        let id = TaskId::new(sub, tp.partition);
        if self.engine.task(id).is_some() || self.revoked.contains(&id) {
            return Ok(());
        }
        self.assign_task(id)
    }

    /// The input partitions of task `id`.
    fn inputs_of(&self, id: TaskId) -> Vec<TopicPartition> {
        self.readers
            .iter()
            .filter(|(_, &sub)| sub == id.subtopology)
            .map(|(topic, _)| TopicPartition::new(topic.clone(), id.partition))
            .collect()
    }

    /// Creates task `id` through the engine (restoring its stores) and
    /// assigns its partitions at their committed offsets, marked caught up:
    /// the driver has all input at hand, so a task never waits for data.
    fn assign_task(&mut self, id: TaskId) -> Result<()> {
        if self.engine.task(id).is_some() {
            // Assigning again would rewind its partitions: records read twice.
            return Ok(());
        }
        let inputs = self.inputs_of(id);
        for tp in &inputs {
            self.world.assign(tp);
        }
        self.engine.assign(&mut self.world, &inputs)?;
        if let Some(task) = self.engine.task_mut(id) {
            for tp in &inputs {
                task.set_caught_up(tp, true);
            }
        }
        self.revoked.remove(&id);
        self.route_sent()
    }

    /// Hands every record a task may read (assigned partitions, past their
    /// positions) to the engine.
    fn feed(&mut self) -> Result<()> {
        while self.world.has_unpolled() {
            for raw in self.world.poll() {
                self.engine.add_record(raw.as_ref())?;
            }
        }
        // The driver has all input at hand: no partition has more to fetch.
        self.engine.mark_caught_up();
        Ok(())
    }

    /// Queues `records` (piped by a test) in their tasks, all before any is
    /// processed, then processes until every task is idle.
    pub(crate) fn pipe(&mut self, records: Vec<Incoming>) -> Result<()> {
        self.enqueue(records)?;
        self.run()
    }

    /// Processes everything queued until every task is idle.
    pub(crate) fn process_queued(&mut self) -> Result<()> {
        self.check_open()?;
        self.run()
    }

    /// Queues `records` in their tasks (creating tasks as needed) without
    /// processing them.
    pub(crate) fn enqueue(&mut self, records: Vec<Incoming>) -> Result<()> {
        self.check_open()?;
        for r in records {
            if self.globals.reads(&r.topic) {
                let handler = self.engine.task_config().deserialization_handler.clone();
                let dead_letters =
                    self.globals
                        .pipe(r, handler.as_ref(), self.config.dead_letter_topic())?;
                if let Some(dead_letters) = dead_letters {
                    // A global store has no task and no transaction: its
                    // dead-letter records go out with the next routing.
                    self.global_errors.deserialization.dropped += 1;
                    for record in dead_letters {
                        self.world.collector.send(record)?;
                        self.global_errors.deserialization.dead_lettered += 1;
                    }
                }
                continue;
            }
            if !self.readers.contains_key(&r.topic) {
                let known: Vec<&str> = self.readers.keys().map(String::as_str).collect();
                return Err(misuse(format!(
                    "unknown input topic '{}': no source of the topology reads it (it reads: [{}])",
                    r.topic,
                    known.join(", ")
                )));
            }
            let count = self.partition_count(&r.topic);
            let partition = match r.partition {
                Some(p) if (0..count).contains(&p) => p,
                Some(p) => {
                    return Err(misuse(format!(
                        "input topic '{}' has no partition {p}: it has {count} partition(s)",
                        r.topic
                    )))
                }
                None => default_partition(r.key.as_deref(), count),
            };
            let tp = self.world.append(RawRecord {
                topic: r.topic,
                partition,
                offset: 0,
                timestamp: r.timestamp,
                key: r.key,
                value: r.value,
                headers: r.headers,
            });
            self.ensure_assigned(&tp)?;
            self.feed()?;
        }
        Ok(())
    }

    /// Moves the mock clock, fires due wall-clock punctuations on every task
    /// (in task id order), then processes until every task is idle.
    pub(crate) fn advance_wall_clock(&mut self, ms: i64) -> Result<()> {
        self.check_open()?;
        self.world.clock.advance_ms(ms);
        for id in self.task_ids() {
            let result = self.engine.punctuate_task(&mut self.world, id);
            self.after_step(result)?;
        }
        self.run()
    }

    /// Routes what tasks sent whatever `result` is; the first error wins.
    fn after_step<T>(&mut self, result: Result<T>) -> Result<T> {
        match result {
            Ok(v) => {
                self.route_sent()?;
                Ok(v)
            }
            Err(e) => {
                // Keep what was sent before the failure visible; report the failure.
                let e = self.failed(e);
                if !self.world.crashed {
                    let _ = self.route_sent();
                }
                Err(e)
            }
        }
    }

    /// Writes what the tasks sent (at-least-once; exactly-once it waits in
    /// the transaction), assigns the tasks reading partitions that got
    /// records, and hands those records to them.
    fn route_sent(&mut self) -> Result<()> {
        loop {
            self.world.route_sent();
            let written = std::mem::take(&mut self.world.written);
            for tp in &written {
                self.ensure_assigned(tp)?;
            }
            self.feed()?;
            if written.is_empty() {
                return Ok(());
            }
        }
    }

    /// Processes until no task has a record it can process: one record per
    /// task per round, tasks in id order, routing output (and feeding it back)
    /// after every record. Then commits every task; under exactly-once what
    /// the transaction made visible may feed tasks again, and the loop goes on.
    fn run(&mut self) -> Result<()> {
        self.route_sent()?;
        let limit = self.config.processing_limit();
        let mut processed = 0usize;
        loop {
            let mut progressed = false;
            for id in self.task_ids() {
                let result = self.engine.process_task(&mut self.world, id);
                if self.after_step(result)? {
                    progressed = true;
                    processed += 1;
                    if processed >= limit && self.engine.buffered() > 0 {
                        return Err(misuse(format!(
                            "still busy after processing {processed} records in one call \
                             (does the topology feed its own input?); raise \
                             DriverConfig::with_processing_limit if this is expected"
                        )));
                    }
                }
            }
            if progressed {
                continue;
            }
            // Before committing, processors forward what they hold back
            // (cached table updates); that may feed internal topics.
            let waiting = self.engine.buffered();
            let result = self.engine.flush_processors(&mut self.world, None);
            self.after_step(result)?;
            let buffered = self.engine.buffered();
            if buffered > waiting {
                continue;
            }
            if buffered > 0 {
                // No task processed a record and flushing brought none: the
                // queued records can never be processed in this call.
                return Err(misuse(format!(
                    "{buffered} records are queued but no task can process them \
                     (a task waiting for data on an empty partition under \
                     max.task.idle.ms: advance the wall clock or pipe to it)"
                )));
            }
            self.commit()?;
            self.route_sent()?;
            if self.engine.buffered() == 0 {
                return Ok(());
            }
        }
    }

    /// Commits every task through the engine's commit protocol. A simulated
    /// crash kills the tasks where it struck.
    fn commit(&mut self) -> Result<()> {
        let result = self.engine.commit(&mut self.world, None);
        // What the commit made visible may feed tasks.
        self.after_step(result).map(|_| ())
    }

    /// After an error: a simulated crash kills the process (tasks dropped
    /// without closing, nothing more written); under exactly-once an error
    /// a transaction abort handles aborts and resets the tasks. Returns the error.
    fn failed(&mut self, error: Error) -> Error {
        if self.world.crashed {
            self.engine.close_dirty(&mut self.world);
            self.world.kill();
            return error;
        }
        error
    }

    /// Simulates a crash at `point` of the next commit.
    pub(crate) fn crash_at_next_commit(&mut self, point: CrashPoint) {
        self.world.crash_plan = Some(point);
    }

    /// Starts the application again, as after a restart of its process on
    /// the same state directory: a crashed driver comes back; a running one
    /// commits and closes its tasks first. Every partition that had a task
    /// is assigned again: stores are restored from their changelogs (from
    /// the offset they reached; in-memory stores from the beginning) and
    /// processing resumes from the committed offsets.
    pub(crate) fn restart(&mut self) -> Result<()> {
        if self.closed {
            return Err(misuse("the driver is closed"));
        }
        let ids: BTreeSet<TaskId> = self
            .world
            .committed
            .keys()
            .chain(self.world.positions.keys())
            .filter_map(|tp| self.engine.task_id_reading(tp))
            .chain(self.engine.task_ids())
            .filter(|id| !self.revoked.contains(id))
            .collect();
        if !self.world.crashed {
            self.engine.close(&mut self.world, true)?;
            // What closing wrote is written; no task of this run reads it.
            self.world.route_sent();
            self.world.written.clear();
            self.world.kill();
        }
        self.world.crashed = false;
        self.engine = self.engine.fresh();
        for id in ids {
            self.assign_task(id)?;
        }
        self.run()
    }

    /// Moves task `id` away, as a rebalance would: it commits and closes,
    /// and its partitions are not read until [`assign_back`](Self::assign_back).
    pub(crate) fn revoke_task(&mut self, id: TaskId) -> Result<()> {
        self.check_open()?;
        let inputs = self.inputs_of(id);
        let result = self.engine.revoke(&mut self.world, &inputs, false);
        let result = self.after_step(result);
        for tp in &inputs {
            self.world.unassign(tp);
        }
        self.revoked.insert(id);
        result
    }

    /// Moves task `id` back: created again, its stores restored from their
    /// changelogs, reading from the committed offsets; then processes.
    pub(crate) fn assign_back(&mut self, id: TaskId) -> Result<()> {
        self.check_open()?;
        self.revoked.remove(&id);
        self.assign_task(id)?;
        self.run()
    }

    /// Transactions aborted so far (simulated crashes included).
    pub(crate) fn aborts(&self) -> u64 {
        self.world.aborts
    }

    /// Takes up to `max` unread output records of `topic`, oldest first.
    pub(crate) fn read_output(&mut self, topic: &str, max: usize) -> Vec<RawRecord> {
        match self.world.unread.get_mut(topic) {
            Some(q) => {
                let n = max.min(q.len());
                q.drain(..n).collect()
            }
            None => Vec::new(),
        }
    }

    pub(crate) fn unread_count(&self, topic: &str) -> usize {
        self.world.unread.get(topic).map_or(0, VecDeque::len)
    }

    /// Topics the topology sent to, by name.
    pub(crate) fn output_topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.world.history.iter().map(|r| r.topic.clone()).collect();
        topics.sort();
        topics.dedup();
        topics
    }

    /// Closes every task (in id order), committing first, keeping what they
    /// send while closing as output. Closing twice is harmless.
    pub(crate) fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        if self.world.crashed {
            return Ok(());
        }
        let closed = self.engine.close(&mut self.world, true);
        self.world.route_sent();
        self.world.written.clear();
        let globals = self.globals.close();
        closed.and(globals)
    }

    /// The names of the topology's state stores, sorted.
    pub(crate) fn store_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .engine
            .topology()
            .subtopologies()
            .iter()
            .flat_map(|sub| sub.stores().iter().cloned())
            .chain(self.globals.store_names())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Fails unless the topology has a store `name` and the driver is open.
    pub(crate) fn check_store(&self, name: &str) -> Result<()> {
        let names = self.store_names();
        if !names.iter().any(|n| n == name) {
            return Err(Error::Store {
                store: name.to_string(),
                message: format!(
                    "the topology has no such store (its stores: [{}])",
                    names.join(", ")
                ),
            });
        }
        if self.closed || self.world.crashed {
            return Err(Error::Store {
                store: name.to_string(),
                message: "the driver is closed (or crashed): its stores are closed too".to_string(),
            });
        }
        Ok(())
    }

    /// Calls `f` on every task's instance of store `name` (one per partition
    /// of the sub-topology that has it), in task id order; stops at the first
    /// error. Tasks not created yet (no record for their partition) have none.
    pub(crate) fn for_each_store(
        &mut self,
        name: &str,
        mut f: impl FnMut(&mut dyn StateStore) -> Result<()>,
    ) -> Result<()> {
        self.check_store(name)?;
        if let Some(mut view) = self.globals.view(name) {
            return f(view.as_mut());
        }
        for task in self.engine.tasks_mut() {
            if let Some(store) = task.state_store(name) {
                f(store)?;
            }
        }
        Ok(())
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.world.clock.now_ms()
    }
}
