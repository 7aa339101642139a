//! The TopologyTestDriver over topologies built with the Processor API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weir_core::handler::LogAndContinue;
use weir_core::processor::{Processor, ProcessorContext, Punctuation, PunctuationType, ScheduleId};
use weir_core::store::{StateStore, StoreSupplier};
use weir_core::task::TaskId;
use weir_core::time::InvalidTimestampPolicy;
use weir_core::topology::{Consumed, Produced, Topology, TopologyBuilder};
use weir_core::{Error, Headers, Record, Result, Serdes, TopicPartition};
use weir_testing::{DriverConfig, KeyValue, TopologyTestDriver};

#[path = "driver/errors.rs"]
mod errors;
#[path = "driver/topology.rs"]
mod topology;

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn to_strings() -> Produced<String, String> {
    Produced::with(Serdes::string(), Serdes::string())
}

/// source `in` (topic `input`) -> sink `out` (topic `output`).
fn pass_through() -> Topology {
    let mut b = TopologyBuilder::new();
    b.add_source("in", ["input"], strings())
        .add_sink("out", "output", to_strings(), &["in"]);
    b.build().unwrap()
}

struct Upper;
impl Processor<String, String> for Upper {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, String>,
        r: Record<String, String>,
    ) -> Result<()> {
        let v = r.value.as_ref().map(|v| v.to_uppercase());
        ctx.forward(r.with_value(v))
    }
}

/// Forwards `value@stream_time` (from `topic-partition`), to watch order and stream time.
struct Tag;
impl Processor<String, String> for Tag {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, String>,
        r: Record<String, String>,
    ) -> Result<()> {
        let m = ctx.record_metadata().cloned().unwrap();
        let v = format!(
            "{}@{} ({}-{})",
            r.value.clone().unwrap_or_default(),
            ctx.stream_time(),
            m.topic,
            m.partition
        );
        ctx.forward(r.with_value(Some(v)))
    }
}

#[test]
fn pass_through_source_to_sink() {
    let driver = TopologyTestDriver::with_defaults(pass_through());
    let mut input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic("output", Serdes::string(), Serdes::string());
    let mut headers = Headers::new();
    headers.add("trace", Some(b"t1".to_vec()));
    input
        .pipe_record(
            Record::new("k".to_string(), "v".to_string(), 42).with_headers(headers.clone()),
        )
        .unwrap();
    input.pipe_input("no key".to_string()).unwrap();

    assert_eq!(output.queue_size(), 2);
    let first = output.read_record().unwrap().unwrap();
    assert_eq!(
        first,
        Record::new("k".to_string(), "v".to_string(), 42).with_headers(headers)
    );
    assert_eq!(
        output.read_key_value().unwrap(),
        Some(KeyValue {
            key: None,
            value: Some("no key".to_string())
        })
    );
    assert!(output.is_empty());
    assert_eq!(output.read_record().unwrap(), None);

    let produced = driver.producer_records();
    assert_eq!(produced.len(), 2);
    assert_eq!((produced[1].partition, produced[1].offset), (0, 1));
    assert_eq!(driver.output_topics(), vec!["output".to_string()]);
    assert_eq!(
        driver.committed_offsets(),
        vec![(TopicPartition::new("input", 0), 2)]
    );
    driver.close().unwrap();
}

#[test]
fn a_processor_transforms_records() {
    let mut b = TopologyBuilder::new();
    b.add_source("in", ["words"], strings())
        .add_processor("upper", || Upper, &["in"])
        .add_sink("out", "shouts", to_strings(), &["upper"]);
    let driver = TopologyTestDriver::with_defaults(b.build().unwrap());
    let mut input = driver.create_input_topic("words", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic("shouts", Serdes::string(), Serdes::string());
    input
        .pipe_key_value_list(vec![
            ("a".to_string(), "hello".to_string()),
            ("b".to_string(), "world".to_string()),
        ])
        .unwrap();
    assert_eq!(
        output.read_key_values_to_list().unwrap(),
        vec![
            KeyValue::new("a".to_string(), "HELLO".to_string()),
            KeyValue::new("b".to_string(), "WORLD".to_string()),
        ]
    );
}

/// Sends even numbers to the child `evens`, odd ones to `odds`.
struct Route;
impl Processor<String, i64> for Route {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, i64>,
        r: Record<String, i64>,
    ) -> Result<()> {
        let child = if r.value.unwrap_or(0) % 2 == 0 {
            "evens"
        } else {
            "odds"
        };
        ctx.forward_to(child, r)
    }
}

#[test]
fn forward_to_reaches_only_the_named_child() {
    let nums = || Produced::with(Serdes::string(), Serdes::i64());
    let mut b = TopologyBuilder::new();
    b.add_source(
        "in",
        ["numbers"],
        Consumed::with(Serdes::string(), Serdes::i64()),
    )
    .add_processor("route", || Route, &["in"])
    .add_sink("evens", "even-numbers", nums(), &["route"])
    .add_sink("odds", "odd-numbers", nums(), &["route"]);
    let driver = TopologyTestDriver::with_defaults(b.build().unwrap());
    let mut input = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    let evens = driver.create_output_topic("even-numbers", Serdes::string(), Serdes::i64());
    let odds = driver.create_output_topic("odd-numbers", Serdes::string(), Serdes::i64());
    input.pipe_value_list(1..=5).unwrap();
    assert_eq!(evens.read_values_to_list().unwrap(), vec![2, 4]);
    assert_eq!(odds.read_values_to_list().unwrap(), vec![1, 3, 5]);
}

/// Fails on the value "boom".
struct Fragile;
impl Processor<String, String> for Fragile {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, String>,
        r: Record<String, String>,
    ) -> Result<()> {
        if r.value.as_deref() == Some("boom") {
            return Err(Error::Processor {
                node: ctx.node_name().to_string(),
                message: "cannot take a boom".to_string(),
            });
        }
        ctx.forward(r)
    }
}

#[test]
fn a_processor_error_is_returned_and_later_records_still_flow() {
    let mut b = TopologyBuilder::new();
    b.add_source("in", ["input"], strings())
        .add_processor("fragile", || Fragile, &["in"])
        .add_sink("out", "output", to_strings(), &["fragile"]);
    let driver = TopologyTestDriver::with_defaults(b.build().unwrap());
    let mut input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic("output", Serdes::string(), Serdes::string());
    let err = input.pipe_input("boom".to_string()).unwrap_err();
    // The processing handler (log and fail by default) names the record.
    assert_eq!(
        err.to_string(),
        "processing of record input-0 offset 0 failed at processor 'fragile' and the handler \
         said fail: processor 'fragile' failed: cannot take a boom"
    );
    input.pipe_input("fine".to_string()).unwrap();
    assert_eq!(
        output.read_values_to_list().unwrap(),
        vec!["fine".to_string()]
    );
}

/// Sources `left` (topic `a`) and `right` (topic `b`) -> `tag` -> `out`.
fn two_topics() -> Topology {
    let mut b = TopologyBuilder::new();
    b.add_source("left", ["a"], strings())
        .add_source("right", ["b"], strings())
        .add_processor("tag", || Tag, &["left", "right"])
        .add_sink("out", "tagged", to_strings(), &["tag"]);
    b.build().unwrap()
}

fn rec(value: &str, ts: i64) -> Record<String, String> {
    Record::new("k".to_string(), value.to_string(), ts)
}

#[test]
fn records_go_in_timestamp_order_across_topics_and_partitions() {
    let config = DriverConfig::new().with_partitions(2);
    let driver = TopologyTestDriver::new(two_topics(), config).unwrap();
    let mut a = driver.create_input_topic("a", Serdes::string(), Serdes::string());
    let mut b = driver.create_input_topic("b", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("tagged", Serdes::string(), Serdes::string());
    // One "fetch" bringing both topics, out of order across partitions.
    a.queue_records(vec![
        (0, rec("a0", 5)),
        (0, rec("a1", 40)),
        (1, rec("a2", 30)),
    ])
    .unwrap();
    b.queue_records(vec![
        (0, rec("b0", 20)),
        (1, rec("b1", 10)),
        (1, rec("b2", 50)),
    ])
    .unwrap();
    assert!(out.is_empty());
    driver.process_queued().unwrap();
    // Task 0_0 reads a-0 and b-0, task 0_1 reads a-1 and b-1; each goes by
    // timestamp, and the driver takes one record per task in turn.
    assert_eq!(
        out.read_values_to_list().unwrap(),
        vec![
            "a0@5 (a-0)",
            "b1@10 (b-1)",
            "b0@20 (b-0)",
            "a2@30 (a-1)",
            "a1@40 (a-0)",
            "b2@50 (b-1)",
        ]
    );
    assert_eq!(
        driver.task_ids(),
        vec![TaskId::new(0, 0), TaskId::new(0, 1)]
    );
    assert_eq!(driver.stream_time(TaskId::new(0, 0)), Some(40));
    assert_eq!(driver.stream_time(TaskId::new(0, 1)), Some(50));
}

#[test]
fn a_batch_on_one_topic_is_ordered_per_task_and_stream_time_never_goes_back() {
    let driver = TopologyTestDriver::with_defaults(two_topics());
    let mut a = driver.create_input_topic("a", Serdes::string(), Serdes::string());
    let mut b = driver.create_input_topic("b", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("tagged", Serdes::string(), Serdes::string());
    a.pipe_record(rec("first", 100)).unwrap();
    // A late record on the other topic: processed, but stream time stays.
    b.pipe_record(rec("late", 50)).unwrap();
    a.pipe_records(vec![(0, rec("x", 120)), (0, rec("y", 110))])
        .unwrap();
    assert_eq!(
        out.read_values_to_list().unwrap(),
        vec![
            "first@100 (a-0)",
            "late@100 (b-0)",
            "x@120 (a-0)",
            "y@120 (a-0)"
        ]
    );
    // Timestamps travel with the records, late or not.
    let stamps: Vec<i64> = driver
        .producer_records()
        .iter()
        .map(|r| r.timestamp)
        .collect();
    assert_eq!(stamps, vec![100, 50, 120, 110]);
}

/// Schedules a punctuation in `init`, forwards its time each time it fires,
/// and cancels it after `cancel_after` firings.
struct Ticker {
    kind: PunctuationType,
    interval: Duration,
    cancel_after: usize,
    fired: usize,
    id: Option<ScheduleId>,
}

impl Ticker {
    fn new(kind: PunctuationType, interval_ms: u64, cancel_after: usize) -> Self {
        Ticker {
            kind,
            interval: Duration::from_millis(interval_ms),
            cancel_after,
            fired: 0,
            id: None,
        }
    }
}

impl Processor<String, String> for Ticker {
    fn init(&mut self, ctx: &mut dyn ProcessorContext<String, String>) -> Result<()> {
        self.id = Some(ctx.schedule(self.interval, self.kind)?);
        Ok(())
    }
    fn process(
        &mut self,
        _ctx: &mut dyn ProcessorContext<String, String>,
        _r: Record<String, String>,
    ) -> Result<()> {
        Ok(())
    }
    fn punctuate(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, String>,
        p: Punctuation,
    ) -> Result<()> {
        assert_eq!(p.kind, self.kind);
        assert!(ctx.record_metadata().is_none());
        self.fired += 1;
        if self.fired == self.cancel_after {
            if let Some(id) = self.id {
                ctx.cancel(id);
                ctx.cancel(id);
            }
        }
        ctx.forward(Record::new(
            "tick".to_string(),
            p.timestamp.to_string(),
            p.timestamp,
        ))
    }
}

fn ticker_topology(kind: PunctuationType, interval_ms: u64, cancel_after: usize) -> Topology {
    let mut b = TopologyBuilder::new();
    b.add_source("in", ["input"], strings())
        .add_processor(
            "ticker",
            move || Ticker::new(kind, interval_ms, cancel_after),
            &["in"],
        )
        .add_sink("out", "ticks", to_strings(), &["ticker"]);
    b.build().unwrap()
}

#[test]
fn stream_time_punctuation_fires_as_records_advance_stream_time() {
    let topology = ticker_topology(PunctuationType::StreamTime, 10, 3);
    let driver = TopologyTestDriver::with_defaults(topology);
    let mut input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let ticks = driver.create_output_topic("ticks", Serdes::string(), Serdes::string());
    let mut at = |ts| input.pipe_record(rec("r", ts)).unwrap();
    at(5); // first stream time: fires
    at(8); // before 10: nothing
    at(37); // 10, 20 and 30 missed: fires once
    at(20); // late: stream time stays 37
    at(39);
    // Wall-clock time does not drive stream-time punctuation.
    driver
        .advance_wall_clock_time(Duration::from_secs(60))
        .unwrap();
    at(40); // fires, and the ticker cancels itself
    at(100);
    assert_eq!(ticks.read_values_to_list().unwrap(), vec!["5", "37", "40"]);
}

#[test]
fn wall_clock_punctuation_fires_when_the_driver_clock_moves() {
    let topology = ticker_topology(PunctuationType::WallClockTime, 100, 3);
    let config = DriverConfig::new().with_wall_clock_time_ms(1_000);
    let driver = TopologyTestDriver::new(topology, config).unwrap();
    let mut input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let ticks = driver.create_output_topic("ticks", Serdes::string(), Serdes::string());
    input.pipe_input("start the task".to_string()).unwrap(); // task created at 1000
    let step = |ms| {
        driver
            .advance_wall_clock_time(Duration::from_millis(ms))
            .unwrap()
    };
    step(50);
    assert!(ticks.is_empty());
    step(50); // 1100
    step(350); // 1450: 1200, 1300, 1400 missed, fires once
    step(49); // 1499
    step(1); // 1500: third firing, then cancelled
    step(1_000);
    assert_eq!(driver.wall_clock_time(), 2_500);
    assert_eq!(
        ticks.read_values_to_list().unwrap(),
        vec!["1100", "1450", "1500"]
    );
}

/// src-a (a) -> upper -> to-mid (mid) | src-mid (mid) -> tag -> to-out (out)
fn through_mid() -> Topology {
    let mut b = TopologyBuilder::new();
    b.add_source("src-a", ["a"], strings())
        .add_processor("upper", || Upper, &["src-a"])
        .add_sink("to-mid", "mid", to_strings(), &["upper"])
        .add_source("src-mid", ["mid"], strings())
        .add_processor("tag", || Tag, &["src-mid"])
        .add_sink("to-out", "out", to_strings(), &["tag"]);
    b.build().unwrap()
}

#[test]
fn records_sent_to_a_topic_the_topology_reads_are_fed_back() {
    let driver = TopologyTestDriver::with_defaults(through_mid());
    let mut a = driver.create_input_topic("a", Serdes::string(), Serdes::string());
    let mid = driver.create_output_topic("mid", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    a.pipe_value_list(["x".to_string(), "y".to_string()])
        .unwrap();
    assert_eq!(
        out.read_values_to_list().unwrap(),
        vec!["X@0 (mid-0)", "Y@0 (mid-0)"]
    );
    // The intermediate topic is output too.
    assert_eq!(mid.read_values_to_list().unwrap(), vec!["X", "Y"]);
    assert_eq!(
        driver.task_ids(),
        vec![TaskId::new(0, 0), TaskId::new(1, 0)]
    );
    assert_eq!(
        driver.committed_offsets(),
        vec![
            (TopicPartition::new("a", 0), 2),
            (TopicPartition::new("mid", 0), 2),
        ]
    );
    // Piping into the intermediate topic directly shares its log (offset 2 next).
    let mut mid_in = driver.create_input_topic("mid", Serdes::string(), Serdes::string());
    mid_in.pipe_input("direct".to_string()).unwrap();
    assert_eq!(out.read_values_to_list().unwrap(), vec!["direct@0 (mid-0)"]);
    assert_eq!(
        driver.committed_offsets()[1],
        (TopicPartition::new("mid", 0), 3)
    );
}

#[test]
fn a_topology_feeding_its_own_input_forever_hits_the_processing_limit() {
    let mut b = TopologyBuilder::new();
    b.add_source("from-ping", ["ping"], strings())
        .add_sink("to-pong", "pong", to_strings(), &["from-ping"])
        .add_source("from-pong", ["pong"], strings())
        .add_sink("to-ping", "ping", to_strings(), &["from-pong"]);
    let config = DriverConfig::new().with_processing_limit(100);
    let driver = TopologyTestDriver::new(b.build().unwrap(), config).unwrap();
    let mut ping = driver.create_input_topic("ping", Serdes::string(), Serdes::string());
    let err = ping.pipe_input("ball".to_string()).unwrap_err();
    assert!(
        err.to_string()
            .contains("still busy after processing 100 records"),
        "{err}"
    );
}

/// A store counting flushes and closes, shared with the test.
struct CountingStore {
    flushes: Arc<AtomicUsize>,
    closes: Arc<AtomicUsize>,
    seen: Vec<String>,
}
impl StateStore for CountingStore {
    fn name(&self) -> &str {
        "seen"
    }
    fn persistent(&self) -> bool {
        false
    }
    fn flush(&mut self) -> Result<()> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn close(&mut self) -> Result<()> {
        self.closes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// Remembers values in the `seen` store and forwards how many it has seen.
struct Remember;
impl Processor<String, String> for Remember {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, String>,
        r: Record<String, String>,
    ) -> Result<()> {
        // `<dyn StateStore>::downcast_mut` needs a `'static` borrow, which the
        // context cannot lend; `as_any_mut` works.
        let store = ctx.state_store("seen")?;
        let store = store.as_any_mut().downcast_mut::<CountingStore>().unwrap();
        store.seen.push(r.value.clone().unwrap_or_default());
        let n = store.seen.len().to_string();
        ctx.forward(r.with_value(Some(n)))
    }
}

#[test]
fn stores_are_flushed_on_commit_and_closed_with_the_driver() {
    let flushes = Arc::new(AtomicUsize::new(0));
    let closes = Arc::new(AtomicUsize::new(0));
    let (f, c) = (flushes.clone(), closes.clone());
    let supplier: StoreSupplier = Arc::new(move |_| {
        Ok(Box::new(CountingStore {
            flushes: f.clone(),
            closes: c.clone(),
            seen: Vec::new(),
        }) as Box<dyn StateStore>)
    });
    let mut b = TopologyBuilder::new();
    b.add_source("in", ["input"], strings())
        .add_processor("remember", || Remember, &["in"])
        .add_state_store("seen", supplier, &["remember"])
        .add_sink("out", "output", to_strings(), &["remember"]);
    let driver = TopologyTestDriver::with_defaults(b.build().unwrap());
    let mut input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic("output", Serdes::string(), Serdes::string());
    input.pipe_value_list(["a", "b"].map(String::from)).unwrap();
    assert_eq!(output.read_values_to_list().unwrap(), vec!["1", "2"]);
    assert_eq!(flushes.load(Ordering::SeqCst), 2);
    assert_eq!(closes.load(Ordering::SeqCst), 0);
    driver.close().unwrap();
    driver.close().unwrap();
    assert_eq!(closes.load(Ordering::SeqCst), 1);
    let err = input.pipe_input("late".to_string()).unwrap_err();
    assert!(err.to_string().contains("closed"), "{err}");
    // Output stays readable after close.
    assert!(output.is_empty());
}

#[test]
fn input_topics_can_advance_their_own_time() {
    let driver = TopologyTestDriver::with_defaults(pass_through());
    let mut input = driver.create_input_topic_with_time(
        "input",
        Serdes::string(),
        Serdes::string(),
        1_000,
        Duration::from_millis(10),
    );
    let output = driver.create_output_topic("output", Serdes::string(), Serdes::string());
    input
        .pipe_value_list(["a", "b", "c"].map(String::from))
        .unwrap();
    input.pipe_record(rec("explicit", 5)).unwrap();
    input.advance_time(Duration::from_secs(1));
    input
        .pipe_key_value("k".to_string(), "d".to_string())
        .unwrap();
    input
        .pipe_key_value_at("k".to_string(), "e".to_string(), 42)
        .unwrap();
    assert_eq!(input.current_time_ms(), 2_040);
    let stamps: Vec<i64> = output
        .read_records_to_list()
        .unwrap()
        .iter()
        .map(|r| r.timestamp)
        .collect();
    assert_eq!(stamps, vec![1_000, 1_010, 1_020, 5, 2_030, 42]);

    // Without a time of its own, a topic uses the driver's clock at creation.
    let config = DriverConfig::new().with_wall_clock_time_ms(77);
    let driver = TopologyTestDriver::new(pass_through(), config).unwrap();
    let mut input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic("output", Serdes::string(), Serdes::string());
    input.pipe_input("a".to_string()).unwrap();
    input.pipe_input("b".to_string()).unwrap();
    let stamps: Vec<i64> = output
        .read_records_to_list()
        .unwrap()
        .iter()
        .map(|r| r.timestamp)
        .collect();
    assert_eq!(stamps, vec![77, 77]);
}

#[test]
fn key_values_to_map_keeps_the_latest_value_and_drops_tombstones() {
    let driver = TopologyTestDriver::with_defaults(pass_through());
    let mut input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic("output", Serdes::string(), Serdes::string());
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    input
        .pipe_key_value_list(vec![kv("a", "1"), kv("b", "2"), kv("a", "3")])
        .unwrap();
    input
        .pipe_record(Record::from_parts(
            Some("b".to_string()),
            None,
            9,
            Headers::new(),
        ))
        .unwrap();
    let map = output.read_key_values_to_map().unwrap();
    assert_eq!(map.into_iter().collect::<Vec<_>>(), vec![kv("a", "3")]);

    // Value-only reads refuse a tombstone; key-value reads show it.
    input
        .pipe_record(Record::from_parts(
            Some("c".to_string()),
            None,
            10,
            Headers::new(),
        ))
        .unwrap();
    let other = driver.create_output_topic("output", Serdes::string(), Serdes::string());
    assert_eq!(other.queue_size(), 1);
    let err = output.read_value().unwrap_err();
    assert!(err.to_string().contains("tombstone"), "{err}");
    assert!(err.to_string().contains("offset 4"), "{err}");
    input
        .pipe_record(Record::from_parts(
            Some("c".to_string()),
            None,
            11,
            Headers::new(),
        ))
        .unwrap();
    assert_eq!(
        other.read_key_value().unwrap(),
        Some(KeyValue::tombstone("c".to_string()))
    );
}

#[test]
fn keyed_records_are_partitioned_like_kafka_and_tasks_made_per_partition() {
    let config = DriverConfig::new()
        .with_partitions(3)
        .with_application_id("parts");
    let driver = TopologyTestDriver::new(pass_through(), config).unwrap();
    assert_eq!(driver.application_id(), "parts");
    assert_eq!(driver.partition_count("input"), 3);
    let mut input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let keys = ["alpha", "beta", "gamma", "delta", "epsilon"];
    for k in keys {
        input.pipe_key_value(k.to_string(), k.to_string()).unwrap();
    }
    let expected: Vec<i32> = keys
        .iter()
        .map(|k| weir_testing::driver::default_partition(Some(k.as_bytes()), 3))
        .collect();
    // Input and output use the same default partitioner.
    let got: Vec<i32> = driver
        .producer_records()
        .iter()
        .map(|r| r.partition)
        .collect();
    assert_eq!(got, expected);
    let mut parts = expected.clone();
    parts.sort();
    parts.dedup();
    let tasks: Vec<TaskId> = parts.into_iter().map(|p| TaskId::new(0, p)).collect();
    assert_eq!(driver.task_ids(), tasks);

    // An explicit partition out of range is refused.
    let err = input.pipe_record_at(3, rec("x", 0)).unwrap_err();
    assert!(
        err.to_string()
            .contains("input topic 'input' has no partition 3"),
        "{err}"
    );
    input.pipe_record_at(2, rec("x", 0)).unwrap();
    assert_eq!(driver.producer_records().last().unwrap().partition, 2);
}

#[test]
fn misuse_is_reported_as_errors() {
    let driver = TopologyTestDriver::with_defaults(pass_through());
    let mut nowhere = driver.create_input_topic("nowhere", Serdes::string(), Serdes::string());
    let err = nowhere.pipe_input("x".to_string()).unwrap_err();
    assert!(
        err.to_string().contains("unknown input topic 'nowhere'"),
        "{err}"
    );
    assert!(err.to_string().contains("[input]"), "{err}");

    // Sources of one sub-topology must be co-partitioned.
    let config = DriverConfig::new().with_topic_partitions("a", 2);
    let err = TopologyTestDriver::new(two_topics(), config).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert!(err.to_string().contains("a (2), b (1)"), "{err}");
    let err = TopologyTestDriver::new(pass_through(), DriverConfig::new().with_partitions(0))
        .unwrap_err();
    assert!(err.to_string().contains("at least 1"), "{err}");
    let err = TopologyTestDriver::new(pass_through(), DriverConfig::new().with_application_id(""))
        .unwrap_err();
    assert!(err.to_string().contains("application.id"), "{err}");
}

#[test]
fn dropping_a_driver_with_live_topics_does_not_panic() {
    let driver = TopologyTestDriver::with_defaults(ticker_topology(
        PunctuationType::WallClockTime,
        10,
        usize::MAX,
    ));
    let mut input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic("ticks", Serdes::string(), Serdes::string());
    input.pipe_input("x".to_string()).unwrap();
    drop(driver);
    assert!(input.pipe_input("y".to_string()).is_err());
    assert!(output.is_empty());
}

#[test]
fn a_sink_partitioner_sees_the_driver_partition_count() {
    let last = |_: &str, _: Option<&String>, _: Option<&String>, n: i32| Some(n - 1);
    let mut b = TopologyBuilder::new();
    b.add_source("in", ["input"], strings()).add_sink(
        "out",
        "output",
        to_strings().with_partitioner(last),
        &["in"],
    );
    let config = DriverConfig::new().with_topic_partitions("output", 4);
    let driver = TopologyTestDriver::new(b.build().unwrap(), config).unwrap();
    let mut input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    input.pipe_input("x".to_string()).unwrap();
    input.pipe_input("y".to_string()).unwrap();
    let placed: Vec<(i32, i64)> = driver
        .producer_records()
        .iter()
        .map(|r| (r.partition, r.offset))
        .collect();
    assert_eq!(placed, vec![(3, 0), (3, 1)]);
}

#[test]
fn a_task_idling_for_data_does_not_hang_the_driver() {
    // max.task.idle.ms > 0 on a two-topic task: the driver has all input at
    // hand, so an empty partition never holds the other back.
    let config = DriverConfig::new().with_max_task_idle_ms(100);
    let driver = TopologyTestDriver::new(two_topics(), config).unwrap();
    let mut a = driver.create_input_topic("a", Serdes::string(), Serdes::string());
    let mut b = driver.create_input_topic("b", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("tagged", Serdes::string(), Serdes::string());
    a.pipe_record(rec("a1", 10)).unwrap();
    b.pipe_record(rec("b1", 5)).unwrap();
    assert_eq!(out.read_values_to_list().unwrap().len(), 2);
}
