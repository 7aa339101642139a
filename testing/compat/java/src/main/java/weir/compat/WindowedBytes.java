package weir.compat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.kstream.SessionWindowedSerializer;
import org.apache.kafka.streams.kstream.TimeWindowedSerializer;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.kstream.internals.SessionWindow;
import org.apache.kafka.streams.kstream.internals.TimeWindow;

/**
 * Serializes the windowed keys of bytes.json with Kafka Streams'
 * TimeWindowedSerializer and SessionWindowedSerializer, so the Rust side can
 * check that Weir's windowed serdes write and read the same bytes.
 */
final class WindowedBytes {
    private WindowedBytes() {}

    static List<String> write(ObjectMapper mapper, JsonNode cases) throws IOException {
        List<String> lines = new ArrayList<>();
        try (TimeWindowedSerializer<String> time = new TimeWindowedSerializer<>(Serdes.String().serializer());
                SessionWindowedSerializer<String> session =
                        new SessionWindowedSerializer<>(Serdes.String().serializer())) {
            for (JsonNode c : cases.get("cases")) {
                String kind = c.get("kind").textValue();
                String key = c.get("key").textValue();
                long start = c.get("start").longValue();
                long end = c.get("end").longValue();
                byte[] bytes;
                if (kind.equals("time")) {
                    bytes = time.serialize("topic", new Windowed<>(key, new TimeWindow(start, end)));
                } else if (kind.equals("session")) {
                    bytes = session.serialize("topic", new Windowed<>(key, new SessionWindow(start, end)));
                } else {
                    throw new IllegalArgumentException("unknown windowed kind '" + kind + "'");
                }
                lines.add(mapper.writeValueAsString(mapper.createObjectNode()
                        .put("bytes", c.get("name").textValue())
                        .put("hex", HexFormat.of().formatHex(bytes))));
            }
        }
        return lines;
    }
}
