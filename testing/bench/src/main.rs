//! `weir-bench [--quick] [--workloads passthrough,count,restore]`: the
//! benchmarks (all three by default, in that order).
//!
//! Pass-through:
//! One broker (the launcher's, through `weir_testing::KafkaCluster`, or
//! `WEIR_BOOTSTRAP_SERVERS`), one preloaded 8-partition input topic of
//! ~200-byte JSON records, and two contenders run one after the other as
//! child processes of this binary, each into a fresh output topic with a
//! fresh consumer group:
//!
//! - `weir`: a Weir application (1 stream thread, at-least-once) doing
//!   stream -> filter (parse JSON) -> map_values (parse, modify, serialize) -> to;
//! - `copier`: `weir_kafka::copier::run_copier`, raw clients with the same
//!   settings and commit discipline and no processing: the ceiling.
//!
//! Count: count by key (RocksDB store, changelogged) over a separate input
//! topic; restore: the same application restarted with its state wiped,
//! timed until its store is restored from the changelog.
//!
//! See README.md for what each figure means. Each workload ends with a
//! `RESULT <workload> ...` line.

mod apps;
mod data;
mod measure;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use weir_kafka::{Connection, TopicSpec};
use weir_testing::cluster::BrokerSource;
use weir_testing::KafkaCluster;

use measure::RunFigures;

/// The error type of the bench binary.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;
/// The result type of the bench binary.
pub type BenchResult<T> = Result<T, BenchError>;

const PARTITIONS: i32 = 8;
const COMMIT_INTERVAL_MS: u64 = 1000;
/// Bound on one contender run.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

struct Mode {
    records: u64,
    rounds: usize,
    count_records: u64,
    count_keys: u64,
}

const FULL: Mode = Mode {
    records: 2_000_000,
    rounds: 3,
    count_records: 2_000_000,
    count_keys: 100_000,
};
const QUICK: Mode = Mode {
    records: 200_000,
    rounds: 1,
    count_records: 200_000,
    count_keys: 10_000,
};
/// The count app's RocksDB block cache + memtable budget.
const COUNT_BUDGET_BYTES: usize = 256 << 20;

/// Which workloads to run (`--workloads passthrough,count,restore`; all by default).
struct Workloads {
    passthrough: bool,
    count: bool,
    restore: bool,
}

impl Workloads {
    fn parse(list: &str) -> BenchResult<Self> {
        let mut w = Workloads {
            passthrough: false,
            count: false,
            restore: false,
        };
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "passthrough" => w.passthrough = true,
                "count" => w.count = true,
                // The restore reads the changelog the count run leaves.
                "restore" => {
                    w.count = true;
                    w.restore = true;
                }
                other => {
                    return Err(
                        format!("unknown workload '{other}' (passthrough, count, restore)").into(),
                    )
                }
            }
        }
        if !(w.passthrough || w.count) {
            return Err("no workload selected".into());
        }
        Ok(w)
    }

    fn names(&self) -> Vec<&'static str> {
        [
            (self.passthrough, "pass-through"),
            (self.count, "count"),
            (self.restore, "restore"),
        ]
        .into_iter()
        .filter_map(|(on, n)| on.then_some(n))
        .collect()
    }
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

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => xs[n / 2],
        _ => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

fn print_row(name: &str, f: &RunFigures) {
    println!(
        "{name:<10} {:>12.0} {:>9.2} {:>14.2} {:>14.1}",
        f.records_per_s, f.wall_s, f.cpu_s_per_million, f.peak_rss_mib
    );
}

fn summarize(runs: &[RunFigures]) -> RunFigures {
    let pick = |g: fn(&RunFigures) -> f64| median(runs.iter().map(g).collect());
    RunFigures {
        wall_s: pick(|f| f.wall_s),
        records_per_s: pick(|f| f.records_per_s),
        cpu_s_per_million: pick(|f| f.cpu_s_per_million),
        peak_rss_mib: pick(|f| f.peak_rss_mib),
    }
}

fn bench(mode: &Mode, workloads: &Workloads) -> BenchResult<()> {
    println!("weir-bench: {}", workloads.names().join(", "));
    println!("machine:  {}", machine());
    let t = Instant::now();
    let kafka = KafkaCluster::get()?;
    let broker = match kafka.source() {
        BrokerSource::External => {
            "external broker (WEIR_BOOTSTRAP_SERVERS; version not checked)".to_string()
        }
        _ => format!(
            "Apache Kafka {} (single node, KRaft, local launcher)",
            weir_testing::cluster::KAFKA_IMAGE_TAG
        ),
    };
    println!(
        "broker:   {broker} at {} (ready in {:.1} s)",
        kafka.bootstrap_servers(),
        t.elapsed().as_secs_f64()
    );
    println!("client:   librdkafka {}", weir_kafka::librdkafka_version());
    let conn = kafka.connection();
    if workloads.passthrough {
        println!();
        passthrough(kafka, &conn, mode)?;
    }
    if workloads.count {
        println!();
        count_and_restore(kafka, &conn, mode, workloads.restore)?;
    }
    Ok(())
}

fn passthrough(kafka: &KafkaCluster, conn: &Connection, mode: &Mode) -> BenchResult<()> {
    println!("== pass-through");
    let input = KafkaCluster::unique_topic("bench-input");
    weir_kafka::create_topics(conn, &[TopicSpec::new(&input, PARTITIONS)])?;
    let t = Instant::now();
    data::preload(conn, &input, mode.records)?;
    let preload_s = t.elapsed().as_secs_f64();
    let kept = data::expected_kept(mode.records);
    println!(
        "input:    {} records (~200 B JSON, {} keys) in {PARTITIONS} partitions, preloaded in {preload_s:.1} s ({:.0} records/s)",
        mode.records,
        data::DEVICES,
        mode.records as f64 / preload_s
    );
    println!(
        "expected: weir writes {kept} (filter value >= {}), copier writes {}",
        data::THRESHOLD,
        mode.records
    );
    println!(
        "settings: commit.interval.ms={COMMIT_INTERVAL_MS} for both, 1 stream thread, at-least-once; {} round(s), order alternating",
        mode.rounds
    );
    println!();
    println!(
        "{:<10} {:>12} {:>9} {:>14} {:>14}",
        "run", "records/s", "wall s", "CPU-s/M rec", "peak RSS MiB"
    );

    let mut weir_runs = Vec::new();
    let mut copier_runs = Vec::new();
    for round in 0..mode.rounds {
        let order: [&str; 2] = if round % 2 == 0 {
            ["weir", "copier"]
        } else {
            ["copier", "weir"]
        };
        for name in order {
            let output = KafkaCluster::unique_topic(&format!("bench-{name}-out"));
            weir_kafka::create_topics(conn, &[TopicSpec::new(&output, PARTITIONS)])?;
            let (sub, expected) = if name == "weir" {
                ("__weir", kept)
            } else {
                ("__copier", mode.records)
            };
            let args = apps::ChildArgs {
                bootstrap: kafka.bootstrap_servers().to_string(),
                input: input.clone(),
                output,
                group: KafkaCluster::unique_group(&format!("bench-{name}")),
                commit_ms: COMMIT_INTERVAL_MS,
                stop_after: mode.records,
            };
            let figures =
                measure::run_contender(conn, sub, &args, mode.records, expected, RUN_TIMEOUT)
                    .map_err(|e| format!("round {} ({name}): {e}", round + 1))?;
            print_row(&format!("{name} #{}", round + 1), &figures);
            if name == "weir" {
                weir_runs.push(figures);
            } else {
                copier_runs.push(figures);
            }
        }
    }
    let weir = summarize(&weir_runs);
    let copier = summarize(&copier_runs);
    println!();
    println!("medians over {} round(s):", mode.rounds);
    println!(
        "{:<10} {:>12} {:>9} {:>14} {:>14}",
        "contender", "records/s", "wall s", "CPU-s/M rec", "peak RSS MiB"
    );
    print_row("weir", &weir);
    print_row("copier", &copier);
    let ratio = weir.records_per_s / copier.records_per_s;
    println!("RESULT passthrough weir_vs_copier={ratio:.2}");
    Ok(())
}

/// A fresh, empty state directory under the system temp dir.
fn fresh_state_dir(what: &str) -> BenchResult<std::path::PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir =
        std::env::temp_dir().join(format!("weir-bench-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn count_and_restore(
    kafka: &KafkaCluster,
    conn: &Connection,
    mode: &Mode,
    restore: bool,
) -> BenchResult<()> {
    println!("== count{}", if restore { " + restore" } else { "" });
    let input = KafkaCluster::unique_topic("bench-count-input");
    let output = KafkaCluster::unique_topic("bench-count-out");
    weir_kafka::create_topics(
        conn,
        &[
            TopicSpec::new(&input, PARTITIONS),
            TopicSpec::new(&output, PARTITIONS),
        ],
    )?;
    let t = Instant::now();
    data::preload_counted(conn, &input, mode.count_records, mode.count_keys)?;
    let preload_s = t.elapsed().as_secs_f64();
    println!(
        "input:    {} records keyed key-0..key-{} ({} keys, short values) in {PARTITIONS} partitions, preloaded in {preload_s:.1} s",
        mode.count_records,
        mode.count_keys - 1,
        mode.count_keys
    );
    println!(
        "app:      stream -> group_by_key -> count (RocksDB, budget {} MiB, changelogged) -> to_stream -> to; 1 stream thread, at-least-once, commit.interval.ms={COMMIT_INTERVAL_MS}",
        COUNT_BUDGET_BYTES >> 20
    );
    let app_id = KafkaCluster::unique_group("bench-count");
    let state_dir = fresh_state_dir("count")?;
    let mut args = apps::CountArgs {
        bootstrap: kafka.bootstrap_servers().to_string(),
        input,
        output,
        app_id: app_id.clone(),
        commit_ms: COMMIT_INTERVAL_MS,
        expect: mode.count_records,
        state_dir: state_dir.clone(),
        budget_bytes: COUNT_BUDGET_BYTES,
    };
    let counted = measure::run_reporting_child("__count", &args.to_args(), RUN_TIMEOUT);
    // Wiping the count's local state is also the restore's precondition.
    let _ = std::fs::remove_dir_all(&state_dir);
    let counted = counted.map_err(|e| format!("count: {e}"))?;
    let millions = mode.count_records as f64 / 1e6;
    let count = RunFigures {
        wall_s: counted.wall_s,
        records_per_s: mode.count_records as f64 / counted.wall_s,
        cpu_s_per_million: counted.cpu_s / millions,
        peak_rss_mib: counted.peak_rss_mib,
    };
    println!();
    println!(
        "{:<10} {:>12} {:>9} {:>14} {:>14}",
        "run", "records/s", "wall s", "CPU-s/M rec", "peak RSS MiB"
    );
    print_row("count", &count);
    let changelog = format!("{app_id}-counts-changelog");
    let logged = measure::output_count(conn, &changelog)?;
    println!(
        "changelog: {changelog} holds {logged} updates for {} keys (end offsets; compacted topic, but the log cleaner has not compacted the active segments yet)",
        mode.count_keys
    );
    println!(
        "RESULT count weir_rps={:.0} rss_mb={:.0}",
        count.records_per_s, count.peak_rss_mib
    );
    if !restore {
        return Ok(());
    }

    println!();
    println!("== restore: same application id, state dir wiped, no new input");
    let state_dir = fresh_state_dir("restore")?;
    args.state_dir = state_dir.clone();
    args.expect = 0;
    let restored = measure::run_reporting_child("__restore", &args.to_args(), RUN_TIMEOUT);
    let _ = std::fs::remove_dir_all(&state_dir);
    let restored = restored.map_err(|e| format!("restore: {e}"))?;
    let r = restored.report;
    if r.restored == 0 {
        return Err(format!(
            "restore: the application reached Running without restoring anything from {changelog}"
        )
        .into());
    }
    let rate = r.restored as f64 * 1e6 / (r.restore_us.max(1) as f64);
    println!(
        "restored: {} records in {:.3} s of restore time (restore_us_total) = {rate:.0} records/s",
        r.restored,
        r.restore_us as f64 / 1e6
    );
    println!(
        "wall:     {:.2} s from process start until restored_records last grew ({:.2} s until reported done, {} s of settling included); CPU {:.2} s, peak RSS {:.1} MiB",
        r.settled_ms as f64 / 1e3,
        restored.wall_s,
        apps::RESTORE_SETTLE.as_secs(),
        restored.cpu_s,
        restored.peak_rss_mib
    );
    println!("RESULT restore weir_rps={rate:.0}");
    Ok(())
}

const USAGE: &str = "usage: weir-bench [--quick] [--workloads passthrough,count,restore]";

fn run() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("__weir") => return apps::run_weir(&apps::ChildArgs::parse(&args[1..])?),
        Some("__copier") => return apps::run_raw_copier(&apps::ChildArgs::parse(&args[1..])?),
        Some("__count") => {
            return apps::run_count(&apps::CountArgs::parse(&args[1..])?, apps::CountMode::Count)
        }
        Some("__restore") => {
            return apps::run_count(
                &apps::CountArgs::parse(&args[1..])?,
                apps::CountMode::Restore,
            )
        }
        _ => {}
    }
    let mut mode = &FULL;
    let mut workloads = Workloads::parse("passthrough,count,restore")?;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => mode = &QUICK,
            "--workloads" => workloads = Workloads::parse(it.next().ok_or(USAGE)?)?,
            _ => match a.strip_prefix("--workloads=") {
                Some(list) => workloads = Workloads::parse(list)?,
                None => return Err(USAGE.into()),
            },
        }
    }
    bench(mode, &workloads)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weir-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
