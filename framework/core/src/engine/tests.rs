//! The engine over fake ports that record every call: the commit protocol's
//! order, offsets, exactly-once aborts and resets, restoration hand-off and
//! back-pressure, with no runtime at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use super::process::STARVED_AFTER_MS;
use super::*;
use crate::collector::RecordCollector;
use crate::dsl::{Materialized, StreamsBuilder};
use crate::error::{Error, ErrorKind};
use crate::headers::Headers;
use crate::record::{OffsetAndMetadata, OutputRecord, RawRecord};
use crate::task::Task;
use crate::topology::{Consumed, Produced};
use crate::Serdes;

/// Records every port call, in order.
#[derive(Default)]
struct Fake {
    calls: Vec<String>,
    sent: Vec<OutputRecord>,
    transactional: bool,
    in_transaction: bool,
    /// The next commit fails with this kind.
    fail_commit: Option<ErrorKind>,
    /// Tasks held back by restoration, handed over by the next poll.
    restoring: Vec<Task>,
    hold_for_restore: bool,
    now: i64,
}

impl RecordCollector for Fake {
    fn send(&mut self, record: OutputRecord) -> crate::Result<()> {
        if self.transactional {
            self.in_transaction = true;
        }
        self.sent.push(record);
        Ok(())
    }

    fn partition_count(&mut self, _topic: &str) -> crate::Result<Option<i32>> {
        Ok(Some(1))
    }
}

fn names(partitions: &[TopicPartition]) -> String {
    partitions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl Input for Fake {
    type Error = Error;
    fn pause(&mut self, partitions: &[TopicPartition]) -> crate::Result<()> {
        self.calls.push(format!("pause {}", names(partitions)));
        Ok(())
    }
    fn resume(&mut self, partitions: &[TopicPartition]) -> crate::Result<()> {
        self.calls.push(format!("resume {}", names(partitions)));
        Ok(())
    }
    fn rewind_to_committed(&mut self, partitions: &[TopicPartition]) -> crate::Result<()> {
        self.calls.push(format!("rewind {}", names(partitions)));
        Ok(())
    }
    /// Nothing committed here carries metadata (not recorded as a call).
    fn committed_metadata(&mut self, partitions: &[TopicPartition]) -> crate::Result<Vec<String>> {
        Ok(vec![String::new(); partitions.len()])
    }
}

impl Output for Fake {
    fn collector(&mut self) -> &mut dyn RecordCollector {
        self
    }
    fn flush(&mut self) -> crate::Result<()> {
        self.calls.push(format!("flush {}", self.sent.len()));
        Ok(())
    }
    fn changelog_offset(&self, tp: &TopicPartition) -> Option<i64> {
        let n = self.sent.iter().filter(|r| *r.topic == *tp.topic).count();
        (n > 0).then(|| i64::try_from(n).unwrap() - 1)
    }
}

impl Committer for Fake {
    fn is_transactional(&self) -> bool {
        self.transactional
    }
    fn in_transaction(&self) -> bool {
        self.in_transaction
    }
    fn commit(&mut self, offsets: &[(TopicPartition, OffsetAndMetadata)]) -> crate::Result<()> {
        let listed: Vec<String> = offsets
            .iter()
            .map(|(tp, o)| format!("{tp}@{}", o.offset))
            .collect();
        self.calls.push(format!("commit [{}]", listed.join(",")));
        if let Some(kind) = self.fail_commit.take() {
            return Err(Error::Send {
                topic: String::new(),
                message: "commit failed".to_string(),
                kind,
            });
        }
        self.in_transaction = false;
        Ok(())
    }
    fn abort(&mut self, cause: ErrorKind) -> crate::Result<()> {
        self.calls.push(format!("abort {cause}"));
        self.in_transaction = false;
        Ok(())
    }
}

impl Restoration for Fake {
    fn start_restore(&mut self, task: Task) -> crate::Result<Option<Task>> {
        if self.hold_for_restore {
            self.restoring.push(task);
            return Ok(None);
        }
        Ok(Some(task))
    }
    fn poll_restore(&mut self, _budget_ms: u64) -> crate::Result<Vec<Task>> {
        Ok(std::mem::take(&mut self.restoring))
    }
    fn stop_restore(&mut self, _partitions: Option<&[TopicPartition]>) -> Vec<Task> {
        std::mem::take(&mut self.restoring)
    }
    fn is_restoring(&self) -> bool {
        !self.restoring.is_empty()
    }
    fn is_restoring_task(&self, id: TaskId) -> bool {
        self.restoring.iter().any(|t| t.id() == id)
    }
}

impl WallClock for Fake {
    fn now_ms(&self) -> i64 {
        self.now
    }
}

/// words -> count (logged store "counts") -> counts-out.
fn manager(exactly_once: bool) -> TaskManager {
    let builder = StreamsBuilder::new();
    builder
        .stream("words", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .count(Materialized::as_("counts", Serdes::string(), Serdes::i64()))
        .to_stream()
        .to(
            "counts-out",
            Produced::with(Serdes::string(), Serdes::i64()),
        );
    let mut config = TaskConfig::new("app");
    if exactly_once {
        config.guarantee = crate::ProcessingGuarantee::ExactlyOnceV2;
    }
    TaskManager::new(Arc::new(builder.build().unwrap()), config).with_max_buffered(4)
}

fn tp(partition: i32) -> TopicPartition {
    TopicPartition::new("words", partition)
}

fn add(m: &mut TaskManager, partition: i32, offset: i64, key: &str) {
    let raw = RawRecord {
        topic: "words".to_string(),
        partition,
        offset,
        timestamp: 100 + offset,
        key: Some(key.as_bytes().to_vec()),
        value: Some(b"x".to_vec()),
        headers: Headers::default(),
    };
    assert!(m.add_record(raw.as_ref()).unwrap());
}

#[test]
fn at_least_once_commit_flushes_output_before_committing_offsets() {
    let mut ports = Fake::default();
    let mut m = manager(false);
    m.assign(&mut ports, &[tp(0), tp(1)]).unwrap();
    assert_eq!(m.task_ids(), [TaskId::new(0, 0), TaskId::new(0, 1)]);
    add(&mut m, 0, 0, "a");
    add(&mut m, 0, 1, "a");
    add(&mut m, 1, 7, "b");
    m.mark_caught_up();
    assert_eq!(m.process(&mut ports, 100).unwrap(), 3);
    // 3 outputs + 3 changelog records.
    assert_eq!(ports.sent.len(), 6);
    ports.calls.clear();
    let outcome = m.commit(&mut ports, None).unwrap();
    assert_eq!(
        outcome,
        CommitOutcome {
            partitions: 2,
            committed: true
        }
    );
    assert_eq!(ports.calls, ["flush 6", "commit [words-0@2,words-1@8]"]);
    // The stores recorded how far their changelogs are written.
    let cl = TopicPartition::new("app-counts-changelog", 0);
    let task = m.task_mut(TaskId::new(0, 0)).unwrap();
    assert_eq!(
        task.changelog_offset("counts").unwrap(),
        ports.changelog_offset(&cl)
    );
}

#[test]
fn at_least_once_offset_commit_failures_are_retried_until_fatal_ones_last_too_long() {
    let mut ports = Fake::default();
    let mut m = manager(false);
    m.assign(&mut ports, &[tp(0)]).unwrap();
    add(&mut m, 0, 0, "a");
    m.process(&mut ports, 10).unwrap();
    ports.fail_commit = Some(ErrorKind::Retriable);
    assert!(!m.commit(&mut ports, None).unwrap().committed);
    ports.fail_commit = Some(ErrorKind::Fatal);
    assert!(
        m.commit(&mut ports, None).is_ok(),
        "fatal, but only just started failing"
    );
    ports.now += FATAL_COMMIT_FAILURES_FOR_MS;
    ports.fail_commit = Some(ErrorKind::Fatal);
    assert!(m.commit(&mut ports, None).is_err());
    ports.fail_commit = Some(ErrorKind::User);
    assert!(
        m.commit(&mut ports, None).is_err(),
        "the user's mistake is never retried"
    );
}

#[test]
fn exactly_once_commits_once_per_progress_and_aborts_and_resets_on_failure() {
    let mut ports = Fake {
        transactional: true,
        ..Fake::default()
    };
    let mut m = manager(true);
    m.assign(&mut ports, &[tp(0)]).unwrap();
    add(&mut m, 0, 0, "a");
    m.process(&mut ports, 10).unwrap();
    assert!(m.commit(&mut ports, None).unwrap().committed);
    // No progress: no transaction.
    ports.calls.clear();
    assert!(!m.commit(&mut ports, None).unwrap().committed);
    assert_eq!(ports.calls, ["flush 2"]);
    // A failed commit: the caller recovers, the engine aborts and asks for a reset.
    add(&mut m, 0, 1, "a");
    m.process(&mut ports, 10).unwrap();
    ports.fail_commit = Some(ErrorKind::Retriable);
    let e = m.commit(&mut ports, None).unwrap_err();
    m.recover(&mut ports, e).unwrap();
    assert!(m.needs_reset());
    assert_eq!(ports.calls.last().unwrap(), "abort retriable");
    ports.calls.clear();
    m.reset(&mut ports, &[tp(0)]).unwrap();
    assert!(!m.needs_reset());
    assert_eq!(ports.calls, ["rewind words-0"]);
    // The task was created again: the uncommitted count of 2 is gone (these
    // ports restore nothing, so its in-memory store starts empty).
    let task = m.task_mut(TaskId::new(0, 0)).unwrap();
    assert_eq!(task.stream_time(), i64::MIN);
    let counts = task.state_store("counts").unwrap();
    let counts = counts.as_key_value_store::<String, i64>().unwrap();
    assert_eq!(counts.get(&"a".to_string()).unwrap(), None);
}

#[test]
fn errors_of_the_application_are_not_recovered_by_an_abort() {
    let mut ports = Fake {
        transactional: true,
        ..Fake::default()
    };
    let mut m = manager(true);
    let processor_error: Error = TaskFailure {
        task: TaskId::new(0, 0),
        source: Error::Processor {
            node: "n".to_string(),
            message: "bug".to_string(),
        },
    }
    .into();
    assert!(m.recover(&mut ports, processor_error).is_err());
    assert!(!m.needs_reset());
    let mut alos = Fake::default();
    let send = Error::Send {
        topic: "t".to_string(),
        message: "x".to_string(),
        kind: ErrorKind::Retriable,
    };
    assert!(
        m.recover(&mut alos, send).is_err(),
        "at-least-once has no transaction to abort"
    );
}

#[test]
fn exactly_once_lost_partitions_abort_and_close_dirty() {
    let mut ports = Fake {
        transactional: true,
        ..Fake::default()
    };
    let mut m = manager(true);
    m.assign(&mut ports, &[tp(0), tp(1)]).unwrap();
    add(&mut m, 0, 0, "a");
    m.process(&mut ports, 10).unwrap();
    ports.calls.clear();
    m.revoke(&mut ports, &[tp(0)], true).unwrap();
    assert_eq!(ports.calls, ["abort retriable"]);
    assert_eq!(m.task_ids(), [TaskId::new(0, 1)]);
    assert!(m.needs_reset());
}

#[test]
fn a_clean_revocation_commits_the_revoked_tasks_then_closes_them() {
    let mut ports = Fake::default();
    let mut m = manager(false);
    m.assign(&mut ports, &[tp(0), tp(1)]).unwrap();
    add(&mut m, 0, 0, "a");
    add(&mut m, 1, 0, "b");
    m.process(&mut ports, 10).unwrap();
    ports.calls.clear();
    m.revoke(&mut ports, &[tp(1)], false).unwrap();
    assert_eq!(ports.calls, ["flush 4", "commit [words-1@1]", "flush 4"]);
    assert_eq!(m.task_ids(), [TaskId::new(0, 0)]);
}

#[test]
fn a_restored_task_starts_from_the_committed_offsets() {
    let mut ports = Fake {
        hold_for_restore: true,
        ..Fake::default()
    };
    let mut m = manager(false);
    m.assign(&mut ports, &[tp(0)]).unwrap();
    assert!(m.is_empty());
    assert_eq!(ports.calls, ["pause words-0"]);
    assert_eq!(m.restore(&mut ports, 50).unwrap(), 1);
    assert_eq!(
        ports.calls,
        ["pause words-0", "rewind words-0", "resume words-0"]
    );
    assert_eq!(m.task_ids(), [TaskId::new(0, 0)]);
}

#[test]
fn full_queues_pause_their_partition_until_half_drained() {
    let mut ports = Fake::default();
    let mut m = manager(false);
    m.assign(&mut ports, &[tp(0)]).unwrap();
    for offset in 0..6 {
        add(&mut m, 0, offset, "k");
    }
    // Nothing processed (budget 0 still processes one per task): 5 queued >= 4.
    m.process(&mut ports, 0).unwrap();
    assert_eq!(ports.calls, ["pause words-0"]);
    m.process(&mut ports, 3).unwrap();
    assert_eq!(ports.calls, ["pause words-0", "resume words-0"]);
}

#[test]
fn at_least_once_retries_a_commit_refused_during_a_rebalance() {
    let mut ports = Fake::default();
    let mut m = manager(false);
    m.assign(&mut ports, &[tp(0)]).unwrap();
    add(&mut m, 0, 0, "a");
    m.process(&mut ports, 10).unwrap();
    // A consumer-group error (rebalance in progress, generation moved on) is
    // classified fenced: retried at the next commit, never fatal at once.
    ports.fail_commit = Some(ErrorKind::Fenced);
    assert!(!m.commit(&mut ports, None).unwrap().committed);
    // Its store recorded no changelog offset: the instance may no longer own
    // the task, and what its producer acknowledged may be past records the
    // new owner wrote, which the store does not hold.
    let cl = TopicPartition::new("app-counts-changelog", 0);
    let recorded = |m: &mut TaskManager| {
        let task = m.task_mut(TaskId::new(0, 0)).unwrap();
        task.changelog_offset("counts").unwrap()
    };
    assert!(ports.changelog_offset(&cl).is_some());
    assert_eq!(recorded(&mut m), None);
    assert!(m.commit(&mut ports, None).unwrap().committed);
    assert_eq!(recorded(&mut m), ports.changelog_offset(&cl));
}

#[test]
fn a_new_batch_marks_its_partition_as_fetching_again() {
    let mut ports = Fake::default();
    let mut m = manager(false);
    m.assign(&mut ports, &[tp(0)]).unwrap();
    add(&mut m, 0, 0, "a");
    m.mark_caught_up();
    m.process(&mut ports, 10).unwrap();
    // The next batch starts on the same partition: its first record must
    // clear the caught-up flag the previous batch's end set.
    add(&mut m, 0, 1, "a");
    let task = m.task(TaskId::new(0, 0)).unwrap();
    assert_eq!(task.fetch_lag(&tp(0)), Some(crate::task::FetchLag::Unknown));
}

/// left + right (merged) -> out: one task reading `left-0` and `right-0`.
fn merging_manager() -> TaskManager {
    let builder = StreamsBuilder::new();
    let left = builder.stream("left", Consumed::with(Serdes::string(), Serdes::string()));
    let right = builder.stream("right", Consumed::with(Serdes::string(), Serdes::string()));
    left.merge(&right)
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    TaskManager::new(Arc::new(builder.build().unwrap()), TaskConfig::new("app"))
        .with_max_buffered(100)
}

fn add_to(m: &mut TaskManager, topic: &str, offset: i64) {
    add_to_partition(m, topic, 0, offset);
}

fn add_to_partition(m: &mut TaskManager, topic: &str, partition: i32, offset: i64) {
    let raw = RawRecord {
        topic: topic.to_string(),
        partition,
        offset,
        timestamp: 100 + offset,
        key: Some(b"k".to_vec()),
        value: Some(b"v".to_vec()),
        headers: Headers::default(),
    };
    assert!(m.add_record(raw.as_ref()).unwrap());
}

/// A merging task (`left-0`, `right-0`) assigned, with no port call recorded.
fn merging_task_assigned() -> (Fake, TaskManager, [TopicPartition; 2]) {
    let both = [
        TopicPartition::new("left", 0),
        TopicPartition::new("right", 0),
    ];
    let mut ports = Fake::default();
    let mut m = merging_manager();
    m.assign(&mut ports, &both).unwrap();
    ports.calls.clear();
    (ports, m, both)
}

#[test]
fn a_partition_waited_for_and_not_fetched_gets_the_others_paused_until_it_comes() {
    let (mut ports, mut m, _) = merging_task_assigned();
    add_to(&mut m, "left", 0);
    // The right partition is empty with records on the broker not fetched:
    // the task waits for it.
    m.update_fetch_lags(|tp| Some(if tp.topic == "right" { 5 } else { 0 }));
    assert_eq!(m.process(&mut ports, 10).unwrap(), 0);
    ports.now = STARVED_AFTER_MS - 1;
    assert_eq!(m.process(&mut ports, 10).unwrap(), 0);
    assert!(ports.calls.is_empty(), "{:?}", ports.calls);
    // Waited long enough: the partition with records is paused, so that
    // the consumer fetches the other.
    ports.now = STARVED_AFTER_MS;
    assert_eq!(m.process(&mut ports, 10).unwrap(), 0);
    assert_eq!(ports.calls, ["pause left-0"]);
    // Still waiting: nothing paused twice.
    ports.now += 100;
    m.process(&mut ports, 10).unwrap();
    assert_eq!(ports.calls, ["pause left-0"]);
    // Its records came: processing goes on and the left partition is resumed.
    add_to(&mut m, "right", 0);
    assert!(m.process(&mut ports, 10).unwrap() >= 1);
    assert_eq!(ports.calls, ["pause left-0", "resume left-0"]);
}

/// Two merging tasks assigned, no port call recorded: task 0_0 has a
/// record on `left-0` and none on `right-0`; task 0_1 has records on both
/// sides.
fn two_merging_tasks_with_records() -> (Fake, TaskManager) {
    let mut ports = Fake::default();
    let mut m = merging_manager();
    let at = |topic: &str, p: i32| TopicPartition::new(topic, p);
    m.assign(
        &mut ports,
        &[at("left", 0), at("right", 0), at("left", 1), at("right", 1)],
    )
    .unwrap();
    ports.calls.clear();
    add_to_partition(&mut m, "left", 0, 0);
    for offset in 0..3 {
        add_to_partition(&mut m, "left", 1, offset);
        add_to_partition(&mut m, "right", 1, offset);
    }
    (ports, m)
}

#[test]
fn a_partition_paused_for_a_starved_one_is_fetched_again_once_it_starves_itself() {
    let (mut ports, mut m) = two_merging_tasks_with_records();
    let at = |topic: &str, p: i32| TopicPartition::new(topic, p);
    m.update_fetch_lags(|tp| Some(if *tp == at("right", 0) { 5 } else { 0 }));
    m.process(&mut ports, 0).unwrap();
    ports.now = STARVED_AFTER_MS;
    m.process(&mut ports, 0).unwrap();
    // right-0 starves: every other partition is paused, so that the
    // consumer fetches right-0 only.
    assert_eq!(ports.calls, ["pause left-0,left-1,right-1"]);
    // Task 0_1 processes what it has until left-1 runs dry, behind too: it
    // stays paused while right-0 still starves...
    let behind = |tp: &TopicPartition| {
        Some(
            if tp.topic == "right" && tp.partition == 0 || *tp == at("left", 1) {
                5
            } else {
                0
            },
        )
    };
    m.update_fetch_lags(behind);
    m.process(&mut ports, 10).unwrap();
    assert_eq!(ports.calls, ["pause left-0,left-1,right-1"]);
    // ...until it has waited as long itself: then it is fetched too.
    ports.now += STARVED_AFTER_MS;
    m.update_fetch_lags(behind);
    m.process(&mut ports, 10).unwrap();
    assert_eq!(
        ports.calls,
        ["pause left-0,left-1,right-1", "resume left-1"]
    );
}

#[test]
fn a_partition_starved_earlier_is_not_paused_again_for_the_next_one() {
    let (mut ports, mut m) = two_merging_tasks_with_records();
    let at = |topic: &str, p: i32| TopicPartition::new(topic, p);
    // right-0 starves; then left-1 runs dry and starves too.
    let behind = |tp: &TopicPartition| {
        Some(if *tp == at("right", 0) || *tp == at("left", 1) {
            5
        } else {
            0
        })
    };
    m.update_fetch_lags(behind);
    m.process(&mut ports, 0).unwrap();
    ports.now = STARVED_AFTER_MS;
    m.process(&mut ports, 10).unwrap();
    ports.now += STARVED_AFTER_MS;
    m.update_fetch_lags(behind);
    m.process(&mut ports, 10).unwrap();
    assert_eq!(
        ports.calls,
        ["pause left-0,left-1,right-1", "resume left-1"]
    );
    // right-0's records come while left-1 still starves: right-0 is not
    // paused for it (it would run dry and starve in turn, the two taking
    // turns at being fetched).
    for offset in 0..3 {
        add_to_partition(&mut m, "right", 0, offset);
    }
    ports.now += 10;
    m.update_fetch_lags(|tp| Some(if *tp == at("left", 1) { 5 } else { 0 }));
    m.process(&mut ports, 10).unwrap();
    assert_eq!(
        ports.calls,
        ["pause left-0,left-1,right-1", "resume left-1"]
    );
    // left-1's records come: no task waits, the others are fetched again.
    for offset in 3..6 {
        add_to_partition(&mut m, "left", 1, offset);
    }
    m.update_fetch_lags(|_| Some(0));
    m.process(&mut ports, 10).unwrap();
    assert_eq!(ports.calls.len(), 3, "{:?}", ports.calls);
    assert!(ports.calls[2].starts_with("resume "), "{:?}", ports.calls);
    for tp in ["left-0", "right-1"] {
        assert!(ports.calls[2].contains(tp), "{:?}", ports.calls);
    }
}

#[test]
fn a_partition_paused_for_a_starved_one_is_resumed_when_revoked() {
    let (mut ports, mut m, both) = merging_task_assigned();
    add_to(&mut m, "left", 0);
    m.update_fetch_lags(|tp| Some(if tp.topic == "right" { 5 } else { 0 }));
    m.process(&mut ports, 10).unwrap();
    ports.now = STARVED_AFTER_MS;
    m.process(&mut ports, 10).unwrap();
    ports.calls.clear();
    m.revoke(&mut ports, &both, false).unwrap();
    assert!(
        ports.calls.iter().any(|c| c == "resume left-0"),
        "{:?}",
        ports.calls
    );
}
