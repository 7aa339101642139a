//! `eos-verify`: one round of the exactly-once verifier. `testing/eos/run`
//! builds everything and calls it; see `testing/eos/README.md`.
//!
//! A round: start a broker with the launcher (own state dir, owned by this
//! process); create the topics; start the application instances; generate
//! the input at a steady pace while SIGKILLing and restarting instances and
//! restarting the broker on a schedule (with the table and side topics of
//! the joins); let the instances catch up; close them; read every topic with
//! Kafka's Java consumer (read_committed); check (echo and aggregates, the
//! windowed counts, the stream-table and the stream-stream join); print the
//! `RESULT windowed ...`, `RESULT join ...`, `RESULT stream-join ...` and
//! `RESULT eos ...` lines; stop the broker. Exit 0 when the checks
//! pass, 1 when they fail, 2 when the round could not be run.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use weir_eos::check::{check, CheckInput, Guarantee};
use weir_eos::join_stream::{check_stream_join, StreamJoinSpec};
use weir_eos::join_table::check_table_join;
use weir_eos::rng::SplitMix64;
use weir_eos::topology::{internal_topics, JOIN_WINDOW_MS, WFINAL_GRACE_MS, WINDOW_MS};
use weir_eos::windowed::{check_windowed, WindowSpec};
use weir_kafka::TopicSpec;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

const APPLICATION_ID: &str = "weir-eos";
const INPUT: &str = "eos-input";
const ECHO: &str = "eos-echo";
const AGGS: &str = "eos-aggs";
const WCOUNT: &str = "eos-wcount";
const WFINAL: &str = "eos-wfinal";
const TABLE: &str = "eos-table";
const SIDE: &str = "eos-side";
const JOIN: &str = "eos-join";
const SJOIN: &str = "eos-sjoin";
/// At each batch boundary, the keys `k` with `(k + batch) % TABLE_EVERY == 0`
/// get a new table version (so each key every TABLE_EVERY batches).
const TABLE_EVERY: u64 = 5;
/// One side (B) record per SIDE_EVERY input records.
const SIDE_EVERY: u64 = 5;
/// Records per produce call of the generator.
const BATCH: usize = 5000;

/// What a round does.
#[derive(Debug, Clone)]
struct Plan {
    guarantee: Guarantee,
    records: u64,
    keys: u32,
    partitions: i32,
    instances: usize,
    kills: u64,
    broker_restarts: u64,
    /// Seconds over which the input is produced (and the faults happen).
    produce_secs: u64,
    /// Bound on waiting for the instances to catch up afterwards.
    catch_up_secs: u64,
    /// The usual commit interval.
    commit_ms: u64,
    /// The long commit interval range (ms) used by about a third of the starts.
    long_commit_ms: (u64, u64),
    seed: u64,
    store: String,
    /// Instances exiting on their own more often than this abort the round.
    max_crashes: u64,
    /// Poison pills per thousand input records (the poison scenario).
    poison_per_mille: u64,
    /// The stages the poison pills fail at, in turn.
    poison_stages: Vec<weir_eos::poison::Stage>,
}

impl Plan {
    fn new(mode: &str, guarantee: Guarantee) -> Res<Plan> {
        let base = Plan {
            guarantee,
            records: 200_000,
            keys: 3000,
            partitions: 6,
            instances: 3,
            kills: 12,
            broker_restarts: 1,
            produce_secs: 120,
            catch_up_secs: 150,
            commit_ms: match guarantee {
                Guarantee::ExactlyOnceV2 => 100,
                Guarantee::AtLeastOnce => 1000,
            },
            long_commit_ms: (5000, 8000),
            seed: 0,
            store: "rocksdb".to_string(),
            max_crashes: 6,
            poison_per_mille: 10,
            poison_stages: weir_eos::poison::Stage::ALL.to_vec(),
        };
        match mode {
            "quick" => Ok(base),
            "long" => Ok(Plan {
                records: 1_000_000,
                kills: 55,
                broker_restarts: 3,
                produce_secs: 600,
                catch_up_secs: 400,
                max_crashes: 20,
                ..base
            }),
            other => Err(format!("unknown mode '{other}' (quick or long)").into()),
        }
    }
}

/// Prints a timestamped line (to stdout, so it interleaves with the result).
fn say(start: Instant, message: impl AsRef<str>) {
    println!(
        "[{:7.1}s] {}",
        start.elapsed().as_secs_f64(),
        message.as_ref()
    );
}

mod broker;
mod fleet;
mod generator;
mod poison;
mod round;

use generator::{initial_table, Generator};

// ------------------------------------------------------------------ reader (Java)

struct Reader {
    java: PathBuf,
    classpath: String,
    log4j: PathBuf,
}

impl Reader {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.java);
        cmd.args(["-Xmx512m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                self.log4j.display()
            ))
            .args(["-cp", &self.classpath, "EosReader"])
            .args(args)
            .stdin(Stdio::null());
        cmd
    }
}

// ------------------------------------------------------------------ the round

/// Events of the fault schedule, in time order.
#[derive(Debug, Clone, Copy)]
enum Event {
    Kill { prefer_long: bool },
    BrokerRestart,
}

fn schedule(plan: &Plan, rng: &mut SplitMix64) -> VecDeque<(Duration, Event)> {
    let warmup = 10_000u64;
    let span = (plan.produce_secs * 1000).saturating_sub(warmup).max(1000);
    let mut events: Vec<(Duration, Event)> = Vec::new();
    for i in 0..plan.kills {
        let slot = span / plan.kills.max(1);
        let at = warmup + i * slot + rng.range(slot / 10, slot * 9 / 10);
        events.push((
            Duration::from_millis(at),
            Event::Kill {
                prefer_long: i % 3 == 0,
            },
        ));
    }
    for j in 0..plan.broker_restarts {
        let at = warmup + span * (j + 1) / (plan.broker_restarts + 1) + rng.range(0, 2000);
        events.push((Duration::from_millis(at), Event::BrokerRestart));
    }
    events.sort_by_key(|(at, _)| *at);
    events.into()
}

struct Outcome {
    passed: bool,
}

fn round(args: &Cli) -> Res<Outcome> {
    let start = Instant::now();
    let mut plan = Plan::new(&args.mode, args.guarantee)?;
    args.apply(&mut plan);
    let dir = round::fresh_dir(&args.work_dir, plan.guarantee.as_str())?;
    say(
        start,
        format!(
            "round {}: {} records over {} keys in {} partitions, {} instances, {} kills, \
             {} broker restarts, seed {}, work dir {}",
            plan.guarantee,
            plan.records,
            plan.keys,
            plan.partitions,
            plan.instances,
            plan.kills,
            plan.broker_restarts,
            plan.seed,
            dir.display()
        ),
    );

    let (broker, conn) = round::start_broker(args, &dir, start)?;
    weir_kafka::create_topics(
        &conn,
        &[
            TopicSpec::new(INPUT, plan.partitions),
            TopicSpec::new(ECHO, plan.partitions),
            TopicSpec::new(AGGS, plan.partitions),
            TopicSpec::new(WCOUNT, plan.partitions),
            TopicSpec::new(WFINAL, plan.partitions),
            TopicSpec::new(TABLE, plan.partitions),
            TopicSpec::new(SIDE, plan.partitions),
            TopicSpec::new(JOIN, plan.partitions),
            TopicSpec::new(SJOIN, plan.partitions),
        ],
    )?;
    initial_table(&conn, &plan)?;

    let mut rng = SplitMix64::new(plan.seed);
    let app_args = [
        "--application-id",
        APPLICATION_ID,
        "--input",
        INPUT,
        "--echo",
        ECHO,
        "--aggs",
        AGGS,
        "--wcount",
        WCOUNT,
        "--wfinal",
        WFINAL,
        "--table",
        TABLE,
        "--side",
        SIDE,
        "--join",
        JOIN,
        "--sjoin",
        SJOIN,
    ];
    let mut fleet = round::start_fleet(args, &dir, &broker, &app_args, &plan, &mut rng, start)?;
    let generator = Generator::start(&broker.bootstrap, &plan);
    let mut run = round::Running {
        start,
        plan: &plan,
        broker: &broker,
        fleet: &mut fleet,
        rng: &mut rng,
    };
    let broker_restarts = round::fault_phase(
        &mut run,
        &generator,
        round::Kills::PreferLongCommits,
        |fleet, broker_restarts| {
            format!(
                "progress: produced {} of {}, kills {}, broker restarts {}, running {:?}",
                generator.produced.load(Ordering::Relaxed),
                plan.records,
                fleet.kills,
                broker_restarts,
                fleet.running()
            )
        },
    )?;
    let per_key = generator
        .handle
        .join()
        .map_err(|_| "the generator panicked")??;
    say(
        start,
        format!("input complete: {} records", per_key.iter().sum::<u64>()),
    );
    round::write_expected(&dir, &per_key)?;

    // Catch up: every instance running, until both outputs are complete.
    let reader = round::reader(args);
    let complete = round::catch_up(
        &mut run,
        &reader,
        &dir,
        &[
            ECHO,
            AGGS,
            // And every source partition's committed offset at its end
            // (the joins' table and side records processed too).
            APPLICATION_ID,
            INPUT,
            TABLE,
            SIDE,
        ],
        round::CatchUpText {
            waiting: "waiting for the outputs to complete (Java consumer, read_committed)",
            complete: "outputs complete",
            incomplete: &|log| {
                format!(
                    "outputs NOT complete after {}s (checking what is there; see {})",
                    plan.catch_up_secs,
                    log.display()
                )
            },
        },
    )?;

    // Close gracefully, so no transaction stays open.
    fleet.close_all(Duration::from_secs(90), start)?;
    say(
        start,
        "instances closed; reading every topic (Java consumer, read_committed)",
    );

    // Internal topics are checked through the end offsets of every topic.
    let internal = internal_topics(APPLICATION_ID);
    let dump = round::dump(
        &reader,
        &broker,
        &dir,
        600,
        &[
            INPUT,
            ECHO,
            AGGS,
            &format!("{WCOUNT}:windowed"),
            &format!("{WFINAL}:windowed"),
            TABLE,
            SIDE,
            JOIN,
            SJOIN,
        ],
    )?;
    for topic in &internal {
        if !dump.ends.iter().any(|e| &e.topic == topic) {
            say(start, format!("note: internal topic {topic} not found"));
        }
    }
    let report = check(CheckInput {
        input: dump.topic(INPUT),
        echo: dump.topic(ECHO),
        aggs: dump.topic(AGGS),
        ends: &dump.ends,
        partitions: plan.partitions,
        guarantee: plan.guarantee,
    });
    let windowed = check_windowed(
        dump.topic(INPUT),
        dump.topic(WCOUNT),
        dump.topic(WFINAL),
        WindowSpec {
            size_ms: WINDOW_MS,
            close_grace_ms: WFINAL_GRACE_MS,
        },
        plan.guarantee,
    );
    let join = check_table_join(
        dump.topic(INPUT),
        dump.topic(TABLE),
        dump.topic(JOIN),
        plan.partitions,
        plan.guarantee,
    );
    let stream_join = check_stream_join(
        dump.topic(INPUT),
        dump.topic(SIDE),
        dump.topic(SJOIN),
        plan.partitions,
        StreamJoinSpec {
            window_ms: JOIN_WINDOW_MS,
        },
        plan.guarantee,
    );
    drop(broker);
    let mut report_text = String::new();
    let samples = report
        .samples
        .iter()
        .chain(&windowed.samples)
        .chain(&join.samples)
        .chain(&stream_join.samples);
    for s in samples {
        writeln!(report_text, "  problem: {s}")?;
    }
    writeln!(
        report_text,
        "kills with a long commit interval (open transactions): {}; instances exiting by \
         themselves: {}; forced closes: {}; outputs complete: {complete}; partitions checked \
         for open transactions: {}",
        fleet.kills_long_commit,
        fleet.crashes,
        fleet.forced_closes,
        dump.ends.len()
    )?;
    writeln!(report_text, "{}", report.detail_line())?;
    writeln!(report_text, "{}", windowed.result_line())?;
    writeln!(report_text, "{}", join.result_line())?;
    writeln!(report_text, "{}", stream_join.result_line())?;
    // passed= on the eos line is the whole round's verdict (windowed and joins included).
    let passed = report.passed() && windowed.passed() && join.passed() && stream_join.passed();
    writeln!(
        report_text,
        "{} passed={passed} duration={:.0}s",
        report.result_line(fleet.kills, broker_restarts),
        start.elapsed().as_secs_f64()
    )?;
    print!("{report_text}");
    fs::write(dir.join("result.txt"), &report_text)?;
    let _ = std::io::stdout().flush();
    Ok(Outcome {
        passed: passed && fleet.forced_closes == 0 && complete,
    })
}

// ------------------------------------------------------------------ CLI

struct Cli {
    /// `eos` (the exactly-once round) or `poison` (the poison-pill round).
    scenario: String,
    mode: String,
    guarantee: Guarantee,
    launcher: PathBuf,
    app_bin: PathBuf,
    java: PathBuf,
    reader_cp: String,
    work_dir: PathBuf,
    seed: u64,
    records: Option<u64>,
    kills: Option<u64>,
    broker_restarts: Option<u64>,
    produce_secs: Option<u64>,
    commit_ms: Option<u64>,
    store: Option<String>,
    poison_per_mille: Option<u64>,
    poison_stages: Option<Vec<weir_eos::poison::Stage>>,
    catch_up_secs: Option<u64>,
}

impl Cli {
    /// The command line's overrides of `plan`.
    fn apply(&self, plan: &mut Plan) {
        if let Some(n) = self.records {
            plan.records = n;
        }
        if let Some(n) = self.kills {
            plan.kills = n;
        }
        if let Some(n) = self.broker_restarts {
            plan.broker_restarts = n;
        }
        if let Some(s) = self.produce_secs {
            plan.produce_secs = s;
        }
        if let Some(s) = self.catch_up_secs {
            plan.catch_up_secs = s;
        }
        if let Some(ms) = self.commit_ms {
            plan.commit_ms = ms;
        }
        if let Some(store) = &self.store {
            plan.store = store.clone();
        }
        if let Some(n) = self.poison_per_mille {
            plan.poison_per_mille = n;
        }
        if let Some(stages) = &self.poison_stages {
            plan.poison_stages = stages.clone();
        }
        plan.seed = self.seed;
    }
}

const USAGE: &str = "usage: eos-verify --guarantee at_least_once|exactly_once_v2 \
    --launcher PATH --app-bin PATH --reader-cp CLASSPATH --work-dir DIR \
    [--mode quick|long] [--java PATH] [--seed N] [--records N] [--kills N] \
    [--broker-restarts N] [--produce-secs N] [--catch-up-secs N] [--commit-ms N] \
    [--store rocksdb|memory] [--scenario eos|poison] [--poison-per-mille N] \
    [--poison-stages all|deserialization,processing,production]";

fn parse_cli() -> Res<Cli> {
    let mut it = std::env::args().skip(1);
    let mut get = std::collections::HashMap::new();
    while let Some(flag) = it.next() {
        let name = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument '{flag}'\n{USAGE}"))?;
        let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
        get.insert(name.to_string(), value);
    }
    let need = |name: &str| -> Res<String> {
        get.get(name)
            .cloned()
            .ok_or_else(|| format!("--{name} is required\n{USAGE}").into())
    };
    let num = |name: &str| -> Res<Option<u64>> {
        get.get(name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|e| format!("--{name}: {e}").into())
            })
            .transpose()
    };
    let guarantee_text = need("guarantee")?;
    let cli = Cli {
        scenario: get
            .get("scenario")
            .cloned()
            .unwrap_or_else(|| "eos".to_string()),
        mode: get
            .get("mode")
            .cloned()
            .unwrap_or_else(|| "quick".to_string()),
        guarantee: Guarantee::parse(&guarantee_text)
            .ok_or_else(|| format!("unknown guarantee '{guarantee_text}'"))?,
        launcher: need("launcher")?.into(),
        app_bin: need("app-bin")?.into(),
        java: get
            .get("java")
            .cloned()
            .unwrap_or_else(|| "java".to_string())
            .into(),
        reader_cp: need("reader-cp")?,
        work_dir: need("work-dir")?.into(),
        seed: num("seed")?.unwrap_or(1),
        records: num("records")?,
        kills: num("kills")?,
        broker_restarts: num("broker-restarts")?,
        produce_secs: num("produce-secs")?,
        commit_ms: num("commit-ms")?,
        store: get.get("store").cloned(),
        poison_per_mille: num("poison-per-mille")?,
        poison_stages: get
            .get("poison-stages")
            .map(|v| {
                weir_eos::poison::Stage::parse_list(v)
                    .ok_or_else(|| format!("--poison-stages: unknown stage list '{v}'"))
            })
            .transpose()?,
        catch_up_secs: num("catch-up-secs")?,
    };
    if cli.scenario != "eos" && cli.scenario != "poison" {
        return Err(format!(
            "unknown scenario '{}' (eos or poison)\n{USAGE}",
            cli.scenario
        )
        .into());
    }
    Ok(cli)
}

fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("eos-verify: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = if cli.scenario == "poison" {
        poison::poison_round(&cli)
    } else {
        round(&cli)
    };
    match outcome {
        Ok(Outcome { passed: true }) => ExitCode::SUCCESS,
        Ok(Outcome { passed: false }) => {
            println!(
                "eos-verify: {} {} round FAILED",
                cli.scenario, cli.guarantee
            );
            ExitCode::from(1)
        }
        Err(e) => {
            println!(
                "eos-verify: {} {} round could not run: {e}",
                cli.scenario, cli.guarantee
            );
            ExitCode::from(2)
        }
    }
}
