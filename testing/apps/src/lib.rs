//! Topologies shared by the test applications and the runtime's integration
//! tests.

use weir::prelude::*;

/// Copies `input` to `output` unchanged (string keys and values), through a
/// filter and a map so records cross processor nodes.
pub fn echo_topology(input: &str, output: &str) -> Result<Topology> {
    let builder = StreamsBuilder::new();
    builder
        .stream(input, Consumed::with(Serdes::string(), Serdes::string()))
        .filter(|_k, _v| true)
        .named("echo-filter")
        .map_values(|v| v)
        .named("echo-map")
        .to(output, Produced::with(Serdes::string(), Serdes::string()))
        .named("echo-sink");
    builder.build()
}

/// Counts `input` records by key (string keys) into the changelogged store
/// `counts` and writes every new count (i64) to `output`.
pub fn count_topology(input: &str, output: &str) -> Result<Topology> {
    let builder = StreamsBuilder::new();
    builder
        .stream(input, Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .count(weir::dsl::Materialized::as_(
            "counts",
            Serdes::string(),
            Serdes::i64(),
        ))
        .to_stream()
        .to(output, Produced::with(Serdes::string(), Serdes::i64()));
    builder.build()
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
