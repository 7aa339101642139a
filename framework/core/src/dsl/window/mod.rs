//! Windowed aggregations: window specifications, the windowed streams,
//! and the processors that aggregate time, sliding and session windows.

mod emit;
mod late;
mod session;
mod sliding;
mod spec;
mod stream;
mod time;

pub use spec::{EmitStrategy, SessionWindows, SlidingWindows, TimeWindows};
pub use stream::{SessionWindowedKStream, TimeWindowedKStream, WindowedBy};
