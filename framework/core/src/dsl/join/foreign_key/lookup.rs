//! How the join's processors read a table's current value: the left table's
//! (to check a response against the current left value) and the right
//! table's (to answer a new subscription).

use crate::error::Result;
use crate::processor::{Data, ProcessorContext};
use crate::store::ValueAndTimestamp;

/// Reads a table's current value (and its timestamp) for a key, from any
/// processor connected to [`stores`](Lookup::stores).
pub(crate) trait Lookup<K, V>: Clone + Send + Sync + 'static {
    /// The current value of `key`, if the table holds one.
    fn get<KO, VO>(
        &self,
        ctx: &mut dyn ProcessorContext<KO, VO>,
        key: &K,
    ) -> Result<Option<ValueAndTimestamp<V>>>;

    /// The stores a processor using it must be connected to.
    fn stores(&self) -> Vec<String>;
}

/// Reads a materialized table's store directly: its value with the
/// timestamp the store keeps, or `i64::MIN` (never the larger of two
/// timestamps) for a store without timestamps.
#[derive(Clone)]
pub(crate) struct StoreLookup {
    pub(crate) store: String,
}

impl<K: Data, V: Data> Lookup<K, V> for StoreLookup {
    fn get<KO, VO>(
        &self,
        ctx: &mut dyn ProcessorContext<KO, VO>,
        key: &K,
    ) -> Result<Option<ValueAndTimestamp<V>>> {
        let timestamped = ctx
            .state_store(&self.store)?
            .as_timestamped_key_value_store::<K, V>()
            .is_ok();
        if timestamped {
            return ctx
                .state_store(&self.store)?
                .as_timestamped_key_value_store::<K, V>()?
                .get(key);
        }
        let store = ctx.state_store(&self.store)?.as_key_value_store::<K, V>()?;
        Ok(store.get(key)?.map(|v| ValueAndTimestamp::new(v, i64::MIN)))
    }

    fn stores(&self) -> Vec<String> {
        vec![self.store.clone()]
    }
}
