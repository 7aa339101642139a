//! Weir's compatibility suite: the same scenarios played through Kafka
//! Streams 4.3.1's `TopologyTestDriver` and through Weir's
//! [`TopologyTestDriver`](weir_testing::TopologyTestDriver), every output
//! record compared (key, value, timestamp, order), with record caches off in
//! both (`statestore.cache.max.bytes=0`, `DriverConfig::with_cache_max_bytes(0)`).
//!
//! - A scenario ([`scenario`]) is data, in `testing/compat/scenarios/*.json`:
//!   a topology id, input steps (records with typed keys and values, wall-clock
//!   advances), and optionally a declared [`Divergence`](scenario::Divergence).
//!   `scenarios/topologies.json` gives each topology's topics and their
//!   [types](types::TopicType).
//! - Each topology id is built twice: with Kafka Streams' DSL
//!   (`testing/compat/java`, class `weir.compat.Topologies`) and with Weir's
//!   ([`topologies`]), with the same topics, serdes, names and functions.
//! - [`kstreams`] builds the Java runner once (cached under `$WEIR_CACHE`) and
//!   runs every scenario in one JVM; [`weir_side`] runs them through Weir's
//!   driver; [`compare`] judges each scenario.
//!
//! Run it with `cargo test -p weir-compat` (it is part of `cargo test
//! --workspace`); `testing/compat/run` shows the report. docs/compat.md lists
//! every declared divergence and why.

pub mod compare;
pub mod kstreams;
pub mod scenario;
pub mod topologies;
pub mod types;
pub mod weir_side;

/// The directory of this crate's scenario files (and `bytes.json`).
pub fn scenarios_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// The scenario directories the suite runs: `scenarios/` first, then each
/// of its subdirectories (each with its own `topologies.json`), by name.
pub fn scenario_dirs() -> Vec<std::path::PathBuf> {
    let root = scenarios_dir();
    let mut subdirs: Vec<std::path::PathBuf> = std::fs::read_dir(&root)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    subdirs.sort();
    let mut dirs = vec![root];
    dirs.extend(subdirs);
    dirs
}

/// The guide page, docs/compat.md: how to run the suite, how it is built,
/// and every declared divergence.
#[doc = include_str!("../../../docs/compat.md")]
pub mod guide {}
