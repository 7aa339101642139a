//! Counting by key with a changelogged store against the real broker: the
//! changelog topic is created compacted with one partition per task, a
//! restarted instance restores its counts from it (from the beginning when
//! its local state is gone, from where its RocksDB store left off when it is
//! not), and the final counts are exact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use weir::dsl::Materialized;
use weir::prelude::*;
use weir_kafka::ProduceRecord;
use weir_rocksdb::{rocksdb_bytes_supplier, RocksDbBudget};
use weir_testing::KafkaCluster;

fn cluster() -> &'static KafkaCluster {
    KafkaCluster::get().expect("test broker")
}

/// Words keyed by themselves, `n` of them over 50 distinct words, on `partitions`.
fn produce_words(topic: &str, from: usize, n: usize, expected: &mut BTreeMap<String, i64>) {
    let records: Vec<ProduceRecord> = (from..from + n)
        .map(|i| {
            let w = format!("w{:02}", (i * 7) % 50);
            *expected.entry(w.clone()).or_default() += 1;
            ProduceRecord::new(w.clone(), w)
        })
        .collect();
    cluster().produce(topic, &records).unwrap();
}

fn topology(input: &str, output: &str, rocksdb: Option<(&Path, &str)>) -> Topology {
    // In memory unless given a RocksDB directory (the runtime's default
    // would be RocksDB under the default state.dir).
    let mut counts = Materialized::as_("counts", Serdes::string(), Serdes::i64()).in_memory();
    if let Some((dir, app_id)) = rocksdb {
        let budget = RocksDbBudget::new(32 << 20).unwrap();
        counts = counts.with_bytes_supplier(rocksdb_bytes_supplier(
            dir.to_path_buf(),
            app_id.to_string(),
            "counts".to_string(),
            budget,
        ));
    }
    let builder = StreamsBuilder::new();
    builder
        .stream(input, Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .count(counts)
        .to_stream()
        .to(output, Produced::with(Serdes::string(), Serdes::i64()));
    builder.build().unwrap()
}

fn start(app_id: &str, topology: Topology) -> KafkaStreams {
    let config = StreamsConfig::from_pairs([
        ("application.id", app_id),
        ("bootstrap.servers", cluster().bootstrap_servers()),
        ("commit.interval.ms", "200"),
        ("session.timeout.ms", "6000"),
    ])
    .unwrap();
    let mut app = KafkaStreams::new(topology, config).unwrap();
    app.start().unwrap();
    app
}

/// Waits until the last count per key in `output` equals `expected`.
fn wait_for_counts(output: &str, expected: &BTreeMap<String, i64>, timeout: Duration) {
    let start = Instant::now();
    loop {
        let mut last = BTreeMap::new();
        for r in cluster().read_uncommitted(output).unwrap() {
            let k = String::from_utf8(r.key.unwrap()).unwrap();
            let v = i64::from_be_bytes(r.value.unwrap().try_into().unwrap());
            last.insert(k, v);
        }
        if &last == expected {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "counts after {timeout:?}: {last:?}\nexpected: {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn setup(test: &str) -> (String, String, String) {
    let input = KafkaCluster::unique_topic(&format!("{test}-in"));
    let output = KafkaCluster::unique_topic(&format!("{test}-out"));
    cluster().create_topic(&input, 4).unwrap();
    cluster().create_topic(&output, 4).unwrap();
    (input, output, KafkaCluster::unique_group(test))
}

#[test]
fn an_in_memory_count_is_restored_from_its_changelog_after_a_restart() {
    let (input, output, app_id) = setup("state-mem");
    let mut expected = BTreeMap::new();
    produce_words(&input, 0, 1000, &mut expected);
    let mut first = start(&app_id, topology(&input, &output, None));
    wait_for_counts(&output, &expected, Duration::from_secs(60));
    first.close(Duration::from_secs(30)).unwrap();

    let changelog = format!("{app_id}-counts-changelog");
    assert_eq!(
        weir_kafka::partition_count(&cluster().connection(), &changelog).unwrap(),
        Some(4),
        "one changelog partition per task"
    );

    // A new instance has no local state: it restores every count, then goes
    // on. As in Kafka Streams it is Running only once the stores are restored.
    let mut second = start(&app_id, topology(&input, &output, None));
    let deadline = Instant::now() + Duration::from_secs(60);
    while second.state() != State::Running {
        assert!(Instant::now() < deadline, "not Running within 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let restored_when_running = second.metrics().restored_records;
    assert!(
        restored_when_running > 0,
        "Running only after restoring from the changelog"
    );
    produce_words(&input, 1000, 500, &mut expected);
    wait_for_counts(&output, &expected, Duration::from_secs(60));
    let m = second.metrics();
    assert_eq!(
        m.restored_records, restored_when_running,
        "nothing restored after Running: {m:?}"
    );
    second.close(Duration::from_secs(30)).unwrap();
}

#[test]
fn a_rocksdb_count_resumes_from_its_own_offset_and_restores_fully_after_a_wipe() {
    let (input, output, app_id) = setup("state-rocks");
    let dir = tempfile::tempdir().unwrap();
    let mut expected = BTreeMap::new();
    produce_words(&input, 0, 1000, &mut expected);
    let mut first = start(
        &app_id,
        topology(&input, &output, Some((dir.path(), &app_id))),
    );
    wait_for_counts(&output, &expected, Duration::from_secs(60));
    first.close(Duration::from_secs(30)).unwrap();

    // Local state kept: the stores know their changelog offset, nothing to restore.
    let mut second = start(
        &app_id,
        topology(&input, &output, Some((dir.path(), &app_id))),
    );
    produce_words(&input, 1000, 300, &mut expected);
    wait_for_counts(&output, &expected, Duration::from_secs(60));
    assert_eq!(
        second.metrics().restored_records,
        0,
        "resumed from local state"
    );
    second.close(Duration::from_secs(30)).unwrap();

    // Local state wiped: everything restored from the changelog.
    std::fs::remove_dir_all(dir.path().join(&app_id)).unwrap();
    let mut third = start(
        &app_id,
        topology(&input, &output, Some((dir.path(), &app_id))),
    );
    produce_words(&input, 1300, 200, &mut expected);
    wait_for_counts(&output, &expected, Duration::from_secs(60));
    assert!(
        third.metrics().restored_records >= 50,
        "{:?}",
        third.metrics()
    );
    third.close(Duration::from_secs(30)).unwrap();
}

#[test]
fn a_count_killed_with_sigkill_never_counts_lower_after_restart() {
    use std::process::{Command, Stdio};
    let (input, output, app_id) = setup("state-kill");
    // Both runs on one state dir (count-app's stores are RocksDB by
    // default), and no record cache: the kill must land while counts are
    // still being forwarded, which the output volume tells.
    let state_dir = tempfile::tempdir().unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_count-app"))
            .args([&input, &output])
            .env("WEIR_APPLICATION_ID", &app_id)
            .env("WEIR_STATE_DIR", state_dir.path())
            .env("WEIR_STATESTORE_CACHE_MAX_BYTES", "0")
            .env("WEIR_BOOTSTRAP_SERVERS", cluster().bootstrap_servers())
            .env("WEIR_COMMIT_INTERVAL_MS", "500")
            .env("WEIR_SESSION_TIMEOUT_MS", "6000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut expected = BTreeMap::new();
    produce_words(&input, 0, 3000, &mut expected);
    let mut first = spawn();
    let start = Instant::now();
    while cluster().read_uncommitted(&output).unwrap().len() < 100 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "count-app produced nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-9", &first.id().to_string()])
        .status()
        .unwrap();
    first.wait().unwrap();
    produce_words(&input, 3000, 1000, &mut expected);

    let mut second = spawn();
    // At-least-once: a count may be higher than expected (records processed
    // again after the kill), never lower, and every key gets there.
    let start = Instant::now();
    loop {
        let mut last = BTreeMap::new();
        for r in cluster().read_uncommitted(&output).unwrap() {
            let k = String::from_utf8(r.key.unwrap()).unwrap();
            let v = i64::from_be_bytes(r.value.unwrap().try_into().unwrap());
            last.insert(k, v);
        }
        let done = expected
            .iter()
            .all(|(k, want)| last.get(k).is_some_and(|got| got >= want));
        if done {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "counts after restart: {last:?}\nexpected at least: {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    let status = second.wait().unwrap();
    assert!(status.success(), "count-app exit after SIGTERM: {status}");
}

/// `input` -> count per key in 2 s windows, each emitted once closed,
/// closed by the wall clock after 300 ms idle -> `output` (windowed keys).
fn idle_closed_counts(input: &str, output: &str) -> Topology {
    use weir::dsl::{EmitStrategy, TimeWindows};
    let builder = StreamsBuilder::new();
    builder
        .stream(input, Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_secs(2)))
        .emit_strategy(EmitStrategy::on_window_close())
        .close_when_idle(Duration::from_millis(300))
        .count(Materialized::as_("idle-counts", Serdes::string(), Serdes::i64()).in_memory())
        .to_stream()
        .to(
            output,
            Produced::with(Serdes::time_windowed(Serdes::string(), 2000), Serdes::i64()),
        );
    builder.build().unwrap()
}

#[test]
fn windows_closed_by_idle_close_are_not_emitted_again_after_a_restart() {
    for guarantee in ["at_least_once", "exactly_once_v2"] {
        let input = KafkaCluster::unique_topic("idle-in");
        let output = KafkaCluster::unique_topic("idle-out");
        cluster().create_topic(&input, 1).unwrap();
        cluster().create_topic(&output, 1).unwrap();
        let app_id = KafkaCluster::unique_group("idle");
        let config = || {
            StreamsConfig::from_pairs([
                ("application.id", app_id.as_str()),
                ("bootstrap.servers", cluster().bootstrap_servers()),
                ("commit.interval.ms", "200"),
                ("session.timeout.ms", "6000"),
                ("processing.guarantee", guarantee),
            ])
            .unwrap()
        };
        let outputs = || match guarantee {
            "at_least_once" => cluster().read_uncommitted(&output).unwrap().len(),
            _ => cluster().read_committed(&output).unwrap().len(),
        };
        let record = ProduceRecord::new("k", "v").with_timestamp(1_000);
        cluster().produce(&input, &[record]).unwrap();

        // The record's window [0, 2000) closes by the wall clock: ~1.3 s idle.
        let mut first = KafkaStreams::new(idle_closed_counts(&input, &output), config()).unwrap();
        first.start().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while outputs() == 0 {
            assert!(
                Instant::now() < deadline,
                "{guarantee}: no window emitted within 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        first.close(Duration::from_secs(30)).unwrap();
        assert_eq!(outputs(), 1, "{guarantee}");

        // The store says only that stream time reached 1000; the offsets'
        // metadata says the window was emitted. Idle long enough to close
        // it again, the second instance emits nothing.
        let mut second = KafkaStreams::new(idle_closed_counts(&input, &output), config()).unwrap();
        second.start().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while second.state() != State::Running {
            assert!(
                Instant::now() < deadline,
                "{guarantee}: not Running within 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_secs(3));
        second.close(Duration::from_secs(30)).unwrap();
        assert_eq!(outputs(), 1, "{guarantee}: the window was emitted again");
    }
}
