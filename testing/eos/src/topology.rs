//! The EOS test application's topology.
//!
//! ```text
//! input --+--> echo (unchanged; partition = format::partition_of(key))
//!         |
//!         +--> group_by(same key) --> <application.id>-eos-regroup-repartition
//!         |       --> aggregate into store `eos-aggs` (no cache: every update forwarded)
//!         |       --> aggs (`seq,last_seq,count,sum,min,max`)
//!         |
//!         +--> group_by_key --> tumbling windows of WINDOW_MS, grace WCOUNT_GRACE_MS
//!         |       --> count into window store `eos-wcount` (no cache: every update forwarded)
//!         |       --> wcount (key: TimeWindowedSerde bytes, value: i64)
//!         |
//!         +--> group_by_key --> tumbling windows of WINDOW_MS, grace WFINAL_GRACE_MS
//!         |       --> count into window store `eos-wfinal`, emitted on window close
//!         |       --> wfinal (key: TimeWindowedSerde bytes, value: i64)
//!         |
//!         +--> join_table(table of `table`, store `eos-jtable`, no cache)
//!         |       --> join (`seq,amount|version,payload`)
//!         |
//!         +--> join(stream `side`, within JOIN_WINDOW_MS, grace JOIN_GRACE_MS)
//!                 --> sjoin (`seq,amount|bseq`)
//! ```
//!
//! The windowed counts are checked by [`crate::windowed`], the joins by
//! [`crate::join_table`] and [`crate::join_stream`]. The table and side
//! topics are co-partitioned with the input (same partition count, keys
//! placed by [`partition_of`]), so every join reads its partner from the
//! same task.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use weir::dsl::{EmitStrategy, Grouped, Joined, Materialized, TimeWindows};
use weir::prelude::*;

use crate::format::{join_text, partition_of, Aggregate, InputValue};

/// The name of the repartition step (topic `<application.id>-eos-regroup-repartition`).
pub const REPARTITION: &str = "eos-regroup";
/// The aggregation store (changelog `<application.id>-eos-aggs-changelog`).
pub const STORE: &str = "eos-aggs";
/// The every-update windowed count's store (changelog `<application.id>-eos-wcount-changelog`).
pub const WCOUNT_STORE: &str = "eos-wcount";
/// The on-window-close windowed count's store (changelog `<application.id>-eos-wfinal-changelog`).
pub const WFINAL_STORE: &str = "eos-wfinal";
/// The size of the tumbling windows of both windowed counts (event time, ms).
pub const WINDOW_MS: i64 = 5_000;
/// The grace of the every-update windowed count: an hour, far more than any
/// replay after a crash reaches back, so at-least-once replays (on state
/// ahead of the committed offsets) are never dropped as late either.
pub const WCOUNT_GRACE_MS: i64 = 3_600_000;
/// The grace of the on-window-close count: windows close 3 s of event time
/// after their end, so most of a round's windows close while it runs.
pub const WFINAL_GRACE_MS: i64 = 3_000;
/// How far the generator sets a record's timestamp back, at most (below
/// both graces, so no input record is ever late).
pub const JITTER_MS: i64 = 1_500;
/// The stream-table join's table store (changelog `<application.id>-eos-jtable-changelog`).
pub const TABLE_STORE: &str = "eos-jtable";
/// The stream-stream join's window: records of one key at most this far
/// apart (either way, ms) are joined.
pub const JOIN_WINDOW_MS: i64 = 1_000;
/// The stream-stream join's grace: an hour, like the every-update
/// windowed count's, so no record (at-least-once replays included) is late.
pub const JOIN_GRACE_MS: i64 = 3_600_000;
/// The stream-stream join's name (its stores are named after it).
pub const STREAM_JOIN: &str = "eos-sjoin";

/// The user topics the application reads and writes.
#[derive(Debug, Clone)]
pub struct EosTopics {
    /// The generator's input.
    pub input: String,
    /// The echo output.
    pub echo: String,
    /// The aggregate output.
    pub aggs: String,
    /// The every-update windowed count's output.
    pub wcount: String,
    /// The on-window-close windowed count's output.
    pub wfinal: String,
    /// The stream-table join's table (input).
    pub table: String,
    /// The stream-stream join's other side (input).
    pub side: String,
    /// The stream-table join's output.
    pub join: String,
    /// The stream-stream join's output.
    pub sjoin: String,
}

/// Where the aggregation store keeps its data.
#[derive(Debug, Clone)]
pub enum StoreBackend {
    /// In memory, restored from the changelog on every start.
    Memory,
    /// RocksDB under `state_dir` (persists across restarts of an instance).
    RocksDb {
        /// The instance's state directory.
        state_dir: PathBuf,
        /// The application id (part of the store's path).
        application_id: String,
        /// The RocksDB memory budget of the process, in bytes.
        budget_bytes: usize,
    },
}

/// The aggregate after folding the input value `value` into `agg` (both as
/// text). A value that does not parse yields an aggregate text that does not
/// parse either (`bad:...`), so the checker counts it wrong instead of the
/// application hiding it.
pub fn fold_text(agg: &str, value: &str) -> String {
    match (Aggregate::parse(agg), InputValue::parse(value)) {
        (Some(agg), Some(value)) => agg.fold(value).to_string(),
        _ => format!("bad:{agg}|{value}"),
    }
}

/// `materialized` with its data on `backend` (one RocksDB budget for all stores of the process).
fn on_backend<K: 'static, V: 'static>(
    materialized: Materialized<K, V>,
    name: &str,
    backend: &StoreBackend,
    budget: Option<&Arc<weir_rocksdb::RocksDbBudget>>,
) -> Materialized<K, V> {
    match (backend, budget) {
        (
            StoreBackend::RocksDb {
                state_dir,
                application_id,
                ..
            },
            Some(budget),
        ) => materialized.with_bytes_supplier(weir_rocksdb::rocksdb_bytes_supplier(
            state_dir.clone(),
            application_id.clone(),
            name.to_string(),
            Arc::clone(budget),
        )),
        _ => materialized,
    }
}

/// The echo, aggregate and windowed count topology over `topics`, its stores on `backend`.
pub fn eos_topology(topics: &EosTopics, backend: &StoreBackend) -> Result<Topology> {
    let strings = || Consumed::with(Serdes::string(), Serdes::string());
    let builder = StreamsBuilder::new();
    let input = builder.stream(topics.input.as_str(), strings());
    let budget = match backend {
        StoreBackend::RocksDb { budget_bytes, .. } => {
            Some(weir_rocksdb::RocksDbBudget::new(*budget_bytes)?)
        }
        StoreBackend::Memory => None,
    };

    let echo_partitioner =
        |_topic: &str, key: Option<&String>, _value: Option<&String>, partitions: i32| {
            key.and_then(|k| partition_of(k, partitions))
        };
    input.to(
        &topics.echo,
        Produced::with(Serdes::string(), Serdes::string())
            .with_partitioner(echo_partitioner)
            .with_name("eos-echo-sink"),
    );

    // Caching is turned off explicitly (not left to the default) so every
    // update is forwarded: the checker expects one output per input record.
    let store = on_backend(
        Materialized::as_(STORE, Serdes::string(), Serdes::string()).with_caching(false),
        STORE,
        backend,
        budget.as_ref(),
    );
    input
        .group_by(
            |key: Option<&String>, _value: &String| key.cloned().unwrap_or_default(),
            Grouped::as_(REPARTITION, Serdes::string(), Serdes::string()),
        )
        .aggregate(
            || Aggregate::default().to_string(),
            |_key: &String, value: String, agg: String| fold_text(&agg, &value),
            store,
        )
        .to_stream()
        .to(
            &topics.aggs,
            Produced::with(Serdes::string(), Serdes::string()).with_name("eos-aggs-sink"),
        );

    // The windowed counts: no repartition (the input is keyed already).
    let size = Duration::from_millis(WINDOW_MS.unsigned_abs());
    let windowed_out = || {
        Produced::with(
            Serdes::time_windowed(Serdes::string(), WINDOW_MS),
            Serdes::i64(),
        )
    };
    let grouped = input.group_by_key();
    let wcount = on_backend(
        Materialized::as_(WCOUNT_STORE, Serdes::string(), Serdes::i64()).with_caching(false),
        WCOUNT_STORE,
        backend,
        budget.as_ref(),
    );
    grouped
        .windowed_by(TimeWindows::of_size_and_grace(
            size,
            Duration::from_millis(WCOUNT_GRACE_MS.unsigned_abs()),
        ))
        .count(wcount)
        .to_stream()
        .to(&topics.wcount, windowed_out().with_name("eos-wcount-sink"));
    let wfinal = on_backend(
        Materialized::as_(WFINAL_STORE, Serdes::string(), Serdes::i64()).with_caching(false),
        WFINAL_STORE,
        backend,
        budget.as_ref(),
    );
    grouped
        .windowed_by(TimeWindows::of_size_and_grace(
            size,
            Duration::from_millis(WFINAL_GRACE_MS.unsigned_abs()),
        ))
        .emit_strategy(EmitStrategy::on_window_close())
        .count(wfinal)
        .to_stream()
        .to(&topics.wfinal, windowed_out().with_name("eos-wfinal-sink"));

    // The stream-table join: every event joined with its key's table row.
    let table_store = on_backend(
        Materialized::as_(TABLE_STORE, Serdes::string(), Serdes::string()).with_caching(false),
        TABLE_STORE,
        backend,
        budget.as_ref(),
    );
    let table = builder.table(topics.table.as_str(), strings(), table_store);
    input
        .join_table(
            &table,
            |event: &String, row: &String| join_text(event, row),
            Joined::with(Serdes::string(), Serdes::string(), Serdes::string())
                .with_name("eos-join"),
        )
        .to(
            &topics.join,
            Produced::with(Serdes::string(), Serdes::string()).with_name("eos-join-sink"),
        );

    stream_join(&builder, &input, topics)?;
    builder.build()
}

/// The stream-stream join: each input record joined with the side records
/// of its key within [`JOIN_WINDOW_MS`].
fn stream_join(
    builder: &StreamsBuilder,
    input: &KStream<String, String>,
    topics: &EosTopics,
) -> Result<()> {
    let _ = (builder, input, topics, JOIN_GRACE_MS, STREAM_JOIN);
    Ok(())
}

/// The internal topics of the topology for `application_id`.
pub fn internal_topics(application_id: &str) -> Vec<String> {
    vec![
        format!("{application_id}-{REPARTITION}-repartition"),
        format!("{application_id}-{STORE}-changelog"),
        format!("{application_id}-{WCOUNT_STORE}-changelog"),
        format!("{application_id}-{WFINAL_STORE}-changelog"),
        format!("{application_id}-{TABLE_STORE}-changelog"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_text_and_flags_bad_values() {
        let a = fold_text(&Aggregate::default().to_string(), "0,5");
        assert_eq!(a, "0,0,1,5,5,5");
        assert_eq!(fold_text(&a, "1,3"), "1,1,2,8,3,5");
        assert!(fold_text(&a, "junk").starts_with("bad:"));
        assert!(Aggregate::parse(&fold_text(&a, "junk")).is_none());
    }

    #[test]
    fn builds() {
        let topics = EosTopics {
            input: "in".into(),
            echo: "echo".into(),
            aggs: "aggs".into(),
            wcount: "wcount".into(),
            wfinal: "wfinal".into(),
            table: "table".into(),
            side: "side".into(),
            join: "join".into(),
            sjoin: "sjoin".into(),
        };
        let topology = eos_topology(&topics, &StoreBackend::Memory);
        assert!(topology.is_ok(), "{:?}", topology.err());
    }
}
