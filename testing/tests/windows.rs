//! Windowed aggregations through the TopologyTestDriver: time (tumbling and
//! hopping), sliding and session windows, grace, late records, emit on
//! window close, retention, and restarts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use weir_core::dsl::{
    EmitStrategy, KTable, Materialized, SessionWindows, SlidingWindows, StreamsBuilder, TimeWindows,
};
use weir_core::topology::{Consumed, Produced};
use weir_core::window::Windowed;
use weir_core::{Record, Serdes};
use weir_testing::{CrashPoint, DriverConfig, TopologyTestDriver};

#[path = "windows/session.rs"]
mod session;
#[path = "windows/sliding.rs"]
mod sliding;
#[path = "windows/time.rs"]
mod time;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One output record as `(key@start/end, value or None, timestamp)`.
type Out = (String, Option<String>, i64);

/// Values the tests aggregate into, written out as strings.
trait AsText: weir_core::processor::Data + ToString {
    fn serde() -> weir_core::SharedSerde<Self>;
}

impl AsText for i64 {
    fn serde() -> weir_core::SharedSerde<Self> {
        Serdes::i64()
    }
}

impl AsText for String {
    fn serde() -> weir_core::SharedSerde<Self> {
        Serdes::string()
    }
}

/// Builds `input` (String -> String) -> `windowed` -> `output`, the
/// windowed keys through the session-windowed serde (it keeps both ends;
/// the end is not in the time-windowed format).
fn drive<V: AsText>(
    config: DriverConfig,
    windowed: impl FnOnce(weir_core::dsl::KGroupedStream<String, String>) -> KTable<Windowed<String>, V>,
) -> (TopologyTestDriver, Input, Output<V>) {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream("input", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key();
    let keys = || Serdes::session_windowed(Serdes::string());
    windowed(grouped)
        .to_stream()
        .to("output", Produced::with(keys(), V::serde()));
    let driver = TopologyTestDriver::new(builder.build().unwrap(), config).unwrap();
    let input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic("output", keys(), V::serde());
    (driver, input, output)
}

type Input = weir_testing::TestInputTopic<String, String>;
type Output<V> = weir_testing::TestOutputTopic<Windowed<String>, V>;

fn no_cache() -> DriverConfig {
    DriverConfig::new().with_cache_max_bytes(0)
}

fn pipe(input: &mut Input, records: &[(&str, &str, i64)]) {
    for (k, v, ts) in records {
        input
            .pipe_record(Record::new(k.to_string(), v.to_string(), *ts))
            .unwrap();
    }
}

/// The records on `output`, keys as `key@start/end`.
fn read<V: AsText>(output: &Output<V>) -> Vec<Out> {
    output
        .read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| {
            let k = r.key.unwrap();
            let k = format!("{}@{}/{}", k.key(), k.window().start(), k.window().end());
            (k, r.value.map(|v| v.to_string()), r.timestamp)
        })
        .collect()
}

fn out(key: &str, value: &str, ts: i64) -> Out {
    (key.to_string(), Some(value.to_string()), ts)
}

fn tombstone(key: &str, ts: i64) -> Out {
    (key.to_string(), None, ts)
}

fn concat() -> impl Fn(String, String) -> String + Send + Sync + 'static {
    |a, b| format!("{a}+{b}")
}

fn strings(name: &str) -> Materialized<String, String> {
    Materialized::as_(name, Serdes::string(), Serdes::string())
}

fn counts(name: &str) -> Materialized<String, i64> {
    Materialized::as_(name, Serdes::string(), Serdes::i64())
}
