//! A task's side of changelog topics: sending the writes of its logged
//! stores, recording how far each store's changelog has been written, and
//! restoring a store from its changelog.

use crate::collector::RecordCollector;
use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::record::{OutputRecord, TopicPartition};
use crate::store::{StateStore, WriteBatch};
use crate::task::Task;

impl Task {
    /// The logged stores of this task and their changelog partition
    /// (`<application.id>-<store>-changelog`, partition = the task's).
    pub fn changelog_partitions(&self) -> Vec<(String, TopicPartition)> {
        self.changelogs
            .iter()
            .map(|(store, topic)| {
                (
                    store.clone(),
                    TopicPartition::new(topic.to_string(), self.state.id.partition),
                )
            })
            .collect()
    }

    fn store_mut(&mut self, name: &str) -> Result<&mut Box<dyn StateStore>> {
        let task = self.state.id;
        self.state
            .stores
            .iter_mut()
            .find(|s| s.name() == name)
            .ok_or_else(|| Error::Task {
                task: task.to_string(),
                message: format!("has no state store '{name}'"),
            })
    }

    /// Sends the writes each logged store recorded since the last call to its
    /// changelog partition. The task calls it after every record and
    /// punctuation it processes, so a changelog record leaves with the
    /// output of the write that made it (as in Kafka Streams) instead of
    /// waiting in memory for the commit, and again in
    /// [`prepare_commit`](Self::prepare_commit) once caches are flushed
    /// down to the change-logging layer. Returns how many were sent.
    pub(crate) fn send_changelogs(&mut self, io: &mut dyn RecordCollector) -> Result<usize> {
        let partition = self.state.id.partition;
        let timestamp = self.state.stream_time.max(0);
        let mut sent = 0;
        for (store, topic) in &self.changelogs {
            let Some(logged) = self.state.stores.iter_mut().find(|s| s.name() == store) else {
                return Err(Error::Task {
                    task: self.state.id.to_string(),
                    message: format!("has no state store '{store}'"),
                });
            };
            for e in logged.take_changelog() {
                io.send(OutputRecord {
                    topic: std::sync::Arc::clone(topic),
                    partition: Some(partition),
                    key: Some(e.key),
                    value: e.value,
                    timestamp,
                    headers: Headers::default(),
                })?;
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Commits every store of the task ([`StateStore::commit`]): store `s`
    /// writes down what it held back with its changelog offset
    /// `changelog_offset(s)` (the last offset of its changelog partition the
    /// broker acknowledged, inclusive; `None` for a store without a
    /// changelog, or with nothing new acknowledged), in one atomic batch per
    /// store. The last step of the commit protocol, after the output and the
    /// input offsets (or the transaction) are committed.
    pub(crate) fn commit_stores(
        &mut self,
        changelog_offset: impl Fn(&str) -> Option<i64>,
    ) -> Result<()> {
        for store in &mut self.state.stores {
            let offset = changelog_offset(store.name());
            store.commit(offset)?;
        }
        Ok(())
    }

    /// The changelog offset store `store` has reached (`None`: nothing, restore
    /// from the beginning).
    pub fn changelog_offset(&mut self, store: &str) -> Result<Option<i64>> {
        self.store_mut(store)?.committed_offset()
    }

    /// Applies a batch read from store `store`'s changelog (with the offset of
    /// its last record), bypassing caching and change-logging.
    pub fn restore(&mut self, store: &str, batch: WriteBatch) -> Result<()> {
        self.store_mut(store)?.restore(batch)
    }
}
