//! [`Serdes`]: shared instances of the built-in serdes.

use std::sync::Arc;

use ::serde::de::DeserializeOwned;
use ::serde::Serialize;
use uuid::Uuid;

use super::{
    BytesSerde, F32Serde, F64Serde, I32Serde, I64Serde, JsonSerde, Serde, SharedSerde, StringSerde,
    U32Serde, U64Serde, UnitSerde, UuidSerde,
};

/// Shared, type-erased serdes, ready to hand to a topology: Weir's
/// analogue of Kafka Streams' `Serdes.String()`, `Serdes.Long()`, ...
///
/// ```
/// use weir_core::serde::{Serdes, SharedSerde};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Order { id: u64 }
///
/// let keys: SharedSerde<String> = Serdes::string();
/// let values: SharedSerde<Order> = Serdes::json::<Order>();
/// # let _ = (keys, values);
/// ```
///
/// `Serdes` has no values; it only groups the constructors.
#[derive(Debug)]
pub enum Serdes {}

impl Serdes {
    /// Wraps any serde as a [`SharedSerde`].
    pub fn shared<T, S: Serde<T> + 'static>(serde: S) -> SharedSerde<T> {
        Arc::new(serde)
    }

    /// UTF-8 strings ([`StringSerde`], Java `Serdes.String()`).
    pub fn string() -> SharedSerde<String> {
        Arc::new(StringSerde)
    }

    /// Time-windowed keys of `inner` keys in windows `window_size_ms` long,
    /// byte-compatible with Kafka Streams'
    /// `WindowedSerdes.timeWindowedSerdeFrom(.., windowSize)`
    /// (see [`TimeWindowedSerde`](super::TimeWindowedSerde)).
    pub fn time_windowed<K: 'static>(
        inner: SharedSerde<K>,
        window_size_ms: i64,
    ) -> SharedSerde<crate::window::Windowed<K>> {
        Arc::new(super::TimeWindowedSerde::new(inner, window_size_ms))
    }

    /// Session-windowed keys of `inner` keys, byte-compatible with Kafka
    /// Streams' `WindowedSerdes.sessionWindowedSerdeFrom(..)` (see
    /// [`SessionWindowedSerde`](super::SessionWindowedSerde)).
    pub fn session_windowed<K: 'static>(
        inner: SharedSerde<K>,
    ) -> SharedSerde<crate::window::Windowed<K>> {
        Arc::new(super::SessionWindowedSerde::new(inner))
    }

    /// Raw bytes ([`BytesSerde`], Java `Serdes.ByteArray()`).
    pub fn bytes() -> SharedSerde<Vec<u8>> {
        Arc::new(BytesSerde)
    }

    /// Big-endian `i32` ([`I32Serde`], Java `Serdes.Integer()`).
    pub fn i32() -> SharedSerde<i32> {
        Arc::new(I32Serde)
    }

    /// Big-endian `i64` ([`I64Serde`], Java `Serdes.Long()`).
    pub fn i64() -> SharedSerde<i64> {
        Arc::new(I64Serde)
    }

    /// Big-endian `u32` ([`U32Serde`], the bytes of Java `Serdes.Integer()`).
    pub fn u32() -> SharedSerde<u32> {
        Arc::new(U32Serde)
    }

    /// Big-endian `u64` ([`U64Serde`], the bytes of Java `Serdes.Long()`).
    pub fn u64() -> SharedSerde<u64> {
        Arc::new(U64Serde)
    }

    /// IEEE-754 `f32` ([`F32Serde`], Java `Serdes.Float()`).
    pub fn f32() -> SharedSerde<f32> {
        Arc::new(F32Serde)
    }

    /// IEEE-754 `f64` ([`F64Serde`], Java `Serdes.Double()`).
    pub fn f64() -> SharedSerde<f64> {
        Arc::new(F64Serde)
    }

    /// UUIDs as canonical strings ([`UuidSerde`], Java `Serdes.UUID()`).
    pub fn uuid() -> SharedSerde<Uuid> {
        Arc::new(UuidSerde)
    }

    /// Always null ([`UnitSerde`], Java `Serdes.Void()`).
    pub fn unit() -> SharedSerde<()> {
        Arc::new(UnitSerde)
    }

    /// JSON through serde_json ([`JsonSerde`]).
    pub fn json<T: Serialize + DeserializeOwned + 'static>() -> SharedSerde<T> {
        Arc::new(JsonSerde::<T>::new())
    }
}
