//! One forwarding helper for store layers: the methods a layer does not
//! change are written once here instead of in every layer.

/// Implements the listed store methods, inside an `impl` of
/// [`KeyValueBytesStore`](super::KeyValueBytesStore) or
/// [`StateStore`](super::StateStore), by calling the same method on the
/// layer below, `self.<field>`:
///
/// ```ignore
/// impl KeyValueBytesStore for ChangeLoggingLayer {
///     delegate_to!(inner: name, persistent, get, committed_offset);
///     fn write(&mut self, batch: WriteBatch) -> Result<()> { /* its own */ }
/// }
/// ```
///
/// A layer lists what passes through unchanged and writes the rest itself;
/// methods it neither lists nor writes keep the trait's default.
macro_rules! delegate_to {
    ($field:ident: $($method:ident),+ $(,)?) => {
        $( $crate::store::delegate::delegate_to!(@one $field $method); )+
    };
    (@one $f:ident name) => {
        fn name(&self) -> &str {
            self.$f.name()
        }
    };
    (@one $f:ident persistent) => {
        fn persistent(&self) -> bool {
            self.$f.persistent()
        }
    };
    // `get` and `get_with` read the same value: a layer passes both down or
    // neither.
    (@one $f:ident get) => {
        fn get(&self, key: &[u8]) -> $crate::error::Result<Option<Vec<u8>>> {
            self.$f.get(key)
        }
        fn get_with(
            &self,
            key: &[u8],
            read: &mut dyn FnMut(Option<&[u8]>) -> $crate::error::Result<()>,
        ) -> $crate::error::Result<()> {
            self.$f.get_with(key, read)
        }
    };
    (@one $f:ident committed_offset) => {
        fn committed_offset(&self) -> $crate::error::Result<Option<i64>> {
            self.$f.committed_offset()
        }
    };
    (@one $f:ident range) => {
        fn range(
            &self,
            from: Option<&[u8]>,
            to: Option<&[u8]>,
            reverse: bool,
        ) -> $crate::error::Result<$crate::store::BytesIter<'_>> {
            self.$f.range(from, to, reverse)
        }
    };
    (@one $f:ident prefix_scan) => {
        fn prefix_scan(&self, prefix: &[u8]) -> $crate::error::Result<$crate::store::BytesIter<'_>> {
            self.$f.prefix_scan(prefix)
        }
    };
    (@one $f:ident approximate_count) => {
        fn approximate_count(&self) -> $crate::error::Result<u64> {
            self.$f.approximate_count()
        }
    };
    (@one $f:ident flush) => {
        fn flush(&mut self) -> $crate::error::Result<()> {
            self.$f.flush()
        }
    };
    (@one $f:ident close) => {
        fn close(&mut self) -> $crate::error::Result<()> {
            self.$f.close()
        }
    };
    (@one $f:ident restore) => {
        fn restore(&mut self, batch: $crate::store::WriteBatch) -> $crate::error::Result<()> {
            self.$f.restore(batch)
        }
    };
    (@one $f:ident commit) => {
        fn commit(&mut self, changelog_offset: Option<i64>) -> $crate::error::Result<()> {
            self.$f.commit(changelog_offset)
        }
    };
    (@one $f:ident take_changelog) => {
        fn take_changelog(&mut self) -> Vec<$crate::store::ChangelogEntry> {
            self.$f.take_changelog()
        }
    };
    (@one $f:ident set_flush_listener) => {
        fn set_flush_listener(&mut self, listener: $crate::store::FlushListener) -> bool {
            self.$f.set_flush_listener(listener)
        }
    };
    (@one $f:ident expect_short_lived_writes) => {
        fn expect_short_lived_writes(&mut self) -> $crate::error::Result<()> {
            self.$f.expect_short_lived_writes()
        }
    };
}

pub(crate) use delegate_to;
