//! The table-table join (Kafka Streams' `KTable#join`, `leftJoin`,
//! `outerJoin` with another `KTable`): an update on either side recomputes
//! the joined row from the other side's current value (read through its
//! value getter); the result is a table.
//!
//! As in Kafka Streams the join is three nodes: one per side (`KTABLE-JOINTHIS`
//! / `JOINOTHER`, `LEFTTHIS` / `LEFTOTHER`, `OUTERTHIS` / `OUTEROTHER`), each
//! fed by its table and reading the other's rows, and a `KTABLE-MERGE` node
//! that both feed (and that writes the result's store when it is
//! materialized). A joined row's timestamp is the newer of the two sides'.

use std::sync::Arc;

use crate::dsl::join::stream_table::problem;
use crate::dsl::join::ValueGetter;
use crate::dsl::ktable::{add_node, add_store_builder};
use crate::dsl::table_ops::{upsert, Emit};
use crate::dsl::{Change, KTable, Materialized};
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::store::ValueAndTimestamp;

/// Combines a row of this side (if any) with the other side's (if any)
/// into the joined row, or `None` where the join has no row.
type Combine<V, VO, VR> = dyn Fn(Option<&V>, Option<&VO>) -> Option<VR> + Send + Sync;

/// One side of a table-table join: recomputes the joined row for each
/// change of this side's table, with the other side's current row.
struct JoinSide<K, V, VO, VR> {
    other: ValueGetter<K, VO>,
    combine: Arc<Combine<V, VO, VR>>,
}

impl<K: Data, V: Data, VO: Data, VR: Data> Processor<K, Change<V>, K, Change<VR>>
    for JoinSide<K, V, VO, VR>
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, Change<VR>>,
        record: Record<K, Change<V>>,
    ) -> Result<()> {
        let (Some(key), Some(change)) = (record.key, record.value) else {
            return Ok(());
        };
        // An update a versioned table stored out of order (in its history)
        // does not change the join's rows (as Kafka Streams).
        if !change.is_latest {
            return Ok(());
        }
        let other = self.other.get(ctx, &key)?;
        let other_value = other.as_ref().map(|o| &o.value);
        let join = |this: Option<&V>| match (this, other_value) {
            (None, None) => None,
            (this, other) => (self.combine)(this, other),
        };
        let new = join(change.new.as_ref());
        let old = join(change.old.as_ref());
        if new.is_none() && old.is_none() {
            return Ok(());
        }
        let timestamp = match &other {
            Some(o) => record.timestamp.max(o.timestamp),
            None => record.timestamp,
        };
        ctx.forward(Record::from_parts(
            Some(key),
            Some(Change::new(new, old)),
            timestamp,
            record.headers,
        ))
    }
}

/// Writes the joined rows into the result's store and forwards them with
/// the value the store held before (Kafka Streams' `KTableKTableJoinMerger`
/// with a store).
struct MaterializeJoin<K, V> {
    emit: Emit<K, V>,
}

impl<K: Data, V: Data> Processor<K, Change<V>, K, Change<V>> for MaterializeJoin<K, V> {
    fn init(&mut self, ctx: &mut dyn ProcessorContext<K, Change<V>>) -> Result<()> {
        self.emit.init(ctx)
    }

    fn flush(&mut self, ctx: &mut dyn ProcessorContext<K, Change<V>>) -> Result<()> {
        self.emit.flush(ctx)
    }

    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, Change<V>>,
        record: Record<K, Change<V>>,
    ) -> Result<()> {
        let (key, change) = (record.key, record.value);
        let row = Record::from_parts(
            key,
            change.and_then(|c| c.new),
            record.timestamp,
            record.headers,
        );
        upsert(&mut self.emit, ctx, row)
    }
}

/// Which rows a table-table join keeps.
#[derive(Clone, Copy)]
enum Kind {
    Inner,
    Left,
    Outer,
}

impl Kind {
    fn prefixes(self) -> (&'static str, &'static str) {
        match self {
            Kind::Inner => ("KTABLE-JOINTHIS", "KTABLE-JOINOTHER"),
            Kind::Left => ("KTABLE-LEFTTHIS", "KTABLE-LEFTOTHER"),
            Kind::Outer => ("KTABLE-OUTERTHIS", "KTABLE-OUTEROTHER"),
        }
    }
}

impl<K: Data, V: Data> KTable<K, V> {
    /// Joins this table with `other` on their keys (inner join): the result
    /// has a row for each key both tables have, `joiner(this, other)`. An
    /// update on either side recomputes the key's row (a delete on either
    /// side deletes it); its timestamp is the newer of the two sides'. The
    /// result is not materialized: it reads both tables when joined
    /// further; see [`join_materialized`](Self::join_materialized).
    ///
    /// The tables must be co-partitioned (same partition count and key
    /// partitioning of their topics).
    ///
    /// ```
    /// use weir_core::dsl::{Materialized, StreamsBuilder};
    /// use weir_core::topology::{Consumed, Produced};
    /// use weir_core::Serdes;
    ///
    /// let builder = StreamsBuilder::new();
    /// let table = |topic: &str| {
    ///     builder.table(
    ///         topic,
    ///         Consumed::with(Serdes::string(), Serdes::string()),
    ///         Materialized::as_(topic, Serdes::string(), Serdes::string()),
    ///     )
    /// };
    /// let (names, emails) = (table("names"), table("emails"));
    /// names
    ///     .join(&emails, |name, email| format!("{name} <{email}>"))
    ///     .to("contacts", Produced::with(Serdes::string(), Serdes::string()));
    /// let topology = builder.build()?;
    /// assert!(topology.describe().to_string().contains("KTABLE-MERGE-"));
    /// # Ok::<(), weir_core::Error>(())
    /// ```
    pub fn join<VO: Data, VR: Data>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        self.table_join(other, Kind::Inner, inner(joiner), None)
    }

    /// As [`join`](Self::join), with the result materialized in
    /// `materialized`'s store.
    pub fn join_materialized<VO: Data, VR: Data>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR> {
        self.table_join(other, Kind::Inner, inner(joiner), Some(materialized))
    }

    /// Joins this table with `other` (left join): the result has a row for
    /// each key of this table, `joiner(this, other)` with `None` where
    /// `other` has no row. Otherwise as [`join`](Self::join).
    pub fn left_join<VO: Data, VR: Data>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        self.table_join(other, Kind::Left, left(joiner), None)
    }

    /// As [`left_join`](Self::left_join), with the result materialized in
    /// `materialized`'s store.
    pub fn left_join_materialized<VO: Data, VR: Data>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR> {
        self.table_join(other, Kind::Left, left(joiner), Some(materialized))
    }

    /// Joins this table with `other` (outer join): the result has a row for
    /// each key either table has, `joiner(this, other)` with `None` for the
    /// side without a row. Otherwise as [`join`](Self::join).
    pub fn outer_join<VO: Data, VR: Data>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        self.table_join(other, Kind::Outer, outer(joiner), None)
    }

    /// As [`outer_join`](Self::outer_join), with the result materialized in
    /// `materialized`'s store.
    pub fn outer_join_materialized<VO: Data, VR: Data>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR> {
        self.table_join(other, Kind::Outer, outer(joiner), Some(materialized))
    }

    fn table_join<VO: Data, VR: Data>(
        &self,
        other: &KTable<K, VO>,
        kind: Kind,
        combine: Arc<Combine<V, VO, VR>>,
        materialized: Option<Materialized<K, VR>>,
    ) -> KTable<K, VR> {
        let inner = self.shared();
        let (Some(this_getter), Some(other_getter)) =
            (self.value_getter().cloned(), other.value_getter().cloned())
        else {
            problem(
                inner,
                format!(
                    "table join of '{}' and '{}': a table of windows or a suppressed table \
                     cannot be joined",
                    self.node_name(),
                    other.node_name()
                ),
            );
            return KTable::new(inner.clone(), self.node_name().to_string(), None);
        };
        let (this_prefix, other_prefix) = kind.prefixes();
        let swapped: Arc<Combine<VO, V, VR>> = {
            let combine = Arc::clone(&combine);
            Arc::new(move |o: Option<&VO>, t: Option<&V>| combine(t, o))
        };
        let this_node = {
            let (getter, combine) = (other_getter.clone(), Arc::clone(&combine));
            add_node(inner, self.node_name(), this_prefix, move || JoinSide {
                other: getter.clone(),
                combine: Arc::clone(&combine),
            })
        };
        let other_node = {
            let (getter, combine) = (this_getter.clone(), Arc::clone(&swapped));
            add_node(inner, other.node_name(), other_prefix, move || JoinSide {
                other: getter.clone(),
                combine: Arc::clone(&combine),
            })
        };
        {
            let mut b = inner.borrow_mut();
            let other_stores: Vec<&str> =
                other_getter.stores().iter().map(String::as_str).collect();
            b.topology
                .connect_processor_and_state_stores(&this_node, &other_stores);
            let this_stores: Vec<&str> = this_getter.stores().iter().map(String::as_str).collect();
            b.topology
                .connect_processor_and_state_stores(&other_node, &this_stores);
        }
        let merge = inner.borrow_mut().next_name("KTABLE-MERGE");
        match materialized {
            Some(materialized) => {
                let serdes = materialized.serdes();
                let emit = Emit::timestamped(materialized.name().to_string(), serdes.clone());
                inner.borrow_mut().topology.add_processor(
                    &merge,
                    move || MaterializeJoin { emit: emit.clone() },
                    &[this_node.as_str(), other_node.as_str()],
                );
                let builder = materialized.into_store_builder().with_timestamps(true);
                let store = add_store_builder(inner, &builder, &merge);
                KTable::new(inner.clone(), merge, Some(store.clone()))
                    .with_serdes(Some(serdes.0), Some(serdes.1))
                    .with_getter(ValueGetter::of_store(&store))
            }
            None => {
                inner
                    .borrow_mut()
                    .topology
                    .add_pass_through::<K, Change<VR>>(&merge, &[&this_node, &other_node]);
                let getter = this_getter.combine(&other_getter, move |_key, this, other| {
                    let timestamp = match (&this, &other) {
                        (Some(t), Some(o)) => t.timestamp.max(o.timestamp),
                        (Some(t), None) => t.timestamp,
                        (None, Some(o)) => o.timestamp,
                        (None, None) => return None,
                    };
                    let value = combine(
                        this.as_ref().map(|t| &t.value),
                        other.as_ref().map(|o| &o.value),
                    )?;
                    Some(ValueAndTimestamp::new(value, timestamp))
                });
                KTable::new(inner.clone(), merge, None)
                    .with_serdes(self.serdes().0, None)
                    .with_getter(getter)
            }
        }
    }
}

/// An inner join's rows: both sides present.
fn inner<V, VO, VR>(
    joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
) -> Arc<Combine<V, VO, VR>> {
    Arc::new(
        move |this: Option<&V>, other: Option<&VO>| match (this, other) {
            (Some(t), Some(o)) => Some(joiner(t, o)),
            _ => None,
        },
    )
}

/// A left join's rows: this side present.
fn left<V, VO, VR>(
    joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
) -> Arc<Combine<V, VO, VR>> {
    Arc::new(move |this: Option<&V>, other: Option<&VO>| this.map(|t| joiner(t, other)))
}

/// An outer join's rows: either side present (never called with neither).
fn outer<V, VO, VR>(
    joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
) -> Arc<Combine<V, VO, VR>> {
    Arc::new(move |this: Option<&V>, other: Option<&VO>| Some(joiner(this, other)))
}
