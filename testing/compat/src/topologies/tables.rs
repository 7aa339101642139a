//! Tables and today's (non-windowed) aggregations (Kafka Streams side:
//! `Topologies.Tables`).

use weir_core::dsl::{Grouped, KTable, StreamsBuilder};
use weir_core::topology::Consumed;

use super::{initial, l, longs, mat, s, strings, to_sl, to_ss};

/// `in` as a table of string keys and long values, in store `t`.
fn table(b: &StreamsBuilder) -> KTable<String, i64> {
    b.table("in", Consumed::with(s(), l()), mat("t", s(), l()))
}

/// Adds topology `id` to `b`; `false` if it is not one of these.
pub(crate) fn build(id: &str, b: &StreamsBuilder) -> Result<bool, String> {
    match id {
        "table-source" => {
            table(b).to_stream().to("out", to_sl());
        }
        "table-filter" => {
            table(b)
                .filter(|_, v| v % 2 == 0)
                .to_stream()
                .to("out", to_sl());
        }
        "table-map-values" => {
            table(b)
                .map_values(|v| v * 10)
                .to_stream()
                .to("out", to_sl());
        }
        "to-table" => {
            longs(b)
                .to_table(mat("tt", s(), l()))
                .to_stream()
                .to("out", to_sl());
        }
        "count" => {
            strings(b)
                .group_by_key()
                .count(mat("counts", s(), l()))
                .to_stream()
                .to("out", to_sl());
        }
        "reduce" => {
            longs(b)
                .group_by_key()
                .reduce(|a, v| a + v, mat("sums", s(), l()))
                .to_stream()
                .to("out", to_sl());
        }
        "aggregate" => {
            longs(b)
                .group_by_key()
                .aggregate(
                    String::new,
                    |_, v, agg| format!("{agg}+{v}"),
                    mat("aggs", s(), s()),
                )
                .to_stream()
                .to("out", to_ss());
        }
        "group-by-count" => {
            strings(b)
                .group_by(|_, v| initial(v), Grouped::as_("by-initial", s(), s()))
                .count(mat("initial-counts", s(), l()))
                .to_stream()
                .to("out", to_sl());
        }
        "table-group-by-count" => {
            b.table("in", Consumed::with(s(), s()), mat("t", s(), s()))
                .group_by(|k, v| (v, k.clone()), Grouped::as_("regroup", s(), s()))
                .count(mat("per-value", s(), l()))
                .to_stream()
                .to("out", to_sl());
        }
        "table-group-by-reduce" => {
            table(b)
                .group_by(|k, v| (initial(k), v), Grouped::as_("by-initial", s(), l()))
                .reduce(|a, v| a + v, |a, v| a - v, mat("sums-by-initial", s(), l()))
                .to_stream()
                .to("out", to_sl());
        }
        "table-group-by-aggregate" => {
            table(b)
                .group_by(|k, v| (initial(k), v), Grouped::as_("by-initial", s(), l()))
                .aggregate(
                    String::new,
                    |_, v, agg| format!("{agg}+{v}"),
                    |_, v, agg| format!("{agg}-{v}"),
                    mat("aggs-by-initial", s(), s()),
                )
                .to_stream()
                .to("out", to_ss());
        }
        "count-regroup" => {
            strings(b)
                .group_by_key()
                .count(mat("counts", s(), l()))
                .group_by(
                    |k, c| {
                        let parity = if c % 2 == 0 { "even" } else { "odd" };
                        (parity.to_string(), k.clone())
                    },
                    Grouped::as_("parity", s(), s()),
                )
                .count(mat("parity-counts", s(), l()))
                .to_stream()
                .to("out", to_sl());
        }
        _ => return Ok(false),
    }
    Ok(true)
}
