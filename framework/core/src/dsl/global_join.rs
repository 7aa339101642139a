//! Stream-global joins: [`KStream::join_global`] and
//! [`KStream::left_join_global`] (Kafka Streams' `KStream#join(GlobalKTable,
//! ..)` and `leftJoin(GlobalKTable, ..)`, semantics of its
//! `KStreamKTableJoinProcessor` as a global join uses it).

use std::sync::Arc;

use crate::dsl::{GlobalKTable, KStream};
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;

type KeyMapper<K, V, GK> = Arc<dyn Fn(Option<&K>, &V) -> Option<GK> + Send + Sync>;

type InnerJoiner<V, GV, VR> = Arc<dyn Fn(&V, &GV) -> VR + Send + Sync>;
type LeftJoiner<V, GV, VR> = Arc<dyn Fn(&V, Option<&GV>) -> VR + Send + Sync>;

enum Joiner<V, GV, VR> {
    Inner(InnerJoiner<V, GV, VR>),
    Left(LeftJoiner<V, GV, VR>),
}

impl<V, GV, VR> Clone for Joiner<V, GV, VR> {
    fn clone(&self) -> Self {
        match self {
            Joiner::Inner(f) => Joiner::Inner(Arc::clone(f)),
            Joiner::Left(f) => Joiner::Left(Arc::clone(f)),
        }
    }
}

/// The join node: looks each stream record up in the global store.
struct GlobalJoin<K, V, GK, GV, VR> {
    store: String,
    mapper: KeyMapper<K, V, GK>,
    joiner: Joiner<V, GV, VR>,
}

impl<K: Data, V: Data, GK: Data, GV: Data, VR: Data> GlobalJoin<K, V, GK, GV, VR> {
    fn lookup(&self, ctx: &mut dyn ProcessorContext<K, VR>, key: &GK) -> Result<Option<GV>> {
        let store = ctx
            .state_store(&self.store)?
            .as_timestamped_key_value_store::<GK, GV>()?;
        Ok(store.get(key)?.map(|v| v.value))
    }

    fn dropped(&self, ctx: &mut dyn ProcessorContext<K, VR>) {
        match ctx.record_metadata() {
            Some(m) => tracing::warn!(
                topic = %m.topic,
                partition = m.partition,
                offset = m.offset,
                store = %self.store,
                "skipping a record with a null join key or value"
            ),
            None => tracing::warn!(
                store = %self.store,
                "skipping a record with a null join key or value"
            ),
        }
        ctx.record_dropped();
    }
}

impl<K: Data, V: Data, GK: Data, GV: Data, VR: Data> Processor<K, V, K, VR>
    for GlobalJoin<K, V, GK, GV, VR>
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, VR>,
        record: Record<K, V>,
    ) -> Result<()> {
        let Some(value) = record.value.as_ref() else {
            self.dropped(ctx);
            return Ok(());
        };
        let mapped = (self.mapper)(record.key.as_ref(), value);
        // A left join keeps every record with a value (KIP-962 for records
        // without a key; Kafka Streams 4.x also joins a key mapped to null
        // with null); an inner join needs a mapped key.
        let left = matches!(self.joiner, Joiner::Left(_));
        let found = match &mapped {
            Some(key) => self.lookup(ctx, key)?,
            None if left => None,
            None => {
                self.dropped(ctx);
                return Ok(());
            }
        };
        let joined = match (&self.joiner, found.as_ref()) {
            (Joiner::Inner(f), Some(other)) => f(value, other),
            (Joiner::Inner(_), None) => return Ok(()),
            (Joiner::Left(f), other) => f(value, other),
        };
        ctx.forward(record.with_value(Some(joined)))
    }
}

impl<K: Data, V: Data> KStream<K, V> {
    fn global_join<GK: Data, GV: Data, VR: Data>(
        &self,
        prefix: &str,
        global: &GlobalKTable<GK, GV>,
        mapper: KeyMapper<K, V, GK>,
        joiner: Joiner<V, GV, VR>,
    ) -> KStream<K, VR> {
        let store = global.store_name().to_string();
        self.add(prefix, move || GlobalJoin {
            store: store.clone(),
            mapper: Arc::clone(&mapper),
            joiner: joiner.clone(),
        })
    }

    /// Joins each record with the [`GlobalKTable`] entry whose key
    /// `key_mapper` computes from the record's key and value: `joiner`
    /// makes the value of the output record, which keeps the stream
    /// record's key, timestamp and headers. Only stream records make output;
    /// an update of the global table joins nothing.
    ///
    /// A record is dropped (and counted in `dropped-records`) when its
    /// value is null or `key_mapper` returns `None`; one whose mapped key
    /// has no entry in the table makes no output. A record without a key
    /// is joined if its mapped key finds an entry. No co-partitioning is
    /// needed: the table is whole on every instance.
    ///
    /// ```
    /// use weir_core::dsl::{Materialized, StreamsBuilder};
    /// use weir_core::topology::{Consumed, Produced};
    /// use weir_core::Serdes;
    ///
    /// let builder = StreamsBuilder::new();
    /// let products = builder.global_table(
    ///     "products",
    ///     Consumed::with(Serdes::string(), Serdes::string()),
    ///     Materialized::as_("products", Serdes::string(), Serdes::string()),
    /// );
    /// // Orders are keyed by order id; their value names the product.
    /// builder
    ///     .stream("orders", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .join_global(&products, |_order, product| Some(product.clone()), |product, name| {
    ///         format!("{product}: {name}")
    ///     })
    ///     .to("orders-named", Produced::with(Serdes::string(), Serdes::string()));
    /// builder.build()?;
    /// # Ok::<(), weir_core::Error>(())
    /// ```
    pub fn join_global<GK: Data, GV: Data, VR: Data>(
        &self,
        global: &GlobalKTable<GK, GV>,
        key_mapper: impl Fn(Option<&K>, &V) -> Option<GK> + Send + Sync + 'static,
        joiner: impl Fn(&V, &GV) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        self.global_join(
            "KSTREAM-JOIN",
            global,
            Arc::new(key_mapper),
            Joiner::Inner(Arc::new(joiner)),
        )
    }

    /// Like [`join_global`](Self::join_global), but every record with a
    /// value makes output: one whose mapped key has no entry in the table,
    /// or whose `key_mapper` returns `None`, is joined with `None`; a
    /// record without a key is kept too (KIP-962), joined with the entry of
    /// its mapped key if there is one. Only a record with a null value is
    /// dropped (and counted in `dropped-records`), as in Kafka Streams 4.x.
    pub fn left_join_global<GK: Data, GV: Data, VR: Data>(
        &self,
        global: &GlobalKTable<GK, GV>,
        key_mapper: impl Fn(Option<&K>, &V) -> Option<GK> + Send + Sync + 'static,
        joiner: impl Fn(&V, Option<&GV>) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        self.global_join(
            "KSTREAM-LEFTJOIN",
            global,
            Arc::new(key_mapper),
            Joiner::Left(Arc::new(joiner)),
        )
    }
}
