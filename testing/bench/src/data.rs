//! The input data: ~200-byte JSON sensor readings keyed by device, and the
//! predicate and mapping the Weir contender applies to them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use weir_kafka::{Connection, ProduceRecord};

use crate::BenchResult;

/// Distinct keys (devices).
pub(crate) const DEVICES: u64 = 4000;
/// The Weir filter keeps readings with `value >= THRESHOLD` (values are
/// spread evenly over 0.00..=99.99, so ~90% pass).
pub(crate) const THRESHOLD: f64 = 10.0;
/// Records per `produce_batch` call while preloading.
const CHUNK: u64 = 50_000;
/// Producer threads while preloading.
const PRODUCERS: u64 = 2;
/// Target size of a value in bytes.
const VALUE_BYTES: usize = 200;

/// The value of record `id`: 0.00..=99.99, spread evenly by a multiplicative hash.
fn reading(id: u64) -> f64 {
    let h = id.wrapping_mul(2_654_435_761) % 10_000;
    // h < 10_000: exact in f64.
    h as f64 / 100.0
}

/// Whether the Weir filter keeps record `id`.
fn kept(id: u64) -> bool {
    reading(id) >= THRESHOLD
}

/// The JSON value of record `id`, padded with its `note` to ~[`VALUE_BYTES`].
pub(crate) fn record_json(id: u64, ts: i64) -> String {
    let device = id % DEVICES;
    let head = format!(
        r#"{{"id":{id},"device":"dev-{device:04}","metric":"temperature","value":{:.2},"ts":{ts},"tags":["site-{}","rack-{}","prod"],"note":""#,
        reading(id),
        device % 7,
        device % 41,
    );
    let pad = VALUE_BYTES.saturating_sub(head.len() + 2);
    let mut s = String::with_capacity(VALUE_BYTES + 8);
    s.push_str(&head);
    s.extend(std::iter::repeat_n('x', pad));
    s.push_str("\"}");
    s
}

/// How many of records `0..n` the Weir filter keeps.
pub(crate) fn expected_kept(n: u64) -> u64 {
    (0..n).filter(|&id| kept(id)).count() as u64
}

/// A reading as the Weir contender reads it: typed JSON through
/// `Serdes::json::<Reading>()`, the way a Weir application parses its input
/// (one parse at the source, one serialization at the sink).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Reading {
    /// Record number.
    pub id: u64,
    /// Device name (also the key).
    pub device: String,
    /// What was measured.
    pub metric: String,
    /// The reading.
    pub value: f64,
    /// Event time.
    pub ts: i64,
    /// Free tags.
    pub tags: Vec<String>,
    /// Padding text.
    pub note: String,
    /// Set by the enrichment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed: Option<bool>,
}

/// The typed filter: readings at or above [`THRESHOLD`].
pub(crate) fn keep_reading(r: &Reading) -> bool {
    r.value >= THRESHOLD
}

/// The typed mapping: Celsius to Fahrenheit, marked processed.
pub(crate) fn enrich_reading(mut r: Reading) -> Reading {
    r.value = r.value * 9.0 / 5.0 + 32.0;
    r.metric = "temperature_f".to_string();
    r.processed = Some(true);
    r
}

/// Wall-clock time in ms since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Produces the pass-through records `0..n` to `topic`: [`record_json`]
/// values keyed by device.
pub(crate) fn preload(conn: &Connection, topic: &str, n: u64) -> BenchResult<()> {
    let base_ts = now_ms();
    let stamp = |id: u64| base_ts + i64::try_from(id / 1000).unwrap_or(0);
    preload_with(conn, topic, n, PRODUCERS, stamp, |id, ts| {
        ProduceRecord::new(format!("dev-{:04}", id % DEVICES), record_json(id, ts))
    })
}

/// The key of record `id` of the count workload, over `keys` distinct keys.
pub(crate) fn count_key(id: u64, keys: u64) -> String {
    format!("key-{}", id % keys.max(1))
}

/// Produces the count workload's records `0..n` to `topic`: keys
/// `key-<id % keys>` (every key gets `n / keys` records, give or take one),
/// short values (the record number).
pub(crate) fn preload_counted(
    conn: &Connection,
    topic: &str,
    n: u64,
    keys: u64,
) -> BenchResult<()> {
    let base_ts = now_ms();
    let stamp = |id: u64| base_ts + i64::try_from(id / 1000).unwrap_or(0);
    preload_with(conn, topic, n, PRODUCERS, stamp, |id, _ts| {
        ProduceRecord::new(count_key(id, keys), id.to_string())
    })
}

/// The event time of record `id` of `n` in the windowed count's input:
/// spread evenly over `span_ms` from `base_ms`, never decreasing with `id`.
pub(crate) fn windowed_timestamp(base_ms: i64, span_ms: i64, id: u64, n: u64) -> i64 {
    let offset = u128::from(id) * u128::from(span_ms.unsigned_abs()) / u128::from(n.max(1));
    base_ms + i64::try_from(offset).unwrap_or(i64::MAX - base_ms)
}

/// Produces the windowed count's records `0..n` to `topic`: the count's
/// records (keys `key-<id % keys>`, the record number as value) with event
/// times advancing evenly over `span_ms`, starting at the minute boundary
/// `span_ms` (plus a minute) before now, so the contenders' 1-minute windows
/// close and roll as their stream time moves. One producer, in order: every
/// partition holds its records in timestamp order, so none is late (the
/// windows have no grace) and every contender writes one update per record.
/// Returns the first record's timestamp.
pub(crate) fn preload_windowed(
    conn: &Connection,
    topic: &str,
    n: u64,
    keys: u64,
    span_ms: i64,
) -> BenchResult<i64> {
    let minute = 60_000;
    let base_ts = (now_ms() - span_ms - minute) / minute * minute;
    let stamp = |id: u64| windowed_timestamp(base_ts, span_ms, id, n);
    preload_with(conn, topic, n, 1, stamp, |id, _ts| {
        ProduceRecord::new(count_key(id, keys), id.to_string())
    })?;
    Ok(base_ts)
}

/// The value of table row `k` of the stream-table join: ~40 bytes of
/// reference data (`row-<k>|region-..|tier-..|since-..`), the same text on
/// the Kafka Streams peer's side (it reads it from the topic).
pub(crate) fn table_row(k: u64) -> String {
    format!(
        "row-{k}|region-{:02}|tier-{}|since-{}",
        k % 17,
        k % 3,
        2000 + k % 25
    )
}

/// What the stream-table join writes for event `id` joined with `row`: the
/// event's value (its id in decimal), `|`, the row (the same joiner on the
/// Kafka Streams peer).
pub(crate) fn enrich(event: &str, row: &str) -> String {
    let mut s = String::with_capacity(event.len() + 1 + row.len());
    s.push_str(event);
    s.push('|');
    s.push_str(row);
    s
}

/// Produces the stream-table join's inputs: first the table, `rows` rows
/// keyed `key-0..key-<rows - 1>` ([`table_row`] values) stamped `base`,
/// into `table`; then `n` events keyed `key-<id % rows>` (every event finds
/// its row), the record number as value, stamped from `base + 1 s` on (one
/// ms per 1,000 records), into `events`. The table's records are all older
/// than every event, so a task that picks its next record by timestamp
/// reads the table first.
pub(crate) fn preload_stream_table(
    conn: &Connection,
    table: &str,
    rows: u64,
    events: &str,
    n: u64,
) -> BenchResult<()> {
    let base_ts = now_ms() - 60_000;
    preload_table(conn, table, rows, base_ts)?;
    let stamp = |id: u64| base_ts + 1000 + i64::try_from(id / 1000).unwrap_or(0);
    preload_with(conn, events, n, PRODUCERS, stamp, |id, _ts| {
        ProduceRecord::new(count_key(id, rows), id.to_string())
    })
}

/// Produces the `rows` rows of the stream-table join's table to `topic`,
/// stamped `ts`.
pub(crate) fn preload_table(conn: &Connection, topic: &str, rows: u64, ts: i64) -> BenchResult<()> {
    preload_with(
        conn,
        topic,
        rows,
        PRODUCERS,
        |_| ts,
        |k, _ts| ProduceRecord::new(count_key(k, rows), table_row(k)),
    )
}

/// The offset of a right record's event time after its left record's in
/// the stream-stream join's input: well inside the 1 s join window.
pub(crate) const PAIR_OFFSET_MS: i64 = 100;

/// The right-hand value of pair `id` of the stream-stream join: `r<id>`
/// (the left one is `<id>`), so a copy the ceiling makes tells its side.
pub(crate) fn right_value(id: u64) -> String {
    format!("r{id}")
}

/// Produces the stream-stream join's inputs: `n` records on each side,
/// pair `id` keyed `key-<id % keys>` on both, the left one valued `<id>`
/// and stamped as the windowed count's (evenly over `span_ms`, in order),
/// the right one valued `r<id>` and stamped [`PAIR_OFFSET_MS`] later. With
/// `span_ms * keys / n` (the event-time gap between two records of a key)
/// above 2 s, each left record has exactly one right record within 1 s: its
/// pair. One producer per side, in id order: every partition is in
/// timestamp order.
pub(crate) fn preload_stream_stream(
    conn: &Connection,
    left: &str,
    right: &str,
    n: u64,
    keys: u64,
    span_ms: i64,
) -> BenchResult<()> {
    let base_ts = now_ms() - span_ms - 60_000;
    let stamp = |id: u64| windowed_timestamp(base_ts, span_ms, id, n);
    preload_with(conn, left, n, 1, stamp, |id, _ts| {
        ProduceRecord::new(count_key(id, keys), id.to_string())
    })?;
    preload_with(
        conn,
        right,
        n,
        1,
        |id| stamp(id) + PAIR_OFFSET_MS,
        |id, _ts| ProduceRecord::new(count_key(id, keys), right_value(id)),
    )
}

/// Produces records `0..n` made by `make(id, stamp(id))`, timestamped
/// `stamp(id)`, to `topic` with `producers` threads, in chunks of [`CHUNK`]
/// (each chunk bounded by `conn`'s timeout). With one producer the records
/// land in every partition in `id` order.
fn preload_with(
    conn: &Connection,
    topic: &str,
    n: u64,
    producers: u64,
    stamp: impl Fn(u64) -> i64 + Sync,
    make: impl Fn(u64, i64) -> ProduceRecord + Sync,
) -> BenchResult<()> {
    let next = AtomicU64::new(0);
    let conn = conn.clone().with_timeout(Duration::from_secs(180));
    thread::scope(|s| {
        let workers: Vec<_> = (0..producers.max(1))
            .map(|_| {
                s.spawn(|| -> BenchResult<()> {
                    loop {
                        let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                        if start >= n {
                            return Ok(());
                        }
                        let end = (start + CHUNK).min(n);
                        let chunk: Vec<ProduceRecord> = (start..end)
                            .map(|id| {
                                let ts = stamp(id);
                                make(id, ts).with_timestamp(ts)
                            })
                            .collect();
                        weir_kafka::produce_batch(&conn, topic, &chunk)?;
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| "a preload thread panicked")??;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windowed_timestamps_advance_evenly_over_the_span() {
        // A minute boundary.
        let (base, span, n) = (1_800_000_000_000, 300_000, 2_000_000);
        assert_eq!(windowed_timestamp(base, span, 0, n), base);
        assert_eq!(windowed_timestamp(base, span, n / 5, n), base + 60_000);
        assert!(windowed_timestamp(base, span, n - 1, n) < base + span);
        let ts: Vec<i64> = (0..n)
            .step_by(997)
            .map(|id| windowed_timestamp(base, span, id, n))
            .collect();
        assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn each_left_record_of_the_stream_stream_input_has_one_right_record_within_1_s() {
        // The full and quick sizes: n per side over keys keys in span ms.
        for (n, keys, span) in [
            (1_000_000u64, 100_000u64, 60_000i64),
            (25_000, 2_500, 60_000),
        ] {
            let base = 1_800_000_000_000;
            let ts = |id: u64| windowed_timestamp(base, span, id, n);
            for id in (0..n).step_by(7919) {
                let matches = (0..n)
                    .skip(usize::try_from(id % keys).unwrap())
                    .step_by(usize::try_from(keys).unwrap())
                    .filter(|&other| (ts(other) + PAIR_OFFSET_MS - ts(id)).abs() <= 1000)
                    .collect::<Vec<_>>();
                assert_eq!(matches, vec![id], "n={n} keys={keys}");
            }
        }
    }

    #[test]
    fn joined_values_start_with_the_event_id() {
        assert_eq!(
            enrich("42", &table_row(42)),
            "42|row-42|region-08|tier-0|since-2017"
        );
        assert!(table_row(99_999).len() < 48);
    }

    #[test]
    fn values_are_about_200_bytes_and_the_filter_keeps_about_90_percent() {
        let v = record_json(123_456, 1_700_000_000_000);
        assert!((195..=210).contains(&v.len()), "{} bytes: {v}", v.len());
        assert!(serde_json::from_str::<serde_json::Value>(&v).is_ok());
        let n = 100_000;
        let k = expected_kept(n);
        assert!((89_000..=91_000).contains(&k), "{k}");
        assert_eq!(
            (0..1000)
                .filter(|&id| keep_reading(&serde_json::from_str(&record_json(id, 0)).unwrap()))
                .count() as u64,
            expected_kept(1000)
        );
        let out =
            serde_json::to_string(&enrich_reading(serde_json::from_str(&v).unwrap())).unwrap();
        assert!(out.contains("\"processed\":true"), "{out}");
    }
}
