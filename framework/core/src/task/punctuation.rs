//! Punctuation schedules of a task, by stream time and by wall-clock time.

use crate::processor::{PunctuationType, ScheduleId};

#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub(crate) id: ScheduleId,
    pub(crate) node: usize,
    pub(crate) kind: PunctuationType,
    pub(crate) interval: i64,
    /// The next time (of its clock) at or after which it fires.
    pub(crate) next: i64,
}

#[derive(Debug, Default)]
pub(crate) struct Schedules {
    next_id: u64,
    list: Vec<Schedule>,
}

impl Schedules {
    /// Stream-time schedules are aligned to 0 and fire as soon as there is a
    /// stream time; wall-clock schedules first fire one interval from `now`.
    pub(crate) fn add(
        &mut self,
        node: usize,
        kind: PunctuationType,
        interval: i64,
        now: i64,
    ) -> ScheduleId {
        let id = ScheduleId(self.next_id);
        self.next_id += 1;
        let next = match kind {
            PunctuationType::StreamTime => 0,
            PunctuationType::WallClockTime => now.saturating_add(interval),
        };
        self.list.push(Schedule {
            id,
            node,
            kind,
            interval,
            next,
        });
        id
    }

    pub(crate) fn cancel(&mut self, id: ScheduleId) {
        self.list.retain(|s| s.id != id);
    }

    pub(crate) fn cancel_node(&mut self, node: usize) {
        self.list.retain(|s| s.node != node);
    }

    pub(crate) fn is_active(&self, id: ScheduleId) -> bool {
        self.list.iter().any(|s| s.id == id)
    }

    /// The schedules of `kind` due at `time`, each advanced past `time` (missed
    /// intervals fire once, not once each). In schedule order.
    pub(crate) fn take_due(&mut self, kind: PunctuationType, time: i64) -> Vec<Schedule> {
        let mut due = Vec::new();
        for s in self.list.iter_mut().filter(|s| s.kind == kind) {
            if s.next <= time {
                due.push(s.clone());
                let missed = (time - s.next) / s.interval;
                s.next = s
                    .next
                    .saturating_add((missed + 1).saturating_mul(s.interval));
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_time_fires_once_for_missed_intervals_and_aligns() {
        let mut s = Schedules::default();
        s.add(0, PunctuationType::StreamTime, 100, 0);
        assert_eq!(s.take_due(PunctuationType::StreamTime, 1050).len(), 1);
        assert!(s.take_due(PunctuationType::StreamTime, 1099).is_empty());
        assert_eq!(s.take_due(PunctuationType::StreamTime, 1100).len(), 1);
        assert!(s.take_due(PunctuationType::WallClockTime, 5000).is_empty());
    }

    #[test]
    fn wall_clock_first_fires_one_interval_after_scheduling() {
        let mut s = Schedules::default();
        let id = s.add(3, PunctuationType::WallClockTime, 10, 1000);
        assert!(s.take_due(PunctuationType::WallClockTime, 1009).is_empty());
        let due = s.take_due(PunctuationType::WallClockTime, 1010);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].node, 3);
        s.cancel(id);
        assert!(!s.is_active(id));
        assert!(s.take_due(PunctuationType::WallClockTime, 9999).is_empty());
    }
}
