//! End to end: the binary with no broker configured runs on the embedded
//! development broker, prints the alerts and exits 0.
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
