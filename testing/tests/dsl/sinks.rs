//! Where streams go: `to` with a partitioner, `to_dynamic`, `repartition`.

use super::*;

/// (partition, key, value) of every record sent to `topic`, in send order.
fn sent_to(driver: &TopologyTestDriver, topic: &str) -> Vec<(i32, String, i64)> {
    driver
        .producer_records()
        .into_iter()
        .filter(|r| r.topic == topic)
        .map(|r| {
            let key = String::from_utf8(r.key.unwrap()).unwrap();
            let value = i64::from_be_bytes(r.value.unwrap().try_into().unwrap());
            (r.partition, key, value)
        })
        .collect()
}

#[test]
fn to_with_a_partitioner_puts_each_record_in_the_partition_it_picks() {
    let builder = StreamsBuilder::new();
    let input = builder.stream("numbers", string_i64());
    input.to(
        "by-value",
        to_string_i64().with_partitioner(
            |topic: &str, _k: Option<&String>, v: Option<&i64>, n: i32| {
                assert_eq!(topic, "by-value");
                // Negative values: let the producer decide.
                v.filter(|v| **v >= 0).map(|v| (*v % i64::from(n)) as i32)
            },
        ),
    );
    input.to("plain", to_string_i64());
    let config = DriverConfig::new()
        .with_topic_partitions("by-value", 4)
        .with_topic_partitions("plain", 3);
    let driver = TopologyTestDriver::new(builder.build().unwrap(), config).unwrap();
    let mut numbers = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    numbers
        .pipe_key_value_list([(s("a"), 5), (s("b"), 2), (s("c"), 7), (s("d"), -1)])
        .unwrap();
    let d_partition = default_partition(Some(b"d"), 4);
    assert_eq!(
        sent_to(&driver, "by-value"),
        vec![
            (1, s("a"), 5),
            (2, s("b"), 2),
            (3, s("c"), 7),
            (d_partition, s("d"), -1),
        ]
    );
    // Without a partitioner, the default partitioner: murmur2 of the key bytes.
    let plain: Vec<(i32, String, i64)> = ["a", "b", "c", "d"]
        .iter()
        .zip([5, 2, 7, -1])
        .map(|(k, v)| (default_partition(Some(k.as_bytes()), 3), s(k), v))
        .collect();
    assert_eq!(sent_to(&driver, "plain"), plain);
    // Offsets count per partition.
    let offsets: Vec<(i32, i64)> = driver
        .producer_records()
        .iter()
        .filter(|r| r.topic == "by-value")
        .map(|r| (r.partition, r.offset))
        .collect();
    assert_eq!(offsets[..3], [(1, 0), (2, 0), (3, 0)]);
}

#[test]
fn a_partitioner_picking_a_missing_partition_fails_the_pipe() {
    let builder = StreamsBuilder::new();
    builder.stream("numbers", string_i64()).to(
        "out",
        to_string_i64()
            .with_partitioner(|_: &str, _: Option<&String>, _: Option<&i64>, n: i32| Some(n)),
    );
    let driver = drive(builder);
    let mut numbers = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    let err = numbers.pipe_key_value(s("a"), 1).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("partition 1 does not exist"), "{text}");
    assert!(driver.producer_records().is_empty());
}

#[test]
fn to_dynamic_writes_each_record_to_the_topic_its_extractor_picks() {
    let builder = StreamsBuilder::new();
    let terminal = builder.stream("numbers", string_i64()).to_dynamic(
        |k: Option<&String>, v: Option<&i64>, m: Option<&weir_core::RecordMetadata>| {
            let from = m.map_or("?", |m| m.topic.as_str());
            match (k, v) {
                (_, None) => format!("{from}-deleted"),
                (Some(k), Some(_)) => format!("{from}-{k}"),
                (None, Some(_)) => format!("{from}-unkeyed"),
            }
        },
        to_string_i64(),
    );
    assert_eq!(terminal.node_name(), "KSTREAM-SINK-0000000001");
    let topology = builder.build().unwrap();
    assert!(
        topology
            .describe()
            .to_string()
            .contains("    Sink: KSTREAM-SINK-0000000001 (topic extractor)\n"),
        "{}",
        topology.describe()
    );
    let driver = TopologyTestDriver::with_defaults(topology);
    let mut numbers = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    numbers.pipe_record(rec("x", 1, 10)).unwrap();
    numbers.pipe_record(rec("y", 2, 20)).unwrap();
    numbers.pipe_record(rec("x", 3, 30)).unwrap();
    numbers.pipe_record(unkeyed(4, 40)).unwrap();
    numbers.pipe_record(tombstone("y", 50)).unwrap();
    assert_eq!(
        driver.output_topics(),
        vec![
            s("numbers-deleted"),
            s("numbers-unkeyed"),
            s("numbers-x"),
            s("numbers-y")
        ]
    );
    let read = |topic| {
        driver
            .create_output_topic(topic, Serdes::string(), Serdes::i64())
            .read_records_to_list()
            .unwrap()
    };
    assert_eq!(read("numbers-x"), vec![rec("x", 1, 10), rec("x", 3, 30)]);
    assert_eq!(read("numbers-y"), vec![rec("y", 2, 20)]);
    assert_eq!(read("numbers-unkeyed"), vec![unkeyed(4, 40)]);
    assert_eq!(read("numbers-deleted"), vec![tombstone("y", 50)]);
}

/// `words` -> select_key(word) -> repartition `by-word` (3 partitions) ->
/// map_values(len) -> `lengths`.
fn by_word() -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream("words", strings())
        .select_key(|_k, w| w.clone())
        .repartition(
            Repartitioned::as_("by-word", Serdes::string(), Serdes::string()).with_partitions(3),
        )
        .map_values(|w| w.len() as i64)
        .to("lengths", to_string_i64());
    builder.build().unwrap()
}

#[test]
fn repartition_describes_a_second_subtopology_reading_the_internal_topic() {
    let topology = by_word();
    assert_eq!(
        topology.describe().to_string(),
        "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [words])
      --> KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])
      --> by-word-repartition-filter
      <-- KSTREAM-SOURCE-0000000000
    Processor: by-word-repartition-filter (stores: [])
      --> by-word-repartition-sink
      <-- KSTREAM-KEY-SELECT-0000000001
    Sink: by-word-repartition-sink (topic: by-word-repartition)
      <-- by-word-repartition-filter

   Sub-topology: 1
    Source: by-word-repartition-source (topics: [by-word-repartition])
      --> KSTREAM-MAPVALUES-0000000002
    Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])
      --> KSTREAM-SINK-0000000003
      <-- by-word-repartition-source
    Sink: KSTREAM-SINK-0000000003 (topic: lengths)
      <-- KSTREAM-MAPVALUES-0000000002

"
    );
    let internal = topology.internal_topics();
    assert_eq!(internal.len(), 1);
    assert_eq!(internal[0].topic.name(), "by-word-repartition");
    assert!(internal[0].topic.is_internal());
    assert_eq!(internal[0].partitions, Some(3));
    assert_eq!(
        topology.source_topics("dsl-app"),
        vec![s("words"), s("dsl-app-by-word-repartition")]
    );
}

#[test]
fn repartition_routes_records_through_the_internal_topic_by_their_new_key() {
    let config = DriverConfig::new().with_application_id("dsl-app");
    let driver = TopologyTestDriver::new(by_word(), config).unwrap();
    let topic = "dsl-app-by-word-repartition";
    assert_eq!(driver.application_id(), "dsl-app");
    assert_eq!(driver.partition_count(topic), 3);

    let mut words = driver.create_input_topic("words", Serdes::string(), Serdes::string());
    let lengths = driver.create_output_topic("lengths", Serdes::string(), Serdes::i64());
    let words_list = ["kafka", "weir", "streams", "kafka"];
    for (i, w) in words_list.iter().enumerate() {
        words.pipe_record(unkeyed(s(w), 100 + i as i64)).unwrap();
    }
    assert_eq!(
        lengths.read_records_to_list().unwrap(),
        vec![
            rec("kafka", 5, 100),
            rec("weir", 4, 101),
            rec("streams", 7, 102),
            rec("kafka", 5, 103),
        ]
    );
    assert_eq!(driver.output_topics(), vec![s(topic), s("lengths")]);

    // The repartition topic holds the re-keyed records, each in the partition
    // of its new key.
    let through: Vec<(String, i32, Option<Vec<u8>>, i64)> = driver
        .producer_records()
        .into_iter()
        .filter(|r| r.topic == topic)
        .map(|r| (r.topic, r.partition, r.key, r.timestamp))
        .collect();
    let expected: Vec<(String, i32, Option<Vec<u8>>, i64)> = words_list
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let p = default_partition(Some(w.as_bytes()), 3);
            (s(topic), p, Some(w.as_bytes().to_vec()), 100 + i as i64)
        })
        .collect();
    assert_eq!(through, expected);
    let repartition = driver.create_output_topic(topic, Serdes::string(), Serdes::string());
    assert_eq!(
        repartition.read_key_values_to_list().unwrap(),
        words_list
            .iter()
            .map(|w| KeyValue::new(s(w), s(w)))
            .collect::<Vec<_>>()
    );

    // Sub-topology 1 runs one task per partition that got a record.
    let mut expected_tasks = vec![TaskId::new(0, 0)];
    let mut parts: Vec<i32> = words_list
        .iter()
        .map(|w| default_partition(Some(w.as_bytes()), 3))
        .collect();
    parts.sort();
    parts.dedup();
    expected_tasks.extend(parts.into_iter().map(|p| TaskId::new(1, p)));
    assert_eq!(driver.task_ids(), expected_tasks);
}

#[test]
fn repartition_without_a_count_over_a_one_partition_input_has_one_partition() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .repartition(Repartitioned::as_(
            "again",
            Serdes::string(),
            Serdes::string(),
        ))
        .to("out", to_strings());
    let topology = builder.build().unwrap();
    assert_eq!(topology.internal_topics()[0].partitions, None);
    assert_eq!(topology.subtopologies().len(), 2);
    let driver = TopologyTestDriver::with_defaults(topology);
    let mut input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    input.pipe_record(rec("k", s("v"), 9)).unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![rec("k", s("v"), 9)]
    );
    assert_eq!(driver.partition_count("test-app-again-repartition"), 1);
    assert_eq!(
        driver.output_topics(),
        vec![s("out"), s("test-app-again-repartition")]
    );
}

/// `in` -> repartition `first` -> repartition `second` -> `out`, no counts given.
fn two_repartitions() -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .repartition(Repartitioned::as_(
            "first",
            Serdes::string(),
            Serdes::string(),
        ))
        .map_values(|v| v.to_uppercase())
        .repartition(Repartitioned::as_(
            "second",
            Serdes::string(),
            Serdes::string(),
        ))
        .to("out", to_strings());
    builder.build().unwrap()
}

#[test]
fn repartition_without_a_count_gets_as_many_partitions_as_its_upstream_input() {
    let config = DriverConfig::new().with_topic_partitions("in", 4);
    let driver = TopologyTestDriver::new(two_repartitions(), config).unwrap();
    assert_eq!(driver.partition_count("test-app-first-repartition"), 4);
    assert_eq!(driver.partition_count("test-app-second-repartition"), 4);
    let mut input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    input.pipe_record(rec("key", s("v"), 1)).unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![rec("key", s("V"), 1)]
    );
    let p = default_partition(Some(b"key"), 4);
    let internal: Vec<(String, i32)> = driver
        .producer_records()
        .into_iter()
        .filter(|r| r.topic != "out")
        .map(|r| (r.topic, r.partition))
        .collect();
    assert_eq!(
        internal,
        vec![
            (s("test-app-first-repartition"), p),
            (s("test-app-second-repartition"), p)
        ]
    );

    // A count of the driver's own for the first topic carries downstream.
    let config = DriverConfig::new()
        .with_topic_partitions("in", 4)
        .with_topic_partitions("test-app-first-repartition", 2);
    let driver = TopologyTestDriver::new(two_repartitions(), config).unwrap();
    assert_eq!(driver.partition_count("test-app-first-repartition"), 2);
    assert_eq!(driver.partition_count("test-app-second-repartition"), 2);
}
