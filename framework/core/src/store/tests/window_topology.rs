//! Window and session stores in a topology: their changelog topics, and a
//! builder the topology refuses.

use std::time::Duration;

use crate::processor::{Processor, ProcessorContext};
use crate::serde::Serdes;
use crate::store::{SessionStoreBuilder, StoreKind, WindowStoreBuilder};
use crate::topology::{Consumed, InternalTopicOptions, Topology, TopologyBuilder};
use crate::{Record, Result};

/// Counts each key's records per 1-minute window.
struct MinuteCount;

impl Processor<String, String, String, i64> for MinuteCount {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, i64>,
        record: Record<String, String>,
    ) -> Result<()> {
        let Some(key) = record.key else { return Ok(()) };
        let start = record.timestamp - record.timestamp % 60_000;
        let store = ctx.window_store::<String, i64>("per-minute")?;
        let count = store.fetch(&key, start)?.unwrap_or(0) + 1;
        store.put(&key, Some(&count), start)
    }
}

fn topology(retention: Duration) -> Result<Topology> {
    let mut b = TopologyBuilder::new();
    b.add_source(
        "in",
        ["clicks"],
        Consumed::with(Serdes::string(), Serdes::string()),
    )
    .add_processor("count", || MinuteCount, &["in"]);
    let windows = WindowStoreBuilder::new(
        "per-minute",
        Serdes::string(),
        Serdes::i64(),
        retention,
        Duration::from_secs(60),
        false,
    )
    .with_logging(true);
    b.add_window_store(&windows, &["count"]);
    let sessions = SessionStoreBuilder::new(
        "visits",
        Serdes::string(),
        Serdes::i64(),
        Duration::from_secs(600),
    )
    .with_logging(true);
    b.add_session_store(&sessions, &["count"]);
    b.build()
}

#[test]
fn window_and_session_changelogs_are_compacted_and_expire_by_time() {
    let topology = topology(Duration::from_secs(3600)).unwrap();
    assert_eq!(
        topology.store_kind("per-minute"),
        Some(StoreKind::Window {
            retention_ms: 3_600_000
        })
    );
    let plan = topology
        .plan_internal_topics("app", |t| (t == "clicks").then_some(2))
        .unwrap();
    assert_eq!(plan.len(), 2);
    assert_eq!(plan[0].name, "app-per-minute-changelog");
    assert_eq!(plan[0].partitions, 2);
    assert_eq!(plan[0].configs["cleanup.policy"], "compact,delete");
    assert_eq!(plan[0].configs["retention.ms"], "90000000"); // 1 h + 24 h
    assert_eq!(plan[1].configs["retention.ms"], "87000000"); // 10 min + 24 h

    let options = InternalTopicOptions::new().with_window_changelog_additional_retention_ms(0);
    let plan = topology
        .plan_internal_topics_with("app", |t| (t == "clicks").then_some(2), &options)
        .unwrap();
    assert_eq!(plan[0].configs["retention.ms"], "3600000");
    assert_eq!(plan[1].configs["retention.ms"], "600000");
}

#[test]
fn a_retention_shorter_than_the_window_is_a_topology_error() {
    let err = topology(Duration::from_secs(59)).unwrap_err();
    assert!(
        err.to_string().contains("no smaller than the window size"),
        "{err}"
    );
}
