//! The suite's topologies built with Weir's DSL, by id: the twins of
//! `weir.compat.Topologies` (testing/compat/java), with the same topics,
//! serdes, store and internal topic names, and the same functions. Input
//! topic `in` (and `in2`), output topic `out` unless said.

mod foreign_key_joins;
mod global_joins;
mod join_script;
mod join_script_ss;
mod stateless;
mod stream_stream_joins;
mod tables;
mod versioned_joins;
mod windows;

use weir_core::dsl::{KStream, Materialized, StreamsBuilder};
use weir_core::serde::SharedSerde;
use weir_core::topology::{Consumed, Produced, Topology};
use weir_core::Serdes;

/// Builds the topology `id`; an unknown id is an error.
pub fn build(id: &str) -> Result<Topology, String> {
    let b = StreamsBuilder::new();
    let known = stateless::build(id, &b)?
        || tables::build(id, &b)?
        || build_windows(id, &b)?
        || join_script::build(id, &b)?
        || join_script_ss::build(id, &b)?
        || versioned_joins::build(id, &b)?
        || stream_stream_joins::build(id, &b)?
        || global_joins::build(id, &b)?
        || foreign_key_joins::build(id, &b)?;
    if !known {
        return Err(format!(
            "no Weir topology '{id}' (testing/compat/src/topologies)"
        ));
    }
    b.build()
        .map_err(|e| format!("building topology '{id}': {e}"))
}

fn build_windows(id: &str, b: &StreamsBuilder) -> Result<bool, String> {
    windows::build(id, b)
}

pub(crate) fn s() -> SharedSerde<String> {
    Serdes::string()
}

pub(crate) fn l() -> SharedSerde<i64> {
    Serdes::i64()
}

/// `in` as a stream of string keys and long values.
pub(crate) fn longs(b: &StreamsBuilder) -> KStream<String, i64> {
    b.stream("in", Consumed::with(s(), l()))
}

/// `in` as a stream of string keys and string values.
pub(crate) fn strings(b: &StreamsBuilder) -> KStream<String, String> {
    b.stream("in", Consumed::with(s(), s()))
}

pub(crate) fn to_sl() -> Produced<String, i64> {
    Produced::with(s(), l())
}

pub(crate) fn to_ss() -> Produced<String, String> {
    Produced::with(s(), s())
}

pub(crate) fn mat<K: 'static, V: 'static>(
    name: &str,
    k: SharedSerde<K>,
    v: SharedSerde<V>,
) -> Materialized<K, V> {
    Materialized::as_(name, k, v)
}

/// The first character of `s` as a string (empty for an empty string).
pub(crate) fn initial(s: &str) -> String {
    s.chars().take(1).collect()
}
