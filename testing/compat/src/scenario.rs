//! The scenario files: what a scenario pipes in, which topology it runs, and
//! the divergence from Kafka Streams it declares, if any.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// The key and value types of one topic, as named in `topologies.json`
/// (see [`TopicType`](crate::types::TopicType)).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicTypes {
    /// The key's type.
    pub key: String,
    /// The value's type.
    pub value: String,
}

/// A topology's topics: the ones scenarios pipe into and the ones read back.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologySpec {
    /// What the topology does, in a line.
    pub doc: String,
    /// Input topics and their types.
    pub inputs: BTreeMap<String, TopicTypes>,
    /// Output topics (read after the last step) and their types.
    pub outputs: BTreeMap<String, TopicTypes>,
}

/// One step of a scenario.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Step {
    /// Pipe one record into an input topic; `null` (or a missing field) is a
    /// null key or value.
    Record {
        /// The input topic.
        topic: String,
        /// The key, as JSON of the topic's key type.
        #[serde(default)]
        key: Value,
        /// The value, as JSON of the topic's value type.
        #[serde(default)]
        value: Value,
        /// The record's timestamp (ms).
        timestamp: i64,
    },
    /// Move the drivers' wall clock forward by this many milliseconds.
    AdvanceWallClock {
        /// How far, in ms.
        advance_wall_clock: u64,
    },
}

/// One output record as both sides compare it: key and value as JSON (`null`
/// for a missing key or a tombstone, `{key, start, end}` for a windowed key).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutRecord {
    /// The key.
    pub key: Value,
    /// The value.
    pub value: Value,
    /// The timestamp (ms).
    pub timestamp: i64,
}

impl fmt::Display for OutRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {}) @{}", self.key, self.value, self.timestamp)
    }
}

/// What each output topic received, in order. Every output topic of the
/// topology is present (empty if it received nothing).
pub type Outputs = BTreeMap<String, Vec<OutRecord>>;

/// Why Weir deliberately or knowingly differs from Kafka Streams in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DivergenceKind {
    /// Weir is right and stays so; documented in docs/compat.md.
    Deliberate,
    /// A known Weir bug, to be fixed; once fixed, the declaration goes.
    Bug,
}

impl fmt::Display for DivergenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DivergenceKind::Deliberate => "deliberate",
            DivergenceKind::Bug => "known bug",
        })
    }
}

/// A declared difference, checked exactly: `weir` gives Weir's whole output
/// for each topic that differs; every other topic must match Kafka Streams.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Divergence {
    /// Deliberate, or a known bug.
    pub kind: DivergenceKind,
    /// Why, in a sentence (mirrored in docs/compat.md).
    pub reason: String,
    /// Weir's expected output of each differing topic.
    pub weir: Outputs,
}

/// One scenario: a topology, the steps to play, and a declared divergence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique name across the suite.
    pub name: String,
    /// The topology id (in `topologies.json` and both registries).
    pub topology: String,
    /// What it shows, in a line.
    pub doc: String,
    /// Whether both sides run with a record cache of [`CACHE_MAX_BYTES`]
    /// (`statestore.cache.max.bytes`; default off: every update is shown).
    /// Both drivers commit after each record piped, so a cache folds
    /// nothing between steps but changes what caching stores forward (no
    /// old values for a key not yet flushed, no forward of an unchanged
    /// value, ...), as Kafka Streams' tests that run "with caching" check.
    #[serde(default)]
    pub cache: bool,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// How Weir differs from Kafka Streams here, if it does.
    #[serde(default)]
    pub divergence: Option<Divergence>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    #[allow(dead_code)]
    doc: String,
    scenarios: Vec<Scenario>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopologiesFile {
    topologies: BTreeMap<String, TopologySpec>,
}

/// Every scenario file of a directory, with the topologies they run.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The directories read.
    pub dirs: Vec<PathBuf>,
    /// Each topology's topics, by id.
    pub topologies: BTreeMap<String, TopologySpec>,
    /// Every scenario, file by file (files in name order).
    pub scenarios: Vec<Scenario>,
}

/// The record cache both sides get in a scenario with `"cache": true`
/// (10 MiB, Kafka Streams' default `statestore.cache.max.bytes`).
pub const CACHE_MAX_BYTES: usize = 10 * 1024 * 1024;

/// The files of the scenario directory that hold no scenarios.
pub const NOT_SCENARIO_FILES: [&str; 2] = ["topologies.json", "bytes.json"];

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

impl Suite {
    /// Reads `dirs`: in each, `topologies.json` (if there) and every other
    /// `*.json` but `bytes.json` as a scenario file. Fails on a file that
    /// does not parse, a topology declared twice, a scenario name used twice,
    /// a topology not declared, or a step piping into a topic that is not one
    /// of its topology's inputs.
    pub fn load(dirs: &[PathBuf]) -> Result<Suite, String> {
        let mut topologies = BTreeMap::new();
        let mut scenarios = Vec::new();
        for dir in dirs {
            let declared = dir.join("topologies.json");
            if declared.exists() {
                for (id, spec) in read_json::<TopologiesFile>(&declared)?.topologies {
                    if topologies.insert(id.clone(), spec).is_some() {
                        return Err(format!("topology '{id}' is declared twice"));
                    }
                }
            }
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .filter(|p| {
                    !p.file_name()
                        .is_some_and(|n| NOT_SCENARIO_FILES.iter().any(|x| n == *x))
                })
                .collect();
            files.sort();
            for file in &files {
                scenarios.extend(read_json::<ScenarioFile>(file)?.scenarios);
            }
        }
        let suite = Suite {
            dirs: dirs.to_vec(),
            topologies,
            scenarios,
        };
        suite.validate()?;
        Ok(suite)
    }

    fn validate(&self) -> Result<(), String> {
        let mut names = std::collections::BTreeSet::new();
        for s in &self.scenarios {
            if !names.insert(s.name.as_str()) {
                return Err(format!("scenario name '{}' is used twice", s.name));
            }
            let spec = self.spec(s)?;
            for step in &s.steps {
                if let Step::Record { topic, .. } = step {
                    if !spec.inputs.contains_key(topic) {
                        return Err(format!(
                            "scenario '{}' pipes into '{topic}', not an input of '{}'",
                            s.name, s.topology
                        ));
                    }
                }
            }
            if let Some(d) = &s.divergence {
                if let Some(t) = d.weir.keys().find(|t| !spec.outputs.contains_key(*t)) {
                    return Err(format!(
                        "scenario '{}' declares a divergence on '{t}', not an output of '{}'",
                        s.name, s.topology
                    ));
                }
            }
        }
        Ok(())
    }

    /// The topics of `scenario`'s topology.
    pub fn spec(&self, scenario: &Scenario) -> Result<&TopologySpec, String> {
        self.topologies.get(&scenario.topology).ok_or_else(|| {
            format!(
                "scenario '{}' runs topology '{}', which topologies.json does not declare",
                scenario.name, scenario.topology
            )
        })
    }
}
