//! Versioned tables and the stream-table join over them, with and without
//! a grace period (Kafka Streams side: `VersionedJoinTopologies`). The
//! stream is `in`, the table `in2` (string keys and values, in a versioned
//! store); the joiner writes `stream+table` (`null` for no row).

use std::time::Duration;

use weir_core::dsl::{Joined, KTable, Materialized, StreamsBuilder};
use weir_core::topology::Consumed;

use super::{s, strings, to_ss};

/// `in2` as a table in the versioned store `name` keeping `history_ms`.
fn versioned(
    b: &StreamsBuilder,
    topic: &str,
    name: &str,
    history_ms: u64,
) -> KTable<String, String> {
    b.table(
        topic,
        Consumed::with(s(), s()),
        Materialized::as_versioned(name, s(), s(), Duration::from_millis(history_ms)),
    )
}

fn joined(name: &str, grace_ms: Option<u64>) -> Joined<String, String, String> {
    let j = Joined::with(s(), s(), s()).with_name(name);
    match grace_ms {
        Some(g) => j.with_grace_period(Duration::from_millis(g)),
        None => j,
    }
}

fn inner_join(b: &StreamsBuilder, history_ms: u64, grace_ms: Option<u64>) {
    let t = versioned(b, "in2", "vt", history_ms);
    strings(b)
        .join_table(&t, |v, row| format!("{v}+{row}"), joined("vjoin", grace_ms))
        .to("out", to_ss());
}

fn left_join(b: &StreamsBuilder, history_ms: u64, grace_ms: Option<u64>) {
    let t = versioned(b, "in2", "vt", history_ms);
    strings(b)
        .left_join_table(
            &t,
            |v, row: Option<&String>| format!("{v}+{}", row.map_or("null", String::as_str)),
            joined("vjoin", grace_ms),
        )
        .to("out", to_ss());
}

/// Adds topology `id` to `b`; `false` if it is not one of these.
pub(crate) fn build(id: &str, b: &StreamsBuilder) -> Result<bool, String> {
    match id {
        "versioned-table-source" => {
            versioned(b, "in", "vt", 10).to_stream().to("out", to_ss());
        }
        "versioned-join" => inner_join(b, 300_000, None),
        "versioned-left-join" => left_join(b, 300_000, None),
        "versioned-join-grace" => inner_join(b, 300_000, Some(2)),
        "versioned-left-join-grace" => left_join(b, 300_000, Some(2)),
        "versioned-join-short-history" => inner_join(b, 10, None),
        "versioned-table-table-join" => {
            let left = versioned(b, "in", "vt", 300_000);
            let right = versioned(b, "in2", "vt2", 300_000);
            left.join(&right, |v, o| format!("{v}+{o}"))
                .to_stream()
                .to("out", to_ss());
        }
        _ => return Ok(false),
    }
    Ok(true)
}
