//! The stateless DSL (Kafka Streams side: `Topologies.Stateless`).

use weir_core::dsl::{Repartitioned, StreamsBuilder};
use weir_core::topology::Consumed;

use super::{initial, l, longs, s, strings, to_sl, to_ss};

/// Adds topology `id` to `b`; `false` if it is not one of these.
pub(crate) fn build(id: &str, b: &StreamsBuilder) -> Result<bool, String> {
    match id {
        "filter" => {
            longs(b).filter(|_, v| v % 2 == 0).to("out", to_sl());
        }
        "filter-not" => {
            longs(b).filter_not(|_, v| v % 2 == 0).to("out", to_sl());
        }
        "map" => {
            longs(b)
                .map(|k, v| (v.to_string(), k.unwrap_or_else(|| "none".to_string())))
                .to("out", to_ss());
        }
        "map-values" => {
            longs(b).map_values(|v| v * 10).to("out", to_sl());
        }
        "map-values-with-key" => {
            longs(b)
                .map_values_with_key(|k, v| format!("{}={v}", k.map_or("none", String::as_str)))
                .to("out", to_ss());
        }
        "flat-map" => {
            longs(b)
                .flat_map(|k, v| {
                    let k = k.unwrap_or_else(|| "none".to_string());
                    (0..v.rem_euclid(3))
                        .map(|i| (format!("{k}-{i}"), v + i))
                        .collect::<Vec<_>>()
                })
                .to("out", to_sl());
        }
        "flat-map-values" => {
            longs(b)
                .flat_map_values(|v| vec![v, v * 2])
                .to("out", to_sl());
        }
        "select-key" => {
            longs(b)
                .select_key(|_, v| format!("k{}", v.rem_euclid(3)))
                .to("out", to_sl());
        }
        "split" => {
            let branches = longs(b)
                .split()
                .named("split-")
                .branch("small", |_, v| *v < 10)
                .branch("medium", |_, v| *v < 100)
                .default_branch("large");
            for (branch, topic) in [
                ("split-small", "out-small"),
                ("split-medium", "out-medium"),
                ("split-large", "out-large"),
            ] {
                branches
                    .get(branch)
                    .ok_or_else(|| format!("split has no branch '{branch}'"))?
                    .to(topic, to_sl());
            }
        }
        "merge" => {
            longs(b)
                .merge(&b.stream("in2", Consumed::with(s(), l())))
                .to("out", to_sl());
        }
        "peek" => {
            longs(b).peek(|_, _| {}).to("out", to_sl());
        }
        "to" => {
            longs(b).to("out", to_sl());
        }
        "repartition" => {
            longs(b)
                .repartition(Repartitioned::as_("rep", s(), l()))
                .to("out", to_sl());
        }
        "chain" => {
            strings(b)
                .filter(|_, v| !v.is_empty())
                .map_values(|v| v.to_uppercase())
                .select_key(|_, v| initial(v))
                .repartition(Repartitioned::as_("by-initial", s(), s()))
                .to("out", to_ss());
        }
        _ => return Ok(false),
    }
    Ok(true)
}
