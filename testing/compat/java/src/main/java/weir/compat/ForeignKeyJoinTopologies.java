package weir.compat;

import static weir.compat.Topologies.S;
import static weir.compat.Topologies.mat;

import java.util.function.Function;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TableJoined;
import org.apache.kafka.streams.kstream.ValueJoiner;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Foreign-key table-table joins (Kafka Streams side), after its
 * KTableKTableForeignKeyJoinIntegrationTest; the twins are in
 * testing/compat/src/topologies/foreign_key_joins.rs. Tables "left" and
 * "right" of strings (stores "left-store", "right-store"); a left value
 * "text|fk" refers to the right row "fk" (no "|", or nothing after it: a
 * null foreign key); the joiner writes "(left,right)"; the join is named
 * "fk"; results to "out". "fk-join-chain" (after
 * KTableKTableForeignKeyInnerJoinMultiIntegrationTest) joins that result (store
 * "store") again, with table "third", by the right value in it ("(left,right)"
 * refers to "right"), in join "fk2" (store "store2"), writing "[result|third]".
 */
final class ForeignKeyJoinTopologies {
    private ForeignKeyJoinTopologies() {}

    private static KTable<String, String> table(StreamsBuilder b, String topic) {
        return b.table(topic, Consumed.with(S, S), mat(topic + "-store", S, S));
    }

    private static final Function<String, String> FOREIGN_KEY = v -> {
        String[] parts = v.split("\\|", -1);
        return parts.length > 1 && !parts[1].isEmpty() ? parts[1] : null;
    };

    private static final ValueJoiner<String, String, String> JOINER = (v, o) -> "(" + v + "," + o + ")";

    private static final Function<String, String> RIGHT_VALUE = v -> {
        int comma = v.lastIndexOf(',');
        if (comma < 0) {
            return null;
        }
        String right = v.substring(comma + 1);
        if (right.endsWith(")")) {
            right = right.substring(0, right.length() - 1);
        }
        return right.isEmpty() ? null : right;
    };

    static boolean build(String id, StreamsBuilder b) {
        if (id.equals("fk-join-chain")) {
            KTable<String, String> first = table(b, "left").join(table(b, "right"), FOREIGN_KEY, JOINER,
                    TableJoined.as("fk"), mat("store", S, S).withCachingDisabled());
            first.join(table(b, "third"), RIGHT_VALUE, (v, o) -> "[" + v + "|" + o + "]",
                            TableJoined.as("fk2"), mat("store2", S, S).withCachingDisabled())
                    .toStream()
                    .to("out", Produced.with(S, S));
            return true;
        }
        boolean leftJoin;
        boolean materialized;
        switch (id) {
            case "fk-join":
                leftJoin = false;
                materialized = true;
                break;
            case "fk-join-unmaterialized":
                leftJoin = false;
                materialized = false;
                break;
            case "fk-left-join":
                leftJoin = true;
                materialized = true;
                break;
            case "fk-left-join-unmaterialized":
                leftJoin = true;
                materialized = false;
                break;
            default:
                return false;
        }
        KTable<String, String> left = table(b, "left");
        KTable<String, String> right = table(b, "right");
        Materialized<String, String, KeyValueStore<Bytes, byte[]>> result = materialized
                ? mat("store", S, S).withCachingDisabled()
                : Materialized.<String, String, KeyValueStore<Bytes, byte[]>>with(S, S);
        KTable<String, String> joined = leftJoin
                ? left.leftJoin(right, FOREIGN_KEY, JOINER, TableJoined.as("fk"), result)
                : left.join(right, FOREIGN_KEY, JOINER, TableJoined.as("fk"), result);
        joined.toStream().to("out", Produced.with(S, S));
        return true;
    }
}
