//! The router's topology on the TopologyTestDriver: routing by severity,
//! bad input skipped, summaries, event time from the payload.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use alerting_router::{
    sample, topology, Alert, Rules, Severity, CRITICAL_TOPIC, READINGS_TOPIC, SUMMARY_TOPIC,
    WARNING_TOPIC,
};
use weir::prelude::*;
use weir_testing::{KeyValue, TestInputTopic, TestOutputTopic, TopologyTestDriver};

const TS: i64 = 1_700_000_000_000;
/// The Kafka timestamp the driver gives piped records: far from the payload's `ts`.
const KAFKA_TS: i64 = 42;

struct Harness {
    driver: TopologyTestDriver,
    input: TestInputTopic<String, Vec<u8>>,
    critical: TestOutputTopic<String, Alert>,
    warning: TestOutputTopic<String, Alert>,
    summaries: TestOutputTopic<String, String>,
}

impl Harness {
    fn new() -> Self {
        let driver = TopologyTestDriver::with_defaults(topology(Rules::default()).unwrap());
        let input = driver.create_input_topic(READINGS_TOPIC, Serdes::string(), Serdes::bytes());
        let critical =
            driver.create_output_topic(CRITICAL_TOPIC, Serdes::string(), Serdes::json::<Alert>());
        let warning =
            driver.create_output_topic(WARNING_TOPIC, Serdes::string(), Serdes::json::<Alert>());
        let summaries =
            driver.create_output_topic(SUMMARY_TOPIC, Serdes::string(), Serdes::string());
        Harness {
            driver,
            input,
            critical,
            warning,
            summaries,
        }
    }

    fn pipe(&mut self, device: &str, json: &str) {
        self.input
            .pipe_key_value_at(device.to_string(), json.as_bytes().to_vec(), KAFKA_TS)
            .unwrap();
    }

    fn reading(&mut self, device: &str, metric: &str, value: f64, ts: i64) {
        let json =
            format!(r#"{{"device":"{device}","metric":"{metric}","value":{value},"ts":{ts}}}"#);
        self.pipe(device, &json);
    }
}

#[test]
fn routes_critical_and_warning_alerts_by_severity() {
    let mut h = Harness::new();
    h.reading("pump-7", "temperature", 71.0, TS); // normal
    h.reading("pump-7", "temperature", 93.5, TS + 1); // warning
    h.reading("pump-7", "temperature", 97.0, TS + 2); // critical
    h.reading("hub-1", "battery", 15.0, TS + 3); // warning (low)
    h.reading("hub-1", "battery", 8.0, TS + 4); // critical (low)

    let critical = h.critical.read_key_values_to_list().unwrap();
    let warning = h.warning.read_key_values_to_list().unwrap();
    let devices = |kvs: &[KeyValue<String, Alert>]| {
        kvs.iter()
            .map(|kv| {
                (
                    kv.key.clone().unwrap(),
                    kv.value.as_ref().unwrap().metric.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        devices(&critical),
        [
            ("pump-7".to_string(), "temperature".to_string()),
            ("hub-1".to_string(), "battery".to_string())
        ]
    );
    assert_eq!(
        devices(&warning),
        [
            ("pump-7".to_string(), "temperature".to_string()),
            ("hub-1".to_string(), "battery".to_string())
        ]
    );
    assert!(critical
        .iter()
        .all(|kv| kv.value.as_ref().unwrap().severity == Severity::Critical));
    assert!(warning
        .iter()
        .all(|kv| kv.value.as_ref().unwrap().severity == Severity::Warning));

    let first = critical[0].value.clone().unwrap();
    assert_eq!(
        first,
        Alert {
            device: "pump-7".to_string(),
            metric: "temperature".to_string(),
            value: 97.0,
            severity: Severity::Critical,
            reason: "temperature 97 C above critical threshold 95 C".to_string(),
            ts: TS + 2,
        }
    );
    h.driver.close().unwrap();
}

#[test]
fn alert_json_has_the_documented_fields() {
    let mut h = Harness::new();
    h.reading("pump-7", "pressure", 10.5, TS);
    let raw = h
        .driver
        .producer_records()
        .into_iter()
        .find(|r| r.topic == CRITICAL_TOPIC)
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(raw.value.as_deref().unwrap()).unwrap();
    assert_eq!(json["device"], "pump-7");
    assert_eq!(json["metric"], "pressure");
    assert_eq!(json["value"], 10.5);
    assert_eq!(json["severity"], "critical");
    assert!(json["reason"]
        .as_str()
        .unwrap()
        .contains("critical threshold 10 bar"));
    assert_eq!(raw.key.as_deref(), Some(&b"pump-7"[..]));
}

#[test]
fn malformed_and_implausible_readings_are_skipped_and_processing_continues() {
    let mut h = Harness::new();
    h.pipe("pump-7", "temperature=99.9");
    h.pipe(
        "pump-7",
        r#"{"device":"pump-7","metric":"temperature","val"#,
    );
    h.pipe(
        "pump-7",
        r#"{"device":"pump-7","metric":"temperature","value":"hot","ts":1}"#,
    );
    h.pipe(
        "pump-7",
        r#"{"metric":"temperature","value":99.0,"ts":1700000000000}"#,
    );
    h.input
        .pipe_key_value_at("pump-7".to_string(), vec![0xff, 0xfe, 0x00], KAFKA_TS)
        .unwrap();
    // Without a key at all.
    h.input
        .pipe_record(Record::from_parts(
            None,
            Some(b"{]".to_vec()),
            KAFKA_TS,
            Default::default(),
        ))
        .unwrap();
    h.reading("pump-7", "temperature", 999.0, TS); // beyond the sensor's range
    h.reading("pump-7", "humidity", 99.0, TS); // unknown metric
    h.reading("", "pressure", 12.0, TS); // no device
    h.reading("pump-7", "pressure", 12.0, 0); // no event time

    assert!(h.critical.is_empty());
    assert!(h.warning.is_empty());
    assert!(h.summaries.is_empty());

    // The service is still running: the next good reading gets through.
    h.reading("pump-7", "temperature", 99.0, TS + 10);
    assert_eq!(h.critical.queue_size(), 1);
    h.driver.close().unwrap();
}

#[test]
fn summaries_one_line_per_anomaly_keyed_by_device() {
    let mut h = Harness::new();
    h.reading("pump-7", "temperature", 60.0, TS);
    h.reading("pump-7", "vibration", 12.6, TS + 1_000);
    // The record key does not matter: summaries are keyed by the payload's device.
    h.pipe(
        "wrong-key",
        r#"{"device":"pump-9","metric":"pressure","value":8.4,"ts":1700000002000}"#,
    );
    assert_eq!(
        h.summaries.read_key_values_to_list().unwrap(),
        [
            KeyValue::new(
                "pump-7".to_string(),
                "pump-7 CRITICAL vibration=12.6 @1700000001000".to_string()
            ),
            KeyValue::new(
                "pump-9".to_string(),
                "pump-9 WARNING pressure=8.4 @1700000002000".to_string()
            ),
        ]
    );
    assert_eq!(
        h.warning.read_key_value().unwrap().unwrap().key.as_deref(),
        Some("pump-9")
    );
}

#[test]
fn event_time_comes_from_the_payload() {
    let mut h = Harness::new();
    // Out of order in event time; the Kafka timestamp (KAFKA_TS) is ignored.
    h.reading("pump-7", "temperature", 97.0, TS + 60_000);
    h.reading("pump-7", "temperature", 98.0, TS);
    let records = h.critical.read_records_to_list().unwrap();
    let times: Vec<i64> = records.iter().map(|r| r.timestamp).collect();
    assert_eq!(times, [TS + 60_000, TS]);
    let summaries = h.summaries.read_records_to_list().unwrap();
    assert!(summaries.iter().all(|r| r.timestamp != KAFKA_TS));
    // Stream time follows the payload too: the highest event time seen.
    let task = h.driver.task_ids()[0];
    assert_eq!(h.driver.stream_time(task), Some(TS + 60_000));
}

#[test]
fn the_sample_set_produces_the_expected_alerts() {
    let mut h = Harness::new();
    for (key, value) in sample::readings() {
        let record = Record::from_parts(key, Some(value), KAFKA_TS, Default::default());
        h.input.pipe_record(record).unwrap();
    }
    let expected = sample::expected_alerts(&Rules::default());
    let critical = h.critical.read_values_to_list().unwrap();
    let warning = h.warning.read_values_to_list().unwrap();
    assert_eq!(critical.len() + warning.len(), expected.len());
    assert!(
        critical.len() >= 5 && warning.len() >= 5,
        "{critical:?} {warning:?}"
    );
    let mut got: Vec<Alert> = critical.into_iter().chain(warning).collect();
    got.sort_by_key(|a| a.ts);
    let mut want = expected;
    want.sort_by_key(|a| a.ts);
    assert_eq!(got, want);
    assert_eq!(h.summaries.queue_size(), want.len());
}

#[test]
fn operators_have_stable_names() {
    let description = topology(Rules::default()).unwrap().describe().to_string();
    for name in [
        "Source: readings-source",
        "Processor: parse-readings",
        "Processor: drop-implausible",
        "Processor: key-by-device",
        "Processor: classify",
        "Processor: severity-critical",
        "Processor: severity-warning",
        "Processor: summarize",
        "Sink: alerts-critical-sink",
        "Sink: alerts-warning-sink",
        "Sink: device-summaries-sink",
    ] {
        assert!(
            description.contains(name),
            "missing {name} in:\n{description}"
        );
    }
    assert!(!description.contains("KSTREAM-"), "{description}");
}
