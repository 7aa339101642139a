//! A join whose table partition ends in an open transaction, on the real
//! broker under exactly_once_v2: read `read_committed`, that partition's
//! fetch lag is against its last stable offset (asked on a connection of its
//! own, not behind the stream thread's fetch), so the task sees it caught up
//! and joins its stream records at once, instead of waiting the 30 s bound
//! for records it may not be handed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use weir_core::dsl::{Joined, Materialized, StreamsBuilder};
use weir_core::topology::{Consumed, Produced, Topology};
use weir_core::{ProcessingGuarantee, Serdes};
use weir_kafka::{ProduceRecord, RuntimeConfig, StreamsRuntime};
use weir_testing::KafkaCluster;

fn cluster() -> &'static KafkaCluster {
    KafkaCluster::get().expect("test broker")
}

/// `orders` joined with the table of `customers` into `output` as
/// `<customer>: <order>`.
fn topology(orders: &str, customers: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    let table = builder.table(
        customers,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("customers", Serdes::string(), Serdes::string()).in_memory(),
    );
    builder
        .stream(orders, Consumed::with(Serdes::string(), Serdes::string()))
        .join_table(
            &table,
            |order: &String, customer: &String| format!("{customer}: {order}"),
            Joined::with(Serdes::string(), Serdes::string(), Serdes::string()),
        )
        .to(output, Produced::with(Serdes::string(), Serdes::string()));
    builder.build().unwrap()
}

#[test]
fn a_table_partition_ending_in_an_open_transaction_does_not_hold_the_join_back() {
    let orders = KafkaCluster::unique_topic("open-txn-orders");
    let customers = KafkaCluster::unique_topic("open-txn-customers");
    let output = KafkaCluster::unique_topic("open-txn-out");
    for topic in [&orders, &customers, &output] {
        cluster().create_topic(topic, 1).unwrap();
    }
    let producer = cluster()
        .transactional_producer(&KafkaCluster::unique_transactional_id("open-txn"))
        .unwrap();
    producer.begin().unwrap();
    producer
        .send(&customers, &ProduceRecord::new("c1", "Ada"))
        .unwrap();
    producer.commit().unwrap();
    // Left open for the whole run: the table partition's high watermark
    // stays past its last stable offset.
    producer.begin().unwrap();
    producer
        .send(&customers, &ProduceRecord::new("c2", "uncommitted"))
        .unwrap();
    producer.flush().unwrap();
    cluster()
        .produce(&orders, &[ProduceRecord::new("c1", "o1")])
        .unwrap();

    let app_id = KafkaCluster::unique_group("open-txn");
    let dir = tempfile::tempdir().unwrap();
    let mut rc = RuntimeConfig::new(&app_id, cluster().bootstrap_servers());
    rc.commit_interval = Duration::from_millis(200);
    rc.state_dir = Some(dir.path().to_path_buf());
    rc.task.guarantee = ProcessingGuarantee::ExactlyOnceV2;
    let started = Instant::now();
    let mut app = StreamsRuntime::start(topology(&orders, &customers, &output), rc, None).unwrap();

    // Well inside the 30 s a task waits for records it is not handed.
    let deadline = started + Duration::from_secs(20);
    let values = loop {
        let values: Vec<String> = cluster()
            .read_committed(&output)
            .unwrap()
            .into_iter()
            .map(|r| String::from_utf8(r.value.unwrap()).unwrap())
            .collect();
        if !values.is_empty() || Instant::now() >= deadline {
            break values;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        values,
        ["Ada: o1"],
        "the join's output {:.1} s after the start",
        started.elapsed().as_secs_f64()
    );
    producer.abort().unwrap();
    app.close(Duration::from_secs(30)).unwrap();
}
