package weir.compat;

import static weir.compat.Topologies.L;
import static weir.compat.Topologies.S;
import static weir.compat.Topologies.mat;

import java.time.Duration;
import java.util.Collections;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.ValueJoiner;

/**
 * The topologies of Kafka Streams' shared join integration script
 * (AbstractJoinIntegrationTest and its StreamStreamJoinIntegrationTest,
 * StreamTableJoinIntegrationTest and TableTableJoinIntegrationTest), Kafka
 * Streams side; the twins are in testing/compat/src/topologies/join_script.rs.
 *
 * <p>Inputs "inputTopicLeft" and "inputTopicRight", output "outputTopic", long
 * keys and string values; the joiner writes {@code left + "-" + right} (a
 * missing side as "null"). Where Kafka Streams' tests rely on default serdes and
 * generated names, these give the serdes and name the stores and joins, as Weir
 * requires: the names change no output.
 */
final class JoinScriptTopologies {
    static final String LEFT = "inputTopicLeft";
    static final String RIGHT = "inputTopicRight";
    static final String OUT = "outputTopic";

    /** The script's joiner: both values with a dash, a missing one as "null". */
    static final ValueJoiner<String, String, String> JOINER = (l, r) -> l + "-" + r;

    /** The script's window: 10 s either way, 24 h of grace. */
    static JoinWindows window() {
        return JoinWindows.ofTimeDifferenceAndGrace(Duration.ofSeconds(10), Duration.ofHours(24));
    }

    private JoinScriptTopologies() {}

    static KStream<Long, String> stream(StreamsBuilder b, String topic) {
        return b.stream(topic, Consumed.with(L, S));
    }

    static KTable<Long, String> table(StreamsBuilder b, String topic, String store) {
        return b.table(topic, Consumed.with(L, S), mat(store, L, S).withLoggingDisabled());
    }

    static StreamJoined<Long, String, String> joined(String name) {
        return StreamJoined.with(L, S, S).withName(name).withStoreName(name + "-store");
    }

    /** The left stream re-keyed by a map that keeps the key (the test's no-op mapper). */
    static KStream<Long, String> rekeyedLeft(StreamsBuilder b) {
        return stream(b, LEFT).map(KeyValue::pair);
    }

    /** The right stream re-keyed by a no-op flatMap then a selectKey of the key. */
    static KStream<Long, String> rekeyedRight(StreamsBuilder b) {
        return stream(b, RIGHT)
                .flatMap((k, v) -> Collections.singletonList(KeyValue.pair(k, v)))
                .selectKey((k, v) -> k);
    }

    static void out(KStream<Long, String> s) {
        s.to(OUT, Produced.with(L, S));
    }

    static boolean build(String id, StreamsBuilder b) {
        switch (id) {
            // StreamTableJoinIntegrationTest
            case "script-stream-table-inner":
                out(stream(b, LEFT).join(table(b, RIGHT, "right"), JOINER, Joined.with(L, S, S).withName("st")));
                return true;
            case "script-stream-table-left":
                out(stream(b, LEFT).leftJoin(table(b, RIGHT, "right"), JOINER, Joined.with(L, S, S).withName("st")));
                return true;
            // StreamStreamJoinIntegrationTest
            case "script-stream-stream-self": {
                KStream<Long, String> left = stream(b, LEFT);
                out(left.join(left, JOINER, window(), joined("self")));
                return true;
            }
            case "script-stream-stream-inner":
                out(stream(b, LEFT).join(stream(b, RIGHT), JOINER, window(), joined("ss")));
                return true;
            case "script-stream-stream-inner-repartitioned":
                out(rekeyedLeft(b).join(rekeyedRight(b), JOINER, window(), joined("ss")));
                return true;
            case "script-stream-stream-left":
                out(stream(b, LEFT).leftJoin(stream(b, RIGHT), JOINER, window(), joined("ss")));
                return true;
            case "script-stream-stream-left-repartitioned":
                out(rekeyedLeft(b).leftJoin(rekeyedRight(b), JOINER, window(), joined("ss")));
                return true;
            case "script-stream-stream-outer":
                out(stream(b, LEFT).outerJoin(stream(b, RIGHT), JOINER, window(), joined("ss")));
                return true;
            case "script-stream-stream-outer-repartitioned":
                out(rekeyedLeft(b).outerJoin(rekeyedRight(b), JOINER, window(), joined("ss")));
                return true;
            case "script-stream-stream-multi-inner": {
                KStream<Long, String> right = stream(b, RIGHT);
                out(stream(b, LEFT)
                        .join(right, JOINER, window(), joined("ss1"))
                        .join(right, JOINER, window(), joined("ss2")));
                return true;
            }
            // TableTableJoinIntegrationTest
            case "script-table-table-inner":
                table(b, LEFT, "left")
                        .join(table(b, RIGHT, "right"), JOINER, tableStore())
                        .toStream()
                        .to(OUT, Produced.with(L, S));
                return true;
            case "script-table-table-left":
                table(b, LEFT, "left")
                        .leftJoin(table(b, RIGHT, "right"), JOINER, tableStore())
                        .toStream()
                        .to(OUT, Produced.with(L, S));
                return true;
            case "script-table-table-outer":
                table(b, LEFT, "left")
                        .outerJoin(table(b, RIGHT, "right"), JOINER, tableStore())
                        .toStream()
                        .to(OUT, Produced.with(L, S));
                return true;
            default:
                return false;
        }
    }

    /** The join result's store, as the table-table test materializes it: no cache, no changelog. */
    static org.apache.kafka.streams.kstream.Materialized<Long, String,
            org.apache.kafka.streams.state.KeyValueStore<org.apache.kafka.common.utils.Bytes, byte[]>> tableStore() {
        return mat("table-store", L, S).withCachingDisabled().withLoggingDisabled();
    }
}
