//! Foreign-key table-table joins (Kafka Streams side:
//! `ForeignKeyJoinTopologies`), after Kafka Streams'
//! `KTableKTableForeignKeyJoinIntegrationTest`: tables `left` and `right`
//! of strings (stores `left-store`, `right-store`); a left value
//! `"<text>|<fk>"` refers to the right row `<fk>` (no `|`, or nothing after
//! it: a null foreign key); the joiner writes `"(<left>,<right>)"`, `null`
//! for a missing right row; the join is named `fk`; results to `out`.

use weir_core::dsl::{ForeignKeyJoined, KTable, StreamsBuilder};
use weir_core::topology::Consumed;

use super::{mat, s, to_ss};

fn table(b: &StreamsBuilder, topic: &str) -> KTable<String, String> {
    let store = format!("{topic}-store");
    b.table(topic, Consumed::with(s(), s()), mat(&store, s(), s()))
}

fn foreign_key(v: &String) -> Option<String> {
    v.split('|')
        .nth(1)
        .filter(|fk| !fk.is_empty())
        .map(str::to_string)
}

fn joined() -> ForeignKeyJoined<String, String, String, String> {
    ForeignKeyJoined::with("fk", s(), s(), s(), s())
}

/// Adds topology `id` to `b`; `false` if it is not one of these.
pub(crate) fn build(id: &str, b: &StreamsBuilder) -> Result<bool, String> {
    let (left_join, materialized) = match id {
        "fk-join" => (false, true),
        "fk-join-unmaterialized" => (false, false),
        "fk-left-join" => (true, true),
        "fk-left-join-unmaterialized" => (true, false),
        _ => return Ok(false),
    };
    let (left, right) = (table(b, "left"), table(b, "right"));
    let result = materialized.then(|| mat("store", s(), s()).with_caching(false));
    let joined = if left_join {
        left.left_join_on_foreign_key(
            &right,
            foreign_key,
            |v: &String, o: Option<&String>| format!("({v},{})", o.map_or("null", String::as_str)),
            joined(),
            result,
        )
    } else {
        left.join_on_foreign_key(
            &right,
            foreign_key,
            |v: &String, o: &String| format!("({v},{o})"),
            joined(),
            result,
        )
    };
    joined.to_stream().to("out", to_ss());
    Ok(true)
}
