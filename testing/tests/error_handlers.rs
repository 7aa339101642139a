//! The three error-handler stages (deserialization, processing, production)
//! and the dead-letter queue, through the TopologyTestDriver: what reaches
//! the dead-letter topic (raw bytes, headers, timestamp) and that the good
//! records around a bad one are all processed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use weir_core::dsl::StreamsBuilder;
use weir_core::handler::{dead_letter_headers as h, ErrorCounts, LogAndContinue, StageCounts};
use weir_core::processor::{Processor, ProcessorContext, Punctuation, PunctuationType};
use weir_core::serde::{SerializeContext, Serializer};
use weir_core::topology::{Consumed, Produced, Topology, TopologyBuilder};
use weir_core::{Error, Headers, RawRecord, Record, Result, Serdes, TopicPartition};
use weir_testing::{CrashPoint, DriverConfig, TopologyTestDriver};

const DLQ: &str = "dead-letters";

/// The dead-letter records written so far.
fn dead_letters(driver: &TopologyTestDriver) -> Vec<RawRecord> {
    driver
        .producer_records()
        .into_iter()
        .filter(|r| r.topic == DLQ)
        .collect()
}

fn header(record: &RawRecord, key: &str) -> String {
    let value = record
        .headers
        .last_header(key)
        .flatten()
        .unwrap_or_default();
    String::from_utf8(value.to_vec()).unwrap()
}

/// Checks the `__streams.errors.*` headers: where the record came from,
/// the error type, and a message containing `needle`.
fn check_error_headers(record: &RawRecord, topic: &str, offset: i64, kind: &str, needle: &str) {
    assert_eq!(header(record, h::TOPIC), topic);
    assert_eq!(header(record, h::PARTITION), "0");
    assert_eq!(header(record, h::OFFSET), offset.to_string());
    assert_eq!(
        header(record, h::EXCEPTION),
        format!("weir_core::Error::{kind}")
    );
    let message = header(record, h::MESSAGE);
    assert!(message.contains(needle), "{message}");
    let chain = header(record, h::STACKTRACE);
    assert!(chain.starts_with(&message), "{chain}");
}

fn counts(stage: fn(&mut ErrorCounts) -> &mut StageCounts, dropped: u64, dlq: u64) -> ErrorCounts {
    let mut c = ErrorCounts::default();
    *stage(&mut c) = StageCounts {
        dropped,
        dead_lettered: dlq,
    };
    c
}

/// source `nums` <String, i64> -> sink `copied`.
fn copy_numbers() -> Topology {
    let mut b = TopologyBuilder::new();
    b.add_source(
        "in",
        ["nums"],
        Consumed::with(Serdes::string(), Serdes::i64()),
    )
    .add_sink(
        "out",
        "copied",
        Produced::with(Serdes::string(), Serdes::i64()),
        &["in"],
    );
    b.build().unwrap()
}

#[test]
fn a_record_that_does_not_deserialize_goes_to_the_dead_letter_topic_as_read() {
    let config = DriverConfig::new()
        .with_deserialization_handler(LogAndContinue)
        .with_dead_letter_topic(DLQ);
    let driver = TopologyTestDriver::new(copy_numbers(), config).unwrap();
    let mut good = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let mut bad = driver.create_input_topic("nums", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("copied", Serdes::string(), Serdes::i64());
    good.pipe_key_value_at("a".into(), 1, 10).unwrap();
    let mut headers = Headers::new();
    headers.add("trace", Some(b"t-1".to_vec()));
    bad.pipe_record(Record::from_parts(
        Some("b".to_string()),
        Some("garbage".to_string()),
        20,
        headers,
    ))
    .unwrap();
    good.pipe_key_value_at("c".into(), 3, 30).unwrap();

    assert_eq!(out.read_values_to_list().unwrap(), vec![1, 3]);
    let dlq = dead_letters(&driver);
    assert_eq!(dlq.len(), 1);
    let d = &dlq[0];
    assert_eq!(d.key.as_deref(), Some(&b"b"[..]));
    assert_eq!(d.value.as_deref(), Some(&b"garbage"[..]));
    assert_eq!(d.timestamp, 20);
    assert_eq!(header(d, "trace"), "t-1");
    check_error_headers(d, "nums", 1, "Deserialization", "cannot deserialize value");
    assert_eq!(
        driver.committed_offsets(),
        vec![(TopicPartition::new("nums", 0), 3)]
    );
    assert_eq!(
        driver.error_counts(),
        counts(|c| &mut c.deserialization, 1, 1)
    );
}

#[test]
fn log_and_fail_writes_no_dead_letter_and_stops() {
    let config = DriverConfig::new().with_dead_letter_topic(DLQ);
    let driver = TopologyTestDriver::new(copy_numbers(), config).unwrap();
    let mut bad = driver.create_input_topic("nums", Serdes::string(), Serdes::string());
    let err = bad.pipe_input("garbage".to_string()).unwrap_err();
    assert!(matches!(err, Error::Deserialization { .. }), "{err:?}");
    assert!(dead_letters(&driver).is_empty());
}

/// Fails on negative values; forwards the others.
struct RefuseNegative;

impl Processor<String, i64, String, i64> for RefuseNegative {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, i64>,
        record: Record<String, i64>,
    ) -> Result<()> {
        if record.value.is_some_and(|v| v < 0) {
            return Err(Error::Processor {
                node: "refuse".into(),
                message: "negative amount".into(),
            });
        }
        ctx.forward(record)
    }
}

fn refusing() -> Topology {
    let mut b = TopologyBuilder::new();
    b.add_source(
        "in",
        ["nums"],
        Consumed::with(Serdes::string(), Serdes::i64()),
    )
    .add_processor("refuse", || RefuseNegative, &["in"])
    .add_sink(
        "out",
        "copied",
        Produced::with(Serdes::string(), Serdes::i64()),
        &["refuse"],
    );
    b.build().unwrap()
}

#[test]
fn a_processor_error_goes_to_the_processing_handler_and_the_dead_letter_topic() {
    let config = DriverConfig::new()
        .with_processing_handler(LogAndContinue)
        .with_dead_letter_topic(DLQ);
    let driver = TopologyTestDriver::new(refusing(), config).unwrap();
    let mut input = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("copied", Serdes::string(), Serdes::i64());
    input.pipe_key_value_at("a".into(), 1, 1).unwrap();
    input.pipe_key_value_at("b".into(), -5, 2).unwrap();
    input.pipe_key_value_at("c".into(), 3, 3).unwrap();

    assert_eq!(out.read_values_to_list().unwrap(), vec![1, 3]);
    let dlq = dead_letters(&driver);
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].key.as_deref(), Some(&b"b"[..]));
    assert_eq!(dlq[0].value.as_deref(), Some(&(-5i64).to_be_bytes()[..]));
    assert_eq!(dlq[0].timestamp, 2);
    check_error_headers(&dlq[0], "nums", 1, "Processor", "negative amount");
    assert_eq!(
        driver.committed_offsets(),
        vec![(TopicPartition::new("nums", 0), 3)]
    );
    assert_eq!(driver.error_counts(), counts(|c| &mut c.processing, 1, 1));
}

#[test]
fn processing_fail_names_the_node_and_the_record() {
    let driver = TopologyTestDriver::with_defaults(refusing());
    let mut input = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    input.pipe_key_value("a".into(), 1).unwrap();
    let err = input.pipe_key_value("b".into(), -1).unwrap_err();
    assert!(matches!(err, Error::RecordFailed { .. }), "{err:?}");
    let text = err.to_string();
    for needle in [
        "processor 'refuse'",
        "record nums-0 offset 1",
        "negative amount",
    ] {
        assert!(text.contains(needle), "'{text}' lacks {needle}");
    }
}

/// `nums` -> map_values that panics on 0 -> `copied`.
fn panicking() -> Topology {
    let b = StreamsBuilder::new();
    b.stream("nums", Consumed::with(Serdes::string(), Serdes::i64()))
        .map_values(|v: i64| {
            assert!(v != 0, "division by zero");
            100 / v
        })
        .to("copied", Produced::with(Serdes::string(), Serdes::i64()));
    b.build().unwrap()
}

#[test]
fn a_panicking_closure_is_caught_and_handled_like_an_error() {
    let config = DriverConfig::new()
        .with_processing_handler(LogAndContinue)
        .with_dead_letter_topic(DLQ);
    let driver = TopologyTestDriver::new(panicking(), config).unwrap();
    let mut input = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("copied", Serdes::string(), Serdes::i64());
    input.pipe_value_list([4, 0, 5]).unwrap();
    assert_eq!(out.read_values_to_list().unwrap(), vec![25, 20]);
    let dlq = dead_letters(&driver);
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].value.as_deref(), Some(&0i64.to_be_bytes()[..]));
    check_error_headers(&dlq[0], "nums", 1, "Panic", "division by zero");
    assert_eq!(driver.error_counts(), counts(|c| &mut c.processing, 1, 1));
}

#[test]
fn a_panic_with_log_and_fail_stops_with_an_error_naming_the_node() {
    let driver = TopologyTestDriver::with_defaults(panicking());
    let mut input = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let err = input.pipe_value_list([4, 0]).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::RecordFailed { .. }), "{err:?}");
    for needle in ["panicked: division by zero", "record nums-0 offset 1"] {
        assert!(text.contains(needle), "'{text}' lacks {needle}");
    }
}

/// Serializes i64 as 8 bytes, refusing 13.
struct Superstitious;

impl Serializer<i64> for Superstitious {
    fn serialize(&self, ctx: &mut SerializeContext<'_>, value: &i64) -> Result<Option<Vec<u8>>> {
        if *value == 13 {
            return Err(ctx.error("13 is unlucky"));
        }
        Ok(Some(value.to_be_bytes().to_vec()))
    }
}

impl weir_core::serde::Deserializer<i64> for Superstitious {
    fn deserialize(
        &self,
        ctx: &weir_core::serde::SerdeContext<'_>,
        bytes: Option<&[u8]>,
    ) -> Result<Option<i64>> {
        Serdes::i64().deserialize(ctx, bytes)
    }
}

fn superstitious_sink() -> Topology {
    let mut b = TopologyBuilder::new();
    b.add_source(
        "in",
        ["nums"],
        Consumed::with(Serdes::string(), Serdes::i64()),
    )
    .add_sink(
        "out",
        "copied",
        Produced::with(Serdes::string(), std::sync::Arc::new(Superstitious)),
        &["in"],
    );
    b.build().unwrap()
}

#[test]
fn a_sink_serialization_failure_goes_to_the_production_handler() {
    let config = DriverConfig::new()
        .with_production_handler(LogAndContinue)
        .with_dead_letter_topic(DLQ);
    let driver = TopologyTestDriver::new(superstitious_sink(), config).unwrap();
    let mut input = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("copied", Serdes::string(), Serdes::i64());
    input.pipe_value_list([12, 13, 14]).unwrap();
    assert_eq!(out.read_values_to_list().unwrap(), vec![12, 14]);
    let dlq = dead_letters(&driver);
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].value.as_deref(), Some(&13i64.to_be_bytes()[..]));
    check_error_headers(&dlq[0], "nums", 1, "Serialization", "13 is unlucky");
    assert_eq!(driver.error_counts(), counts(|c| &mut c.production, 1, 1));

    // The default production handler fails, naming the sink.
    let driver = TopologyTestDriver::with_defaults(superstitious_sink());
    let mut input = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let err = input.pipe_value_list([12, 13]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("production of record nums-0 offset 1 failed at processor 'out'"),
        "{text}"
    );
}

#[test]
fn without_a_dead_letter_topic_continue_only_skips() {
    let config = DriverConfig::new().with_processing_handler(LogAndContinue);
    let driver = TopologyTestDriver::new(refusing(), config).unwrap();
    let mut input = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("copied", Serdes::string(), Serdes::i64());
    input.pipe_value_list([-1, 2]).unwrap();
    assert_eq!(out.read_values_to_list().unwrap(), vec![2]);
    assert_eq!(driver.output_topics(), vec!["copied".to_string()]);
    assert_eq!(driver.error_counts(), counts(|c| &mut c.processing, 1, 0));
}

/// A wall-clock punctuator that fails every time it runs.
struct FailingPunctuator;

impl Processor<String, i64, String, i64> for FailingPunctuator {
    fn init(&mut self, ctx: &mut dyn ProcessorContext<String, i64>) -> Result<()> {
        ctx.schedule(
            std::time::Duration::from_secs(1),
            PunctuationType::WallClockTime,
        )?;
        Ok(())
    }

    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, i64>,
        record: Record<String, i64>,
    ) -> Result<()> {
        ctx.forward(record)
    }

    fn punctuate(
        &mut self,
        _: &mut dyn ProcessorContext<String, i64>,
        _: Punctuation,
    ) -> Result<()> {
        Err(Error::Processor {
            node: "tick".into(),
            message: "tick failed".into(),
        })
    }
}

#[test]
fn a_failing_punctuator_goes_to_the_processing_handler_without_a_dead_letter() {
    let mut b = TopologyBuilder::new();
    b.add_source(
        "in",
        ["nums"],
        Consumed::with(Serdes::string(), Serdes::i64()),
    )
    .add_processor("tick", || FailingPunctuator, &["in"])
    .add_sink(
        "out",
        "copied",
        Produced::with(Serdes::string(), Serdes::i64()),
        &["tick"],
    );
    let topology = b.build().unwrap();
    let config = DriverConfig::new()
        .with_processing_handler(LogAndContinue)
        .with_dead_letter_topic(DLQ);
    let driver = TopologyTestDriver::new(topology, config).unwrap();
    let mut input = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("copied", Serdes::string(), Serdes::i64());
    input.pipe_input(1).unwrap();
    driver
        .advance_wall_clock_time(std::time::Duration::from_secs(2))
        .unwrap();
    input.pipe_input(2).unwrap();
    assert_eq!(out.read_values_to_list().unwrap(), vec![1, 2]);
    // A punctuation has no source record: nothing to dead-letter.
    assert!(dead_letters(&driver).is_empty());
    assert_eq!(driver.error_counts(), counts(|c| &mut c.processing, 1, 0));

    // With log and fail the punctuation's failure stops the task.
    let mut b = TopologyBuilder::new();
    b.add_source(
        "in",
        ["nums"],
        Consumed::with(Serdes::string(), Serdes::i64()),
    )
    .add_processor("tick", || FailingPunctuator, &["in"]);
    let driver = TopologyTestDriver::with_defaults(b.build().unwrap());
    let mut input = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    input.pipe_input(1).unwrap();
    let err = driver
        .advance_wall_clock_time(std::time::Duration::from_secs(2))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("of a punctuation failed at processor 'tick'"),
        "{err}"
    );
}

#[test]
fn under_exactly_once_the_dead_letter_record_commits_with_the_skipped_offset() {
    let config = DriverConfig::new()
        .with_exactly_once(true)
        .with_deserialization_handler(LogAndContinue)
        .with_dead_letter_topic(DLQ);
    let driver = TopologyTestDriver::new(copy_numbers(), config).unwrap();
    let mut good = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let mut bad = driver.create_input_topic("nums", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("copied", Serdes::string(), Serdes::i64());
    good.pipe_input(1).unwrap();
    bad.pipe_input("garbage".to_string()).unwrap();
    good.pipe_input(3).unwrap();
    assert_eq!(out.read_values_to_list().unwrap(), vec![1, 3]);
    let dlq = dead_letters(&driver);
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].value.as_deref(), Some(&b"garbage"[..]));
    assert_eq!(
        driver.committed_offsets(),
        vec![(TopicPartition::new("nums", 0), 3)]
    );
}

/// Reads i64 as 8 bytes, panicking on anything else (a careless deserializer).
struct Careless;

impl weir_core::serde::Serializer<i64> for Careless {
    fn serialize(&self, _: &mut SerializeContext<'_>, value: &i64) -> Result<Option<Vec<u8>>> {
        Ok(Some(value.to_be_bytes().to_vec()))
    }
}

impl weir_core::serde::Deserializer<i64> for Careless {
    fn deserialize(
        &self,
        _: &weir_core::serde::SerdeContext<'_>,
        bytes: Option<&[u8]>,
    ) -> Result<Option<i64>> {
        Ok(bytes.map(|b| i64::from_be_bytes(b.try_into().expect("8 bytes"))))
    }
}

#[test]
fn a_panicking_deserializer_goes_to_the_deserialization_handler() {
    let mut b = TopologyBuilder::new();
    b.add_source(
        "in",
        ["nums"],
        Consumed::with(Serdes::string(), std::sync::Arc::new(Careless)),
    )
    .add_sink(
        "out",
        "copied",
        Produced::with(Serdes::string(), Serdes::i64()),
        &["in"],
    );
    let config = DriverConfig::new()
        .with_deserialization_handler(LogAndContinue)
        .with_dead_letter_topic(DLQ);
    let driver = TopologyTestDriver::new(b.build().unwrap(), config).unwrap();
    let mut good = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let mut bad = driver.create_input_topic("nums", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("copied", Serdes::string(), Serdes::i64());
    good.pipe_input(1).unwrap();
    bad.pipe_input("short".to_string()).unwrap();
    good.pipe_input(3).unwrap();
    assert_eq!(out.read_values_to_list().unwrap(), vec![1, 3]);
    let dlq = dead_letters(&driver);
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].value.as_deref(), Some(&b"short"[..]));
    check_error_headers(&dlq[0], "nums", 1, "Deserialization", "panicked: 8 bytes");
}

#[test]
fn under_exactly_once_a_crash_before_the_commit_dead_letters_the_record_once() {
    for point in [CrashPoint::BeforeFlush, CrashPoint::AfterSend] {
        let config = DriverConfig::new()
            .with_exactly_once(true)
            .with_deserialization_handler(LogAndContinue)
            .with_dead_letter_topic(DLQ);
        let driver = TopologyTestDriver::new(copy_numbers(), config).unwrap();
        let mut good = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
        let mut bad = driver.create_input_topic("nums", Serdes::string(), Serdes::string());
        let out = driver.create_output_topic("copied", Serdes::string(), Serdes::i64());
        good.pipe_input(1).unwrap();
        driver.crash_at_next_commit(point);
        bad.pipe_input("garbage".to_string()).unwrap_err();
        // The aborted transaction's dead-letter record is never visible.
        assert!(dead_letters(&driver).is_empty(), "{point:?}");
        driver.restart().unwrap();
        good.pipe_input(3).unwrap();
        assert_eq!(out.read_values_to_list().unwrap(), vec![1, 3], "{point:?}");
        let dlq = dead_letters(&driver);
        assert_eq!(dlq.len(), 1, "{point:?}");
        assert_eq!(dlq[0].value.as_deref(), Some(&b"garbage"[..]));
        check_error_headers(&dlq[0], "nums", 1, "Deserialization", "cannot deserialize");
    }
}
