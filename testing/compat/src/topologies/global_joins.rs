//! The stream-global join topologies (Kafka Streams side:
//! `GlobalJoinTopologies`): stream `in` joined with the global table of
//! topic `global` (store `global-store`), both string keys and values, into
//! `out`. Joined values are `<stream value>+<table value>`, `null` for a
//! missing table value, as Kafka Streams' `MockValueJoiner.TOSTRING_JOINER`.

use weir_core::dsl::{GlobalKTable, StreamsBuilder};
use weir_core::topology::Consumed;

use super::{mat, s, strings, to_ss};

/// The key mapper of each topology: how a stream record finds its table key.
type Mapper = fn(Option<&String>, &String) -> Option<String>;

/// The second comma-separated token of the value (KStreamGlobalKTableJoinTest).
#[allow(clippy::ptr_arg)] // a `Mapper`: the stream's value type is `String`
fn second_token(_k: Option<&String>, v: &String) -> Option<String> {
    v.split(',').nth(1).map(str::to_string)
}

/// The value itself (GlobalKTableJoinsTest).
#[allow(clippy::ptr_arg)] // a `Mapper`: the stream's value type is `String`
fn value(_k: Option<&String>, v: &String) -> Option<String> {
    Some(v.clone())
}

/// The stream's key.
fn key(k: Option<&String>, _v: &String) -> Option<String> {
    k.cloned()
}

fn global(b: &StreamsBuilder) -> GlobalKTable<String, String> {
    b.global_table(
        "global",
        Consumed::with(s(), s()),
        mat("global-store", s(), s()),
    )
}

/// Adds topology `id` to `b`; `false` if it is not one of these.
pub(crate) fn build(id: &str, b: &StreamsBuilder) -> Result<bool, String> {
    // (key mapper, left join, global table declared before the stream)
    let (mapper, left, global_first): (Mapper, bool, bool) = match id {
        "global-join-token" => (second_token, false, false),
        "global-left-join-token" => (second_token, true, false),
        "global-join-value" => (value, false, true),
        "global-left-join-value" => (value, true, true),
        "global-join-key" => (key, false, false),
        "global-left-join-key" => (key, true, false),
        _ => return Ok(false),
    };
    let (table, stream) = if global_first {
        let table = global(b);
        (table, strings(b))
    } else {
        let stream = strings(b);
        (global(b), stream)
    };
    let joined = if left {
        stream.left_join_global(&table, mapper, |v, t| {
            format!("{v}+{}", t.map_or("null", String::as_str))
        })
    } else {
        stream.join_global(&table, mapper, |v, t| format!("{v}+{t}"))
    };
    joined.to("out", to_ss());
    Ok(true)
}
