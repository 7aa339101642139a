//! A built-in set of sample readings for the development run: normal
//! readings, warnings and critical anomalies of every metric, malformed
//! records and implausible values.

use crate::model::{Alert, Reading};
use crate::rules::Rules;

/// Event time of the first sample reading (2023-11-14T22:13:20Z).
pub const START_TS: i64 = 1_700_000_000_000;

/// The sample input: `(key, value)` records for `sensor-readings`, keyed by
/// device where a device can be named, as devices would send them.
pub fn readings() -> Vec<(Option<String>, Vec<u8>)> {
    let good: [(&str, &str, f64); 34] = [
        ("pump-7", "temperature", 71.2),
        ("pump-7", "temperature", 84.9), // warning
        ("pump-7", "temperature", 93.5), // warning
        ("pump-7", "temperature", 97.8), // critical
        ("pump-7", "pressure", 6.1),
        ("pump-7", "pressure", 8.4), // warning
        ("pump-7", "vibration", 4.0),
        ("pump-7", "vibration", 12.6), // critical
        ("pump-9", "temperature", 65.0),
        ("pump-9", "temperature", 66.3),
        ("pump-9", "pressure", 7.9),
        ("pump-9", "pressure", 10.7), // critical
        ("pump-9", "vibration", 7.4), // warning
        ("pump-9", "vibration", 3.2),
        ("compressor-2", "temperature", 88.0), // warning
        ("compressor-2", "temperature", 79.9),
        ("compressor-2", "pressure", 9.2),  // warning
        ("compressor-2", "pressure", 11.9), // critical
        ("compressor-2", "vibration", 2.5),
        ("compressor-2", "vibration", 6.9),
        ("sensor-hub-1", "battery", 76.0),
        ("sensor-hub-1", "battery", 18.5), // warning
        ("sensor-hub-1", "battery", 9.0),  // critical
        ("sensor-hub-1", "temperature", 22.4),
        ("sensor-hub-3", "battery", 55.0),
        ("sensor-hub-3", "battery", 42.0),
        ("sensor-hub-3", "temperature", 21.9),
        ("chiller-4", "temperature", 4.5),
        ("chiller-4", "temperature", 5.1),
        ("chiller-4", "pressure", 3.3),
        ("chiller-4", "vibration", 1.1),
        ("chiller-4", "vibration", 11.5), // critical
        ("fan-12", "vibration", 5.0),
        ("fan-12", "temperature", 45.0),
    ];
    let mut out: Vec<(Option<String>, Vec<u8>)> = good
        .iter()
        .enumerate()
        .map(|(i, (device, metric, value))| {
            let reading = Reading {
                device: (*device).to_string(),
                metric: (*metric).to_string(),
                value: *value,
                ts: START_TS + 15_000 * i as i64,
            };
            let json = serde_json::to_vec(&reading).unwrap_or_default();
            (Some((*device).to_string()), json)
        })
        .collect();
    // Malformed: not JSON, truncated JSON, wrong types, missing fields, not UTF-8.
    let bad: [(Option<&str>, &[u8]); 5] = [
        (Some("pump-7"), b"temperature=99.9"),
        (
            Some("pump-9"),
            br#"{"device":"pump-9","metric":"pressure","val"#,
        ),
        (
            Some("pump-9"),
            br#"{"device":"pump-9","metric":"pressure","value":"high","ts":1700000100000}"#,
        ),
        (None, br#"{"metric":"temperature","value":99.0}"#),
        (Some("fan-12"), &[0xff, 0xfe, 0x00, 0x42]),
    ];
    // Implausible: out of the sensor's range, unknown metric, no device, no event time.
    let implausible: [&[u8]; 4] = [
        br#"{"device":"pump-7","metric":"temperature","value":999.0,"ts":1700000200000}"#,
        br#"{"device":"fan-12","metric":"humidity","value":99.0,"ts":1700000200000}"#,
        br#"{"device":"","metric":"pressure","value":12.0,"ts":1700000200000}"#,
        br#"{"device":"chiller-4","metric":"battery","value":-4.0,"ts":1700000200000}"#,
    ];
    // Interleave the bad records among the good ones.
    for (n, (key, value)) in bad.iter().enumerate() {
        let at = (n * 7 + 3).min(out.len());
        out.insert(at, (key.map(str::to_string), value.to_vec()));
    }
    for (n, value) in implausible.iter().enumerate() {
        let at = (n * 9 + 5).min(out.len());
        out.insert(at, (None, value.to_vec()));
    }
    out
}

/// The alerts the sample readings should produce under `rules`, in input
/// order: what the development run waits for.
pub fn expected_alerts(rules: &Rules) -> Vec<Alert> {
    readings()
        .iter()
        .filter_map(|(_, value)| Reading::parse(value).ok())
        .filter_map(|reading| rules.classify(&reading))
        .collect()
}
