//! The RocksDB bytes store: one RocksDB database per (store, task).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, FlushOptions, IteratorMode, ReadOptions, WriteOptions,
    DB, DEFAULT_COLUMN_FAMILY_NAME,
};
use weir_core::store::{
    BytesIter, BytesStoreSupplier, DefaultBytesStoreSupplier, KeyValueBytesStore, WriteBatch,
};
use weir_core::task::TaskId;

use crate::budget::RocksDbBudget;
use crate::error::Error;

/// The column family holding the store's metadata (the changelog offset),
/// apart from the data so that scans never see it.
pub const META_COLUMN_FAMILY: &str = "weir-meta";

/// RocksDB's property: bytes in the data column family's active memtable.
const MEMTABLE_SIZE_PROPERTY: &str = "rocksdb.cur-size-active-mem-table";

/// Below this many bytes a memtable holds no data worth a table file (an
/// empty memtable reports a little arena memory).
const EMPTY_MEMTABLE_BYTES: u64 = 4 << 10;

/// How long a store goes neither written nor point-read, from commit to
/// commit, before its memtables go to table files (see
/// [`RocksDbBytesStore`]'s `flush`).
const IDLE_FLUSH_AFTER: Duration = Duration::from_secs(10);

/// The key of the committed changelog offset in [`META_COLUMN_FAMILY`]; the
/// value is the offset as 8 big-endian bytes.
const OFFSET_KEY: &[u8] = b"changelog-offset";

/// The directory of store `store` of task `task`:
/// `<state_dir>/<application_id>/<task>/rocksdb/<store>`.
///
/// ```
/// use std::path::Path;
/// use weir_core::task::TaskId;
///
/// let dir = weir_rocksdb::store_path(Path::new("/var/lib/weir"), "app", TaskId::new(0, 3), "counts");
/// assert_eq!(dir, Path::new("/var/lib/weir/app/0_3/rocksdb/counts"));
/// ```
pub fn store_path(state_dir: &Path, application_id: &str, task: TaskId, store: &str) -> PathBuf {
    state_dir
        .join(application_id)
        .join(task.to_string())
        .join("rocksdb")
        .join(store)
}

/// A [`BytesStoreSupplier`] opening a [`RocksDbBytesStore`] per task at
/// [`store_path`]`(state_dir, application_id, task, store)`, every one
/// charged to `budget`. Give every store of the process the same budget.
///
/// ```
/// use weir_core::serde::Serdes;
/// use weir_core::store::KeyValueStoreBuilder;
/// use weir_rocksdb::{rocksdb_bytes_supplier, RocksDbBudget};
///
/// let budget = RocksDbBudget::with_default_size()?;
/// let state_dir = std::env::temp_dir().join("weir-doc-supplier");
/// let counts = KeyValueStoreBuilder::new("counts", Serdes::string(), Serdes::i64())
///     .with_bytes_supplier(rocksdb_bytes_supplier(state_dir, "app".into(), "counts".into(), budget));
/// # Ok::<(), weir_core::Error>(())
/// ```
pub fn rocksdb_bytes_supplier(
    state_dir: PathBuf,
    application_id: String,
    store: String,
    budget: Arc<RocksDbBudget>,
) -> BytesStoreSupplier {
    Arc::new(move |task| {
        let path = store_path(&state_dir, &application_id, task, &store);
        let opened = RocksDbBytesStore::open(store.clone(), path, Arc::clone(&budget))?;
        Ok(Box::new(opened) as Box<dyn KeyValueBytesStore>)
    })
}

/// The default backend for a runtime
/// ([`TaskConfig::default_bytes_store`](weir_core::task::TaskConfig::default_bytes_store)):
/// every store that did not choose a backend opens a [`RocksDbBytesStore`]
/// per task at [`store_path`]`(state_dir, application_id, task, store)`,
/// all charged to the one `budget`.
///
/// ```
/// use weir_core::task::{TaskConfig, TaskId};
/// use weir_rocksdb::{rocksdb_default_bytes_store, RocksDbBudget};
///
/// let state_dir = tempfile::tempdir()?;
/// let budget = RocksDbBudget::new(16 << 20)?;
/// let mut config = TaskConfig::new("app");
/// config.default_bytes_store = Some(rocksdb_default_bytes_store(
///     state_dir.path().into(),
///     "app".into(),
///     budget,
/// ));
/// let opener = config.default_bytes_store.as_ref().expect("set above");
/// let store = opener(TaskId::new(0, 1), "counts")?;
/// assert!(store.persistent());
/// assert!(state_dir.path().join("app/0_1/rocksdb/counts/CURRENT").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn rocksdb_default_bytes_store(
    state_dir: PathBuf,
    application_id: String,
    budget: Arc<RocksDbBudget>,
) -> DefaultBytesStoreSupplier {
    Arc::new(move |task: TaskId, store: &str| {
        let path = store_path(&state_dir, &application_id, task, store);
        let opened = RocksDbBytesStore::open(store, path, Arc::clone(&budget))?;
        Ok(Box::new(opened) as Box<dyn KeyValueBytesStore>)
    })
}

/// A [`KeyValueBytesStore`] in a RocksDB database of its own, sharing the
/// process's [`RocksDbBudget`] with every other store.
///
/// - Data lives in the default column family; the changelog offset a batch
///   carries goes into the same RocksDB write batch under a reserved key of
///   [`META_COLUMN_FAMILY`], so data and offset land together or not at all.
/// - Durability: every [`write`](KeyValueBytesStore::write) goes into the
///   write-ahead log, which RocksDB buffers in memory (`manual_wal_flush`)
///   until [`flush`](KeyValueBytesStore::flush) hands it to the operating
///   system at each commit (without fsync): one `write(2)` per commit
///   instead of one per record. A process killed with SIGKILL loses what
///   was written since the last commit, a machine crash what the operating
///   system had not written yet; either way RocksDB recovers a prefix of the
///   log, a consistent earlier point whose changelog offset is older too,
///   and restoration replays the changelog from there (Kafka Streams runs
///   RocksDB without a log at all, and loses every memtable).
/// - [`flush`](KeyValueBytesStore::flush) (each commit) never waits for
///   the disk: every write is in the log with its changelog offset, so the
///   store is consistent at any point a crash can cut it.
///   (Writing memtables to table files and syncing the log at each commit
///   stalled the stream thread for tens of milliseconds per store: the count
///   benchmark's p99 was 1.4 s.) It only hands the memtables to RocksDB's
///   background flush when the store has been idle (neither written nor
///   point-read) at every commit for 10 s, or when the memtables of all
///   stores exceed their half of the budget, so idle stores give their
///   memory back and busy ones fill whole table files. A store only read,
///   such as the table of a stream-table join, keeps its memtable (and so
///   does a store idle for a moment, between its table's load and the
///   first lookups): a point read found in the memtable took about a third
///   of the time of one found in a table file with its blocks cached (0.7
///   against 2.0-2.3 µs at the median, RocksDB's statistics in the
///   stream-table join benchmark), and the memory stays charged to the
///   budget.
/// - A batch's range deletes ([`WriteBatch::delete_range`], how window
///   and session stores drop expired segments) are RocksDB range
///   tombstones in the same write batch, before its puts and deletes: one
///   entry per range, whatever it covers; compaction reclaims the space.
/// - A store told its writes are short-lived
///   ([`expect_short_lived_writes`](KeyValueBytesStore::expect_short_lived_writes):
///   a stream-stream join's window stores, whose lookups read the windows
///   they hold in memory) keeps memtables of 256 KiB, filled and written to
///   table files in the background, and merges its level-0 files 16 at a
///   time: its memory no longer grows with the windows of a segment (the
///   join benchmark's peak RSS: 105 -> 69 MiB at-least-once, 139 -> 68
///   exactly-once, for about 8% more CPU, the flushes and merges that a
///   longer run pays anyway once the memtables reach their half of the
///   budget). It writes without the write-ahead log, as Kafka Streams
///   writes every store: after a crash it holds what its last table files
///   hold (data and offset flushed together) and restoration replays the
///   changelog from there, at most a few memtables of windows.
/// - [`close`](KeyValueBytesStore::close) writes the memtables to table
///   files (so reopening replays no log and the memory goes back to the
///   budget) and closes the database; later calls fail with a store error.
pub struct RocksDbBytesStore {
    name: String,
    path: PathBuf,
    // Declared before `budget` so the database closes before the budget's
    // cache can be released.
    db: Option<DB>,
    budget: Arc<RocksDbBudget>,
    /// Whether anything was written since the previous `flush`.
    written: bool,
    /// Whether a point read was made since the previous `flush` (set
    /// through `&self`, hence atomic; relaxed: only the stream thread that
    /// owns the store reads and writes it).
    point_read_since_flush: AtomicBool,
    /// Since when every `flush` found the store neither written nor read.
    idle_since: Option<Instant>,
    /// [`IDLE_FLUSH_AFTER`], shorter in tests.
    idle_flush_after: Duration,
    /// The options of every point read, made once (RocksDB's defaults).
    point_read: ReadOptions,
    /// The options of every write: through the log, unless the store's
    /// writes are short-lived.
    write_options: WriteOptions,
    /// Whether writes go through the write-ahead log.
    logged: bool,
}

impl std::fmt::Debug for RocksDbBytesStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbBytesStore")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("open", &self.db.is_some())
            .finish()
    }
}

impl RocksDbBytesStore {
    /// Opens (creating it if missing) the store `name` in directory `path`,
    /// charged to `budget`. Fails if the directory cannot be created, or if
    /// another process or another open store holds it (a store error naming
    /// the directory).
    pub fn open(
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        budget: Arc<RocksDbBudget>,
    ) -> weir_core::Result<Self> {
        let name = name.into();
        let path = path.into();
        std::fs::create_dir_all(&path).map_err(|source| Error::Io {
            store: name.clone(),
            path: path.clone(),
            source,
        })?;
        let cfs = [
            ColumnFamilyDescriptor::new(DEFAULT_COLUMN_FAMILY_NAME, budget.data_cf_options()),
            ColumnFamilyDescriptor::new(META_COLUMN_FAMILY, budget.meta_cf_options()),
        ];
        let db = DB::open_cf_descriptors(&budget.db_options(), &path, cfs).map_err(|e| {
            let message = e.to_string();
            // RocksDB reports a held lock as an I/O error on the LOCK file:
            // "While lock file: <dir>/LOCK: Resource temporarily unavailable"
            // (another process) or "lock hold by current process" (this one).
            if e.kind() == rocksdb::ErrorKind::IOError && message.contains("LOCK") {
                Error::Locked {
                    store: name.clone(),
                    path: path.clone(),
                    message,
                }
            } else {
                Error::rocksdb(&name, "open", &e)
            }
        })?;
        tracing::debug!(store = %name, path = %path.display(), "opened rocksdb store");
        Ok(RocksDbBytesStore {
            name,
            path,
            db: Some(db),
            budget,
            written: false,
            point_read_since_flush: AtomicBool::new(false),
            idle_since: None,
            idle_flush_after: IDLE_FLUSH_AFTER,
            point_read: ReadOptions::default(),
            write_options: WriteOptions::default(),
            logged: true,
        })
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes an idle store's memtables once idle this long (tests).
    #[cfg(test)]
    pub(crate) fn set_idle_flush_after(&mut self, after: Duration) {
        self.idle_flush_after = after;
    }

    /// The budget the store is charged to.
    pub fn budget(&self) -> &Arc<RocksDbBudget> {
        &self.budget
    }

    pub(crate) fn db(&self) -> Result<&DB, Error> {
        self.db.as_ref().ok_or_else(|| Error::Closed {
            store: self.name.clone(),
        })
    }

    fn cf<'d>(&self, db: &'d DB, name: &str) -> Result<&'d ColumnFamily, Error> {
        db.cf_handle(name).ok_or_else(|| Error::Corrupt {
            store: self.name.clone(),
            message: format!("column family '{name}' is missing"),
        })
    }

    fn rocks(&self, op: &'static str) -> impl Fn(rocksdb::Error) -> weir_core::Error + '_ {
        move |e| Error::rocksdb(&self.name, op, &e).into()
    }

    /// Writes the memtables of both column families to table files (one
    /// atomic flush, waited for).
    fn flush_memtables(&self, db: &DB) -> weir_core::Result<()> {
        let data = self.cf(db, DEFAULT_COLUMN_FAMILY_NAME)?;
        let meta = self.cf(db, META_COLUMN_FAMILY)?;
        db.flush_cfs_opt(&[data, meta], &FlushOptions::default())
            .map_err(self.rocks("flush"))
    }

    /// An iterator over the data with these bounds (`upper` exclusive).
    fn scan(
        &self,
        lower: Option<Vec<u8>>,
        upper: Option<Vec<u8>>,
        reverse: bool,
    ) -> weir_core::Result<BytesIter<'_>> {
        let db = self.db()?;
        let mut opts = ReadOptions::default();
        if let Some(lower) = lower {
            opts.set_iterate_lower_bound(lower);
        }
        if let Some(upper) = upper {
            opts.set_iterate_upper_bound(upper);
        }
        // With bounds set, Start/End position on the first/last key inside them.
        let mode = if reverse {
            IteratorMode::End
        } else {
            IteratorMode::Start
        };
        let on_error = self.rocks("iterate");
        Ok(Box::new(db.iterator_opt(mode, opts).map(move |kv| {
            kv.map(|(k, v)| (k.into_vec(), v.into_vec()))
                .map_err(&on_error)
        })))
    }
}

/// The smallest key greater than every key starting with `prefix`, or
/// `None` when there is none (the prefix is empty or all `0xff`).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl KeyValueBytesStore for RocksDbBytesStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn persistent(&self) -> bool {
        true
    }

    fn get(&self, key: &[u8]) -> weir_core::Result<Option<Vec<u8>>> {
        self.point_read_since_flush.store(true, Ordering::Relaxed);
        let value = self
            .db()?
            .get_pinned_opt(key, &self.point_read)
            .map_err(self.rocks("get"))?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn get_with(
        &self,
        key: &[u8],
        read: &mut dyn FnMut(Option<&[u8]>) -> weir_core::Result<()>,
    ) -> weir_core::Result<()> {
        self.point_read_since_flush.store(true, Ordering::Relaxed);
        // The value is read where RocksDB pinned it (its block in the
        // cache, or the memtable), with no copy.
        let value = self
            .db()?
            .get_pinned_opt(key, &self.point_read)
            .map_err(self.rocks("get"))?;
        read(value.as_deref())
    }

    fn write(&mut self, mut batch: WriteBatch) -> weir_core::Result<()> {
        let db = self.db()?;
        let ranges = batch.take_range_deletes();
        let (ops, offset) = batch.into_parts();
        if ops.is_empty() && offset.is_none() && ranges.is_empty() {
            return Ok(());
        }
        let mut rocks = rocksdb::WriteBatch::default();
        // Range tombstones first: they apply before the batch's writes.
        if !ranges.is_empty() {
            let data = self.cf(db, DEFAULT_COLUMN_FAMILY_NAME)?;
            for (from, to) in ranges {
                rocks.delete_range_cf(data, from, to);
            }
        }
        for (key, value) in ops {
            match value {
                Some(v) => rocks.put(key, v),
                None => rocks.delete(key),
            }
        }
        if let Some(offset) = offset {
            let meta = self.cf(db, META_COLUMN_FAMILY)?;
            rocks.put_cf(meta, OFFSET_KEY, offset.to_be_bytes());
        }
        // Through the WAL unless the writes are short-lived, never synced
        // (see the type docs).
        db.write_opt(rocks, &self.write_options)
            .map_err(self.rocks("write"))?;
        self.written = true;
        Ok(())
    }

    fn committed_offset(&self) -> weir_core::Result<Option<i64>> {
        let db = self.db()?;
        let meta = self.cf(db, META_COLUMN_FAMILY)?;
        let Some(raw) = db
            .get_pinned_cf(meta, OFFSET_KEY)
            .map_err(self.rocks("get offset"))?
        else {
            return Ok(None);
        };
        let bytes: [u8; 8] = raw.as_ref().try_into().map_err(|_| Error::Corrupt {
            store: self.name.clone(),
            message: format!("changelog offset has {} bytes, expected 8", raw.len()),
        })?;
        Ok(Some(i64::from_be_bytes(bytes)))
    }

    fn range(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        reverse: bool,
    ) -> weir_core::Result<BytesIter<'_>> {
        self.db()?;
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Ok(Box::new(std::iter::empty()));
            }
        }
        // RocksDB's upper bound is exclusive: `to ++ [0]` is the smallest key
        // above `to`, so the range keeps `to` itself and nothing after it.
        let upper = to.map(|t| {
            let mut u = Vec::with_capacity(t.len() + 1);
            u.extend_from_slice(t);
            u.push(0);
            u
        });
        self.scan(from.map(<[u8]>::to_vec), upper, reverse)
    }

    fn prefix_scan(&self, prefix: &[u8]) -> weir_core::Result<BytesIter<'_>> {
        // Without a successor every key >= prefix starts with it.
        self.scan(Some(prefix.to_vec()), prefix_successor(prefix), false)
    }

    /// Makes the data memtable small (see
    /// `RocksDbBudget::short_lived_write_buffer`): filled, it is written to
    /// a table file in the background, and the windows already dropped by
    /// range deletes are left out of it.
    fn expect_short_lived_writes(&mut self) -> weir_core::Result<()> {
        let size = self.budget.short_lived_write_buffer();
        // The memtable's memory comes in blocks an eighth of its size, as
        // RocksDB sizes them at open (so also fixed then, at the large
        // write buffer's eighth): set both, for every memtable after this
        // one.
        let (size, block) = (size.to_string(), (size / 8).to_string());
        // No write-ahead log: a crash recovers the last table files, written
        // with the data and offset column families together, and
        // restoration replays the changelog from their offset: a few seconds
        // of windows, as the memtables are small.
        self.write_options.disable_wal(true);
        self.logged = false;
        // Small memtables make many small table files of level 0, read only
        // after a restart: merge them 16 at a time, not 4 (each merge
        // rewrites level 1 too, which holds up to a segment of windows).
        self.db()?
            .set_options(&[
                ("write_buffer_size", size.as_str()),
                ("arena_block_size", block.as_str()),
                ("level0_file_num_compaction_trigger", "16"),
                ("level0_slowdown_writes_trigger", "40"),
                ("level0_stop_writes_trigger", "64"),
            ])
            .map_err(self.rocks("set write_buffer_size"))
    }

    fn approximate_count(&self) -> weir_core::Result<u64> {
        let count = self
            .db()?
            .property_int_value("rocksdb.estimate-num-keys")
            .map_err(self.rocks("estimate-num-keys"))?;
        Ok(count.unwrap_or(0))
    }

    fn flush(&mut self) -> weir_core::Result<()> {
        let written = std::mem::take(&mut self.written);
        let read = self.point_read_since_flush.swap(false, Ordering::Relaxed);
        let idle = if written || read {
            self.idle_since = None;
            false
        } else {
            let now = Instant::now();
            let since = *self.idle_since.get_or_insert(now);
            now.duration_since(since) >= self.idle_flush_after
        };
        let db = self.db()?;
        if written && self.logged {
            // The log written since the last commit, to the operating system.
            db.flush_wal(false).map_err(self.rocks("flush wal"))?;
        }
        if !idle && !self.budget.memtables_over_share() {
            return Ok(());
        }
        let in_memtables = db
            .property_int_value(MEMTABLE_SIZE_PROPERTY)
            .map_err(self.rocks("memtable size"))?
            .unwrap_or(0);
        if in_memtables <= EMPTY_MEMTABLE_BYTES {
            return Ok(());
        }
        let data = self.cf(db, DEFAULT_COLUMN_FAMILY_NAME)?;
        let meta = self.cf(db, META_COLUMN_FAMILY)?;
        let mut background = FlushOptions::default();
        background.set_wait(false);
        db.flush_cfs_opt(&[data, meta], &background)
            .map_err(self.rocks("flush"))
    }

    fn close(&mut self) -> weir_core::Result<()> {
        let Some(db) = self.db.take() else {
            return Ok(());
        };
        let flushed = self.flush_memtables(&db);
        drop(db);
        tracing::debug!(store = %self.name, "closed rocksdb store");
        flushed
    }
}
