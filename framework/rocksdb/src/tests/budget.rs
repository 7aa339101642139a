//! The memory budget is one for all the stores of a process.

use std::sync::Arc;

use weir_core::store::{KeyValueBytesStore, WriteBatch};

use super::keys;
use crate::{RocksDbBudget, RocksDbBytesStore, MIN_BUDGET_BYTES};

#[test]
fn budget_below_the_minimum_is_a_config_error() {
    let err = RocksDbBudget::new(MIN_BUDGET_BYTES - 1).unwrap_err();
    assert!(
        matches!(err, weir_core::Error::Config { ref key, .. } if key == crate::BUDGET_CONFIG),
        "{err}"
    );
}

/// 64 stores (64 partitions of a store) under a 32 MiB budget, 2 MiB of
/// values written to each and committed (flushed) as a task would, then
/// every key read back through the shared cache. The shared cache's usage,
/// memtable reservations included, stays within the budget plus slack,
/// although 4x the budget is written and, under Kafka Streams' per-store
/// defaults, each store alone would have its own cache and memtables.
#[test]
fn many_stores_share_one_budget() {
    const STORES: usize = 64;
    const BUDGET: usize = 32 << 20;
    const VALUE: usize = 4 << 10;
    const VALUES_PER_BATCH: usize = 64;
    const BATCHES: usize = 8; // 8 x 64 x 4 KiB = 2 MiB per store
                              // Slack for what the cache does not evict at once: pinned L0 index and
                              // filter blocks and the 256 KiB granularity of memtable reservations.
    const SLACK: usize = BUDGET / 4;

    let dir = tempfile::tempdir().unwrap();
    let budget = RocksDbBudget::new(BUDGET).unwrap();
    let mut stores: Vec<RocksDbBytesStore> = (0..STORES)
        .map(|p| {
            let path = dir
                .path()
                .join(format!("0_{p}"))
                .join("rocksdb")
                .join("counts");
            RocksDbBytesStore::open("counts", path, Arc::clone(&budget)).unwrap()
        })
        .collect();

    let mut peak = 0;
    let mut peak_memtables = 0;
    let mut sample = |budget: &RocksDbBudget| {
        peak = peak.max(budget.usage());
        peak_memtables = peak_memtables.max(budget.memtable_usage());
        assert!(
            budget.memtable_usage() <= budget.usage() + (1 << 20),
            "memtables are charged to the cache"
        );
    };
    let value = |p: usize, i: usize| -> Vec<u8> {
        let mut v = vec![(p * 31 + i) as u8; VALUE];
        v[..8].copy_from_slice(&(i as u64).to_be_bytes());
        v
    };
    for (p, store) in stores.iter_mut().enumerate() {
        for b in 0..BATCHES {
            let mut batch = WriteBatch::new();
            for i in 0..VALUES_PER_BATCH {
                let n = b * VALUES_PER_BATCH + i;
                batch.put(format!("key-{n:06}").into_bytes(), value(p, n));
            }
            batch.set_offset((b + 1) as i64);
            store.write(batch).unwrap();
            sample(&budget);
        }
        store.flush().unwrap(); // the task's commit
        sample(&budget);
    }
    let after_writes = budget.usage();
    for (p, store) in stores.iter().enumerate() {
        for n in (0..BATCHES * VALUES_PER_BATCH).step_by(3) {
            let got = store.get(format!("key-{n:06}").as_bytes()).unwrap();
            assert_eq!(got, Some(value(p, n)));
        }
        assert_eq!(store.all().unwrap().count(), BATCHES * VALUES_PER_BATCH);
        sample(&budget);
    }
    let written = STORES * BATCHES * VALUES_PER_BATCH * VALUE;
    println!(
        "budget {} MiB, {STORES} stores, {} MiB written: peak cache usage {:.1} MiB \
         (memtables peak {:.1} MiB), {:.1} MiB after writes, {:.1} MiB after reads, pinned {:.1} MiB",
        BUDGET >> 20,
        written >> 20,
        peak as f64 / 1048576.0,
        peak_memtables as f64 / 1048576.0,
        after_writes as f64 / 1048576.0,
        budget.usage() as f64 / 1048576.0,
        budget.pinned_usage() as f64 / 1048576.0,
    );
    assert!(written >= 4 * BUDGET);
    assert!(
        peak_memtables > 0,
        "the write-buffer manager counts the memtables"
    );
    assert!(
        peak <= BUDGET + SLACK,
        "peak usage {peak} exceeds {BUDGET} + {SLACK}"
    );
    // The cache was really used (reads went through it), not bypassed.
    assert!(budget.usage() > BUDGET / 4, "usage {}", budget.usage());
    for store in &mut stores {
        store.close().unwrap();
    }
}

/// Writes 2,000 rows of 100 bytes (`key-000000` to `key-001999`) with
/// changelog offset 1.
fn write_rows(store: &mut RocksDbBytesStore) {
    let mut batch = WriteBatch::new();
    for i in 0..2_000u32 {
        batch.put(format!("key-{i:06}").into_bytes(), vec![7; 100]);
    }
    batch.set_offset(1);
    store.write(batch).unwrap();
}

/// Waits (up to 10 s) for the background flush to bring the memtables of
/// `budget` under `held` bytes, and fails if it does not.
pub(super) fn assert_memtable_written_down(budget: &RocksDbBudget, held: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while budget.memtable_usage() >= held && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        budget.memtable_usage() < held,
        "the memtables were written down: {} of {held} bytes left",
        budget.memtable_usage()
    );
}

/// A commit does not write a busy store's memtable down (no stall, no
/// small table files); the next commit of a store left idle (for its idle
/// bound, zero here) does, in the background, and the memory goes back to
/// the budget.
#[test]
fn an_idle_store_gives_its_memtable_back_at_its_next_commit() {
    let dir = tempfile::tempdir().unwrap();
    let budget = RocksDbBudget::new(64 << 20).unwrap();
    let mut store =
        RocksDbBytesStore::open("counts", dir.path().join("counts"), Arc::clone(&budget)).unwrap();
    store.set_idle_flush_after(std::time::Duration::ZERO);
    write_rows(&mut store);
    let busy = budget.memtable_usage();
    assert!(busy > 0, "the writes are in a memtable");
    store.flush().unwrap(); // a commit after writes
    assert_eq!(
        budget.memtable_usage(),
        busy,
        "a busy store keeps its memtable"
    );
    store.flush().unwrap(); // the next commit, nothing written since
    assert_memtable_written_down(&budget, busy);
    assert_eq!(store.get(b"key-001999").unwrap(), Some(vec![7; 100]));
    assert_eq!(store.committed_offset().unwrap(), Some(1));
}

/// A store read but not written since the previous commit (a join's table)
/// keeps its memtable, where point reads cost a third of reads from table
/// files; once neither written nor read for its idle bound, it gives the
/// memory back.
#[test]
fn a_store_only_read_keeps_its_memtable_until_it_is_idle() {
    let dir = tempfile::tempdir().unwrap();
    let budget = RocksDbBudget::new(64 << 20).unwrap();
    let mut store =
        RocksDbBytesStore::open("rows", dir.path().join("rows"), Arc::clone(&budget)).unwrap();
    let idle_after = std::time::Duration::from_millis(300);
    store.set_idle_flush_after(idle_after);
    write_rows(&mut store);
    store.flush().unwrap(); // the commit of the writes
    let held = budget.memtable_usage();
    assert!(held > 0, "the writes are in a memtable");
    for round in 0..3u32 {
        assert_eq!(
            store
                .get(format!("key-{:06}", round * 7).as_bytes())
                .unwrap(),
            Some(vec![7; 100])
        );
        store.flush().unwrap(); // a commit after reads only
    }
    // A background flush would have had time to run.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        budget.memtable_usage(),
        held,
        "a store only read keeps its memtable"
    );
    store.flush().unwrap(); // a commit with neither writes nor reads
    assert_eq!(
        budget.memtable_usage(),
        held,
        "a store idle for less than its bound keeps its memtable"
    );
    std::thread::sleep(idle_after);
    store.flush().unwrap(); // idle since the commit before
    assert_memtable_written_down(&budget, held);
    assert_eq!(store.get(b"key-001999").unwrap(), Some(vec![7; 100]));
}

/// Bytes of the memtables of `store` (RocksDB's count).
fn memtable_bytes(store: &RocksDbBytesStore) -> u64 {
    store
        .db()
        .unwrap()
        .property_int_value("rocksdb.cur-size-all-mem-tables")
        .unwrap()
        .unwrap()
}

/// Two stores under `budget` in `dir`: "windows", told its
/// writes are short-lived, and "counts", not told.
fn short_lived_and_other(
    dir: &std::path::Path,
    budget: &Arc<RocksDbBudget>,
) -> (RocksDbBytesStore, RocksDbBytesStore) {
    let open =
        |name: &str| RocksDbBytesStore::open(name, dir.join(name), Arc::clone(budget)).unwrap();
    let mut windows = open("windows");
    windows.expect_short_lived_writes().unwrap();
    (windows, open("counts"))
}

/// A store told its writes are short-lived (a stream-stream join's window
/// store) keeps a small memtable: past it, its writes go to table files in
/// the background and stay readable; a store of the same budget that was
/// not told keeps its whole memtable.
#[test]
fn a_store_of_short_lived_writes_keeps_a_small_memtable() {
    let dir = tempfile::tempdir().unwrap();
    let budget = RocksDbBudget::new(64 << 20).unwrap();
    let (mut windows, mut counts) = short_lived_and_other(dir.path(), &budget);
    // About 2.5 MiB each, in batches of 100 KiB: under the 4 MiB write
    // buffer of this budget's stores, 5 times the short-lived one's.
    for store in [&mut windows, &mut counts] {
        for b in 0..20u32 {
            let mut batch = WriteBatch::new();
            for i in 0..1_000u32 {
                batch.put(format!("key-{b:02}-{i:04}").into_bytes(), vec![7; 100]);
            }
            store.write(batch).unwrap();
        }
    }
    let small = 2 * budget.short_lived_write_buffer() as u64;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while memtable_bytes(&windows) > small && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        memtable_bytes(&windows) <= small,
        "the short-lived store's memtables hold {} bytes, more than {small}",
        memtable_bytes(&windows)
    );
    assert!(
        memtable_bytes(&counts) > 2_000_000,
        "the other store keeps its memtable: {} bytes",
        memtable_bytes(&counts)
    );
    assert_eq!(windows.get(b"key-00-0000").unwrap(), Some(vec![7; 100]));
    assert_eq!(windows.get(b"key-19-0999").unwrap(), Some(vec![7; 100]));
    assert_eq!(keys(windows.all().unwrap()).len(), 20_000);
}

/// The bytes of the write-ahead log files in `dir`.
fn log_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// A store of short-lived writes writes no log (a logged store of the same
/// budget does), and its close leaves data and offset in table files.
#[test]
fn a_store_of_short_lived_writes_writes_no_log_and_closes_whole() {
    let dir = tempfile::tempdir().unwrap();
    let budget = RocksDbBudget::new(64 << 20).unwrap();
    let (mut windows, mut counts) = short_lived_and_other(dir.path(), &budget);
    for store in [&mut windows, &mut counts] {
        let mut batch = WriteBatch::new();
        for i in 0..100u32 {
            batch.put(format!("key-{i:03}").into_bytes(), vec![1; 50]);
        }
        batch.set_offset(41);
        store.write(batch).unwrap();
        store.flush().unwrap();
    }
    // Whatever the log holds goes to its file now: nothing.
    windows.db().unwrap().flush_wal(false).unwrap();
    assert_eq!(log_bytes(&dir.path().join("windows")), 0);
    assert!(log_bytes(&dir.path().join("counts")) > 5_000);
    // Closed, the memtables went to table files: reopened, data and offset
    // are there, with no log to replay.
    windows.close().unwrap();
    let windows =
        RocksDbBytesStore::open("windows", dir.path().join("windows"), Arc::clone(&budget))
            .unwrap();
    assert_eq!(windows.committed_offset().unwrap(), Some(41));
    assert_eq!(keys(windows.all().unwrap()).len(), 100);
    assert_eq!(windows.get(b"key-099").unwrap(), Some(vec![1; 50]));
}
