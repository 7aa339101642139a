package weir.bench;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.List;

/**
 * A sensor reading, as testing/bench/src/data.rs writes it: the typed JSON the pass-through
 * parses at its source and serializes at its sink (Weir's {@code Reading} with serde).
 */
@JsonPropertyOrder({"id", "device", "metric", "value", "ts", "tags", "note", "processed"})
@JsonInclude(JsonInclude.Include.NON_NULL)
public final class Reading {
    /** The filter keeps readings at or above this value (~90% of them). */
    public static final double THRESHOLD = 10.0;

    public long id;
    public String device;
    public String metric;
    public double value;
    public long ts;
    public List<String> tags;
    public String note;
    /** Set by the enrichment. */
    public Boolean processed;

    /** Celsius to Fahrenheit, marked processed (data::enrich_reading). */
    public static Reading enrich(Reading r) {
        r.value = r.value * 9.0 / 5.0 + 32.0;
        r.metric = "temperature_f";
        r.processed = Boolean.TRUE;
        return r;
    }
}
