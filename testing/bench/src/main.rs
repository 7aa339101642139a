//! `weir-bench [--quick] [--rounds N] [--workloads passthrough,count,restore,windowed-count,stream-table-join,stream-stream-join]
//! [--guarantees alos,eos] [--contenders weir,kstreams,ceiling] [--docs PATH]`:
//! the side-by-side benchmarks against Kafka Streams.
//!
//! One broker (the launcher's, through `weir_testing::KafkaCluster`, or
//! `WEIR_BOOTSTRAP_SERVERS`); per workload one preloaded 8-partition input
//! topic; three contenders run one after the other as child processes, each
//! into a fresh output topic with a fresh application id:
//!
//! - `weir`: a Weir application (1 stream thread);
//! - `kstreams`: the same topology on Kafka Streams (testing/bench/kstreams);
//! - `ceiling`: `weir_kafka::tools::copier::run_copier`, raw clients copying the
//!   input with no processing (transactional under exactly-once).
//!
//! Workloads: pass-through (filter + map over ~200-byte JSON), count by key
//! (RocksDB store, changelogged), restore (the count app restarted with
//! its state wiped), the windowed count (1-minute tumbling windows over
//! event time, RocksDB window store), and two joins (a stream enriched from
//! a table; two streams joined in a 1 s window). Each under at-least-once and exactly_once_v2. See
//! README.md for what each figure means. Ends with `RESULT ...` lines and
//! writes its table into docs/benchmarks.md.

mod apps;
mod compare;
mod data;
mod joins;
mod latency;
mod measure;
mod peer;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use weir_testing::cluster::BrokerSource;
use weir_testing::KafkaCluster;

use compare::{Outcome, Results, Variant, Who, Workload};

/// The error type of the bench binary.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;
/// The result type of the bench binary.
pub type BenchResult<T> = Result<T, BenchError>;

const PARTITIONS: i32 = 8;

/// The sizes of a run.
#[derive(Clone)]
pub struct Mode {
    name: &'static str,
    /// Pass-through input records.
    records: u64,
    rounds: usize,
    /// Count input records, over `count_keys` keys.
    count_records: u64,
    count_keys: u64,
    /// Windowed count input records, over `windowed_keys` keys, their event
    /// times spread over `windowed_span_ms` (1-minute windows).
    windowed_records: u64,
    windowed_keys: u64,
    windowed_span_ms: i64,
    /// Stream-table join: events over `join_rows` table rows (and keys).
    join_events: u64,
    join_rows: u64,
    /// Stream-stream join: pairs (records per side) over `pair_keys` keys,
    /// event times spread over `pair_span_ms`.
    pair_records: u64,
    pair_keys: u64,
    pair_span_ms: i64,
    /// Latency runs: records in the input before the child starts, records
    /// offered after that, at `latency_rate` per second, over `latency_keys`
    /// keys for the count.
    latency_warmup: u64,
    latency_records: u64,
    latency_rate: f64,
    latency_keys: u64,
}

const FULL: Mode = Mode {
    name: "full",
    records: 2_000_000,
    rounds: 3,
    count_records: 2_000_000,
    count_keys: 1_000_000,
    windowed_records: 2_000_000,
    windowed_keys: 100_000,
    windowed_span_ms: 300_000,
    join_events: 2_000_000,
    join_rows: 100_000,
    pair_records: 1_000_000,
    pair_keys: 100_000,
    pair_span_ms: 60_000,
    latency_warmup: 1_000,
    latency_records: 50_000,
    latency_rate: 5_000.0,
    latency_keys: 1_000,
};
const QUICK: Mode = Mode {
    name: "quick",
    records: 200_000,
    rounds: 1,
    count_records: 200_000,
    count_keys: 10_000,
    // Smaller than the count's: the row has to fit in CI's quick run.
    windowed_records: 50_000,
    windowed_keys: 5_000,
    windowed_span_ms: 300_000,
    // Small too: the two join rows have to fit in CI's quick run as well.
    join_events: 50_000,
    join_rows: 5_000,
    pair_records: 25_000,
    pair_keys: 2_500,
    pair_span_ms: 60_000,
    latency_warmup: 500,
    latency_records: 10_000,
    latency_rate: 2_000.0,
    latency_keys: 1_000,
};

/// What to run.
struct Options {
    mode: Mode,
    workloads: Vec<Workload>,
    variants: Vec<Variant>,
    contenders: Vec<Who>,
    /// Where the table is written (`None`: nowhere).
    docs: Option<PathBuf>,
}

fn parse_workloads(list: &str) -> BenchResult<Vec<Workload>> {
    let mut w = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            "passthrough" => w.push(Workload::Passthrough),
            "count" => w.push(Workload::Count),
            // The restore reads the changelog the count run leaves.
            "restore" => w.extend([Workload::Count, Workload::Restore]),
            "windowed-count" | "windowed" => w.push(Workload::Windowed),
            "stream-table-join" => w.push(Workload::StreamTableJoin),
            "stream-stream-join" => w.push(Workload::StreamStreamJoin),
            other => {
                return Err(format!(
                    "unknown workload '{other}' (passthrough, count, restore, windowed-count, stream-table-join, stream-stream-join)"
                )
                .into())
            }
        }
    }
    w.sort();
    w.dedup();
    if w.is_empty() {
        return Err("no workload selected".into());
    }
    Ok(w)
}

fn parse_list<T: Ord>(list: &str, one: fn(&str) -> BenchResult<T>) -> BenchResult<Vec<T>> {
    let mut v = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(one)
        .collect::<BenchResult<Vec<T>>>()?;
    v.sort();
    v.dedup();
    if v.is_empty() {
        return Err(format!("empty list '{list}'").into());
    }
    Ok(v)
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or_else(
            || "?".to_string(),
            |kib| format!("{:.1}", kib / 1024.0 / 1024.0),
        );
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    format!("{cores} cores ({model}), {mem_gib} GiB memory")
}

/// The first line of a command's stdout, if it runs.
fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status.success().then_some(())?;
    String::from_utf8(out.stdout)
        .ok()?
        .lines()
        .next()
        .map(str::to_string)
}

/// The `RESULT passthrough|count|restore` lines of the earlier benchmark,
/// from the at-least-once rows.
fn legacy_result_lines(results: &Results) {
    let Some(alos) = Variant::ALL.into_iter().find(|v| v.tag == "alos") else {
        return;
    };
    let run = |w, who| report::figures(results, (w, alos, who)).and_then(|f| f.run);
    if let (Some(w), Some(c)) = (
        run(Workload::Passthrough, Who::Weir),
        run(Workload::Passthrough, Who::Ceiling),
    ) {
        println!(
            "RESULT passthrough weir_vs_copier={:.2}",
            w.records_per_s / c.records_per_s
        );
    }
    if let Some(w) = run(Workload::Count, Who::Weir) {
        println!(
            "RESULT count weir_rps={:.0} rss_mb={:.0}",
            w.records_per_s, w.peak_rss_mib
        );
    }
    if let Some(r) =
        report::figures(results, (Workload::Restore, alos, Who::Weir)).and_then(|f| f.restore)
    {
        println!("RESULT restore weir_rps={:.0}", r.records_per_s);
    }
}

fn bench(opts: &Options) -> BenchResult<()> {
    let mode = &opts.mode;
    let names: Vec<&str> = opts.workloads.iter().map(|w| w.name()).collect();
    let tags: Vec<&str> = opts.variants.iter().map(|v| v.tag).collect();
    let who: Vec<&str> = opts.contenders.iter().map(|w| w.name()).collect();
    println!(
        "weir-bench ({}): {} under {} for {}",
        mode.name,
        names.join(", "),
        tags.join(", "),
        who.join(", ")
    );
    let machine = machine();
    println!("machine:  {machine}");
    let peer = if opts.contenders.contains(&Who::KStreams) {
        Some(peer::Peer::locate()?)
    } else {
        None
    };
    let t = Instant::now();
    let kafka = KafkaCluster::get()?;
    let broker = match kafka.source() {
        BrokerSource::External => {
            "external broker (WEIR_BOOTSTRAP_SERVERS; version not checked)".to_string()
        }
        _ => format!(
            "Apache Kafka {} (single node, KRaft, local launcher)",
            weir_testing::cluster::KAFKA_VERSION
        ),
    };
    println!(
        "broker:   {broker} at {} (ready in {:.1} s)",
        kafka.bootstrap_servers(),
        t.elapsed().as_secs_f64()
    );
    let mut versions = vec![
        format!("broker: {broker}"),
        format!(
            "weir {} (commit {}), librdkafka {}",
            env!("CARGO_PKG_VERSION"),
            command_line("git", &["describe", "--always", "--dirty"])
                .unwrap_or_else(|| "unknown".to_string()),
            weir_kafka::librdkafka_version()
        ),
    ];
    if let Some(p) = &peer {
        versions.push(format!(
            "kafka-streams {}, rocksdbjni {}, jackson-databind {}; {} ({})",
            p.jar_version("kafka-streams").unwrap_or_else(|| "?".into()),
            p.jar_version("rocksdbjni").unwrap_or_else(|| "?".into()),
            p.jar_version("jackson-databind")
                .unwrap_or_else(|| "?".into()),
            p.java_version(),
            p.heap()
        ));
    }
    for v in &versions {
        println!("version:  {v}");
    }
    let settings = vec![
        format!(
            "pass-through: {} records of ~200 B JSON; count: {} records over {} keys; windowed count: {} records over {} keys, event times spread evenly over {} min, 1-minute tumbling windows, no grace; 8 partitions; 1 stream thread; {} round(s), order rotating; medians",
            mode.records,
            mode.count_records,
            mode.count_keys,
            mode.windowed_records,
            mode.windowed_keys,
            mode.windowed_span_ms / 60_000,
            mode.rounds
        ),
        format!(
            "stream-table join: {} events over {} table rows (the table loaded first: its records stamped before every event), inner join, output the event's value and the row concatenated; stream-stream join: {} records on each side over {} keys, event times over {} s, each left record with exactly one right record 100 ms later, inner join in a 1 s window with no grace; records/s and CPU per million count the events (stream-table) and both sides' records (stream-stream)",
            mode.join_events,
            mode.join_rows,
            mode.pair_records,
            mode.pair_keys,
            mode.pair_span_ms / 1000
        ),
        format!(
            "commit.interval.ms: {}; record cache off in both (statestore.cache.max.bytes=0 on Kafka Streams); RocksDB budget {} MiB (shared block cache + write buffer manager) in both; producer linger.ms=10, acks=all, idempotent in all",
            opts.variants
                .iter()
                .map(|v| format!("{} under {}", v.commit_ms, v.tag))
                .collect::<Vec<_>>()
                .join(", "),
            compare::COUNT_BUDGET_BYTES >> 20
        ),
        format!(
            "latency: {} warm-up records, then {} records offered at {:.0} records/s, the first second of them not counted (the ramp from idle); output topics with message.timestamp.type=LogAppendTime",
            mode.latency_warmup, mode.latency_records, mode.latency_rate
        ),
    ];
    let conn = kafka.connection();
    let plan = compare::Plan {
        kafka,
        conn: &conn,
        mode,
        workloads: &opts.workloads,
        variants: &opts.variants,
        contenders: &opts.contenders,
        peer: peer.as_ref(),
    };
    let results = plan.run()?;

    println!();
    println!("== results (medians over {} round(s))", mode.rounds);
    println!();
    print!("{}", report::tables(&results));
    println!();
    for l in report::result_lines(&results) {
        println!("{l}");
    }
    legacy_result_lines(&results);
    if let Some(path) = &opts.docs {
        let date = command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
            .unwrap_or_else(|| "unknown date".to_string());
        // A run of some workloads only has a section of its own, so it
        // never replaces the figures of the other workloads.
        let only = (opts.workloads != parse_workloads(DEFAULT_WORKLOADS)?).then(|| names.join(","));
        let info = report::RunInfo {
            mode: mode.name,
            only,
            date,
            machine,
            versions,
            settings,
        };
        report::write_section(path, &info, &results)?;
        println!("table written to {}", path.display());
    }
    // A failed latency run fails the bench too (lost output is a defect
    // whoever loses it), though its round's throughput figures are kept.
    let failed: Vec<String> = results
        .iter()
        .filter_map(|((w, v, who), o)| match o {
            Outcome::Failed(e) => Some(format!("{} {} {}: {e}", w.name(), v.tag, who.name())),
            _ => None,
        })
        .chain(
            report::latency_failures(&results)
                .into_iter()
                .map(|e| format!("latency run {e}")),
        )
        .collect();
    if !failed.is_empty() {
        return Err(format!("{} run(s) failed:\n  {}", failed.len(), failed.join("\n  ")).into());
    }
    Ok(())
}

/// The workloads run when `--workloads` does not say. The two joins are
/// not among them yet: at full size Weir writes a few percent of their
/// output, and Kafka Streams' stream-stream latency run does not complete
/// here (docs/benchmarks.md, the joins); run them with `--workloads`.
const DEFAULT_WORKLOADS: &str = "passthrough,count,restore,windowed-count";

const USAGE: &str = "usage: weir-bench [--quick] [--rounds N] [--workloads passthrough,count,restore,windowed-count,stream-table-join,stream-stream-join] [--guarantees alos,eos,eos-1s] [--contenders weir,kstreams,ceiling] [--docs PATH | --no-docs]";

/// A contender child logs to stderr (echoed by the bench) only when
/// `RUST_LOG` asks it to: measured runs stay quiet.
fn child_logging() {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
}

fn run() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let child = |rest: &[String]| apps::ChildArgs::parse(rest);
    if args.first().is_some_and(|a| a.starts_with("__")) {
        child_logging();
    }
    match args.first().map(String::as_str) {
        Some("__weir") => return apps::run_weir(&child(&args[1..])?),
        Some("__copier") => return apps::run_raw_copier(&child(&args[1..])?),
        Some("__weir-count") => {
            return apps::run_count(&child(&args[1..])?, apps::CountMode::Serve)
        }
        Some("__restore") => return apps::run_count(&child(&args[1..])?, apps::CountMode::Restore),
        Some("__weir-windowed") => return apps::run_windowed_count(&child(&args[1..])?),
        Some("__weir-stream-table") => return joins::run_stream_table_join(&child(&args[1..])?),
        Some("__weir-stream-stream") => return joins::run_stream_stream_join(&child(&args[1..])?),
        _ => {}
    }
    let mut opts = Options {
        mode: FULL,
        workloads: parse_workloads(DEFAULT_WORKLOADS)?,
        variants: parse_list("alos,eos", Variant::parse)?,
        contenders: Who::ALL.to_vec(),
        docs: Some(PathBuf::from("docs/benchmarks.md")),
    };
    let mut rounds = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        let mut value = || -> BenchResult<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it.next().cloned().ok_or_else(|| USAGE.into()),
            }
        };
        match flag {
            "--quick" => opts.mode = QUICK,
            "--rounds" => rounds = Some(value()?.parse::<usize>()?),
            "--workloads" => opts.workloads = parse_workloads(&value()?)?,
            "--guarantees" => opts.variants = parse_list(&value()?, Variant::parse)?,
            "--contenders" => opts.contenders = parse_list(&value()?, Who::parse)?,
            "--docs" => opts.docs = Some(PathBuf::from(value()?)),
            "--no-docs" => opts.docs = None,
            _ => return Err(USAGE.into()),
        }
    }
    if let Some(n) = rounds {
        if n == 0 {
            return Err("--rounds must be at least 1".into());
        }
        opts.mode.rounds = n;
    }
    bench(&opts)
}

/// Every contender this binary runs (Weir's apps and the raw-client
/// ceiling) allocates through jemalloc, as docs/operations.md recommends
/// for a Weir service: under glibc's malloc the per-record allocations of
/// the join workloads cost 15-30% of the stream thread (the small-block
/// consolidations each fetch buffer's release triggers among them). The
/// Kafka Streams peer runs on the JVM's allocator.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weir-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
