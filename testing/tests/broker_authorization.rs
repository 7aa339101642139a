//! Authorization faults against a secured broker (the launcher's
//! `start --sasl-acl`: SASL/PLAIN, ACLs enforced). The application runs as
//! the ordinary user `app`, allowed everything on every topic, group and
//! transactional id; a test takes one right away with a DENY ACL (a deny
//! wins over an allow: the broker answers as if the right had never been
//! granted). Each denial stops the application with an error naming what
//! was denied and saying it was an authorization failure, commits nothing
//! past a record that was not written, and once the DENY is removed a
//! restart loses nothing (and under exactly-once writes nothing twice).
//!
//! One secured broker serves every test of the file; each case has topics,
//! group and transactional ids of its own, so cases run side by side and
//! one ACL call denies (or grants back) the rights of several.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use weir_core::ProcessingGuarantee;
use weir_kafka::{ProduceRecord, RuntimeConfig, State, StreamsRuntime};
use weir_testing::KafkaCluster;

#[path = "faults/common.rs"]
mod common;
use common::{inputs, inputs_per_key, topology, Topics};

const ALOS: ProcessingGuarantee = ProcessingGuarantee::AtLeastOnce;
const EOS: ProcessingGuarantee = ProcessingGuarantee::ExactlyOnceV2;

/// The secured broker, with `app` allowed everything (once per process).
/// `RUST_LOG` set, the runtime's log goes to stderr.
fn secured() -> &'static KafkaCluster {
    static GRANTED: OnceLock<()> = OnceLock::new();
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let kafka = KafkaCluster::secured().expect("secured test broker");
    GRANTED.get_or_init(|| {
        kafka
            .acl(&[
                "--add",
                "--allow-principal",
                "User:app",
                "--operation",
                "All",
                "--topic",
                "*",
                "--group",
                "*",
                "--transactional-id",
                "*",
            ])
            .expect("allow app everything");
    });
    kafka
}

/// DENY ACLs for `app`: each rule, one ACL call, denies an operation on
/// the topics, groups and transactional ids starting with the given names
/// (prefixed patterns: the names are unique, and a transactional id is the
/// application id followed by the process and the thread).
struct Denial {
    rules: Vec<(&'static str, Vec<(&'static str, String)>)>,
}

impl Denial {
    fn args(action: &[&str], operation: &str, resources: &[(&str, String)]) -> Vec<String> {
        let mut args: Vec<String> = action.iter().map(|s| (*s).to_string()).collect();
        args.extend(
            [
                "--deny-principal",
                "User:app",
                "--resource-pattern-type",
                "prefixed",
                "--operation",
                operation,
            ]
            .map(String::from),
        );
        for (flag, name) in resources {
            args.extend([(*flag).to_string(), name.clone()]);
        }
        args
    }

    /// Runs the rules' ACL calls side by side (each starts a JVM).
    fn run(&self, action: &[&str]) {
        let started = Instant::now();
        std::thread::scope(|s| {
            for (operation, resources) in &self.rules {
                s.spawn(move || {
                    let args = Self::args(action, operation, resources);
                    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                    secured().acl(&refs).expect("ACL call");
                });
            }
        });
        eprintln!("{action:?} DENY in {:?}", started.elapsed());
    }

    fn apply(&self) {
        self.run(&["--add"]);
    }

    fn lift(&self) {
        self.run(&["--remove", "--force"]);
    }
}

/// One application of a case: its topics, id and state directory.
struct Case {
    name: &'static str,
    guarantee: ProcessingGuarantee,
    topics: Topics,
    app_id: String,
    dir: tempfile::TempDir,
}

impl Case {
    fn new(name: &'static str, guarantee: ProcessingGuarantee) -> Case {
        let topics = Topics::new(&format!("authz-{name}"));
        for (topic, partitions) in [(&topics.input, 2), (&topics.out, 1), (&topics.counts, 1)] {
            secured().create_topic(topic, partitions).unwrap();
        }
        Case {
            name,
            guarantee,
            topics,
            app_id: KafkaCluster::unique_group(&format!("authz-{name}")),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs as `app`, committing every 200 ms.
    fn config(&self) -> RuntimeConfig {
        let mut rc = RuntimeConfig::new(&self.app_id, secured().bootstrap_servers());
        rc.commit_interval = Duration::from_millis(200);
        rc.state_dir = Some(self.dir.path().to_path_buf());
        rc.task.guarantee = self.guarantee;
        rc.client_properties = KafkaCluster::user_properties("app").unwrap();
        rc.consumer_properties
            .push(("session.timeout.ms".to_string(), "6000".to_string()));
        rc
    }

    fn start(&self) -> weir_kafka::Result<StreamsRuntime> {
        StreamsRuntime::start(topology(&self.topics), self.config(), None)
    }

    fn produce(&self, from: usize, to: usize) {
        let records: Vec<ProduceRecord> = inputs(from, to);
        secured().produce(&self.topics.input, &records).unwrap();
    }

    /// Starts the application (which must fail, at start or by itself
    /// within `within`) and returns its error chain.
    fn run_until_failure(&self, within: Duration) -> String {
        let app = match self.start() {
            Err(e) => return chain(&e),
            Ok(app) => app,
        };
        stopped_error(app, within)
    }

    /// Restarts with every right back; waits until every result of inputs
    /// `0..n` is there (exactly once under exactly-once, with exact counts).
    fn check_after_grant(&self, n: usize) {
        let mut app = self.start().unwrap();
        let seen = wait_all(&self.topics.out, n, Duration::from_secs(90));
        let duplicated = seen.iter().filter(|c| **c > 1).count();
        let counts = wait_counts(&self.topics.counts, n, Duration::from_secs(60));
        eprintln!(
            "{} ({:?}): after the grant {n} results, {duplicated} duplicated",
            self.name, self.guarantee
        );
        if self.guarantee.is_exactly_once() {
            assert_eq!(duplicated, 0, "{}: results written twice", self.name);
            assert_eq!(counts, inputs_per_key(n), "{}: counts", self.name);
        }
        app.close(Duration::from_secs(60)).unwrap();
    }
}

/// Waits until `app` stops by itself, closes it and returns its error chain
/// (asserting it ended in the error state).
fn stopped_error(mut app: StreamsRuntime, within: Duration) -> String {
    let start = Instant::now();
    while !app.is_stopping() {
        assert!(
            start.elapsed() < within,
            "the application kept running for {within:?} (state {:?}, {:?})",
            app.state(),
            app.metrics()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let err = app
        .close(Duration::from_secs(60))
        .expect_err("stopped without an error");
    assert_eq!(app.state(), State::Error);
    chain(&err)
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

/// Asserts `text` names `what` and says access was denied.
fn assert_denied(case: &str, text: &str, what: &str) {
    assert!(
        text.contains(what),
        "{case}: the error names {what}: {text}"
    );
    let lower = text.to_lowercase();
    assert!(
        lower.contains("authorization") || lower.contains("not authorized"),
        "{case}: the error says authorization failed: {text}"
    );
}

/// The values of `topic`, read_committed (as the super user).
fn out_values(topic: &str) -> Vec<usize> {
    common::out_values_on(secured(), topic)
}

/// Waits until every value of `0..n` is in `topic`; how many of each.
fn wait_all(topic: &str, n: usize, within: Duration) -> Vec<usize> {
    common::wait_all_on(secured(), topic, n, within)
}

/// number of inputs in `0..n`; returns the last counts.
fn wait_counts(topic: &str, n: usize, within: Duration) -> BTreeMap<String, i64> {
    let expected = inputs_per_key(n);
    let deadline = Instant::now() + within;
    loop {
        let mut last = BTreeMap::new();
        for r in secured().read_committed(topic).unwrap() {
            let key = String::from_utf8(r.key.unwrap()).unwrap();
            let bytes: [u8; 8] = r.value.unwrap().as_slice().try_into().unwrap();
            last.insert(key, i64::from_be_bytes(bytes));
        }
        if expected
            .iter()
            .all(|(k, n)| last.get(k).is_some_and(|c| c >= n))
        {
            return last;
        }
        assert!(
            Instant::now() < deadline,
            "{topic}: counts {last:?}, expected {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// How long a denied application may take to stop.
const STOP_WITHIN: Duration = Duration::from_secs(90);

/// Denied at start: READ on the input topic, WRITE on the output topic
/// (both guarantees), READ on the consumer group, WRITE on the
/// transactional id. Every case's inputs are there before it starts.
#[test]
fn a_right_denied_at_start_stops_naming_it_and_a_grant_loses_nothing() {
    let n = 100;
    let input = Case::new("in", ALOS);
    let out_alos = Case::new("out-alos", ALOS);
    let out_eos = Case::new("out-eos", EOS);
    let group = Case::new("group", ALOS);
    let txn = Case::new("txn", EOS);
    let denial = Denial {
        rules: vec![
            (
                "Read",
                vec![
                    ("--topic", input.topics.input.clone()),
                    ("--group", group.app_id.clone()),
                ],
            ),
            (
                "Write",
                vec![
                    ("--topic", out_alos.topics.out.clone()),
                    ("--topic", out_eos.topics.out.clone()),
                    ("--transactional-id", txn.app_id.clone()),
                ],
            ),
        ],
    };
    denial.apply();
    let cases = [&input, &out_alos, &out_eos, &group, &txn];
    for case in cases {
        case.produce(0, n);
    }

    let errors: Vec<String> = std::thread::scope(|s| {
        let running: Vec<_> = cases
            .iter()
            .map(|case| s.spawn(move || case.run_until_failure(STOP_WITHIN)))
            .collect();
        running.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (case, text) in cases.iter().zip(&errors) {
        eprintln!("{} ({:?}) stopped: {text}", case.name, case.guarantee);
    }
    assert_denied("input READ", &errors[0], &input.topics.input);
    assert_denied("output WRITE alos", &errors[1], &out_alos.topics.out);
    assert_denied("output WRITE eos", &errors[2], &out_eos.topics.out);
    assert_denied("group READ", &errors[3], &group.app_id);
    assert_denied("transactional id WRITE", &errors[4], &txn.app_id);
    // Under exactly-once nothing was committed: no output at all.
    assert!(out_values(&out_eos.topics.out).is_empty());
    assert!(out_values(&txn.topics.out).is_empty());

    denial.lift();
    std::thread::scope(|s| {
        for case in cases {
            s.spawn(move || case.check_after_grant(n));
        }
    });
}

/// WRITE on the output topic revoked while the application runs, after
/// some output was written: the real-life case, under both guarantees.
#[test]
fn write_revoked_while_running_stops_naming_the_topic_and_a_grant_loses_nothing() {
    let cases = [
        Case::new("revoked-alos", ALOS),
        Case::new("revoked-eos", EOS),
    ];
    let apps: Vec<StreamsRuntime> = std::thread::scope(|s| {
        let started: Vec<_> = cases
            .iter()
            .map(|case| {
                s.spawn(move || {
                    let app = case.start().unwrap();
                    case.produce(0, 100);
                    wait_all(&case.topics.out, 100, Duration::from_secs(90));
                    app
                })
            })
            .collect();
        started.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let denial = Denial {
        rules: vec![(
            "Write",
            cases
                .iter()
                .map(|c| ("--topic", c.topics.out.clone()))
                .collect(),
        )],
    };
    denial.apply();
    for case in &cases {
        case.produce(100, 200);
    }
    let errors: Vec<String> = std::thread::scope(|s| {
        let stopping: Vec<_> = apps
            .into_iter()
            .map(|app| s.spawn(move || stopped_error(app, STOP_WITHIN)))
            .collect();
        stopping.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (case, text) in cases.iter().zip(&errors) {
        eprintln!("{} stopped: {text}", case.name);
        assert_denied(case.name, text, &case.topics.out);
    }

    denial.lift();
    std::thread::scope(|s| {
        for case in &cases {
            s.spawn(move || case.check_after_grant(200));
        }
    });
}
