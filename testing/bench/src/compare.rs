//! The side-by-side runs: every selected workload under every selected
//! guarantee for Weir, the Kafka Streams peer and the raw ceiling, over the
//! same preloaded input, one contender after the other, rounds alternating
//! the order; then the restores. See README.md for what each figure means.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use weir::prelude::ProcessingGuarantee;
use weir_kafka::{Connection, TopicSpec};
use weir_testing::KafkaCluster;

use crate::apps::ChildArgs;
use crate::latency::{self, LatencyFigures, LatencyInput, LatencyPlan, Traced};
use crate::measure::{self, ChildCommand, RunFigures};
use crate::peer::Peer;
use crate::{data, BenchResult, Mode, PARTITIONS};

/// Bound on one throughput run.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// The count app's RocksDB memory budget (block cache + memtables), the
/// same for Weir and the peer.
pub(crate) const COUNT_BUDGET_BYTES: usize = 256 << 20;

/// A contender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Who {
    Weir,
    KStreams,
    Ceiling,
}

impl Who {
    pub(crate) const ALL: [Who; 3] = [Who::Weir, Who::KStreams, Who::Ceiling];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Who::Weir => "weir",
            Who::KStreams => "kstreams",
            Who::Ceiling => "ceiling",
        }
    }

    pub(crate) fn parse(s: &str) -> BenchResult<Self> {
        Who::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| format!("unknown contender '{s}' (weir, kstreams, ceiling)").into())
    }
}

/// A workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Workload {
    Passthrough,
    Count,
    Restore,
    /// The count per key in 1-minute tumbling windows of event time.
    Windowed,
    /// A stream of events enriched from a table (inner join).
    StreamTableJoin,
    /// Two streams joined in a 1 s window (inner join).
    StreamStreamJoin,
}

impl Workload {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::Passthrough => "passthrough",
            Workload::Count => "count",
            Workload::Restore => "restore",
            Workload::Windowed => "windowed-count",
            Workload::StreamTableJoin => "stream-table-join",
            Workload::StreamStreamJoin => "stream-stream-join",
        }
    }
}

/// A processing guarantee with its commit interval, as run. Ordered as in
/// [`Variant::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Variant {
    /// `alos`, `eos` (commit every 100 ms, Kafka Streams' default under
    /// exactly-once) or `eos-1s`.
    pub tag: &'static str,
    pub guarantee: ProcessingGuarantee,
    pub commit_ms: u64,
}

impl Variant {
    pub(crate) const ALL: [Variant; 3] = [
        Variant {
            tag: "alos",
            guarantee: ProcessingGuarantee::AtLeastOnce,
            commit_ms: 1000,
        },
        Variant {
            tag: "eos",
            guarantee: ProcessingGuarantee::ExactlyOnceV2,
            commit_ms: 100,
        },
        Variant {
            tag: "eos-1s",
            guarantee: ProcessingGuarantee::ExactlyOnceV2,
            commit_ms: 1000,
        },
    ];

    fn rank(&self) -> (usize, u64) {
        let i = Variant::ALL.iter().position(|v| v.tag == self.tag);
        (i.unwrap_or(usize::MAX), self.commit_ms)
    }

    pub(crate) fn parse(s: &str) -> BenchResult<Self> {
        Variant::ALL
            .into_iter()
            .find(|v| v.tag == s)
            .ok_or_else(|| format!("unknown guarantee '{s}' (alos, eos, eos-1s)").into())
    }
}

impl PartialOrd for Variant {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Variant {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// What became of one (workload, variant, contender) cell.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Medians over the rounds.
    Measured(Figures),
    /// The contender does not offer this yet (it said so at start): the reason.
    NotAvailable(String),
    /// A run failed: the error.
    Failed(String),
    /// Not run (the contender is not selected, or a run before it failed).
    Skipped(String),
}

/// The medians of one cell.
#[derive(Debug, Clone, Default)]
pub(crate) struct Figures {
    pub run: Option<RunFigures>,
    /// The medians of the latency runs that completed.
    pub latency: Option<LatencyFigures>,
    /// The latency runs that failed (`#<round>: <error>`). Their rounds'
    /// throughput runs count: the two runs are separate processes over
    /// separate inputs.
    pub latency_failures: Vec<String>,
    /// Restore only.
    pub restore: Option<RestoreFigures>,
}

/// One restore.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RestoreFigures {
    pub restored: u64,
    /// Time spent restoring (see README.md).
    pub restore_s: f64,
    /// Restored records per second of restore time.
    pub records_per_s: f64,
    /// Process start until the restore was done.
    pub wall_s: f64,
    pub cpu_s: f64,
    pub peak_rss_mib: f64,
}

/// Every cell's outcome.
pub(crate) type Results = BTreeMap<(Workload, Variant, Who), Outcome>;

/// What the runs need.
pub(crate) struct Plan<'a> {
    pub kafka: &'a KafkaCluster,
    pub conn: &'a Connection,
    pub mode: &'a Mode,
    pub workloads: &'a [Workload],
    pub variants: &'a [Variant],
    pub contenders: &'a [Who],
    pub peer: Option<&'a Peer>,
}

/// A fresh, empty state directory under the system temp dir.
pub(crate) fn fresh_state_dir(what: &str) -> BenchResult<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir =
        std::env::temp_dir().join(format!("weir-bench-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn output_topic(conn: &Connection, prefix: &str) -> BenchResult<String> {
    let name = KafkaCluster::unique_topic(prefix);
    weir_kafka::create_topics(
        conn,
        &[TopicSpec::new(&name, PARTITIONS).config("message.timestamp.type", "LogAppendTime")],
    )?;
    Ok(name)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => xs[n / 2],
        _ => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

fn median_run(runs: &[RunFigures]) -> Option<RunFigures> {
    if runs.is_empty() {
        return None;
    }
    let pick = |g: fn(&RunFigures) -> f64| median(runs.iter().map(g).collect());
    Some(RunFigures {
        wall_s: pick(|f| f.wall_s),
        records_per_s: pick(|f| f.records_per_s),
        cpu_s_per_million: pick(|f| f.cpu_s_per_million),
        peak_rss_mib: pick(|f| f.peak_rss_mib),
    })
}

fn median_latency(runs: &[LatencyFigures]) -> Option<LatencyFigures> {
    if runs.is_empty() {
        return None;
    }
    let pick = |g: fn(&LatencyFigures) -> f64| median(runs.iter().map(g).collect());
    Some(LatencyFigures {
        cold_start_s: pick(|f| f.cold_start_s),
        p50_ms: pick(|f| f.p50_ms),
        p99_ms: pick(|f| f.p99_ms),
        samples: runs.iter().map(|f| f.samples).sum(),
    })
}

/// Whether a failed run says its contender does not offer the guarantee yet
/// (Weir's runtime refuses exactly_once_v2 at start until it has it).
fn is_unsupported(error: &str) -> bool {
    error.contains("not supported yet")
}

/// Copier rounds that warm a fresh broker up before the first measured one.
const WARM_UP_ROUNDS: u32 = 2;

/// The preloaded input of a workload.
struct Input {
    topic: String,
    /// Records in `topic`.
    main: u64,
    /// The joins' second input and its records.
    other: Option<(String, u64)>,
    /// What the rates are per: the events of the stream-table join (its
    /// table is loaded at start, not counted), both sides of the
    /// stream-stream join, else `main`.
    records: u64,
}

impl Plan<'_> {
    fn child_args(
        &self,
        input: &str,
        other: Option<&(String, u64)>,
        output: &str,
        v: Variant,
        stop_after: u64,
    ) -> ChildArgs {
        ChildArgs {
            bootstrap: self.kafka.bootstrap_servers().to_string(),
            input: input.to_string(),
            output: output.to_string(),
            group: String::new(),
            commit_ms: v.commit_ms,
            stop_after,
            guarantee: v.guarantee,
            state_dir: PathBuf::new(),
            budget_bytes: COUNT_BUDGET_BYTES,
            other: other.map_or(crate::apps::NO_OTHER.to_string(), |(t, _)| t.clone()),
            other_records: other.map_or(0, |(_, n)| *n),
        }
    }

    fn command(&self, w: Workload, who: Who, args: &ChildArgs) -> BenchResult<ChildCommand> {
        let label = format!("{}:{}", who.name(), w.name());
        match (who, w) {
            (Who::Weir, Workload::Passthrough) => {
                ChildCommand::bench(&label, "__weir", args.to_args())
            }
            (Who::Weir, Workload::Count) => {
                ChildCommand::bench(&label, "__weir-count", args.to_args())
            }
            (Who::Weir, Workload::Restore) => {
                ChildCommand::bench(&label, "__restore", args.to_args())
            }
            (Who::Weir, Workload::Windowed) => {
                ChildCommand::bench(&label, "__weir-windowed", args.to_args())
            }
            (Who::Weir, Workload::StreamTableJoin) => {
                ChildCommand::bench(&label, "__weir-stream-table", args.to_args())
            }
            (Who::Weir, Workload::StreamStreamJoin) => {
                ChildCommand::bench(&label, "__weir-stream-stream", args.to_args())
            }
            (Who::Ceiling, _) => ChildCommand::bench(&label, "__copier", args.to_args()),
            (Who::KStreams, _) => {
                let peer = self.peer.ok_or("the Kafka Streams peer is not available")?;
                Ok(peer.command(&label, w.name(), args))
            }
        }
    }

    /// Output records the contender writes for records `0..n` of the
    /// (main) input and `other` records of the joins' second input (the
    /// table; the stream-stream join's right side holds `n` too).
    fn expected(w: Workload, who: Who, n: u64, other: u64) -> u64 {
        match (w, who) {
            (Workload::Passthrough, Who::Weir | Who::KStreams) => data::expected_kept(n),
            // The copier copies both inputs.
            (Workload::StreamTableJoin, Who::Ceiling) => n + other,
            (Workload::StreamStreamJoin, Who::Ceiling) => 2 * n,
            // One output per event (each finds its row), per pair.
            _ => n,
        }
    }

    fn preload(&self, w: Workload) -> BenchResult<Input> {
        let topic = KafkaCluster::unique_topic(&format!("bench-{}-input", w.name()));
        weir_kafka::create_topics(self.conn, &[TopicSpec::new(&topic, PARTITIONS)])?;
        let t = Instant::now();
        let mut other = None;
        let main = match w {
            Workload::StreamTableJoin => {
                let table = KafkaCluster::unique_topic("bench-stream-table-join-table");
                weir_kafka::create_topics(self.conn, &[TopicSpec::new(&table, PARTITIONS)])?;
                let (n, rows) = (self.mode.join_events, self.mode.join_rows);
                data::preload_stream_table(self.conn, &table, rows, &topic, n)?;
                println!(
                    "input:    a table of {rows} rows (~40 B) keyed key-0..key-{}, then {n} events keyed over the same keys (short values), each in {PARTITIONS} partitions",
                    rows - 1
                );
                other = Some((table, rows));
                n
            }
            Workload::StreamStreamJoin => {
                let right = KafkaCluster::unique_topic("bench-stream-stream-join-right");
                weir_kafka::create_topics(self.conn, &[TopicSpec::new(&right, PARTITIONS)])?;
                let (n, keys) = (self.mode.pair_records, self.mode.pair_keys);
                data::preload_stream_stream(
                    self.conn,
                    &topic,
                    &right,
                    n,
                    keys,
                    self.mode.pair_span_ms,
                )?;
                println!(
                    "input:    {n} records per side keyed over {keys} keys, event times over {} s in order, each left record with one right record {} ms later, each side in {PARTITIONS} partitions",
                    self.mode.pair_span_ms / 1000,
                    data::PAIR_OFFSET_MS
                );
                other = Some((right, n));
                n
            }
            Workload::Passthrough => {
                data::preload(self.conn, &topic, self.mode.records)?;
                println!(
                    "input:    {} records (~200 B JSON, {} keys) in {PARTITIONS} partitions",
                    self.mode.records,
                    data::DEVICES
                );
                self.mode.records
            }
            Workload::Windowed => {
                let base = data::preload_windowed(
                    self.conn,
                    &topic,
                    self.mode.windowed_records,
                    self.mode.windowed_keys,
                    self.mode.windowed_span_ms,
                )?;
                println!(
                    "input:    {} records keyed key-0..key-{} ({} keys, short values) in {PARTITIONS} partitions, event times from {base} over {} s (in order)",
                    self.mode.windowed_records,
                    self.mode.windowed_keys - 1,
                    self.mode.windowed_keys,
                    self.mode.windowed_span_ms / 1000
                );
                self.mode.windowed_records
            }
            Workload::Count | Workload::Restore => {
                data::preload_counted(
                    self.conn,
                    &topic,
                    self.mode.count_records,
                    self.mode.count_keys,
                )?;
                println!(
                    "input:    {} records keyed key-0..key-{} ({} keys, short values) in {PARTITIONS} partitions",
                    self.mode.count_records,
                    self.mode.count_keys - 1,
                    self.mode.count_keys
                );
                self.mode.count_records
            }
        };
        let records = match w {
            Workload::StreamStreamJoin => 2 * main,
            _ => main,
        };
        let loaded = main + other.as_ref().map_or(0, |(_, n)| *n);
        let s = t.elapsed().as_secs_f64();
        println!(
            "          preloaded in {s:.1} s ({:.0} records/s)",
            loaded as f64 / s
        );
        Ok(Input {
            topic,
            main,
            other,
            records,
        })
    }

    /// Runs every selected workload under every selected variant.
    pub(crate) fn run(&self) -> BenchResult<Results> {
        let mut results = Results::new();
        let mut warmed = false;
        for &w in self.workloads {
            if w == Workload::Restore {
                continue;
            }
            println!();
            println!("== {}", w.name());
            let input = self.preload(w)?;
            if !warmed {
                warmed = true;
                self.warm_up(w, &input);
            }
            for &v in self.variants {
                let apps = self.run_workload(w, v, &input, &mut results)?;
                if w == Workload::Count && self.workloads.contains(&Workload::Restore) {
                    self.run_restores(v, &input, &apps, &mut results)?;
                }
            }
        }
        Ok(results)
    }

    /// Rounds of the copier over the first input, not counted: the broker
    /// is a JVM too, and whoever ran first on a fresh one paid for its
    /// warm-up (Weir, first in round 1, read 45-77k records/s there in
    /// quick runs against 216-240k in the rounds after; the copier read 80k
    /// in its first warm-up round). A failure here only says so: the
    /// measured rounds report their own.
    fn warm_up(&self, w: Workload, input: &Input) {
        let Some(&v) = self.variants.first() else {
            return;
        };
        for round in 1..=WARM_UP_ROUNDS {
            match self.one_round(w, v, Who::Ceiling, input) {
                Ok((run, Ok(lat), _)) => println!(
                    "warm-up {round}: the copier over it, not counted ({:.0} records/s, p99 {:.1} ms)",
                    run.records_per_s, lat.p99_ms
                ),
                Ok((run, Err(e), _)) => println!(
                    "warm-up {round}: the copier over it, not counted ({:.0} records/s; its latency run failed: {e})",
                    run.records_per_s
                ),
                Err(e) => {
                    println!("warm-up {round}: the copier over it failed ({e}); going on");
                    return;
                }
            }
        }
    }

    /// The rounds of one workload under one variant. Returns, per contender,
    /// the application id of its last successful run (for the restore).
    fn run_workload(
        &self,
        w: Workload,
        v: Variant,
        input: &Input,
        results: &mut Results,
    ) -> BenchResult<BTreeMap<Who, String>> {
        println!();
        println!(
            "-- {} {} (processing.guarantee={}, commit.interval.ms={}), {} round(s), order rotating",
            w.name(),
            v.tag,
            v.guarantee.as_str(),
            v.commit_ms,
            self.mode.rounds
        );
        let mut runs: BTreeMap<Who, Vec<RunFigures>> = BTreeMap::new();
        let mut lats: BTreeMap<Who, Vec<LatencyFigures>> = BTreeMap::new();
        let mut lat_failures: BTreeMap<Who, Vec<String>> = BTreeMap::new();
        let mut stopped: BTreeMap<Who, Outcome> = BTreeMap::new();
        let mut last_app: BTreeMap<Who, String> = BTreeMap::new();
        for who in Who::ALL {
            if !self.contenders.contains(&who) {
                stopped.insert(who, Outcome::Skipped("not selected".to_string()));
            }
        }
        for round in 0..self.mode.rounds {
            let mut order: Vec<Who> = Who::ALL.to_vec();
            let n = order.len();
            order.rotate_left(round % n);
            for who in order {
                if stopped.contains_key(&who) {
                    continue;
                }
                let tag = format!("{} #{}", who.name(), round + 1);
                match self.one_round(w, v, who, input) {
                    Ok((run, lat, app)) => {
                        let lat_text = match lat {
                            Ok(lat) => {
                                lats.entry(who).or_default().push(lat);
                                format!(
                                    "cold {:>5.2} s p50 {:>6.1} ms p99 {:>6.1} ms ({} samples)",
                                    lat.cold_start_s, lat.p50_ms, lat.p99_ms, lat.samples
                                )
                            }
                            Err(e) => {
                                let text = format!("latency run FAILED: {e}");
                                lat_failures
                                    .entry(who)
                                    .or_default()
                                    .push(format!("#{}: {e}", round + 1));
                                text
                            }
                        };
                        println!(
                            "  {tag:<13} {:>10.0} rec/s {:>7.2} CPU-s/M {:>7.1} MiB | {lat_text}",
                            run.records_per_s, run.cpu_s_per_million, run.peak_rss_mib,
                        );
                        runs.entry(who).or_default().push(run);
                        last_app.insert(who, app);
                    }
                    Err(e) => {
                        let e = e.to_string();
                        let outcome = if who == Who::Weir && is_unsupported(&e) {
                            println!("  {tag:<13} not available: {e}");
                            Outcome::NotAvailable(e)
                        } else {
                            println!("  {tag:<13} FAILED: {e}");
                            Outcome::Failed(e)
                        };
                        stopped.insert(who, outcome);
                    }
                }
            }
        }
        for who in Who::ALL {
            let outcome = match stopped.remove(&who) {
                Some(o) => o,
                None => Outcome::Measured(Figures {
                    run: runs.get(&who).and_then(|r| median_run(r)),
                    latency: lats.get(&who).and_then(|l| median_latency(l)),
                    latency_failures: lat_failures.remove(&who).unwrap_or_default(),
                    restore: None,
                }),
            };
            results.insert((w, v, who), outcome);
        }
        Ok(last_app)
    }

    /// One round of one contender: the throughput run over the preloaded
    /// input, then the latency run. Returns the throughput run's figures,
    /// the latency run's (or why it failed: a contender that loses output
    /// under the offered load keeps its throughput figures) and the
    /// throughput run's app id. Fails when the throughput run fails.
    fn one_round(
        &self,
        w: Workload,
        v: Variant,
        who: Who,
        input: &Input,
    ) -> BenchResult<(RunFigures, Result<LatencyFigures, String>, String)> {
        let output = output_topic(self.conn, &format!("bench-{}-{}-out", w.name(), who.name()))?;
        let mut args = self.child_args(&input.topic, input.other.as_ref(), &output, v, input.main);
        args.group = KafkaCluster::unique_group(&format!("bench-{}-{}", w.name(), who.name()));
        let state_dir = fresh_state_dir(who.name())?;
        args.state_dir = state_dir.clone();
        let cmd = self.command(w, who, &args)?;
        let run = measure::run_contender(
            self.conn,
            &cmd,
            &output,
            input.records,
            Self::expected(
                w,
                who,
                input.main,
                input.other.as_ref().map_or(0, |(_, n)| *n),
            ),
            RUN_TIMEOUT,
        );
        let _ = std::fs::remove_dir_all(&state_dir);
        let run = run?;
        let app = args.group.clone();

        let lat_input = KafkaCluster::unique_topic(&format!("bench-lat-{}-input", w.name()));
        weir_kafka::create_topics(self.conn, &[TopicSpec::new(&lat_input, PARTITIONS)])?;
        let lat_output = output_topic(self.conn, &format!("bench-lat-{}-out", who.name()))?;
        let plan = LatencyPlan {
            warmup: self.mode.latency_warmup,
            records: self.mode.latency_records,
            rate: self.mode.latency_rate,
            // The first second of the offered load.
            ramp: self.mode.latency_rate as u64,
        };
        let offered = plan.warmup + plan.records;
        // The joins' second input: the table, loaded before the child
        // starts (one row per latency key, older than every event), or the
        // right-hand stream, offered with the left one.
        let lat_other = match w {
            Workload::StreamTableJoin | Workload::StreamStreamJoin => {
                let t = KafkaCluster::unique_topic(&format!("bench-lat-{}-other", w.name()));
                weir_kafka::create_topics(self.conn, &[TopicSpec::new(&t, PARTITIONS)])?;
                if w == Workload::StreamTableJoin {
                    let rows = self.mode.latency_keys;
                    data::preload_table(self.conn, &t, rows, data::now_ms() - 60_000)?;
                    Some((t, rows))
                } else {
                    Some((t, offered))
                }
            }
            _ => None,
        };
        let other_n = lat_other.as_ref().map_or(0, |(_, n)| *n);
        let mut largs = self.child_args(&lat_input, lat_other.as_ref(), &lat_output, v, offered);
        largs.group = KafkaCluster::unique_group(&format!("bench-lat-{}", who.name()));
        let lat_state = fresh_state_dir(who.name())?;
        largs.state_dir = lat_state.clone();
        let lcmd = self.command(w, who, &largs)?;
        let keys = self.mode.latency_keys;
        let (kind, traced) = match (w, who) {
            (Workload::Passthrough, _) => (LatencyInput::Json, Traced::JsonId),
            (Workload::StreamTableJoin, _) => (LatencyInput::Counted { keys }, Traced::Enriched),
            // A key per pair: no other record of its key within the window.
            (Workload::StreamStreamJoin, _) => {
                (LatencyInput::Paired { keys: offered }, Traced::Paired)
            }
            (_, Who::Ceiling) => (LatencyInput::Counted { keys }, Traced::DecimalValue),
            (Workload::Windowed, _) => (
                LatencyInput::Counted { keys },
                Traced::WindowedCount {
                    keys,
                    size_ms: crate::apps::WINDOW_MS,
                },
            ),
            _ => (LatencyInput::Counted { keys }, Traced::Count { keys }),
        };
        let lat = latency::run_latency(
            self.conn,
            &lcmd,
            &lat_input,
            lat_other
                .as_ref()
                .filter(|_| w == Workload::StreamStreamJoin)
                .map(|(t, _)| t.as_str()),
            &lat_output,
            kind,
            traced,
            plan,
            |n| Self::expected(w, who, n, other_n),
        );
        let _ = std::fs::remove_dir_all(&lat_state);
        Ok((run, lat.map_err(|e| e.to_string()), app))
    }

    /// Restores the count state of Weir and the peer from the changelogs of
    /// their last count runs under `v`.
    fn run_restores(
        &self,
        v: Variant,
        input: &Input,
        apps: &BTreeMap<Who, String>,
        results: &mut Results,
    ) -> BenchResult<()> {
        println!();
        println!(
            "-- restore {}: the count apps again, same application id, state dir wiped, no new input",
            v.tag
        );
        for who in Who::ALL {
            let key = (Workload::Restore, v, who);
            if who == Who::Ceiling {
                results.insert(key, Outcome::Skipped("no state".to_string()));
                continue;
            }
            let Some(app) = apps.get(&who) else {
                let why = match results.get(&(Workload::Count, v, who)) {
                    Some(Outcome::NotAvailable(e)) => Outcome::NotAvailable(e.clone()),
                    Some(Outcome::Skipped(e)) => Outcome::Skipped(e.clone()),
                    _ => Outcome::Skipped("its count run failed".to_string()),
                };
                results.insert(key, why);
                continue;
            };
            let outcome = match self.restore(v, who, input, app) {
                Ok(f) => {
                    println!(
                        "  {:<13} {} records in {:.3} s = {:.0} rec/s; {:.2} s from process start; CPU {:.2} s, peak RSS {:.1} MiB",
                        who.name(),
                        f.restored,
                        f.restore_s,
                        f.records_per_s,
                        f.wall_s,
                        f.cpu_s,
                        f.peak_rss_mib
                    );
                    Outcome::Measured(Figures {
                        restore: Some(f),
                        ..Figures::default()
                    })
                }
                Err(e) => {
                    let e = e.to_string();
                    if who == Who::Weir && is_unsupported(&e) {
                        println!("  {:<13} not available: {e}", who.name());
                        Outcome::NotAvailable(e)
                    } else {
                        println!("  {:<13} FAILED: {e}", who.name());
                        Outcome::Failed(e)
                    }
                }
            };
            results.insert(key, outcome);
        }
        Ok(())
    }

    fn restore(
        &self,
        v: Variant,
        who: Who,
        input: &Input,
        app: &str,
    ) -> BenchResult<RestoreFigures> {
        let changelog = format!("{app}-counts-changelog");
        let logged = measure::output_count(self.conn, &changelog)?;
        let mut args = self.child_args(&input.topic, None, "unused", v, 0);
        args.output = KafkaCluster::unique_topic("bench-restore-unused-out");
        weir_kafka::create_topics(self.conn, &[TopicSpec::new(&args.output, PARTITIONS)])?;
        args.group = app.to_string();
        let state_dir = fresh_state_dir(&format!("restore-{}", who.name()))?;
        args.state_dir = state_dir.clone();
        let cmd = self.command(Workload::Restore, who, &args)?;
        let r = measure::run_reporting_child(&cmd, RUN_TIMEOUT);
        let _ = std::fs::remove_dir_all(&state_dir);
        let r = r?;
        let rep = r.report;
        if rep.restored == 0 {
            return Err(format!(
                "{}: nothing restored from {changelog} ({logged} offsets)",
                who.name()
            )
            .into());
        }
        let restore_s = rep.restore_us.max(1) as f64 / 1e6;
        Ok(RestoreFigures {
            restored: rep.restored,
            restore_s,
            records_per_s: rep.restored as f64 / restore_s,
            wall_s: rep.settled_ms as f64 / 1e3,
            cpu_s: r.cpu_s,
            peak_rss_mib: r.peak_rss_mib,
        })
    }
}
