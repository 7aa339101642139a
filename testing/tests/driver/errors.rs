//! Bad input: deserialization handlers and invalid-timestamp policies.

use super::*;

/// source `in` reading `nums` as <String, i64> -> sink `out` (topic `copied`).
fn numbers(policy: InvalidTimestampPolicy) -> Topology {
    let consumed =
        Consumed::with(Serdes::string(), Serdes::i64()).with_invalid_timestamp_policy(policy);
    let mut b = TopologyBuilder::new();
    b.add_source("in", ["nums"], consumed).add_sink(
        "out",
        "copied",
        Produced::with(Serdes::string(), Serdes::i64()),
        &["in"],
    );
    b.build().unwrap()
}

#[test]
fn log_and_fail_stops_with_an_error_naming_topic_partition_and_offset() {
    let driver = TopologyTestDriver::with_defaults(numbers(InvalidTimestampPolicy::Fail));
    let mut good = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let mut bad = driver.create_input_topic("nums", Serdes::string(), Serdes::string());
    good.pipe_input(1).unwrap();
    let err = bad.pipe_input("not eight bytes".to_string()).unwrap_err();
    assert!(
        matches!(err, Error::Deserialization { what: "value", .. }),
        "{err:?}"
    );
    let text = err.to_string();
    for needle in ["topic 'nums'", "partition 0", "offset 1"] {
        assert!(text.contains(needle), "'{text}' lacks {needle}");
    }
}

#[test]
fn log_and_continue_skips_bad_records_and_later_records_flow() {
    let config = DriverConfig::new().with_deserialization_handler(LogAndContinue);
    let driver = TopologyTestDriver::new(numbers(InvalidTimestampPolicy::Fail), config).unwrap();
    let mut good = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let mut bad = driver.create_input_topic("nums", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("copied", Serdes::string(), Serdes::i64());
    good.pipe_input(1).unwrap();
    bad.pipe_input("garbage".to_string()).unwrap();
    good.pipe_input(3).unwrap();
    assert_eq!(out.read_values_to_list().unwrap(), vec![1, 3]);
    assert_eq!(
        driver.committed_offsets(),
        vec![(TopicPartition::new("nums", 0), 3)]
    );
}

fn num(value: i64, ts: i64) -> Record<String, i64> {
    Record::new("k".to_string(), value, ts)
}

#[test]
fn invalid_timestamps_follow_the_source_policy() {
    // Fail: the error names where the record sits.
    let driver = TopologyTestDriver::with_defaults(numbers(InvalidTimestampPolicy::Fail));
    let mut input = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let err = input.pipe_record(num(1, -1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid timestamp -1 in record at nums-0 offset 0"
    );

    // Log and skip: dropped, the next record flows.
    let driver = TopologyTestDriver::with_defaults(numbers(InvalidTimestampPolicy::LogAndSkip));
    let mut input = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("copied", Serdes::string(), Serdes::i64());
    input.pipe_record(num(1, -1)).unwrap();
    input.pipe_record(num(2, 7)).unwrap();
    assert_eq!(out.read_values_to_list().unwrap(), vec![2]);

    // Use partition time: fails while the partition has none, then takes it.
    let driver =
        TopologyTestDriver::with_defaults(numbers(InvalidTimestampPolicy::UsePartitionTime));
    let mut input = driver.create_input_topic("nums", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("copied", Serdes::string(), Serdes::i64());
    let err = input.pipe_record(num(1, -5)).unwrap_err();
    assert!(
        matches!(err, Error::InvalidTimestamp { offset: 0, .. }),
        "{err:?}"
    );
    input.pipe_record(num(2, 100)).unwrap();
    input.pipe_record(num(3, -1)).unwrap();
    let got: Vec<(i64, i64)> = out
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.value.unwrap(), r.timestamp))
        .collect();
    assert_eq!(got, vec![(2, 100), (3, 100)]);
}
