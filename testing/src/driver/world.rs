//! The driver's in-memory world, behind the engine's ports: one log per
//! topic-partition (what a broker keeps), the consumer's positions, committed
//! offsets, the open transaction under exactly-once, the mock clock, and the
//! crash the test asked for.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use weir_core::collector::{Clock, RecordCollector};
use weir_core::engine::{Committer, Input, Output, Restoration, WallClock};
use weir_core::record::OffsetAndMetadata;
use weir_core::store::WriteBatch;
use weir_core::task::{Task, TaskId};
use weir_core::{Error, ErrorKind, RawRecord, Result, TopicPartition};

use super::collector::{MemoryCollector, MockClock, Sent};

/// A point of the commit protocol where the driver can simulate a crash
/// (the process killed: nothing more is written, nothing is closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CrashPoint {
    /// When the commit begins: processors flushed and changelog records
    /// sent, but none of it acknowledged (records still in the producer's
    /// buffers are lost).
    BeforeFlush,
    /// Every record sent is acknowledged (under exactly-once, in the open
    /// transaction), but the offsets are not committed.
    AfterSend,
    /// The offsets (the transaction) committed, but the stores did not
    /// record it: their changelog offsets and, under exactly-once, the
    /// writes they held back are lost.
    AfterCommit,
    /// Since the last commit, the changelog records were acknowledged and
    /// the output was not (a kill between the acknowledgements of different
    /// partitions): the output sent since the last commit is lost, the
    /// changelog records are written, and the crash comes when the commit
    /// begins. At least once, the stores are then ahead of what the output
    /// shows; under exactly-once the transaction is aborted (nothing of it
    /// shows), as at [`BeforeFlush`](Self::BeforeFlush).
    OutputLost,
}

/// The driver's topics, consumer and producer, in memory.
pub(crate) struct World {
    pub(crate) collector: MemoryCollector,
    pub(crate) clock: MockClock,
    pub(crate) exactly_once: bool,
    /// Every record written and visible (committed, under exactly-once), per
    /// partition; a record's offset is its index.
    logs: BTreeMap<TopicPartition, Vec<RawRecord>>,
    /// The next offset to hand to the engine, per assigned input partition.
    pub(crate) positions: BTreeMap<TopicPartition, i64>,
    paused: BTreeSet<TopicPartition>,
    /// Offsets committed (last processed offset + 1).
    pub(crate) committed: BTreeMap<TopicPartition, i64>,
    /// The metadata committed with them (the tasks' processor metadata).
    committed_metadata: BTreeMap<TopicPartition, Arc<str>>,
    /// Exactly-once: what the open transaction sent, visible once it commits.
    transaction: Vec<Sent>,
    in_transaction: bool,
    /// Output not yet read through a test output topic, per topic, in write order.
    pub(crate) unread: BTreeMap<String, VecDeque<RawRecord>>,
    /// Everything written and visible, in write order.
    pub(crate) history: Vec<RawRecord>,
    /// The crash the next commit runs into.
    pub(crate) crash_plan: Option<CrashPoint>,
    /// Whether the simulated process is dead (a crash happened).
    pub(crate) crashed: bool,
    /// Transactions aborted so far.
    pub(crate) aborts: u64,
    /// Partitions that got output records since the driver last looked
    /// (it assigns the tasks reading them).
    pub(crate) written: Vec<TopicPartition>,
    /// The changelog topics of the tasks created so far.
    changelog_topics: BTreeSet<String>,
    /// Output held unacknowledged until the crash planned at
    /// [`CrashPoint::OutputLost`] drops it.
    unacknowledged: Vec<Sent>,
}

fn crash(point: CrashPoint) -> Error {
    Error::Stopped {
        reason: format!("simulated crash ({point:?}) in the test driver; call restart() to go on"),
    }
}

fn dead() -> Error {
    Error::Stopped {
        reason: "the test driver crashed (simulated); call restart() to go on".to_string(),
    }
}

impl World {
    pub(crate) fn new(collector: MemoryCollector, clock: MockClock, exactly_once: bool) -> Self {
        World {
            collector,
            clock,
            exactly_once,
            logs: BTreeMap::new(),
            positions: BTreeMap::new(),
            paused: BTreeSet::new(),
            committed: BTreeMap::new(),
            committed_metadata: BTreeMap::new(),
            transaction: Vec::new(),
            in_transaction: false,
            unread: BTreeMap::new(),
            history: Vec::new(),
            crash_plan: None,
            crashed: false,
            aborts: 0,
            written: Vec::new(),
            changelog_topics: BTreeSet::new(),
            unacknowledged: Vec::new(),
        }
    }

    /// Appends `raw` (offset chosen here) to its partition's log, visible.
    /// Returns its partition.
    pub(crate) fn append(&mut self, mut raw: RawRecord) -> TopicPartition {
        let tp = TopicPartition::new(raw.topic.clone(), raw.partition);
        let log = self.logs.entry(tp.clone()).or_default();
        raw.offset = i64::try_from(log.len()).unwrap_or(i64::MAX);
        log.push(raw);
        tp
    }

    /// Appends `raw` as output: visible in the log, in the history and to test output topics.
    fn append_output(&mut self, raw: RawRecord) -> TopicPartition {
        let tp = self.append(raw);
        if let Some(r) = self.logs.get(&tp).and_then(|log| log.last()) {
            self.history.push(r.clone());
            self.unread
                .entry(r.topic.clone())
                .or_default()
                .push_back(r.clone());
        }
        tp
    }

    /// Takes what tasks sent since the last call: at-least-once it is
    /// written at once; exactly-once it joins the open transaction.
    pub(crate) fn route_sent(&mut self) {
        let sent = self.collector.take();
        if sent.is_empty() {
            return;
        }
        if self.exactly_once {
            self.transaction.extend(sent);
            self.in_transaction = true;
            return;
        }
        let output_lost = self.crash_plan == Some(CrashPoint::OutputLost);
        for s in sent {
            if output_lost && !self.changelog_topics.contains(&*s.record.topic) {
                self.unacknowledged.push(s);
            } else {
                self.append_sent(s);
            }
        }
    }

    fn append_sent(&mut self, s: Sent) {
        let r = s.record;
        let tp = self.append_output(RawRecord {
            topic: r.topic.to_string(),
            partition: s.partition,
            offset: 0,
            timestamp: r.timestamp,
            key: r.key,
            value: r.value,
            headers: r.headers,
        });
        self.written.push(tp);
    }

    /// The records of assigned, unpaused partitions past their position, in
    /// partition order; the positions move past them.
    pub(crate) fn poll(&mut self) -> Vec<RawRecord> {
        let mut out = Vec::new();
        for (tp, pos) in self.positions.iter_mut() {
            if self.paused.contains(tp) {
                continue;
            }
            let Some(log) = self.logs.get(tp) else {
                continue;
            };
            let from = usize::try_from(*pos).unwrap_or(0);
            if from < log.len() {
                out.extend(log[from..].iter().cloned());
                *pos = i64::try_from(log.len()).unwrap_or(i64::MAX);
            }
        }
        out
    }

    /// Whether a poll would hand over records.
    pub(crate) fn has_unpolled(&self) -> bool {
        self.positions.iter().any(|(tp, pos)| {
            !self.paused.contains(tp)
                && self
                    .logs
                    .get(tp)
                    .is_some_and(|log| usize::try_from(*pos).unwrap_or(0) < log.len())
        })
    }

    /// Assigns `tp` to the consumer, at its committed offset.
    pub(crate) fn assign(&mut self, tp: &TopicPartition) {
        let committed = self.committed.get(tp).copied().unwrap_or(0);
        self.positions.insert(tp.clone(), committed);
    }

    /// Unassigns `tp`.
    pub(crate) fn unassign(&mut self, tp: &TopicPartition) {
        self.positions.remove(tp);
        self.paused.remove(tp);
    }

    /// The simulated process died: what it had not written is gone, its
    /// open transaction will be aborted by the broker, its consumer is gone.
    pub(crate) fn kill(&mut self) {
        self.collector.take();
        self.unacknowledged.clear();
        if !self.transaction.is_empty() || self.in_transaction {
            self.aborts += 1;
        }
        self.transaction.clear();
        self.in_transaction = false;
        self.positions.clear();
        self.paused.clear();
        self.written.clear();
        self.crash_plan = None;
    }

    /// The records of `tp` from `from` on.
    pub(crate) fn log_from(&self, tp: &TopicPartition, from: i64) -> &[RawRecord] {
        let log = self.logs.get(tp).map_or(&[][..], Vec::as_slice);
        let from = usize::try_from(from).unwrap_or(0).min(log.len());
        &log[from..]
    }

    fn crash_if(&mut self, point: CrashPoint) -> Result<()> {
        if self.crashed {
            return Err(dead());
        }
        if self.crash_plan == Some(point) {
            self.crashed = true;
            self.crash_plan = None;
            return Err(crash(point));
        }
        Ok(())
    }
}

impl Input for World {
    type Error = Error;

    fn pause(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.paused.extend(partitions.iter().cloned());
        Ok(())
    }

    fn resume(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        for tp in partitions {
            self.paused.remove(tp);
        }
        Ok(())
    }

    fn rewind_to_committed(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        for tp in partitions {
            self.assign(tp);
        }
        Ok(())
    }

    fn committed_metadata(&mut self, partitions: &[TopicPartition]) -> Result<Vec<String>> {
        Ok(partitions
            .iter()
            .map(|tp| {
                self.committed_metadata
                    .get(tp)
                    .map(ToString::to_string)
                    .unwrap_or_default()
            })
            .collect())
    }
}

impl Output for World {
    fn collector(&mut self) -> &mut dyn RecordCollector {
        &mut self.collector
    }

    fn flush(&mut self) -> Result<()> {
        if self.crashed {
            return Err(dead());
        }
        if self.crash_plan == Some(CrashPoint::OutputLost) {
            if self.exactly_once {
                self.collector.take();
            } else {
                // The changelog records are written; the output is not.
                self.route_sent();
            }
            self.unacknowledged.clear();
            return self.crash_if(CrashPoint::OutputLost);
        }
        if self.crash_plan == Some(CrashPoint::BeforeFlush) {
            // Records in the producer's buffers never reach the broker.
            self.collector.take();
            return self.crash_if(CrashPoint::BeforeFlush);
        }
        self.route_sent();
        Ok(())
    }

    fn changelog_offset(&self, tp: &TopicPartition) -> Option<i64> {
        let len = self.logs.get(tp).map_or(0, Vec::len);
        (len > 0).then(|| i64::try_from(len).unwrap_or(i64::MAX) - 1)
    }
}

impl Committer for World {
    fn is_transactional(&self) -> bool {
        self.exactly_once
    }

    fn in_transaction(&self) -> bool {
        // A send opens the transaction, routed or not yet.
        self.in_transaction || (self.exactly_once && !self.collector.sent.is_empty())
    }

    fn commit(&mut self, offsets: &[(TopicPartition, OffsetAndMetadata)]) -> Result<()> {
        self.crash_if(CrashPoint::AfterSend)?;
        // Committing flushes: what was sent since the last look joins the transaction.
        self.route_sent();
        if self.exactly_once {
            for s in std::mem::take(&mut self.transaction) {
                self.append_sent(s);
            }
            self.in_transaction = false;
        }
        for (tp, to) in offsets {
            self.committed.insert(tp.clone(), to.offset);
            match &to.metadata {
                Some(metadata) => self.committed_metadata.insert(tp.clone(), metadata.clone()),
                None => self.committed_metadata.remove(tp),
            };
        }
        self.crash_if(CrashPoint::AfterCommit)
    }

    fn abort(&mut self, _cause: ErrorKind) -> Result<()> {
        if self.crashed {
            return Err(dead());
        }
        self.collector.take();
        self.transaction.clear();
        self.in_transaction = false;
        self.aborts += 1;
        Ok(())
    }
}

impl Restoration for World {
    /// Restores `task`'s logged stores at once from the changelogs' logs
    /// (only committed records are in them), from the offset each store
    /// reached.
    fn start_restore(&mut self, mut task: Task) -> Result<Option<Task>> {
        for (_, tp) in task.changelog_partitions() {
            self.changelog_topics.insert(tp.topic);
        }
        for (store, tp) in task.changelog_partitions() {
            let from = task
                .changelog_offset(&store)?
                .map_or(0, |o| o.saturating_add(1));
            let records = self.log_from(&tp, from);
            let Some(last) = records.last() else {
                continue;
            };
            let mut batch = WriteBatch::new();
            for r in records {
                if let Some(k) = &r.key {
                    batch.write(k.clone(), r.value.clone());
                }
            }
            batch.set_offset(last.offset);
            task.restore(&store, batch)?;
        }
        Ok(Some(task))
    }

    fn poll_restore(&mut self, _budget_ms: u64) -> Result<Vec<Task>> {
        Ok(Vec::new())
    }

    fn stop_restore(&mut self, _partitions: Option<&[TopicPartition]>) -> Vec<Task> {
        Vec::new()
    }

    fn is_restoring(&self) -> bool {
        false
    }

    fn is_restoring_task(&self, _id: TaskId) -> bool {
        false
    }
}

impl WallClock for World {
    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
