//! The application's lifecycle state, its listener, and runtime counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use weir_core::handler::ErrorCounts;

/// The state of a running application (Kafka Streams' `KafkaStreams.State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Built, not started.
    Created,
    /// Some stream thread is between losing and receiving partitions, or
    /// restoring the stores of tasks it received.
    Rebalancing,
    /// Every stream thread has its partitions, its stores restored, and processes.
    Running,
    /// Closing: final commits, then the clients close.
    PendingShutdown,
    /// Closed cleanly.
    NotRunning,
    /// Stopped by an error; see the error returned by `close`/`wait`.
    Error,
}

/// Called with `(new, old)` on every state change. Keep it quick: it runs on
/// the thread that changed the state.
pub type StateListener = Arc<dyn Fn(State, State) + Send + Sync>;

/// Counters of a running application, ready for a metrics endpoint.
#[derive(Debug)]
pub struct Metrics {
    pub(crate) records_processed: AtomicU64,
    pub(crate) records_sent: AtomicU64,
    pub(crate) commits: AtomicU64,
    pub(crate) commit_latency_us_total: AtomicU64,
    pub(crate) commit_latency_us_max: AtomicU64,
    pub(crate) rebalances: AtomicU64,
    pub(crate) restored_records: AtomicU64,
    pub(crate) restore_us_total: AtomicU64,
    pub(crate) aborts: AtomicU64,
    pub(crate) buffered: Vec<AtomicU64>,
    pub(crate) dropped: Vec<AtomicU64>,
    pub(crate) lag: Vec<AtomicU64>,
    /// Per stream thread: what the error handlers of its running tasks
    /// skipped and dead-lettered.
    pub(crate) errors: Vec<Mutex<ErrorCounts>>,
    /// Since start: the global thread's skipped and dead-lettered records,
    /// and production failures reported by delivery callbacks.
    pub(crate) errors_outside_tasks: Arc<Mutex<ErrorCounts>>,
}

/// A point-in-time copy of [`Metrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricsSnapshot {
    /// Records processed by all tasks.
    pub records_processed: u64,
    /// Records written (output, repartition).
    pub records_sent: u64,
    /// Offset commits done.
    pub commits: u64,
    /// Total time spent committing, in microseconds (flush + offset commit).
    pub commit_latency_us_total: u64,
    /// Longest single commit, in microseconds.
    pub commit_latency_us_max: u64,
    /// Partition assignments received.
    pub rebalances: u64,
    /// Records applied to stores from their changelogs.
    pub restored_records: u64,
    /// Time spent restoring, in microseconds (restore rate =
    /// `restored_records / restore_us_total`).
    pub restore_us_total: u64,
    /// Exactly-once: transactions aborted (and tasks reset to the last commit).
    pub aborts: u64,
    /// Records fetched but not yet processed, over all stream threads.
    pub buffered: u64,
    /// Records the processors of the running tasks dropped (late records
    /// for closed windows, records without a key where one is needed):
    /// Kafka Streams' `dropped-records`, summed over the tasks running now.
    pub dropped_records: u64,
    /// Records the error handlers skipped (`dropped`) and wrote to the
    /// dead-letter topic (`dead_lettered`), per reason: `deserialization`,
    /// `processing`, `production`. Summed over the tasks running now, plus,
    /// since start, the global thread's and the delivery callbacks'.
    pub errors: ErrorCounts,
    /// Lag: records in the input partitions not yet handed to the stream
    /// threads (not fetched, or fetched and still in librdkafka's queue),
    /// summed over the threads; from librdkafka's statistics, refreshed every
    /// `statistics.interval.ms` (5 s by default here). `lag + buffered` is
    /// everything not yet processed.
    pub lag: u64,
}

impl Metrics {
    pub(crate) fn new(threads: usize) -> Self {
        Metrics {
            records_processed: AtomicU64::new(0),
            records_sent: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            commit_latency_us_total: AtomicU64::new(0),
            commit_latency_us_max: AtomicU64::new(0),
            rebalances: AtomicU64::new(0),
            restored_records: AtomicU64::new(0),
            restore_us_total: AtomicU64::new(0),
            aborts: AtomicU64::new(0),
            buffered: (0..threads).map(|_| AtomicU64::new(0)).collect(),
            dropped: (0..threads).map(|_| AtomicU64::new(0)).collect(),
            lag: (0..threads).map(|_| AtomicU64::new(0)).collect(),
            errors: (0..threads)
                .map(|_| Mutex::new(ErrorCounts::default()))
                .collect(),
            errors_outside_tasks: Arc::new(Mutex::new(ErrorCounts::default())),
        }
    }

    pub(crate) fn record_restore(&self, records: u64, took: std::time::Duration) {
        self.restored_records.fetch_add(records, Ordering::Relaxed);
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.restore_us_total.fetch_add(us, Ordering::Relaxed);
    }

    pub(crate) fn set_lag(&self, thread: usize, n: u64) {
        if let Some(l) = self.lag.get(thread) {
            l.store(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn set_dropped(&self, thread: usize, n: u64) {
        if let Some(d) = self.dropped.get(thread) {
            d.store(n, Ordering::Relaxed);
        }
    }

    /// Sets what the error handlers of `thread`'s running tasks counted.
    pub(crate) fn set_errors(&self, thread: usize, counts: ErrorCounts) {
        if let Some(e) = self.errors.get(thread) {
            *e.lock().unwrap_or_else(|e| e.into_inner()) = counts;
        }
    }

    /// Adds to the counts of records failed outside the tasks (the global
    /// thread, delivery callbacks).
    pub(crate) fn add_errors(&self, update: impl FnOnce(&mut ErrorCounts)) {
        update(
            &mut self
                .errors_outside_tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
    }

    fn error_counts(&self) -> ErrorCounts {
        let mut total = *self
            .errors_outside_tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for e in &self.errors {
            total.add(&e.lock().unwrap_or_else(|e| e.into_inner()));
        }
        total
    }

    pub(crate) fn set_buffered(&self, thread: usize, n: usize) {
        if let Some(b) = self.buffered.get(thread) {
            b.store(n as u64, Ordering::Relaxed);
        }
    }

    /// A snapshot of the counters.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            records_processed: self.records_processed.load(Ordering::Relaxed),
            records_sent: self.records_sent.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            commit_latency_us_total: self.commit_latency_us_total.load(Ordering::Relaxed),
            commit_latency_us_max: self.commit_latency_us_max.load(Ordering::Relaxed),
            rebalances: self.rebalances.load(Ordering::Relaxed),
            restored_records: self.restored_records.load(Ordering::Relaxed),
            restore_us_total: self.restore_us_total.load(Ordering::Relaxed),
            aborts: self.aborts.load(Ordering::Relaxed),
            buffered: self
                .buffered
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .sum(),
            lag: self.lag.iter().map(|l| l.load(Ordering::Relaxed)).sum(),
            dropped_records: self.dropped.iter().map(|d| d.load(Ordering::Relaxed)).sum(),
            errors: self.error_counts(),
        }
    }

    pub(crate) fn record_commit(&self, micros: u64) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.commit_latency_us_total
            .fetch_add(micros, Ordering::Relaxed);
        self.commit_latency_us_max
            .fetch_max(micros, Ordering::Relaxed);
    }
}

/// The application state plus each thread's rebalancing flag.
pub(crate) struct StateMachine {
    inner: Mutex<(State, Vec<bool>)>,
    listener: Option<StateListener>,
}

impl StateMachine {
    pub(crate) fn new(threads: usize, listener: Option<StateListener>) -> Self {
        StateMachine {
            inner: Mutex::new((State::Created, vec![true; threads])),
            listener,
        }
    }

    pub(crate) fn get(&self) -> State {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    fn change(&self, guard: &mut (State, Vec<bool>), new: State) {
        let old = guard.0;
        if old == new {
            return;
        }
        // Terminal states stay; shutdown is not undone by a late rebalance.
        let allowed = match old {
            State::NotRunning | State::Error => false,
            State::PendingShutdown => matches!(new, State::NotRunning | State::Error),
            _ => true,
        };
        if !allowed {
            return;
        }
        guard.0 = new;
        tracing::info!(from = ?old, to = ?new, "application state changed");
        if let Some(listener) = &self.listener {
            listener(new, old);
        }
    }

    pub(crate) fn set(&self, new: State) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        self.change(&mut guard, new);
    }

    /// A thread starts or ends a rebalance; the application is Running when no
    /// thread is rebalancing.
    pub(crate) fn thread_rebalancing(&self, thread: usize, rebalancing: bool) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(flag) = guard.1.get_mut(thread) {
            *flag = rebalancing;
        }
        let any = guard.1.iter().any(|r| *r);
        let next = if any {
            State::Rebalancing
        } else {
            State::Running
        };
        if matches!(guard.0, State::Rebalancing | State::Running) {
            self.change(&mut guard, next);
        }
    }
}
