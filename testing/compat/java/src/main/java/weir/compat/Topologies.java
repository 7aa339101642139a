package weir.compat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The suite's topologies built with Kafka Streams' DSL, by id. Each has a twin
 * of the same id in testing/compat/src/topologies (built with Weir's DSL):
 * same topics, serdes, store and internal topic names, and the same functions.
 * Input topic "in" (and "in2"), output topic "out" unless said.
 */
final class Topologies {
    static final Serde<String> S = Serdes.String();
    static final Serde<Long> L = Serdes.Long();

    private Topologies() {}

    static <K, V> Materialized<K, V, KeyValueStore<Bytes, byte[]>> mat(String name, Serde<K> k, Serde<V> v) {
        return Materialized.<K, V, KeyValueStore<Bytes, byte[]>>as(name).withKeySerde(k).withValueSerde(v);
    }

    static Topology build(String id) {
        StreamsBuilder b = new StreamsBuilder();
        if (!Stateless.build(id, b) && !Tables.build(id, b) && !WindowTopologies.build(id, b)
                && !JoinScriptTopologies.build(id, b)
                && !VersionedJoinTopologies.build(id, b)
                && !StreamStreamJoinTopologies.build(id, b)
                && !GlobalJoinTopologies.build(id, b)
                && !ForeignKeyJoinTopologies.build(id, b)) {
            throw new IllegalArgumentException("no Kafka Streams topology '" + id + "'");
        }
        return b.build();
    }

    /** The stateless DSL. */
    static final class Stateless {
        private Stateless() {}

        static boolean build(String id, StreamsBuilder b) {
            switch (id) {
                case "filter":
                    longs(b).filter((k, v) -> v != null && v % 2 == 0).to("out", Produced.with(S, L));
                    return true;
                case "filter-not":
                    longs(b).filterNot((k, v) -> v != null && v % 2 == 0).to("out", Produced.with(S, L));
                    return true;
                case "map":
                    longs(b).map((k, v) -> KeyValue.pair(String.valueOf(v), k == null ? "none" : k))
                            .to("out", Produced.with(S, S));
                    return true;
                case "map-values":
                    longs(b).mapValues(v -> v == null ? null : v * 10).to("out", Produced.with(S, L));
                    return true;
                case "map-values-with-key":
                    longs(b).mapValues((k, v) -> v == null ? null : (k == null ? "none" : k) + "=" + v)
                            .to("out", Produced.with(S, S));
                    return true;
                case "flat-map":
                    longs(b).flatMap((k, v) -> {
                                List<KeyValue<String, Long>> out = new ArrayList<>();
                                if (v != null) {
                                    for (long i = 0; i < Math.floorMod(v, 3L); i++) {
                                        out.add(KeyValue.pair((k == null ? "none" : k) + "-" + i, v + i));
                                    }
                                }
                                return out;
                            })
                            .to("out", Produced.with(S, L));
                    return true;
                case "flat-map-values":
                    longs(b).flatMapValues(v -> v == null ? List.<Long>of() : List.of(v, v * 2))
                            .to("out", Produced.with(S, L));
                    return true;
                case "select-key":
                    longs(b).selectKey((k, v) -> v == null ? "null" : "k" + Math.floorMod(v, 3L))
                            .to("out", Produced.with(S, L));
                    return true;
                case "split": {
                    Map<String, KStream<String, Long>> branches = longs(b).split(Named.as("split-"))
                            .branch((k, v) -> v != null && v < 10, Branched.as("small"))
                            .branch((k, v) -> v != null && v < 100, Branched.as("medium"))
                            .defaultBranch(Branched.as("large"));
                    branches.get("split-small").to("out-small", Produced.with(S, L));
                    branches.get("split-medium").to("out-medium", Produced.with(S, L));
                    branches.get("split-large").to("out-large", Produced.with(S, L));
                    return true;
                }
                case "merge":
                    longs(b).merge(b.stream("in2", Consumed.with(S, L))).to("out", Produced.with(S, L));
                    return true;
                case "peek":
                    longs(b).peek((k, v) -> { }).to("out", Produced.with(S, L));
                    return true;
                case "to":
                    longs(b).to("out", Produced.with(S, L));
                    return true;
                case "repartition":
                    longs(b).repartition(Repartitioned.with(S, L).withName("rep")).to("out", Produced.with(S, L));
                    return true;
                case "chain":
                    b.stream("in", Consumed.with(S, S))
                            .filter((k, v) -> v != null && !v.isEmpty())
                            .mapValues(v -> v.toUpperCase())
                            .selectKey((k, v) -> v.substring(0, 1))
                            .repartition(Repartitioned.with(S, S).withName("by-initial"))
                            .to("out", Produced.with(S, S));
                    return true;
                default:
                    return false;
            }
        }

        static KStream<String, Long> longs(StreamsBuilder b) {
            return b.stream("in", Consumed.with(S, L));
        }
    }

    /** Tables and today's (non-windowed) aggregations. */
    static final class Tables {
        private Tables() {}

        static boolean build(String id, StreamsBuilder b) {
            switch (id) {
                case "table-source":
                    table(b).toStream().to("out", Produced.with(S, L));
                    return true;
                case "table-filter":
                    table(b).filter((k, v) -> v % 2 == 0).toStream().to("out", Produced.with(S, L));
                    return true;
                case "table-map-values":
                    table(b).mapValues(v -> v * 10).toStream().to("out", Produced.with(S, L));
                    return true;
                case "to-table":
                    Stateless.longs(b).toTable(mat("tt", S, L)).toStream().to("out", Produced.with(S, L));
                    return true;
                case "count":
                    strings(b).groupByKey(Grouped.with(S, S)).count(mat("counts", S, L))
                            .toStream().to("out", Produced.with(S, L));
                    return true;
                case "reduce":
                    Stateless.longs(b).groupByKey(Grouped.with(S, L)).reduce(Long::sum, mat("sums", S, L))
                            .toStream().to("out", Produced.with(S, L));
                    return true;
                case "aggregate":
                    Stateless.longs(b).groupByKey(Grouped.with(S, L))
                            .aggregate(() -> "", (k, v, agg) -> agg + "+" + v, mat("aggs", S, S))
                            .toStream().to("out", Produced.with(S, S));
                    return true;
                case "group-by-count":
                    strings(b).groupBy((k, v) -> v == null ? "null" : v.substring(0, 1), Grouped.with("by-initial", S, S))
                            .count(mat("initial-counts", S, L))
                            .toStream().to("out", Produced.with(S, L));
                    return true;
                case "table-group-by-count":
                    b.table("in", Consumed.with(S, S), mat("t", S, S))
                            .groupBy((k, v) -> KeyValue.pair(v, k), Grouped.with("regroup", S, S))
                            .count(mat("per-value", S, L))
                            .toStream().to("out", Produced.with(S, L));
                    return true;
                case "table-group-by-reduce":
                    table(b).groupBy((k, v) -> KeyValue.pair(k.substring(0, 1), v), Grouped.with("by-initial", S, L))
                            .reduce(Long::sum, (agg, v) -> agg - v, mat("sums-by-initial", S, L))
                            .toStream().to("out", Produced.with(S, L));
                    return true;
                case "table-group-by-aggregate":
                    table(b).groupBy((k, v) -> KeyValue.pair(k.substring(0, 1), v), Grouped.with("by-initial", S, L))
                            .aggregate(() -> "", (k, v, agg) -> agg + "+" + v, (k, v, agg) -> agg + "-" + v,
                                    mat("aggs-by-initial", S, S))
                            .toStream().to("out", Produced.with(S, S));
                    return true;
                case "count-regroup":
                    strings(b).groupByKey(Grouped.with(S, S)).count(mat("counts", S, L))
                            .groupBy((k, c) -> KeyValue.pair(c % 2 == 0 ? "even" : "odd", k),
                                    Grouped.with("parity", S, S))
                            .count(mat("parity-counts", S, L))
                            .toStream().to("out", Produced.with(S, L));
                    return true;
                default:
                    return false;
            }
        }

        static KTable<String, Long> table(StreamsBuilder b) {
            return b.table("in", Consumed.with(S, L), mat("t", S, L));
        }

        static KStream<String, String> strings(StreamsBuilder b) {
            return b.stream("in", Consumed.with(S, S));
        }
    }
}
