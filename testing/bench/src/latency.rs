//! The latency run of one contender: cold start (process start to its first
//! output record visible read_committed) and end-to-end latency (output
//! log-append time minus input timestamp) at a fixed offered load.
//!
//! A fresh input topic gets `warmup` records before the child starts; the
//! child's first output gives the cold start; once the warm-up output is
//! all visible, [`weir_kafka::tools::probe::PacedProducer`] offers `records` more at
//! `rate` records/s, each stamped with its send time. Every output record is
//! traced back to its input record's id (see [`Traced`]), and the latency of
//! the offered records after the first second of the offered load (the ramp
//! from idle) is taken from the output topic's `LogAppendTime` timestamps.

use std::process::Stdio;
use std::time::Duration;

use weir_kafka::tools::probe::{OutputProbe, PacedProducer, ProbedRecord};
use weir_kafka::{Connection, Isolation, ProduceRecord};

use crate::data;
use crate::measure::{ChildCommand, Spawned, CLOSE_GRACE};
use crate::BenchResult;

/// How an output record leads back to the id of the input record that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Traced {
    /// The value is the pass-through's JSON, holding `"id":<n>`.
    JsonId,
    /// The value is the input's value: the id in decimal (the copier on the
    /// count input).
    DecimalValue,
    /// Key `key-<k>` and value the key's count (i64, big-endian): with `keys`
    /// keys and input `id` keyed `key-<id % keys>`, the c-th count of key k
    /// comes from input `(c - 1) * keys + k`.
    Count { keys: u64 },
    /// Key `key-<k>` followed by its window's start (Kafka Streams'
    /// time-windowed key: 8 bytes, big-endian) and value the key's count in
    /// that window (i64, big-endian): the c-th count of key k in the window
    /// starting at W comes from the c-th input of key k (ids k, k + keys,
    /// ...) whose timestamp (`stamps[id]`, never decreasing with the id) is
    /// at or after W.
    WindowedCount { keys: u64, size_ms: i64 },
    /// The stream-table join: the value is the event's id in decimal,
    /// alone (the ceiling's copy) or followed by `|` and the table row (the
    /// join's output). The ceiling's copies of table rows (`row-...`) trace
    /// to no input and are left out.
    Enriched,
    /// The stream-stream join: the value `<id>|r<id>` (the join's output)
    /// comes from pair `id`, and its latency is counted from the later of
    /// the pair's two sends; the ceiling's copies are `<id>` (left) and
    /// `r<id>` (right).
    Paired,
}

/// Where an output record leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trace {
    /// To input `id`, sent at `sent` (ms).
    At { id: u64, sent: i64 },
    /// To no offered record, by design (the ceiling's copy of a table row).
    Untraced,
}

/// The send times of the offered records, by id: `left` for the input
/// topic, `right` for the second input of the stream-stream join.
struct Stamps {
    left: Vec<i64>,
    right: Vec<i64>,
}

/// The leading decimal digits of `text`.
fn leading_id(text: &str) -> Option<u64> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text[..end].parse().ok()
}

impl Traced {
    /// The input record that made `r` and when it was sent; `None` when
    /// that cannot be told.
    fn trace(self, r: &ProbedRecord, stamps: &Stamps) -> Option<Trace> {
        let sent = |id: u64| {
            let at = usize::try_from(id).ok()?;
            stamps.left.get(at).copied()
        };
        let text = || std::str::from_utf8(r.value.as_deref()?).ok();
        match self {
            Traced::Enriched => {
                let text = text()?;
                if text.starts_with("row-") {
                    return Some(Trace::Untraced);
                }
                let id = leading_id(text)?;
                Some(Trace::At {
                    id,
                    sent: sent(id)?,
                })
            }
            Traced::Paired => {
                let text = text()?;
                let right = |id: u64| stamps.right.get(usize::try_from(id).ok()?).copied();
                if let Some(rest) = text.strip_prefix('r') {
                    let id = leading_id(rest)?;
                    return Some(Trace::At {
                        id,
                        sent: right(id)?,
                    });
                }
                let id = leading_id(text)?;
                let sent = match text.split_once('|') {
                    Some((_, other)) => {
                        let other = leading_id(other.strip_prefix('r')?)?;
                        (other == id).then_some(())?;
                        sent(id)?.max(right(id)?)
                    }
                    None => sent(id)?,
                };
                Some(Trace::At { id, sent })
            }
            _ => {
                let id = self.id(r, &stamps.left)?;
                Some(Trace::At {
                    id,
                    sent: sent(id)?,
                })
            }
        }
    }

    /// The id of the input record that made `r`; `stamps[id]` is the
    /// timestamp of input `id`.
    fn id(self, r: &ProbedRecord, stamps: &[i64]) -> Option<u64> {
        let value = r.value.as_deref()?;
        match self {
            Traced::Enriched | Traced::Paired => None,
            Traced::JsonId => {
                let text = std::str::from_utf8(value).ok()?;
                let at = text.find("\"id\":")? + 5;
                let digits: String = text[at..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            }
            Traced::DecimalValue => std::str::from_utf8(value).ok()?.parse().ok(),
            Traced::Count { keys } => {
                let key = std::str::from_utf8(r.key.as_deref()?).ok()?;
                let k: u64 = key.strip_prefix("key-")?.parse().ok()?;
                let count = u64::try_from(i64::from_be_bytes(value.try_into().ok()?)).ok()?;
                Some(count.checked_sub(1)? * keys + k)
            }
            Traced::WindowedCount { keys, size_ms } => {
                let key = r.key.as_deref()?;
                let (name, start) = key.split_at_checked(key.len().checked_sub(8)?)?;
                let start = i64::from_be_bytes(start.try_into().ok()?);
                let k: u64 = std::str::from_utf8(name)
                    .ok()?
                    .strip_prefix("key-")?
                    .parse()
                    .ok()?;
                let count = u64::try_from(i64::from_be_bytes(value.try_into().ok()?)).ok()?;
                let ids = (k..stamps.len() as u64).step_by(usize::try_from(keys.max(1)).ok()?);
                let id = ids
                    .filter(|&id| stamps[id as usize] >= start)
                    .nth(usize::try_from(count.checked_sub(1)?).ok()?)?;
                (stamps[id as usize] < start + size_ms).then_some(id)
            }
        }
    }
}

/// What the latency run offers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LatencyPlan {
    /// Records in the input before the child starts.
    pub warmup: u64,
    /// Records offered at `rate` once the warm-up is through.
    pub records: u64,
    /// Offered load, records per second.
    pub rate: f64,
    /// The first offered records, not counted: the ramp from idle to the
    /// offered load (the first second of it), where the broker, the load
    /// generator and the contender settle. The figures are the steady state.
    pub ramp: u64,
}

/// Which input the run offers: the pass-through's JSON, the count's
/// `key-<id % keys>` -> id, or the stream-stream join's pairs: the count's
/// records on the input and `key-<id % keys>` -> `r<id>` on the second
/// input, offered side by side at the same rate.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LatencyInput {
    Json,
    Counted { keys: u64 },
    Paired { keys: u64 },
}

/// The figures of one latency run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LatencyFigures {
    /// Process start to the first output record visible read_committed.
    pub cold_start_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Offered records whose latency was measured.
    pub samples: usize,
}

/// Bound on the warm-up and on the drain after the offered load.
const PHASE_LIMIT: Duration = Duration::from_secs(180);

fn input_record(input: LatencyInput, id: u64) -> ProduceRecord {
    match input {
        LatencyInput::Json => ProduceRecord::new(
            format!("dev-{:04}", id % data::DEVICES),
            data::record_json(id, data::now_ms()),
        ),
        LatencyInput::Counted { keys } | LatencyInput::Paired { keys } => {
            ProduceRecord::new(data::count_key(id, keys), id.to_string())
        }
    }
}

/// The right-hand record of pair `id` ([`LatencyInput::Paired`]).
fn right_record(input: LatencyInput, id: u64) -> ProduceRecord {
    let keys = match input {
        LatencyInput::Paired { keys } | LatencyInput::Counted { keys } => keys,
        LatencyInput::Json => data::DEVICES,
    };
    ProduceRecord::new(data::count_key(id, keys), data::right_value(id))
}

/// Offers `count` records from `first` on at `rate` through `left` and,
/// when given, the pair of each through `right` at the same rate, from one
/// thread: the two records of a pair are sent one right after the other, so
/// they are stamped within microseconds of each other, well inside the join
/// window however busy the machine (two producers paced on threads of their
/// own drifted apart by more than the window when one thread stalled; a
/// round of left records acknowledged before its right ones were stamped set
/// the pairs of a large round over a second apart). Returns the send times
/// of each side.
fn offer_both(
    left: &PacedProducer,
    right: Option<&PacedProducer>,
    kind: LatencyInput,
    (first, count, rate): (u64, u64, f64),
    tick: Duration,
) -> BenchResult<(Vec<i64>, Vec<i64>)> {
    let Some(right) = right else {
        return Ok((
            left.offer(count, rate, tick, |seq| input_record(kind, first + seq))?,
            Vec::new(),
        ));
    };
    let start = std::time::Instant::now();
    let limit = PHASE_LIMIT + Duration::from_secs_f64(count as f64 / rate.max(1.0));
    let deadline = start + limit;
    let n = usize::try_from(count).unwrap_or(0);
    let (mut l, mut r) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut sent = 0u64;
    while sent < count {
        if start.elapsed() > limit {
            return Err(format!("offering {count} pairs took over {limit:?} ({sent} sent)").into());
        }
        // Pairs due by now on the fixed schedule.
        let due = ((start.elapsed().as_secs_f64() * rate) as u64 + 1).min(count);
        while sent < due {
            l.push(left.send_at(&input_record(kind, first + sent), sent, deadline)?);
            r.push(right.send_at(&right_record(kind, first + sent), sent, deadline)?);
            sent += 1;
        }
        left.poll_deliveries()?;
        right.poll_deliveries()?;
        if sent < count {
            std::thread::sleep(tick);
        }
    }
    left.wait_until(deadline)?;
    right.wait_until(deadline)?;
    Ok((l, r))
}

/// `<dir>/<label>.<ext>`, created, when `WEIR_BENCH_LATENCY_DUMP=<dir>`.
fn dump_file(label: &str, ext: &str) -> BenchResult<Option<std::fs::File>> {
    let Some(dir) = std::env::var_os("WEIR_BENCH_LATENCY_DUMP") else {
        return Ok(None);
    };
    let name = format!("{}.{ext}", label.replace([':', '/'], "-"));
    Ok(Some(std::fs::File::create(
        std::path::Path::new(&dir).join(name),
    )?))
}

/// The ids in `0..total` that no record of `records` traces back to.
fn missing_ids(traced: Traced, records: &[ProbedRecord], stamps: &Stamps, total: u64) -> Vec<u64> {
    let seen: std::collections::HashSet<u64> = records
        .iter()
        .filter_map(|r| match traced.trace(r, stamps) {
            Some(Trace::At { id, .. }) => Some(id),
            _ => None,
        })
        .collect();
    (0..total).filter(|id| !seen.contains(id)).collect()
}

/// For diagnosis of a latency run that lost output: with
/// `WEIR_BENCH_LATENCY_DUMP=<dir>`, writes `<dir>/<label>.missing.csv`, the
/// offered records (ids `0..total`) that no output record traces back to
/// (input id, send time ms, and the right-hand record's send time ms of a
/// stream-stream pair, else -1).
fn dump_missing(
    label: &str,
    traced: Traced,
    records: &[ProbedRecord],
    stamps: &Stamps,
    total: u64,
) -> BenchResult<()> {
    use std::io::Write;
    let Some(file) = dump_file(label, "missing.csv")? else {
        return Ok(());
    };
    let mut out = std::io::BufWriter::new(file);
    for id in missing_ids(traced, records, stamps, total) {
        let at = |side: &[i64]| {
            usize::try_from(id)
                .ok()
                .and_then(|i| side.get(i).copied())
                .unwrap_or(-1)
        };
        writeln!(out, "{id},{},{}", at(&stamps.left), at(&stamps.right))?;
    }
    out.flush()?;
    Ok(())
}

/// Runs `cmd` reading `input` (fresh, empty, existing; and `other`, the
/// second input of the stream-stream join, which gets the pairs' right-hand
/// records) and writing `output` (fresh, `LogAppendTime`); `expected(n)` is
/// how many output records the contender writes for input records `0..n`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_latency(
    conn: &Connection,
    cmd: &ChildCommand,
    input: &str,
    other: Option<&str>,
    output: &str,
    kind: LatencyInput,
    traced: Traced,
    plan: LatencyPlan,
    expected: impl Fn(u64) -> u64,
) -> BenchResult<LatencyFigures> {
    let total = plan.warmup + plan.records;
    let tick = Duration::from_millis(5);
    let offered_s = plan.records as f64 / plan.rate.max(1.0);
    // One producer for the warm-up and the offered load: the warm-up also
    // gets it its metadata and producer id.
    let limit = PHASE_LIMIT + Duration::from_secs_f64(offered_s);
    let producer = PacedProducer::new(conn, input, limit)?;
    let right = match (kind, other) {
        (LatencyInput::Paired { .. }, Some(topic)) => Some(PacedProducer::new(conn, topic, limit)?),
        (LatencyInput::Paired { .. }, None) => {
            return Err("a paired latency run needs its second input".into())
        }
        _ => None,
    };
    let (left, right_sent) =
        offer_both(&producer, right.as_ref(), kind, (0, plan.warmup, 1e9), tick)?;
    let mut stamps = Stamps {
        left,
        right: right_sent,
    };
    let probe = OutputProbe::start(
        conn,
        output,
        Isolation::ReadCommitted,
        expected(total),
        true,
        PHASE_LIMIT * 3,
    )?;
    let mut child = Spawned::new(cmd, Stdio::null())?;
    let result = (|| -> BenchResult<f64> {
        let warm = expected(plan.warmup);
        loop {
            child.check_alive()?;
            if probe.count() >= warm {
                break;
            }
            if child.start.elapsed() > PHASE_LIMIT {
                return Err(format!(
                    "{}: the warm-up output did not arrive within {PHASE_LIMIT:?} ({} of {warm})",
                    cmd.label,
                    probe.count()
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let cold = probe
            .first_at()
            .ok_or("no first output record")?
            .saturating_duration_since(child.start)
            .as_secs_f64();
        let (left, right_sent) = offer_both(
            &producer,
            right.as_ref(),
            kind,
            (plan.warmup, plan.records, plan.rate),
            tick,
        )?;
        stamps.left.extend(left);
        stamps.right.extend(right_sent);
        let drained = std::time::Instant::now();
        while probe.reached_at().is_none() {
            child.check_alive()?;
            if drained.elapsed() > PHASE_LIMIT {
                return Err(format!(
                    "{}: the output of the offered load did not arrive within {PHASE_LIMIT:?} ({} of {})",
                    cmd.label,
                    probe.count(),
                    expected(total)
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(cold)
    })();
    child.stop(CLOSE_GRACE);
    let records = probe.finish();
    if let (Err(_), Ok(records)) = (&result, &records) {
        dump_missing(&cmd.label, traced, records, &stamps, total)?;
    }
    let cold_start_s = result?;
    let records = records?;
    let mut lat: Vec<f64> = Vec::with_capacity(records.len());
    // For diagnosis: `WEIR_BENCH_LATENCY_DUMP=<dir>` keeps every sample as
    // `<dir>/<label>.csv` (input id, send time ms, output log-append time ms).
    let mut dump = dump_file(&cmd.label, "csv")?.map(std::io::BufWriter::new);
    for r in &records {
        let trace = traced
            .trace(r, &stamps)
            .ok_or_else(|| format!("{}: an output record with no input id", cmd.label))?;
        let Trace::At { id, sent } = trace else {
            continue;
        };
        if id < plan.warmup + plan.ramp {
            continue;
        }
        if !r.log_append_time {
            return Err(format!("'{output}' does not carry LogAppendTime timestamps").into());
        }
        let Some(append) = r.timestamp else {
            return Err(format!("{}: output id {id} has no timestamp", cmd.label).into());
        };
        if let Some(out) = dump.as_mut() {
            use std::io::Write;
            writeln!(out, "{id},{sent},{append}")?;
        }
        lat.push((append - sent) as f64);
    }
    drop(dump);
    if lat.is_empty() {
        return Err(format!("{}: no latency samples", cmd.label).into());
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    Ok(LatencyFigures {
        cold_start_s,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        samples: lat.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &str, value: Vec<u8>) -> ProbedRecord {
        ProbedRecord {
            partition: 0,
            key: Some(key.as_bytes().to_vec()),
            value: Some(value),
            timestamp: Some(1),
            log_append_time: true,
        }
    }

    #[test]
    fn output_records_trace_back_to_their_input_ids() {
        let json = data::record_json(4242, 0).into_bytes();
        assert_eq!(Traced::JsonId.id(&rec("dev-0242", json), &[]), Some(4242));
        assert_eq!(
            Traced::DecimalValue.id(&rec("key-3", b"1003".to_vec()), &[]),
            Some(1003)
        );
        // Key 3 of 1000: its 2nd count comes from input 1003.
        let r = rec("key-3", 2i64.to_be_bytes().to_vec());
        assert_eq!(Traced::Count { keys: 1000 }.id(&r, &[]), Some(1003));
        assert_eq!(
            Traced::Count { keys: 1000 }.id(&rec("key-3", 0i64.to_be_bytes().to_vec()), &[]),
            None
        );
    }

    #[test]
    fn joined_records_trace_back_to_their_input_and_send_time() {
        let stamps = Stamps {
            left: vec![100, 110, 120],
            right: vec![105, 108, 130],
        };
        let at = |id, sent| Some(Trace::At { id, sent });
        let enriched = rec("key-1", data::enrich("1", &data::table_row(1)).into_bytes());
        assert_eq!(Traced::Enriched.trace(&enriched, &stamps), at(1, 110));
        assert_eq!(
            Traced::Enriched.trace(&rec("key-2", b"2".to_vec()), &stamps),
            at(2, 120)
        );
        let row = rec("key-2", data::table_row(2).into_bytes());
        assert_eq!(Traced::Enriched.trace(&row, &stamps), Some(Trace::Untraced));
        // A pair counts from the later of its two sends.
        let pair = |l: &str| rec("key-0", l.as_bytes().to_vec());
        assert_eq!(Traced::Paired.trace(&pair("0|r0"), &stamps), at(0, 105));
        assert_eq!(Traced::Paired.trace(&pair("2|r2"), &stamps), at(2, 130));
        assert_eq!(Traced::Paired.trace(&pair("1"), &stamps), at(1, 110));
        assert_eq!(Traced::Paired.trace(&pair("r1"), &stamps), at(1, 108));
        // A pair of two different ids is no output of this input.
        assert_eq!(Traced::Paired.trace(&pair("1|r2"), &stamps), None);
        assert_eq!(Traced::Paired.trace(&pair("9|r9"), &stamps), None);
    }

    #[test]
    fn the_pairs_no_output_traces_back_to_are_missing() {
        let stamps = Stamps {
            left: vec![100, 110, 120, 130],
            right: vec![105, 108, 130, 131],
        };
        let pair = |l: &str| rec("key-0", l.as_bytes().to_vec());
        let got = [pair("0|r0"), pair("3|r3"), pair("1|r2")];
        assert_eq!(missing_ids(Traced::Paired, &got, &stamps, 4), vec![1, 2]);
        assert_eq!(missing_ids(Traced::Paired, &[], &stamps, 2), vec![0, 1]);
    }

    #[test]
    fn windowed_counts_trace_back_to_their_input_ids() {
        // 4 keys; inputs 0..12 stamped 0, 10, 20, ...: the window [60, 120)
        // holds inputs 6..12; key 2's inputs there are 6 and 10.
        let stamps: Vec<i64> = (0..12).map(|i| i * 10).collect();
        let traced = Traced::WindowedCount {
            keys: 4,
            size_ms: 60,
        };
        let windowed = |key: &str, start: i64, count: i64| {
            let mut k = key.as_bytes().to_vec();
            k.extend_from_slice(&start.to_be_bytes());
            let mut r = rec(key, count.to_be_bytes().to_vec());
            r.key = Some(k);
            r
        };
        assert_eq!(traced.id(&windowed("key-2", 60, 1), &stamps), Some(6));
        assert_eq!(traced.id(&windowed("key-2", 60, 2), &stamps), Some(10));
        assert_eq!(traced.id(&windowed("key-2", 0, 1), &stamps), Some(2));
        // Key 2 has no third input in [60, 120), nor a second in [0, 60).
        assert_eq!(traced.id(&windowed("key-2", 60, 3), &stamps), None);
        assert_eq!(traced.id(&windowed("key-2", 0, 2), &stamps), None);
    }
}
