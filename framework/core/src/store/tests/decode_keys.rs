//! Property tests of the stores' byte layouts: window and session store
//! keys (with the duplicate-retaining window key's sequence number), the
//! versioned store's rows and changelog values, and timestamped values.
//! Valid layouts round-trip; arbitrary and near-valid bytes read as a
//! value or `None` / an error, never a panic.

use proptest::option;
use proptest::prelude::*;

use crate::fuzz::{self, decode, encode, mutation};
use crate::serde::Serdes;
use crate::store::segments::{
    parse_session_key, parse_window_key, session_key, window_key, PREFIX, SESSION_SUFFIX,
    WINDOW_SUFFIX,
};
use crate::store::versioned_layout::{
    changelog_value, history_from, history_key, history_value, latest_value, parse_changelog,
    parse_history, parse_latest, parse_stream_time, stream_time_value, RawVersion,
};
use crate::store::{TimestampedSerde, ValueAndTimestamp};

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn window_keys_round_trip(segment: i64, key in fuzz::bytes(16), start: i64, seq: u32) {
        let raw = window_key(segment, &key, start, seq);
        let k = parse_window_key(&raw).unwrap();
        prop_assert_eq!((k.segment, k.key, k.start, k.seq), (segment, &key[..], start, seq));
    }

    #[test]
    fn any_bytes_take_apart_as_a_window_key_or_none(raw in fuzz::bytes(32)) {
        match parse_window_key(&raw) {
            None => prop_assert!(raw.len() < PREFIX + WINDOW_SUFFIX),
            Some(k) => prop_assert_eq!(window_key(k.segment, k.key, k.start, k.seq), raw),
        }
    }

    #[test]
    fn session_keys_round_trip(segment: i64, key in fuzz::bytes(16), start: i64, end: i64) {
        let raw = session_key(segment, &key, start, end);
        let k = parse_session_key(&raw).unwrap();
        prop_assert_eq!((k.segment, k.key, k.start, k.end), (segment, &key[..], start, end));
    }

    #[test]
    fn any_bytes_take_apart_as_a_session_key_or_none(raw in fuzz::bytes(36)) {
        match parse_session_key(&raw) {
            None => prop_assert!(raw.len() < PREFIX + SESSION_SUFFIX),
            Some(k) => prop_assert_eq!(session_key(k.segment, k.key, k.start, k.end), raw),
        }
    }

    #[test]
    fn versioned_rows_round_trip(
        key in fuzz::bytes(12),
        from: i64,
        to: i64,
        value in option::of(fuzz::bytes(12)),
    ) {
        let k = history_key(&key, from);
        prop_assert_eq!(history_from(&key, &k), Some(from));
        let version = parse_history(&key, &k, &history_value(to, value.as_deref()));
        prop_assert_eq!(version, Some(RawVersion { from, to, value: value.clone() }));
        let changelog = parse_changelog(&changelog_value(from, value.as_deref()));
        prop_assert_eq!(changelog, Some((from, value.clone())));
        let latest = value.unwrap_or_default();
        prop_assert_eq!(parse_latest(&latest_value(to, &latest)), Some((to, latest)));
        prop_assert_eq!(parse_stream_time(&stream_time_value(from)), Some(from));
    }

    #[test]
    fn any_bytes_read_as_versioned_rows_or_none(key in fuzz::bytes(6), raw in fuzz::bytes(24)) {
        if let Some((t, v)) = parse_changelog(&raw) {
            prop_assert_eq!(changelog_value(t, v.as_deref()), raw.clone());
        }
        if let Some((t, v)) = parse_latest(&raw) {
            prop_assert_eq!(latest_value(t, &v), raw.clone());
        }
        if let Some(from) = history_from(&key, &raw) {
            prop_assert_eq!(history_key(&key, from), raw.clone());
        }
        if let Some(v) = parse_history(&key, &history_key(&key, 1), &raw) {
            prop_assert_eq!(history_value(v.to, v.value.as_deref()), raw.clone());
        }
        prop_assert_eq!(parse_stream_time(&raw).is_some(), raw.len() >= 8);
    }

    #[test]
    fn mutated_versioned_rows_read_without_panic(
        key in fuzz::bytes(6),
        t: i64,
        value in option::of(fuzz::bytes(8)),
        m in mutation(),
    ) {
        let raw = m.apply(&changelog_value(t, value.as_deref()));
        if let Some((t, v)) = parse_changelog(&raw) {
            prop_assert_eq!(changelog_value(t, v.as_deref()), raw);
        }
        let raw = m.apply(&history_key(&key, t));
        if let Some(from) = history_from(&key, &raw) {
            prop_assert_eq!(history_key(&key, from), raw);
        }
    }

    #[test]
    fn timestamped_values_round_trip(value in ".{0,12}", timestamp: i64) {
        let serde = TimestampedSerde::new(Serdes::string());
        let v = ValueAndTimestamp::new(value, timestamp);
        prop_assert_eq!(decode(&serde, encode(&serde, &v).as_deref()), Ok(Some(v)));
    }

    #[test]
    fn any_bytes_read_as_a_timestamped_value_or_an_error(bytes in fuzz::bytes(24)) {
        let serde = TimestampedSerde::new(Serdes::i64());
        match decode(&serde, Some(&bytes)) {
            Ok(Some(v)) => prop_assert_eq!(encode(&serde, &v), Some(bytes)),
            Ok(None) => prop_assert!(false, "bytes read as null"),
            Err(_) => prop_assert_ne!(bytes.len(), 16),
        }
    }

    #[test]
    fn mutated_timestamped_values_read_without_panic(
        value in ".{0,12}",
        timestamp: i64,
        m in mutation(),
    ) {
        let serde = TimestampedSerde::new(Serdes::string());
        let v = ValueAndTimestamp::new(value, timestamp);
        let bytes = m.apply(&encode(&serde, &v).unwrap_or_default());
        if let Ok(Some(back)) = decode(&serde, Some(&bytes)) {
            prop_assert_eq!(encode(&serde, &back), Some(bytes));
        }
    }
}
