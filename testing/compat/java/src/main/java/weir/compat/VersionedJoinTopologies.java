package weir.compat;

import static weir.compat.Topologies.S;

import java.time.Duration;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.Stores;

/**
 * Versioned tables and the stream-table join over them, with and without a
 * grace period (Kafka Streams side); the twins are in
 * testing/compat/src/topologies/versioned_joins.rs. The stream is "in", the
 * table "in2" (string keys and values, in a versioned store); the joiner
 * writes "stream+table" ("null" for no row).
 */
final class VersionedJoinTopologies {
    private VersionedJoinTopologies() {}

    static KTable<String, String> versioned(StreamsBuilder b, String topic, String name, long historyMs) {
        return b.table(topic, Consumed.with(S, S),
                Materialized.<String, String>as(Stores.persistentVersionedKeyValueStore(name, Duration.ofMillis(historyMs)))
                        .withKeySerde(S).withValueSerde(S));
    }

    static Joined<String, String, String> joined(String name, Long graceMs) {
        Joined<String, String, String> j = Joined.with(S, S, S).withName(name);
        return graceMs == null ? j : j.withGracePeriod(Duration.ofMillis(graceMs));
    }

    static void innerJoin(StreamsBuilder b, long historyMs, Long graceMs) {
        KTable<String, String> t = versioned(b, "in2", "vt", historyMs);
        b.stream("in", Consumed.with(S, S))
                .join(t, (v, row) -> v + "+" + row, joined("vjoin", graceMs))
                .to("out", Produced.with(S, S));
    }

    static void leftJoin(StreamsBuilder b, long historyMs, Long graceMs) {
        KTable<String, String> t = versioned(b, "in2", "vt", historyMs);
        b.stream("in", Consumed.with(S, S))
                .leftJoin(t, (v, row) -> v + "+" + row, joined("vjoin", graceMs))
                .to("out", Produced.with(S, S));
    }

    static boolean build(String id, StreamsBuilder b) {
        switch (id) {
            case "versioned-table-source":
                versioned(b, "in", "vt", 10).toStream().to("out", Produced.with(S, S));
                return true;
            case "versioned-join":
                innerJoin(b, 300_000, null);
                return true;
            case "versioned-left-join":
                leftJoin(b, 300_000, null);
                return true;
            case "versioned-join-grace":
                innerJoin(b, 300_000, 2L);
                return true;
            case "versioned-left-join-grace":
                leftJoin(b, 300_000, 2L);
                return true;
            case "versioned-join-short-history":
                innerJoin(b, 10, null);
                return true;
            case "versioned-table-table-join":
                versioned(b, "in", "vt", 300_000)
                        .join(versioned(b, "in2", "vt2", 300_000), (v, o) -> v + "+" + o)
                        .toStream().to("out", Produced.with(S, S));
                return true;
            default:
                return false;
        }
    }
}
