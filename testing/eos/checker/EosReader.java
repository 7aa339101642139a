// The exactly-once verifier's reader: Kafka's own Java consumer (kafka-clients
// 4.3.1, the jars testing/kafka/kafka resolves), isolation read_committed, so
// the verdict never rests on the client under test (librdkafka).
//
//   java -cp CLASSES:LIBS/* EosReader wait BOOTSTRAP EXPECTED TIMEOUT_S ECHO AGGS [GROUP SOURCE...]
//       Follows ECHO and AGGS (read_committed) until, for every key of the file
//       EXPECTED (lines "key count"), the echo output holds seq count-1 and the
//       aggregate output an update with last_seq count-1, and then (with GROUP)
//       until the consumer group GROUP's committed offset of every partition
//       of every SOURCE topic is at its end (so records of sources that only
//       feed state, like a join's table, are processed too). Exit 0 when
//       complete, 2 when TIMEOUT_S passed first. Progress goes to stderr.
//
//   java -cp CLASSES:LIBS/* EosReader dump BOOTSTRAP OUT TIMEOUT_S TOPIC[:windowed]...
//       Writes to OUT every committed record of each TOPIC, partition by
//       partition in offset order, as
//           R <tab> topic <tab> partition <tab> offset <tab> timestamp <tab> key <tab> value
//       A TOPIC given as "name:windowed" holds a windowed count: keys as Kafka
//       Streams' TimeWindowedSerde writes them (UTF-8 key || window start, 8
//       bytes big-endian), values 8-byte big-endian longs; its records are
//       written with the key as "key@start" and the value in decimal (a key or
//       value of another length as "!hex:<bytes in hex>", which the checker
//       counts wrong).
//       A TOPIC given as "name:raw" is written byte for byte, with its headers, as
//           X <tab> topic <tab> partition <tab> offset <tab> timestamp <tab> key hex <tab> value hex <tab> headers
//       (a null key or value as \N; headers as "name hex:value hex" joined by ",",
//       a null header value as "name hex:\N", no headers as "-").
//       and, for every partition of every non-internal topic of the cluster,
//           E <tab> topic <tab> partition <tab> read_committed end <tab> read_uncommitted end
//       (the last stable offset and the high watermark: they differ while a
//       transaction is open). Keys and values are UTF-8 with '\' '\t' '\n' '\r'
//       escaped as \\ \t \n \r; a null is written as \N. The last line is
//       "DONE <records>". Exit 0 on success, 1 on error or timeout.
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class EosReader {
    private EosReader() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            usage();
        }
        switch (args[0]) {
            case "wait":
                if (args.length < 6 || args.length == 7) usage();
                long deadline = System.nanoTime() + Long.parseLong(args[3]) * 1_000_000_000L;
                int status = waitComplete(args[1], Path.of(args[2]), Long.parseLong(args[3]), args[4], args[5]);
                if (status == 0 && args.length > 7) {
                    List<String> sources = new ArrayList<>();
                    for (int i = 7; i < args.length; i++) sources.add(args[i]);
                    status = waitCommitted(args[1], args[6], sources, deadline);
                }
                System.exit(status);
                break;
            case "dump":
                if (args.length < 5) usage();
                List<String> topics = new ArrayList<>();
                for (int i = 4; i < args.length; i++) topics.add(args[i]);
                System.exit(dump(args[1], Path.of(args[2]), Long.parseLong(args[3]), topics));
                break;
            default:
                usage();
        }
    }

    private static void usage() {
        System.err.println("usage: EosReader wait BOOTSTRAP EXPECTED TIMEOUT_S ECHO AGGS [GROUP SOURCE...] | dump BOOTSTRAP OUT TIMEOUT_S TOPIC[:windowed|:raw]...");
        System.exit(64);
    }

    private static KafkaConsumer<byte[], byte[]> consumer(String bootstrap, String isolation) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "weir-eos-reader-" + isolation);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "60000");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "30000");
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    private static List<TopicPartition> partitions(KafkaConsumer<byte[], byte[]> c, String topic) {
        List<PartitionInfo> infos = c.partitionsFor(topic, Duration.ofSeconds(60));
        List<TopicPartition> tps = new ArrayList<>();
        if (infos == null) return tps;
        for (PartitionInfo i : infos) tps.add(new TopicPartition(topic, i.partition()));
        tps.sort((a, b) -> Integer.compare(a.partition(), b.partition()));
        return tps;
    }

    private static String text(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    // The sequence number leading a value "seq,..." (input/echo "seq,amount",
    // aggregate "last_seq,count,sum,min,max"), or -1.
    private static long leadingNumber(byte[] value) {
        String v = text(value);
        if (v == null) return -1;
        int comma = v.indexOf(',');
        try {
            return Long.parseLong(comma < 0 ? v : v.substring(0, comma));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static int waitComplete(String bootstrap, Path expectedFile, long timeoutS, String echo, String aggs)
            throws IOException {
        Map<String, Long> expected = new HashMap<>();
        for (String line : Files.readAllLines(expectedFile, StandardCharsets.UTF_8)) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 2) expected.put(f[0], Long.parseLong(f[1]) - 1);
        }
        Map<String, Long> echoMax = new HashMap<>();
        Map<String, Long> aggMax = new HashMap<>();
        int echoDone = 0;
        int aggDone = 0;
        long deadline = System.nanoTime() + timeoutS * 1_000_000_000L;
        long nextReport = System.nanoTime();
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap, "read_committed")) {
            List<TopicPartition> tps = new ArrayList<>(partitions(c, echo));
            tps.addAll(partitions(c, aggs));
            c.assign(tps);
            c.seekToBeginning(tps);
            while (true) {
                if (echoDone == expected.size() && aggDone == expected.size()) {
                    System.err.printf("eos reader: outputs complete (%d keys)%n", expected.size());
                    return 0;
                }
                long now = System.nanoTime();
                if (now >= deadline) {
                    System.err.printf("eos reader: timed out after %ds: echo complete for %d of %d keys, aggregates for %d%n",
                            timeoutS, echoDone, expected.size(), aggDone);
                    return 2;
                }
                if (now >= nextReport) {
                    System.err.printf("eos reader: waiting: echo complete for %d of %d keys, aggregates for %d%n",
                            echoDone, expected.size(), aggDone);
                    nextReport = now + 10_000_000_000L;
                }
                ConsumerRecords<byte[], byte[]> records;
                try {
                    records = c.poll(Duration.ofMillis(500));
                } catch (RuntimeException e) {
                    System.err.println("eos reader: poll failed (retrying): " + e);
                    sleep(1000);
                    continue;
                }
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    String key = text(r.key());
                    if (key == null) continue;
                    Long want = expected.get(key);
                    if (want == null) continue;
                    long seq = leadingNumber(r.value());
                    boolean isEcho = r.topic().equals(echo);
                    Map<String, Long> max = isEcho ? echoMax : aggMax;
                    long before = max.getOrDefault(key, -1L);
                    if (seq > before) {
                        max.put(key, seq);
                        if (before < want && seq >= want) {
                            if (isEcho) echoDone++;
                            else aggDone++;
                        }
                    }
                }
            }
        }
    }

    // Waits until GROUP's committed offset of every partition of every SOURCE
    // is at that partition's end (read_committed). 0 when so, 2 at the deadline.
    private static int waitCommitted(String bootstrap, String group, List<String> sources, long deadline) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "weir-eos-reader-offsets");
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "60000");
        // Never subscribes or joins: it only fetches the group's committed offsets.
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (String s : sources) tps.addAll(partitions(c, s));
            long nextReport = System.nanoTime();
            while (true) {
                int behind = 0;
                long lag = 0;
                try {
                    Map<TopicPartition, Long> ends = c.endOffsets(tps);
                    Map<TopicPartition, org.apache.kafka.clients.consumer.OffsetAndMetadata> done =
                            c.committed(new java.util.HashSet<>(tps));
                    for (TopicPartition tp : tps) {
                        org.apache.kafka.clients.consumer.OffsetAndMetadata o = done.get(tp);
                        long at = o == null ? 0 : o.offset();
                        if (at < ends.get(tp)) {
                            behind++;
                            lag += ends.get(tp) - at;
                        }
                    }
                } catch (RuntimeException e) {
                    System.err.println("eos reader: offset fetch failed (retrying): " + e);
                    behind = -1;
                }
                if (behind == 0) {
                    System.err.printf("eos reader: group %s committed the end of %d source partitions%n", group, tps.size());
                    return 0;
                }
                long now = System.nanoTime();
                if (now >= deadline) {
                    System.err.printf("eos reader: timed out: group %s has %d source partitions not committed to their end (%d records)%n",
                            group, behind, lag);
                    return 2;
                }
                if (now >= nextReport) {
                    System.err.printf("eos reader: waiting: %d source partitions not committed to their end (%d records)%n", behind, lag);
                    nextReport = now + 10_000_000_000L;
                }
                sleep(500);
            }
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String escape(byte[] b) {
        if (b == null) return "\\N";
        String s = text(b);
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            switch (ch) {
                case '\\': out.append("\\\\"); break;
                case '\t': out.append("\\t"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                default: out.append(ch);
            }
        }
        return out.toString();
    }

    private static String hex(byte[] b) {
        StringBuilder out = new StringBuilder("!hex:");
        for (byte x : b) out.append(String.format("%02x", x & 0xff));
        return out.toString();
    }

    // Bytes in hex without a prefix; null as \N.
    private static String rawHex(byte[] b) {
        if (b == null) return "\\N";
        StringBuilder out = new StringBuilder(b.length * 2);
        for (byte x : b) out.append(String.format("%02x", x & 0xff));
        return out.toString();
    }

    // A record's headers as "name hex:value hex" joined by ","; "-" for none.
    private static String headers(ConsumerRecord<byte[], byte[]> r) {
        StringBuilder out = new StringBuilder();
        for (org.apache.kafka.common.header.Header h : r.headers()) {
            if (out.length() > 0) out.append(',');
            out.append(rawHex(h.key().getBytes(StandardCharsets.UTF_8))).append(':').append(rawHex(h.value()));
        }
        return out.length() == 0 ? "-" : out.toString();
    }

    private static long bigEndian(byte[] b, int from) {
        long v = 0;
        for (int i = from; i < from + 8; i++) v = (v << 8) | (b[i] & 0xffL);
        return v;
    }

    // A TimeWindowedSerde key (UTF-8 key || start, 8 bytes big-endian) as "key@start".
    private static String windowedKey(byte[] b) {
        if (b == null) return "\\N";
        if (b.length < 8) return hex(b);
        byte[] key = java.util.Arrays.copyOf(b, b.length - 8);
        return escape(key) + "@" + bigEndian(b, b.length - 8);
    }

    // A Serdes.Long() value in decimal.
    private static String longValue(byte[] b) {
        if (b == null) return "\\N";
        if (b.length != 8) return hex(b);
        return Long.toString(bigEndian(b, 0));
    }

    private static int dump(String bootstrap, Path out, long timeoutS, List<String> topicArgs) throws IOException {
        long deadline = System.nanoTime() + timeoutS * 1_000_000_000L;
        long total = 0;
        try (KafkaConsumer<byte[], byte[]> committed = consumer(bootstrap, "read_committed");
                KafkaConsumer<byte[], byte[]> uncommitted = consumer(bootstrap, "read_uncommitted");
                BufferedWriter w = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
            for (String arg : topicArgs) {
                boolean windowed = arg.endsWith(":windowed");
                boolean raw = arg.endsWith(":raw");
                String topic = windowed ? arg.substring(0, arg.length() - ":windowed".length())
                        : raw ? arg.substring(0, arg.length() - ":raw".length()) : arg;
                List<TopicPartition> tps = partitions(committed, topic);
                if (tps.isEmpty()) {
                    System.err.println("eos reader: topic " + topic + " does not exist");
                    return 1;
                }
                for (TopicPartition tp : tps) {
                    // One partition at a time, so the file is in (partition, offset) order.
                    committed.assign(List.of(tp));
                    committed.seekToBeginning(List.of(tp));
                    long end = committed.endOffsets(List.of(tp)).get(tp);
                    while (committed.position(tp) < end) {
                        if (System.nanoTime() >= deadline) {
                            System.err.printf("eos reader: timed out reading %s at %d of %d%n", tp, committed.position(tp), end);
                            return 1;
                        }
                        for (ConsumerRecord<byte[], byte[]> r : committed.poll(Duration.ofMillis(500))) {
                            if (r.offset() >= end) continue;
                            if (raw) {
                                w.write("X\t" + r.topic() + "\t" + r.partition() + "\t" + r.offset() + "\t"
                                        + r.timestamp() + "\t" + rawHex(r.key()) + "\t" + rawHex(r.value()) + "\t"
                                        + headers(r) + "\n");
                                total++;
                                continue;
                            }
                            String key = windowed ? windowedKey(r.key()) : escape(r.key());
                            String value = windowed ? longValue(r.value()) : escape(r.value());
                            w.write("R\t" + r.topic() + "\t" + r.partition() + "\t" + r.offset() + "\t"
                                    + r.timestamp() + "\t" + key + "\t" + value + "\n");
                            total++;
                        }
                    }
                }
            }
            committed.unsubscribe();
            // Transaction state: the last stable offset against the high watermark.
            Map<String, List<PartitionInfo>> all = committed.listTopics(Duration.ofSeconds(60));
            List<TopicPartition> every = new ArrayList<>();
            for (Map.Entry<String, List<PartitionInfo>> e : new TreeMap<>(all).entrySet()) {
                if (e.getKey().startsWith("__")) continue;
                for (PartitionInfo i : e.getValue()) every.add(new TopicPartition(e.getKey(), i.partition()));
            }
            every.sort((a, b) -> a.topic().equals(b.topic())
                    ? Integer.compare(a.partition(), b.partition()) : a.topic().compareTo(b.topic()));
            Map<TopicPartition, Long> lso = committed.endOffsets(every);
            Map<TopicPartition, Long> hw = uncommitted.endOffsets(every);
            for (TopicPartition tp : every) {
                w.write("E\t" + tp.topic() + "\t" + tp.partition() + "\t" + lso.get(tp) + "\t" + hw.get(tp) + "\n");
            }
            w.write("DONE " + total + "\n");
        } catch (RuntimeException e) {
            System.err.println("eos reader: " + e);
            return 1;
        }
        return 0;
    }
}
