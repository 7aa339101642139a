//! The topologies of Kafka Streams' shared join integration script
//! (`AbstractJoinIntegrationTest` and its stream-stream, stream-table and
//! table-table tests), Weir side; the twins are in
//! `JoinScriptTopologies.java`. Inputs `inputTopicLeft` and
//! `inputTopicRight`, output `outputTopic`, long keys and string values; the
//! joiner writes `left-right`, a missing side as `null`.

use weir_core::dsl::{Joined, KStream, KTable, StreamsBuilder};
use weir_core::topology::{Consumed, Produced};

use super::{l, mat, s};

pub(crate) const LEFT: &str = "inputTopicLeft";
pub(crate) const RIGHT: &str = "inputTopicRight";
const OUT: &str = "outputTopic";

/// The script's joiner: both values with a dash, a missing one as `null`.
pub(crate) fn joiner(left: Option<&String>, right: Option<&String>) -> String {
    let side = |v: Option<&String>| v.map_or("null", String::as_str).to_string();
    format!("{}-{}", side(left), side(right))
}

pub(crate) fn stream(b: &StreamsBuilder, topic: &str) -> KStream<i64, String> {
    b.stream(topic, Consumed::with(l(), s()))
}

/// A table of `topic` in store `store`, without a changelog (as the test's).
fn table(b: &StreamsBuilder, topic: &str, store: &str) -> KTable<i64, String> {
    b.table(
        topic,
        Consumed::with(l(), s()),
        mat(store, l(), s()).with_logging(false),
    )
}

pub(crate) fn out(stream: &KStream<i64, String>) {
    stream.to(OUT, Produced::with(l(), s()));
}

/// The table-table join's store: no cache, no changelog (as the test's).
fn table_store() -> weir_core::dsl::Materialized<i64, String> {
    mat("table-store", l(), s())
        .with_caching(false)
        .with_logging(false)
}

/// Adds topology `id` to `b`; `false` if it is not one of these.
pub(crate) fn build(id: &str, b: &StreamsBuilder) -> Result<bool, String> {
    let st_joined = || Joined::with(l(), s(), s()).with_name("st");
    match id {
        "script-stream-table-inner" => out(&stream(b, LEFT).join_table(
            &table(b, RIGHT, "right"),
            |l: &String, r: &String| joiner(Some(l), Some(r)),
            st_joined(),
        )),
        "script-stream-table-left" => out(&stream(b, LEFT).left_join_table(
            &table(b, RIGHT, "right"),
            |l: &String, r: Option<&String>| joiner(Some(l), r),
            st_joined(),
        )),
        "script-table-table-inner" => out(&table(b, LEFT, "left")
            .join_materialized(
                &table(b, RIGHT, "right"),
                |l: &String, r: &String| joiner(Some(l), Some(r)),
                table_store(),
            )
            .to_stream()),
        "script-table-table-left" => out(&table(b, LEFT, "left")
            .left_join_materialized(
                &table(b, RIGHT, "right"),
                |l: &String, r: Option<&String>| joiner(Some(l), r),
                table_store(),
            )
            .to_stream()),
        "script-table-table-outer" => out(&table(b, LEFT, "left")
            .outer_join_materialized(&table(b, RIGHT, "right"), joiner, table_store())
            .to_stream()),
        _ => return Ok(false),
    }
    Ok(true)
}
