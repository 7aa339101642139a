//! The input generator: events at a steady pace, new table versions between
//! batches, and the side stream of the stream-stream join.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use weir_eos::format::{key_name, partition_of, InputValue, TableValue};
use weir_eos::rng::SplitMix64;
use weir_eos::topology::JITTER_MS;
use weir_kafka::{Connection, ProduceRecord};

use crate::{Plan, Res, BATCH, INPUT, SIDE, SIDE_EVERY, TABLE, TABLE_EVERY};

pub(crate) struct Generator {
    pub(crate) produced: Arc<AtomicU64>,
    /// Held while a batch is in flight; the driver takes it to restart the broker.
    pub(crate) in_flight: Arc<Mutex<()>>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) handle: thread::JoinHandle<Res<Vec<u64>>>,
}

impl Generator {
    /// Produces `plan.records` records at a steady pace over `plan.produce_secs`
    /// (and, between batches, new table versions of a fifth of the keys, and
    /// a side record per SIDE_EVERY input records); returns the number of
    /// input records per key.
    pub(crate) fn start(bootstrap: &str, plan: &Plan) -> Generator {
        let produced = Arc::new(AtomicU64::new(0));
        let in_flight = Arc::new(Mutex::new(()));
        let stop = Arc::new(AtomicBool::new(false));
        let conn = Connection::new(bootstrap.to_string()).with_timeout(Duration::from_secs(180));
        let (p, lock, halt, plan) = (
            produced.clone(),
            in_flight.clone(),
            stop.clone(),
            plan.clone(),
        );
        let handle = thread::spawn(move || -> Res<Vec<u64>> {
            let mut rng = SplitMix64::new(plan.seed ^ 0x5EED);
            let mut per_key = vec![0u64; plan.keys as usize];
            let mut side_per_key = vec![0u64; plan.keys as usize];
            // Per key: its table version, and the lowest timestamp its next
            // event may have (just after its newest table version's).
            let mut version = vec![0i64; plan.keys as usize];
            let mut floor_ts = vec![i64::MIN; plan.keys as usize];
            let mut batch_no = 0u64;
            let began = Instant::now();
            // Event time: from now, advancing with the record's place in the
            // schedule (so, as wall-clock time, over produce_secs), each set
            // back by up to JITTER_MS (out of order, never late).
            let epoch_ms =
                i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
            let span_ms = i64::try_from(plan.produce_secs * 1000)?;
            let total_i = i64::try_from(plan.records.max(1))?;
            let total = plan.records;
            let mut sent = 0u64;
            while sent < total {
                if halt.load(Ordering::Relaxed) {
                    return Err("generator stopped".into());
                }
                // Keep to the pace: `sent` may run ahead of the schedule by one batch.
                let due = total.saturating_mul(began.elapsed().as_millis() as u64)
                    / (plan.produce_secs * 1000).max(1);
                if sent > due {
                    thread::sleep(Duration::from_millis(20));
                    continue;
                }
                let n = (total - sent).min(BATCH as u64);
                // New table versions between batches, stamped with the
                // schedule's time here: every event written before is
                // stamped earlier, and every later event of the key later
                // (see join_table).
                let boundary_ts = epoch_ms + i64::try_from(sent)? * span_ms / total_i;
                let mut table = Vec::new();
                if sent > 0 {
                    for k in (0..plan.keys)
                        .filter(|k| (u64::from(*k) + batch_no).is_multiple_of(TABLE_EVERY))
                    {
                        let v = &mut version[k as usize];
                        *v += 1;
                        floor_ts[k as usize] = boundary_ts + 1;
                        table.push(table_record(k, *v, boundary_ts, plan.partitions)?);
                    }
                }
                batch_no += 1;
                let mut batch = Vec::with_capacity(BATCH);
                let mut side = Vec::new();
                for i in 0..n {
                    let k = u32::try_from(rng.range(0, u64::from(plan.keys) - 1))?;
                    let key = key_name(k);
                    let seq = &mut per_key[k as usize];
                    let value = InputValue {
                        seq: i64::try_from(*seq)?,
                        amount: i64::try_from(rng.range(1, 1_000_000))?,
                    };
                    *seq += 1;
                    let partition = partition_of(&key, plan.partitions).ok_or("no partition")?;
                    let index = i64::try_from(sent + i)?;
                    let jitter = i64::try_from(rng.range(0, u64::try_from(JITTER_MS)?))?;
                    let timestamp =
                        (epoch_ms + index * span_ms / total_i - jitter).max(floor_ts[k as usize]);
                    let mut record =
                        ProduceRecord::new(key, value.to_string()).to_partition(partition);
                    record.timestamp = Some(timestamp);
                    batch.push(record);
                    if (sent + i).is_multiple_of(SIDE_EVERY) {
                        // A side record: its own random key, stamped like an input record.
                        let k = u32::try_from(rng.range(0, u64::from(plan.keys) - 1))?;
                        let key = key_name(k);
                        let bseq = &mut side_per_key[k as usize];
                        let partition =
                            partition_of(&key, plan.partitions).ok_or("no partition")?;
                        let jitter = i64::try_from(rng.range(0, u64::try_from(JITTER_MS)?))?;
                        let mut record =
                            ProduceRecord::new(key, bseq.to_string()).to_partition(partition);
                        *bseq += 1;
                        record.timestamp = Some(epoch_ms + index * span_ms / total_i - jitter);
                        side.push(record);
                    }
                }
                {
                    let _guard = lock.lock().map_err(|_| "generator lock poisoned")?;
                    // The table first: acknowledged before the events after it are written.
                    if !table.is_empty() {
                        weir_kafka::produce_batch(&conn, TABLE, &table).map_err(|e| {
                            format!("producing table versions before record {sent}: {e}")
                        })?;
                    }
                    weir_kafka::produce_batch(&conn, INPUT, &batch).map_err(|e| {
                        format!("producing input records {sent}..{}: {e}", sent + n)
                    })?;
                    if !side.is_empty() {
                        weir_kafka::produce_batch(&conn, SIDE, &side).map_err(|e| {
                            format!(
                                "producing side records with input {sent}..{}: {e}",
                                sent + n
                            )
                        })?;
                    }
                }
                sent += n;
                p.store(sent, Ordering::Relaxed);
            }
            Ok(per_key)
        });
        Generator {
            produced,
            in_flight,
            stop,
            handle,
        }
    }
}

/// The table record of key number `k` at `version`, stamped `timestamp`.
fn table_record(k: u32, version: i64, timestamp: i64, partitions: i32) -> Res<ProduceRecord> {
    let key = key_name(k);
    let partition = partition_of(&key, partitions).ok_or("no partition")?;
    let mut record =
        ProduceRecord::new(key, TableValue::of(k, version).to_string()).to_partition(partition);
    record.timestamp = Some(timestamp);
    Ok(record)
}

/// Writes version 0 of every key's table row, stamped before any event
/// (ten seconds before now), before the application starts: every event
/// then finds its key in the table.
pub(crate) fn initial_table(conn: &Connection, plan: &Plan) -> Res<()> {
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let records = (0..plan.keys)
        .map(|k| table_record(k, 0, now - 10_000, plan.partitions))
        .collect::<Res<Vec<_>>>()?;
    weir_kafka::produce_batch(conn, TABLE, &records)
        .map_err(|e| format!("producing the table's first versions: {e}"))?;
    Ok(())
}
