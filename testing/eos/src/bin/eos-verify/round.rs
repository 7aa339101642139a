//! The steps every round takes, whatever it checks (the eos round in
//! `main.rs`, the poison round in `poison.rs`): a fresh work directory and
//! broker, the application's instances started, the fault phase (kills and
//! broker restarts on the schedule while the generator writes), the catch-up
//! (every instance running until the Java reader finds the outputs complete)
//! and the read_committed dump of the topics.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use weir_eos::dump::Dump;
use weir_eos::format::key_name;
use weir_eos::rng::SplitMix64;
use weir_kafka::Connection;

use crate::broker::{wait_output, Broker};
use crate::fleet::{Fleet, Instance};
use crate::generator::Generator;
use crate::{say, schedule, BoxError, Cli, Event, Plan, Reader, Res};

/// `work_dir/name`, emptied.
pub(crate) fn fresh_dir(work_dir: &Path, name: &str) -> Res<PathBuf> {
    let dir = work_dir.join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Starts the round's broker (state under `dir/kafka`) and a connection to it.
pub(crate) fn start_broker(args: &Cli, dir: &Path, start: Instant) -> Res<(Broker, Connection)> {
    let broker = Broker::start(&args.launcher, &dir.join("kafka"))?;
    say(start, format!("broker up on {}", broker.bootstrap));
    let conn = Connection::new(broker.bootstrap.clone()).with_timeout(Duration::from_secs(60));
    Ok((broker, conn))
}

/// Starts `plan.instances` instances of the application with `app_args`,
/// two seconds apart: instances starting in the same instant race to create
/// the internal topics (a start-up issue of its own, not what the verifier
/// is about).
pub(crate) fn start_fleet(
    args: &Cli,
    dir: &Path,
    broker: &Broker,
    app_args: &[&str],
    plan: &Plan,
    rng: &mut SplitMix64,
    start: Instant,
) -> Res<Fleet> {
    let mut fleet = Fleet {
        app_bin: args.app_bin.clone(),
        dir: dir.to_path_buf(),
        bootstrap: broker.bootstrap.clone(),
        app_args: app_args.iter().map(|a| a.to_string()).collect(),
        plan: plan.clone(),
        instances: (0..plan.instances)
            .map(|id| Instance {
                id,
                child: None,
                commit_ms: 0,
                starts: 0,
                restart_at: None,
            })
            .collect(),
        kills: 0,
        kills_long_commit: 0,
        crashes: 0,
        forced_closes: 0,
    };
    for i in 0..plan.instances {
        if i > 0 {
            thread::sleep(Duration::from_secs(2));
        }
        fleet.spawn(i, rng, start)?;
    }
    Ok(fleet)
}

/// A round under way: what its fault phase and its catch-up drive.
pub(crate) struct Running<'a> {
    /// When the round began (for the log's times).
    pub(crate) start: Instant,
    pub(crate) plan: &'a Plan,
    pub(crate) broker: &'a Broker,
    pub(crate) fleet: &'a mut Fleet,
    /// The schedule's random numbers (kills, restarts, commit intervals).
    pub(crate) rng: &'a mut SplitMix64,
}

/// How the fault phase picks the instance a kill event SIGKILLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kills {
    /// Among the running instances with a long commit interval when the
    /// event prefers one (and there is one), else among all running.
    PreferLongCommits,
    /// Among all running instances.
    AnyRunning,
}

/// The fault phase: tends the fleet and plays the schedule (kills, broker
/// restarts with the generator paused) until the schedule is done and the
/// generator finished, printing `progress(fleet, broker restarts)` every
/// 15 s. Bounded by twice the produce time plus 120 s. Returns the broker
/// restarts done.
pub(crate) fn fault_phase(
    run: &mut Running<'_>,
    generator: &Generator,
    kills: Kills,
    progress: impl Fn(&Fleet, u64) -> String,
) -> Res<u64> {
    let (start, plan, broker) = (run.start, run.plan, run.broker);
    let (fleet, rng) = (&mut *run.fleet, &mut *run.rng);
    let mut events = schedule(plan, rng);
    let faults_began = Instant::now();
    let mut broker_restarts = 0u64;
    let mut next_progress = Instant::now() + Duration::from_secs(15);
    let phase_limit = Duration::from_secs(plan.produce_secs * 2 + 120);
    let failed = |e: BoxError, generator: &Generator| {
        generator.stop.store(true, Ordering::Relaxed);
        e
    };
    loop {
        fleet.tend(rng, start).map_err(|e| failed(e, generator))?;
        let now = faults_began.elapsed();
        if let Some((at, event)) = events.front().copied() {
            if now >= at {
                events.pop_front();
                match event {
                    Event::Kill { prefer_long } => {
                        let running = fleet.running();
                        let long: Vec<usize> = running
                            .iter()
                            .copied()
                            .filter(|i| fleet.instances[*i].commit_ms >= plan.long_commit_ms.0)
                            .collect();
                        let pool =
                            if kills == Kills::PreferLongCommits && prefer_long && !long.is_empty()
                            {
                                long
                            } else {
                                running
                            };
                        if pool.is_empty() {
                            // Nothing to kill right now: try again shortly.
                            events.push_front((now + Duration::from_secs(1), event));
                        } else {
                            let pick = pool[rng.range(0, pool.len() as u64 - 1) as usize];
                            fleet.kill(pick, rng, start)?;
                        }
                    }
                    Event::BrokerRestart => {
                        say(start, "broker restart: pausing the generator");
                        let guard = generator
                            .in_flight
                            .lock()
                            .map_err(|_| "generator lock poisoned")?;
                        let began = Instant::now();
                        broker.restart().map_err(|e| failed(e, generator))?;
                        drop(guard);
                        broker_restarts += 1;
                        say(
                            start,
                            format!(
                                "broker restart #{broker_restarts} done in {:.1}s",
                                began.elapsed().as_secs_f64()
                            ),
                        );
                    }
                }
                continue;
            }
        }
        if events.is_empty() && generator.handle.is_finished() {
            break;
        }
        if now > phase_limit {
            return Err(failed(
                format!("the fault phase ran past {phase_limit:?}").into(),
                generator,
            ));
        }
        if Instant::now() >= next_progress {
            next_progress += Duration::from_secs(15);
            say(start, progress(fleet, broker_restarts));
        }
        thread::sleep(Duration::from_millis(50));
    }
    Ok(broker_restarts)
}

/// Writes `dir/expected.txt`: `key count` for each key with records.
pub(crate) fn write_expected(dir: &Path, per_key: &[u64]) -> Res<PathBuf> {
    let mut expected = String::new();
    for (k, n) in per_key.iter().enumerate().filter(|(_, n)| **n > 0) {
        writeln!(expected, "{} {n}", key_name(u32::try_from(k)?))?;
    }
    let expected_file = dir.join("expected.txt");
    fs::write(&expected_file, expected)?;
    Ok(expected_file)
}

/// The Java reader of the round (Kafka's consumer, read_committed).
pub(crate) fn reader(args: &Cli) -> Reader {
    Reader {
        java: args.java.clone(),
        classpath: args.reader_cp.clone(),
        log4j: args
            .launcher
            .parent()
            .unwrap_or(Path::new("."))
            .join("log4j2-tools.properties"),
    }
}

/// What the catch-up prints.
pub(crate) struct CatchUpText<'a> {
    /// Before waiting.
    pub(crate) waiting: &'a str,
    /// When the outputs are complete.
    pub(crate) complete: &'a str,
    /// When they are not (given the reader's log).
    pub(crate) incomplete: &'a dyn Fn(&Path) -> String,
}

/// The catch-up: every instance running again, tended while the Java
/// reader's `wait` (with `wait_args` after the bootstrap, the expected file
/// and the bound) finds the outputs complete, for up to
/// `plan.catch_up_secs` (plus 60 s). Returns whether they are.
pub(crate) fn catch_up(
    run: &mut Running<'_>,
    reader: &Reader,
    dir: &Path,
    wait_args: &[&str],
    text: CatchUpText<'_>,
) -> Res<bool> {
    let (start, plan, broker) = (run.start, run.plan, run.broker);
    let (fleet, rng) = (&mut *run.fleet, &mut *run.rng);
    for i in 0..plan.instances {
        if fleet.instances[i].child.is_none() {
            fleet.spawn(i, rng, start)?;
        }
    }
    say(start, text.waiting);
    let expected_file = dir.join("expected.txt");
    let catch_up_secs = plan.catch_up_secs.to_string();
    let mut args = vec![
        "wait",
        broker.bootstrap.as_str(),
        expected_file.to_str().ok_or("work dir not UTF-8")?,
        catch_up_secs.as_str(),
    ];
    args.extend_from_slice(wait_args);
    let log = dir.join("reader-wait.log");
    let mut waiter = reader
        .command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::from(File::create(&log)?))
        .spawn()?;
    let wait_deadline = Instant::now() + Duration::from_secs(plan.catch_up_secs + 60);
    let complete = loop {
        fleet.tend(rng, start)?;
        if let Some(status) = waiter.try_wait()? {
            break status.success();
        }
        if Instant::now() >= wait_deadline {
            let _ = waiter.kill();
            let _ = waiter.wait();
            break false;
        }
        thread::sleep(Duration::from_millis(200));
    };
    say(
        start,
        if complete {
            text.complete.to_string()
        } else {
            (text.incomplete)(&log)
        },
    );
    Ok(complete)
}

/// Dumps `topics` (read_committed, waiting up to `secs` for the reader's
/// bound and a minute more) to `dir/dump.tsv` and parses it.
pub(crate) fn dump(
    reader: &Reader,
    broker: &Broker,
    dir: &Path,
    secs: u64,
    topics: &[&str],
) -> Res<Dump> {
    let dump_file = dir.join("dump.tsv");
    let bound = secs.to_string();
    let mut args = vec![
        "dump",
        broker.bootstrap.as_str(),
        dump_file.to_str().ok_or("work dir not UTF-8")?,
        bound.as_str(),
    ];
    args.extend_from_slice(topics);
    let out = wait_output(
        reader
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?,
        Duration::from_secs(secs + 60),
    )?;
    if !out.status.success() {
        return Err(format!(
            "the Java reader failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(Dump::parse(&fs::read_to_string(&dump_file)?)?)
}
