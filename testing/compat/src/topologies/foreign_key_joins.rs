//! Foreign-key table-table joins (Kafka Streams side:
//! `ForeignKeyJoinTopologies`), after Kafka Streams'
//! `KTableKTableForeignKeyJoinIntegrationTest`: tables `left` and `right`
//! of strings (stores `left-store`, `right-store`); a left value
//! `"<text>|<fk>"` refers to the right row `<fk>` (no `|`, or nothing after
//! it: a null foreign key); the joiner writes `"(<left>,<right>)"`, `null`
//! for a missing right row; the join is named `fk`; results to `out`.
//! `fk-join-chain` (after `KTableKTableForeignKeyInnerJoinMultiIntegrationTest`)
//! joins that result (store `store`) again, with table `third`, by the right
//! value in it (`"(<left>,<right>)"` refers to `<right>`), in join `fk2`
//! (store `store2`), writing `"[<result>|<third>]"`.

use weir_core::dsl::{ForeignKeyJoined, KTable, StreamsBuilder};
use weir_core::topology::Consumed;

use super::{mat, s, to_ss};

fn table(b: &StreamsBuilder, topic: &str) -> KTable<String, String> {
    let store = format!("{topic}-store");
    b.table(topic, Consumed::with(s(), s()), mat(&store, s(), s()))
}

fn foreign_key(v: &str) -> Option<String> {
    v.split('|')
        .nth(1)
        .filter(|fk| !fk.is_empty())
        .map(str::to_string)
}

fn joined() -> ForeignKeyJoined<String, String, String, String> {
    ForeignKeyJoined::with("fk", s(), s(), s(), s())
}

/// The right value inside a first join's result `"(<left>,<right>)"`.
fn right_value(v: &str) -> Option<String> {
    let (_, right) = v.rsplit_once(',')?;
    let right = right.strip_suffix(')').unwrap_or(right);
    (!right.is_empty()).then(|| right.to_string())
}

/// Adds topology `id` to `b`; `false` if it is not one of these.
pub(crate) fn build(id: &str, b: &StreamsBuilder) -> Result<bool, String> {
    if id == "fk-join-chain" {
        let (left, right, third) = (table(b, "left"), table(b, "right"), table(b, "third"));
        let first = left.join_on_foreign_key(
            &right,
            |v: &String| foreign_key(v),
            |v: &String, o: &String| format!("({v},{o})"),
            joined(),
            Some(mat("store", s(), s()).with_caching(false)),
        );
        first
            .join_on_foreign_key(
                &third,
                |v: &String| right_value(v),
                |v: &String, o: &String| format!("[{v}|{o}]"),
                ForeignKeyJoined::with("fk2", s(), s(), s(), s()),
                Some(mat("store2", s(), s()).with_caching(false)),
            )
            .to_stream()
            .to("out", to_ss());
        return Ok(true);
    }
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
            |v: &String| foreign_key(v),
            |v: &String, o: Option<&String>| format!("({v},{})", o.map_or("null", String::as_str)),
            joined(),
            result,
        )
    } else {
        left.join_on_foreign_key(
            &right,
            |v: &String| foreign_key(v),
            |v: &String, o: &String| format!("({v},{o})"),
            joined(),
            result,
        )
    };
    joined.to_stream().to("out", to_ss());
    Ok(true)
}
