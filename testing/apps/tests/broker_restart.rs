//! The broker goes away and comes back while an application runs: the
//! application keeps retrying, resumes, and loses nothing. In its own test
//! binary because restarting the broker affects every test of the process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use weir::prelude::*;
use weir_kafka::ProduceRecord;
use weir_testing::KafkaCluster;

fn produce(cluster: &KafkaCluster, topic: &str, from: usize, to: usize) -> BTreeSet<String> {
    let mut records = Vec::new();
    let mut values = BTreeSet::new();
    for p in 0..2 {
        for seq in from..to {
            let value = format!("p{p}-{seq:06}");
            values.insert(value.clone());
            records.push(ProduceRecord::new(format!("k{p}"), value).to_partition(p));
        }
    }
    cluster.produce(topic, &records).unwrap();
    values
}

#[test]
fn the_application_survives_a_broker_restart_without_loss() {
    let cluster = KafkaCluster::get().unwrap();
    let input = KafkaCluster::unique_topic("restart-in");
    let output = KafkaCluster::unique_topic("restart-out");
    cluster.create_topic(&input, 2).unwrap();
    cluster.create_topic(&output, 2).unwrap();
    let app_id = KafkaCluster::unique_group("restart");
    let config = StreamsConfig::from_pairs([
        ("application.id", app_id.as_str()),
        ("bootstrap.servers", cluster.bootstrap_servers()),
        ("commit.interval.ms", "200"),
        ("session.timeout.ms", "10000"),
    ])
    .unwrap();
    let mut app = KafkaStreams::new(
        weir_test_apps::echo_topology(&input, &output).unwrap(),
        config,
    )
    .unwrap();
    app.start().unwrap();
    let mut expected = produce(cluster, &input, 0, 500);

    let wait_for = |expected: &BTreeSet<String>, timeout: Duration| {
        let start = Instant::now();
        loop {
            let seen: BTreeSet<String> = cluster
                .read_uncommitted(&output)
                .unwrap()
                .into_iter()
                .map(|r| String::from_utf8(r.value.unwrap()).unwrap())
                .collect();
            if expected.is_subset(&seen) {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "{} of {} values after {timeout:?}",
                seen.len(),
                expected.len()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    wait_for(&expected, Duration::from_secs(60));

    cluster.restart().unwrap();
    assert!(!app.is_stopping(), "a broker restart is not fatal");
    expected.extend(produce(cluster, &input, 500, 1000));
    wait_for(&expected, Duration::from_secs(120));
    assert!(!app.is_stopping());
    app.close(Duration::from_secs(60)).unwrap();
    assert_eq!(app.state(), State::NotRunning);
}
