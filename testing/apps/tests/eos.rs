//! `processing.guarantee = exactly_once_v2` against the real broker: output,
//! changelog records and input offsets commit in one transaction per stream
//! thread, so a `read_committed` reader sees every input record's effect
//! exactly once, also after an instance is killed with SIGKILL while its
//! transaction is open. (The full fault-injection verifier, with several
//! instances, repeated kills and broker restarts, is `testing/eos/run`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weir::prelude::*;
use weir_kafka::{ConsumedRecord, ProduceRecord};
use weir_testing::KafkaCluster;

fn cluster() -> &'static KafkaCluster {
    KafkaCluster::get().expect("test broker")
}

fn unique_state_dir() -> String {
    std::env::temp_dir()
        .join("weir-tests")
        .join(KafkaCluster::unique_group("eos-state"))
        .display()
        .to_string()
}

fn topics(test: &str) -> (String, String, String) {
    let input = KafkaCluster::unique_topic(&format!("{test}-in"));
    let output = KafkaCluster::unique_topic(&format!("{test}-out"));
    cluster().create_topic(&input, 4).unwrap();
    cluster().create_topic(&output, 4).unwrap();
    (input, output, KafkaCluster::unique_group(test))
}

fn string(bytes: &Option<Vec<u8>>) -> String {
    String::from_utf8(bytes.clone().unwrap()).unwrap()
}

/// Waits until `read_committed` output of `topic` has at least `n` records.
fn wait_committed(topic: &str, n: usize, timeout: Duration) -> Vec<ConsumedRecord> {
    let start = Instant::now();
    loop {
        let records = cluster().read_committed(topic).unwrap();
        if records.len() >= n {
            return records;
        }
        assert!(
            start.elapsed() < timeout,
            "after {timeout:?} {topic} has {} committed records of {n}",
            records.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn exactly_once_echo_commits_every_record_once() {
    let (input, output, app_id) = topics("eos-echo");
    let state_dir = unique_state_dir();
    let config = StreamsConfig::from_pairs([
        ("application.id", app_id.as_str()),
        ("bootstrap.servers", cluster().bootstrap_servers()),
        ("processing.guarantee", "exactly_once_v2"),
        ("num.stream.threads", "2"),
        ("state.dir", state_dir.as_str()),
        ("session.timeout.ms", "6000"),
    ])
    .unwrap();
    let mut app = KafkaStreams::new(
        weir_test_apps::echo_topology(&input, &output).unwrap(),
        config,
    )
    .unwrap();
    app.start().unwrap();
    let records: Vec<ProduceRecord> = (0..2000)
        .map(|i| ProduceRecord::new(format!("k{}", i % 40), format!("v{i:05}")))
        .collect();
    cluster().produce(&input, &records).unwrap();
    let out = wait_committed(&output, 2000, Duration::from_secs(90));
    app.close(Duration::from_secs(30)).unwrap();

    let mut values: Vec<String> = out.iter().map(|r| string(&r.value)).collect();
    values.sort();
    let expected: Vec<String> = (0..2000).map(|i| format!("v{i:05}")).collect();
    assert_eq!(values, expected, "every input exactly once");
    let m = app.metrics();
    assert!(m.commits >= 1, "{m:?}");
    assert_eq!(m.aborts, 0, "{m:?}");
    // Nothing left open: what a read_committed reader sees is everything written.
    let uncommitted = cluster().read_uncommitted(&output).unwrap();
    assert_eq!(
        uncommitted.len(),
        2000,
        "no aborted or dangling output after a clean close"
    );
}

/// A count-app process with exactly-once and a long commit interval, so
/// that a kill lands inside an open transaction.
fn spawn_count(app_id: &str, input: &str, output: &str, state_dir: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_count-app"))
        .args([input, output])
        .env("WEIR_APPLICATION_ID", app_id)
        .env("WEIR_BOOTSTRAP_SERVERS", cluster().bootstrap_servers())
        .env("WEIR_PROCESSING_GUARANTEE", "exactly_once_v2")
        .env("WEIR_COMMIT_INTERVAL_MS", "3000")
        // Every update forwarded (no record cache), so that output is written
        // while a transaction is open, not only just before it commits.
        .env("WEIR_STATESTORE_CACHE_MAX_BYTES", "0")
        .env("WEIR_STATE_DIR", state_dir)
        .env("WEIR_SESSION_TIMEOUT_MS", "6000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

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

/// Per key, the committed counts in output order.
fn committed_counts(output: &str) -> BTreeMap<String, Vec<i64>> {
    let mut counts: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in cluster().read_committed(output).unwrap() {
        let v = i64::from_be_bytes(r.value.clone().unwrap().try_into().unwrap());
        counts.entry(string(&r.key)).or_default().push(v);
    }
    counts
}

#[test]
fn a_count_killed_inside_its_transaction_resumes_exactly_once() {
    let (input, output, app_id) = topics("eos-kill");
    let state_dir = unique_state_dir();
    let mut expected = BTreeMap::new();
    produce_words(&input, 0, 3000, &mut expected);
    let mut first = KillOnDrop(spawn_count(&app_id, &input, &output, &state_dir));
    // Output visible to read_uncommitted only: the transaction is open.
    let start = Instant::now();
    while cluster().read_uncommitted(&output).unwrap().len() < 100 {
        assert!(start.elapsed() < Duration::from_secs(60), "no output");
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill")
        .args(["-9", &first.0.id().to_string()])
        .status()
        .unwrap();
    first.0.wait().unwrap();
    produce_words(&input, 3000, 1000, &mut expected);

    // Same state dir: same transactional.id, which fences the dead
    // producer and aborts its open transaction at once.
    let second = KillOnDrop(spawn_count(&app_id, &input, &output, &state_dir));
    let counts = wait_final_counts(&output, &expected);
    second.terminate();

    // Exactly once: per key, the committed counts only ever go up — a count
    // repeated or going back would be an input record counted twice or a
    // state update kept from an aborted transaction.
    for (key, seq) in &counts {
        assert!(
            seq.windows(2).all(|w| w[0] < w[1]),
            "{key}: committed counts not strictly increasing: {seq:?}"
        );
    }
    let uncommitted = cluster().read_uncommitted(&output).unwrap().len();
    let committed: usize = counts.values().map(Vec::len).sum();
    assert!(
        uncommitted > committed,
        "the killed instance's open transaction wrote output that was aborted \
         ({uncommitted} written, {committed} committed)"
    );
}

#[test]
fn a_killed_instance_leaves_only_committed_state_in_its_stores() {
    use weir::store::KeyValueBytesStore;
    use weir::task::TaskId;
    use weir_rocksdb::{store_path, RocksDbBudget, RocksDbBytesStore};

    let (input, output, app_id) = topics("eos-crash-state");
    let state_dir = unique_state_dir();
    let mut app = KillOnDrop(spawn_count(&app_id, &input, &output, &state_dir));
    // Input keeps arriving (bounded: 400 batches), so that transactions keep opening.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feeder = {
        let (input, stop) = (input.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut expected = BTreeMap::new();
            for batch in 0..400 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                produce_words(&input, batch * 100, 100, &mut expected);
                std::thread::sleep(Duration::from_millis(50));
            }
            expected
        })
    };
    // Kill once two transactions have committed (a store writes the state
    // of a commit out to the operating system at the next one) and another
    // is open with output in it. One transaction's markers reach the output's
    // partitions one at a time, so a read can see it committed in some
    // partitions only: a growth of the committed output counts as another
    // transaction only a good part of the commit interval (3 s) after the
    // last one counted.
    let start = Instant::now();
    let mut commits_seen = 0;
    let mut last_committed = 0;
    let mut last_counted: Option<Instant> = None;
    loop {
        let committed = cluster().read_committed(&output).unwrap().len();
        let written = cluster().read_uncommitted(&output).unwrap().len();
        if committed > last_committed {
            if last_counted.is_none_or(|t| t.elapsed() >= Duration::from_millis(1500)) {
                commits_seen += 1;
                last_counted = Some(Instant::now());
            }
            last_committed = committed;
        }
        if commits_seen >= 2 && written > committed {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no commit followed by an open transaction ({committed} committed, {written} written)"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill")
        .args(["-9", &app.0.id().to_string()])
        .status()
        .unwrap();
    app.0.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let expected = feeder.join().unwrap();

    // Each task's RocksDB store must hold exactly the committed changelog up
    // to the offset it records: nothing from the transaction the kill cut short.
    let changelog = cluster()
        .read_committed(&format!("{app_id}-counts-changelog"))
        .unwrap();
    let budget = RocksDbBudget::new(8 << 20).unwrap();
    let mut checked = 0;
    for partition in 0..4 {
        let path = store_path(
            std::path::Path::new(&state_dir),
            &app_id,
            TaskId::new(0, partition),
            "counts",
        );
        if !path.exists() {
            continue;
        }
        let store = RocksDbBytesStore::open("counts", &path, budget.clone()).unwrap();
        let offset = store.committed_offset().unwrap();
        let held: BTreeMap<Vec<u8>, Vec<u8>> =
            store.all().unwrap().collect::<weir::Result<_>>().unwrap();
        let mut replayed: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for r in changelog
            .iter()
            .filter(|r| r.partition == partition && offset.is_some_and(|o| r.offset <= o))
        {
            match &r.value {
                Some(v) => replayed.insert(r.key.clone().unwrap(), v.clone()),
                None => replayed.remove(r.key.as_ref().unwrap()),
            };
        }
        assert_eq!(
            held, replayed,
            "store of partition {partition} (offset {offset:?}) differs from its committed changelog"
        );
        if offset.is_some() {
            checked += 1;
        }
    }
    assert!(
        checked > 0,
        "no store had committed anything before the kill"
    );

    // And a restart on the same state finishes with exact counts.
    let second = KillOnDrop(spawn_count(&app_id, &input, &output, &state_dir));
    wait_final_counts(&output, &expected);
    second.terminate();
}

/// Waits until the last committed count of every key equals `expected`;
/// returns every key's committed counts in order.
fn wait_final_counts(output: &str, expected: &BTreeMap<String, i64>) -> BTreeMap<String, Vec<i64>> {
    let start = Instant::now();
    loop {
        let counts = committed_counts(output);
        let last: BTreeMap<String, i64> = counts
            .iter()
            .map(|(k, v)| (k.clone(), *v.last().unwrap()))
            .collect();
        if &last == expected {
            return counts;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "committed counts {last:?}\nexpected {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A child process killed when the test ends, also when it fails.
struct KillOnDrop(Child);

impl KillOnDrop {
    /// Stops the process with SIGTERM (a clean close) and checks it exited 0.
    fn terminate(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(self.0.wait().unwrap().success());
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
