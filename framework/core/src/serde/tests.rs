//! Byte-compatibility with Kafka's Java serdes, null handling, and errors.

use ::serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::*;
use crate::error::Error;
use crate::headers::Headers;

const TOPIC: &str = "orders";

fn ser<T, S: Serializer<T>>(serde: &S, value: &T) -> Option<Vec<u8>> {
    let mut headers = Headers::new();
    serde
        .serialize(&mut SerializeContext::value(TOPIC, &mut headers), value)
        .unwrap()
}

fn de<T, S: Deserializer<T>>(serde: &S, bytes: Option<&[u8]>) -> Result<Option<T>> {
    let headers = Headers::new();
    serde.deserialize(&SerdeContext::value(TOPIC, &headers), bytes)
}

fn de_key<T, S: Deserializer<T>>(serde: &S, bytes: Option<&[u8]>) -> Result<Option<T>> {
    let headers = Headers::new();
    serde.deserialize(&SerdeContext::key(TOPIC, &headers), bytes)
}

/// Asserts the encoding of `value` is `bytes` and that `bytes` reads back as `value`.
fn both_ways<T: PartialEq + std::fmt::Debug, S: Serde<T>>(serde: &S, value: T, bytes: &[u8]) {
    assert_eq!(ser(serde, &value).as_deref(), Some(bytes), "{value:?}");
    assert_eq!(de(serde, Some(bytes)).unwrap(), Some(value));
}

/// The message of a deserialization error on the value side of `TOPIC`.
fn de_error<T: std::fmt::Debug>(result: Result<Option<T>>) -> String {
    match result {
        Err(Error::Deserialization {
            topic,
            what,
            message,
        }) => {
            assert_eq!(topic, TOPIC);
            assert_eq!(what, "value");
            message
        }
        other => panic!("expected a deserialization error, got {other:?}"),
    }
}

#[test]
fn integers_match_java() {
    both_ways(&I32Serde, 42, &[0, 0, 0, 42]);
    both_ways(&I32Serde, -1, &[0xff; 4]);
    both_ways(&I32Serde, i32::MIN, &[0x80, 0, 0, 0]);
    both_ways(&I32Serde, 0x0102_0304, &[1, 2, 3, 4]);
    both_ways(&I64Serde, -1, &[0xff; 8]);
    both_ways(&I64Serde, 42, &[0, 0, 0, 0, 0, 0, 0, 42]);
    both_ways(
        &I64Serde,
        i64::MAX,
        &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    );
    both_ways(
        &I64Serde,
        1_700_000_000_000,
        &[0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00],
    );
}

#[test]
fn unsigned_share_java_bit_patterns() {
    both_ways(&U32Serde, 42, &[0, 0, 0, 42]);
    both_ways(&U32Serde, u32::MAX, &[0xff; 4]);
    both_ways(&U64Serde, u64::MAX, &[0xff; 8]);
    both_ways(&U64Serde, 1 << 63, &[0x80, 0, 0, 0, 0, 0, 0, 0]);
    // Same bytes as the signed serde for the same bit pattern.
    assert_eq!(ser(&U32Serde, &u32::MAX), ser(&I32Serde, &-1));
    assert_eq!(ser(&U64Serde, &(1 << 63)), ser(&I64Serde, &i64::MIN));
}

#[test]
fn floats_match_java() {
    both_ways(&F64Serde, 1.5, &[0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
    both_ways(&F64Serde, -2.0, &[0xc0, 0, 0, 0, 0, 0, 0, 0]);
    both_ways(&F32Serde, 1.5, &[0x3f, 0xc0, 0, 0]);
    both_ways(&F32Serde, f32::INFINITY, &[0x7f, 0x80, 0, 0]);
    // NaN survives bit for bit (Java writes raw bits too).
    let nan = f64::from_bits(0x7ff8_0000_0000_0001);
    let bytes = ser(&F64Serde, &nan).unwrap();
    assert_eq!(bytes, [0x7f, 0xf8, 0, 0, 0, 0, 0, 1]);
    assert_eq!(
        de(&F64Serde, Some(&bytes)).unwrap().map(f64::to_bits),
        Some(nan.to_bits())
    );
}

#[test]
fn strings_are_utf8() {
    both_ways(
        &StringSerde,
        "héllo".to_owned(),
        &[0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f],
    );
    both_ways(&StringSerde, String::new(), &[]);
    both_ways(&StringSerde, "€".to_owned(), &[0xe2, 0x82, 0xac]);
}

#[test]
fn bytes_pass_through() {
    both_ways(&BytesSerde, vec![0, 1, 0xff], &[0, 1, 0xff]);
    both_ways(&BytesSerde, vec![], &[]);
}

#[test]
fn uuid_is_its_canonical_string() {
    let id = Uuid::from_u128(0x123e4567_e89b_12d3_a456_426614174000);
    both_ways(&UuidSerde, id, b"123e4567-e89b-12d3-a456-426614174000");
    // Java's UUID.fromString accepts upper case; so do we.
    assert_eq!(
        de(&UuidSerde, Some(b"123E4567-E89B-12D3-A456-426614174000")).unwrap(),
        Some(id)
    );
}

#[test]
fn unit_is_always_null() {
    assert_eq!(ser(&UnitSerde, &()), None);
    assert_eq!(de(&UnitSerde, None).unwrap(), None);
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Order {
    id: u64,
    item: String,
    note: Option<String>,
}

#[test]
fn json_round_trips() {
    let order = Order {
        id: 1,
        item: "tea".into(),
        note: None,
    };
    both_ways(
        &JsonSerde::<Order>::new(),
        order,
        br#"{"id":1,"item":"tea","note":null}"#,
    );
    // JSON `null` is a value, distinct from a null record.
    both_ways(&JsonSerde::<Option<u8>>::new(), None, b"null");
}

#[test]
fn null_in_null_out_for_every_deserializer() {
    assert_eq!(de(&I32Serde, None).unwrap(), None);
    assert_eq!(de(&I64Serde, None).unwrap(), None);
    assert_eq!(de(&U32Serde, None).unwrap(), None);
    assert_eq!(de(&U64Serde, None).unwrap(), None);
    assert_eq!(de(&F32Serde, None).unwrap(), None);
    assert_eq!(de(&F64Serde, None).unwrap(), None);
    assert_eq!(de(&StringSerde, None).unwrap(), None);
    assert_eq!(de(&BytesSerde, None).unwrap(), None);
    assert_eq!(de(&UuidSerde, None).unwrap(), None);
    assert_eq!(de(&UnitSerde, None).unwrap(), None);
    assert_eq!(de(&JsonSerde::<Order>::new(), None).unwrap(), None);
}

#[test]
fn wrong_size_names_expected_and_actual() {
    let message = de_error(de(&I32Serde, Some(&[1, 2, 3])));
    assert_eq!(message, "expected 4 bytes for i32, got 3");
    let message = de_error(de(&U64Serde, Some(&[0; 9])));
    assert_eq!(message, "expected 8 bytes for u64, got 9");
    let message = de_error(de(&F32Serde, Some(&[])));
    assert_eq!(message, "expected 4 bytes for f32, got 0");
    let message = de_error(de(&UuidSerde, Some(&[0; 16])));
    assert_eq!(message, "expected 36 bytes for a UUID string, got 16");
}

#[test]
fn error_display_names_topic_and_side() {
    let err = de(&I64Serde, Some(&[0; 3])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot deserialize value from topic 'orders': expected 8 bytes for i64, got 3"
    );
    let err = de_key(&I64Serde, Some(&[0; 3])).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("cannot deserialize key from topic 'orders'"));
    assert_eq!(err.kind(), crate::error::ErrorKind::User);
}

#[test]
fn bad_utf8_is_an_error() {
    let message = de_error(de(&StringSerde, Some(&[b'o', b'k', 0xc3, 0x28])));
    assert_eq!(message, "invalid UTF-8 after 2 valid bytes of 4");
}

#[test]
fn bad_uuid_is_an_error() {
    let message = de_error(de(
        &UuidSerde,
        Some(b"123e4567-e89b-12d3-a456-42661417400g"),
    ));
    assert!(message.starts_with("invalid UUID string"), "{message}");
    // Right length, but not the hyphenated form.
    let message = de_error(de(
        &UuidSerde,
        Some(b"{123e4567e89b12d3a456426614174000}  "),
    ));
    assert!(message.starts_with("invalid UUID string"), "{message}");
}

#[test]
fn bad_json_is_an_error() {
    let serde = JsonSerde::<Order>::new();
    let message = de_error(de(&serde, Some(b"{\"id\":1,")));
    assert!(message.starts_with("invalid JSON"), "{message}");
    let message = de_error(de(&serde, Some(br#"{"id":"one","item":"x"}"#)));
    assert!(message.contains("line 1"), "{message}");
    de_error(de(&serde, Some(b"")));
}

#[test]
fn json_serialize_errors_name_topic_and_side() {
    use std::collections::HashMap;
    // Maps with non-string keys cannot be JSON objects.
    let value: HashMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
    let mut headers = Headers::new();
    let err = JsonSerde::new()
        .serialize(&mut SerializeContext::key(TOPIC, &mut headers), &value)
        .unwrap_err();
    match err {
        Error::Serialization { topic, what, .. } => {
            assert_eq!((topic.as_str(), what), (TOPIC, "key"))
        }
        other => panic!("expected a serialization error, got {other:?}"),
    }
}

#[test]
fn non_null_to_unit_is_an_error() {
    let message = de_error(de(&UnitSerde, Some(&[])));
    assert_eq!(
        message,
        "expected null for a unit (Void) serde, got 0 bytes"
    );
    de_error(de(&UnitSerde, Some(&[0])));
}

#[test]
fn shared_serdes_work_through_arc_and_box() {
    let shared: SharedSerde<String> = Serdes::string();
    both_ways(&shared, "x".to_owned(), b"x");
    let boxed: Box<dyn Serde<i32>> = Box::new(I32Serde);
    both_ways(&boxed, 7, &[0, 0, 0, 7]);
    both_ways(&Serdes::i64(), 1, &[0, 0, 0, 0, 0, 0, 0, 1]);
    both_ways(&Serdes::u32(), 1, &[0, 0, 0, 1]);
    both_ways(&Serdes::u64(), 1, &[0, 0, 0, 0, 0, 0, 0, 1]);
    both_ways(&Serdes::i32(), 1, &[0, 0, 0, 1]);
    both_ways(&Serdes::f32(), 1.5, &[0x3f, 0xc0, 0, 0]);
    both_ways(&Serdes::f64(), 1.5, &[0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
    both_ways(&Serdes::bytes(), vec![9], &[9]);
    both_ways(&Serdes::json::<u8>(), 9, b"9");
    both_ways(&Serdes::shared(I32Serde), 2, &[0, 0, 0, 2]);
    let id = Uuid::nil();
    both_ways(&Serdes::uuid(), id, b"00000000-0000-0000-0000-000000000000");
    assert_eq!(ser(&Serdes::unit(), &()), None);
}

#[test]
fn shared_serdes_cross_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>(_: &T) {}
    let serde = Serdes::string();
    assert_send_sync(&serde);
    let handle = std::thread::spawn({
        let serde = serde.clone();
        move || ser(&serde, &"t".to_owned())
    });
    assert_eq!(handle.join().unwrap(), Some(b"t".to_vec()));
}

#[test]
fn serializers_may_add_headers() {
    struct Tagged;
    impl Serializer<i32> for Tagged {
        fn serialize(
            &self,
            ctx: &mut SerializeContext<'_>,
            value: &i32,
        ) -> Result<Option<Vec<u8>>> {
            ctx.headers
                .add("side", Some(ctx.what().as_bytes().to_vec()));
            I32Serde.serialize(ctx, value)
        }
    }
    let mut headers = Headers::new();
    let mut ctx = SerializeContext::key(TOPIC, &mut headers);
    assert_eq!(
        Tagged.serialize(&mut ctx, &1).unwrap(),
        Some(vec![0, 0, 0, 1])
    );
    assert!(ctx.as_serde_context().is_key);
    assert_eq!(headers.last_header("side"), Some(Some(&b"key"[..])));
}
