package weir.bench;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The Kafka Streams peer of Weir's benchmark apps (testing/bench/src/apps.rs), run as a child
 * process of weir-bench:
 *
 * <pre>
 * java -cp 'lib/*:weir-kstreams-peer.jar' weir.bench.KStreamsPeer MODE key=value...
 * </pre>
 *
 * <p>MODE is one of
 *
 * <ul>
 *   <li>{@code passthrough}: stream (typed JSON, Jackson) -> filter (value >= 10) -> mapValues
 *       (Celsius to Fahrenheit, mark processed) -> to; runs until SIGTERM, then closes gracefully
 *       (leaving the group);
 *   <li>{@code count}: stream -> groupByKey -> count (RocksDB store "counts", changelogged) ->
 *       toStream -> to; runs until SIGTERM, then closes gracefully;
 *   <li>{@code windowed-count}: stream -> groupByKey -> windowedBy (1-minute tumbling windows, no
 *       grace) -> count (RocksDB window store "windowed-counts", changelogged) -> toStream -> to
 *       (time-windowed String keys); runs until SIGTERM, then closes gracefully;
 *   <li>{@code stream-table-join}: table (the topic {@code other}, RocksDB store "table-rows",
 *       changelogged) and stream (the input) -> join (inner; the event's value, "|", the row) -> to;
 *       runs until SIGTERM, then closes gracefully;
 *   <li>{@code stream-stream-join}: stream (the input) join stream (the topic {@code other}) in a
 *       window of 1 s either way, no grace (inner; the left value, "|", the right value; RocksDB
 *       window stores named from "pairs", changelogged) -> to; runs until SIGTERM, then
 *       closes gracefully;
 *   <li>{@code restore}: the count application started on an empty state directory; prints {@code
 *       DONE processed=0 restored=N restore_us=U settled_ms=S} once every store restoration it
 *       started has ended and the application is RUNNING, waits until its stdin closes, then
 *       closes.
 * </ul>
 *
 * <p>Keys: {@code bootstrap}, {@code input}, {@code output}, {@code app.id}, {@code commit.ms},
 * {@code guarantee} (at_least_once | exactly_once_v2), {@code state.dir}, {@code budget.bytes}
 * (the RocksDB memory budget shared by every store, see {@link BoundedMemoryRocksDbConfig}),
 * {@code threads}, {@code linger.ms}, {@code other} (the joins' second input topic).
 */
public final class KStreamsPeer {
    /** Bound on the restore mode's own wait. */
    private static final Duration RESTORE_LIMIT = Duration.ofMinutes(15);
    /** In restore mode: how long to wait in RUNNING with nothing restored before reporting. */
    private static final Duration NOTHING_RESTORED_LIMIT = Duration.ofSeconds(60);
    /** Graceful close bound. */
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(60);
    /**
     * A graceful close that leaves the consumer group, as Weir's (librdkafka's) close does: by
     * default Kafka Streams stays in the group until its session times out, and the restore run
     * that follows on the same application id would wait for that.
     */
    private static final CloseOptions LEAVE_GROUP =
            CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                    .withTimeout(CLOSE_TIMEOUT);

    private KStreamsPeer() {}

    public static void main(String[] argv) throws Exception {
        if (argv.length < 1) {
            die("usage: KStreamsPeer passthrough|count|restore|windowed-count|stream-table-join|stream-stream-join key=value...");
        }
        String mode = argv[0];
        Map<String, String> args = new HashMap<>();
        for (int i = 1; i < argv.length; i++) {
            int eq = argv[i].indexOf('=');
            if (eq <= 0) {
                die("bad argument '" + argv[i] + "' (want key=value)");
            }
            args.put(argv[i].substring(0, eq), argv[i].substring(eq + 1));
        }
        Topology topology;
        switch (mode) {
            case "passthrough":
                topology = passThrough(need(args, "input"), need(args, "output"));
                break;
            case "count":
            case "restore":
                topology = count(need(args, "input"), need(args, "output"));
                break;
            case "windowed-count":
                topology = windowedCount(need(args, "input"), need(args, "output"));
                break;
            case "stream-table-join":
                topology = streamTableJoin(need(args, "input"), need(args, "other"), need(args, "output"));
                break;
            case "stream-stream-join":
                topology = streamStreamJoin(need(args, "input"), need(args, "other"), need(args, "output"));
                break;
            default:
                die("unknown mode '" + mode + "'");
                return;
        }
        Properties props = config(args);
        KafkaStreams streams = new KafkaStreams(topology, props);
        if (mode.equals("restore")) {
            System.exit(restore(streams));
        } else {
            System.exit(serve(streams));
        }
    }

    static Topology passThrough(String input, String output) {
        StreamsBuilder builder = new StreamsBuilder();
        JsonSerde<Reading> json = new JsonSerde<>(Reading.class);
        builder.stream(input, Consumed.with(Serdes.String(), json))
                .filter((k, r) -> r.value >= Reading.THRESHOLD, Named.as("bench-filter"))
                .mapValues(Reading::enrich, Named.as("bench-enrich"))
                .to(output, Produced.with(Serdes.String(), json));
        return builder.build();
    }

    static Topology count(String input, String output) {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .groupByKey()
                .count(
                        Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("counts")
                                .withKeySerde(Serdes.String())
                                .withValueSerde(Serdes.Long())
                                .withCachingDisabled())
                .toStream()
                .to(output, Produced.with(Serdes.String(), Serdes.Long()));
        return builder.build();
    }

    /** The window of the windowed count: one minute (Weir's apps.rs: WINDOW_MS). */
    static final Duration WINDOW = Duration.ofMinutes(1);

    static Topology windowedCount(String input, String output) {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .groupByKey()
                .windowedBy(TimeWindows.ofSizeWithNoGrace(WINDOW))
                .count(
                        Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("windowed-counts")
                                .withKeySerde(Serdes.String())
                                .withValueSerde(Serdes.Long())
                                .withCachingDisabled())
                .toStream()
                .to(
                        output,
                        Produced.with(
                                WindowedSerdes.timeWindowedSerdeFrom(String.class, WINDOW.toMillis()),
                                Serdes.Long()));
        return builder.build();
    }

    /** The stream-table join: events (input) enriched from the table (other). */
    static Topology streamTableJoin(String input, String table, String output) {
        StreamsBuilder builder = new StreamsBuilder();
        KTable<String, String> rows =
                builder.table(
                        table,
                        Consumed.with(Serdes.String(), Serdes.String()),
                        Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("table-rows")
                                .withKeySerde(Serdes.String())
                                .withValueSerde(Serdes.String())
                                .withCachingDisabled());
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .join(
                        rows,
                        (event, row) -> event + "|" + row,
                        Joined.with(Serdes.String(), Serdes.String(), Serdes.String()))
                .to(output, Produced.with(Serdes.String(), Serdes.String()));
        return builder.build();
    }

    /** The stream-stream join's window: 1 s either way (Weir's joins.rs: PAIR_WINDOW). */
    static final Duration PAIR_WINDOW = Duration.ofSeconds(1);

    /** The stream-stream join: the input (left) and other (right) in a 1 s window, no grace. */
    static Topology streamStreamJoin(String left, String right, String output) {
        StreamsBuilder builder = new StreamsBuilder();
        KStream<String, String> l = builder.stream(left, Consumed.with(Serdes.String(), Serdes.String()));
        KStream<String, String> r = builder.stream(right, Consumed.with(Serdes.String(), Serdes.String()));
        l.join(
                        r,
                        (lv, rv) -> lv + "|" + rv,
                        JoinWindows.ofTimeDifferenceWithNoGrace(PAIR_WINDOW),
                        StreamJoined.with(Serdes.String(), Serdes.String(), Serdes.String())
                                .withStoreName("pairs"))
                .to(output, Produced.with(Serdes.String(), Serdes.String()));
        return builder.build();
    }

    static Properties config(Map<String, String> args) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, need(args, "app.id"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, need(args, "bootstrap"));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, args.getOrDefault("threads", "1"));
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, need(args, "commit.ms"));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, need(args, "guarantee"));
        p.put(StreamsConfig.STATE_DIR_CONFIG, need(args, "state.dir"));
        // Weir's stores in the benchmark have no record cache: none here either.
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
        p.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedMemoryRocksDbConfig.class);
        p.put(BoundedMemoryRocksDbConfig.BUDGET_CONFIG, args.getOrDefault("budget.bytes", "268435456"));
        // The client settings of Weir's runtime and the raw copier.
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), args.getOrDefault("linger.ms", "10"));
        p.put(StreamsConfig.producerPrefix(ProducerConfig.ACKS_CONFIG), "all");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG), "true");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        return p;
    }

    /** Runs until SIGTERM (the JVM's shutdown hook closes gracefully) or an error. */
    static int serve(KafkaStreams streams) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        streams.setUncaughtExceptionHandler(
                e -> {
                    failure.compareAndSet(null, e);
                    return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
                });
        streams.setStateListener(
                (now, before) -> {
                    if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                        stopped.countDown();
                    }
                });
        Runtime.getRuntime()
                .addShutdownHook(
                        new Thread(
                                () -> {
                                    streams.close(LEAVE_GROUP);
                                    stopped.countDown();
                                }));
        streams.start();
        stopped.await();
        Throwable e = failure.get();
        if (e != null) {
            System.err.println("kstreams-peer: " + e);
            return 1;
        }
        return 0;
    }

    /** Restore mode: see the class comment. */
    static int restore(KafkaStreams streams) throws InterruptedException, IOException {
        AtomicLong started = new AtomicLong();
        AtomicLong ended = new AtomicLong();
        AtomicLong restored = new AtomicLong();
        AtomicLong firstStartNs = new AtomicLong(0);
        AtomicLong lastEndNs = new AtomicLong(0);
        streams.setGlobalStateRestoreListener(
                new StateRestoreListener() {
                    @Override
                    public void onRestoreStart(TopicPartition tp, String store, long start, long end) {
                        firstStartNs.compareAndSet(0, System.nanoTime());
                        started.incrementAndGet();
                    }

                    @Override
                    public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long n) {
                        restored.addAndGet(n);
                    }

                    @Override
                    public void onRestoreEnd(TopicPartition tp, String store, long total) {
                        lastEndNs.set(System.nanoTime());
                        ended.incrementAndGet();
                    }
                });
        AtomicReference<Throwable> failure = new AtomicReference<>();
        streams.setUncaughtExceptionHandler(
                e -> {
                    failure.compareAndSet(null, e);
                    return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
                });
        long t0 = System.nanoTime();
        streams.start();
        long runningSince = 0;
        String done = null;
        while (done == null) {
            if (failure.get() != null) {
                System.err.println("kstreams-peer: " + failure.get());
                streams.close(CLOSE_TIMEOUT);
                return 1;
            }
            boolean running = streams.state() == KafkaStreams.State.RUNNING;
            long now = System.nanoTime();
            if (running && runningSince == 0) {
                runningSince = now;
            } else if (!running) {
                runningSince = 0;
            }
            boolean finished = started.get() > 0 && ended.get() >= started.get();
            boolean gaveUp = runningSince != 0 && now - runningSince >= NOTHING_RESTORED_LIMIT.toNanos();
            if ((running && finished) || gaveUp || now - t0 >= RESTORE_LIMIT.toNanos()) {
                long restoreUs = finished ? (lastEndNs.get() - firstStartNs.get()) / 1000 : 0;
                long settledMs =
                        ProcessHandle.current()
                                .info()
                                .startInstant()
                                .map(s -> Duration.between(s, Instant.now()).toMillis())
                                .orElse(-1L);
                done =
                        "DONE processed=0 restored=" + restored.get() + " restore_us=" + restoreUs
                                + " settled_ms=" + Math.max(settledMs, 0);
                break;
            }
            Thread.sleep(10);
        }
        System.out.println(done);
        System.out.flush();
        InputStream in = System.in;
        byte[] sink = new byte[4096];
        while (in.read(sink) >= 0) {
            // Wait for the bench to close our stdin.
        }
        streams.close(LEAVE_GROUP);
        return 0;
    }

    static String need(Map<String, String> args, String key) {
        String v = args.get(key);
        if (v == null || v.isEmpty()) {
            die("missing argument " + key + "=...");
        }
        return v;
    }

    static void die(String message) {
        System.err.println("kstreams-peer: " + message);
        System.exit(2);
    }
}
