//! The stream-stream join topologies (Kafka Streams side:
//! `StreamStreamJoinTopologies`): inner, left and outer joins of `in`
//! (left) and `in2` (right), string keys and values, with the joiner of
//! Kafka Streams' own join tests (`left + "+" + right`, a missing side
//! written `null`), and self joins of `in`.

use std::time::Duration;

use weir_core::dsl::{JoinWindows, StreamJoined, StreamsBuilder};
use weir_core::topology::Consumed;

use super::{s, strings, to_ss};

/// The kind of join and its window (before, after, grace, in ms) of the
/// topology `id`; `None` if it is not one of these.
fn spec(id: &str) -> Option<(&'static str, u64, u64, u64)> {
    Some(match id {
        "ss-inner-100" => ("inner", 100, 100, 0),
        "ss-inner-100-g24h" => ("inner", 100, 100, 86_400_000),
        "ss-inner-after100" => ("inner", 0, 100, 0),
        "ss-inner-before100" => ("inner", 100, 0, 0),
        "ss-left-100" => ("left", 100, 100, 0),
        "ss-left-100-g10" => ("left", 100, 100, 10),
        "ss-left-after0" => ("left", 100, 0, 0),
        "ss-left-before0" => ("left", 0, 100, 0),
        "ss-left-named" => ("left-named", 100, 100, 10),
        "ss-outer-100" => ("outer", 100, 100, 0),
        "ss-outer-100-g10" => ("outer", 100, 100, 10),
        "ss-outer-100-g24h" => ("outer", 100, 100, 86_400_000),
        "ss-outer-5-after20" => ("outer", 5, 20, 0),
        "ss-outer-after0" => ("outer", 100, 0, 0),
        "ss-outer-before0" => ("outer", 0, 100, 0),
        "ss-self-100" => ("self", 100, 100, 0),
        "ss-self-11s-g10s" => ("self", 11_000, 11_000, 10_000),
        "ss-self-10s" => ("self", 10_000, 10_000, 0),
        _ => return None,
    })
}

fn text(v: Option<&String>) -> String {
    v.cloned().unwrap_or_else(|| "null".to_string())
}

/// Adds topology `id` to `b`; `false` if it is not one of these.
pub(crate) fn build(id: &str, b: &StreamsBuilder) -> Result<bool, String> {
    let Some((kind, before, after, grace)) = spec(id) else {
        return Ok(false);
    };
    let windows = JoinWindows::of_time_difference_and_grace(
        Duration::from_millis(before),
        Duration::from_millis(grace),
    )
    .after(Duration::from_millis(after));
    let joined = || StreamJoined::with(s(), s(), s());
    let left = strings(b);
    let right = || b.stream("in2", Consumed::with(s(), s()));
    let joined_stream = match kind {
        "inner" => left.join(&right(), |l, r| format!("{l}+{r}"), windows, joined()),
        "left" => left.left_join(
            &right(),
            |l, r| format!("{l}+{}", text(r)),
            windows,
            joined(),
        ),
        "left-named" => left.left_join(
            &right(),
            |l, r| format!("{l}+{}", text(r)),
            windows,
            joined().with_name("ss").with_store_name("ss-store"),
        ),
        "outer" => left.outer_join(
            &right(),
            |l, r| format!("{}+{}", text(l), text(r)),
            windows,
            joined(),
        ),
        _ => left.join(&left, |l, r| format!("{l}+{r}"), windows, joined()),
    };
    joined_stream.to("out", to_ss());
    Ok(true)
}
