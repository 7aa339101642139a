//! Records in and through the tasks: routing polled records to their task,
//! process rounds, wall-clock punctuation and back-pressure.

use super::lifecycle::FixedClock;
use super::{failed, Ports, TaskFailure, TaskManager};
use crate::record::{RawRecordRef, TopicPartition};
use crate::task::{FetchLag, TaskId};

/// How long a task waits for an empty partition with records on the broker
/// not fetched before the thread pauses its partitions that have records
/// (see `TaskManager::relieve_starvation`). A fetch of a partition with
/// records takes milliseconds; a second means the partition is not being
/// fetched.
pub(crate) const STARVED_AFTER_MS: i64 = 1_000;

impl TaskManager {
    /// Queues a polled record in the task reading its partition, decoded
    /// from the borrowed bytes. Returns whether a task took it: a record of
    /// a partition revoked meanwhile (or restoring) is dropped, to be read
    /// again by its owner from the committed offset.
    pub fn add_record(&mut self, raw: RawRecordRef<'_>) -> Result<bool, TaskFailure> {
        // Records come in runs of one partition: look its task up once per run.
        let same = matches!(&self.last_route,
            Some((t, p, _)) if *p == raw.partition && t == raw.topic);
        if !same {
            let id = self
                .topology
                .subtopology_reading(raw.topic, &self.config.application_id)
                .map(|sub| TaskId::new(sub, raw.partition));
            if let Some(task) = id.and_then(|id| self.tasks.get_mut(&id)) {
                task.set_fetch_lag(
                    &TopicPartition::new(raw.topic, raw.partition),
                    FetchLag::Unknown,
                );
            }
            self.last_route = Some((raw.topic.to_string(), raw.partition, id));
        }
        let Some((_, _, Some(id))) = &self.last_route else {
            return Ok(false);
        };
        let id = *id;
        let Some(task) = self.tasks.get_mut(&id) else {
            return Ok(false);
        };
        task.add_record(raw)
            .map(|_| true)
            .map_err(|source| TaskFailure { task: id, source })
    }

    /// Tells every task that partitions with nothing queued have nothing
    /// more to fetch (a runtime that reads all there is, like the test
    /// driver), so they do not hold back processing of the others.
    pub fn mark_caught_up(&mut self) {
        self.update_fetch_lags(|_| Some(0));
    }

    /// The input partitions of every task with nothing queued.
    pub fn empty_input_partitions(&self) -> Vec<TopicPartition> {
        self.tasks
            .values()
            .flat_map(|task| {
                task.input_partitions()
                    .into_iter()
                    .filter(|tp| task.buffered(tp) == 0)
            })
            .collect()
    }

    /// After the consumer handed over everything it had fetched: tells each
    /// task, for every input partition with nothing queued, how many records
    /// its log still has beyond what was handed over (`lag`: `None` when
    /// unknown). Kafka Streams' rule (KIP-695) then holds a task back while
    /// such a partition is behind, so one input does not run ahead of another
    /// whose records are merely not fetched yet.
    pub fn update_fetch_lags(&mut self, mut lag: impl FnMut(&TopicPartition) -> Option<i64>) {
        self.last_route = None;
        for task in self.tasks.values_mut() {
            for tp in task.input_partitions() {
                if task.buffered(&tp) == 0 {
                    task.set_fetch_lag(&tp, FetchLag::of(lag(&tp)));
                }
            }
        }
    }

    /// Processes up to `budget` records, round-robin over the tasks, fires
    /// due wall-clock punctuations, then pauses partitions whose queue is
    /// full and resumes those drained to half. Returns how many records
    /// were processed.
    pub fn process<P: Ports>(&mut self, ports: &mut P, budget: usize) -> Result<usize, P::Error> {
        // The next batch's first record marks its partition as fetching again.
        self.last_route = None;
        let clock = FixedClock(ports.now_ms());
        let mut done = 0;
        let per_task = (budget / self.tasks.len().max(1)).max(1);
        loop {
            let mut progress = false;
            for (id, task) in self.tasks.iter_mut() {
                for _ in 0..per_task {
                    if !task
                        .process(ports.collector(), &clock)
                        .map_err(failed::<P::Error>(*id))?
                    {
                        break;
                    }
                    done += 1;
                    progress = true;
                }
            }
            if !progress || done >= budget {
                break;
            }
        }
        for (id, task) in self.tasks.iter_mut() {
            task.punctuate_wall_clock(ports.collector(), &clock)
                .map_err(failed::<P::Error>(*id))?;
        }
        self.apply_backpressure(ports)?;
        Ok(done)
    }

    /// Processes the next record of task `id`, if it has one it may process
    /// now. Returns whether it processed one. The test driver's step.
    pub fn process_task<P: Ports>(&mut self, ports: &mut P, id: TaskId) -> Result<bool, P::Error> {
        let clock = FixedClock(ports.now_ms());
        match self.tasks.get_mut(&id) {
            Some(task) => task
                .process(ports.collector(), &clock)
                .map_err(failed::<P::Error>(id)),
            None => Ok(false),
        }
    }

    /// Fires task `id`'s wall-clock punctuations due at the clock's time.
    /// Returns how many ran.
    pub fn punctuate_task<P: Ports>(
        &mut self,
        ports: &mut P,
        id: TaskId,
    ) -> Result<usize, P::Error> {
        let clock = FixedClock(ports.now_ms());
        match self.tasks.get_mut(&id) {
            Some(task) => task
                .punctuate_wall_clock(ports.collector(), &clock)
                .map_err(failed::<P::Error>(id)),
            None => Ok(0),
        }
    }

    /// Pauses partitions whose queue is full and resumes them once half
    /// drained; then [`relieve_starvation`](Self::relieve_starvation).
    fn apply_backpressure<P: Ports>(&mut self, ports: &mut P) -> Result<(), P::Error> {
        let mut pause = Vec::new();
        let mut resume = Vec::new();
        for task in self.tasks.values() {
            for tp in task.input_partitions() {
                let n = task.buffered(&tp);
                let paused = self.paused.contains(&tp);
                if !paused && n >= self.max_buffered {
                    pause.push(tp);
                } else if paused && n <= self.max_buffered / 2 && !self.fetch_paused.contains(&tp) {
                    resume.push(tp);
                }
            }
        }
        if !pause.is_empty() {
            tracing::debug!(partitions = ?pause, "pausing: queues full");
            ports.pause(&pause)?;
            self.paused.extend(pause);
        }
        if !resume.is_empty() {
            tracing::debug!(partitions = ?resume, "resuming: queues drained");
            ports.resume(&resume)?;
            for tp in &resume {
                self.paused.remove(tp);
            }
        }
        self.relieve_starvation(ports)
    }

    /// While a task has waited [`STARVED_AFTER_MS`] for an empty partition
    /// with records on the broker not fetched, pauses every other input
    /// partition, so that the consumer's fetches go to the starved ones
    /// only; resumes them once no task waits so.
    ///
    /// librdkafka stops fetching every partition while its consumer-wide
    /// queue is over `queued.min.messages`, and they come back in a fixed
    /// order; a fetch response carries a record batch larger than
    /// `max.partition.fetch.bytes` (as librdkafka producers write) for its
    /// first partition only. Catching up, a thread was over the threshold
    /// after every response, and a partition late in that order got nothing
    /// for as long as the earlier ones had records: a join waited for it
    /// for 30 s (the bound), then went on without it. Pausing only the
    /// partitions with records queued in the task was not enough: after
    /// every drained queue librdkafka starts its fetch at the same partition
    /// of its fixed order, so partitions empty in their task but with
    /// records on the broker, earlier in that order, still took every
    /// response (docs/benchmarks.md). A pause drops what was fetched for the
    /// partition (fetched again on resume): that is the price, paid only
    /// while a task starves; the wait for a partition that cannot be fetched
    /// at all ends at the task's bound, and with it these pauses.
    fn relieve_starvation<P: Ports>(&mut self, ports: &mut P) -> Result<(), P::Error> {
        let now = ports.now_ms();
        let starved: Vec<TopicPartition> = self
            .tasks
            .values()
            .flat_map(|t| t.starved_partitions(now, STARVED_AFTER_MS))
            .collect();
        if !starved.is_empty() {
            // Only the partitions starved in this episode are fetched: one
            // paused before it starved itself is resumed, every other one
            // paused. One starved earlier stays fetched: paused again for
            // the next, it would run dry and starve in turn, and the two
            // would take turns at a second's wait each.
            self.relieved.extend(starved.iter().cloned());
            let mut pause = Vec::new();
            let mut resume = Vec::new();
            for task in self.tasks.values() {
                for tp in task.input_partitions() {
                    if starved.contains(&tp) {
                        if self.fetch_paused.contains(&tp) {
                            resume.push(tp);
                        }
                    } else if !self.paused.contains(&tp) && !self.relieved.contains(&tp) {
                        pause.push(tp);
                    }
                }
            }
            if !resume.is_empty() {
                ports.resume(&resume)?;
                for tp in &resume {
                    self.fetch_paused.remove(tp);
                    self.paused.remove(tp);
                }
            }
            if !pause.is_empty() {
                tracing::info!(
                    starved = ?starved,
                    paused = pause.len(),
                    "partitions waited for are not fetched; pausing every other input partition"
                );
                ports.pause(&pause)?;
                self.paused.extend(pause.iter().cloned());
                self.fetch_paused.extend(pause);
            }
        } else if !self.fetch_paused.is_empty() || !self.relieved.is_empty() {
            self.relieved.clear();
            // Those whose queue is full stay paused for back-pressure.
            let mut resume = Vec::new();
            for task in self.tasks.values() {
                for tp in task.input_partitions() {
                    if self.fetch_paused.remove(&tp) && task.buffered(&tp) < self.max_buffered {
                        resume.push(tp);
                    }
                }
            }
            // Partitions no task reads any more (revoked) are forgotten.
            self.fetch_paused.clear();
            if !resume.is_empty() {
                tracing::info!(
                    partitions = resume.len(),
                    "starved partitions fetched; resuming"
                );
                ports.resume(&resume)?;
                for tp in &resume {
                    self.paused.remove(tp);
                }
            }
        }
        Ok(())
    }
}
