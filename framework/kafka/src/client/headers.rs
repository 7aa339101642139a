//! Reading a consumed record's headers without panicking.
//!
//! A header's key is a string in Kafka's protocol, but nothing checks that
//! it is UTF-8: clients other than Kafka's Java one (librdkafka's C API,
//! Go clients) can write any bytes. rdkafka 0.39 reads keys with
//! `CStr::to_str().unwrap()`, so iterating the headers of such a record
//! panics, and without unsafe code (which this workspace forbids) there is
//! no other way to read them. [`read_headers`] catches that panic and
//! answers an error naming the header instead: the record is a poison pill
//! for the deserialization handler, not the end of the thread.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rdkafka::message::{BorrowedMessage, Header, Headers as _, Message};
use weir_core::Headers;

/// The headers of `msg`; an error (what is wrong) when one cannot be read.
// For `runtime::thread::with_raw_record` (the lead's file), which still
// reads headers through rdkafka's panicking iterator.
#[allow(dead_code)]
pub(crate) fn read_headers(msg: &BorrowedMessage<'_>) -> Result<Headers, String> {
    match msg.headers() {
        None => Ok(Headers::default()),
        Some(h) => collect(h.count(), |i| h.try_get(i)),
    }
}

/// The headers `get` gives for indexes `0..count`, where `get` may panic
/// (rdkafka on a key that is not UTF-8).
fn collect<'h>(
    count: usize,
    get: impl Fn(usize) -> Option<Header<'h, &'h [u8]>>,
) -> Result<Headers, String> {
    let mut headers = Headers::default();
    for i in 0..count {
        match catch_unwind(AssertUnwindSafe(|| get(i))) {
            Ok(Some(header)) => {
                headers.add(header.key, header.value.map(<[u8]>::to_vec));
            }
            Ok(None) => break,
            Err(_) => {
                return Err(format!(
                    "header {i} of {count} has a key that is not UTF-8 (it cannot be read)"
                ))
            }
        }
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use rdkafka::message::OwnedHeaders;

    use super::*;

    #[test]
    fn headers_are_read_in_order_with_absent_values() {
        let owned = OwnedHeaders::new()
            .insert(Header {
                key: "a",
                value: Some(&b"1"[..]),
            })
            .insert(Header::<&[u8]> {
                key: "b",
                value: None,
            })
            .insert(Header {
                key: "a",
                value: Some(&b""[..]),
            });
        let h = owned.as_borrowed();
        let headers = collect(h.count(), |i| h.try_get(i)).unwrap();
        let mut expected = Headers::default();
        expected
            .add("a", Some(b"1".to_vec()))
            .add("b", None)
            .add("a", Some(Vec::new()));
        assert_eq!(headers, expected);
    }

    /// Regression: a header key that is not UTF-8 made rdkafka panic while
    /// the stream thread read the record; it is an error naming the header.
    /// (rdkafka's safe API cannot build such a header, so `get` panics as
    /// rdkafka does on one.)
    #[test]
    fn a_header_rdkafka_panics_on_is_an_error() {
        let owned = OwnedHeaders::new().insert(Header {
            key: "ok",
            value: Some(&b"1"[..]),
        });
        let h = owned.as_borrowed();
        let get = |i: usize| {
            if i == 1 {
                let bad = vec![b'k', 0xff];
                // What rdkafka does with the key bytes.
                let _ = std::str::from_utf8(&bad).unwrap();
            }
            h.try_get(0)
        };
        let e = collect(2, get).unwrap_err();
        assert!(e.contains("header 1 of 2") && e.contains("UTF-8"), "{e}");
        assert_eq!(collect(1, get).unwrap().len(), 1);
    }
}
