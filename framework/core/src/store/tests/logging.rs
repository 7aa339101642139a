use super::{b, delete, put};
use crate::store::{
    ChangeLoggingLayer, ChangelogEntry, InMemoryBytesStore, KeyValueBytesStore, WriteBatch,
};

fn entry(key: &str, value: Option<&str>) -> ChangelogEntry {
    ChangelogEntry {
        key: b(key),
        value: value.map(b),
    }
}

#[test]
fn every_write_is_logged_in_order_with_tombstones() {
    let mut store = ChangeLoggingLayer::new(Box::new(InMemoryBytesStore::new("l")));
    put(&mut store, "a", "1");
    put(&mut store, "a", "2");
    delete(&mut store, "a");
    let mut batch = WriteBatch::new();
    batch.put(b("b"), b("1")).delete(b("c"));
    store.write(batch).unwrap();
    assert_eq!(store.pending(), 5);
    assert_eq!(
        store.take_changelog(),
        [
            entry("a", Some("1")),
            entry("a", Some("2")),
            entry("a", None),
            entry("b", Some("1")),
            entry("c", None),
        ]
    );
    assert!(store.take_changelog().is_empty());
    assert_eq!(store.get(b"b").unwrap(), Some(b("1")));
    assert_eq!(store.get(b"a").unwrap(), None);
}

#[test]
fn restored_and_refused_writes_are_not_logged() {
    let mut store = ChangeLoggingLayer::new(Box::new(InMemoryBytesStore::new("l")));
    let mut batch = WriteBatch::new();
    batch.put(b("a"), b("1")).set_offset(0);
    store.restore(batch).unwrap();
    assert_eq!(store.committed_offset().unwrap(), Some(0));
    assert!(store.take_changelog().is_empty());
    store.close().unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b("b"), b("1"));
    assert!(store.write(batch).is_err());
    assert!(store.take_changelog().is_empty());
}

/// Keeps what it is sent.
#[derive(Default)]
struct Recording(Vec<crate::record::OutputRecord>);

impl crate::collector::RecordCollector for Recording {
    fn send(&mut self, record: crate::record::OutputRecord) -> crate::Result<()> {
        self.0.push(record);
        Ok(())
    }

    fn partition_count(&mut self, _topic: &str) -> crate::Result<Option<i32>> {
        Ok(None)
    }
}

/// A task sends a store write's changelog record right after the record
/// that made it, beside its output, as Kafka Streams does; the writes do not
/// pile up in memory until the commit.
#[test]
fn a_task_sends_each_changelog_record_with_the_records_output() {
    use crate::collector::SystemClock;
    use crate::dsl::{Materialized, StreamsBuilder};
    use crate::record::RawRecord;
    use crate::serde::Serdes;
    use crate::task::{TaskConfig, TaskId};
    use crate::topology::{Consumed, Produced};

    let builder = StreamsBuilder::new();
    builder
        .stream("words", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .count(Materialized::as_("counts", Serdes::string(), Serdes::i64()).in_memory())
        .to_stream()
        .to("totals", Produced::with(Serdes::string(), Serdes::i64()));
    let topology = builder.build().unwrap();
    let mut task = topology
        .create_task(TaskId::new(0, 3), TaskConfig::new("app"))
        .unwrap();
    let raw = |offset: i64| RawRecord {
        topic: "words".to_string(),
        partition: 3,
        offset,
        timestamp: 1_000 + offset,
        key: Some(b("w")),
        value: Some(b("x")),
        headers: Default::default(),
    };
    task.add_records([raw(0), raw(1)]).unwrap();
    let mut out = Recording::default();
    assert!(task.process(&mut out, &SystemClock).unwrap());
    let topics: Vec<(&str, Option<i32>)> = out.0.iter().map(|r| (&*r.topic, r.partition)).collect();
    assert_eq!(
        topics,
        [("totals", None), ("app-counts-changelog", Some(3))],
        "one record in: its output and its changelog record out, no commit yet"
    );
    assert_eq!(out.0[1].key.as_deref(), Some(&b"w"[..]));
    // An aggregation's store is timestamped: the aggregate's timestamp
    // (8 bytes big-endian), then the count.
    let stamped = |ts: i64, count: i64| [ts.to_be_bytes(), count.to_be_bytes()].concat();
    assert_eq!(out.0[1].value, Some(stamped(1_000, 1)));
    assert!(task.process(&mut out, &SystemClock).unwrap());
    assert_eq!(out.0.len(), 4);
    assert_eq!(out.0[3].value, Some(stamped(1_001, 2)));
    // Nothing is left for the commit to send.
    task.prepare_commit(&mut out).unwrap();
    assert_eq!(out.0.len(), 4);
}
