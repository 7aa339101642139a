package weir.compat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.kstream.SessionWindowedDeserializer;
import org.apache.kafka.streams.kstream.TimeWindowedDeserializer;
import org.apache.kafka.streams.kstream.Windowed;

/**
 * The topic types a scenario names: {@code string}, {@code long},
 * {@code time-windowed:string:<size ms>} and {@code session-windowed:string}.
 * Each maps to Kafka's serde for it and to the JSON the suite compares.
 */
final class Types {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private Types() {}

    @SuppressWarnings("unchecked")
    static Serializer<Object> serializer(String type) {
        switch (type) {
            case "string":
                return (Serializer<Object>) (Serializer<?>) Serdes.String().serializer();
            case "long":
                return (Serializer<Object>) (Serializer<?>) Serdes.Long().serializer();
            default:
                throw new IllegalArgumentException("no input serializer for type '" + type + "'");
        }
    }

    @SuppressWarnings("unchecked")
    static Deserializer<Object> deserializer(String type) {
        if (type.equals("string")) {
            return (Deserializer<Object>) (Deserializer<?>) Serdes.String().deserializer();
        }
        if (type.equals("long")) {
            return (Deserializer<Object>) (Deserializer<?>) Serdes.Long().deserializer();
        }
        String[] parts = type.split(":");
        if (parts.length == 3 && parts[0].equals("time-windowed") && parts[1].equals("string")) {
            long size = Long.parseLong(parts[2]);
            return (Deserializer<Object>) (Deserializer<?>)
                    new TimeWindowedDeserializer<>(Serdes.String().deserializer(), size);
        }
        if (parts.length == 2 && parts[0].equals("session-windowed") && parts[1].equals("string")) {
            return (Deserializer<Object>) (Deserializer<?>)
                    new SessionWindowedDeserializer<>(Serdes.String().deserializer());
        }
        throw new IllegalArgumentException("unknown type '" + type + "'");
    }

    /** The Java value of a JSON input: a string, a whole number, or null. */
    static Object fromJson(String type, JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        switch (type) {
            case "string":
                if (!node.isTextual()) {
                    throw new IllegalArgumentException("expected a string, got " + node);
                }
                return node.textValue();
            case "long":
                if (!node.isIntegralNumber()) {
                    throw new IllegalArgumentException("expected a whole number, got " + node);
                }
                return node.longValue();
            default:
                throw new IllegalArgumentException("no input of type '" + type + "'");
        }
    }

    /** The JSON of an output value; a windowed key is {key, start, end}. */
    static JsonNode toJson(Object value) {
        if (value == null) {
            return JSON.nullNode();
        }
        if (value instanceof String) {
            return JSON.textNode((String) value);
        }
        if (value instanceof Long) {
            return JSON.numberNode((Long) value);
        }
        if (value instanceof Windowed) {
            Windowed<?> w = (Windowed<?>) value;
            ObjectNode o = JSON.objectNode();
            o.set("key", toJson(w.key()));
            o.put("start", w.window().start());
            o.put("end", w.window().end());
            return o;
        }
        throw new IllegalArgumentException("cannot write " + value.getClass() + " as JSON");
    }
}
