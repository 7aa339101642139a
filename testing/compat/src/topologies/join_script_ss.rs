//! The stream-stream topologies of Kafka Streams' shared join integration
//! script (`StreamStreamJoinIntegrationTest`), Weir side; the twins are in
//! `JoinScriptTopologies.java`. Same topics, types and joiner as
//! [`join_script`](super::join_script).

use std::time::Duration;

use weir_core::dsl::{JoinWindows, KStream, StreamJoined, StreamsBuilder};

use super::join_script::{joiner, out, stream, LEFT, RIGHT};
use super::{l, s};

/// The script's window: 10 s either way, 24 h of grace.
fn window() -> JoinWindows {
    JoinWindows::of_time_difference_and_grace(
        Duration::from_secs(10),
        Duration::from_secs(24 * 3600),
    )
}

fn joined(name: &str) -> StreamJoined<i64, String, String> {
    StreamJoined::with(l(), s(), s())
        .with_name(name)
        .with_store_name(&format!("{name}-store"))
}

/// The keys the re-keying closures give records without one (left, right):
/// Weir's `map`, `flat_map` and `select_key` always produce a key, so the
/// test's no-op mappers cannot keep a null key (a declared divergence).
const NO_KEY_LEFT: i64 = -1;
const NO_KEY_RIGHT: i64 = -2;

/// The left stream re-keyed by a map that keeps the key (the test's no-op mapper).
fn rekeyed_left(b: &StreamsBuilder) -> KStream<i64, String> {
    stream(b, LEFT).map(|k, v| (k.unwrap_or(NO_KEY_LEFT), v))
}

/// The right stream re-keyed by a no-op flat_map, then a select_key of the key.
fn rekeyed_right(b: &StreamsBuilder) -> KStream<i64, String> {
    stream(b, RIGHT)
        .flat_map(|k, v| vec![(k.unwrap_or(NO_KEY_RIGHT), v)])
        .select_key(|k, _v| k.copied().unwrap_or(NO_KEY_RIGHT))
}

fn inner(l: &String, r: &String) -> String {
    joiner(Some(l), Some(r))
}

fn left(l: &String, r: Option<&String>) -> String {
    joiner(Some(l), r)
}

/// Adds topology `id` to `b`; `false` if it is not one of these.
pub(crate) fn build(id: &str, b: &StreamsBuilder) -> Result<bool, String> {
    match id {
        "script-stream-stream-self" => {
            let left_stream = stream(b, LEFT);
            out(&left_stream.join(&left_stream, inner, window(), joined("self")));
        }
        "script-stream-stream-inner" => {
            out(&stream(b, LEFT).join(&stream(b, RIGHT), inner, window(), joined("ss")));
        }
        "script-stream-stream-inner-repartitioned" => {
            out(&rekeyed_left(b).join(&rekeyed_right(b), inner, window(), joined("ss")));
        }
        "script-stream-stream-left" => {
            out(&stream(b, LEFT).left_join(&stream(b, RIGHT), left, window(), joined("ss")));
        }
        "script-stream-stream-left-repartitioned" => {
            out(&rekeyed_left(b).left_join(&rekeyed_right(b), left, window(), joined("ss")));
        }
        "script-stream-stream-outer" => {
            out(&stream(b, LEFT).outer_join(&stream(b, RIGHT), joiner, window(), joined("ss")));
        }
        "script-stream-stream-outer-repartitioned" => {
            out(&rekeyed_left(b).outer_join(&rekeyed_right(b), joiner, window(), joined("ss")));
        }
        "script-stream-stream-multi-inner" => {
            let right = stream(b, RIGHT);
            out(&stream(b, LEFT)
                .join(&right, inner, window(), joined("ss1"))
                .join(&right, inner, window(), joined("ss2")));
        }
        _ => return Ok(false),
    }
    Ok(true)
}
