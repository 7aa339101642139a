//! Tables and aggregations over cached stores: updates of a key between two
//! commits are folded and forwarded once, on commit (the driver commits
//! after each pipe call), with the old value of the previous forward. The
//! driver caches only when given a budget (`with_cache_max_bytes`).

use weir_testing::DriverConfig;

use super::*;

fn cached(store: Materialized<String, String>) -> Materialized<String, String> {
    store.with_caching(true).with_logging(true)
}

/// A driver whose tasks share a record cache of `bytes`.
fn drive_cached(builder: StreamsBuilder, bytes: usize) -> TopologyTestDriver {
    let config = DriverConfig::new()
        .with_application_id(APP)
        .with_cache_max_bytes(bytes);
    TopologyTestDriver::new(builder.build().unwrap(), config).unwrap()
}

#[test]
fn a_cached_table_forwards_the_latest_update_of_each_key_on_commit() {
    let builder = StreamsBuilder::new();
    builder
        .table("users", strings(), cached(store_strings("users-store")))
        .to("users-out", to_strings());
    let driver = drive_cached(builder, 1 << 20);
    let mut users = input_strings(&driver, "users");
    let out = driver.create_output_topic("users-out", Serdes::string(), Serdes::string());

    users
        .pipe_records([
            at("alice", s("a1"), 1),
            at("bob", s("b1"), 2),
            at("alice", s("a2"), 3),
            at("carol", s("c1"), 4),
            deleted_at("carol", 5),
        ])
        .unwrap();
    // Folded per key, in the order of each key's latest update, each with
    // the timestamp of the record that wrote it (Kafka Streams'
    // timestamped flush); carol was added and deleted within the commit:
    // nothing to say about her.
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![
            Record::new(s("bob"), s("b1"), 2),
            Record::new(s("alice"), s("a2"), 3),
        ]
    );

    // One record per pipe call: every update is its own commit.
    users.pipe_key_value_at(s("alice"), s("a3"), 6).unwrap();
    delete(&mut users, "bob");
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("alice", s("a3")), gone("bob")]
    );
}

#[test]
fn a_cached_count_forwards_one_count_per_key_per_commit() {
    let builder = StreamsBuilder::new();
    builder
        .stream("words", strings())
        .group_by_key()
        .count(store_i64("counts"))
        .to("word-counts", to_string_i64());
    let driver = drive_cached(builder, 1 << 20);
    let mut words = input_strings(&driver, "words");
    let out = driver.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
    words
        .pipe_records([
            at("kafka", s("x"), 1),
            at("weir", s("x"), 2),
            at("kafka", s("x"), 3),
        ])
        .unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("weir", 1), kv("kafka", 2)]
    );
    words.pipe_key_value(s("kafka"), s("x")).unwrap();
    assert_eq!(out.read_key_values_to_list().unwrap(), vec![kv("kafka", 3)]);
}

#[test]
fn a_cached_source_table_sends_folded_old_values_to_a_grouped_count() {
    let builder = StreamsBuilder::new();
    builder
        .table(
            "user-regions",
            strings(),
            cached(store_strings("user-regions-store")),
        )
        .group_by(
            |user, region| (region, user.clone()),
            Grouped::as_("users-by-region", Serdes::string(), Serdes::string()),
        )
        .count(store_i64("users-per-region"))
        .to("region-counts", to_string_i64());
    let driver = drive_cached(builder, 1 << 20);
    let mut users = input_strings(&driver, "user-regions");
    let out = driver.create_output_topic("region-counts", Serdes::string(), Serdes::i64());

    // alice passes through A within one commit: A never sees her.
    users
        .pipe_records([at("alice", s("A"), 1), at("alice", s("B"), 2)])
        .unwrap();
    assert_eq!(out.read_key_values_to_list().unwrap(), vec![kv("B", 1)]);

    // Next commit: the folded old value (B) is retracted.
    users
        .pipe_records([at("alice", s("C"), 3), at("bob", s("C"), 4)])
        .unwrap();
    assert_eq!(
        out.read_key_values_to_map()
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![(s("B"), 0), (s("C"), 2)]
    );
}

#[test]
fn a_tiny_cache_forwards_evicted_updates_as_it_goes() {
    let builder = StreamsBuilder::new();
    builder
        .stream("words", strings())
        .group_by_key()
        .count(store_i64("counts"))
        .to("word-counts", to_string_i64());
    let driver = drive_cached(builder, 1);
    let mut words = input_strings(&driver, "words");
    let out = driver.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
    words
        .pipe_records([
            at("kafka", s("x"), 1),
            at("kafka", s("x"), 2),
            at("weir", s("x"), 3),
        ])
        .unwrap();
    // A one-byte budget holds nothing: every update is evicted at once.
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("kafka", 1), kv("kafka", 2), kv("weir", 1)]
    );
}

#[test]
fn without_a_cache_budget_every_update_is_forwarded() {
    let builder = StreamsBuilder::new();
    builder
        .stream("words", strings())
        .group_by_key()
        .count(store_i64("counts")) // caching on, as by default
        .to("word-counts", to_string_i64());
    let driver = drive(builder); // the driver's default budget: 0
    let mut words = input_strings(&driver, "words");
    let out = driver.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
    words
        .pipe_records([at("kafka", s("x"), 1), at("kafka", s("x"), 2)])
        .unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("kafka", 1), kv("kafka", 2)]
    );
}

#[test]
fn a_store_with_caching_off_forwards_every_update_within_a_budget() {
    let builder = StreamsBuilder::new();
    builder
        .stream("words", strings())
        .group_by_key()
        .count(store_i64("counts").with_caching(false))
        .to("word-counts", to_string_i64());
    let driver = drive_cached(builder, 1 << 20);
    let mut words = input_strings(&driver, "words");
    let out = driver.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
    words
        .pipe_records([at("kafka", s("x"), 1), at("kafka", s("x"), 2)])
        .unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("kafka", 1), kv("kafka", 2)]
    );
}

#[test]
fn stores_of_one_driver_share_its_cache_budget() {
    // Two cached counts over the same words: with a budget for about one
    // entry in all, the second store's writes evict as they go even
    // though each store alone would fit.
    let builder = StreamsBuilder::new();
    let grouped = builder.stream("words", strings()).group_by_key();
    grouped
        .count(store_i64("counts"))
        .to("word-counts", to_string_i64());
    grouped
        .count(store_i64("also-counts"))
        .to("also-counts-out", to_string_i64());
    // A count's store is timestamped: 8 bytes of timestamp, then the count.
    let entry = "kafka".len() + 8 + 8 + weir_core::store::CACHE_ENTRY_OVERHEAD;
    let driver = drive_cached(builder, entry);
    let mut words = input_strings(&driver, "words");
    let out = driver.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
    let also = driver.create_output_topic("also-counts-out", Serdes::string(), Serdes::i64());
    words
        .pipe_records([at("kafka", s("x"), 1), at("kafka", s("x"), 2)])
        .unwrap();
    // "counts" holds its entry (folded to one forward at commit); "also-counts"
    // finds the budget taken and forwards each update.
    assert_eq!(out.read_key_values_to_list().unwrap(), vec![kv("kafka", 2)]);
    assert_eq!(
        also.read_key_values_to_list().unwrap(),
        vec![kv("kafka", 1), kv("kafka", 2)]
    );
}

#[test]
fn a_cached_count_forwards_each_aggregate_with_its_own_timestamp() {
    // As Kafka Streams' TimestampedCacheFlushListener: a flushed aggregate
    // carries the newest timestamp of its records, not the stream time.
    let builder = StreamsBuilder::new();
    builder
        .stream("words", strings())
        .group_by_key()
        .count(store_i64("counts"))
        .to("word-counts", to_string_i64());
    let driver = drive_cached(builder, 1 << 20);
    let mut words = input_strings(&driver, "words");
    let out = driver.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
    words
        .pipe_records([
            at("kafka", s("x"), 30),
            at("weir", s("x"), 10),
            at("kafka", s("x"), 20),
        ])
        .unwrap();
    let records: Vec<(String, i64, i64)> = out
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.key.unwrap(), r.value.unwrap(), r.timestamp))
        .collect();
    assert_eq!(records, [(s("weir"), 1, 10), (s("kafka"), 2, 30)]);
}

#[test]
fn a_cached_table_forwards_a_flushed_delete_with_the_delete_records_timestamp() {
    let builder = StreamsBuilder::new();
    builder
        .table("users", strings(), cached(store_strings("users-store")))
        .to("users-out", to_strings());
    let driver = drive_cached(builder, 1 << 20);
    let mut users = input_strings(&driver, "users");
    let out = driver.create_output_topic("users-out", Serdes::string(), Serdes::string());
    users.pipe_records([at("alice", s("a1"), 1)]).unwrap();
    assert_eq!(
        out.read_records_to_list().unwrap(),
        vec![Record::new(s("alice"), s("a1"), 1)]
    );
    // One commit: bob's row at 9, then alice's delete at 4 (stream time is
    // 9): the delete keeps its own timestamp, as in Kafka Streams.
    users
        .pipe_records([at("bob", s("b1"), 9), deleted_at("alice", 4)])
        .unwrap();
    let got = out.read_records_to_list().unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], Record::new(s("bob"), s("b1"), 9));
    assert_eq!(
        (
            got[1].key.as_deref(),
            got[1].value.as_deref(),
            got[1].timestamp
        ),
        (Some("alice"), None, 4)
    );
}
