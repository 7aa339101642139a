//! The global thread's offset checkpoint file: the offsets its persistent
//! stores reached, per partition of the global topics.
//!
//! ```text
//! 0                       the format version
//! topic partition offset  one line per partition
//! ```
//!
//! Reading never fails on the text: a malformed line, or one with a
//! negative partition or offset, is left out with a warning (as Kafka
//! Streams' `OffsetCheckpoint` skips negative offsets), and a checkpoint of
//! another version is left out whole; the partitions it leaves out are read
//! from their beginning, which is always correct, only slower.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};

/// The version line this Weir writes and reads.
const VERSION: &str = "0";

/// Offsets by (topic, partition).
pub(crate) type Offsets = BTreeMap<(String, i32), i64>;

/// The error of a file operation on the state directory.
pub(crate) fn io_error(path: &Path, what: &str, e: &std::io::Error) -> Error {
    Error::Config {
        key: "state.dir".to_string(),
        message: format!("cannot {what} {}: {e}", path.display()),
    }
}

/// Reads the checkpoint at `path`; no file: nothing checkpointed. Only an
/// unreadable file is an error (text that is not UTF-8 included).
pub(crate) fn read_checkpoint(path: &Path) -> Result<Offsets> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse(&text, path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Offsets::new()),
        Err(e) => Err(io_error(path, "read", &e)),
    }
}

/// Writes the checkpoint through a temporary file and a rename, so a crash
/// leaves the old one or the new one.
pub(crate) fn write_checkpoint(path: &Path, offsets: &Offsets) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "create", &e))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format(offsets)).map_err(|e| io_error(&tmp, "write", &e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, "write", &e))
}

/// The checkpoint's text.
fn format(offsets: &Offsets) -> String {
    let mut text = format!("{VERSION}\n");
    for ((topic, p), o) in offsets {
        text.push_str(&format!("{topic} {p} {o}\n"));
    }
    text
}

/// The offsets in a checkpoint's text (read from `path`, for the warnings).
fn parse(text: &str, path: &Path) -> Offsets {
    let mut offsets = Offsets::new();
    let mut lines = text.lines();
    let version = lines.next().map(str::trim);
    if version.is_some_and(|v| v != VERSION) {
        tracing::warn!(
            path = %path.display(),
            version,
            "ignoring a checkpoint of an unknown version: the global topics are read from their beginning"
        );
        return offsets;
    }
    for line in lines {
        match parse_line(line) {
            Some((topic, p, o)) => {
                offsets.insert((topic.to_string(), p), o);
            }
            None => {
                tracing::warn!(path = %path.display(), line, "ignoring a malformed checkpoint line");
            }
        }
    }
    offsets
}

/// `topic partition offset`, with a partition and an offset >= 0.
fn parse_line(line: &str) -> Option<(&str, i32, i64)> {
    let mut parts = line.split_whitespace();
    let (topic, p, o) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let p = p.parse::<i32>().ok().filter(|p| *p >= 0)?;
    let o = o.parse::<i64>().ok().filter(|o| *o >= 0)?;
    Some((topic, p, o))
}

#[cfg(test)]
mod tests {
    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;

    use super::*;

    fn path() -> &'static Path {
        Path::new("/state/app/global/.checkpoint")
    }

    #[test]
    fn a_checkpoint_reads_back_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app/global/.checkpoint");
        assert!(read_checkpoint(&path).unwrap().is_empty());
        let offsets = BTreeMap::from([(("a".to_string(), 0), 5), (("a".to_string(), 1), 9)]);
        write_checkpoint(&path, &offsets).unwrap();
        assert_eq!(read_checkpoint(&path).unwrap(), offsets);
    }

    #[test]
    fn a_checkpoint_that_is_not_utf8_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".checkpoint");
        std::fs::write(&path, b"0\na 0 \xff\n").unwrap();
        let e = read_checkpoint(&path).unwrap_err().to_string();
        assert!(e.contains(".checkpoint"), "{e}");
    }

    #[test]
    fn bad_lines_negative_numbers_and_other_versions_are_left_out() {
        let text =
            "0\na 0 5\nb -1 3\nc 1 -2\nd 1\ne 1 2 3\nf x 4\ng 2 99999999999999999999\nh 3 7\n";
        let offsets = parse(text, path());
        let expected = BTreeMap::from([(("a".to_string(), 0), 5), (("h".to_string(), 3), 7)]);
        assert_eq!(offsets, expected);
        assert!(parse("1\na 0 5\n", path()).is_empty());
        assert!(parse("", path()).is_empty());
    }

    fn any_offsets() -> impl Strategy<Value = Offsets> {
        btree_map(("[a-zA-Z0-9._-]{1,12}", 0..=i32::MAX), 0..=i64::MAX, 0..6)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn checkpoints_round_trip(offsets in any_offsets()) {
            prop_assert_eq!(parse(&format(&offsets), path()), offsets);
        }

        #[test]
        fn any_text_reads_as_offsets_without_panic(text in ".{0,80}") {
            for ((topic, p), o) in parse(&text, path()) {
                prop_assert!(!topic.is_empty() && p >= 0 && o >= 0);
            }
        }

        #[test]
        fn near_valid_text_keeps_the_good_lines(
            offsets in any_offsets(),
            noise in vec(
                prop_oneof![
                    Just("x -1 5".to_string()),
                    Just("x 1 -5".to_string()),
                    Just("x 1".to_string()),
                    Just("x 1 2 3".to_string()),
                    Just("x 1 9223372036854775808".to_string()),
                    Just("x 2147483648 1".to_string()),
                    "[ 0-9a-z-]{0,16}",
                ],
                0..4,
            ),
        ) {
            let mut text = format(&offsets);
            for line in &noise {
                text.push_str(line);
                text.push('\n');
            }
            let read = parse(&text, path());
            for (tp, o) in &offsets {
                // A noise line may name the same partition; otherwise the
                // good line is kept.
                let named = noise.iter().any(|l| l.split_whitespace().next() == Some(&tp.0));
                if !named {
                    prop_assert_eq!(read.get(tp), Some(o));
                }
            }
        }
    }
}
