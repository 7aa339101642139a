//! Tables from topics and streams; filter, filter_not, map_values, to_stream.

use super::*;

#[test]
fn a_table_from_a_topic_upserts_and_tombstones_delete() {
    let builder = StreamsBuilder::new();
    let table = builder.table("users", strings(), store_strings("users-store"));
    assert_eq!(table.store_name(), Some("users-store"));
    table.to("users-out", to_strings());
    let driver = drive(builder);
    let mut users = input_strings(&driver, "users");
    let out = driver.create_output_topic("users-out", Serdes::string(), Serdes::string());

    users.pipe_key_value(s("alice"), s("a1")).unwrap();
    users.pipe_key_value(s("bob"), s("b1")).unwrap();
    users.pipe_key_value(s("alice"), s("a2")).unwrap();
    delete(&mut users, "bob");
    // Deleting a key the table does not hold is still forwarded, as Kafka
    // Streams does (downstream may hold the key even if the table does not).
    delete(&mut users, "carol");
    // A record without a key cannot be a row: dropped.
    users
        .pipe_record(Record::from_parts(None, Some(s("x")), 0, Headers::new()))
        .unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![
            kv("alice", s("a1")),
            kv("bob", s("b1")),
            kv("alice", s("a2")),
            gone("bob"),
            gone("carol"),
        ]
    );

    users.pipe_key_value(s("dave"), s("d1")).unwrap();
    let table: Vec<(String, String)> = out.read_key_values_to_map().unwrap().into_iter().collect();
    assert_eq!(table, vec![(s("dave"), s("d1"))]);
}

#[test]
fn to_table_reads_a_stream_as_a_table() {
    let builder = StreamsBuilder::new();
    builder
        .stream("prices", string_i64())
        .to_table(store_i64("prices-store"))
        .to_stream()
        .to("latest", to_string_i64());
    let driver = drive(builder);
    let mut prices = input_i64(&driver, "prices");
    let out = driver.create_output_topic("latest", Serdes::string(), Serdes::i64());
    prices.pipe_key_value(s("apple"), 3).unwrap();
    prices.pipe_key_value(s("pear"), 5).unwrap();
    prices.pipe_key_value(s("apple"), 4).unwrap();
    delete(&mut prices, "pear");
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("apple", 3), kv("pear", 5), kv("apple", 4), gone("pear")]
    );
}

#[test]
fn filter_turns_a_row_that_stops_passing_into_a_tombstone() {
    let builder = StreamsBuilder::new();
    builder
        .table("prices", string_i64(), store_i64("prices-store"))
        .filter(|_k, v| *v > 10)
        .to("expensive", to_string_i64());
    let driver = drive(builder);
    let mut prices = input_i64(&driver, "prices");
    let out = driver.create_output_topic("expensive", Serdes::string(), Serdes::i64());

    prices.pipe_key_value(s("a"), 5).unwrap(); // never passed: nothing
    prices.pipe_key_value(s("a"), 20).unwrap(); // passes: a=20
    prices.pipe_key_value(s("a"), 30).unwrap(); // still passes: a=30
    prices.pipe_key_value(s("a"), 7).unwrap(); // stops passing: tombstone
    prices.pipe_key_value(s("b"), 3).unwrap(); // never passed: nothing
    delete(&mut prices, "a"); // was filtered out already: nothing
    prices.pipe_key_value(s("c"), 15).unwrap(); // c=15
    delete(&mut prices, "c"); // deleted while passing: tombstone
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("a", 20), kv("a", 30), gone("a"), kv("c", 15), gone("c")]
    );
}

#[test]
fn filter_not_keeps_the_rows_that_fail_the_predicate() {
    let builder = StreamsBuilder::new();
    builder
        .table("prices", string_i64(), store_i64("prices-store"))
        .filter_not(|k, v| k == "hidden" || *v > 10)
        .to("cheap", to_string_i64());
    let driver = drive(builder);
    let mut prices = input_i64(&driver, "prices");
    let out = driver.create_output_topic("cheap", Serdes::string(), Serdes::i64());
    prices.pipe_key_value(s("a"), 5).unwrap();
    prices.pipe_key_value(s("hidden"), 1).unwrap();
    prices.pipe_key_value(s("a"), 50).unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("a", 5), gone("a")]
    );
}

#[test]
fn map_values_maps_updates_and_keeps_deletes() {
    let builder = StreamsBuilder::new();
    builder
        .table("names", strings(), store_strings("names-store"))
        .map_values(|name| name.len() as i64)
        .map_values_with_key(|k, len| len * 100 + k.len() as i64)
        .to("lengths", to_string_i64());
    let driver = drive(builder);
    let mut names = input_strings(&driver, "names");
    let out = driver.create_output_topic("lengths", Serdes::string(), Serdes::i64());
    names.pipe_key_value(s("k"), s("kafka")).unwrap();
    names.pipe_key_value(s("k"), s("weir")).unwrap();
    delete(&mut names, "k");
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("k", 501), kv("k", 401), gone("k")]
    );
}

#[test]
fn two_stores_with_the_same_name_fail_the_build() {
    let builder = StreamsBuilder::new();
    builder.table("a", strings(), store_strings("same"));
    builder
        .stream("b", strings())
        .group_by_key()
        .count(store_i64("same"));
    let text = build_error(builder);
    assert!(text.contains("state store 'same' is added twice"), "{text}");
}

#[test]
fn a_store_or_a_grouping_without_a_name_fails_the_build() {
    let builder = StreamsBuilder::new();
    builder.table("a", strings(), store_strings(""));
    let text = build_error(builder);
    assert!(text.contains("empty name"), "{text}");
    assert!(text.contains("Materialized::as_"), "{text}");

    let builder = StreamsBuilder::new();
    builder
        .stream("b", strings())
        .group_by(
            |_k, v| v.clone(),
            Grouped::as_("", Serdes::string(), Serdes::string()),
        )
        .count(store_i64("counts"));
    let text = build_error(builder);
    assert!(text.contains("Grouped::as_"), "{text}");
}
