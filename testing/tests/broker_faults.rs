//! Faults outside the records, against the real broker: an output topic
//! deleted while the application runs, topics missing at start, and a full
//! disk under the state directory. Each stops the application with an
//! error naming what failed (what makes `main` exit non-zero), commits
//! nothing past a record that was not written, and a restart once the
//! fault is repaired continues with nothing lost.
//!
//! The outage of the whole broker is in `broker_outage.rs`, a process of
//! its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use weir_core::ProcessingGuarantee;
use weir_kafka::{Error, RuntimeConfig, State, StreamsRuntime};
use weir_testing::KafkaCluster;

#[path = "faults/common.rs"]
mod common;
use common::{check_results, cluster, config, inputs, topology, wait_all, wait_running, Topics};

const GUARANTEES: [ProcessingGuarantee; 2] = [
    ProcessingGuarantee::AtLeastOnce,
    ProcessingGuarantee::ExactlyOnceV2,
];

fn short(g: ProcessingGuarantee) -> &'static str {
    if g.is_exactly_once() {
        "eos"
    } else {
        "alos"
    }
}

/// Waits until `app` stops by itself (a stream thread failed); returns
/// how long that took.
fn wait_stopping(app: &StreamsRuntime, within: Duration) -> Duration {
    let start = Instant::now();
    while !app.is_stopping() {
        assert!(
            start.elapsed() < within,
            "the application kept running for {within:?} (state {:?})",
            app.state()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

/// The error chain of `err`, one cause per line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str("\n  caused by: ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[test]
fn an_output_topic_deleted_while_running_stops_naming_it_and_a_restart_loses_nothing() {
    for g in GUARANTEES {
        let name = format!("deleted-{}", short(g));
        let t = Topics::new(&name);
        t.create();
        let app_id = KafkaCluster::unique_group(&name);
        let dir = tempfile::tempdir().unwrap();
        let mut app =
            StreamsRuntime::start(topology(&t), config(&app_id, dir.path(), g), None).unwrap();
        wait_running(&app, Duration::from_secs(60));
        cluster().produce(&t.input, &inputs(0, 200)).unwrap();
        wait_all(&t.out, 200, Duration::from_secs(60));

        cluster().delete_topic(&t.out).unwrap();
        cluster().produce(&t.input, &inputs(200, 400)).unwrap();
        let took = wait_stopping(&app, Duration::from_secs(120));
        let err = app.close(Duration::from_secs(60)).unwrap_err();
        let text = chain(&err);
        eprintln!("{g:?}: stopped {took:?} after the deletion: {text}");
        assert!(text.contains(&t.out), "the error names the topic: {text}");
        assert_eq!(app.state(), State::Error);

        // Re-created, the topic receives every result not written before
        // (the first 200 went with the deleted topic); the counts, which
        // went on to their own topic, are whole.
        cluster().create_topic(&t.out, 1).unwrap();
        let mut app =
            StreamsRuntime::start(topology(&t), config(&app_id, dir.path(), g), None).unwrap();
        wait_running(&app, Duration::from_secs(60));
        let seen = wait_all_from(&t.out, 200, 400, Duration::from_secs(60));
        check_counts(&t, 400, g);
        if g.is_exactly_once() {
            assert!(
                seen.iter().all(|c| *c == 1),
                "{g:?}: a result written twice to the re-created topic"
            );
        }
        app.close(Duration::from_secs(60)).unwrap();
    }
}

#[test]
fn an_input_topic_deleted_while_running_stops_naming_it() {
    let t = Topics::new("deleted-input");
    t.create();
    let app_id = KafkaCluster::unique_group("deleted-input");
    let dir = tempfile::tempdir().unwrap();
    let g = ProcessingGuarantee::AtLeastOnce;
    let mut app =
        StreamsRuntime::start(topology(&t), config(&app_id, dir.path(), g), None).unwrap();
    wait_running(&app, Duration::from_secs(60));
    cluster().produce(&t.input, &inputs(0, 100)).unwrap();
    check_results(&t, 100, g, Duration::from_secs(60));

    cluster().delete_topic(&t.input).unwrap();
    let took = wait_stopping(&app, Duration::from_secs(120));
    let err = app.close(Duration::from_secs(60)).unwrap_err();
    let text = chain(&err);
    eprintln!("stopped {took:?} after the deletion: {text}");
    assert!(text.contains(&t.input), "the error names the topic: {text}");
    assert_eq!(app.state(), State::Error);
}

/// Waits until every value of `from..to` is in `topic`; returns how many
/// of each there are.
fn wait_all_from(topic: &str, from: usize, to: usize, within: Duration) -> Vec<usize> {
    let deadline = Instant::now() + within;
    loop {
        let mut seen = vec![0usize; to - from];
        for v in common::out_values(topic) {
            assert!((from..to).contains(&v), "{topic}: unexpected value {v}");
            seen[v - from] += 1;
        }
        let missing = seen.iter().filter(|c| **c == 0).count();
        if missing == 0 {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "{topic}: {missing} of {} results missing",
            to - from
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The counts for inputs `0..n` are all in `t.counts`: exact under
/// exactly-once, no lower under at-least-once.
fn check_counts(t: &Topics, n: usize, g: ProcessingGuarantee) {
    let expected = common::inputs_per_key(n);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counts = common::last_counts(&t.counts);
        let ok = if g.is_exactly_once() {
            counts == expected
        } else {
            expected
                .iter()
                .all(|(k, n)| counts.get(k).is_some_and(|c| c >= n))
        };
        if ok {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{g:?}: counts {counts:?}, expected {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn missing_topics_at_start_fail_naming_them() {
    let t = Topics::new("missing");
    let app_id = KafkaCluster::unique_group("missing");
    let dir = tempfile::tempdir().unwrap();
    let start = |t: &Topics| {
        StreamsRuntime::start(
            topology(t),
            config(&app_id, dir.path(), ProcessingGuarantee::AtLeastOnce),
            None,
        )
    };

    // No input topic.
    let err = start(&t).err().expect("started without its input topic");
    assert!(
        matches!(err, Error::MissingSourceTopic { ref topic } if *topic == t.input),
        "{err}"
    );
    assert!(err.to_string().contains(&t.input), "{err}");
    assert_eq!(err.kind(), weir_core::ErrorKind::User);

    // The input but no output topic: the producers never let the broker
    // create it, so starting fails at once rather than at the first send.
    cluster().create_topic(&t.input, 2).unwrap();
    cluster().create_topic(&t.counts, 1).unwrap();
    let err = start(&t).err().expect("started without its output topic");
    eprintln!("missing output: {err}");
    assert!(
        matches!(err, Error::MissingSinkTopic { ref topic } if *topic == t.out),
        "{err}"
    );
    assert!(err.to_string().contains(&t.out), "{err}");
    assert_eq!(err.kind(), weir_core::ErrorKind::User);
    // ... and nothing created it behind our back.
    assert_eq!(
        weir_kafka::partition_count(&cluster().connection(), &t.out).unwrap(),
        None
    );

    // With every topic there, it runs.
    cluster().create_topic(&t.out, 1).unwrap();
    let mut app = start(&t).unwrap();
    wait_running(&app, Duration::from_secs(60));
    cluster().produce(&t.input, &inputs(0, 50)).unwrap();
    check_results(
        &t,
        50,
        ProcessingGuarantee::AtLeastOnce,
        Duration::from_secs(60),
    );
    app.close(Duration::from_secs(30)).unwrap();
}

/// A tmpfs of `size_mib` MiB mounted on a directory of its own, unmounted
/// and removed on drop, whatever happens to the test.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// `None` when this process may not mount (not root, no tmpfs).
    fn mount(size_mib: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .ok()?;
        status.success().then_some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Makes room: the same filesystem, its data kept, `size_mib` MiB.
    fn grow(&self, size_mib: u32) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size_mib}m")])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(status.success(), "remount failed");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(self.path())
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(self.path()).status();
        }
    }
}

/// `config` with RocksDB stores under `state_dir`.
fn rocksdb_config(app_id: &str, state_dir: &Path, g: ProcessingGuarantee) -> RuntimeConfig {
    let mut rc = config(app_id, state_dir, g);
    rc.task.default_bytes_store = Some(weir_rocksdb::rocksdb_default_bytes_store(
        state_dir.to_path_buf(),
        app_id.to_string(),
        weir_rocksdb::RocksDbBudget::new(8 << 20).unwrap(),
    ));
    rc
}

/// Large input values: the stores' write-ahead logs fill a small disk fast.
fn big_inputs(from: usize, to: usize) -> Vec<weir_kafka::ProduceRecord> {
    let pad = "x".repeat(8 * 1024);
    (from..to)
        .map(|i| weir_kafka::ProduceRecord::new(format!("k{i}"), format!("{i} {pad}")))
        .collect()
}

#[test]
fn a_full_state_disk_stops_naming_the_store_and_a_restart_with_room_loses_nothing() {
    for g in GUARANTEES {
        let Some(disk) = SmallDisk::mount(16) else {
            eprintln!("skipped: cannot mount a tmpfs here (not root?)");
            return;
        };
        let state_dir: PathBuf = disk.path().join("state");
        let name = format!("disk-{}", short(g));
        let t = Topics::new(&name);
        t.create();
        let app_id = KafkaCluster::unique_group(&name);
        let mut app = StreamsRuntime::start(
            big_topology(&t),
            rocksdb_config(&app_id, &state_dir, g),
            None,
        )
        .unwrap();
        wait_running(&app, Duration::from_secs(60));
        // ~40 MiB of state for a 16 MiB disk.
        let n = 5000;
        for chunk in (0..n).step_by(500) {
            cluster()
                .produce(&t.input, &big_inputs(chunk, chunk + 500))
                .unwrap();
        }
        let took = wait_stopping(&app, Duration::from_secs(120));
        let err = app.close(Duration::from_secs(60)).unwrap_err();
        let text = chain(&err);
        eprintln!("{g:?}: stopped {took:?} after the last input was written: {text}");
        assert!(
            text.contains("No space left on device") || text.contains("ENOSPC"),
            "the error says the disk is full: {text}"
        );
        assert!(
            text.contains("big-store") || text.contains(&state_dir.display().to_string()),
            "the error names the store or the state directory: {text}"
        );
        assert_eq!(app.state(), State::Error);

        // Room again: the same state directory, data kept.
        disk.grow(256);
        let mut app = StreamsRuntime::start(
            big_topology(&t),
            rocksdb_config(&app_id, &state_dir, g),
            None,
        )
        .unwrap();
        wait_running(&app, Duration::from_secs(60));
        let seen = wait_all(&t.out, n, Duration::from_secs(120));
        if g.is_exactly_once() {
            let duplicated = seen.iter().filter(|c| **c > 1).count();
            assert_eq!(duplicated, 0, "{g:?}: results duplicated");
        }
        app.close(Duration::from_secs(60)).unwrap();
        drop(disk);
    }
}

/// input -> out (the value's number) and input -> a RocksDB table of the
/// values (`big-store`), each value kept under its own key.
fn big_topology(t: &Topics) -> weir_core::topology::Topology {
    use weir_core::dsl::{Materialized, StreamsBuilder};
    use weir_core::topology::{Consumed, Produced};
    use weir_core::Serdes;
    let builder = StreamsBuilder::new();
    let stream = builder.stream(&t.input, Consumed::with(Serdes::string(), Serdes::string()));
    stream
        .map_values(|v| v.split(' ').next().unwrap_or_default().to_string())
        .to(&t.out, Produced::with(Serdes::string(), Serdes::string()));
    stream
        .group_by_key()
        .reduce(
            |_old, new| new,
            Materialized::as_("big-store", Serdes::string(), Serdes::string()),
        )
        .to_stream()
        .map_values(|v| v.len().to_string())
        .to(
            &t.counts,
            Produced::with(Serdes::string(), Serdes::string()),
        );
    builder.build().unwrap()
}
