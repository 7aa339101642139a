//! Serdes for windowed keys, byte-compatible with Kafka Streams'
//! `TimeWindowedSerde` and `SessionWindowedSerde`, so a Kafka Streams
//! consumer reads the output topics of Weir's windowed aggregations.

use super::{Deserializer, SerdeContext, SerializeContext, Serializer, SharedSerde};
use crate::error::Result;
use crate::window::{Window, Windowed};

const TIMESTAMP: usize = 8;

/// A time-windowed key: the inner key's bytes, then the window start as 8
/// big-endian bytes (Kafka Streams' `TimeWindowedSerializer`). Reading
/// gives the window `[start, start + window size)`; the size is not in the
/// bytes, so the serde is told it (an end past `i64::MAX` is `i64::MAX`, as
/// in Kafka Streams).
///
/// ```
/// use weir_core::serde::{Serdes, SerdeContext, SerializeContext};
/// use weir_core::window::{Window, Windowed};
/// use weir_core::Headers;
///
/// let serde = Serdes::time_windowed(Serdes::string(), 60_000);
/// let key = Windowed::new("a".to_string(), Window::new(120_000, 180_000));
/// let mut headers = Headers::new();
/// let bytes = serde.serialize(&mut SerializeContext::key("out", &mut headers), &key)?;
/// assert_eq!(bytes.as_deref(), Some(&[b'a', 0, 0, 0, 0, 0, 1, 0xd4, 0xc0][..]));
/// let back = serde.deserialize(&SerdeContext::key("out", &headers), bytes.as_deref())?;
/// assert_eq!(back, Some(key));
/// # Ok::<(), weir_core::Error>(())
/// ```
pub struct TimeWindowedSerde<K> {
    inner: SharedSerde<K>,
    window_size: i64,
}

impl<K> TimeWindowedSerde<K> {
    /// Windowed keys of `inner` keys, in windows `window_size` ms long.
    pub fn new(inner: SharedSerde<K>, window_size: i64) -> Self {
        TimeWindowedSerde { inner, window_size }
    }
}

impl<K> Serializer<Windowed<K>> for TimeWindowedSerde<K> {
    fn serialize(
        &self,
        ctx: &mut SerializeContext<'_>,
        value: &Windowed<K>,
    ) -> Result<Option<Vec<u8>>> {
        let Some(mut bytes) = self.inner.serialize(ctx, value.key())? else {
            return Err(ctx.error("the key of a windowed key serialized to null"));
        };
        bytes.extend_from_slice(&value.window().start().to_be_bytes());
        Ok(Some(bytes))
    }
}

impl<K> Deserializer<Windowed<K>> for TimeWindowedSerde<K> {
    fn deserialize(
        &self,
        ctx: &SerdeContext<'_>,
        bytes: Option<&[u8]>,
    ) -> Result<Option<Windowed<K>>> {
        let Some(bytes) = bytes else { return Ok(None) };
        let (key, start) = split_timestamp(ctx, bytes)?;
        let Some(key) = self.inner.deserialize(ctx, Some(key))? else {
            return Err(ctx.error("the key of a windowed key deserialized to null"));
        };
        let end = start.checked_add(self.window_size).unwrap_or(i64::MAX);
        Ok(Some(Windowed::new(key, Window::new(start, end))))
    }
}

/// A session-windowed key: the inner key's bytes, the session's end, then
/// its start, each as 8 big-endian bytes (Kafka Streams'
/// `SessionWindowedSerializer`).
///
/// ```
/// use weir_core::serde::{Serdes, SerdeContext, SerializeContext};
/// use weir_core::window::{Window, Windowed};
/// use weir_core::Headers;
///
/// let serde = Serdes::session_windowed(Serdes::string());
/// let key = Windowed::new("a".to_string(), Window::new(1, 2));
/// let mut headers = Headers::new();
/// let bytes = serde.serialize(&mut SerializeContext::key("out", &mut headers), &key)?;
/// assert_eq!(bytes.as_deref(), Some(&[b'a', 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1][..]));
/// let back = serde.deserialize(&SerdeContext::key("out", &headers), bytes.as_deref())?;
/// assert_eq!(back, Some(key));
/// # Ok::<(), weir_core::Error>(())
/// ```
pub struct SessionWindowedSerde<K> {
    inner: SharedSerde<K>,
}

impl<K> SessionWindowedSerde<K> {
    /// Session-windowed keys of `inner` keys.
    pub fn new(inner: SharedSerde<K>) -> Self {
        SessionWindowedSerde { inner }
    }
}

impl<K> Serializer<Windowed<K>> for SessionWindowedSerde<K> {
    fn serialize(
        &self,
        ctx: &mut SerializeContext<'_>,
        value: &Windowed<K>,
    ) -> Result<Option<Vec<u8>>> {
        let Some(mut bytes) = self.inner.serialize(ctx, value.key())? else {
            return Err(ctx.error("the key of a session-windowed key serialized to null"));
        };
        bytes.extend_from_slice(&value.window().end().to_be_bytes());
        bytes.extend_from_slice(&value.window().start().to_be_bytes());
        Ok(Some(bytes))
    }
}

impl<K> Deserializer<Windowed<K>> for SessionWindowedSerde<K> {
    fn deserialize(
        &self,
        ctx: &SerdeContext<'_>,
        bytes: Option<&[u8]>,
    ) -> Result<Option<Windowed<K>>> {
        let Some(bytes) = bytes else { return Ok(None) };
        let (rest, start) = split_timestamp(ctx, bytes)?;
        let (key, end) = split_timestamp(ctx, rest)?;
        let Some(key) = self.inner.deserialize(ctx, Some(key))? else {
            return Err(ctx.error("the key of a session-windowed key deserialized to null"));
        };
        if end < start {
            return Err(ctx.error(format!(
                "a session ending at {end} before its start {start}"
            )));
        }
        Ok(Some(Windowed::new(key, Window::new(start, end))))
    }
}

/// Splits the trailing 8-byte big-endian timestamp off `bytes`.
fn split_timestamp<'b>(ctx: &SerdeContext<'_>, bytes: &'b [u8]) -> Result<(&'b [u8], i64)> {
    let Some(split) = bytes.len().checked_sub(TIMESTAMP) else {
        return Err(ctx.error(format!(
            "a windowed key needs at least {TIMESTAMP} bytes of timestamp, got {}",
            bytes.len()
        )));
    };
    let (head, tail) = bytes.split_at(split);
    let mut ts = [0u8; TIMESTAMP];
    ts.copy_from_slice(tail);
    Ok((head, i64::from_be_bytes(ts)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde::Serdes;
    use crate::Headers;

    #[test]
    fn short_or_inverted_bytes_are_errors_not_panics() {
        let headers = Headers::new();
        let ctx = SerdeContext::key("t", &headers);
        let time = Serdes::time_windowed(Serdes::string(), 10);
        assert!(time.deserialize(&ctx, Some(&[1, 2, 3])).is_err());
        let session = Serdes::session_windowed(Serdes::string());
        assert!(session.deserialize(&ctx, Some(&[0; 12])).is_err());
        let mut inverted = b"k".to_vec();
        inverted.extend_from_slice(&1i64.to_be_bytes());
        inverted.extend_from_slice(&5i64.to_be_bytes());
        assert!(session.deserialize(&ctx, Some(&inverted)).is_err());
        assert_eq!(time.deserialize(&ctx, None).unwrap(), None);
    }

    #[test]
    fn a_window_end_past_the_largest_time_is_the_largest_time() {
        let headers = Headers::new();
        let ctx = SerdeContext::key("t", &headers);
        let time = Serdes::time_windowed(Serdes::string(), i64::MAX);
        let mut bytes = b"k".to_vec();
        bytes.extend_from_slice(&10i64.to_be_bytes());
        let key = time.deserialize(&ctx, Some(&bytes)).unwrap().unwrap();
        assert_eq!(key.window(), Window::new(10, i64::MAX));
    }
}
