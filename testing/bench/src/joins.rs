//! The Weir apps of the join workloads: a stream of events enriched from a
//! table, and two streams joined in a 1 s window. Each reads its second
//! input from [`ChildArgs::other`], keeps its state in RocksDB (Weir's
//! default backend) under one budget of `args.budget_bytes`, changelogged,
//! with no record cache, and runs until SIGTERM (graceful close with a
//! final commit), like the windowed count of `apps.rs`.

use std::time::Duration;

use weir::dsl::{JoinWindows, Joined, Materialized, StreamJoined};
use weir::prelude::*;

use crate::apps::{with_experiment, ChildArgs};
use crate::{data, BenchResult};

/// `max.task.idle.ms` of the Weir join apps: Kafka Streams' default, as on
/// the peer. A task still waits for an empty partition whose records are not
/// fetched yet (KIP-695, `task::queue::ready`), so the table comes in first.
const JOIN_TASK_IDLE_MS: i64 = 0;

/// The table's store (and changelog) name, the same on the Kafka Streams peer.
const TABLE_STORE: &str = "table-rows";

/// The stream-table join: table(other, RocksDB store "table-rows",
/// changelogged) and stream(input) -> join_table (inner: the event's value,
/// `|`, the row) -> to(output), one stream thread, under `args.guarantee`.
pub(crate) fn run_stream_table_join(args: &ChildArgs) -> BenchResult<()> {
    let builder = StreamsBuilder::new();
    let rows = builder.table(
        args.other.as_str(),
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_(TABLE_STORE, Serdes::string(), Serdes::string()),
    );
    builder
        .stream(
            args.input.as_str(),
            Consumed::with(Serdes::string(), Serdes::string()),
        )
        .join_table(
            &rows,
            |event: &String, row: &String| data::enrich(event, row),
            Joined::with(Serdes::string(), Serdes::string(), Serdes::string()),
        )
        .to(
            &args.output,
            Produced::with(Serdes::string(), Serdes::string()),
        );
    run(builder, args)
}

/// The stream-stream join's window: 1 s either way, no grace (the same on
/// the Kafka Streams peer).
const PAIR_WINDOW: Duration = Duration::from_secs(1);
/// The stream-stream join's stores are named after this (and their
/// changelogs), the same on the peer.
const PAIR_STORE: &str = "pairs";

/// The stream-stream join: stream(input) join stream(other) in a 1 s
/// window either way, no grace (inner: the left value, `|`, the right
/// value; two window stores on the default backend, RocksDB, changelogged)
/// -> to(output), one stream thread, under `args.guarantee`.
pub(crate) fn run_stream_stream_join(args: &ChildArgs) -> BenchResult<()> {
    let builder = StreamsBuilder::new();
    let right = builder.stream(
        args.other.as_str(),
        Consumed::with(Serdes::string(), Serdes::string()),
    );
    builder
        .stream(
            args.input.as_str(),
            Consumed::with(Serdes::string(), Serdes::string()),
        )
        .join(
            &right,
            |left: &String, right: &String| data::enrich(left, right),
            JoinWindows::of_time_difference_without_grace(PAIR_WINDOW),
            StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string())
                .with_store_name(PAIR_STORE),
        )
        .to(
            &args.output,
            Produced::with(Serdes::string(), Serdes::string()),
        );
    run(builder, args)
}

/// Builds the topology and runs it with the bench's settings until SIGTERM.
fn run(builder: StreamsBuilder, args: &ChildArgs) -> BenchResult<()> {
    let topology = builder.build()?;
    let config = with_experiment(
        StreamsConfig::builder()
            .application_id(args.group.clone())
            .bootstrap_servers(args.bootstrap.clone())
            .state_dir(&args.state_dir)
            .num_stream_threads(1)
            .commit_interval(Duration::from_millis(args.commit_ms))
            .processing_guarantee(args.guarantee)
            // See JOIN_TASK_IDLE_MS.
            .max_task_idle_ms(JOIN_TASK_IDLE_MS)
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
