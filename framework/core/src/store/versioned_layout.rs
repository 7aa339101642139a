//! The bytes of a versioned store: how its latest values, its history and
//! its changelog records are laid out over an ordered key-value bytes store.
//!
//! ```text
//! latest row:   0x00 | key                              -> timestamp : 8 BE | value
//! history row:  0x01 | len(key) : 4 BE | key | from : 8 -> valid_to : 8 BE | tag : 1 | value
//! stream time:  0x02                                    -> observed : 8 BE
//! changelog:    key                                     -> timestamp : 8 BE | tag : 1 | value
//! ```
//!
//! `from` (the version's timestamp) is written order-preserving (the sign
//! bit flipped, then big-endian), so a key's versions are in time order and
//! one seek finds the version valid at a time. The length prefix keeps one
//! key's rows contiguous (no key's rows interleave with a longer key's that
//! starts with the same bytes). `tag` is 1 for a value, 0 for a delete; a
//! delete that is the key's latest version is a history row with
//! `valid_to = i64::MAX` (open), as the latest row only holds values.

/// The first byte of a latest row.
const LATEST: u8 = 0x00;
/// The first byte of a history row.
const HISTORY: u8 = 0x01;
/// The key of the row holding the observed stream time.
pub(super) const STREAM_TIME_KEY: &[u8] = &[0x02];
/// The `valid_to` of a history row that is the key's latest version (a delete).
pub(super) const OPEN: i64 = i64::MAX;

/// A version as the bytes hold it: its value (`None`: a delete), valid from
/// `from` to `to` (exclusive; [`OPEN`] for a latest delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RawVersion {
    pub(super) from: i64,
    pub(super) to: i64,
    pub(super) value: Option<Vec<u8>>,
}

fn ordered(t: i64) -> [u8; 8] {
    (u64::from_ne_bytes(t.to_ne_bytes()) ^ (1 << 63)).to_be_bytes()
}

fn unordered(b: [u8; 8]) -> i64 {
    i64::from_ne_bytes((u64::from_be_bytes(b) ^ (1 << 63)).to_ne_bytes())
}

fn read_i64(bytes: &[u8]) -> Option<i64> {
    bytes.get(..8)?.try_into().ok().map(i64::from_be_bytes)
}

/// The latest row's key.
pub(super) fn latest_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(LATEST);
    k.extend_from_slice(key);
    k
}

/// The prefix of every history row of `key`.
fn history_prefix(key: &[u8]) -> Vec<u8> {
    let len = u32::try_from(key.len()).unwrap_or(u32::MAX);
    let mut k = Vec::with_capacity(key.len() + 13);
    k.push(HISTORY);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(key);
    k
}

/// The history row key of `key`'s version from `from`.
pub(super) fn history_key(key: &[u8], from: i64) -> Vec<u8> {
    let mut k = history_prefix(key);
    k.extend_from_slice(&ordered(from));
    k
}

/// The version's timestamp in a history row key of `key`; `None` for a
/// row that is not one of `key`'s history rows.
pub(super) fn history_from(key: &[u8], raw: &[u8]) -> Option<i64> {
    let len = u32::try_from(key.len()).ok()?;
    let (&tag, rest) = raw.split_first()?;
    let (row_len, rest) = rest.split_at_checked(4)?;
    let (row_key, from) = rest.split_at_checked(key.len())?;
    if tag != HISTORY || row_len != len.to_be_bytes() || row_key != key {
        return None;
    }
    from.try_into().ok().map(unordered)
}

/// A latest row's value: the timestamp, then the value.
pub(super) fn latest_value(timestamp: i64, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(value.len() + 8);
    v.extend_from_slice(&timestamp.to_be_bytes());
    v.extend_from_slice(value);
    v
}

/// The timestamp and value of a latest row.
pub(super) fn parse_latest(raw: &[u8]) -> Option<(i64, Vec<u8>)> {
    Some((read_i64(raw)?, raw.get(8..)?.to_vec()))
}

fn tagged(prefix: i64, value: Option<&[u8]>) -> Vec<u8> {
    let mut v = Vec::with_capacity(value.map_or(0, <[u8]>::len) + 9);
    v.extend_from_slice(&prefix.to_be_bytes());
    match value {
        Some(value) => {
            v.push(1);
            v.extend_from_slice(value);
        }
        None => v.push(0),
    }
    v
}

fn parse_tagged(raw: &[u8]) -> Option<(i64, Option<Vec<u8>>)> {
    let t = read_i64(raw)?;
    match raw.get(8)? {
        1 => Some((t, Some(raw.get(9..)?.to_vec()))),
        // A delete has nothing after its tag.
        0 if raw.len() == 9 => Some((t, None)),
        _ => None,
    }
}

/// A history row's value: `valid_to`, the tag, the value.
pub(super) fn history_value(to: i64, value: Option<&[u8]>) -> Vec<u8> {
    tagged(to, value)
}

/// The version of a history row of `key`.
pub(super) fn parse_history(key: &[u8], raw_key: &[u8], raw: &[u8]) -> Option<RawVersion> {
    let from = history_from(key, raw_key)?;
    let (to, value) = parse_tagged(raw)?;
    Some(RawVersion { from, to, value })
}

/// A changelog record's value: the version's timestamp, the tag, the value.
pub(super) fn changelog_value(timestamp: i64, value: Option<&[u8]>) -> Vec<u8> {
    tagged(timestamp, value)
}

/// The timestamp and value of a changelog record's value.
pub(super) fn parse_changelog(raw: &[u8]) -> Option<(i64, Option<Vec<u8>>)> {
    parse_tagged(raw)
}

/// The observed stream time row's value.
pub(super) fn stream_time_value(t: i64) -> Vec<u8> {
    t.to_be_bytes().to_vec()
}

/// The observed stream time in its row.
pub(super) fn parse_stream_time(raw: &[u8]) -> Option<i64> {
    read_i64(raw)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn history_keys_sort_by_time_including_negative_ones() {
        let key = b"k";
        let mut keys: Vec<Vec<u8>> = [5, -3, i64::MIN, 0, i64::MAX, 200]
            .iter()
            .map(|t| history_key(key, *t))
            .collect();
        keys.sort();
        let times: Vec<i64> = keys.iter().map(|k| history_from(key, k).unwrap()).collect();
        assert_eq!(times, [i64::MIN, -3, 0, 5, 200, i64::MAX]);
    }

    #[test]
    fn a_key_rows_do_not_interleave_with_a_longer_key() {
        let (a, ab) = (history_key(b"a", i64::MAX), history_key(b"ab", i64::MIN));
        assert!(a < ab);
        assert_eq!(history_from(b"a", &ab), None);
    }

    #[test]
    fn another_keys_history_row_of_the_same_length_is_not_a_version() {
        assert_eq!(history_from(b"b", &history_key(b"a", 5)), None);
        let mut latest = history_key(b"a", 5);
        latest[0] = LATEST;
        assert_eq!(history_from(b"a", &latest), None);
        assert_eq!(history_from(b"a", &history_key(b"a", 5)), Some(5));
    }

    #[test]
    fn a_delete_with_bytes_after_its_tag_is_malformed() {
        let mut delete = changelog_value(7, None);
        assert_eq!(parse_changelog(&delete), Some((7, None)));
        delete.push(b'x');
        assert_eq!(parse_changelog(&delete), None);
    }

    #[test]
    fn values_round_trip() {
        let v = history_value(40, Some(b"x"));
        let version = parse_history(b"k", &history_key(b"k", 10), &v).unwrap();
        assert_eq!(
            version,
            RawVersion {
                from: 10,
                to: 40,
                value: Some(b"x".to_vec())
            }
        );
        assert_eq!(parse_changelog(&changelog_value(7, None)), Some((7, None)));
        assert_eq!(
            parse_latest(&latest_value(3, b"v")),
            Some((3, b"v".to_vec()))
        );
    }
}
