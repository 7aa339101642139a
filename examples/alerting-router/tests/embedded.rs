//! End to end, the binary: with no broker configured it runs its demo on the
//! embedded development broker, prints the alerts and exits 0; with
//! `WEIR_BOOTSTRAP_SERVERS` it serves until SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alerting_router::{sample, Rules};

/// The binary gives itself 60 s for the alerts; allow for startup and close.
const TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn runs_on_the_embedded_broker_and_prints_the_alerts() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_alerting-router"));
    // No broker: clear every WEIR_ variable the environment may hold.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("WEIR_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "alerting-router did not finish within {TIMEOUT:?}; stderr:\n{}",
                err_reader.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    assert!(
        status.success(),
        "exit {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );

    assert!(
        stdout.contains("starting an embedded in-process DEVELOPMENT broker"),
        "{stdout}"
    );
    assert!(
        stdout.contains("not for production, no exactly-once"),
        "{stdout}"
    );
    let expected = sample::expected_alerts(&Rules::default());
    let critical = expected
        .iter()
        .filter(|a| a.severity == alerting_router::Severity::Critical)
        .count();
    assert!(
        stdout.contains(&format!(
            "{} alerts ({critical} critical on 'alerts-critical', {} warning on 'alerts-warning')",
            expected.len(),
            expected.len() - critical
        )),
        "{stdout}"
    );
    for alert in &expected {
        let line = stdout
            .lines()
            .find(|l| l.contains(&alert.reason) && l.contains(&alert.device))
            .unwrap_or_else(|| panic!("no table row for {alert:?} in:\n{stdout}"));
        assert!(line.starts_with(alert.severity.label()), "{line}");
    }
    // Malformed samples were dropped, not fatal, and logged as warnings.
    assert!(stderr.contains("dropping malformed reading"), "{stderr}");
}

/// Service mode: with `WEIR_BOOTSTRAP_SERVERS` set the binary runs against
/// that broker (here an embedded one in the test process, reached over TCP)
/// until SIGTERM, then closes cleanly and exits 0.
#[test]
fn service_mode_runs_until_sigterm() {
    use alerting_router::{Alert, CRITICAL_TOPIC, READINGS_TOPIC, SUMMARY_TOPIC, WARNING_TOPIC};
    use weir::dev::{
        produce_batch, read_to_end, EmbeddedBroker, Isolation, ProduceRecord, TopicSpec,
    };

    let broker = EmbeddedBroker::start().unwrap();
    broker
        .create_topics(&[
            TopicSpec::new(READINGS_TOPIC, 1),
            TopicSpec::new(CRITICAL_TOPIC, 1),
            TopicSpec::new(WARNING_TOPIC, 1),
            TopicSpec::new(SUMMARY_TOPIC, 1),
        ])
        .unwrap();
    let conn = broker.connection().with_timeout(Duration::from_secs(10));
    let reading = br#"{"device":"pump-7","metric":"temperature","value":97.5,"ts":1700000000000}"#;
    produce_batch(
        &conn,
        READINGS_TOPIC,
        &[ProduceRecord::new("pump-7", reading.to_vec())],
    )
    .unwrap();

    let mut command = Command::new(env!("CARGO_BIN_EXE_alerting-router"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("WEIR_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .env("WEIR_BOOTSTRAP_SERVERS", broker.bootstrap_servers())
        .env("WEIR_APPLICATION_ID", "alerting-router-service-test")
        .env("WEIR_COMMIT_INTERVAL_MS", "100")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let started = Instant::now();
    let alert = loop {
        let records = read_to_end(&conn, CRITICAL_TOPIC, Isolation::ReadUncommitted).unwrap();
        if let Some(r) = records.first() {
            break serde_json::from_slice::<Alert>(r.value.as_deref().unwrap()).unwrap();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the service exited early: {status}");
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("no critical alert within 60 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(alert.device, "pump-7");
    assert_eq!(alert.ts, 1_700_000_000_000);

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(40) {
            child.kill().unwrap();
            panic!("the service did not stop within 40 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "exit {status}; stderr:\n{stderr}");
    broker.stop();
}
