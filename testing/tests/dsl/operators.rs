//! The per-record operators: each one piped with real input, exact output asserted.

use super::*;

/// `numbers` (String -> i64) through `op` into `out`.
fn numbers_through<KR: weir_core::processor::Data, VR: weir_core::processor::Data>(
    op: impl FnOnce(KStream<String, i64>) -> KStream<KR, VR>,
    produced: Produced<KR, VR>,
) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    op(builder.stream("numbers", string_i64())).to("out", produced);
    drive(builder)
}

#[test]
fn filter_keeps_the_records_whose_key_and_value_satisfy_the_predicate() {
    let keys = seen();
    let k = keys.clone();
    let driver = numbers_through(
        move |st| {
            st.filter(move |key, v| {
                k.lock().unwrap().push(key.cloned());
                *v % 2 == 0
            })
        },
        to_string_i64(),
    );
    let mut input = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    input
        .pipe_records([
            (0, rec("a", 1, 10)),
            (0, rec("b", 2, 20)),
            (0, unkeyed(4, 30)),
            (0, rec("c", 5, 40)),
            (0, rec("d", 6, 50)),
        ])
        .unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![rec("b", 2, 20), unkeyed(4, 30), rec("d", 6, 50)]
    );
    // The predicate saw every key, a missing one as None.
    assert_eq!(
        taken(&keys),
        vec![Some(s("a")), Some(s("b")), None, Some(s("c")), Some(s("d"))]
    );
}

#[test]
fn filter_not_drops_the_records_that_satisfy_the_predicate() {
    let driver = numbers_through(
        |st| st.filter_not(|k, v| k.is_some_and(|k| k == "skip") || *v < 0),
        to_string_i64(),
    );
    let mut input = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    input.pipe_record(rec("a", -1, 1)).unwrap();
    input.pipe_record(rec("skip", 7, 2)).unwrap();
    input.pipe_record(rec("b", 3, 3)).unwrap();
    input.pipe_record(unkeyed(0, 4)).unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![rec("b", 3, 3), unkeyed(0, 4)]
    );
}

#[test]
fn map_changes_key_and_value_types_and_keeps_timestamp_and_headers() {
    let builder = StreamsBuilder::new();
    builder
        .stream("numbers", string_i64())
        .map(|k, v| (v, format!("{}={v}", k.unwrap_or_else(|| s("?")))))
        .to("out", Produced::with(Serdes::i64(), Serdes::string()));
    let driver = drive(builder);
    let mut input = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("out", Serdes::i64(), Serdes::string());
    let mut headers = Headers::new();
    headers.add("trace", Some(b"t1".to_vec()));
    input
        .pipe_record(rec("a", 1, 100).with_headers(headers.clone()))
        .unwrap();
    input.pipe_record(unkeyed(2, 50)).unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![
            Record::new(1, s("a=1"), 100).with_headers(headers),
            Record::new(2, s("?=2"), 50),
        ]
    );
}

#[test]
fn map_values_maps_each_value_and_keeps_the_key() {
    let driver = numbers_through(|st| st.map_values(|v| v * 10), to_string_i64());
    let mut input = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    input
        .pipe_records([(0, rec("a", 1, 5)), (0, unkeyed(2, 6)), (0, rec("a", 3, 7))])
        .unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![rec("a", 10, 5), unkeyed(20, 6), rec("a", 30, 7)]
    );
}

#[test]
fn map_values_with_key_sees_the_key_and_keeps_it() {
    let builder = StreamsBuilder::new();
    builder
        .stream("numbers", string_i64())
        .map_values_with_key(|k, v| format!("{}:{v}", k.map_or("-", |k| k.as_str())))
        .to("out", to_strings());
    let driver = drive(builder);
    let mut input = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    input.pipe_record(rec("x", 1, 1)).unwrap();
    input.pipe_record(unkeyed(2, 2)).unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![rec("x", s("x:1"), 1), unkeyed(s("-:2"), 2)]
    );
}

#[test]
fn flat_map_emits_zero_or_more_records_in_order_with_the_input_timestamp() {
    let builder = StreamsBuilder::new();
    builder
        .stream("lines", strings())
        .flat_map(|_k, line: String| {
            line.split_whitespace()
                .map(|w| (w.to_string(), w.len() as i64))
                .collect::<Vec<_>>()
        })
        .to("out", to_string_i64());
    let driver = drive(builder);
    let mut input = driver.create_input_topic("lines", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    input.pipe_record(rec("l1", s("to be or"), 10)).unwrap();
    input.pipe_record(rec("l2", s("   "), 20)).unwrap(); // no words: nothing
    input.pipe_record(unkeyed(s("weir"), 30)).unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![
            rec("to", 2, 10),
            rec("be", 2, 10),
            rec("or", 2, 10),
            rec("weir", 4, 30),
        ]
    );
}

#[test]
fn flat_map_values_emits_each_value_under_the_input_key() {
    let builder = StreamsBuilder::new();
    builder
        .stream("lines", strings())
        .flat_map_values(|line: String| {
            line.split(',')
                .map(|p| p.trim().to_uppercase())
                .collect::<Vec<_>>()
        })
        .to("out", to_strings());
    let driver = drive(builder);
    let mut input = driver.create_input_topic("lines", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    input.pipe_record(rec("k", s("a, b,c"), 7)).unwrap();
    input.pipe_record(unkeyed(s("z"), 8)).unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![
            rec("k", s("A"), 7),
            rec("k", s("B"), 7),
            rec("k", s("C"), 7),
            unkeyed(s("Z"), 8),
        ]
    );
}

#[test]
fn select_key_sets_a_new_key_from_key_and_value() {
    let builder = StreamsBuilder::new();
    builder
        .stream("numbers", string_i64())
        .select_key(|k, v| format!("{}{v}", k.map_or("none", |k| k.as_str())).len() as i64)
        .to("out", Produced::with(Serdes::i64(), Serdes::i64()));
    let driver = drive(builder);
    let mut input = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("out", Serdes::i64(), Serdes::i64());
    input.pipe_record(rec("ab", 100, 1)).unwrap();
    input.pipe_record(unkeyed(7, 2)).unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![Record::new(5, 100, 1), Record::new(5, 7, 2)]
    );
}

#[test]
fn peek_calls_the_action_and_forwards_every_record_unchanged() {
    let peeked = seen();
    let p = peeked.clone();
    let driver = numbers_through(
        move |st| st.peek(move |k, v| p.lock().unwrap().push((k.cloned(), *v))),
        to_string_i64(),
    );
    let mut input = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::i64());
    input.pipe_record(rec("a", 1, 10)).unwrap();
    input.pipe_record(unkeyed(2, 20)).unwrap();
    assert_eq!(taken(&peeked), vec![(Some(s("a")), 1), (None, 2)]);
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![rec("a", 1, 10), unkeyed(2, 20)]
    );
}

#[test]
fn foreach_calls_the_action_and_forwards_nothing() {
    let calls = seen();
    let c = calls.clone();
    let builder = StreamsBuilder::new();
    let terminal = builder
        .stream("numbers", string_i64())
        .foreach(move |k, v| c.lock().unwrap().push((k.cloned(), *v)));
    assert_eq!(terminal.node_name(), "KSTREAM-FOREACH-0000000001");
    let topology = builder.build().unwrap();
    assert_eq!(
        topology.describe().to_string(),
        "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [numbers])
      --> KSTREAM-FOREACH-0000000001
    Processor: KSTREAM-FOREACH-0000000001 (stores: [])
      --> none
      <-- KSTREAM-SOURCE-0000000000

"
    );
    let driver = TopologyTestDriver::with_defaults(topology);
    let mut input = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    input.pipe_record(rec("a", 1, 10)).unwrap();
    input.pipe_record(rec("b", 2, 20)).unwrap();
    input.pipe_record(unkeyed(3, 30)).unwrap();
    assert_eq!(
        taken(&calls),
        vec![(Some(s("a")), 1), (Some(s("b")), 2), (None, 3)]
    );
    assert!(driver.producer_records().is_empty());
    assert!(driver.output_topics().is_empty());
}

#[test]
fn merge_interleaves_two_topics_as_records_arrive() {
    let builder = StreamsBuilder::new();
    let left = builder.stream("left", strings());
    let right = builder
        .stream("right", strings())
        .map_values(|v| v.to_uppercase());
    left.merge(&right).to("out", to_strings());
    let topology = builder.build().unwrap();
    // Both inputs feed one node, hence one sub-topology.
    assert_eq!(topology.subtopologies().len(), 1);
    let driver = TopologyTestDriver::with_defaults(topology);
    let mut l = driver.create_input_topic("left", Serdes::string(), Serdes::string());
    let mut r = driver.create_input_topic("right", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    l.pipe_record(rec("l", s("one"), 1)).unwrap();
    r.pipe_record(rec("r", s("two"), 2)).unwrap();
    r.pipe_record(rec("r", s("three"), 3)).unwrap();
    l.pipe_record(rec("l", s("four"), 4)).unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![
            rec("l", s("one"), 1),
            rec("r", s("TWO"), 2),
            rec("r", s("THREE"), 3),
            rec("l", s("four"), 4),
        ]
    );
}

#[test]
fn a_stream_feeding_several_operators_sends_each_record_to_all_of_them() {
    let builder = StreamsBuilder::new();
    let input = builder.stream("numbers", string_i64());
    input.map_values(|v| v + 1).to("plus", to_string_i64());
    input
        .clone()
        .map_values(|v| v * 2)
        .to("times", to_string_i64());
    let driver = drive(builder);
    let mut numbers = driver.create_input_topic("numbers", Serdes::string(), Serdes::i64());
    let plus = driver.create_output_topic("plus", Serdes::string(), Serdes::i64());
    let times = driver.create_output_topic("times", Serdes::string(), Serdes::i64());
    numbers
        .pipe_key_value_list([(s("a"), 5), (s("b"), 6)])
        .unwrap();
    assert_eq!(
        plus.read_key_values_to_list().unwrap(),
        vec![KeyValue::new(s("a"), 6), KeyValue::new(s("b"), 7)]
    );
    assert_eq!(
        times.read_key_values_to_list().unwrap(),
        vec![KeyValue::new(s("a"), 10), KeyValue::new(s("b"), 12)]
    );
}
