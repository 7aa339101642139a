//! The contenders, run as child processes of the bench binary (hidden
//! subcommands) so that their CPU time and memory are theirs alone.

use std::io::Read;
use std::time::Duration;

use weir::prelude::*;
use weir_kafka::copier::{run_copier, CopierOptions};

use crate::{data, BenchResult};

/// What a contender needs, passed as arguments:
/// `<bootstrap> <input> <output> <group> <commit-ms> <stop-after>`.
pub struct ChildArgs {
    pub bootstrap: String,
    pub input: String,
    pub output: String,
    pub group: String,
    pub commit_ms: u64,
    pub stop_after: u64,
}

impl ChildArgs {
    pub fn to_args(&self) -> Vec<String> {
        vec![
            self.bootstrap.clone(),
            self.input.clone(),
            self.output.clone(),
            self.group.clone(),
            self.commit_ms.to_string(),
            self.stop_after.to_string(),
        ]
    }

    pub fn parse(args: &[String]) -> BenchResult<Self> {
        let [bootstrap, input, output, group, commit_ms, stop_after] = args else {
            return Err(
                "usage: <bootstrap> <input> <output> <group> <commit-ms> <stop-after>".into(),
            );
        };
        Ok(ChildArgs {
            bootstrap: bootstrap.clone(),
            input: input.clone(),
            output: output.clone(),
            group: group.clone(),
            commit_ms: commit_ms.parse()?,
            stop_after: stop_after.parse()?,
        })
    }
}

/// The Weir pass-through: stream (typed JSON) -> filter -> map_values
/// (modify, re-serialize at the sink) -> to, one stream thread,
/// at-least-once. Runs until SIGTERM (graceful close with a final commit).
pub fn run_weir(args: &ChildArgs) -> BenchResult<()> {
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
    let config = StreamsConfig::builder()
        .application_id(args.group.clone())
        .bootstrap_servers(args.bootstrap.clone())
        .num_stream_threads(1)
        .commit_interval(Duration::from_millis(args.commit_ms))
        .processing_guarantee(ProcessingGuarantee::AtLeastOnce)
        .build()?;
    let mut app = KafkaStreams::new(topology, config)?;
    app.start()?;
    app.run_until_signal(Duration::from_secs(30))?;
    Ok(())
}

/// The raw copier (the ceiling): copies `stop_after` records, then waits
/// (idle) until the bench stops it or closes its stdin.
pub fn run_raw_copier(args: &ChildArgs) -> BenchResult<()> {
    let opts = CopierOptions::new(
        args.bootstrap.clone(),
        args.group.clone(),
        args.input.clone(),
        args.output.clone(),
        args.stop_after,
    )
    .commit_interval(Duration::from_millis(args.commit_ms));
    run_copier(opts)?;
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    Ok(())
}
