//! [`ValueAndTimestamp`]: a stored value with the timestamp of the newest
//! record that made it, as aggregations keep their results.

use crate::error::Result;
use crate::serde::{Deserializer, SerdeContext, SerializeContext, Serializer, SharedSerde};

/// A value and its timestamp (Kafka Streams' `ValueAndTimestamp`): what
/// windowed aggregations store, so the result they forward carries the
/// timestamp of the newest record in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValueAndTimestamp<V> {
    /// The value.
    pub value: V,
    /// Its timestamp, in milliseconds.
    pub timestamp: i64,
}

impl<V> ValueAndTimestamp<V> {
    /// `value` at `timestamp`.
    pub fn new(value: V, timestamp: i64) -> Self {
        ValueAndTimestamp { value, timestamp }
    }
}

/// Stores a [`ValueAndTimestamp`] as Kafka Streams' timestamped stores do:
/// the timestamp as 8 big-endian bytes, then the inner serde's bytes.
///
/// ```
/// use std::sync::Arc;
/// use weir_core::serde::{Deserializer, SerdeContext, SerializeContext, Serdes, Serializer};
/// use weir_core::store::{TimestampedSerde, ValueAndTimestamp};
/// use weir_core::Headers;
///
/// let serde = TimestampedSerde::new(Serdes::i64());
/// let mut headers = Headers::new();
/// let bytes = serde.serialize(&mut SerializeContext::value("s", &mut headers), &ValueAndTimestamp::new(3, 7))?;
/// assert_eq!(bytes.as_deref().map(<[u8]>::len), Some(16));
/// let back = serde.deserialize(&SerdeContext::value("s", &headers), bytes.as_deref())?;
/// assert_eq!(back, Some(ValueAndTimestamp::new(3, 7)));
/// # Ok::<(), weir_core::Error>(())
/// ```
pub struct TimestampedSerde<V> {
    inner: SharedSerde<V>,
}

impl<V> TimestampedSerde<V> {
    /// Timestamped values of the `inner` serde.
    pub fn new(inner: SharedSerde<V>) -> Self {
        TimestampedSerde { inner }
    }
}

impl<V> Serializer<ValueAndTimestamp<V>> for TimestampedSerde<V> {
    fn serialize(
        &self,
        ctx: &mut SerializeContext<'_>,
        value: &ValueAndTimestamp<V>,
    ) -> Result<Option<Vec<u8>>> {
        let Some(inner) = self.inner.serialize(ctx, &value.value)? else {
            return Ok(None);
        };
        let mut bytes = Vec::with_capacity(8 + inner.len());
        bytes.extend_from_slice(&value.timestamp.to_be_bytes());
        bytes.extend_from_slice(&inner);
        Ok(Some(bytes))
    }
}

impl<V> Deserializer<ValueAndTimestamp<V>> for TimestampedSerde<V> {
    fn deserialize(
        &self,
        ctx: &SerdeContext<'_>,
        bytes: Option<&[u8]>,
    ) -> Result<Option<ValueAndTimestamp<V>>> {
        let Some(bytes) = bytes else { return Ok(None) };
        if bytes.len() < 8 {
            return Err(ctx.error(format!(
                "a timestamped value needs 8 bytes of timestamp, got {}",
                bytes.len()
            )));
        }
        let (ts, rest) = bytes.split_at(8);
        let mut raw = [0u8; 8];
        raw.copy_from_slice(ts);
        Ok(self
            .inner
            .deserialize(ctx, Some(rest))?
            .map(|value| ValueAndTimestamp::new(value, i64::from_be_bytes(raw))))
    }
}
