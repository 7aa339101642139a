//! What a foreign-key join sends through its two internal topics, and how it
//! is written (Weir's own formats; Kafka Streams' differ).
//!
//! The formats are documented on [`ForeignKeyJoined`](super::ForeignKeyJoined).

use std::sync::Arc;

use super::hash::ValueHash;
use crate::error::Result;
use crate::serde::{Deserializer, SerdeContext, SerializeContext, Serializer, SharedSerde};

const VERSION: u8 = 0;
const HAS_HASH: u8 = 1;
const HAS_VALUE: u8 = 2;

/// What the right side is to do with a subscription (Kafka Streams'
/// `SubscriptionWrapper.Instruction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Instruction {
    /// Remove the subscription; send nothing back (the left row moved to
    /// another foreign key, whose subscription answers).
    DeleteKeyNoPropagate,
    /// Remove the subscription and answer with no right value (the left row
    /// was deleted or lost its foreign key: its result is deleted).
    DeleteKeyAndPropagate,
    /// Subscribe and answer, with no right value if there is none.
    PropagateNullIfNoFkValAvailable,
    /// Subscribe; answer only if the right side has a value.
    PropagateOnlyIfFkValAvailable,
}

impl Instruction {
    fn code(self) -> u8 {
        match self {
            Instruction::DeleteKeyNoPropagate => 0,
            Instruction::DeleteKeyAndPropagate => 1,
            Instruction::PropagateNullIfNoFkValAvailable => 2,
            Instruction::PropagateOnlyIfFkValAvailable => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Instruction::DeleteKeyNoPropagate,
            1 => Instruction::DeleteKeyAndPropagate,
            2 => Instruction::PropagateNullIfNoFkValAvailable,
            3 => Instruction::PropagateOnlyIfFkValAvailable,
            _ => return None,
        })
    }

    /// Whether the instruction removes the subscription.
    pub(crate) fn unsubscribes(self) -> bool {
        matches!(
            self,
            Instruction::DeleteKeyNoPropagate | Instruction::DeleteKeyAndPropagate
        )
    }
}

/// A left row's subscription to a foreign key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscription<K> {
    /// The hash of the left value (none for a deleted left row).
    pub(crate) hash: Option<ValueHash>,
    pub(crate) instruction: Instruction,
    pub(crate) primary_key: K,
    /// The partition the left record came from, where known: responses go
    /// back to it.
    pub(crate) primary_partition: Option<i32>,
}

/// The right side's answer to a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response<VO> {
    /// The hash the subscription carried.
    pub(crate) hash: Option<ValueHash>,
    /// The right value (none: the foreign key has no row).
    pub(crate) foreign_value: Option<VO>,
    pub(crate) primary_partition: Option<i32>,
}

fn header(out: &mut Vec<u8>, flags: u8, partition: Option<i32>, hash: Option<ValueHash>) {
    out.push(flags | if hash.is_some() { HAS_HASH } else { 0 });
    out.extend_from_slice(&partition.unwrap_or(-1).to_be_bytes());
    if let Some([a, b]) = hash {
        out.extend_from_slice(&a.to_be_bytes());
        out.extend_from_slice(&b.to_be_bytes());
    }
}

/// Reads `n` bytes off the front of `bytes`.
fn take<'b>(ctx: &SerdeContext<'_>, bytes: &mut &'b [u8], n: usize) -> Result<&'b [u8]> {
    if bytes.len() < n {
        return Err(ctx.error("a foreign-key join record cut short"));
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(head)
}

fn u64_of(b: &[u8]) -> u64 {
    b.iter().fold(0, |acc, &x| (acc << 8) | u64::from(x))
}

/// Reads flags, partition and hash; returns the flags.
fn read_header(
    ctx: &SerdeContext<'_>,
    bytes: &mut &[u8],
) -> Result<(u8, Option<i32>, Option<ValueHash>)> {
    let flags = take(ctx, bytes, 1)?[0];
    let p = take(ctx, bytes, 4)?;
    let partition = i32::from_be_bytes([p[0], p[1], p[2], p[3]]);
    let hash = if flags & HAS_HASH != 0 {
        let h = take(ctx, bytes, 16)?;
        Some([u64_of(&h[..8]), u64_of(&h[8..])])
    } else {
        None
    };
    Ok((flags, (partition >= 0).then_some(partition), hash))
}

fn version(ctx: &SerdeContext<'_>, bytes: &mut &[u8]) -> Result<()> {
    let v = take(ctx, bytes, 1)?[0];
    if v != VERSION {
        return Err(ctx.error(format!(
            "a foreign-key join record of version {v} (this Weir reads version {VERSION})"
        )));
    }
    Ok(())
}

/// Writes [`Subscription`]s, the left key with its serde.
pub(crate) struct SubscriptionSerde<K> {
    pub(crate) key_serde: SharedSerde<K>,
}

impl<K> SubscriptionSerde<K> {
    pub(crate) fn shared(key_serde: SharedSerde<K>) -> SharedSerde<Subscription<K>>
    where
        K: 'static,
    {
        Arc::new(SubscriptionSerde { key_serde })
    }
}

impl<K> Serializer<Subscription<K>> for SubscriptionSerde<K> {
    fn serialize(
        &self,
        ctx: &mut SerializeContext<'_>,
        value: &Subscription<K>,
    ) -> Result<Option<Vec<u8>>> {
        let Some(key) = self.key_serde.serialize(ctx, &value.primary_key)? else {
            return Err(ctx.error("a foreign-key subscription's left key serialized to null"));
        };
        let mut out = Vec::with_capacity(23 + key.len());
        out.push(VERSION);
        out.push(value.instruction.code());
        header(&mut out, 0, value.primary_partition, value.hash);
        out.extend_from_slice(&key);
        Ok(Some(out))
    }
}

impl<K> Deserializer<Subscription<K>> for SubscriptionSerde<K> {
    fn deserialize(
        &self,
        ctx: &SerdeContext<'_>,
        bytes: Option<&[u8]>,
    ) -> Result<Option<Subscription<K>>> {
        let Some(mut bytes) = bytes else {
            return Ok(None);
        };
        version(ctx, &mut bytes)?;
        let code = take(ctx, &mut bytes, 1)?[0];
        let instruction = Instruction::from_code(code)
            .ok_or_else(|| ctx.error(format!("unknown subscription instruction {code}")))?;
        let (_, primary_partition, hash) = read_header(ctx, &mut bytes)?;
        let primary_key = self
            .key_serde
            .deserialize(ctx, Some(bytes))?
            .ok_or_else(|| ctx.error("a foreign-key subscription without a left key"))?;
        Ok(Some(Subscription {
            hash,
            instruction,
            primary_key,
            primary_partition,
        }))
    }
}

/// Writes [`Response`]s, the right value with its serde.
pub(crate) struct ResponseSerde<VO> {
    pub(crate) value_serde: SharedSerde<VO>,
}

impl<VO: 'static> ResponseSerde<VO> {
    pub(crate) fn shared(value_serde: SharedSerde<VO>) -> SharedSerde<Response<VO>> {
        Arc::new(ResponseSerde { value_serde })
    }
}

impl<VO> Serializer<Response<VO>> for ResponseSerde<VO> {
    fn serialize(
        &self,
        ctx: &mut SerializeContext<'_>,
        value: &Response<VO>,
    ) -> Result<Option<Vec<u8>>> {
        let foreign = match &value.foreign_value {
            Some(v) => self.value_serde.serialize(ctx, v)?,
            None => None,
        };
        let mut out = Vec::with_capacity(22 + foreign.as_ref().map_or(0, Vec::len));
        out.push(VERSION);
        let flags = if foreign.is_some() { HAS_VALUE } else { 0 };
        header(&mut out, flags, value.primary_partition, value.hash);
        if let Some(foreign) = foreign {
            out.extend_from_slice(&foreign);
        }
        Ok(Some(out))
    }
}

impl<VO> Deserializer<Response<VO>> for ResponseSerde<VO> {
    fn deserialize(
        &self,
        ctx: &SerdeContext<'_>,
        bytes: Option<&[u8]>,
    ) -> Result<Option<Response<VO>>> {
        let Some(mut bytes) = bytes else {
            return Ok(None);
        };
        version(ctx, &mut bytes)?;
        let (flags, primary_partition, hash) = read_header(ctx, &mut bytes)?;
        let foreign_value = if flags & HAS_VALUE != 0 {
            self.value_serde.deserialize(ctx, Some(bytes))?
        } else {
            None
        };
        Ok(Some(Response {
            hash,
            foreign_value,
            primary_partition,
        }))
    }
}

/// The subscription store's key prefix of a serialized foreign key: its
/// length (4 bytes, big-endian), then its bytes.
pub(crate) fn store_prefix(foreign_key: &[u8]) -> Result<Vec<u8>> {
    let len = u32::try_from(foreign_key.len()).map_err(|_| crate::error::Error::Store {
        store: String::new(),
        message: "a foreign key longer than 4 GiB".to_string(),
    })?;
    let mut out = Vec::with_capacity(4 + foreign_key.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(foreign_key);
    Ok(out)
}

#[cfg(test)]
#[path = "wire_proptests.rs"]
mod proptests;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::serde::Serdes;
    use crate::Headers;

    fn round_trip<T>(serde: &SharedSerde<T>, value: &T) -> T {
        let mut headers = Headers::new();
        let bytes = serde
            .serialize(&mut SerializeContext::value("t", &mut headers), value)
            .unwrap();
        serde
            .deserialize(&SerdeContext::value("t", &headers), bytes.as_deref())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn subscriptions_round_trip() {
        let serde = SubscriptionSerde::shared(Serdes::string());
        for instruction in [
            Instruction::DeleteKeyNoPropagate,
            Instruction::DeleteKeyAndPropagate,
            Instruction::PropagateNullIfNoFkValAvailable,
            Instruction::PropagateOnlyIfFkValAvailable,
        ] {
            for (hash, partition) in [(Some([1, u64::MAX]), Some(3)), (None, None)] {
                let s = Subscription {
                    hash,
                    instruction,
                    primary_key: "lhs1".to_string(),
                    primary_partition: partition,
                };
                assert_eq!(round_trip(&serde, &s), s);
            }
        }
    }

    #[test]
    fn responses_round_trip() {
        let serde = ResponseSerde::shared(Serdes::string());
        for (hash, value, partition) in [
            (Some([7, 8]), Some("rhs".to_string()), Some(0)),
            (Some([7, 8]), None, Some(2)),
            (None, None, None),
            (None, Some(String::new()), None),
        ] {
            let r = Response {
                hash,
                foreign_value: value,
                primary_partition: partition,
            };
            assert_eq!(round_trip(&serde, &r), r);
        }
    }

    #[test]
    fn bad_records_are_errors() {
        let headers = Headers::new();
        let ctx = SerdeContext::value("t", &headers);
        let subs = SubscriptionSerde::shared(Serdes::string());
        let resp = ResponseSerde::shared(Serdes::string());
        for bad in [
            &[][..],
            &[1, 0, 0, 0, 0, 0, 0],
            &[0, 9, 0, 0, 0, 0, 0],
            &[0, 0, 1, 0],
        ] {
            assert!(subs.deserialize(&ctx, Some(bad)).is_err(), "{bad:?}");
        }
        for bad in [&[][..], &[1, 0, 0, 0, 0, 0], &[0, 1, 0, 0, 0, 0, 1]] {
            assert!(resp.deserialize(&ctx, Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn store_keys_sort_by_foreign_key_then_left_key() {
        let p = store_prefix(b"rhs1").unwrap();
        assert_eq!(p, [0, 0, 0, 4, b'r', b'h', b's', b'1']);
    }
}
