//! The stream-table join's check: `eos-input` joined with the table of
//! `eos-table` (co-partitioned: same partition count, same key mapping)
//! into `eos-join`, recomputed from the committed input and table topics.
//!
//! **Construction** (the generator): every key's table version 0 is written
//! (and acknowledged) before the first event and the application's start,
//! stamped earlier than any event, and never deleted, so every event has
//! exactly one join output (inner join). Later versions are written between
//! event batches; a version stamped `T` is acknowledged before any later
//! event of its key is produced, and those events are stamped after `T`,
//! while every event produced before it is stamped before `T`: per key,
//! production order and timestamp order agree.
//!
//! **Per output** `seq,amount|version,payload` (key `k`): the event `(k,
//! seq)` must be in the input with that amount, `version,payload` must be a
//! value the table topic really held for `k`, and the record must carry the
//! event's timestamp; anything else is *wrong*. An event with no output is
//! *lost*, one with more *duplicated* (allowed under at-least-once).
//!
//! The application's join is a left join: an event processed before its
//! task has read the key's first table row is written as
//! `seq,amount|none` and counted as *unjoined* (reported, not judged). Like
//! Kafka Streams (KIP-695), Weir does not process an event while the table
//! partition has records not fetched yet, so this stays 0 unless a wait
//! passes Weir's 30 s bound (a broker away at a start); the left join keeps
//! lost / duplicated exact even then.
//!
//! **Consistency** (exactly-once): each task reads its event partition and
//! its table partition each in offset order, so the versions the events of
//! partition `p` saw (in event offset order) must fit one interleaving of
//! the two partitions: an event that saw the version at table position `j`
//! was processed after `j` and before the key's next version. Events that
//! fit no interleaving with those before them are *inconsistent* (a table
//! state out of step with the committed offsets). At-least-once replays
//! break this legitimately (events replayed on a table restored ahead); it
//! is reported, not judged, there.
//!
//! **Timestamp order** (reported, never judged): Kafka Streams processes a
//! task's partitions by record timestamp and, even with
//! `max.task.idle.ms=0`, waits for an empty partition whose fetched lag is
//! not known to be 0, so an event would see the key's newest version
//! stamped at or before it (bar fetch metadata older than the write). An event that saw a version stamped after it is
//! *ahead*, one that saw an older version than that *stale*. Weir waits the
//! same way (`task/queue.rs::ready`); a table version produced after the
//! event partition's records were fetched may still be read late, so these
//! count processing-order differences, not an exactly-once fault.

use std::collections::HashMap;

use crate::check::{Counts, Guarantee};
use crate::dump::DumpRecord;
use crate::format::{key_index, parse_table_join, partition_of, InputValue, TableValue};

/// How many problem descriptions a report keeps.
const MAX_SAMPLES: usize = 20;

/// What the stream-table join check found.
#[derive(Debug, Clone)]
pub struct TableJoinReport {
    /// The guarantee checked against.
    pub guarantee: Guarantee,
    /// Events (input records) checked.
    pub events: u64,
    /// Table records (versions of all keys).
    pub table_records: u64,
    /// Output records read.
    pub outputs: u64,
    /// Lost, duplicated and wrong outputs.
    pub counts: Counts,
    /// Events whose version fits no interleaving of event and table partition.
    pub inconsistent: u64,
    /// Events that saw a version stamped after them.
    pub ahead: u64,
    /// Events that saw an older version than the newest stamped at or before them.
    pub stale: u64,
    /// Events joined with no table row (processed before their task read
    /// the key's first row).
    pub unjoined: u64,
    /// Table or input records breaking the generator's construction.
    pub input_problems: u64,
    /// The first problems found, described.
    pub samples: Vec<String>,
}

impl TableJoinReport {
    /// Whether the join output meets the guarantee.
    pub fn passed(&self) -> bool {
        let base = self.events > 0
            && self.input_problems == 0
            && self.counts.lost == 0
            && self.counts.wrong == 0;
        match self.guarantee {
            Guarantee::AtLeastOnce => base,
            Guarantee::ExactlyOnceV2 => {
                base && self.counts.duplicated == 0 && self.inconsistent == 0
            }
        }
    }

    /// The `RESULT join ...` line.
    pub fn result_line(&self) -> String {
        format!(
            "RESULT join events={} table_records={} outputs={} lost={} duplicated={} wrong={} \
             inconsistent={} ahead={} stale={} unjoined={} input_problems={} guarantee={} \
             passed={}",
            self.events,
            self.table_records,
            self.outputs,
            self.counts.lost,
            self.counts.duplicated,
            self.counts.wrong,
            self.inconsistent,
            self.ahead,
            self.stale,
            self.unjoined,
            self.input_problems,
            self.guarantee,
            self.passed()
        )
    }

    fn sample(&mut self, problem: impl FnOnce() -> String) {
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(format!("join: {}", problem()));
        }
    }
}

/// One version of a key's table row.
struct Version {
    value: TableValue,
    timestamp: i64,
    /// Its position among the committed records of its table partition.
    position: usize,
}

/// One event of the input.
struct Event {
    key: u32,
    value: InputValue,
    timestamp: i64,
    /// The version it saw (first output), once its output is found.
    seen: Option<i64>,
    outputs: u32,
}

fn sorted(records: &[DumpRecord]) -> Vec<&DumpRecord> {
    let mut v: Vec<&DumpRecord> = records.iter().collect();
    v.sort_by_key(|r| (r.partition, r.offset));
    v
}

/// Every key's versions in order; records breaking the construction are input problems.
fn read_table(
    table: &[DumpRecord],
    partitions: i32,
    report: &mut TableJoinReport,
) -> HashMap<u32, Vec<Version>> {
    let mut versions: HashMap<u32, Vec<Version>> = HashMap::new();
    let mut position = (i32::MIN, 0usize);
    for r in sorted(table) {
        if position.0 != r.partition {
            position = (r.partition, 0);
        }
        let at = position.1;
        position.1 += 1;
        report.table_records += 1;
        let parsed = (|| {
            let key = r.key.as_deref()?;
            let k = key_index(key)?;
            let v = TableValue::parse(r.value.as_deref()?)?;
            Some((k, v, partition_of(key, partitions)? == r.partition))
        })();
        let Some((k, value, home)) = parsed else {
            report.input_problems += 1;
            report.sample(|| format!("table p{} @{}: unparsable record", r.partition, r.offset));
            continue;
        };
        let list = versions.entry(k).or_default();
        let next = i64::try_from(list.len()).unwrap_or(i64::MAX);
        let in_order = list.last().is_none_or(|last| last.timestamp < r.timestamp);
        if !home || value.version != next || !in_order || value != TableValue::of(k, next) {
            report.input_problems += 1;
            report.sample(|| {
                format!(
                    "table p{} @{}: key {k} {value} (ts {}) where version {next} was expected",
                    r.partition, r.offset, r.timestamp
                )
            });
            continue;
        }
        list.push(Version {
            value,
            timestamp: r.timestamp,
            position: at,
        });
    }
    versions
}

/// The events: all of them, their index by (key, seq), and each input
/// partition's in offset order.
type Events = (Vec<Event>, HashMap<(u32, i64), usize>, Vec<Vec<usize>>);

/// Events by (key, seq), and the events of each input partition in offset order.
fn read_events(input: &[DumpRecord], report: &mut TableJoinReport) -> Events {
    let mut events = Vec::new();
    let mut index = HashMap::new();
    let mut by_partition: Vec<Vec<usize>> = Vec::new();
    for r in sorted(input) {
        // Unparsable input is the main check's input problem already.
        let Some((key, value)) = (|| {
            Some((
                key_index(r.key.as_deref()?)?,
                InputValue::parse(r.value.as_deref()?)?,
            ))
        })() else {
            continue;
        };
        let Ok(p) = usize::try_from(r.partition) else {
            continue;
        };
        if by_partition.len() <= p {
            by_partition.resize_with(p + 1, Vec::new);
        }
        index.insert((key, value.seq), events.len());
        by_partition[p].push(events.len());
        events.push(Event {
            key,
            value,
            timestamp: r.timestamp,
            seen: None,
            outputs: 0,
        });
    }
    report.events = events.len() as u64;
    (events, index, by_partition)
}

/// Checks the stream-table join output `join` against the committed
/// `input` and `table`; see the module docs.
pub fn check_table_join(
    input: &[DumpRecord],
    table: &[DumpRecord],
    join: &[DumpRecord],
    partitions: i32,
    guarantee: Guarantee,
) -> TableJoinReport {
    let mut report = TableJoinReport {
        guarantee,
        events: 0,
        table_records: 0,
        outputs: 0,
        counts: Counts::default(),
        inconsistent: 0,
        ahead: 0,
        stale: 0,
        unjoined: 0,
        input_problems: 0,
        samples: Vec::new(),
    };
    let versions = read_table(table, partitions, &mut report);
    let (mut events, index, by_partition) = read_events(input, &mut report);
    let eos = guarantee == Guarantee::ExactlyOnceV2;

    for r in sorted(join) {
        report.outputs += 1;
        let at = || format!("join p{} @{}", r.partition, r.offset);
        let parsed = (|| {
            let k = key_index(r.key.as_deref()?)?;
            let (event, table) = parse_table_join(r.value.as_deref()?)?;
            Some((k, event, table))
        })();
        let Some((k, event, table)) = parsed else {
            report.counts.wrong += 1;
            report.sample(|| format!("{}: {:?} {:?} is no join output", at(), r.key, r.value));
            continue;
        };
        let Some(&e) = index.get(&(k, event.seq)) else {
            report.counts.wrong += 1;
            report.sample(|| format!("{}: key {k} event {event} is not in the input", at()));
            continue;
        };
        let ev = &events[e];
        let real = match &table {
            // No row: checked for its event and timestamp only.
            None => true,
            Some(table) => versions
                .get(&k)
                .and_then(|list| {
                    usize::try_from(table.version)
                        .ok()
                        .and_then(|v| list.get(v))
                })
                .is_some_and(|v| &v.value == table),
        };
        if ev.value != event || !real || r.timestamp != ev.timestamp {
            report.counts.wrong += 1;
            let (want, ts) = (ev.value, ev.timestamp);
            let table = table.map_or(crate::format::NO_ROW.to_string(), |t| t.to_string());
            report.sample(|| {
                format!(
                    "{}: key {k} {event}|{table} stamped {} (input {want} stamped {ts}; \
                     table value real: {real})",
                    at(),
                    r.timestamp
                )
            });
            continue;
        }
        let ev = &mut events[e];
        ev.outputs += 1;
        if ev.outputs > 1 {
            report.counts.duplicated += 1;
            if eos {
                report.sample(|| format!("{}: key {k} event {event} joined again", at()));
            }
            continue;
        }
        match table {
            Some(table) => ev.seen = Some(table.version),
            None => report.unjoined += 1,
        }
    }

    for p in &by_partition {
        // The lowest table position the events so far allow.
        let mut low = 0usize;
        for &e in p {
            let ev = &events[e];
            let Some(seen) = ev.seen else {
                if ev.outputs > 0 {
                    // Joined with no row: no version to place.
                    continue;
                }
                report.counts.lost += 1;
                let (k, v) = (ev.key, ev.value);
                report.sample(|| format!("key {k} event {v}: no join output (lost)"));
                continue;
            };
            let Some(list) = versions.get(&ev.key) else {
                continue;
            };
            let Some(v) = usize::try_from(seen).ok().and_then(|i| list.get(i)) else {
                continue;
            };
            // Timestamp order: the newest version stamped at or before the event.
            let expected = list.partition_point(|x| x.timestamp <= ev.timestamp);
            if v.timestamp > ev.timestamp {
                report.ahead += 1;
            } else if expected > 0 && usize::try_from(seen).is_ok_and(|s| s + 1 < expected) {
                report.stale += 1;
            }
            // Processed after table position v.position, and before the next version's.
            let from = v.position + 1;
            let to = usize::try_from(seen)
                .ok()
                .and_then(|s| list.get(s + 1))
                .map_or(usize::MAX, |n| n.position);
            let fits = low.max(from) <= to;
            if fits {
                low = low.max(from);
            } else {
                report.inconsistent += 1;
                if eos {
                    let (k, val) = (ev.key, ev.value);
                    report.sample(|| {
                        format!(
                            "key {k} event {val} saw version {seen} (table positions \
                             {from}..={to}) after events that saw table position {low}"
                        )
                    });
                }
            }
        }
    }
    for ev in &events {
        let first = versions.get(&ev.key).and_then(|l| l.first());
        if first.is_none_or(|v| v.timestamp >= ev.timestamp) {
            report.input_problems += 1;
            let (k, v) = (ev.key, ev.value);
            report.sample(|| format!("key {k} event {v}: no table version stamped before it"));
        }
    }
    report
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
