//! The checker: compares the committed outputs with the input.
//!
//! Ground truth is the input topic as read back (each key's records in one
//! partition, sequence numbers 0, 1, 2, .. in offset order; anything else is
//! an input problem and fails the run).
//!
//! **Echo.** Echo partition `p` must equal input partition `p`. Walking the
//! echo output in offset order, each record is matched by (key, seq) to its
//! input record: a record matching nothing, differing from its input record,
//! sitting in the wrong partition or arriving before an input record that
//! precedes it is *wrong* (reordered ones are also counted apart); one seen
//! before is *duplicated*; an input record never seen is *lost*.
//!
//! **Aggregates.** Each update `seq,last_seq,count,sum,min,max` of key `k`
//! is the update for `k`'s input record `seq`, and its state must be the
//! aggregate of `k`'s input records `0..=last_seq`. An exact match (with
//! `seq == last_seq`) covers `seq`; a second one is *duplicated*; one arriving
//! after a higher `last_seq`, or folding `seq` in after a later record, is
//! *wrong* (reordered). An update with the right min and max but a larger
//! count and sum folded some record in more than once: *duplicated*
//! (at-least-once allows it: a replay on state that already held the
//! record), and it still covers `seq`. Anything else is *wrong*. A `seq` never
//! covered is *lost*. Finally the last update of every key must be its
//! complete aggregate (under at-least-once: complete, with count and sum
//! allowed to be larger); a key failing that (and whose last record is not
//! already lost) is counted *wrong* as `final_wrong`.
//!
//! **Transactions.** On every partition of every topic the read_committed end
//! (last stable offset) must equal the read_uncommitted end (high
//! watermark) once the applications are closed: otherwise a transaction was
//! left open (*dangling*).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::dump::{DumpRecord, EndOffsets};
use crate::format::{key_index, partition_of, Aggregate, InputValue};

/// How many problem descriptions a report keeps.
const MAX_SAMPLES: usize = 20;

/// The processing guarantee a run was made with; it decides what passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarantee {
    /// `at_least_once`: duplicates allowed; nothing lost, nothing wrong.
    AtLeastOnce,
    /// `exactly_once_v2`: nothing lost, duplicated or wrong.
    ExactlyOnceV2,
}

impl Guarantee {
    /// The `processing.guarantee` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Guarantee::AtLeastOnce => "at_least_once",
            Guarantee::ExactlyOnceV2 => "exactly_once_v2",
        }
    }

    /// Parses a `processing.guarantee` value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "at_least_once" => Some(Guarantee::AtLeastOnce),
            "exactly_once_v2" => Some(Guarantee::ExactlyOnceV2),
            _ => None,
        }
    }
}

impl fmt::Display for Guarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lost, duplicated and wrong records of one output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Input records (or aggregate updates) missing from the output.
    pub lost: u64,
    /// Output records repeating one already seen (or folding a record in twice).
    pub duplicated: u64,
    /// Output records that are not what the input implies.
    pub wrong: u64,
}

/// What the checker found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The guarantee checked against.
    pub guarantee: Guarantee,
    /// Input records.
    pub records: u64,
    /// Distinct input keys.
    pub keys: usize,
    /// Input partitions.
    pub partitions: i32,
    /// The echo output.
    pub echo: Counts,
    /// Echo partitions equal to their input partition, record for record.
    pub echo_exact_partitions: usize,
    /// The aggregate output (without `final_wrong`).
    pub aggs: Counts,
    /// Keys whose last aggregate update is not their complete aggregate.
    pub final_wrong: u64,
    /// Of the wrong records, those out of order (echo and aggregates).
    pub reordered: u64,
    /// Partitions whose read_committed end differs from the read_uncommitted end.
    pub dangling: Vec<EndOffsets>,
    /// Input records that break the generator's contract (wrong partition,
    /// unparsable, sequence gap): the run proves nothing.
    pub input_problems: u64,
    /// The first problems found, described.
    pub samples: Vec<String>,
}

impl Report {
    /// Lost records of both outputs.
    pub fn lost(&self) -> u64 {
        self.echo.lost + self.aggs.lost
    }

    /// Duplicated records of both outputs.
    pub fn duplicated(&self) -> u64 {
        self.echo.duplicated + self.aggs.duplicated
    }

    /// Wrong records of both outputs, wrong final aggregates included.
    pub fn wrong(&self) -> u64 {
        self.echo.wrong + self.aggs.wrong + self.final_wrong
    }

    /// Whether the run meets its guarantee.
    pub fn passed(&self) -> bool {
        let base = self.records > 0
            && self.input_problems == 0
            && self.dangling.is_empty()
            && self.lost() == 0
            && self.wrong() == 0;
        match self.guarantee {
            Guarantee::AtLeastOnce => base,
            Guarantee::ExactlyOnceV2 => base && self.duplicated() == 0,
        }
    }

    /// The `RESULT eos ...` line, without its verdict: the caller appends
    /// `passed=` for the whole round (these checks and the windowed ones).
    pub fn result_line(&self, kills: u64, broker_restarts: u64) -> String {
        format!(
            "RESULT eos records={} kills={kills} broker_restarts={broker_restarts} lost={} \
             duplicated={} wrong={} guarantee={}",
            self.records,
            self.lost(),
            self.duplicated(),
            self.wrong(),
            self.guarantee,
        )
    }

    /// A line with the details behind the totals.
    pub fn detail_line(&self) -> String {
        format!(
            "DETAIL keys={} echo: lost={} duplicated={} wrong={} exact_partitions={}/{}; \
             aggs: lost={} duplicated={} wrong={} final_wrong={}; reordered={} \
             dangling_partitions={} input_problems={}",
            self.keys,
            self.echo.lost,
            self.echo.duplicated,
            self.echo.wrong,
            self.echo_exact_partitions,
            self.partitions,
            self.aggs.lost,
            self.aggs.duplicated,
            self.aggs.wrong,
            self.final_wrong,
            self.reordered,
            self.dangling.len(),
            self.input_problems
        )
    }

    fn sample(&mut self, problem: impl FnOnce() -> String) {
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(problem());
        }
    }

    /// Samples a duplicate: a problem only under exactly-once (at-least-once
    /// runs have many, and they would crowd out the real problems).
    fn sample_duplicate(&mut self, problem: impl FnOnce() -> String) {
        if self.guarantee == Guarantee::ExactlyOnceV2 {
            self.sample(problem);
        }
    }
}

/// What to check: the dumped topics and end offsets.
#[derive(Debug, Clone, Copy)]
pub struct CheckInput<'a> {
    /// The input topic's records.
    pub input: &'a [DumpRecord],
    /// The echo output's records.
    pub echo: &'a [DumpRecord],
    /// The aggregate output's records.
    pub aggs: &'a [DumpRecord],
    /// End offsets of every partition to check for open transactions.
    pub ends: &'a [EndOffsets],
    /// Partitions of the input (and echo) topic.
    pub partitions: i32,
    /// The guarantee the run was made with.
    pub guarantee: Guarantee,
}

/// One input record, as the checker needs it.
struct InputRecord<'a> {
    key: &'a str,
    value: &'a str,
}

/// The input, indexed.
struct Truth<'a> {
    /// Per input partition, its records in offset order.
    partitions: Vec<Vec<InputRecord<'a>>>,
    /// (key number, seq) -> (partition, index in it).
    index: HashMap<(u32, i64), (usize, usize)>,
    /// Per key number, its values in seq order.
    keys: BTreeMap<u32, Vec<InputValue>>,
}

fn sorted(records: &[DumpRecord]) -> Vec<&DumpRecord> {
    let mut v: Vec<&DumpRecord> = records.iter().collect();
    v.sort_by_key(|r| (r.partition, r.offset));
    v
}

fn read_truth<'a>(input: &'a [DumpRecord], partitions: i32, report: &mut Report) -> Truth<'a> {
    let count = usize::try_from(partitions).unwrap_or(0);
    let mut truth = Truth {
        partitions: (0..count).map(|_| Vec::new()).collect(),
        index: HashMap::new(),
        keys: BTreeMap::new(),
    };
    for r in sorted(input) {
        report.records += 1;
        let parsed = (|| {
            let key = r.key.as_deref()?;
            let value = r.value.as_deref()?;
            let k = key_index(key)?;
            let v = InputValue::parse(value)?;
            let p = usize::try_from(partition_of(key, partitions)?).ok()?;
            Some((key, value, k, v, p))
        })();
        let Some((key, value, k, v, p)) = parsed else {
            report.input_problems += 1;
            report.sample(|| format!("input p{} @{}: unparsable record", r.partition, r.offset));
            continue;
        };
        if i32::try_from(p).ok() != Some(r.partition) {
            report.input_problems += 1;
            report.sample(|| {
                format!(
                    "input p{} @{}: key {key} belongs in partition {p}",
                    r.partition, r.offset
                )
            });
            continue;
        }
        let values = truth.keys.entry(k).or_default();
        if usize::try_from(v.seq).ok() != Some(values.len()) {
            report.input_problems += 1;
            report.sample(|| {
                format!(
                    "input p{} @{}: key {key} seq {} where {} was expected",
                    r.partition,
                    r.offset,
                    v.seq,
                    values.len()
                )
            });
            continue;
        }
        values.push(v);
        let records = &mut truth.partitions[p];
        truth.index.insert((k, v.seq), (p, records.len()));
        records.push(InputRecord { key, value });
    }
    report.keys = truth.keys.len();
    truth
}

fn check_echo(truth: &Truth<'_>, echo: &[DumpRecord], partitions: i32, report: &mut Report) {
    let mut seen: Vec<Vec<bool>> = truth
        .partitions
        .iter()
        .map(|p| vec![false; p.len()])
        .collect();
    // Per input partition, the highest input index seen first so far.
    let mut high: Vec<Option<usize>> = vec![None; truth.partitions.len()];
    let mut per_partition: Vec<Vec<&DumpRecord>> = vec![Vec::new(); truth.partitions.len()];
    for r in sorted(echo) {
        if let Some(list) = usize::try_from(r.partition)
            .ok()
            .and_then(|p| per_partition.get_mut(p))
        {
            list.push(r);
        }
        let at = || format!("echo p{} @{}", r.partition, r.offset);
        let found = (|| {
            let key = r.key.as_deref()?;
            let v = InputValue::parse(r.value.as_deref()?)?;
            let (p, i) = *truth.index.get(&(key_index(key)?, v.seq))?;
            Some((p, i))
        })();
        let Some((p, i)) = found else {
            report.echo.wrong += 1;
            report.sample(|| format!("{}: {:?} matches no input record", at(), r.value));
            continue;
        };
        let expected = &truth.partitions[p][i];
        if r.value.as_deref() != Some(expected.value) {
            report.echo.wrong += 1;
            report.sample(|| {
                format!(
                    "{}: key {} value {:?}, input has {}",
                    at(),
                    expected.key,
                    r.value,
                    expected.value
                )
            });
            continue;
        }
        if partition_of(expected.key, partitions) != Some(r.partition) {
            report.echo.wrong += 1;
            report.sample(|| format!("{}: key {} in the wrong partition", at(), expected.key));
            continue;
        }
        if seen[p][i] {
            report.echo.duplicated += 1;
            report.sample_duplicate(|| {
                format!("{}: {} {} duplicated", at(), expected.key, expected.value)
            });
            continue;
        }
        seen[p][i] = true;
        if high[p].is_some_and(|h| i < h) {
            report.echo.wrong += 1;
            report.reordered += 1;
            report.sample(|| {
                format!(
                    "{}: {} {} out of order (input index {i} after {:?})",
                    at(),
                    expected.key,
                    expected.value,
                    high[p]
                )
            });
            continue;
        }
        high[p] = Some(i);
    }
    for (p, flags) in seen.iter().enumerate() {
        for (i, _) in flags.iter().enumerate().filter(|(_, s)| !**s) {
            report.echo.lost += 1;
            let r = &truth.partitions[p][i];
            report.sample(|| format!("echo: input p{p} #{i} {} {} lost", r.key, r.value));
        }
    }
    report.echo_exact_partitions = truth
        .partitions
        .iter()
        .zip(&per_partition)
        .filter(|(input, output)| {
            input.len() == output.len()
                && input.iter().zip(output.iter()).all(|(i, o)| {
                    o.key.as_deref() == Some(i.key) && o.value.as_deref() == Some(i.value)
                })
        })
        .count();
}

fn check_aggs(truth: &Truth<'_>, aggs: &[DumpRecord], report: &mut Report) {
    // Each key's updates in output order, and the partition it was first seen in.
    let mut by_key: BTreeMap<u32, Vec<&DumpRecord>> = BTreeMap::new();
    let mut home: HashMap<u32, i32> = HashMap::new();
    for r in sorted(aggs) {
        let Some(k) = r.key.as_deref().and_then(key_index) else {
            report.aggs.wrong += 1;
            report.sample(|| {
                format!(
                    "aggs p{} @{}: unknown key {:?}",
                    r.partition, r.offset, r.key
                )
            });
            continue;
        };
        if *home.entry(k).or_insert(r.partition) != r.partition {
            report.aggs.wrong += 1;
            report.sample(|| {
                format!(
                    "aggs p{} @{}: key {k} also written to another partition",
                    r.partition, r.offset
                )
            });
            continue;
        }
        by_key.entry(k).or_default().push(r);
    }
    let empty: Vec<&DumpRecord> = Vec::new();
    for (k, values) in &truth.keys {
        let mut prefix = Vec::with_capacity(values.len());
        let mut agg = Aggregate::default();
        for v in values {
            agg = agg.fold(*v);
            prefix.push(agg);
        }
        let mut covered = vec![false; values.len()];
        let mut high: i64 = -1;
        let updates = by_key.get(k).unwrap_or(&empty);
        for r in updates {
            let at = || format!("aggs p{} @{} key {k}", r.partition, r.offset);
            let parsed = r.value.as_deref().and_then(Aggregate::parse);
            // The update is for record `c`; the state holds records up to `m`.
            let expected = parsed.and_then(|a| {
                let c = usize::try_from(a.seq).ok()?;
                let m = usize::try_from(a.last_seq).ok()?;
                (c <= m).then_some((a, c, *prefix.get(m)?))
            });
            let Some((a, c, want)) = expected else {
                report.aggs.wrong += 1;
                report.sample(|| format!("{}: {:?} is no aggregate of the input", at(), r.value));
                continue;
            };
            if a.min != want.min || a.max != want.max {
                report.aggs.wrong += 1;
                report.sample(|| format!("{}: {a} but the input gives {want}", at()));
            } else if a.count == want.count && a.sum == want.sum {
                if a.seq != a.last_seq || (!covered[c] && a.last_seq < high) {
                    // Record c folded in after a later one, and only once: out of order.
                    covered[c] = true;
                    report.aggs.wrong += 1;
                    report.reordered += 1;
                    report.sample(|| format!("{}: update {a} out of order (after {high})", at()));
                } else if covered[c] {
                    report.aggs.duplicated += 1;
                    report.sample_duplicate(|| format!("{}: update {a} duplicated", at()));
                } else {
                    covered[c] = true;
                    high = a.last_seq;
                }
            } else if a.count > want.count && a.sum > want.sum {
                // Some record folded in more than once (an at-least-once
                // replay); the update for record c is there all the same.
                report.aggs.duplicated += 1;
                report.sample_duplicate(|| {
                    format!("{}: {a} counts records twice (input gives {want})", at())
                });
                covered[c] = true;
                high = high.max(a.last_seq);
            } else {
                report.aggs.wrong += 1;
                report.sample(|| format!("{}: {a} but the input gives {want}", at()));
            }
        }
        for (s, _) in covered.iter().enumerate().filter(|(_, c)| !**c) {
            report.aggs.lost += 1;
            report.sample(|| format!("aggs key {k}: update for seq {s} lost"));
        }
        // The final aggregate (unless its update is already counted lost).
        let (Some(last), Some(full)) = (updates.last(), prefix.last()) else {
            continue;
        };
        if !covered.last().copied().unwrap_or(false) {
            continue;
        }
        let got = last.value.as_deref().and_then(Aggregate::parse);
        let right = got.is_some_and(|a| match report.guarantee {
            Guarantee::ExactlyOnceV2 => a == *full,
            Guarantee::AtLeastOnce => {
                a.last_seq == full.last_seq
                    && a.min == full.min
                    && a.max == full.max
                    && a.count >= full.count
                    && a.sum >= full.sum
            }
        });
        if !right {
            report.final_wrong += 1;
            report.sample(|| format!("aggs key {k}: final {got:?}, the input gives {full}"));
        }
    }
    // Keys in the output that the input does not have.
    for (k, updates) in &by_key {
        if !truth.keys.contains_key(k) {
            report.aggs.wrong += updates.len() as u64;
            report.sample(|| format!("aggs key {k}: not in the input"));
        }
    }
}

/// Checks the outputs against the input; see the module docs.
pub fn check(input: CheckInput<'_>) -> Report {
    let mut report = Report {
        guarantee: input.guarantee,
        records: 0,
        keys: 0,
        partitions: input.partitions,
        echo: Counts::default(),
        echo_exact_partitions: 0,
        aggs: Counts::default(),
        final_wrong: 0,
        reordered: 0,
        dangling: Vec::new(),
        input_problems: 0,
        samples: Vec::new(),
    };
    let truth = read_truth(input.input, input.partitions, &mut report);
    check_echo(&truth, input.echo, input.partitions, &mut report);
    check_aggs(&truth, input.aggs, &mut report);
    for e in input.ends {
        if e.committed != e.uncommitted {
            report.sample(|| {
                format!(
                    "{}-{}: read_committed end {} != read_uncommitted end {} (open transaction)",
                    e.topic, e.partition, e.committed, e.uncommitted
                )
            });
            report.dangling.push(e.clone());
        }
    }
    report
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
