//! The process-wide memory budget every RocksDB store shares.

use std::fmt;
use std::sync::Arc;

use rocksdb::{BlockBasedOptions, Cache, Options, WriteBufferManager};

use crate::error::Error;

/// The configuration key of the budget, in bytes.
pub const BUDGET_CONFIG: &str = "rocksdb.memory.budget.bytes";

/// The default budget: 256 MiB for all the RocksDB stores of a process.
pub const DEFAULT_BUDGET_BYTES: usize = 256 << 20;

/// The smallest budget accepted: 1 MiB.
pub const MIN_BUDGET_BYTES: usize = 1 << 20;

/// Write buffer of the small column family that holds the changelog offset.
const META_WRITE_BUFFER: usize = 64 << 10;

/// The most a store's file writer buffers before writing to the file.
const WRITABLE_FILE_BUFFER: usize = 256 << 10;

/// Write buffer of a store whose writes are short-lived, such as a
/// stream-stream join's window store: its memtable holds windows that
/// expire within seconds and that its lookups read from memory of their
/// own, so a small one gives the memory back soon. Each store has two at
/// most (one filling, one being written to disk).
const SHORT_LIVED_WRITE_BUFFER: usize = 256 << 10;

/// One memory budget for every RocksDB store of a process: a single LRU
/// block cache and a single write-buffer manager charged to that cache.
///
/// Kafka Streams gives each store of each task its own cache and memtables,
/// so memory grows with stores x partitions. Here the process creates one
/// budget (sized by [`BUDGET_CONFIG`], default [`DEFAULT_BUDGET_BYTES`]) and
/// every store opens against it, so 1 or 1000 stores share the same bound.
///
/// What the budget covers: data blocks read, index and filter blocks
/// (`cache_index_and_filter_blocks`), and memtables (the write-buffer
/// manager reserves their memory in the cache, so cache usage includes it).
/// Memtables are flushed when they reach half the budget.
///
/// What it does not cover: RocksDB's allocations outside the cache (per-DB
/// fixed structures, table reader objects, compaction and WAL buffers,
/// background thread stacks), allocator fragmentation, and the copies the
/// Rust side makes of keys and values. The cache is not in strict mode: when
/// pinned blocks and memtables exceed the capacity, usage can pass it rather
/// than failing reads. Memtables are bounded all together: when they pass
/// half the budget, the next store written has its memtables written to
/// disk, and so does every store that commits while they are over; an idle
/// store's memtables are written down at its next commit, and a store's
/// memtables when it closes.
///
/// ```
/// use weir_rocksdb::RocksDbBudget;
///
/// let budget = RocksDbBudget::new(64 << 20)?;
/// assert_eq!(budget.capacity(), 64 << 20);
/// assert!(budget.usage() <= budget.capacity());
/// # Ok::<(), weir_core::Error>(())
/// ```
pub struct RocksDbBudget {
    bytes: usize,
    cache: Cache,
    write_buffers: WriteBufferManager,
}

impl fmt::Debug for RocksDbBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksDbBudget")
            .field("capacity", &self.bytes)
            .field("usage", &self.usage())
            .field("memtable_usage", &self.memtable_usage())
            .finish()
    }
}

impl RocksDbBudget {
    /// A budget of `bytes` for all the stores that open against it. Create
    /// one per process and share the `Arc`. Fails (a configuration error on
    /// [`BUDGET_CONFIG`]) below [`MIN_BUDGET_BYTES`].
    pub fn new(bytes: usize) -> weir_core::Result<Arc<Self>> {
        if bytes < MIN_BUDGET_BYTES {
            return Err(Error::Budget {
                bytes,
                min: MIN_BUDGET_BYTES,
            }
            .into());
        }
        let cache = Cache::new_lru_cache(bytes);
        // Memtables may take half the budget; their memory is reserved in the
        // cache, which evicts blocks to make room. No write stall: with many
        // databases a stalled writer could wait on another store's memtable.
        let write_buffers = WriteBufferManager::new_write_buffer_manager_with_cache(
            bytes / 2,
            false,
            cache.clone(),
        );
        Ok(Arc::new(RocksDbBudget {
            bytes,
            cache,
            write_buffers,
        }))
    }

    /// A budget of [`DEFAULT_BUDGET_BYTES`].
    pub fn with_default_size() -> weir_core::Result<Arc<Self>> {
        Self::new(DEFAULT_BUDGET_BYTES)
    }

    /// The budget in bytes (the shared cache's capacity).
    pub fn capacity(&self) -> usize {
        self.bytes
    }

    /// Bytes in use in the shared cache: cached blocks (data, index,
    /// filter) plus the memtable memory the write-buffer manager reserved in
    /// it. This is the figure the budget bounds.
    pub fn usage(&self) -> usize {
        self.cache.get_usage()
    }

    /// Bytes of the cache pinned by open iterators and pinned index/filter
    /// blocks (included in [`usage`](Self::usage)).
    pub fn pinned_usage(&self) -> usize {
        self.cache.get_pinned_usage()
    }

    /// Bytes of memtables across all stores, as the write-buffer manager
    /// counts them (already included in [`usage`](Self::usage)).
    pub fn memtable_usage(&self) -> usize {
        self.write_buffers.get_usage()
    }

    /// Whether the memtables of all stores hold more than their half of
    /// the budget (the write-buffer manager's size).
    pub(crate) fn memtables_over_share(&self) -> bool {
        self.memtable_usage() > self.bytes / 2
    }

    /// The write buffer of one store's data: a sixteenth of the budget,
    /// between 64 KiB and 64 MiB.
    fn data_write_buffer(&self) -> usize {
        (self.bytes / 16).clamp(64 << 10, 64 << 20)
    }

    /// The write buffer of a store whose writes are short-lived (see
    /// `KeyValueBytesStore::expect_short_lived_writes`): at most
    /// [`SHORT_LIVED_WRITE_BUFFER`], and no more than any other store's.
    pub(crate) fn short_lived_write_buffer(&self) -> usize {
        self.data_write_buffer().min(SHORT_LIVED_WRITE_BUFFER)
    }

    /// Options of one store's database, charged to this budget.
    pub(crate) fn db_options(&self) -> Options {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_write_buffer_manager(&self.write_buffers);
        // Data and offset column families reach disk together, so the files
        // agree with each other even without the WAL.
        opts.set_atomic_flush(true);
        // The log is written out at each commit, not at each write (see
        // `RocksDbBytesStore`).
        opts.set_manual_wal_flush(true);
        // What a file writer buffers (the log, between commits, and table
        // files): RocksDB's 1 MiB default grows into a megabyte per store;
        // a commit's log is usually far less.
        opts.set_writable_file_max_buffer_size(WRITABLE_FILE_BUFFER as u64);
        opts
    }

    /// Options of the data column family.
    pub(crate) fn data_cf_options(&self) -> Options {
        let mut opts = Options::default();
        opts.set_write_buffer_size(self.data_write_buffer());
        opts.set_max_write_buffer_number(2);
        opts.set_block_based_table_factory(&self.table_options(true));
        opts
    }

    /// Options of the small column family holding the changelog offset.
    pub(crate) fn meta_cf_options(&self) -> Options {
        let mut opts = Options::default();
        opts.set_write_buffer_size(META_WRITE_BUFFER);
        opts.set_max_write_buffer_number(2);
        opts.set_block_based_table_factory(&self.table_options(false));
        opts
    }

    /// Table options reading through the shared cache, with index and filter
    /// blocks charged to it.
    fn table_options(&self, bloom: bool) -> BlockBasedOptions {
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&self.cache);
        table.set_cache_index_and_filter_blocks(true);
        table.set_cache_index_and_filter_blocks_with_high_priority(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        if bloom {
            table.set_bloom_filter(10.0, false);
        }
        table
    }
}
