//! The broker away for 60 s while two applications run, one
//! at_least_once and one exactly_once_v2: both wait, neither fails, and
//! once the broker is back they resume with nothing lost (every input's
//! result exactly once and exact counts under exactly-once, at least once
//! under at-least-once, read_committed).
//!
//! Kafka Streams' behaviour, which Weir follows: a broker outage is a
//! timeout, not an error of the application. Its clients retry (a send is
//! held up to `delivery.timeout.ms`, a commit is retried within
//! `task.timeout.ms`); an open transaction that the broker aborts past
//! `transaction.timeout.ms` comes back to the producer as fenced or
//! abortable, and the thread aborts, rolls its tasks back to the last
//! commit and processes again from there. The application keeps running.
//!
//! In a file of its own: the outage is seen by every test of the process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weir_core::ProcessingGuarantee;
use weir_kafka::{State, StreamsRuntime};
use weir_testing::cluster::BrokerSource;
use weir_testing::KafkaCluster;

#[path = "faults/common.rs"]
mod common;
use common::{
    check_results, cluster, config, inputs, slow_topology, wait_all, wait_running, Topics,
};

/// How long the broker stays away (issue 15: 60 s).
const OUTAGE: Duration = Duration::from_secs(60);

#[test]
fn broker_away_60s_both_guarantees_resume_with_nothing_lost() {
    if !matches!(cluster().source(), BrokerSource::Launcher { .. }) {
        eprintln!("skipped: the broker was not started by the launcher");
        return;
    }
    let guarantees = [
        ProcessingGuarantee::AtLeastOnce,
        ProcessingGuarantee::ExactlyOnceV2,
    ];
    let dirs: Vec<_> = guarantees
        .iter()
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    let mut apps = Vec::new();
    let errored = Arc::new(AtomicBool::new(false));
    for (g, dir) in guarantees.iter().zip(&dirs) {
        let name = if g.is_exactly_once() {
            "outage-eos"
        } else {
            "outage-alos"
        };
        let t = Topics::new(name);
        t.create();
        let app_id = KafkaCluster::unique_group(name);
        let seen_error = errored.clone();
        let listener: weir_kafka::StateListener = Arc::new(move |new, _old| {
            if new == State::Error {
                seen_error.store(true, Ordering::Release);
            }
        });
        // The second batch takes ~12 s to process: the broker goes away in
        // the middle of it, with output in flight and a transaction open.
        let topology = slow_topology(&t, 300..600, Duration::from_millis(40));
        let app = StreamsRuntime::start(topology, config(&app_id, dir.path(), *g), Some(listener))
            .unwrap();
        apps.push((*g, t, app));
    }
    for (_, _, app) in &apps {
        wait_running(app, Duration::from_secs(60));
    }

    // Before: the first 300 processed.
    for (_, t, _) in &apps {
        cluster().produce(&t.input, &inputs(0, 300)).unwrap();
    }
    for (_, t, _) in &apps {
        wait_all(&t.out, 300, Duration::from_secs(60));
    }
    // 300 more, then the broker goes away while they are being processed
    // (sends in flight, a transaction open, offsets not yet committed).
    for (_, t, _) in &apps {
        cluster().produce(&t.input, &inputs(300, 600)).unwrap();
    }
    let stopped = Instant::now();
    cluster().restart_after(OUTAGE).unwrap();
    let back = Instant::now();
    eprintln!("broker back after {:?}", back - stopped);
    for (g, t, app) in &apps {
        let committed = common::out_values(&t.out).len();
        eprintln!("{g:?}: {committed} results committed when the broker came back");
        // The outage struck in the middle of the second batch (else this
        // test proves nothing).
        assert!(
            committed < 600,
            "{g:?}: the second batch was done before the outage"
        );
        assert!(
            !app.is_stopping() && app.state() != State::Error,
            "{g:?}: the application stopped during the outage (state {:?})",
            app.state()
        );
    }

    // After: 300 more, and every result of the 900 is there.
    for (_, t, _) in &apps {
        cluster().produce(&t.input, &inputs(600, 900)).unwrap();
    }
    for (g, t, app) in &apps {
        check_results(t, 900, *g, Duration::from_secs(120));
        let metrics = app.metrics();
        eprintln!(
            "{g:?}: all results {:?} after the broker came back; {metrics:?}",
            back.elapsed(),
        );
        if g.is_exactly_once() {
            // The transaction open through the outage outlived
            // transaction.timeout.ms: aborted, and processed again.
            assert!(metrics.aborts >= 1, "{g:?}: no transaction was aborted");
        }
    }
    assert!(
        !errored.load(Ordering::Acquire),
        "an application went to Error"
    );
    for (g, _, mut app) in apps {
        app.close(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{g:?}: close failed: {e}"));
    }
}
