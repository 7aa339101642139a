//! The recent windows of a window store that retains duplicates (the
//! stores of stream-stream joins), held in memory: what they write waits
//! there until the commit, and what they read comes from there when it
//! holds every window of the times read.

use std::borrow::Borrow;
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;
use std::time::{Duration, Instant};

use super::bytes::WriteBatch;
use super::overlay::OverlayEntries;
use super::segments;

/// The puts between two looks at the clock for the next tick (see
/// [`RecentWindows::tick`]): reading it at every put took 2% of a join's
/// time.
const PUTS_PER_CLOCK_READ: u32 = 32;

/// Bytes charged per held window on top of its key and value: its share
/// of the map's node and its allocation's header, roughly.
const ENTRY_OVERHEAD: usize = 64;

/// Where a held window is besides here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Nowhere yet: put in tick `tick`.
    Dirty { tick: u64 },
    /// In the changelog, logged ahead in commit generation `generation`
    /// (see `LoggedOffsets`), and not below.
    Logged { generation: u64 },
    /// In the changelog and below.
    Stored,
}

/// One held window: its stored key and value in one allocation (the key
/// first), and its [`Stage`]. The set orders and looks windows up by the
/// stored key alone, so a put is one search ([`BTreeSet::replace`])
/// whether or not the window was held. (A key and a value of their own
/// took a third more memory: the join benchmark holds some 70,000 windows
/// of about 40 bytes.)
#[derive(Debug)]
struct Window {
    bytes: Box<[u8]>,
    key_len: usize,
    /// A take-down moves it on through the set's shared reference; it
    /// takes no part in the order.
    stage: Cell<Stage>,
}

impl Window {
    /// The window `raw` (a stored key) holding `value`, put in `tick`,
    /// dirty.
    fn new(raw: Vec<u8>, value: &[u8], tick: u64) -> Self {
        let key_len = raw.len();
        let mut bytes = raw;
        bytes.reserve_exact(value.len());
        bytes.extend_from_slice(value);
        Window {
            bytes: bytes.into_boxed_slice(),
            key_len,
            stage: Cell::new(Stage::Dirty { tick }),
        }
    }

    fn key(&self) -> &[u8] {
        &self.bytes[..self.key_len]
    }

    fn value(&self) -> &[u8] {
        &self.bytes[self.key_len..]
    }

    /// What the window is charged.
    fn size(&self) -> usize {
        self.bytes.len() + ENTRY_OVERHEAD
    }
}

impl Borrow<[u8]> for Window {
    fn borrow(&self) -> &[u8] {
        self.key()
    }
}

impl PartialEq for Window {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Window {}

impl PartialOrd for Window {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Window {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(other.key())
    }
}

/// The windows a store put recently, by stored key (`segment | key | start
/// | seq`, the order of the store below), within a bound of bytes.
///
/// - A put is held *dirty*: neither the store below nor its changelog has
///   it. [`take_dirty`](Self::take_dirty) (at each commit) returns the
///   dirty windows still live as one batch for the changelog, and marks
///   them *logged* in the commit's generation (or *stored*, for a stack
///   that logs and writes at once); [`take_logged`](Self::take_logged)
///   returns the logged ones as one batch for the store below, and marks
///   them stored. Both forget every expired window, whatever its stage: a
///   window that expired before the commit is never change-logged, and one
///   that expired before a write-down never reaches the store below, which
///   reads and restoration cannot tell apart from writing it and expiring
///   it (reads skip expired times, and restoration drops them).
/// - Between commits, [`take_dirty_aged`](Self::take_dirty_aged) returns
///   the dirty windows held for at least a *tick* (a wall-clock period the
///   caller chooses, see [`tick`](Self::tick)): a commit then logs only the
///   last tick or two of puts, not a whole commit interval's at once (a
///   pause for the records behind it). A store that reads a backlog (its
///   stream time moving many times faster than the clock) still logs
///   little: its windows mostly expire within a tick.
/// - Past the bound of bytes, the store writes every window below, and
///   [`shed_past_bound`](Self::shed_past_bound) forgets the oldest.
/// - `covered_from`: every window of the store starting at or after it is
///   held here, so a read of those times needs nothing from below. A store
///   that opens empty holds all of its windows; one that opens with data
///   (reopened, or restored) holds those after its newest segment; when
///   the bytes pass the bound, the oldest windows are forgotten and the
///   bound moves up past them.
#[derive(Debug)]
pub(super) struct RecentWindows {
    held: BTreeSet<Window>,
    bytes: usize,
    max_bytes: usize,
    covered_from: i64,
    /// The current tick, and when it began.
    tick: u64,
    tick_began: Instant,
    /// The puts since the clock was last read.
    puts_unclocked: u32,
    /// The oldest generation of a window logged and not stored, as the last
    /// take-down found it.
    oldest_logged: Option<u64>,
}

fn start_of(raw: &[u8]) -> Option<i64> {
    segments::parse_window_key(raw).map(|k| k.start)
}

impl RecentWindows {
    /// Nothing held yet; windows starting at or after `covered_from` are
    /// known to be nowhere else.
    pub(super) fn new(covered_from: i64, max_bytes: usize) -> Self {
        RecentWindows {
            held: BTreeSet::new(),
            bytes: 0,
            max_bytes,
            covered_from,
            tick: 0,
            tick_began: Instant::now(),
            puts_unclocked: 0,
            oldest_logged: None,
        }
    }

    /// Whether every window starting at or after `from` is held here.
    pub(super) fn covers(&self, from: i64) -> bool {
        from >= self.covered_from
    }

    /// The store below got windows up to `until` (exclusive) some other
    /// way (restoration): reads before it must look below too.
    pub(super) fn stored_below_until(&mut self, until: i64) {
        self.covered_from = self.covered_from.max(until);
    }

    /// Holds a put, dirty.
    pub(super) fn put(&mut self, raw: Vec<u8>, value: Vec<u8>) {
        let window = Window::new(raw, &value, self.tick);
        self.bytes += window.size();
        // A window put again replaces the one held, key and value.
        if let Some(old) = self.held.replace(window) {
            self.bytes = self.bytes.saturating_sub(old.size());
        }
    }

    /// Whether the held bytes passed the bound.
    pub(super) fn over_bound(&self) -> bool {
        self.bytes > self.max_bytes
    }

    /// Starts the next tick if the current one began `period` ago or
    /// more; whether it did. Called after each put, it reads the clock only
    /// every [`PUTS_PER_CLOCK_READ`] calls.
    pub(super) fn tick(&mut self, period: Duration) -> bool {
        self.puts_unclocked += 1;
        if self.puts_unclocked < PUTS_PER_CLOCK_READ {
            return false;
        }
        self.puts_unclocked = 0;
        let now = Instant::now();
        if now.duration_since(self.tick_began) < period {
            return false;
        }
        self.tick += 1;
        self.tick_began = now;
        true
    }

    /// Forgets every window of the segments before `min_live` (dropped
    /// below by a range delete).
    pub(super) fn drop_segments_before(&mut self, min_live: i64) {
        let kept = self.held.split_off(segments::prefix(min_live).as_slice());
        let dropped = std::mem::replace(&mut self.held, kept);
        let freed: usize = dropped.iter().map(Window::size).sum();
        self.bytes = self.bytes.saturating_sub(freed);
    }

    /// The dirty windows starting at or after `first_live` as one batch
    /// (empty when there are none), now logged in `generation` (or stored,
    /// when `None`: the stack below logs and writes at once); every window
    /// starting before `first_live` is forgotten.
    pub(super) fn take_dirty(&mut self, first_live: i64, generation: Option<u64>) -> WriteBatch {
        self.take_dirty_before(first_live, u64::MAX, generation)
    }

    /// As [`take_dirty`](Self::take_dirty), but only the dirty windows put
    /// two ticks ago or before (held a whole tick at least).
    pub(super) fn take_dirty_aged(
        &mut self,
        first_live: i64,
        generation: Option<u64>,
    ) -> WriteBatch {
        self.take_dirty_before(first_live, self.tick.saturating_sub(1), generation)
    }

    /// The live dirty windows put before tick `before`, now logged in
    /// `generation` (or stored); the expired windows forgotten; the oldest
    /// generation logged and not stored noted.
    fn take_dirty_before(
        &mut self,
        first_live: i64,
        before: u64,
        generation: Option<u64>,
    ) -> WriteBatch {
        let taken = generation.map_or(Stage::Stored, |generation| Stage::Logged { generation });
        let mut batch = WriteBatch::new();
        let mut bytes = 0;
        let mut oldest: Option<u64> = None;
        self.held.retain(|window| {
            if start_of(window.key()).is_none_or(|start| start < first_live) {
                return false;
            }
            match window.stage.get() {
                Stage::Dirty { tick } if tick < before => {
                    window.stage.set(taken);
                    batch.put(window.key().to_vec(), window.value().to_vec());
                }
                _ => {}
            }
            if let Stage::Logged { generation } = window.stage.get() {
                oldest = Some(oldest.map_or(generation, |o| o.min(generation)));
            }
            bytes += window.size();
            true
        });
        self.bytes = bytes;
        self.oldest_logged = oldest;
        batch
    }

    /// The windows logged and not stored, starting at or after
    /// `first_live`, as one batch, now stored; every window starting before
    /// `first_live` is forgotten.
    pub(super) fn take_logged(&mut self, first_live: i64) -> WriteBatch {
        let mut batch = WriteBatch::new();
        let mut bytes = 0;
        self.held.retain(|window| {
            if start_of(window.key()).is_none_or(|start| start < first_live) {
                return false;
            }
            if let Stage::Logged { .. } = window.stage.get() {
                window.stage.set(Stage::Stored);
                batch.put(window.key().to_vec(), window.value().to_vec());
            }
            bytes += window.size();
            true
        });
        self.bytes = bytes;
        self.oldest_logged = None;
        batch
    }

    /// The oldest generation of a live window logged and not stored, as the
    /// last take-down found it (`None`: none).
    pub(super) fn oldest_logged(&self) -> Option<u64> {
        self.oldest_logged
    }

    /// Past the bound, forgets the oldest stored windows, down to half of
    /// it (see [`take_dirty`](Self::take_dirty) and
    /// [`take_logged`](Self::take_logged): a window not stored is kept).
    pub(super) fn shed_past_bound(&mut self) {
        if self.over_bound() {
            self.shed(self.max_bytes / 2);
        }
    }

    /// Forgets the oldest stored windows until at most `target` bytes are
    /// held (if every window is stored), and moves `covered_from` past
    /// them.
    fn shed(&mut self, target: usize) {
        let mut by_start: Vec<(i64, usize)> = self
            .held
            .iter()
            .map(|window| {
                let start = start_of(window.key()).unwrap_or(i64::MIN);
                (start, window.size())
            })
            .collect();
        by_start.sort_unstable_by_key(|&(start, _)| std::cmp::Reverse(start));
        // With nothing kept, the bound is just after the newest window:
        // every later one will be put here.
        let mut from = by_start
            .first()
            .map_or(i64::MIN, |(start, _)| start.saturating_add(1));
        let mut kept = 0usize;
        for (start, bytes) in by_start {
            // The windows starting at `from` are kept whole: the bound is a time.
            if kept + bytes > target && start < from {
                break;
            }
            kept += bytes;
            from = start;
        }
        let mut bytes = 0;
        self.held.retain(|window| {
            let kept = window.stage.get() != Stage::Stored
                || start_of(window.key()).is_some_and(|start| start >= from);
            if kept {
                bytes += window.size();
            }
            kept
        });
        self.covered_from = self.covered_from.max(from);
        self.bytes = bytes;
    }

    /// The held windows with stored keys from `lower` (inclusive) to
    /// `upper`, ascending or descending.
    pub(super) fn range<'a>(
        &'a self,
        lower: &[u8],
        upper: Bound<&[u8]>,
        reverse: bool,
    ) -> OverlayEntries<'a> {
        let empty = match upper {
            Bound::Included(u) => lower > u,
            Bound::Excluded(u) => lower >= u,
            Bound::Unbounded => false,
        };
        if empty {
            return Box::new(std::iter::empty());
        }
        let bounds = (Bound::Included(lower), upper);
        let iter = self
            .held
            .range::<[u8], _>(bounds)
            .map(|window| (window.key(), Some(window.value())));
        if reverse {
            Box::new(iter.rev())
        } else {
            Box::new(iter)
        }
    }

    /// How many windows are held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn raw(start: i64, seq: u32) -> Vec<u8> {
        segments::window_key(0, b"k", start, seq)
    }

    /// A take-down of a stack that logs and writes at once: every dirty
    /// window, then the oldest forgotten past the bound.
    fn take_down(recent: &mut RecentWindows, first_live: i64) -> WriteBatch {
        let batch = recent.take_dirty(first_live, None);
        recent.shed_past_bound();
        batch
    }

    /// Calls `tick` with no period until it starts the next tick (at the
    /// call that reads the clock); whether it did.
    fn next_tick(recent: &mut RecentWindows) -> bool {
        (0..PUTS_PER_CLOCK_READ).any(|_| recent.tick(Duration::ZERO))
    }

    fn starts(recent: &RecentWindows) -> Vec<i64> {
        recent
            .range(&segments::prefix(0), Bound::Unbounded, false)
            .map(|(k, _)| start_of(k).unwrap())
            .collect()
    }

    #[test]
    fn past_the_bound_the_oldest_windows_go_and_the_covered_times_move_up() {
        // Each window is charged its 21-byte key (8 of segment, 1 of key,
        // 12 of start and sequence number), 8 of value and 64.
        let mut recent = RecentWindows::new(i64::MIN, 4 * 93);
        for (i, start) in [10, 20, 20, 30, 40].into_iter().enumerate() {
            recent.put(raw(start, i as u32), vec![1; 8]);
        }
        assert!(recent.over_bound());
        assert!(recent.covers(0));
        let batch = take_down(&mut recent, 0);
        assert_eq!(batch.len(), 5, "every dirty window is written first");
        // Down to half the bound: 2 windows, the newest; both windows at 20
        // go together (the bound is a time), so only 30 and 40 stay.
        assert_eq!(starts(&recent), [30, 40]);
        assert!(!recent.covers(29));
        assert!(recent.covers(30));
        // A put again later is held and written at the next take-down.
        recent.put(raw(50, 9), vec![2; 8]);
        assert_eq!(take_down(&mut recent, 0).len(), 1);
        assert_eq!(recent.len(), 3);
    }

    #[test]
    fn a_window_put_again_replaces_the_held_one_and_its_charge() {
        // One window of a 21-byte key and 8 bytes of value is charged 93.
        let mut recent = RecentWindows::new(i64::MIN, 93);
        recent.put(raw(5, 0), vec![1; 8]);
        recent.put(raw(5, 0), vec![2; 8]);
        assert!(!recent.over_bound(), "charged once");
        assert_eq!(recent.len(), 1);
        let held: Vec<_> = recent
            .range(&segments::prefix(0), Bound::Unbounded, false)
            .map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
            .collect();
        assert_eq!(held, [(raw(5, 0), Some(vec![2; 8]))]);
        recent.put(raw(6, 0), vec![3; 8]);
        assert!(recent.over_bound());
    }

    #[test]
    fn everything_shed_leaves_the_times_after_the_newest_covered() {
        let mut recent = RecentWindows::new(i64::MIN, 10);
        recent.put(raw(7, 0), vec![0; 8]);
        take_down(&mut recent, 0);
        assert_eq!(recent.len(), 0);
        assert!(!recent.covers(7));
        assert!(recent.covers(8));
    }

    #[test]
    fn expired_windows_are_forgotten_dirty_or_clean_and_segments_dropped() {
        let mut recent = RecentWindows::new(i64::MIN, 1 << 20);
        recent.put(raw(5, 0), vec![0]);
        recent.put(raw(15, 0), vec![0]);
        assert_eq!(take_down(&mut recent, 10).len(), 1);
        assert_eq!(starts(&recent), [15]);
        recent.put(segments::window_key(3, b"k", 200, 0), vec![0]);
        recent.drop_segments_before(1);
        assert_eq!(recent.len(), 1);
        assert_eq!(take_down(&mut recent, 0).len(), 1);
    }

    #[test]
    fn between_commits_only_windows_held_a_whole_tick_are_taken_down() {
        let mut recent = RecentWindows::new(i64::MIN, 1 << 20);
        for _ in 0..2 * PUTS_PER_CLOCK_READ {
            assert!(!recent.tick(Duration::from_secs(60)));
        }
        recent.put(raw(5, 0), vec![0]);
        assert!(next_tick(&mut recent));
        recent.put(raw(6, 0), vec![0]);
        // Tick 1: the window of tick 0 may have been held for no time yet.
        assert_eq!(recent.take_dirty_aged(0, None).len(), 0);
        assert!(next_tick(&mut recent));
        recent.put(raw(7, 0), vec![0]);
        let aged = recent.take_dirty_aged(0, None);
        assert_eq!(aged.ops().len(), 1);
        assert_eq!(aged.ops()[0].0, raw(5, 0));
        // Expired ones are forgotten, never written.
        assert!(next_tick(&mut recent));
        assert_eq!(recent.take_dirty_aged(7, None).len(), 0);
        assert_eq!(starts(&recent), [7]);
        assert_eq!(take_down(&mut recent, 0).len(), 1);
    }

    #[test]
    fn logged_windows_wait_for_a_write_down_and_are_never_shed_before_it() {
        let mut recent = RecentWindows::new(i64::MIN, 2 * 93);
        recent.put(raw(10, 0), vec![1; 8]);
        recent.put(raw(20, 1), vec![1; 8]);
        assert_eq!(recent.take_dirty(0, Some(3)).len(), 2);
        assert_eq!(recent.oldest_logged(), Some(3));
        recent.put(raw(30, 2), vec![1; 8]);
        assert_eq!(recent.take_dirty(0, Some(4)).len(), 1);
        assert_eq!(recent.oldest_logged(), Some(3), "the oldest generation");
        // Over the bound, but nothing stored: nothing is forgotten.
        assert!(recent.over_bound());
        recent.shed_past_bound();
        assert_eq!(starts(&recent), [10, 20, 30]);
        // The window at 10 expires: the oldest logged is 4's at the next pass.
        assert_eq!(recent.take_dirty(15, Some(5)).len(), 0);
        assert_eq!(recent.oldest_logged(), Some(3));
        assert_eq!(recent.take_dirty(21, Some(5)).len(), 0);
        assert_eq!(recent.oldest_logged(), Some(4));
        assert_eq!(recent.take_logged(0).len(), 1);
        assert_eq!(recent.oldest_logged(), None);
        assert_eq!(recent.take_logged(0).len(), 0, "stored once");
        recent.put(raw(40, 3), vec![1; 8]);
        recent.put(raw(50, 4), vec![1; 8]);
        assert_eq!(recent.take_dirty(0, None).len(), 2);
        recent.shed_past_bound();
        assert_eq!(starts(&recent), [50]);
    }

    #[test]
    fn restored_windows_below_uncover_their_times() {
        let mut recent = RecentWindows::new(i64::MIN, 1 << 20);
        recent.stored_below_until(60_000);
        assert!(!recent.covers(59_999));
        assert!(recent.covers(60_000));
        recent.stored_below_until(10);
        assert!(!recent.covers(59_999));
    }
}
