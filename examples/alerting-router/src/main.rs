//! The alerting router as a service.
//!
//! ```text
//! alerting-router [CONFIG.toml|CONFIG.yaml]
//! ```
//!
//! Configuration comes from the optional file and `WEIR_*` environment
//! variables (`WEIR_BOOTSTRAP_SERVERS=kafka:9092`); `application.id`
//! defaults to `alerting-router`.
//!
//! - With `bootstrap.servers` set, the router runs against that Kafka until
//!   SIGTERM or Ctrl-C, and exits non-zero if the application fails.
//! - Without it, it starts an embedded in-process development broker
//!   (librdkafka's mock cluster), feeds it the built-in sample readings,
//!   runs the router until the expected alerts arrive (at most 60 s), prints
//!   them, and exits: a self-contained demonstration.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use alerting_router::{sample, Alert, Rules, CRITICAL_TOPIC, DEFAULT_APPLICATION_ID};
use alerting_router::{READINGS_TOPIC, SUMMARY_TOPIC, WARNING_TOPIC};
use weir::config_keys as keys;
use weir::dev::{produce_batch, read_to_end, EmbeddedBroker, Isolation, ProduceRecord, TopicSpec};
use weir::prelude::*;
use weir::ConfigError;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long the development run waits for the expected alerts.
const DEMO_DEADLINE: Duration = Duration::from_secs(60);
/// How long closing the application may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// The service allocates through jemalloc, as docs/operations.md recommends
/// ("Memory allocator"): fewer CPU-seconds per record than glibc's malloc.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alerting-router: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), BoxError> {
    let mut args = std::env::args_os().skip(1);
    let file = args.next().map(PathBuf::from);
    if args.next().is_some() {
        return Err("usage: alerting-router [CONFIG.toml|CONFIG.yaml]".into());
    }
    let config = load_config(file.as_deref())?;
    let topology = alerting_router::topology(Rules::default())?;
    if config.bootstrap_servers().is_some() {
        run_service(topology, config)
    } else {
        run_development(topology, config)
    }
}

/// The configuration from `file` and `WEIR_*` variables, with
/// `application.id` defaulting to [`DEFAULT_APPLICATION_ID`].
fn load_config(file: Option<&std::path::Path>) -> Result<StreamsConfig, ConfigError> {
    let env = || {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
    };
    match StreamsConfig::load_with_env(file, env()) {
        Err(ConfigError::Missing { key }) if key == keys::APPLICATION_ID => {
            // Neither the file nor the environment names the application:
            // supply the default the way the environment would.
            let default = (
                "WEIR_APPLICATION_ID".to_string(),
                DEFAULT_APPLICATION_ID.to_string(),
            );
            StreamsConfig::load_with_env(file, env().chain(std::iter::once(default)))
        }
        other => other,
    }
}

/// Runs against the configured Kafka until SIGTERM or Ctrl-C.
fn run_service(topology: Topology, config: StreamsConfig) -> Result<(), BoxError> {
    let mut app = KafkaStreams::new(topology, config)?;
    app.set_state_listener(|new, old| tracing::info!(?old, ?new, "state change"));
    app.start()?;
    app.run_until_signal(CLOSE_TIMEOUT)?;
    let m = app.metrics();
    tracing::info!(
        processed = m.records_processed,
        sent = m.records_sent,
        commits = m.commits,
        "stopped"
    );
    Ok(())
}

/// The self-contained development run on an embedded broker.
fn run_development(topology: Topology, mut config: StreamsConfig) -> Result<(), BoxError> {
    println!(
        "No broker configured: starting an embedded in-process DEVELOPMENT broker \
         (librdkafka mock cluster) — not for production, no exactly-once."
    );
    println!("(Set WEIR_BOOTSTRAP_SERVERS=host:port to run against a real Kafka cluster.)");
    let broker = EmbeddedBroker::start()?;
    let conn = broker.connection().with_timeout(Duration::from_secs(10));
    println!("Embedded broker at {}", broker.bootstrap_servers());

    config.set(keys::BOOTSTRAP_SERVERS, broker.bootstrap_servers())?;
    if !config.originals().contains_key(keys::COMMIT_INTERVAL_MS) {
        config.set(keys::COMMIT_INTERVAL_MS, "200")?;
    }
    if config.processing_guarantee() != ProcessingGuarantee::AtLeastOnce {
        return Err(
            "the embedded development broker supports only processing.guarantee = at_least_once"
                .into(),
        );
    }

    broker.create_topics(&[
        TopicSpec::new(READINGS_TOPIC, 2),
        TopicSpec::new(CRITICAL_TOPIC, 2),
        TopicSpec::new(WARNING_TOPIC, 2),
        TopicSpec::new(SUMMARY_TOPIC, 2),
    ])?;
    let readings = sample::readings();
    let records: Vec<ProduceRecord> = readings
        .iter()
        .map(|(key, value)| ProduceRecord {
            key: key.as_ref().map(|k| k.as_bytes().to_vec()),
            value: Some(value.clone()),
            ..ProduceRecord::default()
        })
        .collect();
    produce_batch(&conn, READINGS_TOPIC, &records)?;
    let expected = sample::expected_alerts(&Rules::default());
    println!(
        "Produced {} sample readings to '{READINGS_TOPIC}' (some malformed or implausible on purpose); expecting {} alerts.",
        records.len(),
        expected.len()
    );

    let mut app = KafkaStreams::new(topology, config)?;
    app.start()?;
    let outcome = wait_for_alerts(&app, &conn, expected.len());
    // Close before reporting, so the final commit happens while the broker is up.
    let closed = app.close(CLOSE_TIMEOUT);
    let metrics = app.metrics();
    drop(app);
    let (critical, warning, summaries) = outcome?;
    closed?;

    print!("{}", alert_table(&critical, &warning));
    println!("\n{} lines on '{SUMMARY_TOPIC}':", summaries.len());
    for line in &summaries {
        println!("  {line}");
    }
    println!(
        "\nProcessed {} records, sent {}, committed offsets {} times (at-least-once).",
        metrics.records_processed, metrics.records_sent, metrics.commits
    );
    broker.stop();
    Ok(())
}

/// Alerts on the critical and warning topics, and the summary lines.
type Outputs = (Vec<Alert>, Vec<Alert>, Vec<String>);

/// Reads the output topics until `expected` alerts arrived, the application
/// fails, or [`DEMO_DEADLINE`] passes.
fn wait_for_alerts(
    app: &KafkaStreams,
    conn: &weir::dev::Connection,
    expected: usize,
) -> Result<Outputs, BoxError> {
    let started = Instant::now();
    loop {
        let critical = read_alerts(conn, CRITICAL_TOPIC)?;
        let warning = read_alerts(conn, WARNING_TOPIC)?;
        let got = critical.len() + warning.len();
        if got >= expected {
            let mut summaries: Vec<(i64, String)> =
                read_to_end(conn, SUMMARY_TOPIC, Isolation::ReadUncommitted)?
                    .into_iter()
                    .filter_map(|r| {
                        let line = String::from_utf8_lossy(r.value.as_deref()?).into_owned();
                        Some((r.timestamp.unwrap_or_default(), line))
                    })
                    .collect();
            // In event time (the records' timestamps), across partitions.
            summaries.sort();
            let summaries = summaries.into_iter().map(|(_, line)| line).collect();
            return Ok((critical, warning, summaries));
        }
        if app.is_stopping() {
            return Err(format!(
                "the application stopped before the alerts arrived ({got} of {expected}); state {:?}",
                app.state()
            )
            .into());
        }
        if started.elapsed() > DEMO_DEADLINE {
            return Err(format!(
                "expected {expected} alerts within {DEMO_DEADLINE:?}, got {got} \
                 ({} critical, {} warning); state {:?}",
                critical.len(),
                warning.len(),
                app.state()
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn read_alerts(conn: &weir::dev::Connection, topic: &str) -> Result<Vec<Alert>, BoxError> {
    let mut alerts = Vec::new();
    for record in read_to_end(conn, topic, Isolation::ReadUncommitted)? {
        let value = record.value.unwrap_or_default();
        alerts.push(serde_json::from_slice::<Alert>(&value)?);
    }
    alerts.sort_by_key(|a| a.ts);
    Ok(alerts)
}

/// The alerts as a text table, critical first, each group in event-time order.
fn alert_table(critical: &[Alert], warning: &[Alert]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{} alerts ({} critical on '{CRITICAL_TOPIC}', {} warning on '{WARNING_TOPIC}'):\n",
        critical.len() + warning.len(),
        critical.len(),
        warning.len()
    );
    let _ = writeln!(
        out,
        "{:<9} {:<14} {:<12} {:>7}  {:<20} REASON",
        "SEVERITY", "DEVICE", "METRIC", "VALUE", "EVENT TIME"
    );
    for a in critical.iter().chain(warning) {
        let _ = writeln!(
            out,
            "{:<9} {:<14} {:<12} {:>7}  {:<20} {}",
            a.severity.label(),
            a.device,
            a.metric,
            a.value,
            utc(a.ts),
            a.reason
        );
    }
    out
}

/// `ts_ms` (milliseconds since the epoch) as `YYYY-MM-DD HH:MM:SSZ`.
fn utc(ts_ms: i64) -> String {
    let secs = ts_ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_formats_event_times() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(super::utc(1_700_000_000_000), "2023-11-14 22:13:20Z");
        assert_eq!(super::utc(951_782_400_000), "2000-02-29 00:00:00Z");
    }
}
