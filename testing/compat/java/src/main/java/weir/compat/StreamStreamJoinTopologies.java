package weir.compat;

import static weir.compat.Topologies.S;

import java.time.Duration;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.ValueJoiner;

/**
 * The suite's stream-stream join topologies (Kafka Streams side), by id; the
 * twins are in testing/compat/src/topologies/stream_stream_joins.rs. Inner,
 * left and outer joins of "in" (left) and "in2" (right), string keys and
 * values, with the joiner of Kafka Streams' own join tests
 * (MockValueJoiner.TOSTRING_JOINER: left + "+" + right), and self joins of "in".
 */
final class StreamStreamJoinTopologies {
    private StreamStreamJoinTopologies() {}

    private static final ValueJoiner<String, String, String> JOINER = (l, r) -> l + "+" + r;

    static boolean build(String id, StreamsBuilder b) {
        switch (id) {
            case "ss-inner-100": return join(b, "inner", 100, 100, 0);
            case "ss-inner-100-g24h": return join(b, "inner", 100, 100, 86_400_000L);
            case "ss-inner-after100": return join(b, "inner", 0, 100, 0);
            case "ss-inner-before100": return join(b, "inner", 100, 0, 0);
            case "ss-left-100": return join(b, "left", 100, 100, 0);
            case "ss-left-100-g10": return join(b, "left", 100, 100, 10);
            case "ss-left-after0": return join(b, "left", 100, 0, 0);
            case "ss-left-before0": return join(b, "left", 0, 100, 0);
            case "ss-left-named": return join(b, "left-named", 100, 100, 10);
            case "ss-outer-100": return join(b, "outer", 100, 100, 0);
            case "ss-outer-100-g10": return join(b, "outer", 100, 100, 10);
            case "ss-outer-100-g24h": return join(b, "outer", 100, 100, 86_400_000L);
            case "ss-outer-5-after20": return join(b, "outer", 5, 20, 0);
            case "ss-outer-after0": return join(b, "outer", 100, 0, 0);
            case "ss-outer-before0": return join(b, "outer", 0, 100, 0);
            case "ss-self-100": return join(b, "self", 100, 100, 0);
            case "ss-self-11s-g10s": return join(b, "self", 11_000, 11_000, 10_000);
            case "ss-self-10s": return join(b, "self", 10_000, 10_000, 0);
            default: return false;
        }
    }

    private static boolean join(StreamsBuilder b, String kind, long before, long after, long grace) {
        JoinWindows windows = JoinWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(before), Duration.ofMillis(grace))
                .after(Duration.ofMillis(after));
        StreamJoined<String, String, String> joined = StreamJoined.with(S, S, S);
        KStream<String, String> left = b.stream("in", Consumed.with(S, S));
        KStream<String, String> out;
        switch (kind) {
            case "inner":
                out = left.join(right(b), JOINER, windows, joined);
                break;
            case "left":
                out = left.leftJoin(right(b), JOINER, windows, joined);
                break;
            case "left-named":
                out = left.leftJoin(right(b), JOINER, windows, joined.withName("ss").withStoreName("ss-store"));
                break;
            case "outer":
                out = left.outerJoin(right(b), JOINER, windows, joined);
                break;
            default:
                out = left.join(left, JOINER, windows, joined);
                break;
        }
        out.to("out", Produced.with(S, S));
        return true;
    }

    private static KStream<String, String> right(StreamsBuilder b) {
        return b.stream("in2", Consumed.with(S, S));
    }
}
