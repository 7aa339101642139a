//! Stream-stream joins through the TopologyTestDriver: inner, left and
//! outer joins, asymmetric windows, grace and late records, duplicates,
//! result timestamps, null keys and values, restarts with the stores
//! restored, self joins, and the names of nodes and stores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use weir_core::dsl::{JoinWindows, KStream, StreamJoined, StreamsBuilder};
use weir_core::topology::{Consumed, Produced, Topology};
use weir_core::{Record, Serdes};
use weir_testing::{DriverConfig, TestInputTopic, TestOutputTopic, TopologyTestDriver};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

type Stream = KStream<String, String>;
type Input = TestInputTopic<String, String>;
type Output = TestOutputTopic<String, String>;
/// One output record: key (`None` for no key), value, timestamp.
type Out = (Option<String>, String, i64);

fn joined() -> StreamJoined<String, String, String> {
    StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string())
}

fn show(v: Option<&String>) -> String {
    v.cloned().unwrap_or_else(|| "null".to_string())
}

fn inner(windows: JoinWindows) -> impl FnOnce(Stream, Stream) -> Stream {
    move |l, r| l.join(&r, |a, b| format!("{a}+{b}"), windows, joined())
}

fn left(windows: JoinWindows) -> impl FnOnce(Stream, Stream) -> Stream {
    move |l, r| l.left_join(&r, |a, b| format!("{a}+{}", show(b)), windows, joined())
}

fn outer(windows: JoinWindows) -> impl FnOnce(Stream, Stream) -> Stream {
    move |l, r| {
        l.outer_join(
            &r,
            |a, b| format!("{}+{}", show(a), show(b)),
            windows,
            joined(),
        )
    }
}

fn topology(join: impl FnOnce(Stream, Stream) -> Stream) -> Topology {
    let b = StreamsBuilder::new();
    let consumed = || Consumed::with(Serdes::string(), Serdes::string());
    let l = b.stream("left", consumed());
    let r = b.stream("right", consumed());
    join(l, r).to("out", Produced::with(Serdes::string(), Serdes::string()));
    b.build().unwrap()
}

struct Run {
    driver: TopologyTestDriver,
    left: Input,
    right: Input,
    out: Output,
}

impl Run {
    fn new(join: impl FnOnce(Stream, Stream) -> Stream, config: DriverConfig) -> Run {
        let driver = TopologyTestDriver::new(topology(join), config).unwrap();
        let left = driver.create_input_topic("left", Serdes::string(), Serdes::string());
        let right = driver.create_input_topic("right", Serdes::string(), Serdes::string());
        let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
        Run {
            driver,
            left,
            right,
            out,
        }
    }

    fn of(join: impl FnOnce(Stream, Stream) -> Stream) -> Run {
        Self::new(join, DriverConfig::new().with_cache_max_bytes(0))
    }

    fn l(&mut self, key: &str, value: &str, ts: i64) -> &mut Self {
        let r = Record::new(key.to_string(), value.to_string(), ts);
        self.left.pipe_record(r).unwrap();
        self
    }

    fn r(&mut self, key: &str, value: &str, ts: i64) -> &mut Self {
        let r = Record::new(key.to_string(), value.to_string(), ts);
        self.right.pipe_record(r).unwrap();
        self
    }

    fn read(&self) -> Vec<Out> {
        self.out
            .read_records_to_list()
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.value.unwrap(), r.timestamp))
            .collect()
    }
}

fn o(key: &str, value: &str, ts: i64) -> Out {
    (Some(key.to_string()), value.to_string(), ts)
}

#[test]
fn inner_join_matches_both_ways_within_the_window_at_the_later_timestamp() {
    let mut run = Run::of(inner(JoinWindows::of_time_difference_without_grace(ms(
        100,
    ))));
    run.l("A", "a1", 0).r("A", "b1", 50).r("B", "b0", 50);
    assert_eq!(run.read(), vec![o("A", "a1+b1", 50)]);
    // 200 is more than 100 after a1: no match; a2 at 150 sees both b1 and b2.
    run.r("A", "b2", 200).l("A", "a2", 150);
    assert_eq!(run.read(), vec![o("A", "a2+b1", 150), o("A", "a2+b2", 200)]);
    // The window bounds are inclusive: 250 is exactly 100 after a2.
    run.r("A", "b3", 250).r("A", "b4", 251);
    assert_eq!(run.read(), vec![o("A", "a2+b3", 250)]);
}

#[test]
fn an_asymmetric_window_looks_only_after_the_left_record() {
    let windows = JoinWindows::of_time_difference_without_grace(ms(0)).after(ms(100));
    let mut run = Run::of(inner(windows));
    run.l("A", "a", 100);
    // A right record matches left records in [ts - after, ts + before].
    run.r("A", "r99", 99)
        .r("A", "r100", 100)
        .r("A", "r200", 200)
        .r("A", "r201", 201);
    assert_eq!(
        run.read(),
        vec![o("A", "a+r100", 100), o("A", "a+r200", 200)]
    );
}

#[test]
fn an_asymmetric_window_looks_only_before_the_left_record() {
    // A grace, so that the store (retention before + after + grace) still
    // has r1 when stream time is 102.
    let windows = JoinWindows::of_time_difference_and_grace(ms(0), ms(50)).before(ms(100));
    let mut run = Run::of(inner(windows));
    run.r("A", "r0", 0)
        .r("A", "r1", 1)
        .r("A", "r101", 101)
        .r("A", "r102", 102);
    run.l("A", "a", 101);
    assert_eq!(run.read(), vec![o("A", "a+r1", 101), o("A", "a+r101", 101)]);
}

#[test]
fn duplicates_on_both_sides_all_join() {
    let mut run = Run::of(inner(JoinWindows::of_time_difference_without_grace(ms(10))));
    run.l("A", "x", 10).l("A", "x", 10).r("A", "y", 5);
    assert_eq!(run.read(), vec![o("A", "x+y", 10), o("A", "x+y", 10)]);
    run.r("A", "y", 5);
    assert_eq!(run.read(), vec![o("A", "x+y", 10), o("A", "x+y", 10)]);
}

#[test]
fn null_keys_and_values_are_dropped_and_counted_by_an_inner_join() {
    let mut run = Run::of(inner(JoinWindows::of_time_difference_without_grace(ms(10))));
    run.r("A", "y", 1);
    let no_key = Record::from_parts(None, Some("x".to_string()), 2, Default::default());
    run.left.pipe_record(no_key).unwrap();
    let no_value = Record::from_parts(Some("A".to_string()), None, 3, Default::default());
    run.left.pipe_record(no_value).unwrap();
    assert_eq!(run.read(), vec![]);
    assert_eq!(run.driver.dropped_records(), 2);
}

#[test]
fn a_left_join_forwards_a_keyless_left_record_at_once() {
    let mut run = Run::of(left(JoinWindows::of_time_difference_without_grace(ms(10))));
    let no_key = Record::from_parts(None, Some("x".to_string()), 2, Default::default());
    run.left.pipe_record(no_key).unwrap();
    let no_key = Record::from_parts(None, Some("y".to_string()), 3, Default::default());
    run.right.pipe_record(no_key).unwrap();
    assert_eq!(run.read(), vec![(None, "x+null".to_string(), 2)]);
    assert_eq!(run.driver.dropped_records(), 1);
}

#[test]
fn a_left_join_emits_an_unmatched_record_only_once_its_window_closed() {
    let mut run = Run::of(left(JoinWindows::of_time_difference_without_grace(ms(10))));
    run.l("A", "a", 0).r("B", "b", 5).l("A", "a2", 10);
    // a's window [0 - 10, 0 + 10] is still open at stream time 10.
    assert_eq!(run.read(), vec![]);
    run.l("C", "c", 11);
    assert_eq!(run.read(), vec![o("A", "a+null", 0)]);
    // c finds a partner in time: it is never emitted with null.
    run.r("C", "z", 12);
    assert_eq!(run.read(), vec![o("C", "c+z", 12)]);
    run.l("D", "d", 100);
    assert_eq!(run.read(), vec![o("A", "a2+null", 10)]);
    run.l("E", "e", 200);
    assert_eq!(run.read(), vec![o("D", "d+null", 100)]);
}

#[test]
fn a_grace_period_delays_the_emission_of_unmatched_records() {
    let windows = JoinWindows::of_time_difference_and_grace(ms(10), ms(5));
    let mut run = Run::of(left(windows));
    run.l("A", "a", 0).l("B", "b", 15);
    assert_eq!(run.read(), vec![]);
    // A right record within the grace still joins.
    run.r("A", "late-but-in-grace", 9);
    assert_eq!(run.read(), vec![o("A", "a+late-but-in-grace", 9)]);
    run.l("C", "c", 30);
    assert_eq!(run.read(), vec![]);
    run.l("C", "c", 31);
    assert_eq!(run.read(), vec![o("B", "b+null", 15)]);
}

#[test]
fn an_out_of_order_unmatched_record_whose_window_closed_is_forwarded_at_once() {
    let windows = JoinWindows::of_time_difference_and_grace(ms(10), ms(5));
    let mut run = Run::of(left(windows));
    run.l("A", "a", 100);
    // 80 + 10 < 100: its window closed before it came.
    run.l("B", "b", 80);
    assert_eq!(run.read(), vec![o("B", "b+null", 80)]);
    assert_eq!(run.driver.dropped_records(), 0);
    // 50 is older than the store's retention (25 ms behind 100): not kept,
    // counted as dropped, and still forwarded as unmatched.
    run.l("C", "c", 50);
    assert_eq!(run.read(), vec![o("C", "c+null", 50)]);
    assert_eq!(run.driver.dropped_records(), 1);
}

#[test]
fn a_record_too_old_for_its_own_store_still_joins_the_other_side() {
    let mut run = Run::of(inner(JoinWindows::of_time_difference_without_grace(ms(10))));
    run.r("A", "r", 60).l("A", "x", 100);
    assert_eq!(run.read(), vec![]);
    // The left store keeps 20 ms behind 100: 55 is not kept, but the right
    // store still has r at 60 (as Kafka Streams does).
    run.l("A", "late", 55);
    assert_eq!(run.read(), vec![o("A", "late+r", 60)]);
    assert_eq!(run.driver.dropped_records(), 1);
    // Nothing at 55 was kept for later right records.
    run.r("A", "r2", 56);
    assert_eq!(run.read(), vec![]);
}

#[test]
fn an_outer_join_emits_unmatched_records_of_both_sides_when_their_windows_close() {
    let windows = JoinWindows::of_time_difference_without_grace(ms(10)).before(ms(5));
    let mut run = Run::of(outer(windows));
    // A right record at ts waits until ts + before; a left one until ts + after.
    run.r("A", "r", 0).l("B", "l", 0);
    run.r("X", "x", 6);
    assert_eq!(run.read(), vec![o("A", "null+r", 0)]);
    run.r("X", "x2", 11);
    assert_eq!(run.read(), vec![o("B", "l+null", 0)]);
    // A left record at 12 matches right records in [12 - 5, 12 + 10]: x2,
    // not x at 6.
    run.l("X", "lx", 12);
    assert_eq!(run.read(), vec![o("X", "lx+x2", 12)]);
    run.l("Z", "z", 40);
    assert_eq!(run.read(), vec![o("X", "null+x", 6)]);
}

#[test]
fn unmatched_records_come_out_by_time_then_side_then_key() {
    let mut run = Run::of(outer(JoinWindows::of_time_difference_without_grace(ms(1))));
    run.l("B", "lb", 3)
        .l("A", "la", 3)
        .r("C", "rc", 3)
        .l("A", "la2", 3)
        .r("D", "rd", 2);
    run.l("Z", "z", 10);
    assert_eq!(
        run.read(),
        vec![
            o("D", "null+rd", 2),
            o("C", "null+rc", 3),
            o("A", "la+null", 3),
            o("A", "la2+null", 3),
            o("B", "lb+null", 3),
        ]
    );
}

#[test]
fn a_self_join_matches_each_record_with_itself_and_its_neighbours() {
    let b = StreamsBuilder::new();
    let s = b.stream("left", Consumed::with(Serdes::string(), Serdes::string()));
    s.join(
        &s,
        |a, b| format!("{a}+{b}"),
        JoinWindows::of_time_difference_without_grace(ms(10)),
        joined(),
    )
    .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(b.build().unwrap(), DriverConfig::new()).unwrap();
    let mut input = driver.create_input_topic("left", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    input
        .pipe_record(Record::new("A".into(), "1".into(), 0))
        .unwrap();
    input
        .pipe_record(Record::new("A".into(), "2".into(), 5))
        .unwrap();
    input
        .pipe_record(Record::new("A".into(), "3".into(), 20))
        .unwrap();
    let got: Vec<(String, i64)> = out
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.value.unwrap(), r.timestamp))
        .collect();
    let want = [("1+1", 0), ("2+1", 5), ("1+2", 5), ("2+2", 5), ("3+3", 20)];
    assert_eq!(got, want.map(|(v, t)| (v.to_string(), t)));
}

#[test]
fn the_stores_are_restored_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = DriverConfig::new()
        .with_cache_max_bytes(0)
        .with_state_dir(dir.path());
    let mut run = Run::new(
        left(JoinWindows::of_time_difference_without_grace(ms(10))),
        config,
    );
    run.l("A", "a", 0);
    run.driver.restart().unwrap();
    run.r("A", "b", 5);
    assert_eq!(run.read(), vec![o("A", "a+b", 5)]);
    run.l("C", "c", 3);
    run.driver.restart().unwrap();
    // The shared store kept c (and not a, which found b): c's window
    // closes at 13.
    run.l("D", "d", 100);
    assert_eq!(run.read(), vec![o("C", "c+null", 3)]);
}

#[test]
fn in_memory_stores_are_restored_from_their_changelogs() {
    let b = StreamsBuilder::new();
    let consumed = || Consumed::with(Serdes::string(), Serdes::string());
    let (l, r) = (b.stream("left", consumed()), b.stream("right", consumed()));
    l.outer_join(
        &r,
        |a, b| format!("{}+{}", show(a), show(b)),
        JoinWindows::of_time_difference_without_grace(ms(10)),
        joined().in_memory().with_store_name("mem"),
    )
    .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let topology = b.build().unwrap();
    let description = topology.describe().to_string();
    let driver = TopologyTestDriver::new(topology, DriverConfig::new()).unwrap();
    let mut right = driver.create_input_topic("right", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    right
        .pipe_record(Record::new("A".into(), "r".into(), 1))
        .unwrap();
    driver.restart().unwrap();
    right
        .pipe_record(Record::new("B".into(), "r".into(), 50))
        .unwrap();
    let got: Vec<String> = out.read_values_to_list().unwrap();
    assert_eq!(got, vec!["null+r".to_string()], "{description}");
    let topics = driver.output_topics();
    // Only the right side and the shared store were written to.
    for store in ["mem-outer-other-join-store", "mem-outer-shared-join-store"] {
        assert!(
            topics
                .iter()
                .any(|t| t.ends_with(&format!("{store}-changelog"))),
            "{store}: {topics:?}"
        );
    }
}

#[test]
fn nodes_and_stores_are_named_as_kafka_streams_names_them() {
    let describe =
        |join: Box<dyn FnOnce(Stream, Stream) -> Stream>| topology(join).describe().to_string();
    let w = || JoinWindows::of_time_difference_without_grace(ms(10));
    // Sources are 0 and 1; the join takes 2 to 6, the sink 7.
    let d = describe(Box::new(inner(w())));
    for name in [
        "KSTREAM-WINDOWED-0000000002",
        "KSTREAM-WINDOWED-0000000003",
        "KSTREAM-JOINTHIS-0000000004",
        "KSTREAM-JOINOTHER-0000000005",
        "KSTREAM-MERGE-0000000006",
        "KSTREAM-JOINTHIS-0000000004-store",
        "KSTREAM-JOINOTHER-0000000005-store",
    ] {
        assert!(d.contains(name), "{name} in {d}");
    }
    let d = describe(Box::new(left(w())));
    for name in [
        "KSTREAM-JOINTHIS-0000000004",
        "KSTREAM-OUTEROTHER-0000000005",
        "KSTREAM-OUTERSHARED-0000000004-store",
    ] {
        assert!(d.contains(name), "{name} in {d}");
    }
    let d = describe(Box::new(outer(w())));
    for name in [
        "KSTREAM-OUTERTHIS-0000000004",
        "KSTREAM-OUTEROTHER-0000000005",
        "KSTREAM-OUTERSHARED-0000000004-store",
    ] {
        assert!(d.contains(name), "{name} in {d}");
    }
    let d = describe(Box::new(|l: Stream, r: Stream| {
        l.left_join(
            &r,
            |a, _| a.clone(),
            w(),
            joined().with_name("j").with_store_name("s"),
        )
    }));
    for name in [
        "j-this-windowed",
        "j-other-windowed",
        "j-this-join",
        "j-outer-other-join",
        "j-merge",
        "s-this-join-store",
        "s-outer-other-join-store",
        "s-left-shared-join-store",
        // Named nodes take no generated name: the sink is 4.
        "KSTREAM-SINK-0000000004",
    ] {
        assert!(d.contains(name), "{name} in {d}");
    }
}

#[test]
fn join_windows_that_overflow_fail_the_build() {
    let b = StreamsBuilder::new();
    let consumed = || Consumed::with(Serdes::string(), Serdes::string());
    let (l, r) = (b.stream("left", consumed()), b.stream("right", consumed()));
    l.join(
        &r,
        |a, b| format!("{a}{b}"),
        JoinWindows::of_time_difference_and_grace(Duration::MAX, ms(1)),
        joined(),
    );
    let err = b.build().unwrap_err().to_string();
    assert!(err.contains("must fit"), "{err}");
}

/// A quick timing of the per-record path (run it with `--ignored
/// --nocapture`, in release for real figures): an outer join of 100k left
/// and 100k right records (`WEIR_TIMING_N` sets another count per side),
/// each left record waiting in the shared store until its right partner
/// arrives and removes it.
#[test]
#[ignore = "timing run, not a check of semantics"]
fn timing_200k_records_through_an_outer_join() {
    let mut run = Run::of(outer(JoinWindows::of_time_difference_without_grace(ms(10))));
    let n: i64 = std::env::var("WEIR_TIMING_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let start = std::time::Instant::now();
    for i in 0..n {
        let key = format!("k{}", i % 1000);
        run.l(&key, "l", i);
        run.r(&key, "r", i);
    }
    let elapsed = start.elapsed();
    let out = run.read();
    eprintln!(
        "200k records in {elapsed:?}: {:.0} records/s",
        (2 * n) as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(out.len(), n as usize);
    assert!(out.iter().all(|(_, v, _)| v == "l+r"));
}

#[test]
fn a_join_after_a_key_change_reads_a_repartitioned_stream() {
    let b = StreamsBuilder::new();
    let consumed = || Consumed::with(Serdes::string(), Serdes::string());
    // The left stream is keyed by the first character of its value.
    let l = b
        .stream("left", consumed())
        .select_key(|_k, v: &String| v.chars().take(1).collect::<String>());
    let r = b.stream("right", consumed());
    l.join(
        &r,
        |a, b| format!("{a}+{b}"),
        JoinWindows::of_time_difference_without_grace(ms(10)),
        joined().with_name("rekeyed"),
    )
    .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let topology = b.build().unwrap();
    let description = topology.describe().to_string();
    assert!(
        description.contains("rekeyed-left-repartition"),
        "{description}"
    );
    assert!(
        !description.contains("rekeyed-right-repartition"),
        "{description}"
    );
    let driver = TopologyTestDriver::new(topology, DriverConfig::new()).unwrap();
    let mut left = driver.create_input_topic("left", Serdes::string(), Serdes::string());
    let mut right = driver.create_input_topic("right", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    left.pipe_record(Record::new("x".into(), "apple".into(), 1))
        .unwrap();
    right
        .pipe_record(Record::new("a".into(), "r".into(), 2))
        .unwrap();
    let got: Vec<Out> = out
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value.unwrap(), r.timestamp))
        .collect();
    assert_eq!(got, vec![o("a", "apple+r", 2)]);
}
