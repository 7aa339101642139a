//! Serdes: turning keys and values into Kafka bytes and back.
//!
//! A [`Serializer`] writes a value as bytes (or as null), a [`Deserializer`]
//! reads bytes (or null) back, and a [`Serde`] does both. Topologies hold
//! serdes type-erased and share them across stream threads as
//! [`SharedSerde`]; [`Serdes`] builds the common ones.
//!
//! The built-in serdes write exactly the bytes of Kafka's Java serdes, so a
//! Weir service and a Java Kafka Streams or plain Java client read each
//! other's topics:
//!
//! | Weir          | Rust type  | Java serde (`Serdes.*`) | bytes                         |
//! |---------------|------------|-------------------------|-------------------------------|
//! | [`StringSerde`] | `String` | `String()`              | UTF-8                         |
//! | [`BytesSerde`]  | `Vec<u8>`| `ByteArray()`           | as is                         |
//! | [`I32Serde`]    | `i32`    | `Integer()`             | 4, big-endian                 |
//! | [`I64Serde`]    | `i64`    | `Long()`                | 8, big-endian                 |
//! | [`U32Serde`]    | `u32`    | `Integer()`             | 4, big-endian (sign bit reinterpreted) |
//! | [`U64Serde`]    | `u64`    | `Long()`                | 8, big-endian (sign bit reinterpreted) |
//! | [`F32Serde`]    | `f32`    | `Float()`               | 4, IEEE-754 big-endian        |
//! | [`F64Serde`]    | `f64`    | `Double()`              | 8, IEEE-754 big-endian        |
//! | [`UuidSerde`]   | `Uuid`   | `UUID()`                | 36-char canonical string, UTF-8 |
//! | [`UnitSerde`]   | `()`     | `Void()`                | always null                   |
//! | [`JsonSerde`]   | any `T: Serialize + DeserializeOwned` | (JSON) | serde_json |
//!
//! Null in is null out: every built-in deserializer maps `None` bytes to
//! `None`. No deserializer panics on any input; bad bytes give
//! [`Error::Deserialization`] naming the topic and whether it was the key or
//! the value.
//!
//! # Headers
//!
//! As in Kafka, a serializer may add headers to the record it serializes for
//! (say, a schema id), and a deserializer may read them. That is why the two
//! sides take different contexts: [`SerializeContext`] lends the record's
//! headers mutably, [`SerdeContext`] read-only. Serdes that have no use for
//! headers simply ignore them.

mod json;
mod primitive;
mod serdes;
mod windowed;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::headers::Headers;

pub use json::JsonSerde;
pub use primitive::{
    BytesSerde, F32Serde, F64Serde, I32Serde, I64Serde, StringSerde, U32Serde, U64Serde, UnitSerde,
    UuidSerde,
};
pub use serdes::Serdes;
pub use windowed::{SessionWindowedSerde, TimeWindowedSerde};

/// `"key"` or `"value"`, as the error variants spell it.
fn what(is_key: bool) -> &'static str {
    if is_key {
        "key"
    } else {
        "value"
    }
}

/// What a [`Deserializer`] knows about the bytes it reads: the topic, the
/// record's headers, and whether the bytes are the key or the value.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SerdeContext<'a> {
    /// The topic (or store changelog) the bytes belong to.
    pub topic: &'a str,
    /// The record's headers.
    pub headers: &'a Headers,
    /// `true` for the record key, `false` for the value.
    pub is_key: bool,
}

impl<'a> SerdeContext<'a> {
    /// A context for reading the key (`is_key`) or the value of a record.
    pub fn new(topic: &'a str, headers: &'a Headers, is_key: bool) -> Self {
        SerdeContext {
            topic,
            headers,
            is_key,
        }
    }

    /// A context for reading a record key.
    pub fn key(topic: &'a str, headers: &'a Headers) -> Self {
        Self::new(topic, headers, true)
    }

    /// A context for reading a record value.
    pub fn value(topic: &'a str, headers: &'a Headers) -> Self {
        Self::new(topic, headers, false)
    }

    /// `"key"` or `"value"`.
    pub fn what(&self) -> &'static str {
        what(self.is_key)
    }

    /// An [`Error::Deserialization`] for this topic and side, with `message`.
    pub fn error(&self, message: impl Into<String>) -> Error {
        Error::Deserialization {
            topic: self.topic.to_owned(),
            what: self.what(),
            message: message.into(),
        }
    }
}

/// What a [`Serializer`] knows about the record it writes: the topic, the
/// record's headers (mutable, so the serializer may add some), and whether
/// it is writing the key or the value.
#[derive(Debug)]
#[non_exhaustive]
pub struct SerializeContext<'a> {
    /// The topic (or store changelog) the bytes are meant for.
    pub topic: &'a str,
    /// The record's headers; a serializer may add to them.
    pub headers: &'a mut Headers,
    /// `true` for the record key, `false` for the value.
    pub is_key: bool,
}

impl<'a> SerializeContext<'a> {
    /// A context for writing the key (`is_key`) or the value of a record.
    pub fn new(topic: &'a str, headers: &'a mut Headers, is_key: bool) -> Self {
        SerializeContext {
            topic,
            headers,
            is_key,
        }
    }

    /// A context for writing a record key.
    pub fn key(topic: &'a str, headers: &'a mut Headers) -> Self {
        Self::new(topic, headers, true)
    }

    /// A context for writing a record value.
    pub fn value(topic: &'a str, headers: &'a mut Headers) -> Self {
        Self::new(topic, headers, false)
    }

    /// `"key"` or `"value"`.
    pub fn what(&self) -> &'static str {
        what(self.is_key)
    }

    /// An [`Error::Serialization`] for this topic and side, with `message`.
    pub fn error(&self, message: impl Into<String>) -> Error {
        Error::Serialization {
            topic: self.topic.to_owned(),
            what: self.what(),
            message: message.into(),
        }
    }

    /// A read-only view of this context, for code shared with deserializing.
    pub fn as_serde_context(&self) -> SerdeContext<'_> {
        SerdeContext::new(self.topic, self.headers, self.is_key)
    }
}

/// Writes values of type `T` as Kafka bytes.
///
/// `Ok(None)` means a null key or value. Serializers are `Send + Sync` so one
/// instance can be shared by every stream thread.
///
/// ```
/// use weir_core::serde::{SerializeContext, Serializer};
/// use weir_core::{Headers, Result};
///
/// /// Temperatures travel as whole tenths of a degree in 2 bytes.
/// struct DeciCelsius;
///
/// impl Serializer<f32> for DeciCelsius {
///     fn serialize(&self, ctx: &mut SerializeContext<'_>, value: &f32) -> Result<Option<Vec<u8>>> {
///         let tenths = (value * 10.0).round();
///         if !(f32::from(i16::MIN)..=f32::from(i16::MAX)).contains(&tenths) {
///             return Err(ctx.error(format!("{value} is out of range")));
///         }
///         ctx.headers.add("unit", Some(b"dC".to_vec()));
///         Ok(Some((tenths as i16).to_be_bytes().to_vec()))
///     }
/// }
///
/// let mut headers = Headers::new();
/// let mut ctx = SerializeContext::value("temperatures", &mut headers);
/// assert_eq!(DeciCelsius.serialize(&mut ctx, &21.5)?, Some(vec![0, 215]));
/// let err = DeciCelsius.serialize(&mut ctx, &1e9).unwrap_err();
/// assert!(err.to_string().contains("value for topic 'temperatures'"));
/// assert_eq!(headers.last_header("unit"), Some(Some(&b"dC"[..])));
/// # Ok::<(), weir_core::Error>(())
/// ```
pub trait Serializer<T>: Send + Sync {
    /// Serializes `value`; `Ok(None)` writes a null.
    fn serialize(&self, ctx: &mut SerializeContext<'_>, value: &T) -> Result<Option<Vec<u8>>>;
}

/// Reads values of type `T` from Kafka bytes.
///
/// `bytes` is `None` for a null key or value; deserializers map it to
/// `Ok(None)` (the built-ins all do). Deserializers must never panic,
/// whatever the bytes: bad input is an [`Error::Deserialization`], made
/// with [`SerdeContext::error`] so that it names the topic and the side.
///
/// ```
/// use weir_core::serde::{Deserializer, SerdeContext};
/// use weir_core::{Headers, Result};
///
/// /// A boolean as one byte, 0 or 1.
/// struct Flag;
///
/// impl Deserializer<bool> for Flag {
///     fn deserialize(&self, ctx: &SerdeContext<'_>, bytes: Option<&[u8]>) -> Result<Option<bool>> {
///         match bytes {
///             None => Ok(None),
///             Some([0]) => Ok(Some(false)),
///             Some([1]) => Ok(Some(true)),
///             Some(other) => Err(ctx.error(format!("not a flag: {other:?}"))),
///         }
///     }
/// }
///
/// let headers = Headers::new();
/// let ctx = SerdeContext::key("flags", &headers);
/// assert_eq!(Flag.deserialize(&ctx, Some(&[1]))?, Some(true));
/// assert_eq!(Flag.deserialize(&ctx, None)?, None);
/// assert!(Flag.deserialize(&ctx, Some(&[7])).is_err());
/// # Ok::<(), weir_core::Error>(())
/// ```
pub trait Deserializer<T>: Send + Sync {
    /// Deserializes `bytes`; `None` (null) gives `Ok(None)`.
    fn deserialize(&self, ctx: &SerdeContext<'_>, bytes: Option<&[u8]>) -> Result<Option<T>>;
}

/// A [`Serializer`] and [`Deserializer`] for the same type.
///
/// Implemented for every type that is both; there is nothing to implement.
///
/// ```
/// use weir_core::serde::{Serdes, SerdeContext, SerializeContext, SharedSerde};
/// use weir_core::Headers;
///
/// let serde: SharedSerde<i64> = Serdes::i64();
/// let mut headers = Headers::new();
/// let bytes = serde.serialize(&mut SerializeContext::value("counts", &mut headers), &-1)?;
/// assert_eq!(bytes.as_deref(), Some(&[0xff; 8][..]));
/// let back = serde.deserialize(&SerdeContext::value("counts", &headers), bytes.as_deref())?;
/// assert_eq!(back, Some(-1));
/// # Ok::<(), weir_core::Error>(())
/// ```
pub trait Serde<T>: Serializer<T> + Deserializer<T> {}

impl<T, S: Serializer<T> + Deserializer<T> + ?Sized> Serde<T> for S {}

/// A type-erased serde shared across stream threads, as topologies hold them.
pub type SharedSerde<T> = Arc<dyn Serde<T>>;

impl<T, S: Serializer<T> + ?Sized> Serializer<T> for Arc<S> {
    fn serialize(&self, ctx: &mut SerializeContext<'_>, value: &T) -> Result<Option<Vec<u8>>> {
        (**self).serialize(ctx, value)
    }
}

impl<T, S: Deserializer<T> + ?Sized> Deserializer<T> for Arc<S> {
    fn deserialize(&self, ctx: &SerdeContext<'_>, bytes: Option<&[u8]>) -> Result<Option<T>> {
        (**self).deserialize(ctx, bytes)
    }
}

impl<T, S: Serializer<T> + ?Sized> Serializer<T> for Box<S> {
    fn serialize(&self, ctx: &mut SerializeContext<'_>, value: &T) -> Result<Option<Vec<u8>>> {
        (**self).serialize(ctx, value)
    }
}

impl<T, S: Deserializer<T> + ?Sized> Deserializer<T> for Box<S> {
    fn deserialize(&self, ctx: &SerdeContext<'_>, bytes: Option<&[u8]>) -> Result<Option<T>> {
        (**self).deserialize(ctx, bytes)
    }
}
