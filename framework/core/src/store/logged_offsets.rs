//! The changelog offset a store that logs its writes ahead of writing them
//! below (the recent windows of a join store) may record below at a
//! commit: the newest that every write logged up to it is below, or has
//! expired, by.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The commits of a store that logs ahead, numbered by *generation*: the
/// writes logged between two commits belong to one generation, which the
/// second commit closes with the changelog offset it reached.
///
/// A write logged and not yet below holds the store's recorded offset back
/// to the generation before its own: restoration replays the changelog
/// from there, and so finds it. When every write of a generation is below
/// or expired (restoration drops an expired write, so it need not be
/// below), the offset may move past that generation: the windows of a join
/// mostly expire within seconds and reach the store below never.
#[derive(Debug)]
pub(super) struct LoggedOffsets {
    /// The generation writes are logged in now.
    generation: u64,
    /// The closed generations the recorded offset has not passed yet: the
    /// number, the offset its commit reached, when it closed.
    closed: VecDeque<(u64, Option<i64>, Instant)>,
    /// The newest offset a commit reached.
    last: Option<i64>,
    /// When the generation of the recorded offset closed (or the store
    /// opened): restoration replays what was logged since.
    recorded_at: Instant,
    /// Whether the store logged or took a write since the last commit.
    touched: bool,
}

impl LoggedOffsets {
    /// Generation 0, nothing logged.
    pub(super) fn new(now: Instant) -> Self {
        LoggedOffsets {
            generation: 0,
            closed: VecDeque::new(),
            last: None,
            recorded_at: now,
            touched: false,
        }
    }

    /// The generation writes are logged in now.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// The store took or logged a write since the last commit.
    pub(super) fn touch(&mut self) {
        self.touched = true;
    }

    /// A commit reached `offset` (`None`: nothing new since the last one)
    /// and closes the current generation; `oldest_unstored` is the oldest
    /// generation of a live write logged and not below (`None`: none).
    /// Returns the offset the store below may record now, if it moved.
    pub(super) fn commit(
        &mut self,
        offset: Option<i64>,
        oldest_unstored: Option<u64>,
        now: Instant,
    ) -> Option<i64> {
        let offset = offset.or(self.last);
        self.last = offset;
        self.closed.push_back((self.generation, offset, now));
        self.generation += 1;
        self.touched = false;
        let covered_before = oldest_unstored.unwrap_or(u64::MAX);
        let mut recorded = None;
        while let Some(&(generation, offset, closed_at)) = self.closed.front() {
            if generation >= covered_before {
                break;
            }
            self.closed.pop_front();
            self.recorded_at = closed_at;
            recorded = offset.or(recorded);
        }
        recorded
    }

    /// Whether the oldest write logged and not below (`oldest_unstored`)
    /// holds the recorded offset back `max_lag` or more: time to write the
    /// logged writes below.
    pub(super) fn lagging(
        &self,
        oldest_unstored: Option<u64>,
        max_lag: Duration,
        now: Instant,
    ) -> bool {
        oldest_unstored.is_some() && now.duration_since(self.recorded_at) >= max_lag
    }

    /// The offset of the last commit when nothing was logged or taken
    /// since: the store closes clean, and what it logged may go below with
    /// that offset.
    pub(super) fn closing_offset(&self) -> Option<i64> {
        if self.touched {
            return None;
        }
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_moves_past_a_generation_once_its_writes_are_below_or_expired() {
        let t0 = Instant::now();
        let mut offsets = LoggedOffsets::new(t0);
        // Generation 0 logs writes that stay unstored.
        assert_eq!(offsets.generation(), 0);
        assert_eq!(offsets.commit(Some(10), Some(0), t0), None);
        // Generation 1: still the writes of 0 unstored.
        assert_eq!(offsets.commit(Some(20), Some(0), t0), None);
        // The writes of 0 expired; those of 1 not.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(offsets.commit(Some(30), Some(1), t1), Some(10));
        assert!(offsets.lagging(Some(1), Duration::from_secs(1), t1));
        assert!(!offsets.lagging(None, Duration::ZERO, t1));
        // Nothing new reached: the last offset stands for generation 3.
        assert_eq!(offsets.commit(None, Some(3), t1), Some(30));
        // Everything below: the newest.
        let t2 = t1 + Duration::from_secs(5);
        assert_eq!(offsets.commit(Some(40), None, t2), Some(40));
        assert!(!offsets.lagging(Some(5), Duration::from_secs(1), t2));
        assert_eq!(offsets.commit(None, None, t2), Some(40));
    }

    #[test]
    fn a_store_closes_clean_only_when_untouched_since_a_commit() {
        let t0 = Instant::now();
        let mut offsets = LoggedOffsets::new(t0);
        assert_eq!(offsets.closing_offset(), None);
        offsets.touch();
        offsets.commit(Some(7), Some(0), t0);
        assert_eq!(offsets.closing_offset(), Some(7));
        offsets.touch();
        assert_eq!(offsets.closing_offset(), None);
    }
}
