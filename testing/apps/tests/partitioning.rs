//! Weir partitions keyed records like Kafka's Java producer, against the
//! launcher's real broker: Kafka's Java producer (kafka-clients 4.3.1,
//! default partitioner) writes distinct keys to a 12-partition topic, a Weir
//! application copies them to another 12-partition topic, and Weir's
//! `produce_batch` writes them to a third; every key is on the same
//! partition in all three, and on `toPositive(murmur2(key)) % 12`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weir::prelude::*;
use weir_kafka::{ConsumedRecord, ProduceRecord};
use weir_testing::driver::default_partition;
use weir_testing::KafkaCluster;

const PARTITIONS: i32 = 12;

fn cluster() -> &'static KafkaCluster {
    KafkaCluster::get().expect("test broker")
}

/// The checkout this test runs in (found at run time, not baked in at build time).
fn repo_root() -> PathBuf {
    weir_testing::cluster::checkout_root().unwrap()
}

/// 250 distinct keys of many lengths (murmur2 hashes 4-byte blocks, then a
/// 0-3 byte tail), some not ASCII, and the empty key.
fn keys() -> Vec<String> {
    let mut keys: Vec<String> = (0..249)
        .map(|i| match i % 5 {
            0 => format!("{i}"),
            1 => format!("user-{i}"),
            2 => format!("order/{i:08}/line"),
            3 => format!("clé-ü-{i}"),
            _ => format!("{}-{i}", "x".repeat(i % 13)),
        })
        .collect();
    keys.push(String::new());
    keys
}

/// Writes one record per key with Kafka's Java producer (see
/// `testing/apps/java/KeyedProducer.java`), run by Java's source launcher
/// against the jars the broker launcher fetched.
fn java_produce(topic: &str, keys: &[String]) {
    let libs = weir_testing::cluster::kafka_client_libs().unwrap();
    let java = std::env::var("JAVA_HOME")
        .ok()
        .map(|home| PathBuf::from(home).join("bin/java"))
        .filter(|java| java.is_file())
        .unwrap_or_else(|| PathBuf::from("java"));
    let mut child = Command::new(java)
        .arg("-cp")
        .arg(format!("{}/*", libs.display()))
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            repo_root()
                .join("testing/kafka/log4j2-tools.properties")
                .display()
        ))
        .arg(repo_root().join("testing/apps/java/KeyedProducer.java"))
        .arg(cluster().bootstrap_servers())
        .arg(topic)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java (a JDK 17+, for the source launcher) is needed");
    {
        let mut stdin = child.stdin.take().unwrap();
        for key in keys {
            writeln!(stdin, "{key}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("sent {}", keys.len())),
        "the Java producer failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The partition of each key in `records`; a key seen on two partitions fails.
fn partitions_by_key(topic: &str, records: &[ConsumedRecord]) -> BTreeMap<String, i32> {
    let mut by_key = BTreeMap::new();
    for r in records {
        let key = String::from_utf8(r.key.clone().unwrap_or_default()).unwrap();
        if let Some(other) = by_key.insert(key.clone(), r.partition) {
            assert_eq!(
                other, r.partition,
                "{topic}: key {key:?} on partitions {other} and {}",
                r.partition
            );
        }
    }
    by_key
}

/// Reads `topic` until it holds `n` records (bounded).
fn read_n(topic: &str, n: usize, timeout: Duration) -> Vec<ConsumedRecord> {
    let start = Instant::now();
    loop {
        let records = cluster().read_uncommitted(topic).unwrap();
        if records.len() >= n {
            return records;
        }
        assert!(
            start.elapsed() < timeout,
            "after {timeout:?} {topic} has {} of {n} records",
            records.len()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn keys_land_on_the_partitions_javas_producer_picks() {
    let keys = keys();
    let java_topic = KafkaCluster::unique_topic("part-java");
    let weir_topic = KafkaCluster::unique_topic("part-weir");
    let direct_topic = KafkaCluster::unique_topic("part-direct");
    for topic in [&java_topic, &weir_topic, &direct_topic] {
        cluster().create_topic(topic, PARTITIONS).unwrap();
    }

    // Kafka's Java producer writes the keys; a Weir application copies them.
    java_produce(&java_topic, &keys);
    let state_dir = std::env::temp_dir()
        .join("weir-tests")
        .join(KafkaCluster::unique_group("state"));
    let app_id = KafkaCluster::unique_group("part");
    let state_dir = state_dir.display().to_string();
    let config = StreamsConfig::from_pairs([
        ("application.id", app_id.as_str()),
        ("state.dir", state_dir.as_str()),
        ("bootstrap.servers", cluster().bootstrap_servers()),
        ("commit.interval.ms", "200"),
    ])
    .unwrap();
    let mut app = KafkaStreams::new(
        weir_test_apps::echo_topology(&java_topic, &weir_topic).unwrap(),
        config,
    )
    .unwrap();
    app.start().unwrap();
    let weir_records = read_n(&weir_topic, keys.len(), Duration::from_secs(60));
    app.close(Duration::from_secs(30)).unwrap();

    // Weir's client helper (the Connection-based producers) writes them too.
    let direct: Vec<ProduceRecord> = keys
        .iter()
        .map(|k| ProduceRecord::new(k.clone(), format!("weir:{k}")))
        .collect();
    cluster().produce(&direct_topic, &direct).unwrap();

    let java = partitions_by_key(
        &java_topic,
        &read_n(&java_topic, keys.len(), Duration::ZERO),
    );
    let weir = partitions_by_key(&weir_topic, &weir_records);
    let direct = partitions_by_key(
        &direct_topic,
        &read_n(&direct_topic, keys.len(), Duration::ZERO),
    );
    assert_eq!(java.len(), keys.len(), "every key once in {java_topic}");
    let mut matched = 0;
    let mut mismatches = Vec::new();
    for key in &keys {
        let murmur2 = default_partition(Some(key.as_bytes()), PARTITIONS);
        let (j, w, d) = (java.get(key), weir.get(key), direct.get(key));
        if (j, w, d) == (Some(&murmur2), Some(&murmur2), Some(&murmur2)) {
            matched += 1;
        } else {
            mismatches.push(format!(
                "{key:?}: java {j:?}, weir app {w:?}, produce_batch {d:?}, murmur2 {murmur2}"
            ));
        }
    }
    let used: std::collections::BTreeSet<i32> = java.values().copied().collect();
    println!(
        "{matched} of {} keys on the same partition (Java producer, Weir app, produce_batch, \
         murmur2) across {} of {PARTITIONS} partitions",
        keys.len(),
        used.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} keys placed differently:\n{}",
        mismatches.len(),
        keys.len(),
        mismatches.join("\n")
    );
    assert_eq!(
        used.len(),
        PARTITIONS as usize,
        "the keys spread over every partition"
    );
}
