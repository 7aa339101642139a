//! Window and session stores under the TopologyTestDriver: a Processor-API
//! topology writes them, the driver's views read them across partitions,
//! and they come back after a restart, from RocksDB under a state
//! directory or from their changelogs in memory, at-least-once and
//! exactly-once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use weir_core::processor::{Processor, ProcessorContext};
use weir_core::store::{SessionStoreBuilder, WindowStoreBuilder};
use weir_core::topology::{Consumed, Topology, TopologyBuilder};
use weir_core::window::{Window, Windowed};
use weir_core::{Record, Result, Serdes};
use weir_testing::{DriverConfig, TopologyTestDriver};

const MINUTE: i64 = 60_000;
const GAP: i64 = 5 * MINUTE;

fn s(text: &str) -> String {
    text.to_string()
}

/// Counts each user's clicks per 1-minute window ("per-minute") and per
/// session of activity with 5-minute gaps ("visits"), Processor API only.
struct Clicks;

impl Processor<String, String, String, i64> for Clicks {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, i64>,
        record: Record<String, String>,
    ) -> Result<()> {
        let Some(user) = record.key else {
            return Ok(());
        };
        let ts = record.timestamp;
        let start = ts - ts % MINUTE;
        let windows = ctx.window_store::<String, i64>("per-minute")?;
        let count = windows.fetch(&user, start)?.unwrap_or(0) + 1;
        windows.put(&user, Some(&count), start)?;

        // Merge every session within the gap into one.
        let sessions = ctx.session_store::<String, i64>("visits")?;
        let found: Vec<(Windowed<String>, i64)> = sessions
            .find_sessions(&user, ts - GAP, ts + GAP)?
            .collect::<Result<_>>()?;
        let (mut first, mut last, mut total) = (ts, ts, 1);
        for (session, n) in &found {
            first = first.min(session.window().start());
            last = last.max(session.window().end());
            total += n;
        }
        for (session, _) in &found {
            sessions.remove(session)?;
        }
        sessions.put(&Windowed::new(user, Window::new(first, last)), &total)
    }
}

fn topology() -> Topology {
    let mut b = TopologyBuilder::new();
    b.add_source(
        "clicks",
        ["clicks"],
        Consumed::with(Serdes::string(), Serdes::string()),
    )
    .add_processor("count", || Clicks, &["clicks"]);
    let windows = WindowStoreBuilder::new(
        "per-minute",
        Serdes::string(),
        Serdes::i64(),
        Duration::from_secs(3600),
        Duration::from_secs(60),
        false,
    )
    .with_logging(true);
    b.add_window_store(&windows, &["count"]);
    let sessions = SessionStoreBuilder::new(
        "visits",
        Serdes::string(),
        Serdes::i64(),
        Duration::from_secs(3600),
    )
    .with_logging(true);
    b.add_session_store(&sessions, &["count"]);
    b.build().unwrap()
}

fn check(driver: &TopologyTestDriver) {
    let windows = driver.window_store::<String, i64>("per-minute").unwrap();
    assert_eq!(windows.fetch(&s("ann"), 0).unwrap(), Some(2));
    assert_eq!(
        windows.fetch_range(&s("ann"), 0, i64::MAX).unwrap(),
        [(0, 2), (2 * MINUTE, 1), (20 * MINUTE, 1)]
    );
    let all: Vec<(String, i64, i64)> = windows
        .all()
        .unwrap()
        .into_iter()
        .map(|(w, n)| (w.key().clone(), w.window().start(), n))
        .collect();
    assert_eq!(
        all,
        [
            (s("ann"), 0, 2),
            (s("ann"), 2 * MINUTE, 1),
            (s("ann"), 20 * MINUTE, 1),
            (s("bob"), MINUTE, 1),
        ]
    );
    let (first, _) = &windows.fetch_all(MINUTE, MINUTE).unwrap()[0];
    assert_eq!(first.window(), Window::new(MINUTE, 2 * MINUTE));

    let sessions = driver.session_store::<String, i64>("visits").unwrap();
    let ann: Vec<(i64, i64, i64)> = sessions
        .fetch(&s("ann"))
        .unwrap()
        .into_iter()
        .map(|(w, n)| (w.window().start(), w.window().end(), n))
        .collect();
    assert_eq!(ann, [(10, 2 * MINUTE, 3), (20 * MINUTE, 20 * MINUTE, 1)]);
    assert_eq!(
        sessions
            .fetch_session(&s("bob"), MINUTE + 5, MINUTE + 5)
            .unwrap(),
        Some(1)
    );
    assert_eq!(sessions.all().unwrap().len(), 3);
}

fn run(config: DriverConfig) {
    let driver = TopologyTestDriver::new(topology(), config.with_partitions(2)).unwrap();
    let mut clicks = driver.create_input_topic("clicks", Serdes::string(), Serdes::string());
    for (user, ts) in [
        ("ann", 10),
        ("ann", 50),
        ("bob", MINUTE + 5),
        ("ann", 2 * MINUTE),
        ("ann", 20 * MINUTE),
    ] {
        clicks.pipe_key_value_at(s(user), s("/"), ts).unwrap();
    }
    check(&driver);
    driver.restart().unwrap();
    check(&driver);
    // The restored stores go on: one more click in ann's last window.
    clicks
        .pipe_key_value_at(s("ann"), s("/"), 20 * MINUTE + 1)
        .unwrap();
    let windows = driver.window_store::<String, i64>("per-minute").unwrap();
    assert_eq!(windows.fetch(&s("ann"), 20 * MINUTE).unwrap(), Some(2));
}

#[test]
fn window_and_session_stores_in_memory_are_restored_from_their_changelogs() {
    run(DriverConfig::new());
    run(DriverConfig::new().with_exactly_once(true));
}

#[test]
fn window_and_session_stores_on_rocksdb_survive_a_restart() {
    for eos in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        run(DriverConfig::new()
            .with_state_dir(dir.path())
            .with_exactly_once(eos));
    }
}

#[test]
fn the_views_refuse_a_store_of_another_kind() {
    let driver = TopologyTestDriver::new(topology(), DriverConfig::new()).unwrap();
    let mut clicks = driver.create_input_topic("clicks", Serdes::string(), Serdes::string());
    clicks.pipe_key_value_at(s("ann"), s("/"), 10).unwrap();
    assert!(driver.session_store::<String, i64>("per-minute").is_err());
    assert!(driver.window_store::<String, i64>("visits").is_err());
    assert!(driver.key_value_store::<String, i64>("per-minute").is_err());
}

#[test]
fn the_driver_plans_window_changelogs_with_the_additional_retention() {
    let config = DriverConfig::new().with_window_changelog_additional_retention_ms(1_000);
    let plan = config.internal_topics(&topology()).unwrap();
    let retention: Vec<(&str, &str)> = plan
        .iter()
        .map(|t| (t.name.as_str(), t.configs["retention.ms"].as_str()))
        .collect();
    assert_eq!(
        retention,
        [
            ("test-app-per-minute-changelog", "3601000"),
            ("test-app-visits-changelog", "3601000"),
        ]
    );
    assert!(plan
        .iter()
        .all(|t| t.configs["cleanup.policy"] == "compact,delete"));
}
