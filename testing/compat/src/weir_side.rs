//! The Weir side: plays a scenario through Weir's `TopologyTestDriver`.
//!
//! Topics are opened with byte serdes; keys and values are encoded and
//! decoded with Weir's serdes for the [types](crate::types) the topology
//! declares, so what is compared is what Weir wrote, byte for byte read back.

use std::collections::BTreeMap;
use std::time::Duration;

use weir_core::{Headers, Record, Serdes};
use weir_testing::{DriverConfig, TestInputTopic, TopologyTestDriver};

use crate::scenario::{OutRecord, Outputs, Scenario, Step, TopologySpec, CACHE_MAX_BYTES};
use crate::topologies;
use crate::types::TopicType;

/// An input topic with its key and value types.
type Input = (TestInputTopic<Vec<u8>, Vec<u8>>, TopicType, TopicType);

/// The configuration both sides share: application id `compat`, wall clock
/// at 0, no record cache.
pub fn config() -> DriverConfig {
    DriverConfig::new()
        .with_application_id("compat")
        .with_wall_clock_time_ms(0)
        .with_cache_max_bytes(0)
}

/// The configuration `scenario` runs with: [`config`], with a record cache
/// of [`CACHE_MAX_BYTES`] if it asks for one (`"cache": true`).
pub fn config_for(scenario: &Scenario) -> DriverConfig {
    let bytes = if scenario.cache { CACHE_MAX_BYTES } else { 0 };
    config().with_cache_max_bytes(bytes)
}

fn types(spec: &crate::scenario::TopicTypes) -> Result<(TopicType, TopicType), String> {
    Ok((spec.key.parse()?, spec.value.parse()?))
}

/// Runs `scenario` (whose topology's topics are `spec`) and returns what
/// every output topic received.
pub fn run(spec: &TopologySpec, scenario: &Scenario) -> Result<Outputs, String> {
    let topology = topologies::build(&scenario.topology)?;
    let driver =
        TopologyTestDriver::new(topology, config_for(scenario)).map_err(|e| e.to_string())?;
    let mut inputs: BTreeMap<&str, Input> = BTreeMap::new();
    for (topic, t) in &spec.inputs {
        let (k, v) = types(t)?;
        let input = driver.create_input_topic(topic, Serdes::bytes(), Serdes::bytes());
        inputs.insert(topic, (input, k, v));
    }
    for step in &scenario.steps {
        match step {
            Step::AdvanceWallClock { advance_wall_clock } => driver
                .advance_wall_clock_time(Duration::from_millis(*advance_wall_clock))
                .map_err(|e| format!("advancing the wall clock: {e}"))?,
            Step::Record {
                topic,
                key,
                value,
                timestamp,
            } => {
                let (input, kt, vt) = inputs.get_mut(topic.as_str()).ok_or_else(|| {
                    format!("'{topic}' is not an input of '{}'", scenario.topology)
                })?;
                let k = kt.encode(topic, true, key)?;
                let v = vt.encode(topic, false, value)?;
                input
                    .pipe_record(Record::from_parts(k, v, *timestamp, Headers::new()))
                    .map_err(|e| {
                        format!("piping ({key}, {value}) @{timestamp} into '{topic}': {e}")
                    })?;
            }
        }
    }
    let mut outputs = Outputs::new();
    for (topic, t) in &spec.outputs {
        let (kt, vt) = types(t)?;
        let output = driver.create_output_topic(topic, Serdes::bytes(), Serdes::bytes());
        let records = output
            .read_records_to_list()
            .map_err(|e| format!("reading '{topic}': {e}"))?;
        let decoded = records
            .into_iter()
            .map(|r| {
                Ok(OutRecord {
                    key: kt.decode(topic, true, r.key.as_deref())?,
                    value: vt.decode(topic, false, r.value.as_deref())?,
                    timestamp: r.timestamp,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        outputs.insert(topic.clone(), decoded);
    }
    driver
        .close()
        .map_err(|e| format!("closing the driver: {e}"))?;
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn scenario(json: &str) -> Scenario {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_scenario_runs_without_a_cache_unless_it_asks_for_one() {
        let off = scenario(r#"{"name": "a", "topology": "t", "doc": "", "steps": []}"#);
        assert!(!off.cache);
        assert_eq!(config_for(&off).cache_max_bytes(), 0);
        let on =
            scenario(r#"{"name": "a", "topology": "t", "doc": "", "cache": true, "steps": []}"#);
        assert!(on.cache);
        assert_eq!(config_for(&on).cache_max_bytes(), 10 * 1024 * 1024);
        assert_eq!(CACHE_MAX_BYTES, 10 * 1024 * 1024);
    }
}
