package weir.bench;

import java.util.Map;
import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.WriteBufferManager;

/**
 * Bounds the memory of every RocksDB store of the process, as Kafka Streams' memory-management
 * documentation describes, with the same split as Weir's {@code RocksDbBudget}
 * (framework/rocksdb/src/budget.rs): one LRU block cache of the whole budget shared by every
 * store, index and filter blocks charged to it (high priority, top level pinned), and one write
 * buffer manager charged to that cache (the high-priority pool at RocksDB's default half of the
 * cache, as Weir's cache gets) that lets memtables take half the budget; each store's
 * memtable is a sixteenth of the budget (64 KiB..64 MiB), at most two of them.
 */
public final class BoundedMemoryRocksDbConfig implements RocksDBConfigSetter {
    /** The budget in bytes, read from the application's configuration. */
    public static final String BUDGET_CONFIG = "weir.bench.rocksdb.budget.bytes";

    private static Cache cache;
    private static WriteBufferManager writeBufferManager;
    private static long budget;

    private static synchronized void init(long bytes) {
        if (cache == null) {
            budget = bytes;
            cache = new LRUCache(bytes, -1, false, 0.5);
            writeBufferManager = new WriteBufferManager(bytes / 2, cache);
        }
    }

    @Override
    public void setConfig(String storeName, Options options, Map<String, Object> configs) {
        Object v = configs.get(BUDGET_CONFIG);
        init(v == null ? 256L << 20 : Long.parseLong(v.toString()));
        BlockBasedTableConfig table = (BlockBasedTableConfig) options.tableFormatConfig();
        table.setBlockCache(cache);
        table.setCacheIndexAndFilterBlocks(true);
        table.setCacheIndexAndFilterBlocksWithHighPriority(true);
        table.setPinTopLevelIndexAndFilter(true);
        options.setWriteBufferManager(writeBufferManager);
        options.setWriteBufferSize(Math.max(64L << 10, Math.min(64L << 20, budget / 16)));
        options.setMaxWriteBufferNumber(2);
        options.setTableFormatConfig(table);
    }

    @Override
    public void close(String storeName, Options options) {
        // The cache and write buffer manager are shared by every store: never closed here.
    }
}
