package weir.compat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;

/**
 * Plays every scenario of the suite through Kafka Streams' TopologyTestDriver
 * (one JVM for all) and writes what each output topic received as JSON lines:
 *
 * <pre>
 * {"scenario": NAME, "topic": T, "key": K, "value": V, "timestamp": TS}   one per output record, in order
 * {"scenario": NAME, "done": true}                                       after a scenario ran
 * {"scenario": NAME, "error": "..."}                                     if it failed
 * {"bytes": NAME, "hex": "..."}                                          one per case of bytes.json
 * </pre>
 *
 * Usage: Runner SCENARIO_DIR OUTPUT_FILE [MORE_SCENARIO_DIRS...]. Each directory
 * may hold topologies.json (each topology's input and output topic types) and
 * scenario files (every other *.json); SCENARIO_DIR also holds bytes.json
 * (windowed keys to serialize).
 */
public final class Runner {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private Runner() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: Runner SCENARIO_DIR OUTPUT_FILE [MORE_SCENARIO_DIRS...]");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        Path out = Path.of(args[1]);
        List<Path> dirs = new ArrayList<>();
        dirs.add(dir);
        for (int i = 2; i < args.length; i++) {
            dirs.add(Path.of(args[i]));
        }
        ObjectNode topologies = MAPPER.createObjectNode();
        List<Path> files = new ArrayList<>();
        for (Path d : dirs) {
            Path t = d.resolve("topologies.json");
            if (Files.exists(t)) {
                topologies.setAll((ObjectNode) MAPPER.readTree(t.toFile()).get("topologies"));
            }
            try (Stream<Path> listing = Files.list(d)) {
                files.addAll(listing
                        .filter(p -> p.getFileName().toString().endsWith(".json"))
                        .filter(p -> !p.getFileName().toString().equals("topologies.json"))
                        .filter(p -> !p.getFileName().toString().equals("bytes.json"))
                        .sorted()
                        .collect(Collectors.toList()));
            }
        }
        try (BufferedWriter w = Files.newBufferedWriter(out)) {
            for (Path file : files) {
                for (JsonNode scenario : MAPPER.readTree(file.toFile()).get("scenarios")) {
                    String name = scenario.get("name").textValue();
                    String topology = scenario.get("topology").textValue();
                    List<String> lines;
                    try {
                        boolean cache = scenario.has("cache") && scenario.get("cache").booleanValue();
                        lines = run(name, topology, topologies.get(topology), scenario.get("steps"), cache);
                        ObjectNode done = MAPPER.createObjectNode().put("scenario", name).put("done", true);
                        lines.add(MAPPER.writeValueAsString(done));
                    } catch (RuntimeException e) {
                        StringWriter trace = new StringWriter();
                        e.printStackTrace(new PrintWriter(trace));
                        ObjectNode error = MAPPER.createObjectNode()
                                .put("scenario", name)
                                .put("error", trace.toString());
                        lines = List.of(MAPPER.writeValueAsString(error));
                    }
                    for (String line : lines) {
                        w.write(line);
                        w.newLine();
                    }
                }
            }
            Path bytes = dir.resolve("bytes.json");
            if (Files.exists(bytes)) {
                for (String line : WindowedBytes.write(MAPPER, MAPPER.readTree(bytes.toFile()))) {
                    w.write(line);
                    w.newLine();
                }
            }
        }
    }

    /** The record cache of a scenario with "cache": true (as Weir's side: 10 MiB). */
    static final long CACHE_MAX_BYTES = 10L * 1024 * 1024;

    private static Properties config(boolean cache) {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "compat");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, cache ? CACHE_MAX_BYTES : 0L);
        // On-window-close aggregations emit at most once per this much wall-clock
        // time (default 1000 ms, and the driver's clock stands still): emit on
        // every record, as Kafka Streams' own tests do and as Weir does.
        props.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_WINDOWED_AGGREGATION, 0L);
        // Left/outer stream-stream joins likewise throttle the emission of unmatched records.
        props.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_OUTER_JOIN_SPURIOUS_RESULTS_FIX, 0L);
        return props;
    }

    private static List<String> run(
            String name, String topologyId, JsonNode types, JsonNode steps, boolean cache) throws IOException {
        if (types == null) {
            throw new IllegalArgumentException("topology '" + topologyId + "' is not in topologies.json");
        }
        Topology topology = Topologies.build(topologyId);
        List<String> lines = new ArrayList<>();
        try (TopologyTestDriver driver = new TopologyTestDriver(topology, config(cache), Instant.EPOCH)) {
            Map<String, TestInputTopic<Object, Object>> inputs = new LinkedHashMap<>();
            Map<String, String[]> inputTypes = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> e : types.get("inputs").properties()) {
                String k = e.getValue().get("key").textValue();
                String v = e.getValue().get("value").textValue();
                inputs.put(e.getKey(), driver.createInputTopic(e.getKey(), Types.serializer(k), Types.serializer(v)));
                inputTypes.put(e.getKey(), new String[] {k, v});
            }
            for (JsonNode step : steps) {
                if (step.has("advance_wall_clock")) {
                    driver.advanceWallClockTime(Duration.ofMillis(step.get("advance_wall_clock").longValue()));
                    continue;
                }
                String topic = step.get("topic").textValue();
                TestInputTopic<Object, Object> input = inputs.get(topic);
                if (input == null) {
                    throw new IllegalArgumentException("step pipes into '" + topic + "', not an input of " + topologyId);
                }
                String[] t = inputTypes.get(topic);
                Object key = Types.fromJson(t[0], step.get("key"));
                Object value = Types.fromJson(t[1], step.get("value"));
                input.pipeInput(new TestRecord<>(key, value, new RecordHeaders(), step.get("timestamp").longValue()));
            }
            for (Map.Entry<String, JsonNode> e : types.get("outputs").properties()) {
                TestOutputTopic<Object, Object> output = driver.createOutputTopic(
                        e.getKey(),
                        Types.deserializer(e.getValue().get("key").textValue()),
                        Types.deserializer(e.getValue().get("value").textValue()));
                for (TestRecord<Object, Object> r : output.readRecordsToList()) {
                    ObjectNode line = MAPPER.createObjectNode().put("scenario", name).put("topic", e.getKey());
                    line.set("key", Types.toJson(r.key()));
                    line.set("value", Types.toJson(r.value()));
                    line.put("timestamp", r.timestamp());
                    lines.add(MAPPER.writeValueAsString(line));
                }
            }
        }
        return lines;
    }
}
