//! A serde for any `serde`-compatible type, as JSON.

use std::fmt;
use std::marker::PhantomData;

use ::serde::de::DeserializeOwned;
use ::serde::Serialize;

use super::{Deserializer, SerdeContext, SerializeContext, Serializer};
use crate::error::Result;

/// Any `T: Serialize + DeserializeOwned` as JSON, through `serde_json`.
///
/// Null bytes are null values; the JSON text `null` is a value (for
/// `T = Option<U>` it reads as `Some(None)`). Malformed JSON, or JSON that
/// does not fit `T`, is a deserialization error carrying serde_json's
/// description and position.
///
/// ```
/// use weir_core::serde::{Deserializer, JsonSerde, SerdeContext, SerializeContext, Serializer};
/// use weir_core::Headers;
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Payment { id: u64, cents: i64 }
///
/// let serde = JsonSerde::<Payment>::new();
/// let mut headers = Headers::new();
/// let payment = Payment { id: 7, cents: 1250 };
/// let bytes = serde.serialize(&mut SerializeContext::value("payments", &mut headers), &payment)?;
/// assert_eq!(bytes.as_deref(), Some(&br#"{"id":7,"cents":1250}"#[..]));
/// let back = serde.deserialize(&SerdeContext::value("payments", &headers), bytes.as_deref())?;
/// assert_eq!(back, Some(payment));
/// # Ok::<(), weir_core::Error>(())
/// ```
pub struct JsonSerde<T> {
    // `fn() -> T` keeps the serde `Send + Sync` whatever `T` is: it holds no `T`.
    marker: PhantomData<fn() -> T>,
}

impl<T> JsonSerde<T> {
    /// A JSON serde for `T`.
    pub const fn new() -> Self {
        JsonSerde {
            marker: PhantomData,
        }
    }
}

impl<T> Default for JsonSerde<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for JsonSerde<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for JsonSerde<T> {}

impl<T> fmt::Debug for JsonSerde<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonSerde<{}>", std::any::type_name::<T>())
    }
}

/// Bytes a serialization starts with.
const INITIAL_CAPACITY: usize = 256;

impl<T: Serialize> Serializer<T> for JsonSerde<T> {
    fn serialize(&self, ctx: &mut SerializeContext<'_>, value: &T) -> Result<Option<Vec<u8>>> {
        // Room for a typical small document up front: growing from empty
        // reallocates a few times per record.
        let mut out = Vec::with_capacity(INITIAL_CAPACITY);
        serde_json::to_writer(&mut out, value)
            .map(|()| Some(out))
            .map_err(|e| ctx.error(format!("JSON: {e}")))
    }
}

impl<T: DeserializeOwned> Deserializer<T> for JsonSerde<T> {
    fn deserialize(&self, ctx: &SerdeContext<'_>, bytes: Option<&[u8]>) -> Result<Option<T>> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        serde_json::from_slice(bytes)
            .map(Some)
            .map_err(|e| ctx.error(format!("invalid JSON: {e}")))
    }
}
