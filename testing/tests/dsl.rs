//! The Streams DSL under the TopologyTestDriver: every stateless operator,
//! its null-value rule, names and describe(), and build errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use weir_core::dsl::{KStream, Repartitioned, StreamsBuilder};
use weir_core::processor::{Processor, ProcessorContext, Punctuation, PunctuationType};
use weir_core::task::TaskId;
use weir_core::topology::{Consumed, Produced, Topology};
use weir_core::{Error, Headers, Record, Result, Serdes};
use weir_testing::driver::default_partition;
use weir_testing::{DriverConfig, KeyValue, TopologyTestDriver};

#[path = "dsl/names.rs"]
mod names;
#[path = "dsl/nulls.rs"]
mod nulls;
#[path = "dsl/operators.rs"]
mod operators;
#[path = "dsl/process.rs"]
mod process;
#[path = "dsl/sinks.rs"]
mod sinks;
#[path = "dsl/split.rs"]
mod split;

fn s(text: &str) -> String {
    text.to_string()
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn to_strings() -> Produced<String, String> {
    Produced::with(Serdes::string(), Serdes::string())
}

fn string_i64() -> Consumed<String, i64> {
    Consumed::with(Serdes::string(), Serdes::i64())
}

fn to_string_i64() -> Produced<String, i64> {
    Produced::with(Serdes::string(), Serdes::i64())
}

/// A record `key -> value` at `ts`.
fn rec<V>(key: &str, value: V, ts: i64) -> Record<String, V> {
    Record::new(s(key), value, ts)
}

/// A record without a key.
fn unkeyed<V>(value: V, ts: i64) -> Record<String, V> {
    Record::from_parts(None, Some(value), ts, Headers::new())
}

/// A tombstone for `key` at `ts`.
fn tombstone<V>(key: &str, ts: i64) -> Record<String, V> {
    Record::from_parts(Some(s(key)), None, ts, Headers::new())
}

/// Builds the builder's topology and runs it under a default driver.
fn drive(builder: StreamsBuilder) -> TopologyTestDriver {
    TopologyTestDriver::with_defaults(builder.build().unwrap())
}

/// The builder's build error, as text; it must be a topology error.
fn build_error(builder: StreamsBuilder) -> String {
    let err = builder.build().map(|_| ()).unwrap_err();
    assert!(matches!(err, Error::Topology(_)), "{err:?}");
    err.to_string()
}

/// What a closure saw, shared with the test.
type Seen<T> = Arc<Mutex<Vec<T>>>;

fn seen<T>() -> Seen<T> {
    Arc::new(Mutex::new(Vec::new()))
}

fn taken<T: Clone>(seen: &Seen<T>) -> Vec<T> {
    seen.lock().unwrap().clone()
}
