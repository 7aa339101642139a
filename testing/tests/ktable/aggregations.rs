//! Grouped streams: group_by_key and group_by (through a named repartition
//! topic) with count, reduce and aggregate; describe() of a count.

use super::*;

/// `words` (key: word) -> group_by_key -> count in `counts` -> `word-counts`.
fn word_count() -> StreamsBuilder {
    let builder = StreamsBuilder::new();
    builder
        .stream("words", strings())
        .group_by_key()
        .count(store_i64("counts"))
        .to_stream()
        .to("word-counts", to_string_i64());
    builder
}

#[test]
fn count_describes_its_store() {
    let topology = word_count().build().unwrap();
    assert_eq!(
        topology.describe().to_string(),
        "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [words])
      --> KSTREAM-AGGREGATE-0000000001
    Processor: KSTREAM-AGGREGATE-0000000001 (stores: [counts])
      --> KTABLE-TOSTREAM-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KTABLE-TOSTREAM-0000000002 (stores: [])
      --> KSTREAM-SINK-0000000003
      <-- KSTREAM-AGGREGATE-0000000001
    Sink: KSTREAM-SINK-0000000003 (topic: word-counts)
      <-- KTABLE-TOSTREAM-0000000002

"
    );
    assert!(topology.internal_topics().is_empty());
}

#[test]
fn group_by_key_counts_each_key_and_ignores_null_keys_and_values() {
    let driver = drive(word_count());
    let mut words = input_strings(&driver, "words");
    let out = driver.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
    words.pipe_key_value(s("kafka"), s("x")).unwrap();
    words.pipe_key_value(s("weir"), s("x")).unwrap();
    words.pipe_key_value(s("kafka"), s("x")).unwrap();
    delete(&mut words, "kafka");
    words
        .pipe_record(Record::from_parts(None, Some(s("x")), 0, Headers::new()))
        .unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("kafka", 1), kv("weir", 1), kv("kafka", 2)]
    );
}

/// `visits` (user -> page) -> group_by(page) through `by-page` -> count.
fn page_views() -> StreamsBuilder {
    let builder = StreamsBuilder::new();
    builder
        .stream("visits", strings())
        .group_by(
            |_user, page| page.clone(),
            Grouped::as_("by-page", Serdes::string(), Serdes::string()),
        )
        .count(store_i64("page-views"))
        .to("page-counts", to_string_i64());
    builder
}

#[test]
fn group_by_repartitions_through_the_named_topic_and_counts_by_the_new_key() {
    let topology = page_views().build().unwrap();
    let internal = topology.internal_topics();
    assert_eq!(internal.len(), 1);
    assert_eq!(internal[0].topic.name(), "by-page-repartition");
    assert_eq!(
        topology.source_topics(APP),
        vec![s("visits"), format!("{APP}-by-page-repartition")]
    );
    assert_eq!(topology.subtopologies().len(), 2);

    let driver = drive(page_views());
    let mut visits = input_strings(&driver, "visits");
    let out = driver.create_output_topic("page-counts", Serdes::string(), Serdes::i64());
    visits.pipe_key_value(s("alice"), s("/home")).unwrap();
    visits.pipe_key_value(s("bob"), s("/home")).unwrap();
    visits.pipe_key_value(s("alice"), s("/cart")).unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("/home", 1), kv("/home", 2), kv("/cart", 1)]
    );
    let through = driver.create_output_topic(
        &format!("{APP}-by-page-repartition"),
        Serdes::string(),
        Serdes::string(),
    );
    assert_eq!(
        through.read_key_values_to_list().unwrap(),
        vec![
            kv("/home", s("/home")),
            kv("/home", s("/home")),
            kv("/cart", s("/cart")),
        ]
    );
}

#[test]
fn reduce_folds_each_keys_values_starting_from_the_first() {
    let builder = StreamsBuilder::new();
    builder
        .stream("amounts", string_i64())
        .group_by_key()
        .reduce(|a, b| a.max(b), store_i64("max-amount"))
        .to("maxima", to_string_i64());
    let driver = drive(builder);
    let mut amounts = input_i64(&driver, "amounts");
    let out = driver.create_output_topic("maxima", Serdes::string(), Serdes::i64());
    for (k, v) in [("a", 5), ("b", -3), ("a", 2), ("a", 9), ("b", -1)] {
        amounts.pipe_key_value(s(k), v).unwrap();
    }
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("a", 5), kv("b", -3), kv("a", 5), kv("a", 9), kv("b", -1)]
    );
}

#[test]
fn aggregate_starts_from_the_initializer_and_sees_the_key() {
    let builder = StreamsBuilder::new();
    builder
        .stream("letters", strings())
        .group_by_key()
        .aggregate(
            || s("<"),
            |k, v, agg| format!("{agg}{}{v}", k.len()),
            store_strings("joined"),
        )
        .to("joined-out", to_strings());
    let driver = drive(builder);
    let mut letters = input_strings(&driver, "letters");
    let out = driver.create_output_topic("joined-out", Serdes::string(), Serdes::string());
    letters.pipe_key_value(s("ab"), s("x")).unwrap();
    letters.pipe_key_value(s("c"), s("y")).unwrap();
    letters.pipe_key_value(s("ab"), s("z")).unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("ab", s("<2x")), kv("c", s("<1y")), kv("ab", s("<2x2z"))]
    );
    let table: Vec<(String, String)> = out.read_key_values_to_map().unwrap().into_iter().collect();
    assert!(table.is_empty(), "everything was read already");
}

/// `(key, count, timestamp)` of each record in `out`.
fn stamped(out: &weir_testing::TestOutputTopic<String, i64>) -> Vec<(String, i64, i64)> {
    out.read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.key.unwrap(), r.value.unwrap(), r.timestamp))
        .collect()
}

#[test]
fn an_aggregate_update_carries_the_newest_timestamp_of_its_records() {
    // As Kafka Streams: max(record ts, the stored aggregate's ts), so an
    // out-of-order record does not move the aggregate's timestamp back.
    let driver = drive(word_count());
    let mut words = input_strings(&driver, "words");
    let out = driver.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
    words
        .pipe_records([
            at("a", s("x"), 20),
            at("a", s("x"), 10),
            at("b", s("x"), 5),
            at("a", s("x"), 30),
        ])
        .unwrap();
    assert_eq!(
        stamped(&out),
        [
            (s("a"), 1, 20),
            (s("a"), 2, 20),
            (s("b"), 1, 5),
            (s("a"), 3, 30)
        ]
    );
    // The store keeps the timestamp beside the count; the plain view drops it.
    let counts = driver.key_value_store::<String, i64>("counts").unwrap();
    assert_eq!(counts.get(&s("a")).unwrap(), Some(3));
    let timestamped = driver
        .timestamped_key_value_store::<String, i64>("counts")
        .unwrap();
    assert_eq!(
        timestamped.get(&s("b")).unwrap(),
        Some(weir_core::store::ValueAndTimestamp::new(1, 5))
    );
}
