//! `eos-app`: the exactly-once verifier's test application (echo,
//! per-key sum/min/max/count behind a repartition step, two windowed
//! counts, one emitting every update and one on window close, a
//! stream-table join and a windowed stream-stream join; see
//! `weir_eos::topology`). The fault driver runs 2-3 of them at once and kills
//! them with SIGKILL.
//!
//! ```text
//! eos-app --bootstrap HOST:PORT --guarantee at_least_once|exactly_once_v2
//!         --commit-interval-ms N --state-dir DIR --instance ID
//!         [--application-id weir-eos] [--input eos-input] [--echo eos-echo]
//!         [--aggs eos-aggs] [--wcount eos-wcount] [--wfinal eos-wfinal]
//!         [--table eos-table] [--side eos-side] [--join eos-join] [--sjoin eos-sjoin]
//!         [--store rocksdb|memory] [--threads 1]
//!         [--owner-pid PID]
//!         [--topology eos|poison] [--sized poison-sized] [--dlq poison-dlq|none]
//! ```
//!
//! `--topology poison` runs the poison-pill verifier's topology instead
//! (`weir_eos::poison_topology`: `--input`, `--echo`, `--aggs` and
//! `--sized`), with every exception handler `log_and_continue` and the
//! dead-letter topic `--dlq` (`none`: no dead-letter queue, handlers left at
//! their defaults).
//!
//! Every option can also come from the environment as `WEIR_EOS_<NAME>`
//! (`--commit-interval-ms` -> `WEIR_EOS_COMMIT_INTERVAL_MS`). It runs until
//! SIGTERM (graceful close with a final commit), a stream thread fails
//! (non-zero exit) or, with `--owner-pid`, that process exits.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use weir::prelude::*;
use weir_eos::poison_topology::{poison_topology, PoisonTopics};
use weir_eos::topology::{eos_topology, EosTopics, StoreBackend};

type BoxError = Box<dyn std::error::Error>;

struct Args(HashMap<String, String>);

impl Args {
    fn parse() -> Result<Self, BoxError> {
        let mut map = HashMap::new();
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let Some(name) = flag.strip_prefix("--") else {
                return Err(format!("unexpected argument '{flag}'").into());
            };
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            map.insert(name.to_string(), value);
        }
        Ok(Args(map))
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned().or_else(|| {
            let env = format!("WEIR_EOS_{}", name.replace('-', "_").to_uppercase());
            std::env::var(env).ok()
        })
    }

    fn required(&self, name: &str) -> Result<String, BoxError> {
        self.get(name)
            .ok_or_else(|| format!("--{name} is required").into())
    }

    fn or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_string())
    }
}

/// Exits the process once `pid` is gone, so a killed driver leaves no app behind.
fn watch_owner(pid: u32) {
    std::thread::spawn(move || loop {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("eos-app: owner {pid} exited; exiting");
            std::process::exit(70);
        }
        std::thread::sleep(Duration::from_secs(1));
    });
}

fn run() -> Result<(), BoxError> {
    let args = Args::parse()?;
    let instance = args.required("instance")?;
    let application_id = args.or("application-id", "weir-eos");
    let state_dir = PathBuf::from(args.required("state-dir")?);
    let guarantee = args.required("guarantee")?;
    let commit_ms: u64 = args.required("commit-interval-ms")?.parse()?;
    let threads: usize = args.or("threads", "1").parse()?;
    if let Some(owner) = args.get("owner-pid") {
        watch_owner(owner.parse()?);
    }
    let topics = EosTopics {
        input: args.or("input", "eos-input"),
        echo: args.or("echo", "eos-echo"),
        aggs: args.or("aggs", "eos-aggs"),
        wcount: args.or("wcount", "eos-wcount"),
        wfinal: args.or("wfinal", "eos-wfinal"),
        table: args.or("table", "eos-table"),
        side: args.or("side", "eos-side"),
        join: args.or("join", "eos-join"),
        sjoin: args.or("sjoin", "eos-sjoin"),
    };
    let backend = match args.or("store", "rocksdb").as_str() {
        "memory" => StoreBackend::Memory,
        "rocksdb" => StoreBackend::RocksDb {
            state_dir: state_dir.clone(),
            application_id: application_id.clone(),
            budget_bytes: 64 << 20,
        },
        other => return Err(format!("--store must be rocksdb or memory, not '{other}'").into()),
    };
    let poison = match args.or("topology", "eos").as_str() {
        "eos" => false,
        "poison" => true,
        other => return Err(format!("--topology must be eos or poison, not '{other}'").into()),
    };
    let mut config = StreamsConfig::builder()
        .application_id(application_id)
        .bootstrap_servers(args.required("bootstrap")?)
        .client_id(format!("weir-eos-{instance}"))
        .state_dir(&state_dir)
        .num_stream_threads(threads)
        .commit_interval(Duration::from_millis(commit_ms))
        .set("processing.guarantee", guarantee)
        // Explicitly no record cache (the store says so too): every update is forwarded.
        .statestore_cache_max_bytes(0)
        // A killed instance's partitions move on within seconds.
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "1000");
    let topology = if poison {
        let dlq = args.or("dlq", "poison-dlq");
        if dlq != "none" {
            config = config
                .set("deserialization.exception.handler", "log_and_continue")
                .set("processing.exception.handler", "log_and_continue")
                .set("production.exception.handler", "log_and_continue")
                .set("errors.dead.letter.queue.topic.name", dlq);
        }
        // Batches far below the sized topic's max.message.bytes, so only a
        // production pill's own record is ever too large for it.
        config = config.set("batch.size", "16384");
        poison_topology(
            &PoisonTopics {
                input: topics.input.clone(),
                echo: topics.echo.clone(),
                aggs: topics.aggs.clone(),
                sized: args.or("sized", "poison-sized"),
            },
            &backend,
        )?
    } else {
        eos_topology(&topics, &backend)?
    };
    let mut app = KafkaStreams::new(topology, config.build()?)?;
    let me = instance.clone();
    app.set_state_listener(move |new, old| eprintln!("eos-app {me}: state {old:?} -> {new:?}"));
    app.start()?;
    eprintln!(
        "eos-app {instance} started (pid {}, commit interval {commit_ms} ms)",
        std::process::id()
    );
    app.run_until_signal(Duration::from_secs(60))?;
    eprintln!("eos-app {instance} closed");
    Ok(())
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eos-app: {e}");
            ExitCode::FAILURE
        }
    }
}
