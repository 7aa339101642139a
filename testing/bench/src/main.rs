//! `weir-bench [--quick]`: the pass-through benchmark.
//!
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
//! See README.md for what each figure means. The last line is
//! `RESULT passthrough weir_vs_copier=<ratio>`.

mod apps;
mod data;
mod measure;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use weir_kafka::TopicSpec;
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

fn bench(mode: &Mode) -> BenchResult<()> {
    println!("weir-bench: pass-through");
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
    let input = KafkaCluster::unique_topic("bench-input");
    weir_kafka::create_topics(&conn, &[TopicSpec::new(&input, PARTITIONS)])?;
    let t = Instant::now();
    data::preload(&conn, &input, mode.records)?;
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
            weir_kafka::create_topics(&conn, &[TopicSpec::new(&output, PARTITIONS)])?;
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
                measure::run_contender(&conn, sub, &args, mode.records, expected, RUN_TIMEOUT)
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

fn run() -> BenchResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("__weir") => apps::run_weir(&apps::ChildArgs::parse(&args[1..])?),
        Some("__copier") => apps::run_raw_copier(&apps::ChildArgs::parse(&args[1..])?),
        None => bench(&Mode {
            records: 2_000_000,
            rounds: 3,
        }),
        Some("--quick") if args.len() == 1 => bench(&Mode {
            records: 200_000,
            rounds: 1,
        }),
        Some(_) => Err("usage: weir-bench [--quick]".into()),
    }
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
