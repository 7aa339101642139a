//! # alerting-router: a monitoring and alerting router on Weir
//!
//! Devices report sensor readings as JSON on `sensor-readings`:
//!
//! ```json
//! {"device":"pump-7","metric":"temperature","value":93.5,"ts":1700000000000}
//! ```
//!
//! The router drops malformed and implausible readings, classifies the rest
//! against per-metric thresholds ([`rules::Rules`]) and routes each anomaly by
//! severity, as a JSON [`Alert`] keyed by device, to `alerts-critical` or
//! `alerts-warning`. Every anomaly also gives one compact text line, keyed by
//! device, on `device-summaries`.
//!
//! ```text
//! sensor-readings ─ readings-source ─ parse-readings ─ drop-implausible ─ key-by-device ─ classify
//!     ├─ severity- (split) ─ severity-critical ─ alerts-critical-sink ─> alerts-critical
//!     │                    └ severity-warning  ─ alerts-warning-sink  ─> alerts-warning
//!     └─ summarize ─ device-summaries-sink ─> device-summaries
//! ```
//!
//! What it shows:
//! - **event time from the payload**: the source's timestamp extractor
//!   ([`PayloadTimestamp`]) takes the reading's `ts`, so every alert and
//!   summary carries the time of the measurement, not of its arrival;
//! - **bad input does not stop the service**: values are read as bytes and
//!   parsed inside the topology, so malformed JSON, non-UTF-8 bytes and
//!   readings that fail the plausibility checks are logged and dropped
//!   whatever `deserialization.exception.handler` says;
//! - **`split` into named branches**, and stable operator names throughout,
//!   so the topology's shape does not depend on generated names.
//!
//! The summary stream is stateless: one line per anomalous reading. Counting
//! anomalies per device over a window needs state stores, which come later;
//! this example will then grow a windowed aggregation.
//!
//! Delivery semantics: **at-least-once**. Offsets are committed only after
//! the alerts they produced are acknowledged, so after a crash some alerts
//! may be sent twice, never lost. Alerting tolerates duplicates (consumers can
//! deduplicate on device + metric + ts); exactly-once is not needed here.

pub mod model;
pub mod rules;
pub mod sample;

use std::sync::Arc;

use weir::prelude::*;
use weir::time::{InvalidTimestampPolicy, TimestampExtractor};

pub use model::{Alert, Reading, Severity};
pub use rules::Rules;

/// The input topic: JSON sensor readings.
pub const READINGS_TOPIC: &str = "sensor-readings";
/// Critical alerts (JSON [`Alert`]s keyed by device).
pub const CRITICAL_TOPIC: &str = "alerts-critical";
/// Warnings (JSON [`Alert`]s keyed by device).
pub const WARNING_TOPIC: &str = "alerts-warning";
/// One text line per anomaly, keyed by device.
pub const SUMMARY_TOPIC: &str = "device-summaries";

/// The application id used when the configuration sets none.
pub const DEFAULT_APPLICATION_ID: &str = "alerting-router";

/// Event time from the reading's `ts` field. A record whose payload has no
/// valid `ts` (malformed JSON included) keeps its Kafka timestamp: it is
/// dropped downstream anyway, and must not stop the service here.
#[derive(Debug, Default, Clone, Copy)]
pub struct PayloadTimestamp;

#[derive(serde::Deserialize)]
struct EventTime {
    ts: i64,
}

impl TimestampExtractor<Vec<u8>, Vec<u8>> for PayloadTimestamp {
    fn extract(&self, record: &Record<Vec<u8>, Vec<u8>>, _partition_time: i64) -> i64 {
        record
            .value
            .as_deref()
            .and_then(|bytes| serde_json::from_slice::<EventTime>(bytes).ok())
            .map(|e| e.ts)
            .filter(|ts| *ts > 0)
            .unwrap_or(record.timestamp)
    }
}

/// Parses a raw value into a reading, logging and dropping what does not parse.
fn parse_reading(bytes: Vec<u8>) -> Option<Reading> {
    match Reading::parse(&bytes) {
        Ok(reading) => Some(reading),
        Err(why) => {
            let shown: String = String::from_utf8_lossy(&bytes).chars().take(80).collect();
            tracing::warn!(value = ?shown, error = %why, "dropping malformed reading");
            None
        }
    }
}

/// The router's topology with these `rules`.
///
/// ```
/// let topology = alerting_router::topology(alerting_router::Rules::default())?;
/// assert!(topology.describe().to_string().contains("Processor: classify"));
/// # Ok::<(), weir::Error>(())
/// ```
pub fn topology(rules: Rules) -> Result<Topology> {
    let rules = Arc::new(rules);
    let builder = StreamsBuilder::new();
    let alerts_serde = Produced::with(Serdes::string(), Serdes::json::<Alert>());

    let checks = rules.clone();
    let classifier = rules.clone();
    let alerts = builder
        .stream(
            READINGS_TOPIC,
            Consumed::with(Serdes::bytes(), Serdes::bytes())
                .with_timestamp_extractor(PayloadTimestamp)
                // A record with neither a payload `ts` nor a Kafka timestamp: skip it, loudly.
                .with_invalid_timestamp_policy(InvalidTimestampPolicy::LogAndSkip)
                .with_name("readings-source"),
        )
        .flat_map_values(parse_reading)
        .named("parse-readings")
        .filter(move |_, reading| match checks.implausible(reading) {
            Some(why) => {
                tracing::warn!(device = %reading.device, reason = %why, "dropping implausible reading");
                false
            }
            None => true,
        })
        .named("drop-implausible")
        .select_key(|_, reading| reading.device.clone())
        .named("key-by-device")
        .flat_map_values(move |reading| classifier.classify(&reading))
        .named("classify");

    let branches = alerts
        .split()
        .named("severity-")
        .branch("critical", |_, a| a.severity == Severity::Critical)
        .branch("warning", |_, a| a.severity == Severity::Warning)
        .no_default_branch();
    for (branch, topic) in [
        ("severity-critical", CRITICAL_TOPIC),
        ("severity-warning", WARNING_TOPIC),
    ] {
        let stream = branches
            .get(branch)
            .ok_or_else(|| Error::Topology(format!("split branch '{branch}' is missing")))?;
        stream
            .to(topic, alerts_serde.clone())
            .named(&format!("{topic}-sink"));
    }

    alerts
        .map_values(|alert| alert.summary_line())
        .named("summarize")
        .to(
            SUMMARY_TOPIC,
            Produced::with(Serdes::string(), Serdes::string()),
        )
        .named("device-summaries-sink");

    builder.build()
}
