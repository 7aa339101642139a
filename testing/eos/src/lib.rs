//! Weir's exactly-once verifier, modelled on Kafka's own EOS system test.
//!
//! - the **generator** writes a known input (keys `k00000`.., values
//!   `seq,amount` with a per-key sequence number) with an idempotent producer,
//!   each key to one partition ([`format::partition_of`]);
//! - the **EOS test application** (`eos-app`, [`topology::eos_topology`])
//!   echoes the input unchanged and keeps running per-key aggregates
//!   (sum, min, max, count) behind a repartition step, every update emitted,
//!   and counts per key in tumbling windows of event time (every update, and
//!   on window close);
//! - the **fault driver** (`eos-verify`) runs 2-3 instances, SIGKILLs and
//!   restarts them and restarts the broker;
//! - the **checker** ([`check`]) compares what Kafka's Java consumer read
//!   (read_committed, `checker/EosReader.java`, parsed by [`dump`]) with the
//!   input; [`windowed`] recomputes the windowed counts from it,
//!   [`join_table`] the stream-table join and [`join_stream`] the windowed
//!   stream-stream join.
//!
//! [`poison`] and [`poison_topology`] are the poison-pill verifier (bad
//! records at every stage, checked in the dead-letter topic).
//!
//! `testing/eos/run` is the one command; see `testing/eos/README.md`.

pub mod check;
pub mod dump;
pub mod format;
pub mod join_stream;
pub mod join_table;
pub mod poison;
pub mod poison_topology;
pub mod rng;
pub mod topology;
pub mod windowed;

pub use check::{check, Guarantee, Report};
