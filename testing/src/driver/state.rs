//! What the driver holds behind its handle: the tasks, the topic logs, the
//! in-memory collector and the mock clock, and the loop that processes until
//! every task is idle.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use weir_core::collector::Clock;
use weir_core::headers::Headers;
use weir_core::store::StateStore;
use weir_core::task::{Task, TaskConfig, TaskId};
use weir_core::topology::Topology;
use weir_core::{Error, RawRecord, Result, TopicPartition};

use super::collector::{default_partition, MemoryCollector, MockClock, TopicPartitions};
use super::config::DriverConfig;

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
    topology: Topology,
    config: DriverConfig,
    task_config: TaskConfig,
    /// Source topic (real name) -> the sub-topology that reads it.
    readers: BTreeMap<String, u32>,
    tasks: BTreeMap<TaskId, Task>,
    collector: MemoryCollector,
    pub(crate) clock: MockClock,
    /// Next offset of every topic-partition written so far (input and output share a log).
    next_offsets: BTreeMap<TopicPartition, i64>,
    /// Output not yet read through a test output topic, per topic, in send order.
    unread: BTreeMap<String, VecDeque<RawRecord>>,
    /// Everything the topology sent, in send order.
    pub(crate) history: Vec<RawRecord>,
    /// Offsets committed by the tasks (last processed offset + 1).
    pub(crate) committed: BTreeMap<TopicPartition, i64>,
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
        for t in topology.internal_topics() {
            let name = t.topic.resolve(&app);
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
        DriverState {
            task_config: config.task_config(),
            clock: MockClock::new(config.wall_clock_time_ms()),
            topology,
            config,
            readers,
            tasks: BTreeMap::new(),
            collector,
            next_offsets: BTreeMap::new(),
            unread: BTreeMap::new(),
            history: Vec::new(),
            committed: BTreeMap::new(),
            closed: false,
        }
    }

    pub(crate) fn application_id(&self) -> &str {
        self.config.application_id()
    }

    pub(crate) fn partition_count(&self, topic: &str) -> i32 {
        self.collector.partitions.count(topic)
    }

    pub(crate) fn task_ids(&self) -> Vec<TaskId> {
        self.tasks.keys().copied().collect()
    }

    pub(crate) fn stream_time(&self, id: TaskId) -> Option<i64> {
        self.tasks.get(&id).map(Task::stream_time)
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(misuse("the driver is closed"))
        } else {
            Ok(())
        }
    }

    fn append_offset(&mut self, topic: &str, partition: i32) -> i64 {
        let next = self
            .next_offsets
            .entry(TopicPartition::new(topic, partition))
            .or_insert(0);
        let offset = *next;
        *next += 1;
        offset
    }

    /// The task of sub-topology `sub` for `partition`, created and initialized
    /// on first use, with its input partitions marked caught up.
    fn ensure_task(&mut self, sub: u32, partition: i32) -> Result<TaskId> {
        let id = TaskId::new(sub, partition);
        if !self.tasks.contains_key(&id) {
            let mut task = self.topology.create_task(id, self.task_config.clone())?;
            for tp in task.input_partitions() {
                task.set_caught_up(&tp, true);
            }
            task.init(&mut self.collector, &self.clock)?;
            self.tasks.insert(id, task);
        }
        Ok(id)
    }

    /// Hands `raw` to the task reading its topic-partition, if any. Returns
    /// whether the topology reads the topic.
    fn feed(&mut self, raw: RawRecord) -> Result<bool> {
        let Some(&sub) = self.readers.get(&raw.topic) else {
            return Ok(false);
        };
        let id = self.ensure_task(sub, raw.partition)?;
        if let Some(task) = self.tasks.get_mut(&id) {
            task.add_records(std::iter::once(raw))?;
        }
        Ok(true)
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
            let offset = self.append_offset(&r.topic, partition);
            self.feed(RawRecord {
                topic: r.topic,
                partition,
                offset,
                timestamp: r.timestamp,
                key: r.key,
                value: r.value,
                headers: r.headers,
            })?;
        }
        Ok(())
    }

    /// Moves the mock clock, fires due wall-clock punctuations on every task
    /// (in task id order), then processes until every task is idle.
    pub(crate) fn advance_wall_clock(&mut self, ms: i64) -> Result<()> {
        self.check_open()?;
        self.clock.advance_ms(ms);
        for id in self.task_ids() {
            if let Some(task) = self.tasks.get_mut(&id) {
                let result = task.punctuate_wall_clock(&mut self.collector, &self.clock);
                self.after_step(result)?;
            }
        }
        self.run()
    }

    /// Routes what tasks sent whatever `result` is; the first error wins.
    fn after_step<T>(&mut self, result: Result<T>) -> Result<T> {
        match result {
            Ok(v) => {
                self.route_sent(true)?;
                Ok(v)
            }
            Err(e) => {
                // Keep what was sent before the failure visible; report the failure.
                let _ = self.route_sent(true);
                Err(e)
            }
        }
    }

    /// Appends what the tasks sent to the topic logs and the output queues and,
    /// when `feed`, hands records for topics the topology reads back to their
    /// tasks (creating tasks can send more: repeat until nothing is left).
    fn route_sent(&mut self, feed: bool) -> Result<()> {
        loop {
            let sent = self.collector.take();
            if sent.is_empty() {
                return Ok(());
            }
            for s in sent {
                let r = s.record;
                let offset = self.append_offset(&r.topic, s.partition);
                let raw = RawRecord {
                    topic: r.topic.to_string(),
                    partition: s.partition,
                    offset,
                    timestamp: r.timestamp,
                    key: r.key,
                    value: r.value,
                    headers: r.headers,
                };
                self.history.push(raw.clone());
                self.unread
                    .entry(raw.topic.clone())
                    .or_default()
                    .push_back(raw.clone());
                if feed {
                    self.feed(raw)?;
                }
            }
        }
    }

    /// Processes until no task has a record it can process: one record per
    /// task per round, tasks in id order, routing output (and feeding it back)
    /// after every record. Then commits every task.
    fn run(&mut self) -> Result<()> {
        self.route_sent(true)?;
        let limit = self.config.processing_limit();
        let mut processed = 0usize;
        loop {
            let mut progressed = false;
            for id in self.task_ids() {
                let Some(task) = self.tasks.get_mut(&id) else {
                    continue;
                };
                let result = task.process(&mut self.collector, &self.clock);
                if self.after_step(result)? {
                    progressed = true;
                    processed += 1;
                    if processed >= limit && self.tasks.values().any(|t| t.buffered_total() > 0) {
                        return Err(misuse(format!(
                            "still busy after processing {processed} records in one call \
                             (does the topology feed its own input?); raise \
                             DriverConfig::with_processing_limit if this is expected"
                        )));
                    }
                }
            }
            if !progressed {
                // Before committing, processors forward what they hold back
                // (cached table updates); that may feed internal topics.
                if self.flush_tasks()? {
                    continue;
                }
                break;
            }
        }
        self.commit()
    }

    /// Calls `flush` on every task and routes what it forwards; returns
    /// whether some task now has records to process.
    fn flush_tasks(&mut self) -> Result<bool> {
        for id in self.task_ids() {
            let Some(task) = self.tasks.get_mut(&id) else {
                continue;
            };
            let result = task.flush(&mut self.collector);
            self.after_step(result)?;
        }
        Ok(self.tasks.values().any(|t| t.buffered_total() > 0))
    }

    /// Commits every task, as the runtime would after processing: stores are
    /// flushed and the consumed offsets recorded.
    fn commit(&mut self) -> Result<()> {
        for task in self.tasks.values_mut() {
            for (tp, offset) in task.prepare_commit()? {
                self.committed.insert(tp, offset);
            }
            // Logged stores' writes land in their changelog topics, readable
            // as output like any other topic.
            task.send_changelogs(&mut self.collector)?;
        }
        // No topology reads a changelog: route without feeding.
        self.route_sent(false)
    }

    /// Takes up to `max` unread output records of `topic`, oldest first.
    pub(crate) fn read_output(&mut self, topic: &str, max: usize) -> Vec<RawRecord> {
        match self.unread.get_mut(topic) {
            Some(q) => {
                let n = max.min(q.len());
                q.drain(..n).collect()
            }
            None => Vec::new(),
        }
    }

    pub(crate) fn unread_count(&self, topic: &str) -> usize {
        self.unread.get(topic).map_or(0, VecDeque::len)
    }

    /// Topics the topology sent to, by name.
    pub(crate) fn output_topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.history.iter().map(|r| r.topic.clone()).collect();
        topics.sort();
        topics.dedup();
        topics
    }

    /// Closes every task (in id order), keeping what they send while closing
    /// as output. Closing twice is harmless.
    pub(crate) fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let mut first_error = None;
        let mut tasks = std::mem::take(&mut self.tasks);
        for task in tasks.values_mut() {
            if let Err(e) = task.close(&mut self.collector) {
                first_error.get_or_insert(e);
            }
        }
        if let Err(e) = self.route_sent(false) {
            first_error.get_or_insert(e);
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The names of the topology's state stores, sorted.
    pub(crate) fn store_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .topology
            .subtopologies()
            .iter()
            .flat_map(|sub| sub.stores().iter().cloned())
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
        if self.closed {
            return Err(Error::Store {
                store: name.to_string(),
                message: "the driver is closed: its stores are closed too".to_string(),
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
        for task in self.tasks.values_mut() {
            if let Some(store) = task.state_store(name) {
                f(store)?;
            }
        }
        Ok(())
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
