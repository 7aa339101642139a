//! The Weir apps of the join workloads: a stream of events enriched from a
//! table, and two streams joined in a 1 s window. Each reads its second
//! input from [`ChildArgs::other`], keeps its state in RocksDB (Weir's
//! default backend) under one budget of `args.budget_bytes`, changelogged,
//! with no record cache, and runs until SIGTERM (graceful close with a
//! final commit), like the windowed count of `apps.rs`.

use std::time::Duration;

use weir::dsl::{Joined, Materialized};
use weir::prelude::*;

use crate::apps::{with_experiment, ChildArgs};
use crate::{data, BenchResult};

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

/// The stream-stream join (placeholder until the join API lands).
pub(crate) fn run_stream_stream_join(_args: &ChildArgs) -> BenchResult<()> {
    Err("the stream-stream join is not supported yet".into())
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
