//! Client helpers over rdkafka: admin (topics), connections, producing,
//! reading, transactions, and the tuned defaults every client of Weir gets.
//! The runtime builds on them; applications and tests use the public ones
//! (re-exported at the crate root) to feed and read topics.

pub(crate) mod admin;
pub(crate) mod block_on;
pub(crate) mod connection;
pub(crate) mod delivery;
pub(crate) mod flush;
pub(crate) mod headers;
pub(crate) mod produce;
pub(crate) mod read;
pub(crate) mod transaction;
pub(crate) mod tuning;
