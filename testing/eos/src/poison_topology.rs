//! The poison-pill verifier's application topology (`eos-app --topology
//! poison`; see [`crate::poison`] for the pills and the checks).
//!
//! ```text
//! input --> screen (fails on `poison-fail:..`, panics on `poison-panic:..`)
//!   +--> echo (unchanged; partition = format::partition_of(key))
//!   +--> group_by(same key) --> <application.id>-poison-regroup-repartition
//!   |       --> aggregate into store `poison-aggs` (no cache: every update forwarded)
//!   |       --> aggs (`seq,last_seq,count,sum,min,max`)
//!   +--> sized (`seq,amount|` padded to BIG_OUTPUT_BYTES when amount >= BIG_AMOUNT)
//! ```
//!
//! The input's values are read with the string serde, so a value that is
//! not UTF-8 (a deserialization pill) fails in the source node. The
//! `sized` topic is created with `max.message.bytes` =
//! [`SIZED_MAX_MESSAGE_BYTES`](crate::poison::SIZED_MAX_MESSAGE_BYTES):
//! the output of a production pill is too large for it.

use weir::dsl::{Grouped, Materialized};
use weir::prelude::*;

use crate::format::{partition_of, Aggregate};
use crate::poison::{sized_value, FAIL_PREFIX, PANIC_PREFIX};
use crate::topology::{fold_text, StoreBackend};

/// The name of the repartition step (topic `<application.id>-poison-regroup-repartition`).
pub const POISON_REPARTITION: &str = "poison-regroup";
/// The aggregation store (changelog `<application.id>-poison-aggs-changelog`).
pub const POISON_STORE: &str = "poison-aggs";
/// The processor node that fails on processing pills.
pub const SCREEN: &str = "poison-screen";

/// The user topics of the poison application.
#[derive(Debug, Clone)]
pub struct PoisonTopics {
    /// The generator's input (good records and pills).
    pub input: String,
    /// The echo output.
    pub echo: String,
    /// The aggregate output.
    pub aggs: String,
    /// The output with a small `max.message.bytes`.
    pub sized: String,
}

/// A processing pill's error (the processor returns it).
#[derive(Debug)]
pub struct PoisonPillError(pub String);

impl std::fmt::Display for PoisonPillError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "poison pill refused by the processor: {}", self.0)
    }
}

impl std::error::Error for PoisonPillError {}

/// Forwards every record but the processing pills: on `poison-fail:..` it
/// returns an error, on `poison-panic:..` it panics.
struct Screen;

impl Processor<String, String> for Screen {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<String, String>,
        record: Record<String, String>,
    ) -> Result<()> {
        if let Some(value) = record.value.as_deref() {
            if let Some(rest) = value.strip_prefix(FAIL_PREFIX) {
                return Err(Error::application(
                    SCREEN,
                    PoisonPillError(format!("{FAIL_PREFIX}{rest}")),
                ));
            }
            if let Some(rest) = value.strip_prefix(PANIC_PREFIX) {
                // Deliberate: the verifier checks that a panic in user code
                // is caught at the task boundary and dead-lettered.
                panic!("poison pill panicked the processor: {PANIC_PREFIX}{rest}");
            }
        }
        ctx.forward(record)
    }
}

/// The poison application's topology over `topics`, its store on `backend`.
pub fn poison_topology(topics: &PoisonTopics, backend: &StoreBackend) -> Result<Topology> {
    let strings = || Consumed::with(Serdes::string(), Serdes::string());
    let builder = StreamsBuilder::new();
    let good = builder
        .stream(topics.input.as_str(), strings())
        .process(|| Screen, &[])
        .named(SCREEN);

    let echo_partitioner =
        |_topic: &str, key: Option<&String>, _value: Option<&String>, partitions: i32| {
            key.and_then(|k| partition_of(k, partitions))
        };
    good.to(
        &topics.echo,
        Produced::with(Serdes::string(), Serdes::string())
            .with_partitioner(echo_partitioner)
            .with_name("poison-echo-sink"),
    );

    let mut store =
        Materialized::as_(POISON_STORE, Serdes::string(), Serdes::string()).with_caching(false);
    if let StoreBackend::RocksDb {
        state_dir,
        application_id,
        budget_bytes,
    } = backend
    {
        store = store.with_bytes_supplier(weir_rocksdb::rocksdb_bytes_supplier(
            state_dir.clone(),
            application_id.clone(),
            POISON_STORE.to_string(),
            weir_rocksdb::RocksDbBudget::new(*budget_bytes)?,
        ));
    }
    good.group_by(
        |key: Option<&String>, _value: &String| key.cloned().unwrap_or_default(),
        Grouped::as_(POISON_REPARTITION, Serdes::string(), Serdes::string()),
    )
    .aggregate(
        || Aggregate::default().to_string(),
        |_key: &String, value: String, agg: String| fold_text(&agg, &value),
        store,
    )
    .to_stream()
    .to(
        &topics.aggs,
        Produced::with(Serdes::string(), Serdes::string()).with_name("poison-aggs-sink"),
    );

    good.map_values(|value: String| sized_value(&value)).to(
        &topics.sized,
        Produced::with(Serdes::string(), Serdes::string()).with_name("poison-sized-sink"),
    );
    builder.build()
}

/// The internal topics of the topology for `application_id`.
pub fn poison_internal_topics(application_id: &str) -> Vec<String> {
    vec![
        format!("{application_id}-{POISON_REPARTITION}-repartition"),
        format!("{application_id}-{POISON_STORE}-changelog"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds() {
        let topics = PoisonTopics {
            input: "in".into(),
            echo: "echo".into(),
            aggs: "aggs".into(),
            sized: "sized".into(),
        };
        let topology = poison_topology(&topics, &StoreBackend::Memory);
        assert!(topology.is_ok(), "{:?}", topology.err());
    }
}
