//! The physical keys of window and session stores: a segment prefix, then
//! the serialized key and its times, so that expired windows are dropped a
//! segment at a time with one range delete.
//!
//! ```text
//! window store:  segment(start) : 8 BE | key | start : 8 BE | seq : 4 BE
//! session store: segment(end)   : 8 BE | key | end : 8 BE   | start : 8 BE
//! ```
//!
//! `segment(t) = t / segment_interval` with `segment_interval =
//! max(retention / 2, 60 000 ms)`, as Kafka Streams' segmented stores.
//! Times are non-negative (the stores refuse negative ones), so the
//! big-endian bytes order as the numbers do. The changelog topic carries
//! these same keys: unlike Kafka Streams' window changelogs (key || start
//! || seq, no prefix), Weir's have the segment prefix.

use crate::error::{Error, Result};

/// The smallest segment interval, whatever the retention (Kafka Streams'
/// minimum).
pub(super) const MIN_SEGMENT_INTERVAL_MS: i64 = 60_000;

/// Bytes of the segment prefix.
pub(super) const PREFIX: usize = 8;
/// Bytes of a time.
const TIME: usize = 8;
/// Bytes of a window key's sequence number.
const SEQ: usize = 4;
/// Bytes after the key in a window store key: start and sequence number.
pub(super) const WINDOW_SUFFIX: usize = TIME + SEQ;
/// Bytes after the key in a session store key: end and start.
pub(super) const SESSION_SUFFIX: usize = TIME + TIME;

/// How a store cuts time into segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Segments {
    retention_ms: i64,
    interval_ms: i64,
}

impl Segments {
    /// The segments of a store keeping `retention_ms` (>= 0).
    pub(super) fn new(retention_ms: i64) -> Self {
        let retention_ms = retention_ms.max(0);
        Segments {
            retention_ms,
            interval_ms: (retention_ms / 2).max(MIN_SEGMENT_INTERVAL_MS),
        }
    }

    pub(super) fn retention_ms(&self) -> i64 {
        self.retention_ms
    }

    /// The segment of time `t` (negative times fall in segment 0).
    pub(super) fn id(&self, t: i64) -> i64 {
        t.max(0) / self.interval_ms
    }

    /// The first time of segment `id`.
    pub(super) fn start_of(&self, id: i64) -> i64 {
        id.saturating_mul(self.interval_ms)
    }

    /// The oldest segment that may hold live data at stream time `observed`
    /// (Kafka Streams: `segmentId(streamTime - retention)`).
    pub(super) fn min_live(&self, observed: i64) -> i64 {
        self.id(observed.saturating_sub(self.retention_ms))
    }

    /// The first live time at stream time `observed`: windows (sessions)
    /// starting (ending) before it are expired.
    pub(super) fn first_live_time(&self, observed: i64) -> i64 {
        observed.saturating_sub(self.retention_ms).saturating_add(1)
    }
}

/// The prefix of segment `id`.
pub(super) fn prefix(id: i64) -> [u8; PREFIX] {
    id.to_be_bytes()
}

fn be_i64(bytes: &[u8]) -> Option<i64> {
    bytes.try_into().ok().map(i64::from_be_bytes)
}

/// The segment a stored key belongs to.
pub(super) fn segment_of(raw: &[u8]) -> Option<i64> {
    raw.get(..PREFIX).and_then(be_i64)
}

/// An inclusive upper bound, within segment `segment`, of the stored keys
/// of every serialized key `<= key` followed by `suffix_len` bytes of
/// times (whose first byte is at most `0x7f`: times are >= 0).
///
/// `segment | key | 0x7f ff..` is not enough: a shorter key that is a
/// prefix of `key` sorts by its times' bytes against the rest of `key`, so
/// the bound keeps `key`'s bytes only up to the first one (after the first)
/// below `0x7f`, then the largest times (Kafka Streams' `upperRange` does
/// the same). Reads filter what the bound lets through.
pub(super) fn key_range_upper(segment: i64, key: &[u8], suffix_len: usize) -> Vec<u8> {
    const MAX_TIME_BYTE: u8 = 0x7f;
    let kept = key
        .iter()
        .enumerate()
        .take_while(|&(i, &b)| i == 0 || b >= MAX_TIME_BYTE)
        .count();
    let mut raw = Vec::with_capacity(PREFIX + kept + suffix_len);
    raw.extend_from_slice(&prefix(segment));
    raw.extend_from_slice(&key[..kept]);
    raw.push(MAX_TIME_BYTE);
    raw.resize(PREFIX + kept + suffix_len, 0xff);
    raw
}

/// A stored window key, taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WindowKey<'a> {
    pub(super) segment: i64,
    pub(super) key: &'a [u8],
    pub(super) start: i64,
    pub(super) seq: u32,
}

/// The stored key of `key`'s window starting at `start` (>= 0).
pub(super) fn window_key(segment: i64, key: &[u8], start: i64, seq: u32) -> Vec<u8> {
    let mut raw = Vec::with_capacity(PREFIX + key.len() + WINDOW_SUFFIX);
    raw.extend_from_slice(&prefix(segment));
    raw.extend_from_slice(key);
    raw.extend_from_slice(&start.to_be_bytes());
    raw.extend_from_slice(&seq.to_be_bytes());
    raw
}

/// Takes a stored window key apart; `None` if it is too short.
pub(super) fn parse_window_key(raw: &[u8]) -> Option<WindowKey<'_>> {
    let end = raw.len().checked_sub(WINDOW_SUFFIX)?;
    if end < PREFIX {
        return None;
    }
    let seq = raw[end + TIME..].try_into().ok().map(u32::from_be_bytes)?;
    Some(WindowKey {
        segment: segment_of(raw)?,
        key: &raw[PREFIX..end],
        start: be_i64(&raw[end..end + TIME])?,
        seq,
    })
}

/// A stored session key, taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SessionKey<'a> {
    pub(super) segment: i64,
    pub(super) key: &'a [u8],
    pub(super) end: i64,
    pub(super) start: i64,
}

/// The stored key of `key`'s session `[start, end]` (`0 <= start <= end`).
pub(super) fn session_key(segment: i64, key: &[u8], start: i64, end: i64) -> Vec<u8> {
    let mut raw = Vec::with_capacity(PREFIX + key.len() + SESSION_SUFFIX);
    raw.extend_from_slice(&prefix(segment));
    raw.extend_from_slice(key);
    raw.extend_from_slice(&end.to_be_bytes());
    raw.extend_from_slice(&start.to_be_bytes());
    raw
}

/// Takes a stored session key apart; `None` if it is too short.
pub(super) fn parse_session_key(raw: &[u8]) -> Option<SessionKey<'_>> {
    let at = raw.len().checked_sub(SESSION_SUFFIX)?;
    if at < PREFIX {
        return None;
    }
    Some(SessionKey {
        segment: segment_of(raw)?,
        key: &raw[PREFIX..at],
        end: be_i64(&raw[at..at + TIME])?,
        start: be_i64(&raw[at + TIME..])?,
    })
}

/// The error for a stored key that is not a window (session) store key.
pub(super) fn malformed(store: &str, what: &str, raw: &[u8]) -> Error {
    Error::Store {
        store: store.to_string(),
        message: format!(
            "a stored key of {} bytes is not a {what} store key (segment, key, times >= 0)",
            raw.len()
        ),
    }
}

/// Refuses a negative time: window and session stores order windows by the
/// big-endian bytes of their times, which only order non-negative times.
pub(super) fn check_time(store: &str, what: &str, t: i64) -> Result<()> {
    if t < 0 {
        return Err(Error::Store {
            store: store.to_string(),
            message: format!(
                "{what} {t} is negative: window and session stores keep event times >= 0"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_interval_is_half_the_retention_at_least_a_minute() {
        assert_eq!(Segments::new(1_000).interval_ms, 60_000);
        assert_eq!(Segments::new(600_000).interval_ms, 300_000);
        let s = Segments::new(600_000);
        assert_eq!(s.id(299_999), 0);
        assert_eq!(s.id(300_000), 1);
        assert_eq!(s.min_live(1_000_000), 1); // 400 000 / 300 000
        assert_eq!(s.first_live_time(1_000_000), 400_001);
    }

    #[test]
    fn window_and_session_keys_round_trip() {
        let raw = window_key(3, b"ab", 42, 7);
        assert_eq!(raw.len(), 8 + 2 + 12);
        let k = parse_window_key(&raw).unwrap();
        assert_eq!((k.segment, k.key, k.start, k.seq), (3, &b"ab"[..], 42, 7));
        let raw = session_key(2, b"", 5, 9);
        let k = parse_session_key(&raw).unwrap();
        assert_eq!((k.segment, k.key, k.end, k.start), (2, &b""[..], 9, 5));
        assert!(parse_window_key(&[0; 19]).is_none());
        assert!(parse_session_key(&[0; 23]).is_none());
    }
}
