//! Windowed aggregations: window specifications, the windowed streams,
//! and the processors that aggregate time, sliding and session windows.

mod emit;
pub(crate) mod idle;
mod late;
mod session;
mod sliding;
mod spec;
mod stream;
mod time;

pub use late::{
    LATE_CLOSE_TIME, LATE_GRACE_MS, LATE_STREAM_TIME, LATE_WINDOW_END, LATE_WINDOW_START,
};
pub use spec::{EmitStrategy, SessionWindows, SlidingWindows, TimeWindows};
pub use stream::{SessionWindowedKStream, TimeWindowedKStream, WindowedBy};
