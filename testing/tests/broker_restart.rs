//! The launcher's broker survives a restart with its data and address, so
//! fault tests can stop it under a running client. In a file of its own: the
//! restart is visible to every test of the process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use weir_kafka::ProduceRecord;
use weir_testing::cluster::BrokerSource;
use weir_testing::KafkaCluster;

#[test]
fn restart_keeps_data_and_address() {
    let kafka = KafkaCluster::get().expect("broker");
    if !matches!(kafka.source(), BrokerSource::Launcher { .. }) {
        eprintln!("skipped: the broker was not started by the launcher");
        return;
    }
    let topic = KafkaCluster::unique_topic("restart");
    kafka.create_topic(&topic, 2).unwrap();
    kafka
        .produce(&topic, &[ProduceRecord::new("a", "before")])
        .unwrap();
    let address = kafka.bootstrap_servers().to_owned();

    kafka.restart().unwrap();

    assert_eq!(kafka.bootstrap_servers(), address);
    kafka
        .produce(&topic, &[ProduceRecord::new("a", "after")])
        .unwrap();
    let values: Vec<Vec<u8>> = kafka
        .read_committed(&topic)
        .unwrap()
        .into_iter()
        .filter_map(|r| r.value)
        .collect();
    assert_eq!(values, vec![b"before".to_vec(), b"after".to_vec()]);
}
