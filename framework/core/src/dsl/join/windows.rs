//! [`JoinWindows`]: how far apart in time two records of a stream-stream
//! join may be (Kafka Streams' `JoinWindows`).

use std::time::Duration;

use crate::error::{Error, Result};

/// Milliseconds of `d`, saturating at `i64::MAX`.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The time window of a stream-stream join (Kafka Streams' `JoinWindows`).
///
/// A record of the left stream at `ts` joins the records of the right
/// stream with the same key whose timestamps are in
/// `[ts - before, ts + after]`; a right record at `ts` joins the left
/// records in `[ts - after, ts + before]`. Both bounds are inclusive, and
/// [`of_time_difference_and_grace`](Self::of_time_difference_and_grace)
/// sets `before` = `after`.
///
/// The grace period is how long after a window's end (by stream time) a
/// record may still arrive out of order and join: the join's stores keep
/// records `before + after + grace`, and a left or outer join emits a
/// record that found no partner (joined with `None`) only once stream time
/// has passed its window's end plus the grace.
///
/// ```
/// use std::time::Duration;
/// use weir_core::dsl::JoinWindows;
///
/// let windows = JoinWindows::of_time_difference_and_grace(
///     Duration::from_secs(10),
///     Duration::from_secs(2),
/// )
/// .after(Duration::from_secs(30));
/// assert_eq!(windows.before_ms(), 10_000);
/// assert_eq!(windows.after_ms(), 30_000);
/// assert_eq!(windows.size_ms(), 40_000);
/// assert_eq!(windows.grace_ms(), 2_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JoinWindows {
    before: i64,
    after: i64,
    grace: i64,
}

impl JoinWindows {
    /// Records join when their timestamps differ by at most
    /// `time_difference` (either way); out-of-order records are accepted
    /// for `grace` after a window's end.
    pub fn of_time_difference_and_grace(time_difference: Duration, grace: Duration) -> Self {
        let difference = millis(time_difference);
        JoinWindows {
            before: difference,
            after: difference,
            grace: millis(grace),
        }
    }

    /// Records join when their timestamps differ by at most
    /// `time_difference`, with no grace: a record is late as soon as stream
    /// time has passed its window's end.
    pub fn of_time_difference_without_grace(time_difference: Duration) -> Self {
        Self::of_time_difference_and_grace(time_difference, Duration::ZERO)
    }

    /// Sets how much earlier than a left record a right record may be
    /// (keeping `after` and the grace).
    pub fn before(mut self, time_difference: Duration) -> Self {
        self.before = millis(time_difference);
        self
    }

    /// Sets how much later than a left record a right record may be
    /// (keeping `before` and the grace).
    pub fn after(mut self, time_difference: Duration) -> Self {
        self.after = millis(time_difference);
        self
    }

    /// How much earlier than a left record a right record may be, in ms.
    pub fn before_ms(&self) -> i64 {
        self.before
    }

    /// How much later than a left record a right record may be, in ms.
    pub fn after_ms(&self) -> i64 {
        self.after
    }

    /// The grace period, in ms.
    pub fn grace_ms(&self) -> i64 {
        self.grace
    }

    /// The window's size, `before + after`, in ms (saturating).
    pub fn size_ms(&self) -> i64 {
        self.before.saturating_add(self.after)
    }

    /// How long the join's stores keep a record: `before + after + grace`,
    /// in ms (saturating).
    pub fn retention_ms(&self) -> i64 {
        self.size_ms().saturating_add(self.grace)
    }

    /// Checks that the window's size and its retention fit in an `i64` of
    /// milliseconds (Rust's `Duration`s cannot be negative, the other
    /// thing Kafka Streams checks); an [`Error::Topology`] otherwise.
    pub(crate) fn validate(&self) -> Result<()> {
        let fits = self
            .before
            .checked_add(self.after)
            .and_then(|size| size.checked_add(self.grace))
            .is_some();
        if fits {
            Ok(())
        } else {
            Err(Error::Topology(format!(
                "join window (before {} ms, after {} ms, grace {} ms): before + after + grace \
                 must fit in an i64 of milliseconds",
                self.before, self.after, self.grace
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn before_and_after_replace_one_side_each() {
        let w = JoinWindows::of_time_difference_without_grace(Duration::from_millis(100))
            .before(Duration::from_millis(0));
        assert_eq!((w.before_ms(), w.after_ms(), w.grace_ms()), (0, 100, 0));
        let w = w
            .after(Duration::from_millis(5))
            .before(Duration::from_millis(7));
        assert_eq!((w.before_ms(), w.after_ms(), w.size_ms()), (7, 5, 12));
        assert!(w.validate().is_ok());
    }

    #[test]
    fn a_window_whose_retention_overflows_is_rejected() {
        let w = JoinWindows::of_time_difference_and_grace(Duration::MAX, Duration::from_millis(1));
        assert!(w.validate().unwrap_err().to_string().contains("must fit"));
    }
}
