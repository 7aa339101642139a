//! Crashes, rebalances and restarts simulated by the TopologyTestDriver,
//! deterministically and with no broker, checked against the invariants of
//! each guarantee: nothing lost; under exactly-once nothing duplicated; every
//! store equal to its changelog replayed.
//!
//! The topology: page views keyed by user, re-keyed by page through a
//! repartition topic, counted per page into the logged store `views` and
//! written to `views-out`. Two sub-topologies, a repartition topic and a
//! changelog: every kind of record the commit protocol carries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use weir_core::dsl::{Grouped, Materialized, StreamsBuilder};
use weir_core::serde::{Deserializer, SerdeContext};
use weir_core::task::TaskId;
use weir_core::topology::{Consumed, Produced, Topology};
use weir_core::{Headers, Record, Serdes};
use weir_testing::driver::default_partition;
use weir_testing::{CrashPoint, DriverConfig, TestInputTopic, TopologyTestDriver};

const PAGES: [&str; 5] = ["home", "cart", "search", "item", "help"];
const BATCHES: usize = 6;
const PER_BATCH: usize = 12;
const PARTITIONS: i32 = 3;

fn topology() -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream("views", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by(
            |_user, page: &String| page.clone(),
            Grouped::as_("by-page", Serdes::string(), Serdes::string()),
        )
        .count(Materialized::as_("views", Serdes::string(), Serdes::i64()))
        .to_stream()
        .to("views-out", Produced::with(Serdes::string(), Serdes::i64()));
    builder.build().unwrap()
}

/// Batch `b`: (user, page) pairs, spread over users (so over input partitions).
fn batch(b: usize) -> Vec<(String, String)> {
    (0..PER_BATCH)
        .map(|i| {
            let n = b * PER_BATCH + i;
            (
                format!("user-{}", n % 7),
                PAGES[(n * 3 + b) % PAGES.len()].to_string(),
            )
        })
        .collect()
}

/// Pipes batch `b` as one fetch: every record queued before any is
/// processed, then one commit (each record on the partition Kafka's default
/// partitioner gives its key).
fn pipe(views: &mut TestInputTopic<String, String>, b: usize) -> weir_core::Result<()> {
    let records = batch(b).into_iter().enumerate().map(|(i, (user, page))| {
        let partition = default_partition(Some(user.as_bytes()), PARTITIONS);
        let ts = i64::try_from(b * PER_BATCH + i).unwrap();
        (partition, Record::new(user, page, ts))
    });
    views.pipe_records(records)
}

/// The true count per page after every batch.
fn expected() -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for b in 0..BATCHES {
        for (_, page) in batch(b) {
            *counts.entry(page).or_insert(0) += 1;
        }
    }
    counts
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Guarantee {
    AtLeastOnce,
    ExactlyOnce,
}

fn config(guarantee: Guarantee, state_dir: Option<&std::path::Path>) -> DriverConfig {
    let mut config = DriverConfig::new()
        .with_partitions(PARTITIONS)
        .with_exactly_once(guarantee == Guarantee::ExactlyOnce);
    if let Some(dir) = state_dir {
        config = config.with_state_dir(dir);
    }
    config
}

/// What the run left to check.
struct Outcome {
    store: BTreeMap<String, i64>,
    /// Every count `views-out` carried, per page, in order.
    output: BTreeMap<String, Vec<i64>>,
    /// The changelog replayed: the last value of each key.
    changelog: BTreeMap<String, i64>,
    aborts: u64,
}

fn outcome(driver: &TopologyTestDriver) -> Outcome {
    let store = driver
        .key_value_store::<String, i64>("views")
        .unwrap()
        .all()
        .unwrap();
    let mut output: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let out = driver.create_output_topic("views-out", Serdes::string(), Serdes::i64());
    for kv in out.read_key_values_to_list().unwrap() {
        output
            .entry(kv.key.unwrap())
            .or_default()
            .push(kv.value.unwrap());
    }
    let changelog_topic = format!("{}-views-changelog", driver.application_id());
    // The count's store is timestamped: changelog values are the
    // aggregate's timestamp (8 bytes big-endian), then the count.
    let (keys, values) = (
        Serdes::string(),
        weir_core::store::TimestampedSerde::new(Serdes::i64()),
    );
    let headers = Headers::default();
    let ctx = SerdeContext::new(&changelog_topic, &headers, false);
    let mut changelog = BTreeMap::new();
    for r in driver.producer_records() {
        if r.topic != changelog_topic {
            continue;
        }
        let key: String = keys.deserialize(&ctx, r.key.as_deref()).unwrap().unwrap();
        match values.deserialize(&ctx, r.value.as_deref()).unwrap() {
            Some(v) => changelog.insert(key, v.value),
            None => changelog.remove(&key),
        };
    }
    Outcome {
        store,
        output,
        changelog,
        aborts: driver.aborted_transactions(),
    }
}

/// Pipes every batch; before batch `at`, the next commit is set to crash at
/// `crash` (then the driver restarts).
fn run(guarantee: Guarantee, crash: Option<(usize, CrashPoint)>, state_dir: bool) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let driver =
        TopologyTestDriver::new(topology(), config(guarantee, state_dir.then(|| dir.path())))
            .unwrap();
    let mut views = driver.create_input_topic("views", Serdes::string(), Serdes::string());
    for b in 0..BATCHES {
        match crash {
            Some((at, point)) if at == b => {
                driver.crash_at_next_commit(point);
                let err = pipe(&mut views, b).unwrap_err();
                assert!(err.to_string().contains("simulated crash"), "{err}");
                assert_eq!(err.kind(), weir_core::ErrorKind::Fenced);
                // A crashed driver refuses work until it restarts.
                assert!(pipe(&mut views, b).is_err());
                driver.restart().unwrap();
            }
            _ => pipe(&mut views, b).unwrap(),
        }
    }
    outcome(&driver)
}

/// Nothing lost: every page counted at least as often as it was viewed, and
/// the output carried every count up to it; the store equals its changelog.
fn assert_nothing_lost(o: &Outcome) {
    let expected = expected();
    for (page, n) in &expected {
        let stored = o.store.get(page).copied().unwrap_or(0);
        assert!(stored >= *n, "{page}: stored {stored} < {n}");
        let out = o.output.get(page).cloned().unwrap_or_default();
        for c in 1..=*n {
            assert!(out.contains(&c), "{page}: count {c} never output ({out:?})");
        }
        assert_eq!(
            out.last(),
            Some(&stored),
            "{page}: last output is the stored count"
        );
    }
    assert_eq!(o.store, o.changelog, "store == changelog replayed");
}

/// Exactly once: the counts are exact and each was output exactly once, in order.
fn assert_exactly_once(o: &Outcome) {
    let expected = expected();
    assert_eq!(o.store, expected);
    for (page, n) in &expected {
        let want: Vec<i64> = (1..=*n).collect();
        assert_eq!(o.output.get(page), Some(&want), "{page}");
    }
    assert_eq!(o.store, o.changelog, "store == changelog replayed");
}

const POINTS: [CrashPoint; 3] = [
    CrashPoint::BeforeFlush,
    CrashPoint::AfterSend,
    CrashPoint::AfterCommit,
];

#[test]
fn without_faults_both_guarantees_count_exactly() {
    for g in [Guarantee::AtLeastOnce, Guarantee::ExactlyOnce] {
        for state_dir in [false, true] {
            let o = run(g, None, state_dir);
            assert_exactly_once(&o);
            assert_eq!(o.aborts, 0);
        }
    }
}

#[test]
fn at_least_once_loses_nothing_across_a_crash_at_any_point_of_the_commit() {
    for point in POINTS {
        for state_dir in [false, true] {
            let o = run(Guarantee::AtLeastOnce, Some((3, point)), state_dir);
            assert_nothing_lost(&o);
        }
    }
}

#[test]
fn at_least_once_reprocesses_what_a_crash_before_the_offset_commit_left() {
    // Batch 3 was processed and its output written, but its offsets did not
    // commit: processed again after the restart, counted twice.
    let o = run(
        Guarantee::AtLeastOnce,
        Some((3, CrashPoint::AfterSend)),
        false,
    );
    let total: i64 = o.store.values().sum();
    let expected_total = i64::try_from(BATCHES * PER_BATCH).unwrap();
    assert_eq!(
        total,
        expected_total + 2 * i64::try_from(PER_BATCH).unwrap()
    );
}

#[test]
fn exactly_once_neither_loses_nor_duplicates_across_a_crash_at_any_point_of_the_commit() {
    for point in POINTS {
        for state_dir in [false, true] {
            let o = run(Guarantee::ExactlyOnce, Some((3, point)), state_dir);
            assert_exactly_once(&o);
            let aborted = u64::from(point != CrashPoint::AfterCommit);
            assert_eq!(o.aborts, aborted, "{point:?} state_dir={state_dir}");
        }
    }
}

#[test]
fn exactly_once_output_is_invisible_until_its_transaction_commits() {
    let driver = TopologyTestDriver::new(topology(), config(Guarantee::ExactlyOnce, None)).unwrap();
    let mut views = driver.create_input_topic("views", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("views-out", Serdes::string(), Serdes::i64());
    pipe(&mut views, 0).unwrap();
    let first = out.read_values_to_list().unwrap();
    assert_eq!(first.len(), PER_BATCH);
    // The aborted transaction's output (and its store writes) vanish.
    driver.crash_at_next_commit(CrashPoint::AfterSend);
    pipe(&mut views, 1).unwrap_err();
    assert!(
        out.is_empty(),
        "an aborted transaction's output is never read"
    );
    driver.restart().unwrap();
    assert_eq!(out.read_values_to_list().unwrap().len(), PER_BATCH);
    let store = driver
        .key_value_store::<String, i64>("views")
        .unwrap()
        .all()
        .unwrap();
    assert_eq!(
        store.values().sum::<i64>(),
        i64::try_from(2 * PER_BATCH).unwrap()
    );
}

#[test]
fn a_task_moved_away_and_back_resumes_from_its_commit_and_changelog() {
    for g in [Guarantee::AtLeastOnce, Guarantee::ExactlyOnce] {
        for state_dir in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let driver =
                TopologyTestDriver::new(topology(), config(g, state_dir.then(|| dir.path())))
                    .unwrap();
            let mut views = driver.create_input_topic("views", Serdes::string(), Serdes::string());
            pipe(&mut views, 0).unwrap();
            pipe(&mut views, 1).unwrap();
            // The counting sub-topology's partition 1 moves away: records for
            // it wait in the repartition topic.
            let moved = TaskId::new(1, 1);
            assert!(
                driver.task_ids().contains(&moved),
                "{:?}",
                driver.task_ids()
            );
            driver.revoke_task(moved).unwrap();
            assert!(!driver.task_ids().contains(&moved));
            for b in 2..4 {
                pipe(&mut views, b).unwrap();
            }
            driver.assign_task(moved).unwrap();
            for b in 4..BATCHES {
                pipe(&mut views, b).unwrap();
            }
            let o = outcome(&driver);
            assert_exactly_once(&o);
        }
    }
}

#[test]
fn a_restart_from_the_state_directory_continues_exactly() {
    for g in [Guarantee::AtLeastOnce, Guarantee::ExactlyOnce] {
        let dir = tempfile::tempdir().unwrap();
        let driver = TopologyTestDriver::new(topology(), config(g, Some(dir.path()))).unwrap();
        let mut views = driver.create_input_topic("views", Serdes::string(), Serdes::string());
        for b in 0..BATCHES {
            pipe(&mut views, b).unwrap();
            if b == 2 {
                driver.restart().unwrap();
            }
        }
        assert_exactly_once(&outcome(&driver));
    }
}

/// Forwards every record, and one more record ("closed", count) when its task closes.
struct SaysGoodbye(i64);

impl weir_core::processor::Processor<String, String> for SaysGoodbye {
    fn process(
        &mut self,
        ctx: &mut dyn weir_core::processor::ProcessorContext<String, String>,
        record: Record<String, String>,
    ) -> weir_core::Result<()> {
        self.0 += 1;
        ctx.forward(record)
    }

    fn close(
        &mut self,
        ctx: &mut dyn weir_core::processor::ProcessorContext<String, String>,
    ) -> weir_core::Result<()> {
        ctx.forward(Record::new("closed".to_string(), self.0.to_string(), 0))
    }
}

#[test]
fn exactly_once_commits_what_closing_processors_write() {
    let mut b = weir_core::topology::TopologyBuilder::new();
    b.add_source(
        "in",
        ["in"],
        Consumed::with(Serdes::string(), Serdes::string()),
    )
    .add_processor("goodbye", || SaysGoodbye(0), &["in"])
    .add_sink(
        "out",
        "out",
        Produced::with(Serdes::string(), Serdes::string()),
        &["goodbye"],
    );
    let driver =
        TopologyTestDriver::new(b.build().unwrap(), config(Guarantee::ExactlyOnce, None)).unwrap();
    let mut input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    input
        .pipe_key_value("k".to_string(), "v".to_string())
        .unwrap();
    assert_eq!(out.read_values_to_list().unwrap(), ["v"]);
    // A restart closes the task cleanly: its goodbye commits, no abort.
    driver.restart().unwrap();
    assert_eq!(out.read_values_to_list().unwrap(), ["1"]);
    input
        .pipe_key_value("k".to_string(), "w".to_string())
        .unwrap();
    driver.close().unwrap();
    assert_eq!(out.read_values_to_list().unwrap(), ["w", "1"]);
    assert_eq!(driver.aborted_transactions(), 0);
}
