//! The right side of a foreign-key join: the subscription store, answers to
//! subscriptions, and the fan-out of right-table changes to subscribers.

use std::sync::Arc;

use super::wire::{store_prefix, Instruction, Response, Subscription};
use crate::dsl::join::ValueGetter;
use crate::dsl::Change;
use crate::error::Result;
use crate::headers::Headers;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::{SerializeContext, SharedSerde};

/// Serializes the foreign key and the left key of the store's key.
pub(super) struct StoreKeys<K, KO> {
    pub(super) store: String,
    pub(super) key_serde: SharedSerde<K>,
    pub(super) foreign_key_serde: SharedSerde<KO>,
}

impl<K, KO> Clone for StoreKeys<K, KO> {
    fn clone(&self) -> Self {
        StoreKeys {
            store: self.store.clone(),
            key_serde: Arc::clone(&self.key_serde),
            foreign_key_serde: Arc::clone(&self.foreign_key_serde),
        }
    }
}

impl<K, KO> StoreKeys<K, KO> {
    /// The key prefix of every subscription to `foreign_key`.
    fn prefix(&self, foreign_key: &KO) -> Result<Vec<u8>> {
        let mut headers = Headers::new();
        let mut ctx = SerializeContext::key(&self.store, &mut headers);
        let fk = self
            .foreign_key_serde
            .serialize(&mut ctx, foreign_key)?
            .unwrap_or_default();
        store_prefix(&fk)
    }

    /// The store key of `primary_key`'s subscription to `foreign_key`.
    fn key(&self, foreign_key: &KO, primary_key: &K) -> Result<Vec<u8>> {
        let mut out = self.prefix(foreign_key)?;
        let mut headers = Headers::new();
        let mut ctx = SerializeContext::key(&self.store, &mut headers);
        if let Some(pk) = self.key_serde.serialize(&mut ctx, primary_key)? {
            out.extend_from_slice(&pk);
        }
        Ok(out)
    }
}

/// Receives subscriptions (Kafka Streams' `SubscriptionReceiveProcessorSupplier`
/// and `SubscriptionJoinProcessorSupplier` in one): records or removes the
/// subscription in the store, then answers as its instruction says, with
/// the right row's current value, stamped with the later of the
/// subscription's and the right row's timestamps.
pub(super) struct SubscriptionReceive<K, KO, VO> {
    pub(super) keys: StoreKeys<K, KO>,
    pub(super) right: ValueGetter<KO, VO>,
}

impl<K: Data, KO: Data, VO: Data> Processor<KO, Subscription<K>, K, Response<VO>>
    for SubscriptionReceive<K, KO, VO>
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, Response<VO>>,
        record: Record<KO, Subscription<K>>,
    ) -> Result<()> {
        let Some(subscription) = record.value else {
            return Ok(());
        };
        let instruction = subscription.instruction;
        let foreign = match &record.key {
            Some(fk) => {
                let key = self.keys.key(fk, &subscription.primary_key)?;
                let store = ctx.key_value_store::<Vec<u8>, Subscription<K>>(&self.keys.store)?;
                if instruction.unsubscribes() {
                    store.delete(&key)?;
                } else {
                    store.put(&key, &subscription)?;
                }
                self.right.get(ctx, fk)?
            }
            // Only a left join's row without a foreign key (or deleted)
            // comes without one; it wants its answer.
            None if instruction == Instruction::PropagateNullIfNoFkValAvailable => None,
            None => {
                ctx.record_dropped();
                return Ok(());
            }
        };
        let timestamp = foreign
            .as_ref()
            .map_or(record.timestamp, |f| record.timestamp.max(f.timestamp));
        let foreign_value = match instruction {
            Instruction::DeleteKeyNoPropagate => return Ok(()),
            Instruction::PropagateOnlyIfFkValAvailable if foreign.is_none() => return Ok(()),
            Instruction::DeleteKeyAndPropagate => None,
            _ => foreign.map(|f| f.value),
        };
        let response = Response {
            hash: subscription.hash,
            foreign_value,
            primary_partition: subscription.primary_partition,
        };
        ctx.forward(Record::from_parts(
            Some(subscription.primary_key),
            Some(response),
            timestamp,
            record.headers,
        ))
    }
}

/// Sends each right-table change to every subscriber of its key (Kafka
/// Streams' `ForeignTableJoinProcessorSupplier`), in the order of their
/// serialized left keys, stamped with the change's timestamp.
pub(super) struct ForeignTableJoin<K, KO> {
    pub(super) keys: StoreKeys<K, KO>,
}

impl<K: Data, KO: Data, VO: Data> Processor<KO, Change<VO>, K, Response<VO>>
    for ForeignTableJoin<K, KO>
{
    fn process(
        &mut self,
        ctx: &mut dyn ProcessorContext<K, Response<VO>>,
        record: Record<KO, Change<VO>>,
    ) -> Result<()> {
        let (Some(fk), Some(change)) = (&record.key, &record.value) else {
            ctx.record_dropped();
            return Ok(());
        };
        // An out-of-order update of a versioned table (KIP-914): dropped.
        if !change.is_latest {
            ctx.record_dropped();
            return Ok(());
        }
        let prefix = self.keys.prefix(fk)?;
        let subscribers: Vec<Subscription<K>> = ctx
            .key_value_store::<Vec<u8>, Subscription<K>>(&self.keys.store)?
            .prefix_scan_bytes(&prefix)?
            .map(|entry| entry.map(|(_, s)| s))
            .collect::<Result<_>>()?;
        for subscription in subscribers {
            let response = Response {
                hash: subscription.hash,
                foreign_value: change.new.clone(),
                primary_partition: subscription.primary_partition,
            };
            ctx.forward(Record::from_parts(
                Some(subscription.primary_key),
                Some(response),
                record.timestamp,
                record.headers.clone(),
            ))?;
        }
        Ok(())
    }
}
