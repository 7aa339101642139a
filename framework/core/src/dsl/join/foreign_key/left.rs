//! The left side of a foreign-key join: what the left table's changes
//! subscribe to, and how responses become results.

use std::sync::Arc;

use super::hash::{hash128, ValueHash};
use super::wire::{Instruction, Response, Subscription};
use crate::dsl::join::ValueGetter;
use crate::dsl::Change;
use crate::error::Result;
use crate::headers::Headers;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::{SerializeContext, SharedSerde};

/// The hash of `value` written with `serde` (none if it writes null).
pub(super) fn value_hash<V>(
    serde: &SharedSerde<V>,
    topic: &str,
    value: &V,
) -> Result<Option<ValueHash>> {
    let mut headers = Headers::new();
    let bytes = serde.serialize(&mut SerializeContext::value(topic, &mut headers), value)?;
    Ok(bytes.map(|b| hash128(&b)))
}

/// Turns each left change into subscription instructions (Kafka Streams'
/// `SubscriptionSendProcessorSupplier`), keyed by foreign key.
///
/// Inner join: an insert subscribes and wants an answer only if the right
/// row exists; an update with the same foreign key the same; an update to
/// another foreign key unsubscribes the old one silently and subscribes the
/// new one asking for an answer either way (to replace or delete the old
/// result); an update to a null foreign key, or a delete, unsubscribes
/// asking for a delete of the result. Left join: every change unsubscribes
/// a changed old foreign key silently and sends a subscription asking for
/// an answer either way (without a key when the foreign key is null or the
/// row was deleted: the right side answers it with no value).
pub(super) struct SubscriptionSend<KO, V, F> {
    pub(super) foreign_key: Arc<F>,
    pub(super) foreign_key_serde: SharedSerde<KO>,
    pub(super) value_serde: SharedSerde<V>,
    /// The topic name the serdes are called with.
    pub(super) topic: Arc<str>,
    pub(super) left_join: bool,
}

impl<KO, V, F> SubscriptionSend<KO, V, F> {
    fn changed(&self, new: Option<&KO>, old: &KO) -> Result<bool> {
        let mut headers = Headers::new();
        let mut ctx = SerializeContext::key(&self.topic, &mut headers);
        let old = self.foreign_key_serde.serialize(&mut ctx, old)?;
        let new = match new {
            Some(k) => self.foreign_key_serde.serialize(&mut ctx, k)?,
            None => None,
        };
        Ok(new != old)
    }
}

impl<K: Data, V: Data, KO: Data, F> Processor<K, Change<V>, KO, Subscription<K>>
    for SubscriptionSend<KO, V, F>
where
    F: Fn(&V) -> Option<KO> + Send + Sync,
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<KO, Subscription<K>>,
        record: Record<K, Change<V>>,
    ) -> Result<()> {
        let (Some(key), Some(change)) = (record.key, record.value) else {
            return Ok(());
        };
        // An update a versioned table stored out of order (in its history)
        // changes no join result: dropped, as in Kafka Streams (KIP-914).
        if !change.is_latest {
            ctx.record_dropped();
            return Ok(());
        }
        let hash = match &change.new {
            Some(v) => value_hash(&self.value_serde, &self.topic, v)?,
            None => None,
        };
        let partition = ctx.record_metadata().map(|m| m.partition);
        let (ts, headers) = (record.timestamp, record.headers);
        let send = |ctx: &mut dyn ProcessorContext<KO, Subscription<K>>,
                    fk: Option<KO>,
                    instruction: Instruction| {
            let subscription = Subscription {
                hash,
                instruction,
                primary_key: key.clone(),
                primary_partition: partition,
            };
            ctx.forward(Record::from_parts(
                fk,
                Some(subscription),
                ts,
                headers.clone(),
            ))
        };
        let old_fk = change.old.as_ref().and_then(|v| (self.foreign_key)(v));
        if self.left_join {
            if change.old.is_none() && change.new.is_none() {
                return Ok(());
            }
            let new_fk = change.new.as_ref().and_then(|v| (self.foreign_key)(v));
            if let Some(old_fk) = old_fk {
                if self.changed(new_fk.as_ref(), &old_fk)? {
                    send(ctx, Some(old_fk), Instruction::DeleteKeyNoPropagate)?;
                }
            }
            return send(ctx, new_fk, Instruction::PropagateNullIfNoFkValAvailable);
        }
        match &change.new {
            Some(new) => match (self.foreign_key)(new) {
                None => {
                    // A null foreign key joins nothing: drop the row's
                    // result, if it had a foreign key before.
                    ctx.record_dropped();
                    if let Some(old_fk) = old_fk {
                        send(ctx, Some(old_fk), Instruction::DeleteKeyAndPropagate)?;
                    }
                    Ok(())
                }
                Some(new_fk) => match old_fk {
                    Some(old_fk) if self.changed(Some(&new_fk), &old_fk)? => {
                        send(ctx, Some(old_fk), Instruction::DeleteKeyNoPropagate)?;
                        send(
                            ctx,
                            Some(new_fk),
                            Instruction::PropagateNullIfNoFkValAvailable,
                        )
                    }
                    _ => send(
                        ctx,
                        Some(new_fk),
                        Instruction::PropagateOnlyIfFkValAvailable,
                    ),
                },
            },
            None => match old_fk {
                Some(old_fk) => send(ctx, Some(old_fk), Instruction::DeleteKeyAndPropagate),
                None => Ok(()),
            },
        }
    }
}

/// Joins each response with the left row's current value (Kafka Streams'
/// `ResponseJoinProcessorSupplier`): a response whose hash is not the hash
/// of the current left value is stale (the row changed since it
/// subscribed) and is dropped; otherwise a response without a right value
/// deletes the result (inner join, or a left row that is gone) or joins
/// with no right value (left join), and one with a value joins. The joiner
/// says which: it gives `None` (a delete) for an inner join without a right
/// value.
pub(super) struct ResponseJoin<K, V, J> {
    pub(super) left: ValueGetter<K, V>,
    pub(super) value_serde: SharedSerde<V>,
    pub(super) topic: Arc<str>,
    pub(super) joiner: Arc<J>,
}

impl<K: Data, V: Data, VO: Data, VR: Data, J> Processor<K, Response<VO>, K, VR>
    for ResponseJoin<K, V, J>
where
    J: Fn(&V, Option<&VO>) -> Option<VR> + Send + Sync,
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, VR>,
        record: Record<K, Response<VO>>,
    ) -> Result<()> {
        let (Some(key), Some(response)) = (&record.key, &record.value) else {
            return Ok(());
        };
        let current = self.left.get(ctx, key)?;
        let current_hash = match &current {
            Some(v) => value_hash(&self.value_serde, &self.topic, &v.value)?,
            None => None,
        };
        if current_hash != response.hash {
            ctx.record_dropped();
            return Ok(());
        }
        let result = current.and_then(|c| (self.joiner)(&c.value, response.foreign_value.as_ref()));
        let Record {
            key,
            timestamp,
            headers,
            ..
        } = record;
        ctx.forward(Record::from_parts(key, result, timestamp, headers))
    }
}

/// The result of an unmaterialized join as table changes (no old values).
pub(super) struct Unmaterialized;

impl<K: Data, VR: Data> Processor<K, VR, K, Change<VR>> for Unmaterialized {
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, Change<VR>>,
        record: Record<K, VR>,
    ) -> Result<()> {
        if record.key.is_none() {
            return Ok(());
        }
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        ctx.forward(Record::from_parts(
            key,
            Some(Change::new(value, None)),
            timestamp,
            headers,
        ))
    }
}
