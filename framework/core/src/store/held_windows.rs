//! The windows a window store that retains duplicates (a stream-stream
//! join's) holds in memory, and when they reach the changelog and the
//! store below.

use std::time::{Duration, Instant};

use super::bytes::KeyValueBytesStore;
use super::logged_offsets::LoggedOffsets;
use super::packed_windows::Packer;
use super::recent_windows::RecentWindows;
use crate::error::Result;

/// The bytes a store that retains duplicates may hold in memory.
const MAX_BYTES: usize = 2 << 20;

/// The tick: between commits, a put is logged once held for a whole tick
/// (see [`RecentWindows`]).
const TICK: Duration = Duration::from_millis(100);

/// How long the windows logged ahead of the store below may hold back the
/// changelog offset it records (see [`LoggedOffsets`]): what restoration
/// after a crash replays at most, beyond the windows still live.
const MAX_LAG: Duration = Duration::from_secs(10);

/// When [`HeldWindows::write_down`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriteDown {
    /// A tick passed between commits: log the windows held a whole tick.
    Aged,
    /// The commit's flush: log every dirty window, and write the logged
    /// ones below if the offset below would lag too far, or past the bound.
    Commit,
    /// Past the bound: log every window, write it below, forget the oldest.
    Full,
}

/// The recent windows of a store that retains duplicates (see
/// [`MeteredWindowStore`](super::MeteredWindowStore)), and what of them the
/// changelog and the store below have: every write-down takes the bytes
/// stack below as `inner`.
#[derive(Debug)]
pub(super) struct HeldWindows {
    recent: RecentWindows,
    /// Whether the stack below logs windows ahead of writing them
    /// ([`KeyValueBytesStore::logs_ahead`]).
    logs_ahead: bool,
    /// The changelog offset the store below may record, when it logs ahead.
    logged: LoggedOffsets,
    /// How far behind that offset may lag ([`MAX_LAG`]).
    max_lag: Duration,
    /// Packs what is logged ahead many windows to a changelog record.
    packer: Packer,
}

impl HeldWindows {
    /// Nothing held; windows starting at or after `covered_from` are known
    /// to be nowhere else; `inner` is the stack below.
    pub(super) fn new(covered_from: i64, inner: &dyn KeyValueBytesStore) -> Self {
        HeldWindows {
            recent: RecentWindows::new(covered_from, MAX_BYTES),
            logs_ahead: inner.logs_ahead(),
            logged: LoggedOffsets::new(Instant::now()),
            max_lag: MAX_LAG,
            packer: Packer::new(),
        }
    }

    /// These windows, written below once they would hold the recorded
    /// changelog offset back `max_lag`.
    #[cfg(test)]
    pub(super) fn with_max_lag(mut self, max_lag: Duration) -> Self {
        self.max_lag = max_lag;
        self
    }

    /// The windows held.
    pub(super) fn recent(&self) -> &RecentWindows {
        &self.recent
    }

    /// The windows held, to drop segments or uncover restored times.
    pub(super) fn recent_mut(&mut self) -> &mut RecentWindows {
        &mut self.recent
    }

    /// The store took a write (a range delete of expired segments below,
    /// say) since the last commit.
    pub(super) fn touch(&mut self) {
        self.logged.touch();
    }

    /// Holds a put (`raw`, a stored key, holding `value`); past the bound,
    /// writes every window below, and at a new tick logs those held a whole
    /// tick. `first_live`: the start of the first live window.
    pub(super) fn put(
        &mut self,
        raw: Vec<u8>,
        value: Vec<u8>,
        first_live: i64,
        inner: &mut dyn KeyValueBytesStore,
    ) -> Result<()> {
        self.recent.put(raw, value);
        self.logged.touch();
        if self.recent.over_bound() {
            self.write_down(WriteDown::Full, first_live, inner)
        } else if self.recent.tick(TICK) {
            self.write_down(WriteDown::Aged, first_live, inner)
        } else {
            Ok(())
        }
    }

    /// Logs the windows not logged yet and still live (only those held a
    /// whole tick when `Aged`), and writes the logged ones below when
    /// `Full`, or when the commit's flush finds it due.
    pub(super) fn write_down(
        &mut self,
        when: WriteDown,
        first_live: i64,
        inner: &mut dyn KeyValueBytesStore,
    ) -> Result<()> {
        let recent = &mut self.recent;
        let generation = self.logs_ahead.then(|| self.logged.generation());
        let dirty = if when == WriteDown::Aged {
            recent.take_dirty_aged(first_live, generation)
        } else {
            recent.take_dirty(first_live, generation)
        };
        if !dirty.is_empty() {
            if self.logs_ahead {
                inner.log_ahead(self.packer.pack(dirty))?;
            } else {
                inner.write(dirty)?;
            }
        }
        let full = match when {
            WriteDown::Aged => false,
            WriteDown::Commit => {
                recent.over_bound()
                    || self
                        .logged
                        .lagging(recent.oldest_logged(), self.max_lag, Instant::now())
            }
            WriteDown::Full => true,
        };
        if full {
            let logged = recent.take_logged(first_live);
            if !logged.is_empty() {
                inner.write_logged(logged)?;
            }
            recent.shed_past_bound();
        }
        Ok(())
    }

    /// The changelog offset the store below may record at a commit that
    /// reached `changelog_offset`: that one, unless windows logged ahead
    /// are not below yet (see [`LoggedOffsets::commit`]).
    pub(super) fn commit_offset(&mut self, changelog_offset: Option<i64>) -> Option<i64> {
        if !self.logs_ahead {
            return changelog_offset;
        }
        let oldest = self.recent.oldest_logged();
        self.logged.commit(changelog_offset, oldest, Instant::now())
    }

    /// At a close after a commit, with nothing put since: writes the
    /// logged windows below with the offset that commit reached, so the
    /// store opens again with nothing to replay.
    pub(super) fn write_down_to_close(
        &mut self,
        first_live: i64,
        inner: &mut dyn KeyValueBytesStore,
    ) -> Result<()> {
        let Some(offset) = self.logged.closing_offset().filter(|_| self.logs_ahead) else {
            return Ok(());
        };
        let logged = self.recent.take_logged(first_live);
        if logged.is_empty() {
            return Ok(());
        }
        inner.write_logged(logged)?;
        inner.commit(Some(offset))
    }
}
