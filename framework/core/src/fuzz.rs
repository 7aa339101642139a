//! Test-only inputs for the decoders' property tests: arbitrary bytes, and
//! near-valid bytes made by one mutation of a valid encoding (cut short, a
//! huge or negative length written over a length prefix, a time at an
//! extreme, a byte changed, bytes inserted or appended, invalid UTF-8).
//! Every decoder fed them must answer a value or an error, never panic.

use proptest::prelude::*;
use proptest::sample::Index;

use crate::error::Error;
use crate::headers::Headers;
use crate::serde::{Deserializer, SerdeContext, SerializeContext, Serializer};

/// Cases per property: enough to hit every branch of a small decoder,
/// few enough that the suite stays fast in a debug build.
pub(crate) const CASES: u32 = 512;

/// The proptest configuration of the decoder properties.
pub(crate) fn config() -> ProptestConfig {
    ProptestConfig::with_cases(CASES)
}

/// Arbitrary bytes, up to `max` long.
pub(crate) fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

/// Lengths a corrupt length prefix may hold: the extremes, the values that
/// read as negative 32-bit numbers, and small ones near the real length.
fn length() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(u32::MAX),
        Just(0x8000_0000),
        Just(0x7fff_ffff),
        Just(0xffff_fff8),
        0u32..64,
        any::<u32>(),
    ]
}

/// Times a corrupt timestamp may hold.
fn time() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(-1),
        Just(0),
        any::<i64>()
    ]
}

/// Byte sequences that make any bytes they are written into invalid UTF-8,
/// whatever surrounds them: bytes never valid, an overlong encoding, an
/// encoded surrogate, a code point past U+10FFFF.
fn invalid_utf8() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(vec![0xff]),
        Just(vec![0xfe]),
        Just(vec![0xc0, 0x80]),
        Just(vec![0xed, 0xa0, 0x80]),
        Just(vec![0xf4, 0x90, 0x80, 0x80]),
    ]
}

/// One change to a valid encoding.
#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    /// Keep only the bytes before the position.
    Truncate(Index),
    /// XOR the byte at the position with a non-zero mask.
    Flip(Index, u8),
    /// Write a 4-byte big-endian length over the bytes at the position.
    Length(Index, u32),
    /// Write an 8-byte big-endian time over the bytes at the position.
    Time(Index, i64),
    /// Insert bytes at the position.
    Insert(Index, Vec<u8>),
    /// Append bytes.
    Append(Vec<u8>),
    /// Write a sequence that is not UTF-8 over the bytes at the position.
    InvalidUtf8(Index, Vec<u8>),
}

/// A random [`Mutation`].
pub(crate) fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1u8..=255).prop_map(|(i, m)| Mutation::Flip(i, m)),
        (any::<Index>(), length()).prop_map(|(i, l)| Mutation::Length(i, l)),
        (any::<Index>(), time()).prop_map(|(i, t)| Mutation::Time(i, t)),
        (any::<Index>(), bytes(12)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        bytes(12).prop_map(Mutation::Append),
        (any::<Index>(), invalid_utf8()).prop_map(|(i, b)| Mutation::InvalidUtf8(i, b)),
    ]
}

/// Writes `patch` over `out` from `at`, growing it if it runs past the end.
fn overwrite(out: &mut Vec<u8>, at: usize, patch: &[u8]) {
    let end = at + patch.len();
    if out.len() < end {
        out.resize(end, 0);
    }
    out[at..end].copy_from_slice(patch);
}

impl Mutation {
    /// `valid` changed by this mutation.
    pub(crate) fn apply(&self, valid: &[u8]) -> Vec<u8> {
        let mut out = valid.to_vec();
        // Positions index the bytes and the end (an empty encoding too).
        let at = |i: &Index| i.index(valid.len() + 1);
        match self {
            Mutation::Truncate(i) => out.truncate(at(i)),
            Mutation::Flip(i, mask) => match out.get_mut(at(i)) {
                Some(b) => *b ^= mask,
                None => out.push(*mask),
            },
            Mutation::Length(i, len) => overwrite(&mut out, at(i), &len.to_be_bytes()),
            Mutation::Time(i, t) => overwrite(&mut out, at(i), &t.to_be_bytes()),
            Mutation::Insert(i, bytes) => {
                let p = at(i);
                out.splice(p..p, bytes.iter().copied());
            }
            Mutation::Append(bytes) => out.extend_from_slice(bytes),
            Mutation::InvalidUtf8(i, bytes) => overwrite(&mut out, at(i), bytes),
        }
        out
    }
}

/// `value` written by `serde` as a value of topic `t`.
pub(crate) fn encode<T, S: Serializer<T> + ?Sized>(serde: &S, value: &T) -> Option<Vec<u8>> {
    let mut headers = Headers::new();
    serde
        .serialize(&mut SerializeContext::value("t", &mut headers), value)
        .unwrap_or_else(|e| panic!("a valid value must serialize: {e}"))
}

/// Reads `bytes` with `serde` as a value of topic `t`: the value, or the
/// message of the deserialization error, which must name the topic and the
/// value side (any other error, or a panic, fails the test).
pub(crate) fn decode<T, S: Deserializer<T> + ?Sized>(
    serde: &S,
    bytes: Option<&[u8]>,
) -> Result<Option<T>, String> {
    let headers = Headers::new();
    match serde.deserialize(&SerdeContext::value("t", &headers), bytes) {
        Ok(value) => Ok(value),
        Err(Error::Deserialization {
            topic,
            what,
            message,
        }) => {
            assert_eq!((topic.as_str(), what), ("t", "value"), "{message}");
            Err(message)
        }
        Err(other) => panic!("a decoder answered a non-deserialization error: {other:?}"),
    }
}

/// The message of a store error naming `store` (any other error fails the
/// test).
pub(crate) fn store_error(error: Error, store: &str) -> String {
    match error {
        Error::Store { store: s, message } if s == store => message,
        other => panic!("expected an error of store '{store}', got {other:?}"),
    }
}

mod tests {
    use super::*;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn mutations_change_or_keep_the_bytes_as_they_say(valid in bytes(32), m in mutation()) {
            let out = m.apply(&valid);
            match &m {
                Mutation::Truncate(_) => prop_assert!(valid.starts_with(&out)),
                Mutation::Flip(..) => prop_assert_ne!(&out, &valid),
                Mutation::Insert(_, b) | Mutation::Append(b) => {
                    prop_assert_eq!(out.len(), valid.len() + b.len())
                }
                Mutation::Length(..) => prop_assert!(out.len() >= valid.len().max(4)),
                Mutation::Time(..) => prop_assert!(out.len() >= valid.len().max(8)),
                Mutation::InvalidUtf8(..) => prop_assert!(std::str::from_utf8(&out).is_err()),
            }
        }
    }
}

/// Record headers: a few keys, each with a value or none.
pub(crate) fn headers() -> impl Strategy<Value = Headers> {
    proptest::collection::vec((".{0,6}", proptest::option::of(bytes(6))), 0..4).prop_map(|list| {
        let mut headers = Headers::new();
        for (key, value) in list {
            headers.add(key, value);
        }
        headers
    })
}
