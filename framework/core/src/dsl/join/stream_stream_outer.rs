//! The store a left or outer stream-stream join shares between its two
//! sides (Kafka Streams' "outer shared store", KIP-633's fix of spurious
//! left/outer results): the records that found no partner yet, kept until
//! their window closes.
//!
//! Keys sort by time, then side, then key, so the records whose window
//! closed are a range from the start of the store:
//!
//! ```text
//! key:   timestamp : 8 BE | side : 1 (0 right, 1 left) | key bytes
//! value: (side : 1 | length : 4 BE | value bytes)*   every record of that key, in arrival order
//! ```
//!
//! The key is Kafka Streams' `TimestampedKeyAndJoinSide` layout; a key
//! holds the list of records that share it, as its `ListValueStore` does.

use crate::error::Result;
use crate::serde::{Deserializer, SerdeContext, SerializeContext, Serializer, SharedSerde};

/// A key of the shared store: a record's timestamp, its side and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OuterKey<K> {
    pub(crate) timestamp: i64,
    pub(crate) left: bool,
    pub(crate) key: K,
}

/// A record waiting in the shared store: a left value or a right value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Side<V1, V2> {
    Left(V1),
    Right(V2),
}

/// The shared store's key serde: [`OuterKey`] in the layout above.
pub(crate) struct OuterKeySerde<K>(pub(crate) SharedSerde<K>);

impl<K> Serializer<OuterKey<K>> for OuterKeySerde<K> {
    fn serialize(
        &self,
        ctx: &mut SerializeContext<'_>,
        value: &OuterKey<K>,
    ) -> Result<Option<Vec<u8>>> {
        let Some(key) = self.0.serialize(ctx, &value.key)? else {
            return Err(ctx.error("a stream-stream join's key serialized to null"));
        };
        let mut bytes = Vec::with_capacity(9 + key.len());
        bytes.extend_from_slice(&value.timestamp.to_be_bytes());
        bytes.push(u8::from(value.left));
        bytes.extend_from_slice(&key);
        Ok(Some(bytes))
    }
}

impl<K> Deserializer<OuterKey<K>> for OuterKeySerde<K> {
    fn deserialize(
        &self,
        ctx: &SerdeContext<'_>,
        bytes: Option<&[u8]>,
    ) -> Result<Option<OuterKey<K>>> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let (Some(time), Some(&side)) = (bytes.get(..8), bytes.get(8)) else {
            return Err(ctx.error(format!(
                "a stream-stream join's shared-store key of {} bytes (at least 9 expected)",
                bytes.len()
            )));
        };
        let mut timestamp = [0u8; 8];
        timestamp.copy_from_slice(time);
        let Some(key) = self.0.deserialize(ctx, bytes.get(9..))? else {
            return Err(ctx.error("a stream-stream join's shared-store key read as null"));
        };
        Ok(Some(OuterKey {
            timestamp: i64::from_be_bytes(timestamp),
            left: side == 1,
            key,
        }))
    }
}

/// The shared store's value serde: the list of [`Side`]s of one key.
pub(crate) struct SideListSerde<V1, V2> {
    pub(crate) left: SharedSerde<V1>,
    pub(crate) right: SharedSerde<V2>,
}

impl<V1, V2> Serializer<Vec<Side<V1, V2>>> for SideListSerde<V1, V2> {
    fn serialize(
        &self,
        ctx: &mut SerializeContext<'_>,
        values: &Vec<Side<V1, V2>>,
    ) -> Result<Option<Vec<u8>>> {
        if values.is_empty() {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        for value in values {
            let (side, raw) = match value {
                Side::Left(v) => (1u8, self.left.serialize(ctx, v)?),
                Side::Right(v) => (0u8, self.right.serialize(ctx, v)?),
            };
            let raw = raw.unwrap_or_default();
            let len = u32::try_from(raw.len())
                .map_err(|_| ctx.error("a join value longer than 4 GiB"))?;
            bytes.push(side);
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(&raw);
        }
        Ok(Some(bytes))
    }
}

impl<V1, V2> Deserializer<Vec<Side<V1, V2>>> for SideListSerde<V1, V2> {
    fn deserialize(
        &self,
        ctx: &SerdeContext<'_>,
        bytes: Option<&[u8]>,
    ) -> Result<Option<Vec<Side<V1, V2>>>> {
        let Some(mut rest) = bytes else {
            return Ok(None);
        };
        let malformed = || ctx.error("a malformed stream-stream join shared-store value");
        let mut values = Vec::new();
        while let Some((&side, tail)) = rest.split_first() {
            let len = tail.get(..4).ok_or_else(malformed)?;
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let raw = tail.get(4..4 + len).ok_or_else(malformed)?;
            let value = if side == 1 {
                Side::Left(
                    self.left
                        .deserialize(ctx, Some(raw))?
                        .ok_or_else(malformed)?,
                )
            } else {
                Side::Right(
                    self.right
                        .deserialize(ctx, Some(raw))?
                        .ok_or_else(malformed)?,
                )
            };
            values.push(value);
            rest = &tail[4 + len..];
        }
        Ok(Some(values))
    }
}

#[cfg(test)]
#[path = "stream_stream_outer_proptests.rs"]
mod proptests;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::headers::Headers;
    use crate::serde::Serdes;

    #[test]
    fn keys_sort_by_time_then_side_then_key_and_read_back() {
        let serde = OuterKeySerde(Serdes::string());
        let mut headers = Headers::default();
        let mut write = |timestamp, left, key: &str| {
            let k = OuterKey {
                timestamp,
                left,
                key: key.to_string(),
            };
            serde
                .serialize(&mut SerializeContext::key("s", &mut headers), &k)
                .unwrap()
                .unwrap()
        };
        let keys = [
            write(1, false, "b"),
            write(1, true, "a"),
            write(2, false, "a"),
            write(300, false, "a"),
        ];
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let headers = Headers::default();
        let back = serde
            .deserialize(&SerdeContext::key("s", &headers), Some(&keys[1]))
            .unwrap()
            .unwrap();
        assert_eq!(
            back,
            OuterKey {
                timestamp: 1,
                left: true,
                key: "a".to_string()
            }
        );
    }

    #[test]
    fn value_lists_round_trip_in_order() {
        let serde = SideListSerde {
            left: Serdes::string(),
            right: Serdes::i64(),
        };
        let values = vec![
            Side::Left("x".to_string()),
            Side::Right(7),
            Side::Left(String::new()),
        ];
        let mut headers = Headers::default();
        let bytes = serde
            .serialize(&mut SerializeContext::value("s", &mut headers), &values)
            .unwrap();
        let back = serde
            .deserialize(&SerdeContext::value("s", &headers), bytes.as_deref())
            .unwrap();
        assert_eq!(back, Some(values));
        assert!(serde
            .deserialize(&SerdeContext::value("s", &headers), Some(&[1, 0, 0]))
            .is_err());
    }
}
