//! Judging a scenario: Weir's output against Kafka Streams', record by record,
//! or against the divergence the scenario declares.

use std::fmt::Write as _;

use crate::kstreams::KsScenario;
use crate::scenario::{DivergenceKind, OutRecord, Outputs, Scenario, TopologySpec};

/// The outcome of one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every output record the same on both sides.
    Same,
    /// Weir differs exactly as the scenario declares.
    Declared(DivergenceKind),
    /// An undeclared difference, a declared one that changed shape or is
    /// gone, or a side that failed: the report says which.
    Failed(String),
}

/// Every output topic of `spec`, empty where `outputs` has none.
fn complete(spec: &TopologySpec, outputs: &Outputs) -> Outputs {
    spec.outputs
        .keys()
        .map(|t| (t.clone(), outputs.get(t).cloned().unwrap_or_default()))
        .collect()
}

fn list(records: &[OutRecord]) -> String {
    if records.is_empty() {
        return "      (nothing)\n".to_string();
    }
    records
        .iter()
        .enumerate()
        .map(|(i, r)| format!("      {i:>3}: {r}\n"))
        .collect()
}

/// Where `a` and `b` first differ: the index and each side's record there.
pub fn first_difference<'a>(
    a: &'a [OutRecord],
    b: &'a [OutRecord],
) -> Option<(usize, Option<&'a OutRecord>, Option<&'a OutRecord>)> {
    (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .map(|i| (i, a.get(i), b.get(i)))
}

fn show(r: Option<&OutRecord>) -> String {
    r.map_or_else(|| "(no record)".to_string(), ToString::to_string)
}

/// A report of how `weir` differs from `expected` (Kafka Streams' output, or
/// the declared Weir output) on `topic`.
fn describe(
    topic: &str,
    expected_label: &str,
    expected: &[OutRecord],
    weir: &[OutRecord],
) -> String {
    let mut s = String::new();
    if let Some((i, e, w)) = first_difference(expected, weir) {
        let _ = writeln!(s, "  topic '{topic}': first difference at record {i}:");
        let _ = writeln!(s, "    {expected_label}: {}", show(e));
        let _ = writeln!(s, "    weir: {}", show(w));
        let _ = writeln!(
            s,
            "    {expected_label}, all {}:\n{}",
            expected.len(),
            list(expected)
        );
        let _ = writeln!(s, "    weir, all {}:\n{}", weir.len(), list(weir));
    }
    s
}

fn steps(scenario: &Scenario) -> String {
    scenario
        .steps
        .iter()
        .map(|s| format!("      {}\n", serde_json::to_string(s).unwrap_or_default()))
        .collect()
}

fn header(scenario: &Scenario, what: &str) -> String {
    format!(
        "scenario '{}' (topology '{}'{}: {}): {what}\n    steps:\n{}",
        scenario.name,
        scenario.topology,
        if scenario.cache { ", cache on" } else { "" },
        scenario.doc,
        steps(scenario)
    )
}

/// Judges `scenario`: Kafka Streams' result `ks` (absent if the runner never
/// reported it) against Weir's `weir`.
pub fn judge(
    scenario: &Scenario,
    spec: &TopologySpec,
    ks: Option<&KsScenario>,
    weir: &Result<Outputs, String>,
) -> Verdict {
    let ks = match ks {
        None => {
            return Verdict::Failed(header(
                scenario,
                "the Kafka Streams runner did not report it",
            ))
        }
        Some(KsScenario { error: Some(e), .. }) => {
            return Verdict::Failed(header(scenario, &format!("Kafka Streams failed:\n{e}")))
        }
        Some(k) if !k.done => {
            return Verdict::Failed(header(
                scenario,
                "the Kafka Streams runner did not finish it",
            ))
        }
        Some(k) => complete(spec, &k.outputs),
    };
    let weir = match weir {
        Ok(w) => complete(spec, w),
        Err(e) => return Verdict::Failed(header(scenario, &format!("Weir failed: {e}"))),
    };
    let Some(divergence) = &scenario.divergence else {
        if ks == weir {
            return Verdict::Same;
        }
        let mut report = header(scenario, "Weir differs from Kafka Streams");
        for (topic, k) in &ks {
            report += &describe(topic, "kafka streams", k, &weir[topic]);
        }
        return Verdict::Failed(report);
    };
    if ks == weir {
        return Verdict::Failed(header(
            scenario,
            &format!(
                "declares a divergence ({}: {}) but Weir now matches Kafka Streams: remove the \
                 declaration here and in docs/compat.md",
                divergence.kind, divergence.reason
            ),
        ));
    }
    let mut report = String::new();
    for (topic, k) in &ks {
        let w = &weir[topic];
        match divergence.weir.get(topic) {
            Some(declared) if declared == k => {
                let _ = writeln!(
                    report,
                    "  topic '{topic}': the declared Weir output equals Kafka Streams' (a stale declaration)"
                );
            }
            Some(declared) => report += &describe(topic, "declared weir", declared, w),
            None => report += &describe(topic, "kafka streams", k, w),
        }
    }
    if report.is_empty() {
        Verdict::Declared(divergence.kind)
    } else {
        Verdict::Failed(
            header(
                scenario,
                &format!(
                    "the declared divergence ({}: {}) changed shape",
                    divergence.kind, divergence.reason
                ),
            ) + &report,
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scenario::{Divergence, TopicTypes};

    fn rec(key: &str, value: i64, ts: i64) -> OutRecord {
        OutRecord {
            key: json!(key),
            value: json!(value),
            timestamp: ts,
        }
    }

    fn spec() -> TopologySpec {
        let t = || TopicTypes {
            key: "string".into(),
            value: "long".into(),
        };
        TopologySpec {
            doc: String::new(),
            inputs: [("in".to_string(), t())].into(),
            outputs: [("out".to_string(), t()), ("other".to_string(), t())].into(),
        }
    }

    fn scenario(divergence: Option<Vec<OutRecord>>) -> Scenario {
        Scenario {
            name: "s".into(),
            topology: "t".into(),
            doc: String::new(),
            cache: false,
            steps: Vec::new(),
            divergence: divergence.map(|w| Divergence {
                kind: DivergenceKind::Bug,
                reason: "why".into(),
                weir: [("out".to_string(), w)].into(),
            }),
        }
    }

    fn ks(out: Vec<OutRecord>) -> KsScenario {
        KsScenario {
            outputs: [("out".to_string(), out)].into(),
            done: true,
            error: None,
        }
    }

    fn weir(out: Vec<OutRecord>) -> Result<Outputs, String> {
        Ok([("out".to_string(), out), ("other".to_string(), Vec::new())].into())
    }

    #[test]
    fn same_outputs_are_same_and_a_missing_topic_is_empty() {
        let v = judge(
            &scenario(None),
            &spec(),
            Some(&ks(vec![rec("a", 1, 5)])),
            &weir(vec![rec("a", 1, 5)]),
        );
        assert_eq!(v, Verdict::Same);
    }

    #[test]
    fn an_undeclared_difference_fails_naming_the_first_differing_record() {
        let v = judge(
            &scenario(None),
            &spec(),
            Some(&ks(vec![rec("a", 1, 5), rec("a", 2, 9)])),
            &weir(vec![rec("a", 1, 5), rec("a", 2, 7)]),
        );
        let Verdict::Failed(report) = v else {
            panic!("{v:?}")
        };
        assert!(report.contains("first difference at record 1"), "{report}");
        assert!(
            report.contains("(\"a\", 2) @9") && report.contains("(\"a\", 2) @7"),
            "{report}"
        );
    }

    #[test]
    fn a_declared_divergence_holds_only_while_weir_gives_exactly_the_declared_output() {
        let declared = scenario(Some(vec![rec("a", 1, 7)]));
        let k = ks(vec![rec("a", 1, 9)]);
        assert_eq!(
            judge(&declared, &spec(), Some(&k), &weir(vec![rec("a", 1, 7)])),
            Verdict::Declared(DivergenceKind::Bug)
        );
        // Changed shape.
        let v = judge(&declared, &spec(), Some(&k), &weir(vec![rec("a", 1, 8)]));
        assert!(
            matches!(&v, Verdict::Failed(r) if r.contains("changed shape")),
            "{v:?}"
        );
        // Fixed: Weir now matches Kafka Streams.
        let v = judge(&declared, &spec(), Some(&k), &weir(vec![rec("a", 1, 9)]));
        assert!(
            matches!(&v, Verdict::Failed(r) if r.contains("now matches Kafka Streams")),
            "{v:?}"
        );
    }

    #[test]
    fn a_failed_side_fails_the_scenario() {
        let failed = KsScenario {
            error: Some("boom".into()),
            ..KsScenario::default()
        };
        let v = judge(&scenario(None), &spec(), Some(&failed), &weir(vec![]));
        assert!(
            matches!(&v, Verdict::Failed(r) if r.contains("boom")),
            "{v:?}"
        );
        let v = judge(&scenario(None), &spec(), None, &weir(vec![]));
        assert!(
            matches!(&v, Verdict::Failed(r) if r.contains("did not report")),
            "{v:?}"
        );
        let v = judge(
            &scenario(None),
            &spec(),
            Some(&ks(vec![])),
            &Err("bad".into()),
        );
        assert!(
            matches!(&v, Verdict::Failed(r) if r.contains("Weir failed: bad")),
            "{v:?}"
        );
    }
}
