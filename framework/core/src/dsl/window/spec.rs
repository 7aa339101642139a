//! The window specifications of windowed aggregations (Kafka Streams'
//! `TimeWindows`, `SlidingWindows`, `SessionWindows`) and when their
//! results are emitted ([`EmitStrategy`]).

use std::time::Duration;

use crate::error::{Error, Result};
use crate::window::Window;

/// Milliseconds of `d`, saturating at `i64::MAX`.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn invalid(message: String) -> Error {
    Error::Topology(message)
}

/// Fixed-size windows of event time (Kafka Streams' `TimeWindows`):
/// tumbling, or hopping with [`advance_by`](Self::advance_by). A window
/// `[start, start + size)` includes its start and excludes its end; a record
/// at `ts` falls in every window with `start <= ts < start + size`, and
/// starts are multiples of the advance (windows never start before 0).
///
/// A window accepts records while `end > stream time - grace`; a record
/// for windows that all closed is dropped as late.
///
/// ```
/// use std::time::Duration;
/// use weir_core::dsl::TimeWindows;
///
/// let hopping = TimeWindows::of_size_and_grace(Duration::from_secs(10), Duration::from_secs(2))
///     .advance_by(Duration::from_secs(5));
/// let starts: Vec<i64> = hopping.windows_for(12_000).iter().map(|w| w.start()).collect();
/// assert_eq!(starts, [5_000, 10_000]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindows {
    size: i64,
    advance: i64,
    grace: i64,
}

impl TimeWindows {
    /// Tumbling windows of `size` that close as soon as stream time passes
    /// their end (no grace for out-of-order records).
    pub fn of_size_with_no_grace(size: Duration) -> Self {
        Self::of_size_and_grace(size, Duration::ZERO)
    }

    /// Tumbling windows of `size` that accept out-of-order records until
    /// stream time passes their end by `grace`.
    pub fn of_size_and_grace(size: Duration, grace: Duration) -> Self {
        let size = millis(size);
        TimeWindows {
            size,
            advance: size,
            grace: millis(grace),
        }
    }

    /// Hopping windows: a new window starts every `advance` (which must be
    /// more than 0 and at most the size; checked when the topology is built).
    pub fn advance_by(mut self, advance: Duration) -> Self {
        self.advance = millis(advance);
        self
    }

    /// The size of each window, in milliseconds.
    pub fn size_ms(&self) -> i64 {
        self.size
    }

    /// How far apart window starts are, in milliseconds.
    pub fn advance_ms(&self) -> i64 {
        self.advance
    }

    /// The grace period, in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace
    }

    /// The windows a record at `timestamp` falls in, ascending by start.
    pub fn windows_for(&self, timestamp: i64) -> Vec<Window> {
        if self.size <= 0 || self.advance <= 0 || timestamp < 0 {
            return Vec::new();
        }
        let first = (timestamp
            .saturating_sub(self.size)
            .saturating_add(self.advance))
        .max(0);
        let mut start = first / self.advance * self.advance;
        let mut windows = Vec::new();
        while start <= timestamp {
            let end = start.checked_add(self.size).unwrap_or(i64::MAX);
            windows.push(Window::new(start, end));
            start = match start.checked_add(self.advance) {
                Some(next) => next,
                None => break,
            };
        }
        windows
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.size <= 0 {
            return Err(invalid(
                "a time window's size must be more than 0 ms".into(),
            ));
        }
        if self.advance <= 0 || self.advance > self.size {
            return Err(invalid(format!(
                "a time window's advance must be more than 0 and at most its size ({} ms), \
                 got {} ms",
                self.size, self.advance
            )));
        }
        Ok(())
    }
}

/// Sliding windows (Kafka Streams' `SlidingWindows`): windows of a fixed
/// time difference `d` that slide with the records. Both ends are
/// inclusive; each record makes its window `[ts - d, ts]`, and a window
/// `[ts + 1, ts + 1 + d]` once a later record falls in it; only windows
/// holding records exist. Records before `d` share the window `[0, d]`.
///
/// ```
/// use std::time::Duration;
/// use weir_core::dsl::SlidingWindows;
///
/// let w = SlidingWindows::of_time_difference_and_grace(Duration::from_secs(5), Duration::ZERO);
/// assert_eq!(w.time_difference_ms(), 5_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindows {
    difference: i64,
    grace: i64,
}

impl SlidingWindows {
    /// Sliding windows of time difference `difference`, no grace.
    pub fn of_time_difference_with_no_grace(difference: Duration) -> Self {
        Self::of_time_difference_and_grace(difference, Duration::ZERO)
    }

    /// Sliding windows of time difference `difference` accepting
    /// out-of-order records for `grace` after their end.
    pub fn of_time_difference_and_grace(difference: Duration, grace: Duration) -> Self {
        SlidingWindows {
            difference: millis(difference),
            grace: millis(grace),
        }
    }

    /// The time difference (each window's length), in milliseconds.
    pub fn time_difference_ms(&self) -> i64 {
        self.difference
    }

    /// The grace period, in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.difference <= 0 {
            return Err(invalid(
                "a sliding window's time difference must be more than 0 ms".into(),
            ));
        }
        Ok(())
    }
}

/// Session windows (Kafka Streams' `SessionWindows`): a key's records
/// closer together than the inactivity gap form one session `[first,
/// last]` (both inclusive); a record that bridges two sessions merges them.
///
/// ```
/// use std::time::Duration;
/// use weir_core::dsl::SessionWindows;
///
/// let w = SessionWindows::of_inactivity_gap_with_no_grace(Duration::from_secs(30));
/// assert_eq!((w.inactivity_gap_ms(), w.grace_ms()), (30_000, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionWindows {
    gap: i64,
    grace: i64,
}

impl SessionWindows {
    /// Sessions split by `gap` of inactivity, no grace.
    pub fn of_inactivity_gap_with_no_grace(gap: Duration) -> Self {
        Self::of_inactivity_gap_and_grace(gap, Duration::ZERO)
    }

    /// Sessions split by `gap` of inactivity, accepting out-of-order
    /// records until stream time passes a session's end by `gap + grace`.
    pub fn of_inactivity_gap_and_grace(gap: Duration, grace: Duration) -> Self {
        SessionWindows {
            gap: millis(gap),
            grace: millis(grace),
        }
    }

    /// The inactivity gap, in milliseconds.
    pub fn inactivity_gap_ms(&self) -> i64 {
        self.gap
    }

    /// The grace period, in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.gap <= 0 {
            return Err(invalid(
                "a session window's inactivity gap must be more than 0 ms".into(),
            ));
        }
        Ok(())
    }
}

/// When a windowed aggregation forwards its results (Kafka Streams'
/// `EmitStrategy`): at every update (the default), or once per window
/// when it closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmitStrategy {
    on_close: bool,
}

impl EmitStrategy {
    /// Forward every update of a window as it happens (the default).
    pub fn on_window_update() -> Self {
        EmitStrategy { on_close: false }
    }

    /// Forward nothing until a window closes (stream time passes its end
    /// plus the grace), then its final result, once.
    pub fn on_window_close() -> Self {
        EmitStrategy { on_close: true }
    }

    /// Whether results wait for the window to close.
    pub fn is_on_window_close(&self) -> bool {
        self.on_close
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(w: &TimeWindows, ts: i64) -> Vec<i64> {
        w.windows_for(ts).iter().map(|w| w.start()).collect()
    }

    #[test]
    fn windows_for_follows_kafka_streams_start_formula() {
        let tumbling = TimeWindows::of_size_with_no_grace(Duration::from_millis(10));
        assert_eq!(starts(&tumbling, 0), [0]);
        assert_eq!(starts(&tumbling, 9), [0]);
        assert_eq!(starts(&tumbling, 10), [10]);
        let hopping = tumbling.advance_by(Duration::from_millis(3));
        assert_eq!(starts(&hopping, 0), [0]);
        assert_eq!(starts(&hopping, 5), [0, 3]);
        assert_eq!(starts(&hopping, 12), [3, 6, 9, 12]);
        assert_eq!(hopping.windows_for(12)[0].end(), 13);
    }

    #[test]
    fn invalid_specs_are_refused() {
        assert!(TimeWindows::of_size_with_no_grace(Duration::ZERO)
            .validate()
            .is_err());
        let w = TimeWindows::of_size_with_no_grace(Duration::from_millis(5));
        assert!(w.advance_by(Duration::from_millis(6)).validate().is_err());
        assert!(w.advance_by(Duration::ZERO).validate().is_err());
        assert!(w.validate().is_ok());
        assert!(
            SlidingWindows::of_time_difference_with_no_grace(Duration::ZERO)
                .validate()
                .is_err()
        );
        assert!(
            SessionWindows::of_inactivity_gap_with_no_grace(Duration::ZERO)
                .validate()
                .is_err()
        );
    }
}
