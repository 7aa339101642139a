//! The stream-table join (Kafka Streams' `KStream#join(KTable)` and
//! `leftJoin`): each stream record looks its key up in the table and is
//! joined with the row it finds. Only stream records produce output; a table
//! update joins nothing by itself.

use std::sync::Arc;

use crate::dsl::join::stream_table_grace::{grace_buffer, grace_store_builder, GraceBuffer};
use crate::dsl::join::{Joined, ValueGetter};
use crate::dsl::{KStream, KTable, Shared};
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;

/// Joins each stream record with the table's row for its key:
/// `joiner(value, row)` gives the output value, or `None` for no output.
/// `left` keeps records without a key (joined with no row), as Kafka
/// Streams does since KIP-962.
struct StreamTableJoin<K, V, VT, F> {
    getter: ValueGetter<K, VT>,
    joiner: Arc<F>,
    left: bool,
    /// With a grace period: where stream records wait for it.
    buffer: Option<GraceBuffer<K, V>>,
}

impl<K: Data, V: Data, VT: Data, F> StreamTableJoin<K, V, VT, F> {
    /// Joins one record with the table's row as of its timestamp.
    fn join<VR: Data>(
        &self,
        ctx: &mut dyn ProcessorContext<K, VR>,
        record: Record<K, V>,
    ) -> Result<()>
    where
        F: Fn(&V, Option<&VT>) -> Option<VR>,
    {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let Some(value) = value else {
            return Ok(());
        };
        let row = match &key {
            Some(k) => self.getter.get_as_of(ctx, k, timestamp)?.map(|r| r.value),
            None => None,
        };
        match (self.joiner)(&value, row.as_ref()) {
            Some(joined) => ctx.forward(Record::from_parts(key, Some(joined), timestamp, headers)),
            None => Ok(()),
        }
    }
}

impl<K: Data, V: Data, VT: Data, VR: Data, F> Processor<K, V, K, VR>
    for StreamTableJoin<K, V, VT, F>
where
    F: Fn(&V, Option<&VT>) -> Option<VR> + Send + Sync,
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, VR>,
        record: Record<K, V>,
    ) -> Result<()> {
        if record.value.is_none() {
            tracing::warn!(
                node = ctx.node_name(),
                "skipping a record with a null value"
            );
            ctx.record_dropped();
            return Ok(());
        }
        if record.key.is_none() && !self.left {
            tracing::warn!(node = ctx.node_name(), "skipping a record with a null key");
            ctx.record_dropped();
            return Ok(());
        }
        let Some(buffer) = self.buffer.as_mut() else {
            return self.join(ctx, record);
        };
        // With a grace period (Kafka Streams' KIP-923): the record waits
        // until stream time reaches its timestamp + grace, unless it is
        // already that late; then every record due leaves in timestamp
        // order, each joined as of its own timestamp.
        let due = match buffer.put(ctx, record)? {
            Some(now) => vec![now],
            None => buffer.evict(ctx)?,
        };
        for record in due {
            self.join(ctx, record)?;
        }
        Ok(())
    }
}

/// Fails the build with `message` (the join cannot be made).
pub(crate) fn problem(inner: &Shared, message: String) {
    inner.borrow_mut().topology.problems.push(message);
}

impl<K: Data, V: Data> KStream<K, V> {
    /// Joins each record with the row of `table` for its key (inner join):
    /// `joiner(value, row)` gives the output value; a record whose key has
    /// no row, or that has no key or value, gives nothing. Table updates
    /// trigger nothing; the output keeps the stream record's key, timestamp
    /// and headers.
    ///
    /// The stream and the table must be co-partitioned: their topics have
    /// the same number of partitions and the same key partitioning. If an
    /// operator upstream changed the stream's key (`map`, `select_key`,
    /// ...), the stream is first repartitioned through
    /// `<application.id>-<name>-repartition` with `joined`'s serdes.
    ///
    /// ```
    /// use weir_core::dsl::{Joined, Materialized, StreamsBuilder};
    /// use weir_core::topology::{Consumed, Produced};
    /// use weir_core::Serdes;
    ///
    /// let builder = StreamsBuilder::new();
    /// let customers = builder.table(
    ///     "customers",
    ///     Consumed::with(Serdes::string(), Serdes::string()),
    ///     Materialized::as_("customers", Serdes::string(), Serdes::string()),
    /// );
    /// builder
    ///     .stream("orders", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .join_table(
    ///         &customers,
    ///         |amount, name| format!("{name} ordered {amount}"),
    ///         Joined::with(Serdes::string(), Serdes::i64(), Serdes::string()),
    ///     )
    ///     .to("enriched-orders", Produced::with(Serdes::string(), Serdes::string()));
    /// let topology = builder.build()?;
    /// assert!(topology.describe().to_string().contains("KSTREAM-JOIN-"));
    /// # Ok::<(), weir_core::Error>(())
    /// ```
    pub fn join_table<VT: Data, VR: Data>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(&V, &VT) -> VR + Send + Sync + 'static,
        joined: Joined<K, V, VT>,
    ) -> KStream<K, VR> {
        let joiner = move |v: &V, row: Option<&VT>| row.map(|row| joiner(v, row));
        self.stream_table_join(table, "KSTREAM-JOIN", false, joiner, joined)
    }

    /// Joins each record with the row of `table` for its key (left join):
    /// `joiner(value, row)` gives the output value, with `None` for a key
    /// without a row. Every record with a value gives one output, records
    /// without a key too (joined with `None`, as Kafka Streams does since
    /// KIP-962). Otherwise as [`join_table`](Self::join_table).
    pub fn left_join_table<VT: Data, VR: Data>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(&V, Option<&VT>) -> VR + Send + Sync + 'static,
        joined: Joined<K, V, VT>,
    ) -> KStream<K, VR> {
        let joiner = move |v: &V, row: Option<&VT>| Some(joiner(v, row));
        self.stream_table_join(table, "KSTREAM-LEFTJOIN", true, joiner, joined)
    }

    fn stream_table_join<VT: Data, VR: Data>(
        &self,
        table: &KTable<K, VT>,
        prefix: &str,
        left: bool,
        joiner: impl Fn(&V, Option<&VT>) -> Option<VR> + Send + Sync + 'static,
        joined: Joined<K, V, VT>,
    ) -> KStream<K, VR> {
        let inner = self.shared();
        let name = match &joined.name {
            Some(n) => n.clone(),
            None => inner.borrow_mut().next_name(prefix),
        };
        let Some(getter) = table.value_getter().cloned() else {
            problem(
                inner,
                format!(
                    "join '{name}': the table '{}' cannot be joined (a table of windows or a \
                     suppressed table has no value getter); materialize it first",
                    table.node_name()
                ),
            );
            return KStream::new(inner.clone(), name);
        };
        let buffer = match grace_buffer(&name, table.node_name(), &getter, &joined) {
            Ok(buffer) => buffer,
            Err(message) => {
                problem(inner, message);
                return KStream::new(inner.clone(), name);
            }
        };
        let repartition_name = joined.name.as_deref().unwrap_or(self.node_name());
        let stream = self.for_join(
            repartition_name,
            joined.key_serde.clone(),
            joined.value_serde.clone(),
        );
        let stores: Vec<String> = getter.stores().to_vec();
        let buffer_store = buffer.as_ref().map(|b| grace_store_builder(b.store()));
        let joiner = Arc::new(joiner);
        {
            let mut inner = inner.borrow_mut();
            inner.topology.add_processor(
                &name,
                move || StreamTableJoin {
                    getter: getter.clone(),
                    joiner: Arc::clone(&joiner),
                    left,
                    buffer: buffer.as_ref().map(GraceBuffer::fresh),
                },
                &[stream.node_name()],
            );
            let mut stores: Vec<&str> = stores.iter().map(String::as_str).collect();
            if let Some(buffer) = &buffer_store {
                inner.topology.add_key_value_store(buffer, &[]);
                stores.push(buffer.name());
            }
            inner
                .topology
                .connect_processor_and_state_stores(&name, &stores);
        }
        KStream::new(inner.clone(), name)
    }
}
