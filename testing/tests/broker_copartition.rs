//! The runtime's start check on a real broker: a join of topics that are not
//! co-partitioned fails before the stream threads start (and before any
//! internal topic is created), naming each topic with its partition count.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use weir_core::dsl::{Joined, Materialized, StreamsBuilder};
use weir_core::topology::{Consumed, Produced};
use weir_core::Serdes;
use weir_kafka::{Error, RuntimeConfig, StreamsRuntime};
use weir_testing::KafkaCluster;

#[test]
fn a_join_of_topics_with_different_partition_counts_fails_to_start_naming_them() {
    let kafka = KafkaCluster::get().expect("broker");
    let orders = KafkaCluster::unique_topic("copartition_orders");
    let customers = KafkaCluster::unique_topic("copartition_customers");
    kafka.create_topic(&orders, 2).unwrap();
    kafka.create_topic(&customers, 3).unwrap();

    let builder = StreamsBuilder::new();
    let table = builder.table(
        &customers,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("customers", Serdes::string(), Serdes::string()),
    );
    builder
        .stream(&orders, Consumed::with(Serdes::string(), Serdes::string()))
        .join_table(
            &table,
            |order: &String, customer: &String| format!("{customer}: {order}"),
            Joined::with(Serdes::string(), Serdes::string(), Serdes::string()),
        )
        .to(
            "copartition-out",
            Produced::with(Serdes::string(), Serdes::string()),
        );
    let topology = builder.build().unwrap();

    let app = KafkaCluster::unique_group("copartition");
    let state = tempfile::tempdir().unwrap();
    let mut config = RuntimeConfig::new(&app, kafka.bootstrap_servers());
    config.state_dir = Some(state.path().to_path_buf());
    let Err(err) = StreamsRuntime::start(topology, config, None) else {
        panic!("the application should not start");
    };
    let message = err.to_string();
    assert!(
        matches!(err, Error::CoPartitioning { subtopology: 0, .. }),
        "{message}"
    );
    assert!(
        message.contains(&format!("{orders} (2 partitions)")),
        "{message}"
    );
    assert!(
        message.contains(&format!("{customers} (3 partitions)")),
        "{message}"
    );
    // Checked before creating anything: the table's changelog is not there.
    let changelog = format!("{app}-customers-changelog");
    assert_eq!(
        weir_kafka::partition_count(&kafka.connection(), &changelog).unwrap(),
        None,
        "{changelog} was created"
    );
}
