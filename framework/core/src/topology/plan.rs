//! The internal topics an application needs, planned once: their names,
//! partition counts and topic configs, for the runtime's start-up and the
//! test driver alike.

use std::collections::{BTreeMap, HashMap};

use super::{changelog_topic, TopicName, Topology};
use crate::error::{Error, Result};

/// What an internal topic is for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InternalTopicRole {
    /// A repartition topic: one sub-topology writes it by key, another reads it.
    Repartition,
    /// The changelog topic of a logged store.
    Changelog {
        /// The store.
        store: String,
        /// The sub-topology whose tasks own the store (partition p: task
        /// `<subtopology>_<p>`).
        subtopology: u32,
    },
}

/// An internal topic as the application needs it (see
/// [`Topology::plan_internal_topics`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTopic {
    /// The topic as the topology names it.
    pub topic: TopicName,
    /// Its real name, `<application.id>-<name>`.
    pub name: String,
    /// What it is for.
    pub role: InternalTopicRole,
    /// Its partition count.
    pub partitions: i32,
    /// The topic configs to create it with (`cleanup.policy`, ...).
    pub configs: BTreeMap<String, String>,
}

/// Settings of the application that shape its internal topics (from its
/// configuration): what [`Topology::plan_internal_topics_with`] needs
/// beyond the topology.
///
/// ```
/// use weir_core::topology::InternalTopicOptions;
///
/// let options = InternalTopicOptions::new().with_window_changelog_additional_retention_ms(3_600_000);
/// assert_eq!(options.window_changelog_additional_retention_ms(), 3_600_000);
/// assert_eq!(InternalTopicOptions::new().window_changelog_additional_retention_ms(), 86_400_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InternalTopicOptions {
    window_changelog_additional_retention_ms: i64,
}

impl Default for InternalTopicOptions {
    fn default() -> Self {
        InternalTopicOptions {
            window_changelog_additional_retention_ms:
                crate::store::DEFAULT_WINDOW_CHANGELOG_ADDITIONAL_RETENTION_MS,
        }
    }
}

impl InternalTopicOptions {
    /// Kafka Streams' defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `windowstore.changelog.additional.retention.ms`: how much longer
    /// than its store a window or session changelog keeps records (negative
    /// values count as 0).
    pub fn with_window_changelog_additional_retention_ms(mut self, ms: i64) -> Self {
        self.window_changelog_additional_retention_ms = ms.max(0);
        self
    }

    /// `windowstore.changelog.additional.retention.ms` (default 86 400 000: 24 h).
    pub fn window_changelog_additional_retention_ms(&self) -> i64 {
        self.window_changelog_additional_retention_ms
    }
}

impl Topology {
    /// Plans every internal topic of the topology for `application_id`:
    /// repartition topics first (in the order the topology declares them),
    /// then the changelog topics of logged stores (by sub-topology, in the
    /// order the stores were added).
    ///
    /// `partitions_of(topic)` gives the partition count of a topic by its
    /// real name: it must answer for the user topics the topology reads. An
    /// answer for an internal topic fixes that topic's count (the test
    /// driver's explicit counts); `None` lets the plan work it out:
    ///
    /// - a repartition topic: the count the topology declares, else the most
    ///   partitions any source topic of the sub-topologies writing it has
    ///   (as Kafka Streams sizes them), resolved through chains of
    ///   repartition topics; one sized by its readers (a foreign-key
    ///   join's) gets the most partitions of the other topics the
    ///   sub-topologies reading it read; no topic configs (the broker's
    ///   defaults);
    /// - a changelog topic: one partition per task of its sub-topology, the
    ///   most partitions of the sub-topology's source topics (they must be
    ///   co-partitioned anyway); the configs of the store's kind
    ///   ([`StoreKind::changelog_configs`](crate::store::StoreKind::changelog_configs):
    ///   `cleanup.policy=compact` for key-value stores; `compact,delete` and
    ///   `retention.ms` = the store's retention + 24 h for window and
    ///   session stores: [`plan_internal_topics_with`](Self::plan_internal_topics_with)
    ///   takes another additional retention).
    ///
    /// Errors with [`Error::Config`] naming the topic (key `repartition`)
    /// or the sub-topology (key `state`) whose count cannot be worked out: a
    /// source topic without a count, a repartition topic no sub-topology
    /// writes by name, or a cycle of repartition topics.
    ///
    /// ```
    /// use weir_core::dsl::{Materialized, StreamsBuilder};
    /// use weir_core::topology::{Consumed, InternalTopicRole};
    /// use weir_core::Serdes;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_key()
    ///     .count(Materialized::as_("clicks-per-user", Serdes::string(), Serdes::i64()));
    /// let topology = builder.build()?;
    /// let plan = topology.plan_internal_topics("app", |topic| (topic == "clicks").then_some(3))?;
    /// assert_eq!(plan.len(), 1);
    /// assert_eq!(plan[0].name, "app-clicks-per-user-changelog");
    /// assert_eq!(plan[0].partitions, 3);
    /// assert!(matches!(plan[0].role, InternalTopicRole::Changelog { .. }));
    /// assert_eq!(plan[0].configs["cleanup.policy"], "compact");
    /// # Ok::<(), weir_core::Error>(())
    /// ```
    pub fn plan_internal_topics(
        &self,
        application_id: &str,
        partitions_of: impl Fn(&str) -> Option<i32>,
    ) -> Result<Vec<PlannedTopic>> {
        self.plan_internal_topics_with(application_id, partitions_of, &InternalTopicOptions::new())
    }

    /// [`plan_internal_topics`](Self::plan_internal_topics) with the
    /// application's `options`: window and session changelogs get
    /// `retention.ms` = the store's retention +
    /// `options.window_changelog_additional_retention_ms()`. The runtime and
    /// the test driver plan with the application's configuration.
    pub fn plan_internal_topics_with(
        &self,
        application_id: &str,
        partitions_of: impl Fn(&str) -> Option<i32>,
        options: &InternalTopicOptions,
    ) -> Result<Vec<PlannedTopic>> {
        let resolved = self.plan_repartition_counts(application_id, &partitions_of);
        let count_of = |topic: &TopicName| {
            let name = topic.resolve(application_id);
            partitions_of(&name).or_else(|| resolved.get(&name).copied())
        };
        let mut plan = Vec::new();
        for it in &self.internal_topics {
            let name = it.topic.resolve(application_id);
            let Some(partitions) = count_of(&it.topic) else {
                return Err(Error::Config {
                    key: "repartition".to_string(),
                    message: format!(
                        "cannot work out the partition count of internal topic '{name}'"
                    ),
                });
            };
            plan.push(PlannedTopic {
                topic: it.topic.clone(),
                name,
                role: InternalTopicRole::Repartition,
                partitions,
                configs: BTreeMap::new(),
            });
        }
        for sub in &self.subtopologies {
            let logged: Vec<_> = self
                .stores
                .iter()
                .filter(|s| s.logged && sub.stores.contains(&s.name))
                .collect();
            if logged.is_empty() {
                continue;
            }
            let tasks = sub
                .source_topics
                .iter()
                .map(count_of)
                .try_fold(0, |acc, c| c.map(|c| acc.max(c)))
                .filter(|&n| n > 0);
            for store in logged {
                let topic = changelog_topic(&store.name);
                let name = topic.resolve(application_id);
                let Some(partitions) = partitions_of(&name).or(tasks) else {
                    return Err(Error::Config {
                        key: "state".to_string(),
                        message: format!(
                            "cannot work out the partition count of sub-topology {}'s changelogs",
                            sub.id
                        ),
                    });
                };
                plan.push(PlannedTopic {
                    topic,
                    name,
                    role: InternalTopicRole::Changelog {
                        store: store.name.clone(),
                        subtopology: sub.id,
                    },
                    partitions,
                    configs: changelog_configs(store, options),
                });
            }
        }
        Ok(plan)
    }

    /// The partition counts of the repartition topics that can be worked
    /// out, by real name. One repartition topic may feed the writer of
    /// another, so it repeats until nothing changes (at most once per topic).
    fn plan_repartition_counts(
        &self,
        application_id: &str,
        partitions_of: &impl Fn(&str) -> Option<i32>,
    ) -> HashMap<String, i32> {
        let mut counts: HashMap<String, i32> = HashMap::new();
        for _ in 0..=self.internal_topics.len() {
            let mut changed = false;
            for it in &self.internal_topics {
                let name = it.topic.resolve(application_id);
                if counts.contains_key(&name) {
                    continue;
                }
                let count_of = |t: &TopicName| {
                    let r = t.resolve(application_id);
                    partitions_of(&r).or_else(|| counts.get(&r).copied())
                };
                let n = match partitions_of(&name).or(it.partitions) {
                    Some(n) => Some(n),
                    // As many as the other topics its readers read (those
                    // not sized this way themselves).
                    None if it.sized_by_readers => self
                        .subtopologies
                        .iter()
                        .filter(|s| s.source_topics.contains(&it.topic))
                        .flat_map(|s| s.source_topics.iter())
                        .filter(|t| !self.sized_by_readers(t))
                        .map(count_of)
                        .try_fold(0, |acc, c| c.map(|c| acc.max(c))),
                    None => self
                        .subtopologies
                        .iter()
                        .filter(|s| s.sink_topics.contains(&it.topic))
                        .flat_map(|s| s.source_topics.iter())
                        .map(count_of)
                        .try_fold(0, |acc, c| c.map(|c| acc.max(c))),
                };
                if let Some(n) = n.filter(|&n| n > 0) {
                    counts.insert(name, n);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        counts
    }
}

impl Topology {
    /// Whether `topic` is an internal topic sized by its readers.
    fn sized_by_readers(&self, topic: &TopicName) -> bool {
        self.internal_topics
            .iter()
            .any(|t| t.sized_by_readers && &t.topic == topic)
    }
}

/// The configs of `store`'s changelog: its kind's, with the additional
/// retention of `options`, then whatever the store's definition changed
/// from its kind's defaults (the user's).
fn changelog_configs(
    store: &super::StoreDef,
    options: &InternalTopicOptions,
) -> BTreeMap<String, String> {
    let defaults = store.kind.changelog_configs();
    let mut configs = store
        .kind
        .changelog_configs_with(options.window_changelog_additional_retention_ms());
    for (key, value) in &store.changelog_configs {
        if defaults.get(key) != Some(value) {
            configs.insert(key.clone(), value.clone());
        }
    }
    configs
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::dsl::{Materialized, Repartitioned, StreamsBuilder};
    use crate::serde::Serdes;
    use crate::topology::{Consumed, Produced, TopologyBuilder};

    fn summary(plan: &[PlannedTopic]) -> Vec<(&str, i32)> {
        plan.iter()
            .map(|t| (t.name.as_str(), t.partitions))
            .collect()
    }

    fn sources(counts: &'static [(&'static str, i32)]) -> impl Fn(&str) -> Option<i32> {
        move |topic| counts.iter().find(|(t, _)| *t == topic).map(|(_, n)| *n)
    }

    /// a -> r1 (as many as a) -> r2 (2, declared) -> count, logged.
    fn chained() -> Topology {
        let builder = StreamsBuilder::new();
        builder
            .stream("a", Consumed::with(Serdes::string(), Serdes::string()))
            .repartition(Repartitioned::as_("r1", Serdes::string(), Serdes::string()))
            .repartition(
                Repartitioned::as_("r2", Serdes::string(), Serdes::string()).with_partitions(2),
            )
            .group_by_key()
            .count(Materialized::as_("counts", Serdes::string(), Serdes::i64()));
        builder.build().unwrap()
    }

    #[test]
    fn repartition_topics_follow_their_writers_or_their_declared_count() {
        let plan = chained()
            .plan_internal_topics("app", sources(&[("a", 4)]))
            .unwrap();
        assert_eq!(
            summary(&plan),
            [
                ("app-r1-repartition", 4),
                ("app-r2-repartition", 2),
                ("app-counts-changelog", 2),
            ]
        );
        assert_eq!(plan[0].role, InternalTopicRole::Repartition);
        assert!(plan[0].configs.is_empty());
        assert_eq!(
            plan[2].role,
            InternalTopicRole::Changelog {
                store: "counts".to_string(),
                subtopology: 2
            }
        );
        assert_eq!(
            plan[2].configs,
            BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())])
        );
    }

    #[test]
    fn an_answer_for_an_internal_topic_fixes_its_count() {
        let plan = chained()
            .plan_internal_topics(
                "app",
                sources(&[
                    ("a", 4),
                    ("app-r2-repartition", 3),
                    ("app-counts-changelog", 3),
                ]),
            )
            .unwrap();
        assert_eq!(
            summary(&plan),
            [
                ("app-r1-repartition", 4),
                ("app-r2-repartition", 3),
                ("app-counts-changelog", 3),
            ]
        );
    }

    /// Two sub-topologies write `r`, declared before the topic feeding one of them.
    fn two_writers() -> Topology {
        let strings = || Consumed::with(Serdes::string(), Serdes::string());
        let out = || Produced::with(Serdes::string(), Serdes::string());
        let mut b = TopologyBuilder::new();
        b.add_internal_topic("r", None);
        b.add_internal_topic("q", None);
        b.add_source("sa", ["a"], strings()).add_sink_topic(
            "ka",
            TopicName::internal("r"),
            out(),
            &["sa"],
        );
        b.add_source("sb", ["b"], strings()).add_sink_topic(
            "kb",
            TopicName::internal("q"),
            out(),
            &["sb"],
        );
        b.add_source_topics("sq", vec![TopicName::internal("q")], strings())
            .add_sink_topic("kq", TopicName::internal("r"), out(), &["sq"]);
        b.add_source_topics("sr", vec![TopicName::internal("r")], strings())
            .add_sink("out", "out", out(), &["sr"]);
        b.build().unwrap()
    }

    #[test]
    fn a_topic_written_by_several_sub_topologies_gets_the_most_partitions_in_any_order() {
        let plan = two_writers()
            .plan_internal_topics("app", sources(&[("a", 3), ("b", 5)]))
            .unwrap();
        assert_eq!(summary(&plan), [("app-r", 5), ("app-q", 5)]);
    }

    #[test]
    fn unknown_counts_are_errors_naming_the_topic_or_the_sub_topology() {
        let err = two_writers()
            .plan_internal_topics("app", sources(&[("a", 3)]))
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config { key, message } if key == "repartition" && message.contains("'app-r'")),
            "{err}"
        );

        let builder = StreamsBuilder::new();
        builder
            .stream("a", Consumed::with(Serdes::string(), Serdes::string()))
            .group_by_key()
            .count(Materialized::as_("counts", Serdes::string(), Serdes::i64()));
        let err = builder
            .build()
            .unwrap()
            .plan_internal_topics("app", |_| None)
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config { key, message } if key == "state" && message.contains("sub-topology 0")),
            "{err}"
        );
    }

    #[test]
    fn unlogged_stores_have_no_changelog() {
        let builder = StreamsBuilder::new();
        builder
            .stream("a", Consumed::with(Serdes::string(), Serdes::string()))
            .group_by_key()
            .count(
                Materialized::as_("counts", Serdes::string(), Serdes::i64()).with_logging(false),
            );
        let plan = builder
            .build()
            .unwrap()
            .plan_internal_topics("app", sources(&[("a", 2)]))
            .unwrap();
        assert!(plan.is_empty());
    }
}
