//! The Kafka Streams side: builds the Java runner (`testing/compat/java`)
//! once per machine with its `build` script (Maven and javac; output cached
//! under `$WEIR_CACHE/compat-java`), runs every scenario through Kafka
//! Streams' `TopologyTestDriver` in one JVM, and reads what it wrote.
//!
//! Java 17+ and Maven are required: without them this fails, saying what to
//! install. Nothing is skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::scenario::{OutRecord, Outputs};

/// What Kafka Streams did with one scenario.
#[derive(Debug, Clone, Default)]
pub struct KsScenario {
    /// Output records per topic, in order (topics with none are absent).
    pub outputs: Outputs,
    /// Whether the runner finished the scenario.
    pub done: bool,
    /// The exception the scenario raised, if it did.
    pub error: Option<String>,
}

/// Everything one run of the Java runner wrote.
#[derive(Debug, Clone, Default)]
pub struct KsRun {
    /// Each scenario's result, by name.
    pub scenarios: BTreeMap<String, KsScenario>,
    /// The hex bytes of each case of `bytes.json`, by name.
    pub bytes: BTreeMap<String, String>,
    /// The runner's standard error (Kafka Streams' warnings).
    pub stderr: String,
}

/// The directory of the Java project.
pub fn java_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("java")
}

/// Builds the runner if its sources changed (else reuses the cached build)
/// and returns the directory holding `lib/` and `weir-compat-kstreams.jar`.
pub fn build() -> Result<PathBuf, String> {
    let script = java_dir().join("build");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "building the Kafka Streams runner failed ({}):\n{stderr}",
            out.status
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dir = stdout.lines().last().ok_or_else(|| {
        format!(
            "{} printed no directory; stderr:\n{stderr}",
            script.display()
        )
    })?;
    Ok(PathBuf::from(dir.trim()))
}

fn java() -> String {
    match std::env::var("JAVA_HOME") {
        Ok(home) if Path::new(&home).join("bin/java").exists() => format!("{home}/bin/java"),
        _ => "java".to_string(),
    }
}

/// Runs every scenario of `dirs` through Kafka Streams (the first holds
/// `bytes.json`).
pub fn run(dirs: &[PathBuf]) -> Result<KsRun, String> {
    let built = build()?;
    let tmp = tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let out_file = tmp.path().join("kstreams.jsonl");
    let classpath = format!(
        "{}:{}",
        built.join("lib/*").display(),
        built.join("weir-compat-kstreams.jar").display()
    );
    let out = Command::new(java())
        .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
        // Two warnings every driver prints, about its configuration, not the scenario.
        .arg("-Dorg.slf4j.simpleLogger.log.org.apache.kafka.streams.StreamsConfig=error")
        .arg("-Dorg.slf4j.simpleLogger.log.org.apache.kafka.streams.processor.internals.StateDirectory=error")
        .arg(format!("-Djava.io.tmpdir={}", tmp.path().display()))
        .arg("-cp")
        .arg(&classpath)
        .arg("weir.compat.Runner")
        .arg(dirs.first().ok_or("no scenario directory")?)
        .arg(&out_file)
        .args(dirs.iter().skip(1))
        .output()
        .map_err(|e| {
            format!("cannot run java ({e}): the compatibility suite needs a Java 17+ runtime (Debian: apt-get install openjdk-17-jdk-headless)")
        })?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(format!(
            "the Kafka Streams runner failed ({}):\n{stderr}",
            out.status
        ));
    }
    let text = std::fs::read_to_string(&out_file)
        .map_err(|e| format!("cannot read {}: {e}", out_file.display()))?;
    let mut run = parse(&text)?;
    run.stderr = stderr;
    Ok(run)
}

/// The run shared by every test of this process: the JVM starts once.
pub fn shared_run() -> &'static Result<KsRun, String> {
    static RUN: OnceLock<Result<KsRun, String>> = OnceLock::new();
    RUN.get_or_init(|| run(&crate::scenario_dirs()))
}

fn field<'a>(line: &'a Value, name: &str) -> Result<&'a Value, String> {
    line.get(name)
        .ok_or_else(|| format!("runner line without '{name}': {line}"))
}

fn string_field(line: &Value, name: &str) -> Result<String, String> {
    field(line, name)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("runner line with a non-string '{name}': {line}"))
}

/// Parses the runner's JSON lines.
pub fn parse(text: &str) -> Result<KsRun, String> {
    let mut run = KsRun::default();
    for raw in text.lines().filter(|l| !l.trim().is_empty()) {
        let line: Value =
            serde_json::from_str(raw).map_err(|e| format!("bad runner line {raw}: {e}"))?;
        if line.get("bytes").is_some() {
            run.bytes
                .insert(string_field(&line, "bytes")?, string_field(&line, "hex")?);
            continue;
        }
        let scenario = run
            .scenarios
            .entry(string_field(&line, "scenario")?)
            .or_default();
        if line.get("done").is_some() {
            scenario.done = true;
        } else if line.get("error").is_some() {
            scenario.error = Some(string_field(&line, "error")?);
        } else {
            let record = OutRecord {
                key: field(&line, "key")?.clone(),
                value: field(&line, "value")?.clone(),
                timestamp: field(&line, "timestamp")?
                    .as_i64()
                    .ok_or_else(|| format!("runner line with a bad timestamp: {line}"))?,
            };
            scenario
                .outputs
                .entry(string_field(&line, "topic")?)
                .or_default()
                .push(record);
        }
    }
    Ok(run)
}
