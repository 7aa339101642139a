package weir.compat;

import static weir.compat.Topologies.S;

import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KeyValueMapper;
import org.apache.kafka.streams.kstream.Produced;

/**
 * The suite's stream-global join topologies (Kafka Streams side), by id; the
 * twins are in testing/compat/src/topologies/global_joins.rs. Stream "in" is
 * joined with the global table of topic "global" (store "global-store"),
 * string keys and values, into "out"; joined values are
 * "streamValue+tableValue", as MockValueJoiner.TOSTRING_JOINER makes them.
 */
final class GlobalJoinTopologies {
    private GlobalJoinTopologies() {}

    /** The second comma-separated token of the value (KStreamGlobalKTableJoinTest). */
    static final KeyValueMapper<String, String, String> TOKEN = (k, v) -> {
        if (v == null) {
            return null;
        }
        String[] tokens = v.split(",");
        return tokens.length > 1 ? tokens[1] : null;
    };

    /** The value itself (GlobalKTableJoinsTest). */
    static final KeyValueMapper<String, String, String> VALUE = (k, v) -> v;

    /** The stream's key. */
    static final KeyValueMapper<String, String, String> KEY = (k, v) -> k;

    static GlobalKTable<String, String> global(StreamsBuilder b) {
        return b.globalTable("global", Consumed.with(S, S), Topologies.mat("global-store", S, S));
    }

    static boolean build(String id, StreamsBuilder b) {
        KeyValueMapper<String, String, String> mapper;
        boolean left;
        boolean globalFirst;
        switch (id) {
            case "global-join-token": mapper = TOKEN; left = false; globalFirst = false; break;
            case "global-left-join-token": mapper = TOKEN; left = true; globalFirst = false; break;
            case "global-join-value": mapper = VALUE; left = false; globalFirst = true; break;
            case "global-left-join-value": mapper = VALUE; left = true; globalFirst = true; break;
            case "global-join-key": mapper = KEY; left = false; globalFirst = false; break;
            case "global-left-join-key": mapper = KEY; left = true; globalFirst = false; break;
            default: return false;
        }
        GlobalKTable<String, String> table;
        KStream<String, String> stream;
        if (globalFirst) {
            table = global(b);
            stream = b.stream("in", Consumed.with(S, S));
        } else {
            stream = b.stream("in", Consumed.with(S, S));
            table = global(b);
        }
        KStream<String, String> joined = left
                ? stream.leftJoin(table, mapper, (v, t) -> v + "+" + t)
                : stream.join(table, mapper, (v, t) -> v + "+" + t);
        joined.to("out", Produced.with(S, S));
        return true;
    }
}
