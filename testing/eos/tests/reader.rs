//! The checker's Java reader against a real broker: it returns committed
//! records only (aborted and still-open transactions filtered out, as
//! read_committed must) and reports a partition with an open transaction
//! through its end offsets, which is how the verifier finds dangling
//! transactions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use weir_eos::dump::Dump;
use weir_kafka::{ProduceRecord, TransactionalProducer};
use weir_testing::KafkaCluster;

/// The checkout this test runs in, found at run time (a path baked in at
/// build time would be another clone's when the build directory is shared).
fn repo_root() -> PathBuf {
    weir_testing::cluster::checkout_root().unwrap()
}

/// Compiles `checker/EosReader.java` against the launcher's jars; returns
/// the classpath to run it with.
fn compile_reader(dir: &Path) -> String {
    let libs = weir_testing::cluster::kafka_client_libs().unwrap();
    let out = Command::new("javac")
        .arg("-d")
        .arg(dir)
        .arg("-cp")
        .arg(libs.join("kafka-clients-4.3.1.jar"))
        .arg(repo_root().join("testing/eos/checker/EosReader.java"))
        .output()
        .expect("javac (a JDK 17+) is needed");
    assert!(
        out.status.success(),
        "javac failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("{}:{}/*", dir.display(), libs.display())
}

#[test]
fn the_reader_sees_committed_records_only_and_flags_an_open_transaction() {
    let kafka = KafkaCluster::get().expect("test broker");
    let topic = KafkaCluster::unique_topic("eos-reader");
    kafka.create_topic(&topic, 2).unwrap();
    let conn = kafka.connection();
    let txn = |records: &[(i32, &str)], end: &str| {
        let p =
            TransactionalProducer::new(&conn, KafkaCluster::unique_transactional_id("eos-reader"))
                .unwrap();
        p.init().unwrap();
        p.begin().unwrap();
        for (partition, value) in records {
            p.send(
                &topic,
                &ProduceRecord::new("k", *value).to_partition(*partition),
            )
            .unwrap();
        }
        match end {
            "commit" => p.commit().unwrap(),
            "abort" => p.abort().unwrap(),
            _ => p.flush().unwrap(), // left open
        }
        p
    };
    txn(&[(0, "a"), (0, "b"), (1, "c")], "commit");
    txn(&[(0, "aborted-1"), (1, "aborted-2")], "abort");
    txn(&[(0, "d")], "commit");
    let open = txn(&[(1, "open")], "open");

    // A windowed count topic: TimeWindowedSerde keys (key || start, 8 bytes
    // big-endian) and i64 values, one malformed value among them.
    let windowed = KafkaCluster::unique_topic("eos-reader-windowed");
    kafka.create_topic(&windowed, 1).unwrap();
    let windowed_key = |key: &str, start: i64| {
        let mut bytes = key.as_bytes().to_vec();
        bytes.extend_from_slice(&start.to_be_bytes());
        bytes
    };
    let mut counted = ProduceRecord::new(
        windowed_key("k00007", 1_700_000_005_000),
        3i64.to_be_bytes(),
    );
    counted.timestamp = Some(1_700_000_006_123);
    let malformed = ProduceRecord::new(windowed_key("k00008", 5_000), vec![1u8, 2]);
    weir_kafka::produce_batch(&conn, &windowed, &[counted, malformed]).unwrap();

    // A topic dumped raw (the poison rounds' input and dead-letter topic):
    // bytes that are not UTF-8 and a null key come back as written.
    let raw = KafkaCluster::unique_topic("eos-reader-raw");
    kafka.create_topic(&raw, 1).unwrap();
    let mut keyless = ProduceRecord::new("x", "plain\ttext");
    keyless.key = None;
    weir_kafka::produce_batch(
        &conn,
        &raw,
        &[
            ProduceRecord::new("k1", vec![0xffu8, 0xfe, 0, b'x']),
            keyless,
        ],
    )
    .unwrap();

    let classes = tempfile::tempdir().unwrap();
    let classpath = compile_reader(classes.path());
    let dump_file = classes.path().join("dump.tsv");
    let out = Command::new("java")
        .args(["-cp", &classpath, "EosReader", "dump"])
        .arg(kafka.bootstrap_servers())
        .arg(&dump_file)
        .args(["120", &topic, &format!("{windowed}:windowed")])
        .arg(format!("{raw}:raw"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = Dump::parse(&std::fs::read_to_string(&dump_file).unwrap()).unwrap();
    let values: Vec<(i32, &str)> = dump
        .topic(&topic)
        .iter()
        .map(|r| (r.partition, r.value.as_deref().unwrap()))
        .collect();
    assert_eq!(values, [(0, "a"), (0, "b"), (0, "d"), (1, "c")]);
    let counts: Vec<(i64, &str, &str)> = dump
        .topic(&windowed)
        .iter()
        .map(|r| {
            (
                r.timestamp,
                r.key.as_deref().unwrap(),
                r.value.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts[0], (1_700_000_006_123, "k00007@1700000005000", "3"));
    assert_eq!((counts[1].1, counts[1].2), ("k00008@5000", "!hex:0102"));
    let raws = dump.raw_topic(&raw);
    assert_eq!(raws.len(), 2);
    assert_eq!(raws[0].key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(raws[0].value.as_deref(), Some(&[0xffu8, 0xfe, 0, b'x'][..]));
    assert!(raws[0].headers.is_empty());
    assert_eq!(raws[1].key, None);
    assert_eq!(raws[1].value.as_deref(), Some(&b"plain\ttext"[..]));
    assert!(
        dump.topic(&raw).is_empty(),
        "a raw topic is not dumped as text"
    );
    let ends: Vec<_> = dump.ends.iter().filter(|e| e.topic == topic).collect();
    assert_eq!(ends.len(), 2);
    assert_eq!(
        ends[0].committed, ends[0].uncommitted,
        "p0 has no open transaction"
    );
    assert!(
        ends[1].committed < ends[1].uncommitted,
        "p1's open transaction shows: {:?}",
        ends[1]
    );
    open.abort().unwrap();
}
