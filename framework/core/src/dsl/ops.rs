//! The processors behind the stateless KStream operators.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;

/// Keeps records whose (non-null) value satisfies the predicate, or fails it when `keep` is false.
pub(crate) struct Filter<F> {
    pub(crate) predicate: Arc<F>,
    pub(crate) keep: bool,
}

impl<K: Data, V: Data, F> Processor<K, V> for Filter<F>
where
    F: Fn(Option<&K>, &V) -> bool + Send + Sync,
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, V>,
        record: Record<K, V>,
    ) -> Result<()> {
        let pass = match &record.value {
            Some(v) => (self.predicate)(record.key.as_ref(), v) == self.keep,
            None => false,
        };
        if pass {
            ctx.forward(record)
        } else {
            Ok(())
        }
    }
}

/// Maps key and value to a new key and value.
pub(crate) struct Map<F>(pub(crate) Arc<F>);

impl<K: Data, V: Data, KR: Data, VR: Data, F> Processor<K, V, KR, VR> for Map<F>
where
    F: Fn(Option<K>, V) -> (KR, VR) + Send + Sync,
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<KR, VR>,
        record: Record<K, V>,
    ) -> Result<()> {
        let Some(value) = record.value else {
            return Ok(());
        };
        let (k, v) = (self.0)(record.key, value);
        ctx.forward(Record::from_parts(
            Some(k),
            Some(v),
            record.timestamp,
            record.headers,
        ))
    }
}

/// Maps each value, keeping the key; a null value stays null.
pub(crate) struct MapValues<F>(pub(crate) Arc<F>);

impl<K: Data, V: Data, VR: Data, F> Processor<K, V, K, VR> for MapValues<F>
where
    F: Fn(Option<&K>, V) -> VR + Send + Sync,
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, VR>,
        record: Record<K, V>,
    ) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let value = value.map(|v| (self.0)(key.as_ref(), v));
        ctx.forward(Record::from_parts(key, value, timestamp, headers))
    }
}

/// Maps each record to zero or more records.
pub(crate) struct FlatMap<F>(pub(crate) Arc<F>);

impl<K: Data, V: Data, KR: Data, VR: Data, I, F> Processor<K, V, KR, VR> for FlatMap<F>
where
    F: Fn(Option<K>, V) -> I + Send + Sync,
    I: IntoIterator<Item = (KR, VR)>,
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<KR, VR>,
        record: Record<K, V>,
    ) -> Result<()> {
        let Some(value) = record.value else {
            return Ok(());
        };
        for (k, v) in (self.0)(record.key, value) {
            ctx.forward(Record::from_parts(
                Some(k),
                Some(v),
                record.timestamp,
                record.headers.clone(),
            ))?;
        }
        Ok(())
    }
}

/// Maps each value to zero or more values, keeping the key.
pub(crate) struct FlatMapValues<F>(pub(crate) Arc<F>);

impl<K: Data, V: Data, VR: Data, I, F> Processor<K, V, K, VR> for FlatMapValues<F>
where
    F: Fn(Option<&K>, V) -> I + Send + Sync,
    I: IntoIterator<Item = VR>,
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, VR>,
        record: Record<K, V>,
    ) -> Result<()> {
        let Some(value) = record.value else {
            return Ok(());
        };
        for v in (self.0)(record.key.as_ref(), value) {
            ctx.forward(Record::from_parts(
                record.key.clone(),
                Some(v),
                record.timestamp,
                record.headers.clone(),
            ))?;
        }
        Ok(())
    }
}

/// Computes a new key from key and value.
pub(crate) struct SelectKey<F>(pub(crate) Arc<F>);

impl<K: Data, V: Data, KR: Data, F> Processor<K, V, KR, V> for SelectKey<F>
where
    F: Fn(Option<&K>, &V) -> KR + Send + Sync,
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<KR, V>,
        record: Record<K, V>,
    ) -> Result<()> {
        let Some(value) = &record.value else {
            return Ok(());
        };
        let key = (self.0)(record.key.as_ref(), value);
        ctx.forward(record.with_key(Some(key)))
    }
}

/// Calls an action on each record; forwards it when `forward` is set (peek).
pub(crate) struct Peek<F> {
    pub(crate) action: Arc<F>,
    pub(crate) forward: bool,
}

impl<K: Data, V: Data, F> Processor<K, V> for Peek<F>
where
    F: Fn(Option<&K>, &V) + Send + Sync,
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, V>,
        record: Record<K, V>,
    ) -> Result<()> {
        if let Some(v) = &record.value {
            (self.action)(record.key.as_ref(), v);
        }
        if self.forward {
            ctx.forward(record)
        } else {
            Ok(())
        }
    }
}
