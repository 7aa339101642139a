//! Instruments the benchmarks in `testing/bench` use, kept out of the
//! library's root: a raw consume -> produce copier (the ceiling Weir is
//! compared against) and the probes that pace input and follow output.

pub mod copier;
pub mod probe;
