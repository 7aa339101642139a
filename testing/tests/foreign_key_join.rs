//! Foreign-key table-table joins under the TopologyTestDriver: inner and
//! left, null foreign keys, a row changing its foreign key, right-side
//! fan-out, deletes on both sides, stale responses, the result store, and
//! the internal topics' partition counts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use weir_core::dsl::{ForeignKeyJoined, KTable, Materialized, StreamsBuilder};
use weir_core::topology::{Consumed, Produced, Topology};
use weir_core::{Headers, Record, Serdes};
use weir_testing::{DriverConfig, TestInputTopic, TestOutputTopic, TopologyTestDriver};

const APP: &str = "fk-app";

fn s(text: &str) -> String {
    text.to_string()
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn store(name: &str) -> Materialized<String, String> {
    Materialized::as_(name, Serdes::string(), Serdes::string())
}

/// `"value|fk"` has the foreign key `fk`; `"value|"` none.
fn foreign_key(v: &str) -> Option<String> {
    v.split('|').nth(1).filter(|fk| !fk.is_empty()).map(s)
}

fn joined() -> ForeignKeyJoined<String, String, String, String> {
    ForeignKeyJoined::with(
        "fk",
        Serdes::string(),
        Serdes::string(),
        Serdes::string(),
        Serdes::string(),
    )
}

/// `left` joined with `right` (left join if `left_join`) to `output`,
/// materialized in `result` if `materialized`.
fn topology(left_join: bool, materialized: bool) -> Topology {
    let builder = StreamsBuilder::new();
    let left = builder.table("left", strings(), store("left-store"));
    let right = builder.table("right", strings(), store("right-store"));
    let result = materialized.then(|| store("result"));
    let joined: KTable<String, String> = if left_join {
        left.left_join_on_foreign_key(
            &right,
            |v: &String| foreign_key(v),
            |v: &String, o: Option<&String>| format!("({v},{})", o.map_or("null", |o| o.as_str())),
            joined(),
            result,
        )
    } else {
        left.join_on_foreign_key(
            &right,
            |v: &String| foreign_key(v),
            |v: &String, o: &String| format!("({v},{o})"),
            joined(),
            result,
        )
    };
    joined
        .to_stream()
        .to("output", Produced::with(Serdes::string(), Serdes::string()));
    builder.build().unwrap()
}

struct Fixture {
    driver: TopologyTestDriver,
    left: TestInputTopic<String, String>,
    right: TestInputTopic<String, String>,
    out: TestOutputTopic<String, String>,
}

fn fixture(left_join: bool, materialized: bool) -> Fixture {
    fixture_with(topology(left_join, materialized), DriverConfig::new())
}

fn fixture_with(topology: Topology, config: DriverConfig) -> Fixture {
    let driver = TopologyTestDriver::new(topology, config.with_application_id(APP)).unwrap();
    let left = driver.create_input_topic("left", Serdes::string(), Serdes::string());
    let right = driver.create_input_topic("right", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("output", Serdes::string(), Serdes::string());
    Fixture {
        driver,
        left,
        right,
        out,
    }
}

fn put(input: &mut TestInputTopic<String, String>, key: &str, value: &str, ts: i64) {
    input.pipe_key_value_at(s(key), s(value), ts).unwrap();
}

fn delete(input: &mut TestInputTopic<String, String>, key: &str, ts: i64) {
    input
        .pipe_record(Record::from_parts(Some(s(key)), None, ts, Headers::new()))
        .unwrap();
}

/// What the output received since the last call: (key, value, timestamp).
fn read(out: &TestOutputTopic<String, String>) -> Vec<(String, Option<String>, i64)> {
    out.read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.key.unwrap(), r.value, r.timestamp))
        .collect()
}

fn rec(key: &str, value: &str, ts: i64) -> (String, Option<String>, i64) {
    (s(key), Some(s(value)), ts)
}

fn tomb(key: &str, ts: i64) -> (String, Option<String>, i64) {
    (s(key), None, ts)
}

#[test]
fn the_topology_has_both_internal_topics_and_the_subscription_store() {
    let topology = topology(false, true);
    let names: Vec<&str> = topology
        .internal_topics()
        .iter()
        .map(|t| t.topic.name())
        .collect();
    assert_eq!(
        names,
        [
            "fk-subscription-registration-topic",
            "fk-subscription-response-topic"
        ]
    );
    let description = topology.describe().to_string();
    for node in [
        "fk-subscription-registration-processor",
        "fk-subscription-receive (stores: [fk-subscription-store, right-store])",
        "fk-foreign-join-subscription (stores: [fk-subscription-store])",
        "fk-subscription-response-resolver (stores: [left-store])",
        "fk-result (stores: [result])",
    ] {
        assert!(description.contains(node), "{node} in {description}");
    }
}

#[test]
fn inner_join_from_the_left_then_a_left_delete() {
    for materialized in [false, true] {
        let mut f = fixture(false, materialized);
        put(&mut f.right, "rhs1", "rhsValue1", 0);
        put(&mut f.right, "rhs2", "rhsValue2", 1);
        put(&mut f.right, "rhs3", "rhsValue3", 2);
        assert_eq!(read(&f.out), []);
        put(&mut f.left, "lhs1", "lhsValue1|rhs1", 3);
        put(&mut f.left, "lhs2", "lhsValue2|rhs2", 4);
        put(&mut f.left, "lhs3", "lhsValue3|rhs1", 5);
        // Stamped with the later of the two rows' timestamps.
        assert_eq!(
            read(&f.out),
            [
                rec("lhs1", "(lhsValue1|rhs1,rhsValue1)", 3),
                rec("lhs2", "(lhsValue2|rhs2,rhsValue2)", 4),
                rec("lhs3", "(lhsValue3|rhs1,rhsValue1)", 5),
            ]
        );
        delete(&mut f.left, "lhs1", 6);
        assert_eq!(read(&f.out), [tomb("lhs1", 6)]);
        if materialized {
            let result = f
                .driver
                .key_value_store::<String, String>("result")
                .unwrap();
            let all: Vec<(String, String)> = result.all().unwrap().into_iter().collect();
            assert_eq!(
                all,
                [
                    (s("lhs2"), s("(lhsValue2|rhs2,rhsValue2)")),
                    (s("lhs3"), s("(lhsValue3|rhs1,rhsValue1)")),
                ]
            );
        }
    }
}

#[test]
fn right_inserts_updates_and_deletes_fan_out_to_every_subscriber() {
    for left_join in [false, true] {
        let mut f = fixture(left_join, true);
        put(&mut f.left, "lhs1", "lhsValue1|rhs1", 0);
        put(&mut f.left, "lhs2", "lhsValue2|rhs2", 1);
        put(&mut f.left, "lhs3", "lhsValue3|rhs1", 2);
        let first = read(&f.out);
        if left_join {
            assert_eq!(
                first,
                [
                    rec("lhs1", "(lhsValue1|rhs1,null)", 0),
                    rec("lhs2", "(lhsValue2|rhs2,null)", 1),
                    rec("lhs3", "(lhsValue3|rhs1,null)", 2),
                ]
            );
        } else {
            assert_eq!(first, []);
        }
        // Stamped with the right change's timestamp, in left-key order.
        put(&mut f.right, "rhs1", "rhsValue1", 3);
        assert_eq!(
            read(&f.out),
            [
                rec("lhs1", "(lhsValue1|rhs1,rhsValue1)", 3),
                rec("lhs3", "(lhsValue3|rhs1,rhsValue1)", 3),
            ]
        );
        put(&mut f.right, "rhs1", "rhsValue1b", 4);
        put(&mut f.right, "rhs3", "unreferenced", 5);
        assert_eq!(
            read(&f.out),
            [
                rec("lhs1", "(lhsValue1|rhs1,rhsValue1b)", 4),
                rec("lhs3", "(lhsValue3|rhs1,rhsValue1b)", 4),
            ]
        );
        delete(&mut f.right, "rhs1", 6);
        let expected = if left_join {
            vec![
                rec("lhs1", "(lhsValue1|rhs1,null)", 6),
                rec("lhs3", "(lhsValue3|rhs1,null)", 6),
            ]
        } else {
            vec![tomb("lhs1", 6), tomb("lhs3", 6)]
        };
        assert_eq!(read(&f.out), expected);
        let result = f
            .driver
            .key_value_store::<String, String>("result")
            .unwrap();
        let all: Vec<String> = result.all().unwrap().into_values().collect();
        let expected: Vec<&str> = if left_join {
            vec![
                "(lhsValue1|rhs1,null)",
                "(lhsValue2|rhs2,null)",
                "(lhsValue3|rhs1,null)",
            ]
        } else {
            vec![]
        };
        assert_eq!(all, expected, "left join: {left_join}");
    }
}

#[test]
fn a_null_foreign_key_joins_nothing_inner_and_joins_none_left() {
    for left_join in [false, true] {
        let mut f = fixture(left_join, false);
        put(&mut f.right, "rhs1", "rhsValue1", 0);
        put(&mut f.left, "lhs1", "lhsValue1|", 1);
        let dropped = f.driver.dropped_records();
        if left_join {
            assert_eq!(read(&f.out), [rec("lhs1", "(lhsValue1|,null)", 1)]);
        } else {
            assert_eq!(read(&f.out), []);
            assert!(dropped >= 1, "the null foreign key counts as dropped");
        }
        // Gaining a foreign key joins; losing it again retracts.
        put(&mut f.left, "lhs1", "lhsValue1|rhs1", 2);
        assert_eq!(read(&f.out), [rec("lhs1", "(lhsValue1|rhs1,rhsValue1)", 2)]);
        put(&mut f.left, "lhs1", "lhsValue1b|", 3);
        let expected = if left_join {
            rec("lhs1", "(lhsValue1b|,null)", 3)
        } else {
            tomb("lhs1", 3)
        };
        assert_eq!(read(&f.out), [expected]);
        // The right row's updates no longer reach it.
        put(&mut f.right, "rhs1", "rhsValue1b", 4);
        assert_eq!(read(&f.out), []);
    }
}

#[test]
fn changing_the_foreign_key_unsubscribes_the_old_one() {
    for left_join in [false, true] {
        let mut f = fixture(left_join, true);
        put(&mut f.right, "rhs1", "rhsValue1", 0);
        put(&mut f.right, "rhs2", "rhsValue2", 1);
        put(&mut f.left, "lhs1", "lhsValue1|rhs1", 2);
        assert_eq!(read(&f.out), [rec("lhs1", "(lhsValue1|rhs1,rhsValue1)", 2)]);
        put(&mut f.left, "lhs1", "lhsValue1|rhs2", 3);
        assert_eq!(read(&f.out), [rec("lhs1", "(lhsValue1|rhs2,rhsValue2)", 3)]);
        put(&mut f.right, "rhs1", "rhsValue1Delta", 4);
        delete(&mut f.right, "rhs1", 5);
        assert_eq!(read(&f.out), [], "left join: {left_join}");
        // To a foreign key without a row: the old result goes.
        put(&mut f.left, "lhs1", "lhsValue1|rhs9", 6);
        let expected = if left_join {
            rec("lhs1", "(lhsValue1|rhs9,null)", 6)
        } else {
            tomb("lhs1", 6)
        };
        assert_eq!(read(&f.out), [expected]);
        let result = f
            .driver
            .key_value_store::<String, String>("result")
            .unwrap();
        assert_eq!(
            result.get(&s("lhs1")).unwrap(),
            left_join.then(|| s("(lhsValue1|rhs9,null)"))
        );
        // The right row arriving later joins.
        put(&mut f.right, "rhs9", "rhsValue9", 7);
        assert_eq!(read(&f.out), [rec("lhs1", "(lhsValue1|rhs9,rhsValue9)", 7)]);
    }
}

#[test]
fn deletes_on_both_sides() {
    for left_join in [false, true] {
        let mut f = fixture(left_join, false);
        // A delete of a row that never existed emits nothing.
        delete(&mut f.left, "lhs1", 0);
        assert_eq!(read(&f.out), []);
        put(&mut f.left, "lhs1", "lhsValue1|rhs1", 1);
        let _ = read(&f.out);
        // Deleting a row that never joined: inner join cannot know, so it
        // emits a tombstone, as Kafka Streams does.
        delete(&mut f.left, "lhs1", 2);
        assert_eq!(read(&f.out), [tomb("lhs1", 2)]);
        delete(&mut f.left, "lhs1", 3);
        assert_eq!(read(&f.out), []);
        // A right delete of a key with no subscriber emits nothing.
        put(&mut f.right, "rhs1", "rhsValue1", 4);
        delete(&mut f.right, "rhs1", 5);
        assert_eq!(read(&f.out), []);
    }
}

#[test]
fn a_stale_response_is_dropped() {
    let mut f = fixture(false, true);
    put(&mut f.right, "rhs1", "rhsValue1", 0);
    put(&mut f.right, "rhs2", "rhsValue2", 0);
    let dropped = f.driver.dropped_records();
    // Two updates of lhs1 in one fetch, the second older: the answer to the
    // first (stamped 10) comes back after the task has taken the second
    // (stamped 5) from its queue, which resubscribed lhs1 to rhs2.
    f.left
        .queue_records([
            (0, Record::new(s("lhs1"), s("v1|rhs1"), 10)),
            (0, Record::new(s("lhs1"), s("v2|rhs2"), 5)),
        ])
        .unwrap();
    f.driver.process_queued().unwrap();
    // The answer to v1's subscription met v2 in the table: dropped, and no
    // result of v1 is ever emitted.
    assert_eq!(read(&f.out), [rec("lhs1", "(v2|rhs2,rhsValue2)", 5)]);
    assert_eq!(f.driver.dropped_records(), dropped + 1);
    let result = f
        .driver
        .key_value_store::<String, String>("result")
        .unwrap();
    assert_eq!(
        result.get(&s("lhs1")).unwrap(),
        Some(s("(v2|rhs2,rhsValue2)"))
    );
}

#[test]
fn internal_topics_follow_each_side_and_responses_return_to_the_left_partition() {
    // Every topic 3 partitions but `right` 2. (The driver gives a changelog
    // the default count, so the default must be the larger.)
    let config = DriverConfig::new()
        .with_partitions(3)
        .with_topic_partitions("right", 2);
    let plan = config
        .clone()
        .with_application_id(APP)
        .internal_topics(&topology(true, true))
        .unwrap();
    let counts: Vec<(&str, i32)> = plan
        .iter()
        .map(|t| (t.name.as_str(), t.partitions))
        .collect();
    assert!(
        counts.contains(&("fk-app-fk-subscription-registration-topic", 2)),
        "{counts:?}"
    );
    assert!(
        counts.contains(&("fk-app-fk-subscription-response-topic", 3)),
        "{counts:?}"
    );
    let mut f = fixture_with(topology(true, true), config);
    for (i, key) in ["a", "b", "c", "d", "e", "f"].into_iter().enumerate() {
        let partition = i32::try_from(i % 3).unwrap();
        let fk = if i % 2 == 0 { "x" } else { "y" };
        // Written to a partition of our choice, not the key's: the
        // response must find the row where it is.
        f.left
            .pipe_record_at(partition, Record::new(s(key), format!("{key}|{fk}"), 10))
            .unwrap();
    }
    put(&mut f.right, "x", "X", 20);
    put(&mut f.right, "y", "Y", 21);
    let mut out = read(&f.out);
    out.sort();
    let expected: Vec<_> = ["a", "b", "c", "d", "e", "f"]
        .into_iter()
        .enumerate()
        .flat_map(|(i, key)| {
            let (fk, value, ts) = if i % 2 == 0 {
                ("x", "X", 20)
            } else {
                ("y", "Y", 21)
            };
            [
                rec(key, &format!("({key}|{fk},null)"), 10),
                rec(key, &format!("({key}|{fk},{value})"), ts),
            ]
        })
        .collect();
    let mut expected = expected;
    expected.sort();
    assert_eq!(out, expected);
}

#[test]
fn a_left_change_stamps_its_result_with_the_later_of_both_rows() {
    let mut f = fixture(false, false);
    put(&mut f.right, "rhs1", "rhsValue1", 50);
    put(&mut f.left, "lhs1", "lhsValue1|rhs1", 10);
    put(&mut f.left, "lhs2", "lhsValue2|rhs1", 70);
    assert_eq!(
        read(&f.out),
        [
            rec("lhs1", "(lhsValue1|rhs1,rhsValue1)", 50),
            rec("lhs2", "(lhsValue2|rhs1,rhsValue1)", 70),
        ]
    );
    // A right change stamps the results it triggers with its own time.
    put(&mut f.right, "rhs1", "rhsValue1b", 20);
    assert_eq!(
        read(&f.out),
        [
            rec("lhs1", "(lhsValue1|rhs1,rhsValue1b)", 20),
            rec("lhs2", "(lhsValue2|rhs1,rhsValue1b)", 20),
        ]
    );
}

#[test]
fn derived_tables_join_through_their_value_getters() {
    let builder = StreamsBuilder::new();
    // Neither side has a store of its own: both are read through their
    // materialized parents, with the derivation applied.
    let left = builder
        .table("left", strings(), store("left-store"))
        .map_values(|v| v.to_uppercase());
    let right = builder
        .table("right", strings(), store("right-store"))
        .filter(|_, v| !v.starts_with('x'));
    left.left_join_on_foreign_key(
        &right,
        |v: &String| foreign_key(v),
        |v: &String, o: Option<&String>| format!("({v},{})", o.map_or("null", |o| o.as_str())),
        joined(),
        None,
    )
    .to_stream()
    .to("output", Produced::with(Serdes::string(), Serdes::string()));
    let mut f = fixture_with(builder.build().unwrap(), DriverConfig::new());
    put(&mut f.right, "RHS1", "r1", 0);
    put(&mut f.left, "lhs1", "a|rhs1", 1);
    assert_eq!(read(&f.out), [rec("lhs1", "(A|RHS1,r1)", 1)]);
    // The right row leaves the filtered table: the left join loses it.
    put(&mut f.right, "RHS1", "x1", 2);
    assert_eq!(read(&f.out), [rec("lhs1", "(A|RHS1,null)", 2)]);
    put(&mut f.left, "lhs1", "b|rhs1", 3);
    assert_eq!(read(&f.out), [rec("lhs1", "(B|RHS1,null)", 3)]);
}

#[test]
fn an_empty_name_fails_the_build() {
    let builder = StreamsBuilder::new();
    let left = builder.table("left", strings(), store("left-store"));
    let right = builder.table("right", strings(), store("right-store"));
    left.join_on_foreign_key(
        &right,
        |v: &String| foreign_key(v),
        |v: &String, o: &String| format!("{v}{o}"),
        ForeignKeyJoined::with(
            "",
            Serdes::string(),
            Serdes::string(),
            Serdes::string(),
            Serdes::string(),
        ),
        None,
    );
    let err = builder.build().unwrap_err().to_string();
    assert!(err.contains("foreign-key join has an empty name"), "{err}");
}

/// Both tables versioned (history 1 h), inner join.
fn versioned_topology() -> Topology {
    let builder = StreamsBuilder::new();
    let versioned = |name: &str| {
        Materialized::as_versioned(
            name,
            Serdes::string(),
            Serdes::string(),
            std::time::Duration::from_secs(3600),
        )
    };
    let left = builder.table("left", strings(), versioned("left-store"));
    let right = builder.table("right", strings(), versioned("right-store"));
    left.join_on_foreign_key(
        &right,
        |v: &String| foreign_key(v),
        |v: &String, o: &String| format!("({v},{o})"),
        joined(),
        None,
    )
    .to_stream()
    .to("output", Produced::with(Serdes::string(), Serdes::string()));
    builder.build().unwrap()
}

#[test]
fn out_of_order_updates_of_versioned_tables_change_no_result() {
    // Kafka Streams' shouldIgnoreOutOfOrderRecordsIffVersioned, versioned
    // half: an update older than the key's latest version is stored in the
    // table's history and dropped by the join, on either side.
    let mut f = fixture_with(versioned_topology(), DriverConfig::new());
    put(&mut f.right, "r1", "x", 10);
    put(&mut f.left, "l1", "a|r1", 10);
    assert_eq!(read(&f.out), vec![rec("l1", "(a|r1,x)", 10)]);
    // Out of order on the left (older than 10): no output.
    put(&mut f.left, "l1", "b|r1", 5);
    assert_eq!(read(&f.out), vec![]);
    // Out of order on the right: no output.
    put(&mut f.right, "r1", "y", 5);
    assert_eq!(read(&f.out), vec![]);
    // In order again on both sides: results as usual, with the latest rows.
    put(&mut f.right, "r1", "z", 20);
    assert_eq!(read(&f.out), vec![rec("l1", "(a|r1,z)", 20)]);
    put(&mut f.left, "l1", "c|r1", 30);
    assert_eq!(read(&f.out), vec![rec("l1", "(c|r1,z)", 30)]);
}
