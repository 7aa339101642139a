//! Built-in serdes byte-compatible with Kafka's Java serdes.

use uuid::Uuid;

use super::{Deserializer, SerdeContext, SerializeContext, Serializer};
use crate::error::Result;

/// Copies `bytes` into an array of exactly `N` bytes, or fails naming the
/// expected and the actual size.
fn exact<const N: usize>(ctx: &SerdeContext<'_>, bytes: &[u8], type_name: &str) -> Result<[u8; N]> {
    <[u8; N]>::try_from(bytes).map_err(|_| {
        ctx.error(format!(
            "expected {N} bytes for {type_name}, got {}",
            bytes.len()
        ))
    })
}

/// Declares a unit-struct serde for a fixed-width number, written with
/// `to_be_bytes` and read with `from_be_bytes`.
macro_rules! fixed_width_serde {
    ($(#[$doc:meta])* $name:ident, $ty:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub struct $name;

        impl Serializer<$ty> for $name {
            fn serialize(
                &self,
                _ctx: &mut SerializeContext<'_>,
                value: &$ty,
            ) -> Result<Option<Vec<u8>>> {
                Ok(Some(value.to_be_bytes().to_vec()))
            }
        }

        impl Deserializer<$ty> for $name {
            fn deserialize(
                &self,
                ctx: &SerdeContext<'_>,
                bytes: Option<&[u8]>,
            ) -> Result<Option<$ty>> {
                let Some(bytes) = bytes else {
                    return Ok(None);
                };
                let array = exact::<{ std::mem::size_of::<$ty>() }>(ctx, bytes, stringify!($ty))?;
                Ok(Some(<$ty>::from_be_bytes(array)))
            }
        }
    };
}

fixed_width_serde!(
    /// `i32` as 4 big-endian bytes: the bytes of Java's `Serdes.Integer()`.
    I32Serde,
    i32
);

fixed_width_serde!(
    /// `i64` as 8 big-endian bytes: the bytes of Java's `Serdes.Long()`.
    I64Serde,
    i64
);

fixed_width_serde!(
    /// `u32` as 4 big-endian bytes.
    ///
    /// Java has no unsigned integers. The bytes are those of Java's
    /// `Serdes.Integer()` for the same bit pattern: values up to `i32::MAX`
    /// read the same in Java; larger ones read there as negative numbers
    /// (`u32::MAX` is Java's `-1`).
    U32Serde,
    u32
);

fixed_width_serde!(
    /// `u64` as 8 big-endian bytes.
    ///
    /// Java has no unsigned integers. The bytes are those of Java's
    /// `Serdes.Long()` for the same bit pattern: values up to `i64::MAX`
    /// read the same in Java; larger ones read there as negative numbers
    /// (`u64::MAX` is Java's `-1L`).
    U64Serde,
    u64
);

fixed_width_serde!(
    /// `f32` as its IEEE-754 bits, 4 bytes big-endian: the bytes of Java's
    /// `Serdes.Float()` (`floatToRawIntBits`, so NaN payloads survive).
    F32Serde,
    f32
);

fixed_width_serde!(
    /// `f64` as its IEEE-754 bits, 8 bytes big-endian: the bytes of Java's
    /// `Serdes.Double()` (`doubleToRawLongBits`, so NaN payloads survive).
    F64Serde,
    f64
);

/// `String` as UTF-8: the bytes of Java's `Serdes.String()` (default encoding).
///
/// Unlike Java, which replaces invalid sequences with U+FFFD, reading bytes
/// that are not valid UTF-8 is a deserialization error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct StringSerde;

impl Serializer<String> for StringSerde {
    fn serialize(
        &self,
        _ctx: &mut SerializeContext<'_>,
        value: &String,
    ) -> Result<Option<Vec<u8>>> {
        Ok(Some(value.as_bytes().to_vec()))
    }
}

impl Deserializer<String> for StringSerde {
    fn deserialize(&self, ctx: &SerdeContext<'_>, bytes: Option<&[u8]>) -> Result<Option<String>> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(e) => Err(ctx.error(format!(
                "invalid UTF-8 after {} valid bytes of {}",
                e.valid_up_to(),
                bytes.len()
            ))),
        }
    }
}

/// `Vec<u8>` as is: Java's `Serdes.ByteArray()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BytesSerde;

impl Serializer<Vec<u8>> for BytesSerde {
    fn serialize(
        &self,
        _ctx: &mut SerializeContext<'_>,
        value: &Vec<u8>,
    ) -> Result<Option<Vec<u8>>> {
        Ok(Some(value.clone()))
    }
}

impl Deserializer<Vec<u8>> for BytesSerde {
    fn deserialize(
        &self,
        _ctx: &SerdeContext<'_>,
        bytes: Option<&[u8]>,
    ) -> Result<Option<Vec<u8>>> {
        Ok(bytes.map(<[u8]>::to_vec))
    }
}

/// Length of a UUID's canonical (hyphenated) string form.
const UUID_STRING_LEN: usize = 36;

/// [`Uuid`] as its canonical 36-character string (lower-case hex with
/// hyphens) in UTF-8: the bytes of Java's `Serdes.UUID()`, which writes
/// `uuid.toString()`.
///
/// Reading accepts exactly the 36-character hyphenated form, in either
/// case; other lengths are an error naming the expected and actual size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct UuidSerde;

impl Serializer<Uuid> for UuidSerde {
    fn serialize(&self, _ctx: &mut SerializeContext<'_>, value: &Uuid) -> Result<Option<Vec<u8>>> {
        let mut buf = [0u8; UUID_STRING_LEN];
        value.hyphenated().encode_lower(&mut buf);
        Ok(Some(buf.to_vec()))
    }
}

impl Deserializer<Uuid> for UuidSerde {
    fn deserialize(&self, ctx: &SerdeContext<'_>, bytes: Option<&[u8]>) -> Result<Option<Uuid>> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let text = exact::<UUID_STRING_LEN>(ctx, bytes, "a UUID string")?;
        Uuid::try_parse_ascii(&text)
            .map(Some)
            .map_err(|e| ctx.error(format!("invalid UUID string: {e}")))
    }
}

/// `()` as null: Java's `Serdes.Void()`.
///
/// Serializing always writes null. Reading accepts only null; any bytes,
/// even empty ones, are an error, as in Java's `VoidDeserializer`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct UnitSerde;

impl Serializer<()> for UnitSerde {
    fn serialize(&self, _ctx: &mut SerializeContext<'_>, _value: &()) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
}

impl Deserializer<()> for UnitSerde {
    fn deserialize(&self, ctx: &SerdeContext<'_>, bytes: Option<&[u8]>) -> Result<Option<()>> {
        match bytes {
            None => Ok(None),
            Some(bytes) => Err(ctx.error(format!(
                "expected null for a unit (Void) serde, got {} bytes",
                bytes.len()
            ))),
        }
    }
}
