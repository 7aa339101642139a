package weir.compat;

import static weir.compat.Topologies.L;
import static weir.compat.Topologies.S;

import java.time.Duration;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.state.SessionStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The suite's windowed topologies (Kafka Streams side), by id; the twins are in
 * testing/compat/src/topologies/windows.rs. Input "in" has string keys and
 * values; aggregates start from "0" and append "+" and the value, as the
 * aggregator of Kafka Streams' own window tests does; session mergers join
 * two aggregates with "|".
 */
final class WindowTopologies {
    private WindowTopologies() {}

    static <V> Materialized<String, V, WindowStore<Bytes, byte[]>> wmat(String name, Serde<V> v) {
        return Materialized.<String, V, WindowStore<Bytes, byte[]>>as(name).withKeySerde(S).withValueSerde(v);
    }

    static <V> Materialized<String, V, SessionStore<Bytes, byte[]>> smat(String name, Serde<V> v) {
        return Materialized.<String, V, SessionStore<Bytes, byte[]>>as(name).withKeySerde(S).withValueSerde(v);
    }

    static Duration ms(long ms) {
        return Duration.ofMillis(ms);
    }

    static KGroupedStream<String, String> grouped(StreamsBuilder b) {
        return b.stream("in", Consumed.with(S, S)).groupByKey(Grouped.with(S, S));
    }

    static Produced<Windowed<String>, Long> timeLongs(long size) {
        return Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, size), L);
    }

    static Produced<Windowed<String>, String> timeStrings(long size) {
        return Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, size), S);
    }

    static Produced<Windowed<String>, Long> sessionLongs() {
        return Produced.with(WindowedSerdes.sessionWindowedSerdeFrom(String.class), L);
    }

    static Produced<Windowed<String>, String> sessionStrings() {
        return Produced.with(WindowedSerdes.sessionWindowedSerdeFrom(String.class), S);
    }

    static boolean build(String id, StreamsBuilder b) {
        switch (id) {
            // Tumbling and hopping windows.
            case "tumbling-count":
                grouped(b).windowedBy(TimeWindows.ofSizeWithNoGrace(ms(10)))
                        .count(wmat("tw-counts", L)).toStream().to("out", timeLongs(10));
                return true;
            case "tumbling-count-grace":
                grouped(b).windowedBy(TimeWindows.ofSizeAndGrace(ms(10), ms(5)))
                        .count(wmat("tw-counts", L)).toStream().to("out", timeLongs(10));
                return true;
            case "tumbling-reduce":
                grouped(b).windowedBy(TimeWindows.ofSizeAndGrace(ms(10), ms(5)))
                        .reduce((a, v) -> a + "+" + v, wmat("tw-reduce", S)).toStream().to("out", timeStrings(10));
                return true;
            case "tumbling-aggregate-grace-90":
                grouped(b).windowedBy(TimeWindows.ofSizeAndGrace(ms(10), ms(90)))
                        .aggregate(() -> "0", (k, v, agg) -> agg + "+" + v, wmat("tw-agg", S))
                        .toStream().to("out", timeStrings(10));
                return true;
            case "hopping-aggregate":
                grouped(b).windowedBy(TimeWindows.ofSizeAndGrace(ms(10), ms(100)).advanceBy(ms(5)))
                        .aggregate(() -> "0", (k, v, agg) -> agg + "+" + v, wmat("hw-agg", S))
                        .toStream().to("out", timeStrings(10));
                return true;
            case "hopping-aggregate-no-grace":
                grouped(b).windowedBy(TimeWindows.ofSizeWithNoGrace(ms(10)).advanceBy(ms(5)))
                        .aggregate(() -> "0", (k, v, agg) -> agg + "+" + v, wmat("hw-agg", S))
                        .toStream().to("out", timeStrings(10));
                return true;
            case "tumbling-count-emit-final":
                grouped(b).windowedBy(TimeWindows.ofSizeAndGrace(ms(10), ms(5)))
                        .emitStrategy(EmitStrategy.onWindowClose())
                        .count(wmat("tw-counts", L)).toStream().to("out", timeLongs(10));
                return true;
            case "hopping-count-emit-final":
                grouped(b).windowedBy(TimeWindows.ofSizeWithNoGrace(ms(10)).advanceBy(ms(5)))
                        .emitStrategy(EmitStrategy.onWindowClose())
                        .count(wmat("hw-counts", L)).toStream().to("out", timeLongs(10));
                return true;
            // Sliding windows.
            case "sliding-aggregate":
                grouped(b).windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(ms(10), ms(5)))
                        .aggregate(() -> "0", (k, v, agg) -> agg + "+" + v, wmat("sw-agg", S))
                        .toStream().to("out", timeStrings(10));
                return true;
            case "sliding-aggregate-grace-50":
                grouped(b).windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(ms(10), ms(50)))
                        .aggregate(() -> "0", (k, v, agg) -> agg + "+" + v, wmat("sw-agg", S))
                        .toStream().to("out", timeStrings(10));
                return true;
            case "sliding-reduce":
                grouped(b).windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(ms(10), ms(5)))
                        .reduce((a, v) -> a + "+" + v, wmat("sw-reduce", S)).toStream().to("out", timeStrings(10));
                return true;
            case "sliding-count-no-grace":
                grouped(b).windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(ms(10)))
                        .count(wmat("sw-counts", L)).toStream().to("out", timeLongs(10));
                return true;
            case "sliding-aggregate-emit-final":
                grouped(b).windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(ms(10), ms(10)))
                        .emitStrategy(EmitStrategy.onWindowClose())
                        .aggregate(() -> "0", (k, v, agg) -> agg + "+" + v, wmat("sw-agg", S))
                        .toStream().to("out", timeStrings(10));
                return true;
            // Session windows.
            case "session-count":
                grouped(b).windowedBy(SessionWindows.ofInactivityGapAndGrace(ms(50), ms(100)))
                        .count(smat("sessions", L)).toStream().to("out", sessionLongs());
                return true;
            case "session-count-no-grace":
                grouped(b).windowedBy(SessionWindows.ofInactivityGapWithNoGrace(ms(5)))
                        .count(smat("sessions", L)).toStream().to("out", sessionLongs());
                return true;
            case "session-aggregate":
                grouped(b).windowedBy(SessionWindows.ofInactivityGapAndGrace(ms(50), ms(100)))
                        .aggregate(() -> "0", (k, v, agg) -> agg + "+" + v, (k, a1, a2) -> a1 + "|" + a2,
                                smat("session-aggs", S))
                        .toStream().to("out", sessionStrings());
                return true;
            case "session-reduce":
                grouped(b).windowedBy(SessionWindows.ofInactivityGapAndGrace(ms(50), ms(100)))
                        .reduce((a, v) -> a + "+" + v, smat("session-reduce", S))
                        .toStream().to("out", sessionStrings());
                return true;
            case "session-count-emit-final":
                grouped(b).windowedBy(SessionWindows.ofInactivityGapAndGrace(ms(5), ms(2)))
                        .emitStrategy(EmitStrategy.onWindowClose())
                        .count(smat("sessions", L)).toStream().to("out", sessionLongs());
                return true;
            // Suppression (Kafka Streams' SuppressScenarioTest).
            case "tumbling-count-suppress": {
                KTable<Windowed<String>, Long> counts = grouped(b)
                        .windowedBy(TimeWindows.ofSizeAndGrace(ms(2), ms(1)))
                        .count(wmat("counts", L));
                counts.toStream().to("out-raw", timeLongs(2));
                counts.suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                        .toStream().to("out", timeLongs(2));
                return true;
            }
            case "session-count-suppress": {
                KTable<Windowed<String>, Long> counts = grouped(b)
                        .windowedBy(SessionWindows.ofInactivityGapAndGrace(ms(5), ms(0)))
                        .count(smat("counts", L));
                counts.toStream().to("out-raw", sessionLongs());
                counts.suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                        .toStream().to("out", sessionLongs());
                return true;
            }
            case "table-count-suppress-time-limit": {
                KTable<String, Long> counts = b.table("in", Consumed.with(S, S), Topologies.mat("t", S, S))
                        .groupBy((k, v) -> KeyValue.pair(v, k), Grouped.with("regroup", S, S))
                        .count(Topologies.mat("counts", S, L));
                counts.toStream().to("out-raw", Produced.with(S, L));
                counts.suppress(Suppressed.untilTimeLimit(ms(2), Suppressed.BufferConfig.unbounded()))
                        .toStream().to("out", Produced.with(S, L));
                return true;
            }
            default:
                return false;
        }
    }
}
