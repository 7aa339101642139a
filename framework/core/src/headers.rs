//! Record headers: an ordered list of key/value pairs, as Kafka has them.

use std::slice;

/// The headers of a record: an ordered list of `(key, value)` pairs.
///
/// This mirrors Kafka's record headers: keys are strings, values are raw
/// bytes or null (`None`), order is preserved, and the same key may appear
/// more than once. By convention the last header with a key wins
/// ([`Headers::last_header`]).
///
/// ```
/// use weir_core::headers::Headers;
///
/// let mut headers = Headers::new();
/// headers
///     .add("trace-id", Some(b"abc".to_vec()))
///     .add("retry", None)
///     .add("trace-id", Some(b"def".to_vec()));
///
/// assert_eq!(headers.len(), 3);
/// assert_eq!(headers.last_header("trace-id"), Some(Some(&b"def"[..])));
/// assert_eq!(headers.last_header("retry"), Some(None));
/// assert_eq!(headers.last_header("missing"), None);
///
/// assert_eq!(headers.remove("trace-id"), 2);
/// assert_eq!(headers.len(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Headers {
    entries: Vec<(String, Option<Vec<u8>>)>,
}

impl Headers {
    /// Empty headers. Does not allocate.
    pub const fn new() -> Self {
        Headers {
            entries: Vec::new(),
        }
    }

    /// Appends a header; `None` is a null value. Existing headers with the
    /// same key are kept. Returns `self` so calls can be chained.
    pub fn add(&mut self, key: impl Into<String>, value: Option<Vec<u8>>) -> &mut Self {
        self.entries.push((key.into(), value));
        self
    }

    /// The value of the last header with this key.
    ///
    /// `None` when no header has the key; `Some(None)` when the last one
    /// has a null value.
    pub fn last_header(&self, key: &str) -> Option<Option<&[u8]>> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_deref())
    }

    /// The values of every header with this key, in insertion order.
    pub fn headers<'a>(&'a self, key: &'a str) -> impl Iterator<Item = Option<&'a [u8]>> + 'a {
        self.iter().filter(move |(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Removes every header with this key and returns how many were removed.
    pub fn remove(&mut self, key: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|(k, _)| k != key);
        before - self.entries.len()
    }

    /// All headers in insertion order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.entries.iter(),
        }
    }

    /// Number of headers, duplicates included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Iterator over `(key, value)` pairs of [`Headers`], in insertion order.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    inner: slice::Iter<'a, (String, Option<Vec<u8>>)>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(k, v)| (k.as_str(), v.as_deref()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner
            .next_back()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, Option<&'a [u8]>);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<K: Into<String>> FromIterator<(K, Option<Vec<u8>>)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, Option<Vec<u8>>)>>(iter: I) -> Self {
        Headers {
            entries: iter.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }
}

impl<K: Into<String>> Extend<(K, Option<Vec<u8>>)> for Headers {
    fn extend<I: IntoIterator<Item = (K, Option<Vec<u8>>)>>(&mut self, iter: I) {
        self.entries
            .extend(iter.into_iter().map(|(k, v)| (k.into(), v)));
    }
}

#[cfg(test)]
mod tests {
    use super::Headers;

    #[test]
    fn keeps_order_and_duplicates() {
        let mut h = Headers::new();
        h.add("a", Some(vec![1]))
            .add("b", None)
            .add("a", Some(vec![2]));
        let all: Vec<_> = h.iter().collect();
        assert_eq!(
            all,
            vec![
                ("a", Some(&[1u8][..])),
                ("b", None),
                ("a", Some(&[2u8][..]))
            ]
        );
        assert_eq!(
            h.headers("a").collect::<Vec<_>>(),
            vec![Some(&[1u8][..]), Some(&[2u8][..])]
        );
        assert_eq!(h.iter().len(), 3);
    }

    #[test]
    fn last_header_distinguishes_absent_and_null() {
        let mut h = Headers::new();
        assert_eq!(h.last_header("k"), None);
        h.add("k", Some(b"v".to_vec()));
        assert_eq!(h.last_header("k"), Some(Some(&b"v"[..])));
        h.add("k", None);
        assert_eq!(h.last_header("k"), Some(None));
    }

    #[test]
    fn remove_counts_and_keeps_others() {
        let mut h: Headers = [("x", None), ("y", Some(vec![9])), ("x", Some(vec![]))]
            .into_iter()
            .collect();
        assert_eq!(h.remove("x"), 2);
        assert_eq!(h.remove("x"), 0);
        assert_eq!(h.len(), 1);
        assert_eq!(h.last_header("y"), Some(Some(&[9u8][..])));
        assert_eq!(h.remove("y"), 1);
        assert!(h.is_empty());
        assert_eq!(h, Headers::default());
    }

    #[test]
    fn extend_and_into_iter() {
        let mut h = Headers::new();
        h.extend([(String::from("a"), Some(vec![1]))]);
        let mut n = 0;
        for (k, v) in &h {
            assert_eq!((k, v), ("a", Some(&[1u8][..])));
            n += 1;
        }
        assert_eq!(n, 1);
        assert_eq!(h.iter().next_back(), Some(("a", Some(&[1u8][..]))));
    }
}
