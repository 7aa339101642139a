//! `count-app <input-topic> <output-topic>`: counts records by key into a
//! changelogged in-memory store (`counts`) and writes each new count to the
//! output, at-least-once, configured by `WEIR_*` environment variables. Tests
//! kill it with SIGKILL and restart it.

use std::process::ExitCode;
use std::time::Duration;

use weir::prelude::*;

fn run() -> std::result::Result<(), Box<dyn std::error::Error>> {
    weir_test_apps::init_logging();
    let args: Vec<String> = std::env::args().collect();
    let (Some(input), Some(output)) = (args.get(1), args.get(2)) else {
        return Err("usage: count-app <input-topic> <output-topic>".into());
    };
    let config = StreamsConfig::load(None)?;
    let mut app = KafkaStreams::new(weir_test_apps::count_topology(input, output)?, config)?;
    app.start()?;
    app.run_until_signal(Duration::from_secs(30))?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("count-app: {e}");
            ExitCode::FAILURE
        }
    }
}
