//! The EOS test application's topology.
//!
//! ```text
//! input --+--> echo (unchanged; partition = format::partition_of(key))
//!         |
//!         +--> group_by(same key) --> <application.id>-eos-regroup-repartition
//!                 --> aggregate into store `eos-aggs` (no cache: every update forwarded)
//!                 --> aggs (`seq,last_seq,count,sum,min,max`)
//! ```

use std::path::PathBuf;

use weir::dsl::{Grouped, Materialized};
use weir::prelude::*;

use crate::format::{partition_of, Aggregate, InputValue};

/// The name of the repartition step (topic `<application.id>-eos-regroup-repartition`).
pub const REPARTITION: &str = "eos-regroup";
/// The aggregation store (changelog `<application.id>-eos-aggs-changelog`).
pub const STORE: &str = "eos-aggs";

/// The user topics the application reads and writes.
#[derive(Debug, Clone)]
pub struct EosTopics {
    /// The generator's input.
    pub input: String,
    /// The echo output.
    pub echo: String,
    /// The aggregate output.
    pub aggs: String,
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

/// The echo and aggregate topology over `topics`, its store on `backend`.
pub fn eos_topology(topics: &EosTopics, backend: &StoreBackend) -> Result<Topology> {
    let strings = || Consumed::with(Serdes::string(), Serdes::string());
    let builder = StreamsBuilder::new();
    let input = builder.stream(topics.input.as_str(), strings());

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
    let mut store =
        Materialized::as_(STORE, Serdes::string(), Serdes::string()).with_caching(false);
    if let StoreBackend::RocksDb {
        state_dir,
        application_id,
        budget_bytes,
    } = backend
    {
        let budget = weir_rocksdb::RocksDbBudget::new(*budget_bytes)?;
        store = store.with_bytes_supplier(weir_rocksdb::rocksdb_bytes_supplier(
            state_dir.clone(),
            application_id.clone(),
            STORE.to_string(),
            budget,
        ));
    }
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
    builder.build()
}

/// The internal topics of the topology for `application_id`.
pub fn internal_topics(application_id: &str) -> Vec<String> {
    vec![
        format!("{application_id}-{REPARTITION}-repartition"),
        format!("{application_id}-{STORE}-changelog"),
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
        };
        let topology = eos_topology(&topics, &StoreBackend::Memory);
        assert!(topology.is_ok(), "{:?}", topology.err());
    }
}
