//! The records the router reads and writes, and the checks on a reading.

use serde::{Deserialize, Serialize};

/// A sensor reading as devices send it on `sensor-readings`:
/// `{"device":"pump-7","metric":"temperature","value":93.5,"ts":1700000000000}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// The device that measured, e.g. `pump-7`.
    pub device: String,
    /// What was measured: `temperature`, `pressure`, `vibration` or `battery`.
    pub metric: String,
    /// The measured value, in the metric's unit.
    pub value: f64,
    /// When it was measured (event time), in milliseconds since the epoch.
    pub ts: i64,
}

impl Reading {
    /// Parses a reading from JSON bytes; `Err` names what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Reading, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

/// How bad an anomaly is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Needs attention soon.
    Warning,
    /// Needs attention now.
    Critical,
}

impl Severity {
    /// `WARNING` or `CRITICAL`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// An alert, written as JSON to `alerts-critical` or `alerts-warning`, keyed
/// by device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The device.
    pub device: String,
    /// The metric out of range.
    pub metric: String,
    /// The value measured.
    pub value: f64,
    /// How bad it is.
    pub severity: Severity,
    /// Why, e.g. `temperature 97.2 C above critical threshold 95 C`.
    pub reason: String,
    /// Event time of the reading, in milliseconds since the epoch.
    pub ts: i64,
}

impl Alert {
    /// One compact line for `device-summaries`:
    /// `pump-7 CRITICAL temperature=97.2 @1700000000000`.
    pub fn summary_line(&self) -> String {
        format!(
            "{} {} {}={} @{}",
            self.device,
            self.severity.label(),
            self.metric,
            self.value,
            self.ts
        )
    }
}
