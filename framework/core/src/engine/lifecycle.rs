//! Tasks coming and going: assignment, restoration hand-off, revocation
//! (clean or lost), the exactly-once reset, and closing.

use std::sync::Arc;

use super::{failed, PortError, Ports, TaskManager};
use crate::error::{Error, ErrorKind};
use crate::record::TopicPartition;
use crate::store::ThreadCache;
use crate::task::{Task, TaskId};

impl TaskManager {
    /// Creates the tasks for newly assigned `partitions`. A task whose
    /// stores are behind their changelogs goes to restoration, its input
    /// partitions paused until [`restore`](Self::restore) hands it back; the
    /// others start at once. A partition the topology does not read is an error.
    pub fn assign<P: Ports>(
        &mut self,
        ports: &mut P,
        partitions: &[TopicPartition],
    ) -> Result<(), P::Error> {
        for tp in partitions {
            let Some(id) = self.task_id_reading(tp) else {
                return Err(P::Error::from(super::TaskFailure {
                    task: TaskId::new(u32::MAX, tp.partition),
                    source: Error::Topology(format!(
                        "assigned partition {tp} is not read by the topology"
                    )),
                }));
            };
            if self.tasks.contains_key(&id) || ports.is_restoring_task(id) {
                continue;
            }
            let mut config = self.config.clone();
            let cache = self
                .thread_cache
                .get_or_insert_with(|| ThreadCache::new(config.cache_max_bytes));
            config.thread_cache = Some(Arc::clone(cache));
            let task = self
                .topology
                .create_task(id, config)
                .map_err(failed::<P::Error>(id))?;
            let inputs = task.input_partitions();
            match ports.start_restore(task)? {
                Some(task) => self.start_task(ports, task)?,
                None => {
                    ports.pause(&inputs)?;
                    tracing::info!(task = %id, "task created; restoring its stores");
                }
            }
        }
        Ok(())
    }

    /// Initializes `task` (with the processor metadata committed with its
    /// offsets) and makes it active.
    fn start_task<P: Ports>(&mut self, ports: &mut P, mut task: Task) -> Result<(), P::Error> {
        let id = task.id();
        let committed = ports.committed_metadata(&task.input_partitions())?;
        task.restore_processor_metadata(&committed);
        let now = ports.now_ms();
        task.init(ports.collector(), &FixedClock(now))
            .map_err(failed::<P::Error>(id))?;
        tracing::info!(task = %id, "task created");
        self.tasks.insert(id, task);
        Ok(())
    }

    /// Restores for up to `budget_ms`, then starts the tasks whose stores
    /// are up to date: their input partitions are rewound to the committed
    /// offsets (records fetched for them meanwhile were dropped) and
    /// resumed. Returns how many tasks started.
    pub fn restore<P: Ports>(&mut self, ports: &mut P, budget_ms: u64) -> Result<usize, P::Error> {
        let ready = ports.poll_restore(budget_ms)?;
        let started = ready.len();
        for task in ready {
            let inputs = task.input_partitions();
            ports.rewind_to_committed(&inputs)?;
            ports.resume(&inputs)?;
            self.start_task(ports, task)?;
        }
        Ok(started)
    }

    /// Revokes `partitions`: the tasks reading them commit, then close.
    /// With `lost` the partitions already belong to someone else: nothing
    /// is committed (their records are processed again there).
    ///
    /// Under exactly-once one transaction covers every task of the thread,
    /// so all of them commit; when the partitions were lost or the commit
    /// fails, the transaction is aborted instead, the revoked tasks close
    /// dirty and [`needs_reset`](Self::needs_reset) tells the thread to reset
    /// the others. An at-least-once commit failure is returned once the
    /// tasks are closed.
    pub fn revoke<P: Ports>(
        &mut self,
        ports: &mut P,
        partitions: &[TopicPartition],
        lost: bool,
    ) -> Result<(), P::Error> {
        for mut task in ports.stop_restore(Some(partitions)) {
            // Never started: nothing to commit; what was restored stays in the store.
            if let Err(e) = task.close_dirty() {
                tracing::warn!(task = %task.id(), error = %e, "error while closing a restoring task");
            }
        }
        let ids: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.input_partitions().iter().any(|p| partitions.contains(p)))
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let eos = ports.is_transactional();
        let committed = if lost {
            tracing::warn!(
                tasks = ids.len(),
                "partitions lost; closing tasks without commit"
            );
            None
        } else {
            Some(self.commit(ports, Some(&ids)))
        };
        let mut alos_error = None;
        let clean = match committed {
            Some(Ok(_)) => true,
            Some(Err(e)) if !eos => {
                alos_error = Some(e);
                true
            }
            None if !eos => true,
            failure => {
                let kind = match &failure {
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "commit on revocation failed; aborting");
                        e.kind()
                    }
                    _ => ErrorKind::Retriable,
                };
                ports.abort(kind)?;
                self.needs_reset = true;
                false
            }
        };
        for id in ids {
            if let Some(mut task) = self.tasks.remove(&id) {
                let closed = if clean {
                    task.close(ports.collector())
                } else {
                    task.close_dirty()
                };
                if let Err(e) = closed {
                    tracing::warn!(task = %id, error = %e, "error while closing task");
                }
                tracing::info!(task = %id, clean, "task closed");
            }
        }
        for tp in partitions {
            self.committed.remove(tp);
        }
        self.resume_paused(ports, partitions);
        self.commit_closing_output(ports, eos && clean)?;
        match alos_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Makes what closing processors wrote durable: under exactly-once (when
    /// the tasks closed clean) it commits in one more transaction, aborted
    /// if that fails; at-least-once it is flushed.
    fn commit_closing_output<P: Ports>(
        &mut self,
        ports: &mut P,
        transactional: bool,
    ) -> Result<(), P::Error> {
        if ports.is_transactional() {
            if transactional && ports.in_transaction() {
                if let Err(e) = ports.commit(&[]) {
                    tracing::warn!(error = %e, "output written while closing tasks was not committed");
                    ports.abort(e.kind())?;
                    self.needs_reset = true;
                }
            }
        } else if let Err(e) = ports.flush() {
            tracing::warn!(error = %e, "output written while closing tasks could not be flushed");
        }
        Ok(())
    }

    /// Resumes those of `partitions` paused for back-pressure: a paused
    /// partition stays paused across a reassignment.
    fn resume_paused<P: Ports>(&mut self, ports: &mut P, partitions: &[TopicPartition]) {
        let resume: Vec<TopicPartition> = partitions
            .iter()
            .filter(|tp| {
                self.fetch_paused.remove(*tp);
                self.relieved.remove(*tp);
                self.paused.remove(*tp)
            })
            .cloned()
            .collect();
        if !resume.is_empty() {
            if let Err(e) = ports.resume(&resume) {
                tracing::warn!(error = %e, "resuming partitions failed");
            }
        }
    }

    /// Exactly-once, after an aborted transaction (or a replaced producer):
    /// drops every task without committing, so their state since the last
    /// commit is discarded, rewinds `assignment` to the committed offsets and
    /// creates the tasks again (restoring their stores from the changelogs).
    /// Nothing processed since the last commit is lost: it is processed again.
    pub fn reset<P: Ports>(
        &mut self,
        ports: &mut P,
        assignment: &[TopicPartition],
    ) -> Result<(), P::Error> {
        self.needs_reset = false;
        self.committed.clear();
        self.close_dirty(ports);
        self.resume_paused(ports, assignment);
        if assignment.is_empty() {
            return Ok(());
        }
        ports.rewind_to_committed(assignment)?;
        tracing::warn!(
            partitions = assignment.len(),
            "exactly-once: tasks reset to the last commit; processing again from there"
        );
        self.assign(ports, assignment)
    }

    /// After `error` stopped a round or a commit: under exactly-once, when
    /// the error is one a transaction abort handles (see
    /// [`PortError::aborts_transaction`]), aborts and marks the tasks for a
    /// [`reset`](Self::reset); otherwise returns the error.
    pub fn recover<P: Ports>(&mut self, ports: &mut P, error: P::Error) -> Result<(), P::Error> {
        if !ports.is_transactional() || !error.aborts_transaction() {
            return Err(error);
        }
        tracing::warn!(error = %error, "exactly-once: transaction failed; aborting");
        ports.abort(error.kind())?;
        self.needs_reset = true;
        Ok(())
    }

    /// Drops every task (restoring ones too) without flushing or committing
    /// anything: their state since the last commit is discarded.
    pub fn close_dirty<P: Ports>(&mut self, ports: &mut P) {
        let restoring = ports.stop_restore(None);
        // Their inputs were paused while they restored: a task created again
        // for them may need no restoration, and nothing else resumes them.
        for task in &restoring {
            if let Err(e) = ports.resume(&task.input_partitions()) {
                tracing::warn!(task = %task.id(), error = %e, "resuming a restoring task's input failed");
            }
        }
        let tasks = std::mem::take(&mut self.tasks)
            .into_values()
            .chain(restoring);
        for mut task in tasks {
            if let Err(e) = task.close_dirty() {
                tracing::warn!(task = %task.id(), error = %e, "error while closing task");
            }
        }
    }

    /// Shuts the thread's tasks down. With `commit_first` (the thread stops
    /// cleanly, or after an error that left its work committable) the tasks
    /// commit, then close and what closing wrote is made durable; otherwise,
    /// or when that commit fails, exactly-once aborts the open transaction
    /// and the tasks close dirty (a restart processes again from the last
    /// commit), while at-least-once closes the tasks anyway. Returns the
    /// commit's error.
    pub fn close<P: Ports>(&mut self, ports: &mut P, commit_first: bool) -> Result<(), P::Error> {
        let eos = ports.is_transactional();
        let committed = if commit_first {
            self.commit(ports, None).map(|_| ())
        } else {
            Ok(())
        };
        let clean = commit_first && committed.is_ok();
        if eos && !clean {
            if let Err(abort) = ports.abort_on_close() {
                tracing::warn!(error = %abort, "abort failed; the broker aborts the transaction when it times out");
            }
            self.close_dirty(ports);
            return committed;
        }
        for mut task in ports.stop_restore(None) {
            if let Err(e) = task.close_dirty() {
                tracing::warn!(task = %task.id(), error = %e, "error while closing a restoring task");
            }
        }
        for (id, mut task) in std::mem::take(&mut self.tasks) {
            if let Err(e) = task.close(ports.collector()) {
                tracing::warn!(task = %id, error = %e, "error while closing task");
            }
        }
        if let Err(e) = self.commit_closing_output(ports, true) {
            tracing::warn!(error = %e, "output written while closing could not be committed");
        }
        committed
    }
}

/// A clock stopped at one reading: one reading per round is fine grain
/// enough for punctuation and idling.
pub(super) struct FixedClock(pub(super) i64);

impl crate::collector::Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0
    }
}
