//! Property tests: every built-in round-trips, and no deserializer panics
//! on arbitrary bytes.

use std::collections::BTreeMap;

use ::serde::{Deserialize, Serialize};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::error::Error;
use crate::headers::Headers;

fn round_trip<T, S: Serde<T>>(serde: &S, value: &T) -> Option<T> {
    let mut headers = Headers::new();
    let bytes = serde
        .serialize(&mut SerializeContext::value("t", &mut headers), value)
        .unwrap();
    serde
        .deserialize(&SerdeContext::value("t", &headers), bytes.as_deref())
        .unwrap()
}

/// Deserializes arbitrary bytes; an error must be a deserialization error
/// naming the topic and side. Returns whether it succeeded.
fn read_any<T, S: Deserializer<T>>(serde: &S, bytes: Option<&[u8]>, is_key: bool) -> bool {
    let headers = Headers::new();
    match serde.deserialize(&SerdeContext::new("t", &headers, is_key), bytes) {
        Ok(value) => {
            assert_eq!(value.is_none(), bytes.is_none());
            true
        }
        Err(Error::Deserialization { topic, what, .. }) => {
            assert_eq!(topic, "t");
            assert_eq!(what, if is_key { "key" } else { "value" });
            false
        }
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

fn any_bytes() -> impl Strategy<Value = Option<Vec<u8>>> {
    option::of(vec(any::<u8>(), 0..48))
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Event {
    id: u64,
    delta: i64,
    name: String,
    tags: Vec<String>,
    attrs: BTreeMap<String, Option<i32>>,
}

fn any_event() -> impl Strategy<Value = Event> {
    (
        any::<u64>(),
        any::<i64>(),
        any::<String>(),
        vec(any::<String>(), 0..4),
        btree_map(any::<String>(), any::<Option<i32>>(), 0..4),
    )
        .prop_map(|(id, delta, name, tags, attrs)| Event {
            id,
            delta,
            name,
            tags,
            attrs,
        })
}

proptest! {
    #[test]
    fn i32_round_trips(v: i32) {
        prop_assert_eq!(round_trip(&I32Serde, &v), Some(v));
    }

    #[test]
    fn i64_round_trips(v: i64) {
        prop_assert_eq!(round_trip(&I64Serde, &v), Some(v));
    }

    #[test]
    fn u32_round_trips_and_matches_i32_bytes(v: u32) {
        prop_assert_eq!(round_trip(&U32Serde, &v), Some(v));
        prop_assert_eq!(round_trip(&I32Serde, &(v as i32)), Some(v as i32));
        let mut h = Headers::new();
        let mut ctx = SerializeContext::value("t", &mut h);
        let unsigned = U32Serde.serialize(&mut ctx, &v).unwrap();
        let signed = I32Serde.serialize(&mut ctx, &(v as i32)).unwrap();
        prop_assert_eq!(unsigned, signed);
    }

    #[test]
    fn u64_round_trips_and_matches_i64_bytes(v: u64) {
        prop_assert_eq!(round_trip(&U64Serde, &v), Some(v));
        let mut h = Headers::new();
        let mut ctx = SerializeContext::value("t", &mut h);
        let unsigned = U64Serde.serialize(&mut ctx, &v).unwrap();
        let signed = I64Serde.serialize(&mut ctx, &(v as i64)).unwrap();
        prop_assert_eq!(unsigned, signed);
    }

    #[test]
    fn f32_round_trips_bit_for_bit(bits: u32) {
        let v = f32::from_bits(bits);
        prop_assert_eq!(round_trip(&F32Serde, &v).map(f32::to_bits), Some(bits));
    }

    #[test]
    fn f64_round_trips_bit_for_bit(bits: u64) {
        let v = f64::from_bits(bits);
        prop_assert_eq!(round_trip(&F64Serde, &v).map(f64::to_bits), Some(bits));
    }

    #[test]
    fn string_round_trips(v: String) {
        prop_assert_eq!(round_trip(&StringSerde, &v), Some(v));
    }

    #[test]
    fn bytes_round_trip(v in vec(any::<u8>(), 0..256)) {
        prop_assert_eq!(round_trip(&BytesSerde, &v), Some(v));
    }

    #[test]
    fn uuid_round_trips_as_36_lowercase_chars(n: u128) {
        let id = Uuid::from_u128(n);
        prop_assert_eq!(round_trip(&UuidSerde, &id), Some(id));
        let mut h = Headers::new();
        let bytes = UuidSerde
            .serialize(&mut SerializeContext::key("t", &mut h), &id)
            .unwrap()
            .unwrap();
        prop_assert_eq!(bytes, id.to_string().into_bytes());
    }

    #[test]
    fn unit_serializes_to_null_and_reads_back_null(_x: u8) {
        prop_assert_eq!(round_trip(&UnitSerde, &()), None);
    }

    #[test]
    fn json_round_trips(event in any_event()) {
        prop_assert_eq!(round_trip(&JsonSerde::<Event>::new(), &event), Some(event.clone()));
        prop_assert_eq!(round_trip(&Serdes::json::<Event>(), &event), Some(event));
    }

    #[test]
    fn fixed_width_never_panic(bytes in any_bytes(), is_key: bool) {
        let b = bytes.as_deref();
        let len = bytes.as_ref().map(Vec::len);
        let ok4 = len.is_none() || len == Some(4);
        let ok8 = len.is_none() || len == Some(8);
        prop_assert_eq!(read_any(&I32Serde, b, is_key), ok4);
        prop_assert_eq!(read_any(&U32Serde, b, is_key), ok4);
        prop_assert_eq!(read_any(&F32Serde, b, is_key), ok4);
        prop_assert_eq!(read_any(&I64Serde, b, is_key), ok8);
        prop_assert_eq!(read_any(&U64Serde, b, is_key), ok8);
        prop_assert_eq!(read_any(&F64Serde, b, is_key), ok8);
    }

    #[test]
    fn variable_width_never_panic(bytes in any_bytes(), is_key: bool) {
        let b = bytes.as_deref();
        let utf8 = b.is_none_or(|b| std::str::from_utf8(b).is_ok());
        prop_assert_eq!(read_any(&StringSerde, b, is_key), utf8);
        prop_assert!(read_any(&BytesSerde, b, is_key));
        prop_assert_eq!(read_any(&UnitSerde, b, is_key), b.is_none());
        read_any(&UuidSerde, b, is_key);
        read_any(&JsonSerde::<Event>::new(), b, is_key);
        read_any(&JsonSerde::<::serde_json::Value>::new(), b, is_key);
    }

    #[test]
    fn uuid_like_text_never_panics(text in "[0-9a-fA-F{}-]{30,40}", is_key: bool) {
        read_any(&UuidSerde, Some(text.as_bytes()), is_key);
    }

    #[test]
    fn json_like_text_never_panics(text in r#"[{}\[\]":,0-9a-z \\.-]{0,40}"#, is_key: bool) {
        read_any(&JsonSerde::<Event>::new(), Some(text.as_bytes()), is_key);
    }
}

/// The windowed serdes over string keys: any bytes (arbitrary, or a valid
/// windowed key with one mutation) read as a windowed key that writes back
/// to the same bytes, or as an error; valid keys round-trip.
mod windowed {
    use proptest::prelude::*;

    use crate::fuzz::{self, decode, encode, mutation};
    use crate::serde::Serdes;
    use crate::window::{Window, Windowed};

    fn time_size() -> impl Strategy<Value = i64> {
        prop_oneof![
            Just(1),
            Just(i64::MAX),
            Just(0),
            Just(-5),
            Just(i64::MIN),
            1..1_000_000i64
        ]
    }

    /// A session: any start, an end at or after it.
    fn session() -> impl Strategy<Value = Window> {
        (any::<i64>(), any::<u64>()).prop_map(|(start, len)| {
            let end = start.checked_add_unsigned(len).unwrap_or(i64::MAX);
            Window::new(start, end)
        })
    }

    proptest! {
        #![proptest_config(fuzz::config())]

        #[test]
        fn time_windowed_keys_round_trip(key: String, start: i64, size in 1..=i64::MAX) {
            let serde = Serdes::time_windowed(Serdes::string(), size);
            let w = Windowed::new(key, Window::new(start, start.saturating_add(size)));
            let bytes = encode(&serde, &w);
            prop_assert_eq!(decode(&serde, bytes.as_deref()), Ok(Some(w)));
        }

        #[test]
        fn session_windowed_keys_round_trip(key: String, window in session()) {
            let serde = Serdes::session_windowed(Serdes::string());
            let w = Windowed::new(key, window);
            let bytes = encode(&serde, &w);
            prop_assert_eq!(decode(&serde, bytes.as_deref()), Ok(Some(w)));
        }

        #[test]
        fn time_windowed_keys_read_any_bytes_without_panic(
            bytes in fuzz::bytes(40),
            size in time_size(),
        ) {
            let serde = Serdes::time_windowed(Serdes::string(), size);
            if let Ok(Some(w)) = decode(&serde, Some(&bytes)) {
                prop_assert!(w.window().start() <= w.window().end());
                prop_assert_eq!(encode(&serde, &w), Some(bytes));
            }
        }

        #[test]
        fn session_windowed_keys_read_any_bytes_without_panic(bytes in fuzz::bytes(40)) {
            let serde = Serdes::session_windowed(Serdes::string());
            if let Ok(Some(w)) = decode(&serde, Some(&bytes)) {
                prop_assert_eq!(encode(&serde, &w), Some(bytes));
            }
        }

        #[test]
        fn mutated_windowed_keys_read_without_panic(
            key: String,
            window in session(),
            size in time_size(),
            m in mutation(),
        ) {
            let w = Windowed::new(key, window);
            let time = Serdes::time_windowed(Serdes::string(), size);
            let session = Serdes::session_windowed(Serdes::string());
            for serde in [&time, &session] {
                let bytes = m.apply(&encode(serde, &w).unwrap_or_default());
                if let Ok(Some(back)) = decode(serde, Some(&bytes)) {
                    prop_assert!(back.window().start() <= back.window().end());
                }
            }
        }
    }
}

/// JSON cut short, with a byte changed, invalid UTF-8 written in, or nested
/// past any sane depth: a value or an error, never a panic (nor a stack
/// overflow: serde_json's recursion limit answers an error).
mod json {
    use proptest::prelude::*;

    use super::{any_event, Event};
    use crate::fuzz::{self, decode, encode, mutation};
    use crate::serde::JsonSerde;

    proptest! {
        #![proptest_config(fuzz::config())]

        #[test]
        fn mutated_json_reads_as_a_value_or_an_error(event in any_event(), m in mutation()) {
            let serde = JsonSerde::<Event>::new();
            let bytes = m.apply(&encode(&serde, &event).unwrap_or_default());
            if let Ok(Some(back)) = decode(&serde, Some(&bytes)) {
                prop_assert_eq!(decode(&serde, encode(&serde, &back).as_deref()), Ok(Some(back)));
            }
            let any = JsonSerde::<::serde_json::Value>::new();
            if let Ok(Some(value)) = decode(&any, Some(&bytes)) {
                prop_assert_eq!(decode(&any, encode(&any, &value).as_deref()), Ok(Some(value)));
            }
        }
    }

    #[test]
    fn json_nested_past_any_sane_depth_is_an_error() {
        let serde = JsonSerde::<::serde_json::Value>::new();
        for (open, close) in [(b'[', b']'), (b'{', b'}')] {
            let mut deep = vec![open; 100_000];
            deep.extend(std::iter::repeat_n(close, 100_000));
            assert!(decode(&serde, Some(&deep)).is_err());
        }
        let mut deep = b"[".repeat(100_000);
        deep.extend_from_slice(b"1");
        assert!(decode(&serde, Some(&deep)).is_err());
    }
}
