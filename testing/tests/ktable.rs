//! KTables and aggregations under the TopologyTestDriver: tables from topics
//! and streams, their stateless operators, grouping (with and without
//! repartitioning) and count / reduce / aggregate, including retraction in
//! table aggregations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use weir_core::dsl::{Grouped, Materialized, StreamsBuilder};
use weir_core::topology::{Consumed, Produced, Topology};
use weir_core::{Error, Headers, Record, Serdes};
use weir_testing::{DriverConfig, KeyValue, TestInputTopic, TopologyTestDriver};

#[path = "ktable/aggregations.rs"]
mod aggregations;
#[path = "ktable/caching.rs"]
mod caching;
#[path = "ktable/grouped_tables.rs"]
mod grouped_tables;
#[path = "ktable/tables.rs"]
mod tables;

const APP: &str = "ktable-app";

fn s(text: &str) -> String {
    text.to_string()
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn string_i64() -> Consumed<String, i64> {
    Consumed::with(Serdes::string(), Serdes::i64())
}

fn to_strings() -> Produced<String, String> {
    Produced::with(Serdes::string(), Serdes::string())
}

fn to_string_i64() -> Produced<String, i64> {
    Produced::with(Serdes::string(), Serdes::i64())
}

fn store_strings(name: &str) -> Materialized<String, String> {
    Materialized::as_(name, Serdes::string(), Serdes::string())
}

fn store_i64(name: &str) -> Materialized<String, i64> {
    Materialized::as_(name, Serdes::string(), Serdes::i64())
}

fn kv<V>(key: &str, value: V) -> KeyValue<String, V> {
    KeyValue::new(s(key), value)
}

fn gone<V>(key: &str) -> KeyValue<String, V> {
    KeyValue::tombstone(s(key))
}

/// Builds the builder's topology and runs it under a driver for [`APP`].
fn drive(builder: StreamsBuilder) -> TopologyTestDriver {
    let config = DriverConfig::new().with_application_id(APP);
    TopologyTestDriver::new(builder.build().unwrap(), config).unwrap()
}

/// An input topic of string keys and string values.
fn input_strings(driver: &TopologyTestDriver, topic: &str) -> TestInputTopic<String, String> {
    driver.create_input_topic(topic, Serdes::string(), Serdes::string())
}

/// An input topic of string keys and i64 values.
fn input_i64(driver: &TopologyTestDriver, topic: &str) -> TestInputTopic<String, i64> {
    driver.create_input_topic(topic, Serdes::string(), Serdes::i64())
}

/// Pipes a tombstone for `key`.
fn delete<V>(input: &mut TestInputTopic<String, V>, key: &str) {
    input
        .pipe_record(Record::from_parts(Some(s(key)), None, 0, Headers::new()))
        .unwrap();
}

/// A record `key -> value` at `ts` on partition 0, for `pipe_records`.
fn at<V>(key: &str, value: V, ts: i64) -> (i32, Record<String, V>) {
    (0, Record::new(s(key), value, ts))
}

/// A tombstone for `key` at `ts` on partition 0, for `pipe_records`.
fn deleted_at<V>(key: &str, ts: i64) -> (i32, Record<String, V>) {
    (
        0,
        Record::from_parts(Some(s(key)), None, ts, Headers::new()),
    )
}

/// The build error of `builder`, as text; it must be a topology error.
fn build_error(builder: StreamsBuilder) -> String {
    let err = builder.build().map(|_: Topology| ()).unwrap_err();
    assert!(matches!(err, Error::Topology(_)), "{err:?}");
    err.to_string()
}
