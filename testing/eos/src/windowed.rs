//! The windowed counts' check: what the two windowed counts of the EOS test
//! application (see [`crate::topology`]) must have committed, recomputed
//! from the committed input.
//!
//! Both count the input per key in tumbling windows of
//! [`WindowSpec::size_ms`] of event time (the input records' timestamps, as
//! Kafka's Java consumer read them), window start `ts - ts mod size`. The
//! generator keeps every record within [`crate::topology::JITTER_MS`] of the
//! newest timestamp before it in its partition, below both graces, so no
//! input record is late and the recomputation is simply: for each (key,
//! window), `N` = the number of the key's input records in the window, and
//! the window's newest timestamp after its first `c` records (input order).
//! An input record that would be late under the on-close grace breaks that
//! contract: an *input problem*, failing the run.
//!
//! **Every update** (`eos-wcount`, no cache: each record forwards its
//! window's new count). Under **exactly-once** the committed updates of a
//! (key, window), in offset order, must be exactly `1, 2, .., N`, the `c`-th
//! stamped with the newest timestamp among the window's first `c` records:
//! a value of `1..=N` missing is *lost*; a value emitted again, or above `N`
//! (a record counted twice), is *duplicated*; a value below 1 or below one
//! already emitted (reordered), stamped wrongly, unparsable, for a window
//! the input does not have, or a window written to two partitions is
//! *wrong*; a last update other than `N` is *final_wrong*. Under **at-least-once** (replays count
//! records again): each (key, window)'s last update must be `>= N` (else, or
//! with no update at all, the window counts one *lost*); a value repeated or
//! above `N` is *duplicated* (allowed); unparsable values, values below 1,
//! timestamps outside the window, unknown windows and a second partition are
//! *wrong*.
//!
//! **On window close** (`eos-wfinal`): a window closes once the stream time
//! of its task (the newest timestamp of its input partition, at the end)
//! reaches its end plus [`WindowSpec::close_grace_ms`]. Each closed window
//! must be emitted once with count `N`, stamped with its newest timestamp; a
//! window not closed must not be emitted at all. An emission below `N` is
//! *lost* (a record not counted), above `N` or repeated *duplicated*, one for
//! a window not closed or not in the input, or stamped wrongly (exactly-once
//! only) *wrong*; a closed window never emitted is *unemitted*. Exactly-once
//! passes with all of them 0. At-least-once passes with lost, wrong and
//! unemitted 0: the node keeps up to where it emitted with the committed
//! offsets (processor metadata, as Kafka Streams' emit-final does), so an
//! emission lost in a crash comes again when the records after the last
//! commit are processed again, even though the restored changelog is ahead
//! of them.

use std::collections::{BTreeMap, HashMap};

use crate::check::{Counts, Guarantee};
use crate::dump::DumpRecord;
use crate::format::key_index;

/// How many problem descriptions a report keeps.
const MAX_SAMPLES: usize = 20;

/// The windows both counts use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// Tumbling window size, in ms.
    pub size_ms: i64,
    /// The grace of the on-window-close count, in ms (the every-update count
    /// has a larger one; records are never later than this).
    pub close_grace_ms: i64,
}

/// What the windowed check found.
#[derive(Debug, Clone)]
pub struct WindowedReport {
    /// The guarantee checked against.
    pub guarantee: Guarantee,
    /// (key, window) pairs holding input records.
    pub windows: usize,
    /// Of them, those closed by the end of the input (to be emitted on close).
    pub closed: usize,
    /// The every-update count.
    pub count: Counts,
    /// Exactly-once: windows whose last update is not `N`.
    pub final_wrong: u64,
    /// The on-window-close count (lost: emitted below `N`).
    pub on_close: Counts,
    /// Closed windows the on-window-close count never emitted.
    pub unemitted: u64,
    /// Input records breaking the lateness bound, or unusable timestamps.
    pub input_problems: u64,
    /// The first problems found, described.
    pub samples: Vec<String>,
}

impl WindowedReport {
    /// Whether both windowed counts meet the guarantee.
    pub fn passed(&self) -> bool {
        let base = self.windows > 0
            && self.input_problems == 0
            && self.count.lost == 0
            && self.count.wrong == 0
            && self.final_wrong == 0
            && self.on_close.lost == 0
            && self.on_close.wrong == 0
            && self.unemitted == 0;
        match self.guarantee {
            Guarantee::AtLeastOnce => base,
            Guarantee::ExactlyOnceV2 => {
                base && self.count.duplicated == 0 && self.on_close.duplicated == 0
            }
        }
    }

    /// The `RESULT windowed ...` line.
    pub fn result_line(&self) -> String {
        format!(
            "RESULT windowed windows={} closed={} lost={} duplicated={} wrong={} final_wrong={} \
             close_lost={} close_duplicated={} close_wrong={} unemitted={} input_problems={} \
             guarantee={} passed={}",
            self.windows,
            self.closed,
            self.count.lost,
            self.count.duplicated,
            self.count.wrong,
            self.final_wrong,
            self.on_close.lost,
            self.on_close.duplicated,
            self.on_close.wrong,
            self.unemitted,
            self.input_problems,
            self.guarantee,
            self.passed()
        )
    }

    fn sample(&mut self, problem: impl FnOnce() -> String) {
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(format!("windowed: {}", problem()));
        }
    }

    /// Samples a duplicate: a problem only under exactly-once.
    fn sample_duplicate(&mut self, problem: impl FnOnce() -> String) {
        if self.guarantee == Guarantee::ExactlyOnceV2 {
            self.sample(problem);
        }
    }
}

/// A (key number, window start).
type WindowKey = (u32, i64);

/// One (key, window) of the input.
struct WindowTruth {
    /// The input partition of the key.
    partition: i32,
    /// After the window's first `c + 1` records: the newest timestamp.
    newest: Vec<i64>,
}

/// What the input gives: every (key, window), and each partition's final stream time.
struct Truth {
    windows: BTreeMap<WindowKey, WindowTruth>,
    stream_time: HashMap<i32, i64>,
}

fn sorted(records: &[DumpRecord]) -> Vec<&DumpRecord> {
    let mut v: Vec<&DumpRecord> = records.iter().collect();
    v.sort_by_key(|r| (r.partition, r.offset));
    v
}

fn read_truth(input: &[DumpRecord], spec: WindowSpec, report: &mut WindowedReport) -> Truth {
    let mut truth = Truth {
        windows: BTreeMap::new(),
        stream_time: HashMap::new(),
    };
    for r in sorted(input) {
        // Unparsable keys are the main check's input problems already.
        let Some(k) = r.key.as_deref().and_then(key_index) else {
            continue;
        };
        let ts = r.timestamp;
        let stream_time = truth.stream_time.entry(r.partition).or_insert(i64::MIN);
        if ts < 0 || ts < stream_time.saturating_sub(spec.close_grace_ms) {
            report.input_problems += 1;
            let st = *stream_time;
            report.sample(|| {
                format!(
                    "input p{} @{}: timestamp {ts} is late (stream time {st}, grace {})",
                    r.partition, r.offset, spec.close_grace_ms
                )
            });
            continue;
        }
        *stream_time = (*stream_time).max(ts);
        let start = ts - ts.rem_euclid(spec.size_ms);
        let w = truth.windows.entry((k, start)).or_insert(WindowTruth {
            partition: r.partition,
            newest: Vec::new(),
        });
        let newest = w.newest.last().map_or(ts, |n| (*n).max(ts));
        w.newest.push(newest);
    }
    report.windows = truth.windows.len();
    truth
}

/// Parses a windowed output record: ((key number, window start), count).
fn parse(r: &DumpRecord) -> Option<(WindowKey, Option<i64>)> {
    let (key, start) = r.key.as_deref()?.rsplit_once('@')?;
    let count = r.value.as_deref().and_then(|v| v.parse::<i64>().ok());
    Some(((key_index(key)?, start.parse().ok()?), count))
}

/// Groups `records` by (key, window) in offset order; records that do not
/// parse or whose window is also written to another partition are wrong.
fn by_window<'a>(
    records: &'a [DumpRecord],
    what: &str,
    counts: &mut Counts,
    report: &mut WindowedReport,
) -> BTreeMap<WindowKey, Vec<(&'a DumpRecord, Option<i64>)>> {
    let mut out: BTreeMap<WindowKey, Vec<(&DumpRecord, Option<i64>)>> = BTreeMap::new();
    let mut home: HashMap<WindowKey, i32> = HashMap::new();
    for r in sorted(records) {
        let Some((w, count)) = parse(r) else {
            counts.wrong += 1;
            report.sample(|| {
                format!(
                    "{what} p{} @{}: key {:?} is no windowed key",
                    r.partition, r.offset, r.key
                )
            });
            continue;
        };
        if *home.entry(w).or_insert(r.partition) != r.partition {
            counts.wrong += 1;
            report.sample(|| {
                format!(
                    "{what} p{} @{}: window {w:?} also written to another partition",
                    r.partition, r.offset
                )
            });
            continue;
        }
        out.entry(w).or_default().push((r, count));
    }
    out
}

fn check_count(
    truth: &Truth,
    records: &[DumpRecord],
    spec: WindowSpec,
    report: &mut WindowedReport,
) {
    let mut counts = Counts::default();
    let updates = by_window(records, "wcount", &mut counts, report);
    let eos = report.guarantee == Guarantee::ExactlyOnceV2;
    for (w, list) in &updates {
        let Some(t) = truth.windows.get(w) else {
            counts.wrong += list.len() as u64;
            report.sample(|| format!("wcount window {w:?}: not in the input"));
            continue;
        };
        let n = t.newest.len();
        let mut covered = vec![false; n];
        let mut high = 0usize;
        for (r, count) in list {
            let at = || format!("wcount p{} @{} window {w:?}", r.partition, r.offset);
            let c = count
                .and_then(|c| usize::try_from(c).ok())
                .filter(|c| *c >= 1);
            let Some(c) = c else {
                counts.wrong += 1;
                report.sample(|| format!("{}: count {:?} (input has {n})", at(), r.value));
                continue;
            };
            let in_window = r.timestamp >= w.1 && r.timestamp < w.1 + spec.size_ms;
            if !in_window {
                counts.wrong += 1;
                report.sample(|| format!("{}: timestamp {} outside the window", at(), r.timestamp));
                continue;
            }
            if c > n || covered[c - 1] {
                counts.duplicated += 1;
                report.sample_duplicate(|| format!("{}: count {c} again (input has {n})", at()));
                continue;
            }
            covered[c - 1] = true;
            if !eos {
                high = high.max(c);
                continue;
            }
            if c < high {
                counts.wrong += 1;
                report.sample(|| format!("{}: count {c} after {high}", at()));
            } else if r.timestamp != t.newest[c - 1] {
                counts.wrong += 1;
                report.sample(|| {
                    format!(
                        "{}: count {c} stamped {}, the input gives {}",
                        at(),
                        r.timestamp,
                        t.newest[c - 1]
                    )
                });
            }
            high = high.max(c);
        }
        let last = list.last().and_then(|(_, c)| *c);
        if eos {
            let lost = covered.iter().filter(|c| !**c).count() as u64;
            if lost > 0 {
                counts.lost += lost;
                report.sample(|| format!("wcount window {w:?}: {lost} of counts 1..={n} lost"));
            } else if last != i64::try_from(n).ok() {
                report.final_wrong += 1;
                report
                    .sample(|| format!("wcount window {w:?}: last count {last:?}, input has {n}"));
            }
        } else if last.is_none_or(|c| usize::try_from(c).map_or(true, |c| c < n)) {
            counts.lost += 1;
            report.sample(|| format!("wcount window {w:?}: last count {last:?} < {n}"));
        }
    }
    // Windows of the input with no update at all.
    for (w, t) in &truth.windows {
        if !updates.contains_key(w) {
            let n = t.newest.len() as u64;
            counts.lost += if eos { n } else { 1 };
            report.sample(|| format!("wcount window {w:?}: no update (input has {n})"));
        }
    }
    report.count = counts;
}

fn check_on_close(
    truth: &Truth,
    records: &[DumpRecord],
    spec: WindowSpec,
    report: &mut WindowedReport,
) {
    let mut counts = Counts::default();
    let emitted = by_window(records, "wfinal", &mut counts, report);
    let eos = report.guarantee == Guarantee::ExactlyOnceV2;
    let closed = |w: &WindowKey, t: &WindowTruth| {
        truth
            .stream_time
            .get(&t.partition)
            .is_some_and(|st| w.1 + spec.size_ms <= st.saturating_sub(spec.close_grace_ms))
    };
    report.closed = truth.windows.iter().filter(|(w, t)| closed(w, t)).count();
    for (w, list) in &emitted {
        let Some(t) = truth.windows.get(w).filter(|t| closed(w, t)) else {
            counts.wrong += list.len() as u64;
            report.sample(|| {
                format!("wfinal window {w:?}: emitted but not closed or not in the input")
            });
            continue;
        };
        let n = t.newest.len();
        let newest = t.newest.last().copied().unwrap_or(i64::MIN);
        for (i, (r, count)) in list.iter().enumerate() {
            let at = || format!("wfinal p{} @{} window {w:?}", r.partition, r.offset);
            let Some(c) = count.and_then(|c| usize::try_from(c).ok()) else {
                counts.wrong += 1;
                report.sample(|| format!("{}: count {:?} (input has {n})", at(), r.value));
                continue;
            };
            if c < n {
                counts.lost += 1;
                report.sample(|| format!("{}: final count {c}, input has {n}", at()));
            } else if c > n || i > 0 {
                counts.duplicated += 1;
                report.sample_duplicate(|| {
                    format!(
                        "{}: final count {c} (emission {}; input has {n})",
                        at(),
                        i + 1
                    )
                });
            } else if eos && r.timestamp != newest {
                counts.wrong += 1;
                report.sample(|| {
                    format!(
                        "{}: stamped {}, the input gives {newest}",
                        at(),
                        r.timestamp
                    )
                });
            }
        }
    }
    for (w, t) in &truth.windows {
        if closed(w, t) && !emitted.contains_key(w) {
            report.unemitted += 1;
            let n = t.newest.len();
            report.sample(|| {
                format!("wfinal window {w:?}: closed but never emitted (input has {n})")
            });
        }
    }
    report.on_close = counts;
}

/// Checks the every-update count `wcount` and the on-window-close count
/// `wfinal` against the committed `input`; see the module docs.
pub fn check_windowed(
    input: &[DumpRecord],
    wcount: &[DumpRecord],
    wfinal: &[DumpRecord],
    spec: WindowSpec,
    guarantee: Guarantee,
) -> WindowedReport {
    let mut report = WindowedReport {
        guarantee,
        windows: 0,
        closed: 0,
        count: Counts::default(),
        final_wrong: 0,
        on_close: Counts::default(),
        unemitted: 0,
        input_problems: 0,
        samples: Vec::new(),
    };
    let truth = read_truth(input, spec, &mut report);
    check_count(&truth, wcount, spec, &mut report);
    check_on_close(&truth, wfinal, spec, &mut report);
    report
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
