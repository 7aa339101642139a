//! A global table against the real broker: its store is fed by every
//! partition of its topic, bootstrapped before the first stream record is
//! processed, kept up to date while the application runs, resumed from its
//! checkpoint after a restart (RocksDB) or read again from the beginning
//! (in memory), and read `read_committed`: under exactly_once_v2 an aborted
//! global record is never seen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_core::dsl::{Materialized, StreamsBuilder};
use weir_core::handler::{LogAndContinue, LogAndFail};
use weir_core::topology::{Consumed, Produced, Topology};
use weir_core::{ProcessingGuarantee, Serdes};
use weir_kafka::{ProduceRecord, RuntimeConfig, State, StreamsRuntime};
use weir_testing::KafkaCluster;

fn cluster() -> &'static KafkaCluster {
    KafkaCluster::get().expect("test broker")
}

/// Stream `input` left-joined with the global table of `global` (the
/// stream value is the table key) into `output` as `<value>=<table value>`.
fn topology(input: &str, global: &str, output: &str, in_memory: bool) -> Topology {
    let builder = StreamsBuilder::new();
    let mut store = Materialized::as_("global-store", Serdes::string(), Serdes::string());
    if in_memory {
        store = store.in_memory();
    }
    let table = builder.global_table(
        global,
        Consumed::with(Serdes::string(), Serdes::string()),
        store,
    );
    builder
        .stream(input, Consumed::with(Serdes::string(), Serdes::string()))
        .left_join_global(
            &table,
            |_k, v| Some(v.clone()),
            |v, t| format!("{v}={}", t.map_or("none", String::as_str)),
        )
        .to(output, Produced::with(Serdes::string(), Serdes::string()));
    builder.build().unwrap()
}

fn config(app_id: &str, state_dir: &Path, exactly_once: bool) -> RuntimeConfig {
    let mut rc = RuntimeConfig::new(app_id, cluster().bootstrap_servers());
    rc.commit_interval = Duration::from_millis(200);
    // Two stream threads read the one global store.
    rc.num_stream_threads = 2;
    rc.state_dir = Some(state_dir.to_path_buf());
    rc.task.default_bytes_store = Some(weir_rocksdb::rocksdb_default_bytes_store(
        state_dir.to_path_buf(),
        app_id.to_string(),
        weir_rocksdb::RocksDbBudget::new(32 << 20).unwrap(),
    ));
    rc.consumer_properties
        .push(("session.timeout.ms".to_string(), "6000".to_string()));
    if exactly_once {
        rc.task.guarantee = ProcessingGuarantee::ExactlyOnceV2;
    }
    rc
}

fn wait_running(app: &StreamsRuntime) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.state() != State::Running {
        assert!(Instant::now() < deadline, "not Running within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `output` (read_committed) holds `n` values; returns them.
fn wait_output(output: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let values: Vec<String> = cluster()
            .read_committed(output)
            .unwrap()
            .into_iter()
            .map(|r| String::from_utf8(r.value.unwrap()).unwrap())
            .collect();
        if values.len() >= n {
            return values;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} output records within 60 s: {values:?}",
            values.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn topics(test: &str) -> (String, String, String) {
    let input = KafkaCluster::unique_topic(&format!("{test}-in"));
    let global = KafkaCluster::unique_topic(&format!("{test}-global"));
    let output = KafkaCluster::unique_topic(&format!("{test}-out"));
    cluster().create_topic(&input, 2).unwrap();
    cluster().create_topic(&global, 2).unwrap();
    cluster().create_topic(&output, 1).unwrap();
    (input, global, output)
}

fn at(key: &str, value: &[u8], partition: i32) -> ProduceRecord {
    ProduceRecord::new(key, value).to_partition(partition)
}

#[test]
fn bootstrap_updates_and_restart_from_the_checkpoint() {
    let (input, global, output) = topics("global-boot");
    let app_id = KafkaCluster::unique_group("global-boot");
    let dir = tempfile::tempdir().unwrap();
    // Both partitions of the global topic, and a record no serde can read
    // (a string for an i64? no: an invalid UTF-8 string) that the first run
    // skips (log and continue).
    cluster()
        .produce(
            &global,
            &[
                at("a", b"A", 0),
                at("b", b"B", 1),
                at("bad", &[0xff, 0xfe], 0),
            ],
        )
        .unwrap();
    // Stream records written before the start: the very first one processed
    // must see the bootstrapped table.
    cluster()
        .produce(&input, &[at("1", b"a", 0), at("2", b"b", 1)])
        .unwrap();

    let mut rc = config(&app_id, dir.path(), false);
    rc.task.deserialization_handler = Arc::new(LogAndContinue);
    let mut app =
        StreamsRuntime::start(topology(&input, &global, &output, false), rc, None).unwrap();
    wait_running(&app);
    let mut first = wait_output(&output, 2);
    first.sort();
    assert_eq!(first, ["a=A", "b=B"]);

    // Updates while running reach the store.
    cluster()
        .produce(&global, &[at("a", b"A2", 0), at("c", b"C", 1)])
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    cluster()
        .produce(&input, &[at("3", b"a", 0), at("4", b"c", 0)])
        .unwrap();
    let values = wait_output(&output, 4);
    assert_eq!(values[2..], ["a=A2", "c=C"]);
    app.close(Duration::from_secs(30)).unwrap();
    let checkpoint =
        std::fs::read_to_string(dir.path().join(&app_id).join("global/.checkpoint")).unwrap();
    assert!(
        checkpoint.contains(&format!("{global} 0 3")),
        "{checkpoint}"
    );
    assert!(
        checkpoint.contains(&format!("{global} 1 2")),
        "{checkpoint}"
    );

    // Restarted with log-and-fail, the RocksDB store resumes from its
    // checkpoint: it never reads the bad record again, and keeps the table.
    let rc = config(&app_id, dir.path(), false);
    let mut app =
        StreamsRuntime::start(topology(&input, &global, &output, false), rc, None).unwrap();
    wait_running(&app);
    cluster().produce(&input, &[at("5", b"b", 1)]).unwrap();
    let values = wait_output(&output, 5);
    assert_eq!(values[4], "b=B");
    app.close(Duration::from_secs(30)).unwrap();

    // An in-memory store reads the topic from the beginning: the bad record
    // stops it (log and fail), with an error naming the topic.
    let rc = config(&app_id, dir.path(), false);
    let topology = topology(&input, &global, &output, true);
    let err = match StreamsRuntime::start(topology, rc, None) {
        Ok(mut app) => {
            // The bootstrap failed on the global thread's side before start
            // returned, or the application stops in error.
            let deadline = Instant::now() + Duration::from_secs(30);
            while app.state() != State::Error {
                assert!(Instant::now() < deadline, "the bad record was not read");
                std::thread::sleep(Duration::from_millis(50));
            }
            app.close(Duration::from_secs(30)).unwrap_err()
        }
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(
        text.contains(&global) && text.contains("offset 1"),
        "{text}"
    );
}

#[test]
fn under_exactly_once_only_committed_global_records_are_read() {
    let (input, global, output) = topics("global-eos");
    let app_id = KafkaCluster::unique_group("global-eos");
    let dir = tempfile::tempdir().unwrap();
    let producer = cluster()
        .transactional_producer(&KafkaCluster::unique_transactional_id("global-eos"))
        .unwrap();
    producer.begin().unwrap();
    producer.send(&global, &at("k", b"committed", 0)).unwrap();
    producer.commit().unwrap();
    producer.begin().unwrap();
    producer.send(&global, &at("k", b"aborted", 0)).unwrap();
    producer.send(&global, &at("x", b"aborted", 1)).unwrap();
    producer.flush().unwrap();
    producer.abort().unwrap();
    cluster()
        .produce(&input, &[at("1", b"k", 0), at("2", b"x", 1)])
        .unwrap();

    let mut rc = config(&app_id, dir.path(), true);
    rc.task.deserialization_handler = Arc::new(LogAndFail);
    let mut app =
        StreamsRuntime::start(topology(&input, &global, &output, false), rc, None).unwrap();
    wait_running(&app);
    let mut values = wait_output(&output, 2);
    values.sort();
    assert_eq!(values, ["k=committed", "x=none"]);
    app.close(Duration::from_secs(30)).unwrap();
}

#[test]
fn a_missing_global_topic_fails_the_start_naming_it() {
    let input = KafkaCluster::unique_topic("global-missing-in");
    let output = KafkaCluster::unique_topic("global-missing-out");
    cluster().create_topic(&input, 1).unwrap();
    cluster().create_topic(&output, 1).unwrap();
    let global = KafkaCluster::unique_topic("global-missing");
    let dir = tempfile::tempdir().unwrap();
    let rc = config(
        &KafkaCluster::unique_group("global-missing"),
        dir.path(),
        false,
    );
    let err = StreamsRuntime::start(topology(&input, &global, &output, true), rc, None)
        .err()
        .expect("the start fails");
    assert!(err.to_string().contains(&global), "{err}");
}
