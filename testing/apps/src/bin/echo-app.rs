//! `echo-app <input-topic> <output-topic>`: a Weir application copying one
//! topic to another, at-least-once, configured by `WEIR_*` environment
//! variables. It runs until SIGTERM/Ctrl-C; integration tests kill it with
//! SIGKILL and restart it.

use std::process::ExitCode;
use std::time::Duration;

use weir::prelude::*;

fn run() -> std::result::Result<(), Box<dyn std::error::Error>> {
    weir_test_apps::init_logging();
    let args: Vec<String> = std::env::args().collect();
    let (Some(input), Some(output)) = (args.get(1), args.get(2)) else {
        return Err("usage: echo-app <input-topic> <output-topic>".into());
    };
    let config = StreamsConfig::load(None)?;
    let topology = weir_test_apps::echo_topology(input, output)?;
    let mut app = KafkaStreams::new(topology, config)?;
    app.start()?;
    println!("echo-app started");
    app.run_until_signal(Duration::from_secs(30))?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo-app: {e}");
            ExitCode::FAILURE
        }
    }
}
