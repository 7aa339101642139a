//! The embedded development broker (librdkafka's mock cluster): what works
//! against it and what does not.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use weir_kafka::{
    create_topics, partition_count, produce_batch, read_to_end, EmbeddedBroker, Error, Isolation,
    ProduceRecord, TopicSpec,
};

#[test]
fn creates_topics_produces_and_reads_back() {
    let broker = EmbeddedBroker::start().unwrap();
    assert!(!broker.bootstrap_servers().is_empty());
    let conn = broker.connection().with_timeout(Duration::from_secs(10));

    broker
        .create_topics(&[TopicSpec::new("in", 3), TopicSpec::new("out", 1)])
        .unwrap();
    // Metadata reports partition counts.
    assert_eq!(partition_count(&conn, "in").unwrap(), Some(3));
    assert_eq!(partition_count(&conn, "out").unwrap(), Some(1));
    // Asking for a missing topic's count must not auto-create it (the mock,
    // like a default Kafka broker, honours auto-creation requests).
    assert_eq!(partition_count(&conn, "absent").unwrap(), None);
    assert_eq!(partition_count(&conn, "absent").unwrap(), None);
    // Idempotent with the same count; a different count is refused.
    broker.create_topics(&[TopicSpec::new("in", 3)]).unwrap();
    let err = broker
        .create_topics(&[TopicSpec::new("in", 5)])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::PartitionCountMismatch {
                expected: 5,
                actual: 3,
                ..
            }
        ),
        "{err}"
    );

    let records: Vec<ProduceRecord> = (0..20)
        .map(|i| ProduceRecord::new(format!("k{i}"), format!("v{i}")).with_timestamp(1_000 + i))
        .collect();
    let positions = produce_batch(&conn, "in", &records).unwrap();
    assert_eq!(positions.len(), 20);

    let read = read_to_end(&conn, "in", Isolation::ReadUncommitted).unwrap();
    assert_eq!(read.len(), 20);
    let mut values: Vec<String> = read
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect();
    values.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
    expected.sort();
    assert_eq!(values, expected);
    assert!(read.iter().all(|r| r.timestamp.is_some_and(|t| t >= 1_000)));
    broker.stop();
}

/// The mock cluster has no CreateTopics API: the admin path fails (bounded by
/// the connection timeout) rather than creating the topic.
#[test]
fn admin_create_topics_is_not_supported() {
    let broker = EmbeddedBroker::start().unwrap();
    let conn = broker.connection().with_timeout(Duration::from_secs(5));
    let result = create_topics(&conn, &[TopicSpec::new("via-admin", 1)]);
    assert!(
        result.is_err(),
        "CreateTopics unexpectedly worked: {result:?}"
    );
}

#[test]
fn stopping_twice_is_harmless_and_drop_stops() {
    let broker = EmbeddedBroker::start().unwrap();
    let other = EmbeddedBroker::start().unwrap();
    assert_ne!(broker.bootstrap_servers(), other.bootstrap_servers());
    broker.stop();
    drop(other);
}
