//! Proof that the test broker is a real Kafka: aborted transactions are
//! filtered under read_committed, as checked by Kafka's own Java consumer and
//! by weir-kafka's reader, and topic creation checks partition counts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use weir_kafka::{Error, ProduceRecord};
use weir_testing::cluster::ClusterError;
use weir_testing::KafkaCluster;

fn values(records: &[weir_kafka::ConsumedRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect()
}

#[test]
fn aborted_records_are_invisible_to_read_committed() {
    let kafka = KafkaCluster::get().expect("broker");
    let topic = KafkaCluster::unique_topic("aborted_records");
    kafka.create_topic(&topic, 1).unwrap();

    let producer = kafka
        .transactional_producer(&KafkaCluster::unique_transactional_id("aborted_records"))
        .unwrap();
    producer.begin().unwrap();
    for i in 0..5 {
        let record = ProduceRecord::new(format!("k{i}"), format!("committed-{i}"));
        producer.send(&topic, &record).unwrap();
    }
    producer.commit().unwrap();
    producer.begin().unwrap();
    for i in 0..10 {
        let record = ProduceRecord::new(format!("k{i}"), format!("aborted-{i}"));
        producer.send(&topic, &record).unwrap();
    }
    // Make sure the aborted records reach the log: abort drops queued ones.
    producer.flush().unwrap();
    producer.abort().unwrap();

    let expected: Vec<String> = (0..5).map(|i| format!("committed-{i}")).collect();

    // (a) Kafka's Java consumer, read_committed. Asking for more than 5 makes
    // it wait for the idle timeout, so an aborted record would show up.
    let java = kafka
        .java_read_committed_values(&topic, 15, Duration::from_secs(5))
        .unwrap();
    assert_eq!(java, expected, "Java console consumer (read_committed)");

    // (b) weir-kafka's reader.
    let committed = kafka.read_committed(&topic).unwrap();
    assert_eq!(values(&committed), expected, "read_committed");
    assert!(committed
        .iter()
        .all(|r| r.partition == 0 && r.topic == topic));
    assert!(committed.iter().all(|r| r.timestamp.is_some()));

    let all = kafka.read_uncommitted(&topic).unwrap();
    assert_eq!(all.len(), 15, "read_uncommitted sees aborted records too");
    let aborted: Vec<String> = (0..10).map(|i| format!("aborted-{i}")).collect();
    assert_eq!(values(&all[5..]), aborted);
    assert_eq!(all[0].key.as_deref(), Some(&b"k0"[..]));
}

#[test]
fn recreating_a_topic_with_another_partition_count_fails_naming_it() {
    let kafka = KafkaCluster::get().expect("broker");
    let topic = KafkaCluster::unique_topic("partition_mismatch");
    kafka.create_topic(&topic, 3).unwrap();
    // Same count: idempotent.
    kafka.create_topic(&topic, 3).unwrap();

    let err = kafka.create_topic(&topic, 2).unwrap_err();
    assert!(err.to_string().contains(&topic), "{err}");
    match err {
        ClusterError::Kafka(Error::PartitionCountMismatch {
            topic: t,
            expected,
            actual,
        }) => {
            assert_eq!((t.as_str(), expected, actual), (topic.as_str(), 2, 3));
        }
        other => panic!("unexpected error: {other}"),
    }
    assert_eq!(
        weir_kafka::Error::PartitionCountMismatch {
            topic: topic.clone(),
            expected: 2,
            actual: 3
        }
        .kind(),
        weir_core::ErrorKind::User
    );
}

#[test]
fn produced_batches_land_where_asked_and_read_back_in_order() {
    let kafka = KafkaCluster::get().expect("broker");
    let topic = KafkaCluster::unique_topic("produce_batch");
    kafka.create_topic(&topic, 3).unwrap();

    let records: Vec<ProduceRecord> = (0..30)
        .map(|i| ProduceRecord::new(format!("k{i}"), format!("v{i}")).to_partition(i % 3))
        .collect();
    let positions = kafka.produce(&topic, &records).unwrap();
    assert_eq!(positions.len(), 30);
    for (i, p) in positions.iter().enumerate() {
        assert_eq!(p.partition, i32::try_from(i % 3).unwrap());
        assert_eq!(p.offset, i64::try_from(i / 3).unwrap());
    }

    let read = kafka.read_uncommitted(&topic).unwrap();
    assert_eq!(read.len(), 30);
    for (partition, chunk) in read.chunks(10).enumerate() {
        assert!(chunk
            .iter()
            .all(|r| r.partition == i32::try_from(partition).unwrap()));
        let offsets: Vec<i64> = chunk.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, (0..10).collect::<Vec<i64>>());
    }
    assert_eq!(kafka.read_committed(&topic).unwrap().len(), 30);

    // An empty topic reads as empty, without waiting for the bound.
    let empty = KafkaCluster::unique_topic("empty");
    kafka.create_topic(&empty, 2).unwrap();
    assert!(kafka.read_committed(&empty).unwrap().is_empty());
}
