//! The contenders, run as child processes of the bench binary (hidden
//! subcommands) so that their CPU time and memory are theirs alone.

use std::io::Read;
use std::time::Duration;

use weir::prelude::*;
use weir::StreamsConfigBuilder;
use weir_kafka::tools::copier::{run_copier, CopierOptions};

use crate::{data, BenchResult};

/// What a contender child needs, passed as arguments:
/// `<bootstrap> <input> <output> <app-id> <commit-ms> <stop-after> <guarantee> <state-dir> <budget-bytes> <other> <other-records>`.
#[derive(Debug, Clone)]
pub(crate) struct ChildArgs {
    pub bootstrap: String,
    pub input: String,
    pub output: String,
    /// Application id (Weir, Kafka Streams) or consumer group (copier).
    pub group: String,
    pub commit_ms: u64,
    /// The copier stops copying after this many records (unused by the apps).
    pub stop_after: u64,
    pub guarantee: ProcessingGuarantee,
    /// The count app's state directory (unused by the pass-through and copier).
    pub state_dir: std::path::PathBuf,
    /// The count app's RocksDB memory budget.
    pub budget_bytes: usize,
    /// The joins' second input (the table of the stream-table join, the
    /// right-hand stream of the stream-stream join); `-` for none.
    pub other: String,
    /// Records in `other` (the copier copies them too).
    pub other_records: u64,
}

/// [`ChildArgs::other`] when a workload has one input.
pub(crate) const NO_OTHER: &str = "-";

impl ChildArgs {
    pub(crate) fn to_args(&self) -> Vec<String> {
        vec![
            self.bootstrap.clone(),
            self.input.clone(),
            self.output.clone(),
            self.group.clone(),
            self.commit_ms.to_string(),
            self.stop_after.to_string(),
            self.guarantee.as_str().to_string(),
            self.state_dir.display().to_string(),
            self.budget_bytes.to_string(),
            self.other.clone(),
            self.other_records.to_string(),
        ]
    }

    pub(crate) fn parse(args: &[String]) -> BenchResult<Self> {
        let [bootstrap, input, output, group, commit_ms, stop_after, guarantee, state_dir, budget, other, other_records] =
            args
        else {
            return Err("usage: <bootstrap> <input> <output> <app-id> <commit-ms> <stop-after> <guarantee> <state-dir> <budget-bytes> <other> <other-records>".into());
        };
        Ok(ChildArgs {
            bootstrap: bootstrap.clone(),
            input: input.clone(),
            output: output.clone(),
            group: group.clone(),
            commit_ms: commit_ms.parse()?,
            stop_after: stop_after.parse()?,
            guarantee: guarantee.parse()?,
            state_dir: state_dir.into(),
            budget_bytes: budget.parse()?,
            other: other.clone(),
            other_records: other_records.parse()?,
        })
    }
}

/// Extra settings for the Weir apps from `WEIR_BENCH_SET` (`key=value`
/// pairs separated by `;`), for tuning experiments: the figures of a run
/// made with it are not the defaults' figures.
pub(crate) fn with_experiment(
    mut builder: StreamsConfigBuilder,
) -> BenchResult<StreamsConfigBuilder> {
    let Ok(pairs) = std::env::var("WEIR_BENCH_SET") else {
        return Ok(builder);
    };
    for pair in pairs.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("WEIR_BENCH_SET: '{pair}' is not key=value"))?;
        builder = builder.set(key.trim(), value.trim());
    }
    Ok(builder)
}

/// The Weir pass-through: stream (typed JSON) -> filter -> map_values
/// (modify, re-serialize at the sink) -> to, one stream thread, under
/// `args.guarantee`. Runs until SIGTERM (graceful close with a final commit).
pub(crate) fn run_weir(args: &ChildArgs) -> BenchResult<()> {
    let builder = StreamsBuilder::new();
    builder
        .stream(
            args.input.as_str(),
            Consumed::with(Serdes::string(), Serdes::json::<data::Reading>()),
        )
        .filter(|_k, r| data::keep_reading(r))
        .named("bench-filter")
        .map_values(data::enrich_reading)
        .named("bench-enrich")
        .to(
            &args.output,
            Produced::with(Serdes::string(), Serdes::json::<data::Reading>()),
        )
        .named("bench-sink");
    let topology = builder.build()?;
    let config = with_experiment(
        StreamsConfig::builder()
            .application_id(args.group.clone())
            .bootstrap_servers(args.bootstrap.clone())
            .num_stream_threads(1)
            .commit_interval(Duration::from_millis(args.commit_ms))
            .processing_guarantee(args.guarantee),
    )?
    .build()?;
    let mut app = KafkaStreams::new(topology, config)?;
    app.start()?;
    app.run_until_signal(Duration::from_secs(60))?;
    Ok(())
}

/// The raw copier (the ceiling): copies `stop_after` records (in
/// transactions under exactly-once), then waits (idle) until the bench
/// stops it or closes its stdin. With a second input (the joins), a second
/// copier on a thread of its own copies its `other_records` records to the
/// same output at the same time: every input record consumed and produced
/// once, nothing joined.
pub(crate) fn run_raw_copier(args: &ChildArgs) -> BenchResult<()> {
    let copier = |input: &str, records: u64, suffix: &str| {
        let group = format!("{}{suffix}", args.group);
        let mut opts = CopierOptions::new(
            args.bootstrap.clone(),
            group.clone(),
            input.to_string(),
            args.output.clone(),
            records,
        )
        .commit_interval(Duration::from_millis(args.commit_ms));
        if args.guarantee.is_exactly_once() {
            opts = opts.transactional(format!("{group}-copier"));
        }
        opts
    };
    let main = copier(&args.input, args.stop_after, "");
    if args.other == NO_OTHER {
        run_copier(main)?;
    } else {
        let other = copier(&args.other, args.other_records, "-other");
        std::thread::scope(|s| -> BenchResult<()> {
            let second = s.spawn(move || run_copier(other));
            run_copier(main)?;
            second.join().map_err(|_| "the second copier panicked")??;
            Ok(())
        })?;
    }
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    Ok(())
}

/// The window of the windowed count: one minute, tumbling, no grace.
pub(crate) const WINDOW_MS: i64 = 60_000;
/// The windowed count's store (and changelog) name, the same on the peer.
const WINDOWED_STORE: &str = "windowed-counts";

/// The windowed count: stream -> group_by_key -> windowed_by(1-minute
/// tumbling windows, no grace) -> count (a window store on Weir's default
/// backend, RocksDB, under one budget of `args.budget_bytes`; changelogged,
/// no record cache) -> to_stream -> to(output, Kafka Streams'
/// time-windowed key format), one stream thread, under `args.guarantee`.
/// Runs until SIGTERM (graceful close with a final commit).
pub(crate) fn run_windowed_count(args: &ChildArgs) -> BenchResult<()> {
    use weir::dsl::{Materialized, TimeWindows};

    let window = Duration::from_millis(WINDOW_MS.unsigned_abs());
    let builder = StreamsBuilder::new();
    builder
        .stream(
            args.input.as_str(),
            Consumed::with(Serdes::string(), Serdes::string()),
        )
        .group_by_key()
        .windowed_by(TimeWindows::of_size_with_no_grace(window))
        .count(Materialized::as_(
            WINDOWED_STORE,
            Serdes::string(),
            Serdes::i64(),
        ))
        .to_stream()
        .to(
            &args.output,
            Produced::with(
                Serdes::time_windowed(Serdes::string(), WINDOW_MS),
                Serdes::i64(),
            ),
        );
    let topology = builder.build()?;
    let config = with_experiment(
        StreamsConfig::builder()
            .application_id(args.group.clone())
            .bootstrap_servers(args.bootstrap.clone())
            .state_dir(&args.state_dir)
            .num_stream_threads(1)
            .commit_interval(Duration::from_millis(args.commit_ms))
            .processing_guarantee(args.guarantee)
            // The default backend (RocksDB) under the bench's budget.
            .rocksdb_memory_budget_bytes(u64::try_from(args.budget_bytes)?)
            // Record cache off, as on the Kafka Streams peer: every update is forwarded.
            .statestore_cache_max_bytes(0),
    )?
    .build()?;
    let mut app = KafkaStreams::new(topology, config)?;
    app.start()?;
    app.run_until_signal(Duration::from_secs(60))?;
    Ok(())
}

/// How the count child runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CountMode {
    /// Counts until SIGTERM, then closes gracefully (final commit, so the
    /// changelog is complete); the bench measures its output.
    Serve,
    /// Done once the application is Running (which it is only once every
    /// store is restored) after having restored records.
    Restore,
}

/// In restore mode, how long the child waits in state Running with nothing
/// restored before it reports (and the bench fails the run).
const NOTHING_RESTORED_LIMIT: Duration = Duration::from_secs(60);
/// Bound on the child's own wait for its done condition.
const CHILD_LIMIT: Duration = Duration::from_secs(900);

/// The count application: stream -> group_by_key -> count (RocksDB store
/// under `state_dir`, changelogged, no record cache) -> to_stream ->
/// to(output), one stream thread, under `args.guarantee`.
///
/// [`CountMode::Serve`]: runs until SIGTERM. [`CountMode::Restore`]: polls
/// its state and metrics every 2 ms; when done prints one
/// line to stdout, `DONE processed=<n> restored=<n> restore_us=<n>
/// settled_ms=<ms>` (`settled_ms`: from the child's start until it saw the
/// state Running), waits until the bench closes its stdin,
/// then closes gracefully (final commit, so the changelog is complete).
pub(crate) fn run_count(args: &ChildArgs, mode: CountMode) -> BenchResult<()> {
    use std::io::Write;
    use std::time::Instant;

    let started = Instant::now();
    let budget = weir_rocksdb::RocksDbBudget::new(args.budget_bytes)?;
    let counts = weir::dsl::Materialized::as_("counts", Serdes::string(), Serdes::i64())
        .with_bytes_supplier(weir_rocksdb::rocksdb_bytes_supplier(
            args.state_dir.clone(),
            args.group.clone(),
            "counts".to_string(),
            budget,
        ));
    let builder = StreamsBuilder::new();
    builder
        .stream(
            args.input.as_str(),
            Consumed::with(Serdes::string(), Serdes::string()),
        )
        .group_by_key()
        .count(counts)
        .to_stream()
        .to(
            &args.output,
            Produced::with(Serdes::string(), Serdes::i64()),
        );
    let topology = builder.build()?;
    let config = with_experiment(
        StreamsConfig::builder()
            .application_id(args.group.clone())
            .bootstrap_servers(args.bootstrap.clone())
            .state_dir(&args.state_dir)
            .num_stream_threads(1)
            .commit_interval(Duration::from_millis(args.commit_ms))
            .processing_guarantee(args.guarantee)
            // Record cache off, as on the Kafka Streams peer: every update is forwarded.
            .statestore_cache_max_bytes(0),
    )?
    .build()?;
    let mut app = KafkaStreams::new(topology, config)?;
    app.start()?;
    if mode == CountMode::Serve {
        app.run_until_signal(Duration::from_secs(60))?;
        return Ok(());
    }

    let mut running_since: Option<Instant> = None;
    let done = loop {
        if app.is_stopping() {
            break Err("the application stopped before it was done".to_string());
        }
        let m = app.metrics();
        let running = app.state() == State::Running;
        if running {
            running_since.get_or_insert_with(Instant::now);
        } else {
            running_since = None;
        }
        let settled_at = started.elapsed();
        let finished = running
            && (m.restored_records > 0
                || running_since.is_some_and(|t| t.elapsed() >= NOTHING_RESTORED_LIMIT));
        if finished {
            break Ok((m, settled_at));
        }
        if started.elapsed() > CHILD_LIMIT {
            break Err(format!(
                "not done within {CHILD_LIMIT:?}: processed {}, restored {}",
                m.records_processed, m.restored_records
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let result = match done {
        Ok((m, settled_at)) => {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "DONE processed={} restored={} restore_us={} settled_ms={}",
                m.records_processed,
                m.restored_records,
                m.restore_us_total,
                settled_at.as_millis()
            )?;
            out.flush()?;
            drop(out);
            let mut sink = Vec::new();
            std::io::stdin().read_to_end(&mut sink)?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    };
    app.close(Duration::from_secs(60))?;
    result
}
