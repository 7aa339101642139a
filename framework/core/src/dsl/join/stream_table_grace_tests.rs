//! The grace buffer alone, under a minimal processor context: buffering,
//! eviction order, late records joined at once, restoration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use super::{grace_store_builder, GraceBuffer};
use crate::error::{Error, Result};
use crate::processor::{ProcessorContext, PunctuationType, ScheduleId};
use crate::record::{Record, RecordMetadata};
use crate::serde::Serdes;
use crate::store::{StateStore, VersionedKeyValueStoreBuilder, WriteBatch};
use crate::task::TaskId;

/// A context with a few stores that collects what is forwarded.
struct Ctx {
    stores: Vec<Box<dyn StateStore>>,
    out: Vec<Record<String, String>>,
}

impl ProcessorContext<String, String> for Ctx {
    fn forward(&mut self, record: Record<String, String>) -> Result<()> {
        self.out.push(record);
        Ok(())
    }
    fn forward_to(&mut self, _: &str, record: Record<String, String>) -> Result<()> {
        self.forward(record)
    }
    fn record_metadata(&self) -> Option<&RecordMetadata> {
        None
    }
    fn task_id(&self) -> TaskId {
        TaskId::new(0, 0)
    }
    fn application_id(&self) -> &str {
        "app"
    }
    fn node_name(&self) -> &str {
        "join"
    }
    fn stream_time(&self) -> i64 {
        i64::MIN
    }
    fn wall_clock_time(&self) -> i64 {
        0
    }
    fn schedule(&mut self, _: Duration, _: PunctuationType) -> Result<ScheduleId> {
        Err(Error::Config {
            key: "schedule".to_string(),
            message: "not in this test".to_string(),
        })
    }
    fn cancel(&mut self, _: ScheduleId) {}
    fn state_store(&mut self, name: &str) -> Result<&mut dyn StateStore> {
        match self.stores.iter_mut().find(|s| s.name() == name) {
            Some(s) => Ok(s.as_mut()),
            None => Err(Error::Store {
                store: name.to_string(),
                message: "no such store".to_string(),
            }),
        }
    }
    fn commit(&mut self) {}
    fn record_dropped(&mut self) {}
    fn processor_metadata(&self, _: &str) -> Option<i64> {
        None
    }
    fn set_processor_metadata(&mut self, _: &str, _: i64) {}
}

fn table() -> Box<dyn StateStore> {
    let builder = VersionedKeyValueStoreBuilder::new(
        "table",
        Serdes::string(),
        Serdes::string(),
        Duration::from_secs(60),
    );
    Box::new(builder.build(TaskId::new(0, 0)).unwrap())
}

fn buffer_store() -> Box<dyn StateStore> {
    Box::new(
        grace_store_builder("buffer")
            .build(TaskId::new(0, 0))
            .unwrap(),
    )
}

fn buffer() -> GraceBuffer<String, String> {
    GraceBuffer::new(
        "buffer",
        Duration::from_millis(10),
        Serdes::string(),
        Serdes::string(),
    )
}

fn s(v: &str) -> String {
    v.to_string()
}

/// A stream-table join with a grace buffer, as the join processor runs it:
/// buffer (or join at once), then join what is due, each as of its time.
fn process(ctx: &mut Ctx, buffer: &mut GraceBuffer<String, String>, key: &str, v: &str, ts: i64) {
    let record = Record::from_parts(Some(s(key)), Some(s(v)), ts, Default::default());
    let mut due = Vec::new();
    if let Some(now) = buffer.put(ctx, record).unwrap() {
        due.push(now);
    } else {
        due.extend(buffer.evict(ctx).unwrap());
    }
    for r in due {
        let key = r.key.clone().unwrap();
        let found = ctx
            .state_store("table")
            .unwrap()
            .as_versioned_key_value_store::<String, String>()
            .unwrap()
            .get_as_of(&key, r.timestamp)
            .unwrap()
            .map(|t| t.value);
        let joined = format!("{}+{}", r.value.unwrap(), found.unwrap_or_default());
        ctx.out.push(Record::from_parts(
            Some(key),
            Some(joined),
            r.timestamp,
            r.headers,
        ));
    }
}

fn table_put(ctx: &mut Ctx, key: &str, v: &str, ts: i64) {
    ctx.state_store("table")
        .unwrap()
        .as_versioned_key_value_store::<String, String>()
        .unwrap()
        .put(&s(key), Some(&s(v)), ts)
        .unwrap();
}

fn out(ctx: &mut Ctx) -> Vec<(String, String, i64)> {
    std::mem::take(&mut ctx.out)
        .into_iter()
        .map(|r| (r.key.unwrap(), r.value.unwrap(), r.timestamp))
        .collect()
}

fn o(k: &str, v: &str, ts: i64) -> (String, String, i64) {
    (s(k), s(v), ts)
}

#[test]
fn records_wait_for_the_grace_then_leave_in_time_order_joined_as_of_their_time() {
    let mut ctx = Ctx {
        stores: vec![table(), buffer_store()],
        out: Vec::new(),
    };
    let mut buffer = buffer();
    table_put(&mut ctx, "a", "A0", 0);
    process(&mut ctx, &mut buffer, "a", "x", 5);
    process(&mut ctx, &mut buffer, "a", "y", 3);
    assert_eq!(out(&mut ctx), []);
    // The table changes after the stream records' times: they still see A0.
    table_put(&mut ctx, "a", "A1", 6);
    process(&mut ctx, &mut buffer, "b", "z", 14);
    assert_eq!(out(&mut ctx), [o("a", "y+A0", 3)]);
    process(&mut ctx, &mut buffer, "a", "w", 16);
    assert_eq!(out(&mut ctx), [o("a", "x+A0", 5)]);
    // Equal timestamps leave by key bytes, then arrival.
    process(&mut ctx, &mut buffer, "b", "p", 20);
    process(&mut ctx, &mut buffer, "a", "q", 20);
    process(&mut ctx, &mut buffer, "a", "r", 20);
    process(&mut ctx, &mut buffer, "c", "end", 30);
    assert_eq!(
        out(&mut ctx),
        [
            o("b", "z+", 14),
            o("a", "w+A1", 16),
            o("a", "q+A1", 20),
            o("a", "r+A1", 20),
            o("b", "p+", 20)
        ]
    );
}

#[test]
fn a_record_older_than_stream_time_minus_grace_is_joined_at_once() {
    let mut ctx = Ctx {
        stores: vec![table(), buffer_store()],
        out: Vec::new(),
    };
    let mut buffer = buffer();
    table_put(&mut ctx, "a", "A0", 0);
    process(&mut ctx, &mut buffer, "a", "x", 100);
    // 100 - 10 > 89: joined at once, before the buffered record.
    process(&mut ctx, &mut buffer, "a", "late", 89);
    assert_eq!(out(&mut ctx), [o("a", "late+A0", 89)]);
    // Exactly at the edge: buffered, and due at once.
    process(&mut ctx, &mut buffer, "a", "edge", 90);
    assert_eq!(out(&mut ctx), [o("a", "edge+A0", 90)]);
}

#[test]
fn a_restored_buffer_keeps_its_records_and_stream_time() {
    let mut ctx = Ctx {
        stores: vec![table(), buffer_store()],
        out: Vec::new(),
    };
    let mut first = buffer();
    table_put(&mut ctx, "a", "A0", 0);
    process(&mut ctx, &mut first, "a", "x", 5);
    process(&mut ctx, &mut first, "a", "y", 8);
    process(&mut ctx, &mut first, "a", "z", 16);
    assert_eq!(out(&mut ctx), [o("a", "x+A0", 5)]);
    let changelog = ctx.stores[1].take_changelog();

    // A new instance restored from the changelog.
    let mut restored = buffer_store();
    let mut batch = WriteBatch::new();
    for e in changelog {
        batch.write(e.key, e.value);
    }
    restored.restore(batch).unwrap();
    ctx.stores[1] = restored;
    let mut second = buffer();
    // Stream time 16 survived: a record at 5 is joined at once.
    process(&mut ctx, &mut second, "a", "late", 5);
    assert_eq!(out(&mut ctx), [o("a", "late+A0", 5)]);
    // New records do not overwrite the restored ones; all leave in order.
    process(&mut ctx, &mut second, "a", "n", 16);
    process(&mut ctx, &mut second, "a", "end", 40);
    assert_eq!(
        out(&mut ctx),
        [o("a", "y+A0", 8), o("a", "z+A0", 16), o("a", "n+A0", 16)]
    );
    let table = ctx.stores[0]
        .as_versioned_key_value_store::<String, String>()
        .unwrap();
    assert_eq!(table.get(&s("a")).unwrap().unwrap().value, "A0");
}

/// An error naming the buffer's store (its rows, or its serdes reading them).
fn names_the_buffer(e: Error) -> bool {
    matches!(&e, Error::Store { store, .. } | Error::Deserialization { topic: store, .. } if store == "buffer")
}

proptest::proptest! {
    #![proptest_config(crate::fuzz::config())]

    /// A buffer restored from a changelog that may hold anything (rows and
    /// stream time) buffers and evicts records, or answers an error naming
    /// its store: never a panic.
    #[test]
    fn a_buffer_restored_from_any_changelog_answers_records_or_errors(
        rows in proptest::collection::vec(
            (crate::fuzz::bytes(20), proptest::option::of(crate::fuzz::bytes(24))),
            0..6,
        ),
        time in proptest::option::of(crate::fuzz::bytes(10)),
        ts in 0i64..100,
    ) {
        let mut ctx = Ctx {
            stores: vec![table(), buffer_store()],
            out: Vec::new(),
        };
        let mut batch = WriteBatch::new();
        if let Some(t) = time {
            batch.put(Vec::new(), t);
        }
        for (k, v) in rows {
            batch.write(k, v);
        }
        ctx.stores[1].restore(batch).unwrap();
        let mut buffer = buffer();
        let record = Record::from_parts(Some(s("k")), Some(s("v")), ts, Default::default());
        match buffer.put(&mut ctx, record) {
            Ok(_) => match buffer.evict(&mut ctx) {
                Ok(records) => {
                    let times: Vec<i64> = records.iter().map(|r| r.timestamp).collect();
                    proptest::prop_assert!(times.windows(2).all(|w| w[0] <= w[1]), "{:?}", times);
                }
                Err(e) => proptest::prop_assert!(names_the_buffer(e)),
            },
            Err(e) => proptest::prop_assert!(names_the_buffer(e)),
        }
    }
}
