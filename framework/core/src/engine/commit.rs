//! The commit protocol, the same for at-least-once and exactly-once: flush
//! -> prepare -> output acknowledged -> commit through the port -> post-commit.

use super::{failed, CommitOutcome, PortError, Ports, TaskManager, FATAL_COMMIT_FAILURES_FOR_MS};
use crate::error::ErrorKind;
use crate::record::{OffsetAndMetadata, TopicPartition};
use crate::task::TaskId;

impl TaskManager {
    /// Calls `flush` on every processor of `only` tasks (or of all), so what
    /// they hold back (the DSL's cached table updates) is forwarded. The
    /// first step of [`commit`](Self::commit); the test driver also calls it
    /// on its own to process what flushing forwards before it commits.
    pub fn flush_processors<P: Ports>(
        &mut self,
        ports: &mut P,
        only: Option<&[TaskId]>,
    ) -> Result<(), P::Error> {
        for (id, task) in self.tasks.iter_mut() {
            if only.is_some_and(|ids| !ids.contains(id)) {
                continue;
            }
            task.flush(ports.collector())
                .map_err(failed::<P::Error>(*id))?;
        }
        Ok(())
    }

    /// Commits `only` tasks (or all): see the [protocol](super). Under
    /// exactly-once one transaction covers every task of the thread, so all
    /// of them commit whatever `only` says.
    ///
    /// An error means nothing was committed; under exactly-once the caller
    /// hands it to [`recover`](Self::recover). At-least-once offset commits
    /// that fail for a reason other than the user's mistake are retried at
    /// the next commit (the records since the last commit would only be
    /// processed again); a failure called fatal that lasts
    /// [`FATAL_COMMIT_FAILURES_FOR_MS`] is returned, and so is at once one
    /// that is the user's mistake or stopped the instance
    /// ([`PortError::stops_the_instance`]). A consumer-group error during a
    /// rebalance (fenced) is retried like any other.
    pub fn commit<P: Ports>(
        &mut self,
        ports: &mut P,
        only: Option<&[TaskId]>,
    ) -> Result<CommitOutcome, P::Error> {
        let eos = ports.is_transactional();
        let only = if eos { None } else { only };
        // 1. flush
        self.flush_processors(ports, only)?;
        // 2. prepare: stores flushed, changelog records sent, offsets collected.
        let mut offsets: Vec<(TopicPartition, OffsetAndMetadata)> = Vec::new();
        for (id, task) in self.tasks.iter_mut() {
            if only.is_some_and(|ids| !ids.contains(id)) {
                continue;
            }
            let prepared = task
                .prepare_commit(ports.collector())
                .map_err(failed::<P::Error>(*id))?;
            // Every partition of the task carries its processor metadata.
            let metadata = task.commit_metadata();
            for (tp, offset) in prepared {
                let offset = OffsetAndMetadata {
                    offset,
                    metadata: metadata.clone(),
                };
                if eos && self.committed.get(&tp) == Some(&offset) {
                    continue;
                }
                offsets.push((tp, offset));
            }
        }
        // 3. every record sent so far is acknowledged.
        ports.flush()?;
        // 4. commit through the port.
        let mut outcome = CommitOutcome::default();
        if !offsets.is_empty() || ports.in_transaction() {
            match ports.commit(&offsets) {
                Ok(()) => {
                    self.commit_failing_since = None;
                    outcome = CommitOutcome {
                        partitions: offsets.len(),
                        committed: true,
                    };
                    if eos {
                        self.committed.extend(offsets);
                    }
                }
                Err(e) if eos || e.kind() == ErrorKind::User || e.stops_the_instance() => {
                    return Err(e)
                }
                Err(e) => {
                    // No post-commit: the stores record no changelog offset
                    // (see below) until a commit succeeds.
                    self.offset_commit_failed(ports.now_ms(), e)?;
                    return Ok(outcome);
                }
            }
        }
        // 5. post-commit: changelog offsets reached; held-back writes written
        // down. Only after the offsets committed: an instance whose commit
        // failed may no longer own its tasks (fenced after a broker restart,
        // say), and its producer's last acknowledged changelog offset may
        // then be past records the new owner wrote in between, which its
        // stores do not hold; recorded, restoration would skip them (as
        // Kafka Streams, which writes no checkpoint after a failed commit).
        for (id, task) in self.tasks.iter_mut() {
            if only.is_some_and(|ids| !ids.contains(id)) {
                continue;
            }
            task.post_commit(&|tp| ports.changelog_offset(tp))
                .map_err(failed::<P::Error>(*id))?;
        }
        Ok(outcome)
    }

    /// At-least-once: an offset commit failed (a rebalance, a broker away, a
    /// coordinator moving). Nothing is lost: the records since the last
    /// successful commit are processed again. Gives up on errors called
    /// fatal once they have lasted [`FATAL_COMMIT_FAILURES_FOR_MS`].
    fn offset_commit_failed<E: PortError>(&mut self, now: i64, e: E) -> Result<(), E> {
        let since = *self.commit_failing_since.get_or_insert(now);
        if e.kind() == ErrorKind::Fatal && now - since >= FATAL_COMMIT_FAILURES_FOR_MS {
            return Err(e);
        }
        tracing::warn!(error = %e, kind = %e.kind(), "offset commit failed; will retry at the next commit");
        Ok(())
    }
}
