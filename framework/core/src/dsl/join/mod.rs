//! Joins: stream-table, stream-stream, table-table, foreign-key, and
//! stream-global joins, with Kafka Streams' semantics (see `docs/joins.md`).
//!
//! Each kind lives in its own module and adds its methods to [`KStream`] or
//! [`KTable`] in an `impl` block of its own.
//!
//! [`KStream`]: crate::dsl::KStream
//! [`KTable`]: crate::dsl::KTable

mod copartition;
mod foreign_key;
mod getter;
mod joined;
mod stream_stream;
mod stream_stream_outer;
mod stream_stream_proc;
mod stream_table;
mod stream_table_grace;
mod table_table;
mod windows;

pub use foreign_key::ForeignKeyJoined;
pub(crate) use getter::ValueGetter;
pub use joined::Joined;
pub use stream_stream::StreamJoined;
pub use windows::JoinWindows;
