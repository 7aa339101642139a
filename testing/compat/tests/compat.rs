//! The compatibility suite: every scenario through Kafka Streams and through
//! Weir, compared record by record (see the crate docs and docs/compat.md).
//! Needs Java 17+ and Maven (the first run fetches Kafka Streams); fails, never
//! skips, without them.

use std::collections::BTreeMap;

use weir_compat::compare::{judge, Verdict};
use weir_compat::kstreams::{shared_run, KsRun};
use weir_compat::scenario::{DivergenceKind, Suite};
use weir_compat::{scenario_dirs, scenarios_dir, weir_side};

fn kafka_streams() -> &'static KsRun {
    match shared_run() {
        Ok(run) => run,
        Err(e) => panic!("the Kafka Streams side of the compatibility suite could not run:\n{e}"),
    }
}

#[test]
fn every_scenario_matches_kafka_streams_or_its_declared_divergence() {
    let suite = Suite::load(&scenario_dirs()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !suite.scenarios.is_empty(),
        "no scenarios in {:?}",
        suite.dirs
    );
    let ks = kafka_streams();
    let unknown: Vec<&String> = ks
        .scenarios
        .keys()
        .filter(|n| !suite.scenarios.iter().any(|s| &s.name == *n))
        .collect();
    assert!(
        unknown.is_empty(),
        "the runner reported scenarios the suite does not have: {unknown:?}"
    );

    let mut dump = serde_json::Map::new();
    let mut failures = Vec::new();
    let mut same = 0;
    let mut declared: BTreeMap<DivergenceKind, Vec<&str>> = BTreeMap::new();
    for scenario in &suite.scenarios {
        let spec = suite.spec(scenario).unwrap_or_else(|e| panic!("{e}"));
        let weir = weir_side::run(spec, scenario);
        let ks_outputs = ks.scenarios.get(&scenario.name).map(|k| &k.outputs);
        dump.insert(
            scenario.name.clone(),
            serde_json::json!({"weir": weir.as_ref().ok(), "kafka_streams": ks_outputs}),
        );
        match judge(scenario, spec, ks.scenarios.get(&scenario.name), &weir) {
            Verdict::Same => {
                same += 1;
                println!("same        {}", scenario.name);
            }
            Verdict::Declared(kind) => {
                println!("{kind:<11} {}", scenario.name);
                declared.entry(kind).or_default().push(&scenario.name);
            }
            Verdict::Failed(report) => {
                println!("DIFFERENT   {}", scenario.name);
                failures.push(report);
            }
        }
    }
    // WEIR_COMPAT_DUMP=FILE writes both sides' outputs as JSON (scenario ->
    // {weir, kafka_streams} -> topic -> records): a divergence's "weir"
    // field is copied from it.
    if let Ok(path) = std::env::var("WEIR_COMPAT_DUMP") {
        let text = serde_json::to_string_pretty(&dump).unwrap_or_default();
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
    }
    let documented: usize = declared.values().map(Vec::len).sum();
    let bugs = declared.get(&DivergenceKind::Bug).map_or(0, Vec::len);
    let summary = format!(
        "compat: {} scenarios, {same} same, {documented} documented divergences ({} deliberate, {bugs} known Weir bugs), {} failed",
        suite.scenarios.len(),
        documented - bugs,
        failures.len()
    );
    println!("{summary}");
    for (kind, names) in &declared {
        println!("  {kind}: {}", names.join(", "));
    }
    if !failures.is_empty() {
        panic!(
            "{summary}\n\n{}\nKafka Streams' stderr:\n{}",
            failures.join("\n"),
            ks.stderr
        );
    }
}

#[test]
fn windowed_key_bytes_match_kafka_streams() {
    use weir_core::window::{Window, Windowed};
    use weir_core::{Headers, SerdeContext, Serdes, SerializeContext};

    #[derive(serde::Deserialize)]
    struct Case {
        name: String,
        kind: String,
        key: String,
        start: i64,
        end: i64,
    }
    #[derive(serde::Deserialize)]
    struct Cases {
        #[allow(dead_code)]
        doc: String,
        cases: Vec<Case>,
    }
    let path = scenarios_dir().join("bytes.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: Cases =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!cases.cases.is_empty());
    let ks = kafka_streams();
    for case in &cases.cases {
        let serde = match case.kind.as_str() {
            "time" => Serdes::time_windowed(Serdes::string(), case.end - case.start),
            "session" => Serdes::session_windowed(Serdes::string()),
            other => panic!("case '{}': unknown kind '{other}'", case.name),
        };
        let windowed = Windowed::new(case.key.clone(), Window::new(case.start, case.end));
        let mut headers = Headers::new();
        let bytes = serde
            .serialize(&mut SerializeContext::key("t", &mut headers), &windowed)
            .unwrap_or_else(|e| panic!("case '{}': {e}", case.name))
            .unwrap_or_else(|| panic!("case '{}': Weir wrote a null", case.name));
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let java = ks
            .bytes
            .get(&case.name)
            .unwrap_or_else(|| panic!("case '{}': the Java runner wrote no bytes", case.name));
        assert_eq!(
            &hex, java,
            "case '{}': Weir's bytes (left) differ from Kafka Streams' (right)",
            case.name
        );
        let back = serde
            .deserialize(&SerdeContext::key("t", &headers), Some(&bytes))
            .unwrap_or_else(|e| panic!("case '{}': {e}", case.name));
        assert_eq!(back, Some(windowed), "case '{}': read back", case.name);
    }
    assert_eq!(
        ks.bytes.len(),
        cases.cases.len(),
        "the runner wrote bytes for other cases"
    );
}
