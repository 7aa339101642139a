//! KTable::group_by with count, reduce and aggregate: updates retract the
//! old value from its group before adding the new one.

use super::*;

/// `user-regions` (user -> region) as a table, grouped by region, counted.
fn users_per_region() -> StreamsBuilder {
    let builder = StreamsBuilder::new();
    builder
        .table(
            "user-regions",
            strings(),
            store_strings("user-regions-store"),
        )
        .group_by(
            |user, region| (region, user.clone()),
            Grouped::as_("users-by-region", Serdes::string(), Serdes::string()),
        )
        .count(store_i64("users-per-region"))
        .to("region-counts", to_string_i64());
    builder
}

#[test]
fn a_user_moving_region_decrements_the_old_one_and_increments_the_new_one() {
    let topology = users_per_region().build().unwrap();
    assert_eq!(
        topology.internal_topics()[0].topic.name(),
        "users-by-region-repartition"
    );
    let driver = drive(users_per_region());
    let mut users = input_strings(&driver, "user-regions");
    let out = driver.create_output_topic("region-counts", Serdes::string(), Serdes::i64());

    users.pipe_key_value(s("alice"), s("A")).unwrap();
    users.pipe_key_value(s("bob"), s("A")).unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("A", 1), kv("A", 2)]
    );

    // alice moves from A to B: A loses her, then B gains her.
    users.pipe_key_value(s("alice"), s("B")).unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("A", 1), kv("B", 1)]
    );

    // The same region again: one record through the repartition topic,
    // subtract then add in one step; the count is unchanged.
    users.pipe_key_value(s("alice"), s("B")).unwrap();
    assert_eq!(out.read_key_values_to_list().unwrap(), vec![kv("B", 1)]);

    // A tombstone in the source table retracts bob from A.
    delete(&mut users, "bob");
    assert_eq!(out.read_key_values_to_list().unwrap(), vec![kv("A", 0)]);

    // The repartition topic carried: alice+A, bob+A, alice-A, alice+B,
    // alice(B->B), bob-A.
    let topic = format!("{APP}-users-by-region-repartition");
    let keys: Vec<Option<Vec<u8>>> = driver
        .producer_records()
        .into_iter()
        .filter(|r| r.topic == topic)
        .map(|r| r.key)
        .collect();
    let expected: Vec<Option<Vec<u8>>> = ["A", "A", "A", "B", "B", "A"]
        .iter()
        .map(|k| Some(k.as_bytes().to_vec()))
        .collect();
    assert_eq!(keys, expected);
}

/// `spend` (user -> amount) grouped by the user's first letter.
fn by_initial(
    fold: impl FnOnce(weir_core::dsl::KGroupedTable<String, i64>) -> weir_core::dsl::KTable<String, i64>,
) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .table("spend", string_i64(), store_i64("spend-store"))
        .group_by(
            |user, amount| (user[..1].to_string(), amount),
            Grouped::as_("by-initial", Serdes::string(), Serdes::i64()),
        );
    fold(grouped).to("totals", to_string_i64());
    drive(builder)
}

/// Pipes the same updates into `spend` and returns what `totals` got.
fn spend_totals(driver: &TopologyTestDriver) -> Vec<KeyValue<String, i64>> {
    let mut spend = input_i64(driver, "spend");
    spend.pipe_key_value(s("ann"), 10).unwrap();
    spend.pipe_key_value(s("amy"), 5).unwrap();
    spend.pipe_key_value(s("ann"), 30).unwrap();
    spend.pipe_key_value(s("bea"), 7).unwrap();
    delete(&mut spend, "amy");
    driver
        .create_output_topic("totals", Serdes::string(), Serdes::i64())
        .read_key_values_to_list()
        .unwrap()
}

#[test]
fn reduce_with_a_subtractor_retracts_updated_and_deleted_rows() {
    let driver = by_initial(|g| g.reduce(|a, v| a + v, |a, v| a - v, store_i64("totals-store")));
    assert_eq!(
        spend_totals(&driver),
        vec![
            kv("a", 10),
            kv("a", 15),
            kv("a", 35), // ann 10 -> 30: 15 - 10 + 30
            kv("b", 7),
            kv("a", 30), // amy deleted: 35 - 5
        ]
    );
}

#[test]
fn aggregate_with_a_subtractor_retracts_updated_and_deleted_rows() {
    let driver = by_initial(|g| {
        g.aggregate(
            || 1000,
            |_k, v, agg| agg + v,
            |_k, v, agg| agg - v,
            store_i64("totals-store"),
        )
    });
    assert_eq!(
        spend_totals(&driver),
        vec![
            kv("a", 1010),
            kv("a", 1015),
            kv("a", 1035),
            kv("b", 1007),
            kv("a", 1030),
        ]
    );
}

#[test]
fn count_of_a_grouped_table_through_a_filtered_and_mapped_table() {
    let builder = StreamsBuilder::new();
    builder
        .table("spend", string_i64(), store_i64("spend-store"))
        .filter(|_k, v| *v >= 10)
        .map_values(|v| v / 10)
        .group_by(
            |_user, tens| (tens.to_string(), tens),
            Grouped::as_("by-tens", Serdes::string(), Serdes::i64()),
        )
        .count(store_i64("tens-count"))
        .to("tens", to_string_i64());
    let driver = drive(builder);
    let mut spend = input_i64(&driver, "spend");
    let out = driver.create_output_topic("tens", Serdes::string(), Serdes::i64());
    spend.pipe_key_value(s("x"), 12).unwrap(); // 1: 1
    spend.pipe_key_value(s("y"), 5).unwrap(); // filtered out
    spend.pipe_key_value(s("x"), 25).unwrap(); // 1: 0, 2: 1
    spend.pipe_key_value(s("x"), 3).unwrap(); // filtered out now: 2: 0
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![kv("1", 1), kv("1", 0), kv("2", 1), kv("2", 0)]
    );
}

#[test]
fn retraction_works_across_partitions_of_the_repartition_topic() {
    let config = DriverConfig::new()
        .with_application_id(APP)
        .with_partitions(4);
    let driver = TopologyTestDriver::new(users_per_region().build().unwrap(), config).unwrap();
    assert_eq!(
        driver.partition_count(&format!("{APP}-users-by-region-repartition")),
        4
    );
    let mut users = input_strings(&driver, "user-regions");
    let out = driver.create_output_topic("region-counts", Serdes::string(), Serdes::i64());
    let moves = [
        ("u1", "north"),
        ("u2", "south"),
        ("u3", "east"),
        ("u4", "west"),
        ("u1", "south"),
        ("u2", "east"),
        ("u3", "east"),
        ("u4", "north"),
        ("u1", "west"),
    ];
    for (user, region) in moves {
        users.pipe_key_value(s(user), s(region)).unwrap();
    }
    delete(&mut users, "u3");
    let counts: Vec<(String, i64)> = out.read_key_values_to_map().unwrap().into_iter().collect();
    assert_eq!(
        counts,
        vec![
            (s("east"), 1),
            (s("north"), 1),
            (s("south"), 0),
            (s("west"), 1),
        ]
    );
}
