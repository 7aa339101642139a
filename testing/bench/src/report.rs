//! The side-by-side results: the table, the `RESULT` lines, and the section
//! of docs/benchmarks.md they are written to.

use std::fmt::Write as _;
use std::path::Path;

use crate::compare::{Figures, Outcome, Results, Variant, Who, Workload};
use crate::BenchResult;

/// What the report says about the run besides its figures.
pub(crate) struct RunInfo {
    /// `quick` or `full`.
    pub mode: &'static str,
    /// The workloads run, when not all of them (`count,restore`, ...): the
    /// run gets a section of its own.
    pub only: Option<String>,
    pub date: String,
    pub machine: String,
    pub versions: Vec<String>,
    pub settings: Vec<String>,
}

fn cell_text(o: Option<&Outcome>) -> Option<String> {
    match o {
        Some(Outcome::Measured(_)) => None,
        Some(Outcome::NotAvailable(e)) => Some(format!("not available: {e}")),
        Some(Outcome::Failed(e)) => Some(format!("FAILED: {e}")),
        Some(Outcome::Skipped(e)) => Some(format!("skipped: {e}")),
        None => Some("not run".to_string()),
    }
}

/// The figures of a measured cell.
pub(crate) fn figures(results: &Results, key: (Workload, Variant, Who)) -> Option<&Figures> {
    match results.get(&key) {
        Some(Outcome::Measured(f)) => Some(f),
        _ => None,
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a.is_finite() && b.is_finite() && b > 0.0 => format!("{:.2}", a / b),
        _ => "n/a".to_string(),
    }
}

/// The variants and workloads present in `results`, in order.
fn rows(results: &Results) -> Vec<(Workload, Variant)> {
    let mut v: Vec<(Workload, Variant)> = results.keys().map(|(w, v, _)| (*w, *v)).collect();
    v.dedup();
    v
}

/// Markdown tables of every cell (one for the streaming workloads, one for
/// the restores).
pub(crate) fn tables(results: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| workload | guarantee | contender | records/s | CPU-s / M records | peak RSS MiB | p50 ms | p99 ms | cold start s |"
    );
    let _ = writeln!(s, "|---|---|---|---:|---:|---:|---:|---:|---:|");
    for (w, v) in rows(results) {
        if w == Workload::Restore {
            continue;
        }
        for who in Who::ALL {
            let key = (w, v, who);
            let head = format!("| {} | {} | {} |", w.name(), v.tag, who.name());
            if let Some(text) = cell_text(results.get(&key)) {
                let _ = writeln!(s, "{head} {} | | | | | |", text.replace('|', "/"));
                continue;
            }
            let none = Figures::default();
            let f = figures(results, key).unwrap_or(&none);
            let (rps, cpu, rss) = f.run.map_or(("-".into(), "-".into(), "-".into()), |r| {
                (
                    format!("{:.0}", r.records_per_s),
                    format!("{:.2}", r.cpu_s_per_million),
                    format!("{:.1}", r.peak_rss_mib),
                )
            });
            let failed = f.latency_failures.len();
            let (p50, p99, cold) = match f.latency {
                // Figures of the latency runs that completed, marked when
                // others failed (listed under the table).
                Some(l) => (
                    match failed {
                        0 => format!("{:.1}", l.p50_ms),
                        n => format!("{:.1} ({n} failed)", l.p50_ms),
                    },
                    format!("{:.1}", l.p99_ms),
                    format!("{:.2}", l.cold_start_s),
                ),
                None if failed > 0 => ("FAILED".into(), "FAILED".into(), "FAILED".into()),
                None => ("-".into(), "-".into(), "-".into()),
            };
            let _ = writeln!(s, "{head} {rps} | {cpu} | {rss} | {p50} | {p99} | {cold} |");
        }
    }
    let failures = latency_failures(results);
    if !failures.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Latency runs that failed (their rounds' throughput runs are in the table):"
        );
        for f in failures {
            let _ = writeln!(s, "- {f}");
        }
    }
    if rows(results).iter().any(|(w, _)| *w == Workload::Restore) {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "| restore | guarantee | contender | restored records | restore s | records/s | process start to restored, s | CPU s | peak RSS MiB |"
        );
        let _ = writeln!(s, "|---|---|---|---:|---:|---:|---:|---:|---:|");
        for (w, v) in rows(results) {
            if w != Workload::Restore {
                continue;
            }
            for who in [Who::Weir, Who::KStreams] {
                let key = (w, v, who);
                let head = format!("| restore | {} | {} |", v.tag, who.name());
                if let Some(text) = cell_text(results.get(&key)) {
                    let _ = writeln!(s, "{head} {} | | | | | |", text.replace('|', "/"));
                    continue;
                }
                if let Some(r) = figures(results, key).and_then(|f| f.restore) {
                    let _ = writeln!(
                        s,
                        "{head} {} | {:.3} | {:.0} | {:.2} | {:.2} | {:.1} |",
                        r.restored, r.restore_s, r.records_per_s, r.wall_s, r.cpu_s, r.peak_rss_mib
                    );
                }
            }
        }
    }
    s
}

/// Every failed latency run of a measured cell, as `<workload> <guarantee>
/// <contender> #<round>: <error>`.
pub(crate) fn latency_failures(results: &Results) -> Vec<String> {
    results
        .iter()
        .filter_map(|((w, v, who), o)| match o {
            Outcome::Measured(f) => Some(
                f.latency_failures
                    .iter()
                    .map(move |e| format!("{} {} {} {e}", w.name(), v.tag, who.name())),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The `RESULT <workload> <guarantee> ...` lines.
pub(crate) fn result_lines(results: &Results) -> Vec<String> {
    let mut out = Vec::new();
    for (w, v) in rows(results) {
        let weir = figures(results, (w, v, Who::Weir));
        let ks = figures(results, (w, v, Who::KStreams));
        let ceiling = figures(results, (w, v, Who::Ceiling));
        let line = if w == Workload::Restore {
            let wr = weir.and_then(|f| f.restore);
            let kr = ks.and_then(|f| f.restore);
            let cpu_per_m = |r: crate::compare::RestoreFigures| r.cpu_s * 1e6 / r.restored as f64;
            format!(
                "RESULT restore {} weir_vs_kstreams_rps={} weir_vs_kstreams_cpu={} weir_vs_kstreams_rss={} weir_vs_ceiling=n/a weir_vs_kstreams_wall={}",
                v.tag,
                ratio(wr.map(|r| r.records_per_s), kr.map(|r| r.records_per_s)),
                ratio(kr.map(cpu_per_m), wr.map(cpu_per_m)),
                ratio(wr.map(|r| r.peak_rss_mib), kr.map(|r| r.peak_rss_mib)),
                ratio(wr.map(|r| r.wall_s), kr.map(|r| r.wall_s)),
            )
        } else {
            let run = |f: Option<&Figures>| f.and_then(|f| f.run);
            let lat = |f: Option<&Figures>| f.and_then(|f| f.latency);
            let (wr, kr, cr) = (run(weir), run(ks), run(ceiling));
            format!(
                "RESULT {} {} weir_vs_kstreams_rps={} weir_vs_kstreams_cpu={} weir_vs_kstreams_rss={} weir_vs_ceiling={} weir_vs_kstreams_p99={} weir_vs_kstreams_cold={}",
                w.name(),
                v.tag,
                ratio(wr.map(|r| r.records_per_s), kr.map(|r| r.records_per_s)),
                ratio(kr.map(|r| r.cpu_s_per_million), wr.map(|r| r.cpu_s_per_million)),
                ratio(wr.map(|r| r.peak_rss_mib), kr.map(|r| r.peak_rss_mib)),
                ratio(wr.map(|r| r.records_per_s), cr.map(|r| r.records_per_s)),
                ratio(lat(weir).map(|l| l.p99_ms), lat(ks).map(|l| l.p99_ms)),
                ratio(lat(weir).map(|l| l.cold_start_s), lat(ks).map(|l| l.cold_start_s)),
            )
        };
        out.push(line);
    }
    out
}

/// The section of docs/benchmarks.md for `info.mode`.
pub(crate) fn section(info: &RunInfo, results: &Results) -> String {
    let mut s = String::new();
    match &info.only {
        Some(w) => {
            let _ = writeln!(s, "### Latest {} run of {w}: {}", info.mode, info.date);
        }
        None => {
            let _ = writeln!(s, "### Latest {} run: {}", info.mode, info.date);
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "- machine: {}", info.machine);
    for v in &info.versions {
        let _ = writeln!(s, "- {v}");
    }
    for v in &info.settings {
        let _ = writeln!(s, "- {v}");
    }
    let _ = writeln!(s);
    s.push_str(&tables(results));
    let _ = writeln!(s);
    let _ = writeln!(s, "```text");
    for l in result_lines(results) {
        let _ = writeln!(s, "{l}");
    }
    let _ = writeln!(s, "```");
    s
}

/// Replaces the section of `info.mode` in the markdown file at `path`
/// (between `<!-- weir-bench:<mode>:begin -->` and `...:end -->`; for a run
/// of some workloads only, `<mode>:<workloads>`), appending it when the file
/// has none.
pub(crate) fn write_section(path: &Path, info: &RunInfo, results: &Results) -> BenchResult<()> {
    let id = match &info.only {
        Some(w) => format!("{}:{w}", info.mode),
        None => info.mode.to_string(),
    };
    let begin = format!("<!-- weir-bench:{id}:begin -->");
    let end = format!("<!-- weir-bench:{id}:end -->");
    let body = format!("{begin}\n{}{end}", section(info, results));
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".to_string());
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(b), Some(e)) if e > b => {
            format!("{}{body}{}", &old[..b], &old[e + end.len()..])
        }
        _ => format!("{}\n{body}\n", old.trim_end()),
    };
    std::fs::write(path, new).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::LatencyFigures;
    use crate::measure::RunFigures;

    fn run(cpu: f64) -> RunFigures {
        RunFigures {
            wall_s: 10.0,
            records_per_s: 1e5,
            cpu_s_per_million: cpu,
            peak_rss_mib: 50.0,
        }
    }

    #[test]
    fn a_failed_latency_run_keeps_the_throughput_figures_and_is_listed() {
        let v = Variant::ALL[0];
        let w = Workload::StreamStreamJoin;
        let lat = LatencyFigures {
            cold_start_s: 0.5,
            p50_ms: 12.0,
            p99_ms: 30.0,
            samples: 100,
        };
        let mut results = Results::new();
        results.insert(
            (w, v, Who::Weir),
            Outcome::Measured(Figures {
                run: Some(run(7.5)),
                latency: Some(lat),
                latency_failures: vec!["#2: lost".to_string()],
                restore: None,
            }),
        );
        results.insert(
            (w, v, Who::KStreams),
            Outcome::Measured(Figures {
                run: Some(run(30.0)),
                latency: None,
                latency_failures: vec!["#1: lost".to_string()],
                restore: None,
            }),
        );
        let table = tables(&results);
        assert!(
            table.contains("| weir | 100000 | 7.50 | 50.0 | 12.0 (1 failed) | 30.0 | 0.50 |"),
            "{table}"
        );
        assert!(
            table.contains("| kstreams | 100000 | 30.00 | 50.0 | FAILED | FAILED | FAILED |"),
            "{table}"
        );
        assert_eq!(
            latency_failures(&results),
            vec![
                "stream-stream-join alos weir #2: lost".to_string(),
                "stream-stream-join alos kstreams #1: lost".to_string(),
            ]
        );
        assert!(table.contains("- stream-stream-join alos kstreams #1: lost"));
        // The CPU ratio comes from the throughput runs, whatever the
        // latency runs did.
        let lines = result_lines(&results);
        assert!(lines[0].contains("weir_vs_kstreams_cpu=4.00"), "{lines:?}");
        assert!(lines[0].contains("weir_vs_kstreams_p99=n/a"), "{lines:?}");
    }
}
