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

/// The body of the test applications: `<bin> <input-topic> <output-topic>`,
/// configured by `WEIR_*` variables, running the topology `build` makes until
/// SIGTERM/Ctrl-C; an error is printed and gives a non-zero exit.
pub fn run_app(name: &str, build: fn(&str, &str) -> Result<Topology>) -> std::process::ExitCode {
    let run = || -> std::result::Result<(), Box<dyn std::error::Error>> {
        init_logging();
        let args: Vec<String> = std::env::args().collect();
        let (Some(input), Some(output)) = (args.get(1), args.get(2)) else {
            return Err(format!("usage: {name} <input-topic> <output-topic>").into());
        };
        let config = StreamsConfig::load(None)?;
        let mut app = KafkaStreams::new(build(input, output)?, config)?;
        app.start()?;
        println!("{name} started");
        app.run_until_signal(std::time::Duration::from_secs(30))?;
        Ok(())
    };
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
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
