//! The windowed stream-stream join's check: `eos-input` (side A) joined
//! with `eos-side` (side B, co-partitioned) within
//! [`StreamJoinSpec::window_ms`] either way into `eos-sjoin`, recomputed
//! from the committed inputs.
//!
//! The expected pairs are every (A record, B record) of one key whose
//! timestamps differ by at most the window (bounds included). No record can
//! be late: the join's grace is an hour (like the every-update windowed
//! count's, so at-least-once replays on stores restored ahead of the
//! committed offsets are not dropped either) and the generator sets
//! timestamps back by at most 1.5 s. So the pair set is exact.
//!
//! Per output `seq,amount|bseq` (key `k`): A record `(k, seq)` with that
//! amount and B record `(k, bseq)` must exist, be an expected pair, and the
//! output must be stamped with the later of their timestamps (as Kafka
//! Streams stamps a join result); anything else is *wrong*. An expected pair
//! with no output is *lost*, one with more *duplicated*. Exactly-once passes
//! with all three 0, at-least-once with lost and wrong 0.

use std::collections::{BTreeMap, HashMap};

use crate::check::{Counts, Guarantee};
use crate::dump::DumpRecord;
use crate::format::{key_index, parse_stream_join, partition_of, InputValue};

/// How many problem descriptions a report keeps.
const MAX_SAMPLES: usize = 20;

/// The join window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamJoinSpec {
    /// The largest timestamp difference of a joined pair, in ms (before and after).
    pub window_ms: i64,
}

/// What the stream-stream join check found.
#[derive(Debug, Clone)]
pub struct StreamJoinReport {
    /// The guarantee checked against.
    pub guarantee: Guarantee,
    /// Side A records (the input).
    pub left: u64,
    /// Side B records.
    pub right: u64,
    /// Expected pairs.
    pub pairs: u64,
    /// Output records read.
    pub outputs: u64,
    /// Lost, duplicated and wrong outputs.
    pub counts: Counts,
    /// Side B records breaking the generator's contract.
    pub input_problems: u64,
    /// The first problems found, described.
    pub samples: Vec<String>,
}

impl StreamJoinReport {
    /// Whether the join output meets the guarantee.
    pub fn passed(&self) -> bool {
        let base = self.pairs > 0
            && self.input_problems == 0
            && self.counts.lost == 0
            && self.counts.wrong == 0;
        match self.guarantee {
            Guarantee::AtLeastOnce => base,
            Guarantee::ExactlyOnceV2 => base && self.counts.duplicated == 0,
        }
    }

    /// The `RESULT stream-join ...` line.
    pub fn result_line(&self) -> String {
        format!(
            "RESULT stream-join left={} right={} pairs={} outputs={} lost={} duplicated={} \
             wrong={} input_problems={} guarantee={} passed={}",
            self.left,
            self.right,
            self.pairs,
            self.outputs,
            self.counts.lost,
            self.counts.duplicated,
            self.counts.wrong,
            self.input_problems,
            self.guarantee,
            self.passed()
        )
    }

    fn sample(&mut self, problem: impl FnOnce() -> String) {
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(format!("stream-join: {}", problem()));
        }
    }
}

/// Per key: its A records (seq, amount, timestamp) and B records (bseq, timestamp).
#[derive(Default)]
struct KeyRecords {
    left: Vec<(InputValue, i64)>,
    right: Vec<i64>,
}

fn sorted(records: &[DumpRecord]) -> Vec<&DumpRecord> {
    let mut v: Vec<&DumpRecord> = records.iter().collect();
    v.sort_by_key(|r| (r.partition, r.offset));
    v
}

fn read_inputs(
    left: &[DumpRecord],
    right: &[DumpRecord],
    partitions: i32,
    report: &mut StreamJoinReport,
) -> BTreeMap<u32, KeyRecords> {
    let mut keys: BTreeMap<u32, KeyRecords> = BTreeMap::new();
    for r in sorted(left) {
        // Unparsable input is the main check's input problem already.
        let Some((k, v)) = (|| {
            Some((
                key_index(r.key.as_deref()?)?,
                InputValue::parse(r.value.as_deref()?)?,
            ))
        })() else {
            continue;
        };
        keys.entry(k).or_default().left.push((v, r.timestamp));
        report.left += 1;
    }
    for r in sorted(right) {
        report.right += 1;
        let parsed = (|| {
            let key = r.key.as_deref()?;
            let bseq = r.value.as_deref()?.parse::<i64>().ok()?;
            Some((
                key_index(key)?,
                bseq,
                partition_of(key, partitions)? == r.partition,
            ))
        })();
        let Some((k, bseq, home)) = parsed else {
            report.input_problems += 1;
            report.sample(|| format!("side p{} @{}: unparsable record", r.partition, r.offset));
            continue;
        };
        let list = &mut keys.entry(k).or_default().right;
        if !home || usize::try_from(bseq).ok() != Some(list.len()) {
            report.input_problems += 1;
            let next = list.len();
            report.sample(|| {
                format!(
                    "side p{} @{}: key {k} bseq {bseq} where {next} was expected",
                    r.partition, r.offset
                )
            });
            continue;
        }
        list.push(r.timestamp);
    }
    keys
}

/// Checks the stream-stream join output `join` against the committed side
/// A `left` (the input) and side B `right`; see the module docs.
pub fn check_stream_join(
    left: &[DumpRecord],
    right: &[DumpRecord],
    join: &[DumpRecord],
    partitions: i32,
    spec: StreamJoinSpec,
    guarantee: Guarantee,
) -> StreamJoinReport {
    let mut report = StreamJoinReport {
        guarantee,
        left: 0,
        right: 0,
        pairs: 0,
        outputs: 0,
        counts: Counts::default(),
        input_problems: 0,
        samples: Vec::new(),
    };
    let keys = read_inputs(left, right, partitions, &mut report);
    // (key, seq, bseq) -> (expected timestamp, outputs seen).
    let mut pairs: HashMap<(u32, i64, i64), (i64, u32)> = HashMap::new();
    for (k, recs) in &keys {
        let mut right: Vec<(i64, i64)> = recs
            .right
            .iter()
            .enumerate()
            .map(|(b, ts)| (*ts, i64::try_from(b).unwrap_or(i64::MAX)))
            .collect();
        right.sort_unstable();
        for (a, ts) in &recs.left {
            let from = right.partition_point(|(t, _)| *t < ts - spec.window_ms);
            for (t, b) in right[from..]
                .iter()
                .take_while(|(t, _)| *t <= ts + spec.window_ms)
            {
                pairs.insert((*k, a.seq, *b), ((*ts).max(*t), 0));
            }
        }
    }
    report.pairs = pairs.len() as u64;
    let eos = guarantee == Guarantee::ExactlyOnceV2;
    for r in sorted(join) {
        report.outputs += 1;
        let at = || format!("sjoin p{} @{}", r.partition, r.offset);
        let parsed = (|| {
            let k = key_index(r.key.as_deref()?)?;
            let (a, b) = parse_stream_join(r.value.as_deref()?)?;
            Some((k, a, b))
        })();
        let Some((k, a, b)) = parsed else {
            report.counts.wrong += 1;
            report.sample(|| format!("{}: {:?} {:?} is no join output", at(), r.key, r.value));
            continue;
        };
        let amount_right = keys
            .get(&k)
            .and_then(|recs| usize::try_from(a.seq).ok().and_then(|s| recs.left.get(s)))
            .is_some_and(|(v, _)| *v == a);
        let Some((ts, seen)) = pairs.get_mut(&(k, a.seq, b)).filter(|_| amount_right) else {
            report.counts.wrong += 1;
            report.sample(|| format!("{}: key {k} {a}|{b} is no expected pair", at()));
            continue;
        };
        if r.timestamp != *ts {
            report.counts.wrong += 1;
            let want = *ts;
            report.sample(|| {
                format!(
                    "{}: key {k} {a}|{b} stamped {}, not {want}",
                    at(),
                    r.timestamp
                )
            });
            continue;
        }
        *seen += 1;
        if *seen > 1 {
            report.counts.duplicated += 1;
            if eos {
                report.sample(|| format!("{}: key {k} {a}|{b} joined again", at()));
            }
        }
    }
    let mut lost: Vec<_> = pairs.iter().filter(|(_, (_, n))| *n == 0).collect();
    lost.sort_unstable();
    report.counts.lost = lost.len() as u64;
    for ((k, a, b), (ts, _)) in lost.into_iter().take(5) {
        report.sample(|| format!("key {k} seq {a} bseq {b} (at {ts}): no join output (lost)"));
    }
    report
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
