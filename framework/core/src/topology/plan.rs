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
    /// - a repartition topic: the count the topology declares; else, when
    ///   the sub-topology reading it also reads user topics (a join after a
    ///   key change), their count, so they are co-partitioned; else a count
    ///   declared for another repartition topic that sub-topology reads;
    ///   else the most partitions any source topic of the sub-topologies
    ///   writing it (or another repartition topic read beside it) has: as
    ///   Kafka Streams' `RepartitionTopics` and `CopartitionedTopicsEnforcer`
    ///   size them, resolved through chains of repartition topics; no topic
    ///   configs (the broker's defaults). A declared count that differs from
    ///   the user topics' is kept: the runtime's start check then fails,
    ///   naming each topic and its count;
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
    ///
    /// A topic's count: the one `partitions_of` fixes or the topology
    /// declares; else, as Kafka Streams' `CopartitionedTopicsEnforcer` does,
    /// the count of the user topics read beside it (its co-partition group:
    /// the sub-topology reading it), or a count declared for another
    /// repartition topic of the group; else the most partitions over the
    /// group of the source topics of the sub-topologies writing each.
    fn plan_repartition_counts(
        &self,
        application_id: &str,
        partitions_of: &impl Fn(&str) -> Option<i32>,
    ) -> HashMap<String, i32> {
        let fixed = |it: &super::InternalTopic| {
            partitions_of(&it.topic.resolve(application_id)).or(it.partitions)
        };
        let mut counts: HashMap<String, i32> = HashMap::new();
        for _ in 0..=self.internal_topics.len() {
            let mut changed = false;
            for it in &self.internal_topics {
                let name = it.topic.resolve(application_id);
                if counts.contains_key(&name) {
                    continue;
                }
                let n = fixed(it)
                    .or_else(|| self.group_count(it, application_id, partitions_of, &fixed))
                    .or_else(|| {
                        self.group_writers_count(it, application_id, partitions_of, &counts)
                    });
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

    /// The topics read beside `it` by the sub-topologies that read it.
    fn copartitioned_with<'a>(
        &'a self,
        it: &'a super::InternalTopic,
    ) -> impl Iterator<Item = &'a TopicName> + 'a {
        self.subtopologies
            .iter()
            .filter(|s| s.source_topics.contains(&it.topic))
            .flat_map(|s| s.source_topics.iter())
            .filter(move |t| **t != it.topic)
    }

    /// The count the co-partition group of `it` imposes: its user topics'
    /// (the most, should they differ: the start check reports them), else a
    /// count fixed for one of its repartition topics. `None` when the group
    /// has neither, or a user topic without a count (then its writers decide).
    fn group_count(
        &self,
        it: &super::InternalTopic,
        application_id: &str,
        partitions_of: &impl Fn(&str) -> Option<i32>,
        fixed: &impl Fn(&super::InternalTopic) -> Option<i32>,
    ) -> Option<i32> {
        let mut user = self
            .copartitioned_with(it)
            .filter(|t| !self.is_repartition_topic(t))
            .peekable();
        if user.peek().is_some() {
            return user
                .map(|t| partitions_of(&t.resolve(application_id)))
                .try_fold(0, |acc, c| c.map(|c| acc.max(c)));
        }
        self.copartitioned_with(it)
            .filter_map(|t| self.internal_topics.iter().find(|i| i.topic == *t))
            .find_map(fixed)
    }

    /// The most partitions of the source topics of the sub-topologies
    /// writing `it` or another repartition topic of its co-partition group
    /// (`None` while one of them is unknown).
    fn group_writers_count(
        &self,
        it: &super::InternalTopic,
        application_id: &str,
        partitions_of: &impl Fn(&str) -> Option<i32>,
        counts: &HashMap<String, i32>,
    ) -> Option<i32> {
        std::iter::once(&it.topic)
            .chain(self.copartitioned_with(it))
            .filter(|t| self.is_repartition_topic(t))
            .map(|topic| {
                self.subtopologies
                    .iter()
                    .filter(|s| s.sink_topics.contains(topic))
                    .flat_map(|s| s.source_topics.iter())
                    .map(|t| {
                        let r = t.resolve(application_id);
                        partitions_of(&r).or_else(|| counts.get(&r).copied())
                    })
                    .try_fold(0, |acc, c| c.map(|c| acc.max(c)))
            })
            .try_fold(0, |acc, c| c.map(|c| acc.max(c)))
    }

    fn is_repartition_topic(&self, topic: &TopicName) -> bool {
        self.internal_topics.iter().any(|i| i.topic == *topic)
    }
}

/// Checks, when a topology is built, that the repartition topics one
/// sub-topology reads (they are co-partitioned) declare no different
/// partition counts; the error names each topic and its count.
pub(super) fn check_declared_counts(
    subtopologies: &[super::SubTopology],
    internal_topics: &[super::InternalTopic],
) -> Result<()> {
    for sub in subtopologies {
        let declared: Vec<(&TopicName, i32)> = sub
            .source_topics
            .iter()
            .filter_map(|t| {
                internal_topics
                    .iter()
                    .find(|i| i.topic == *t)
                    .and_then(|i| i.partitions.map(|n| (t, n)))
            })
            .collect();
        if declared.windows(2).any(|w| w[0].1 != w[1].1) {
            let detail = declared
                .iter()
                .map(|(t, n)| format!("{t} ({n} partitions)"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::Topology(format!(
                "sub-topology {} reads repartition topics declared with different partition \
                 counts, but they must be co-partitioned (partition i of each feeds task i): \
                 {detail}",
                sub.id
            )));
        }
    }
    Ok(())
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
    use crate::error::Result;
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

    fn strings() -> Consumed<String, String> {
        Consumed::with(Serdes::string(), Serdes::string())
    }

    fn rep(name: &str) -> Repartitioned<String, String> {
        Repartitioned::as_(name, Serdes::string(), Serdes::string())
    }

    /// `a` re-keyed, then read beside `t` (as a join reads both): the
    /// repartition topic `j-repartition` is co-partitioned with `t`.
    fn rekeyed_beside_a_table(declared: Option<i32>) -> Topology {
        let builder = StreamsBuilder::new();
        let rekeyed = builder.stream("a", strings()).select_key(|_k, v| v.clone());
        let joined = match declared {
            None => rekeyed.for_join("j", Some(Serdes::string()), Some(Serdes::string())),
            Some(n) => rekeyed.repartition(rep("j").with_partitions(n)),
        };
        joined
            .merge(&builder.stream("t", strings()))
            .to("out", Produced::with(Serdes::string(), Serdes::string()));
        builder.build().unwrap()
    }

    #[test]
    fn a_repartition_topic_read_beside_user_topics_gets_their_count() {
        let plan = rekeyed_beside_a_table(None)
            .plan_internal_topics("app", sources(&[("a", 4), ("t", 2)]))
            .unwrap();
        assert_eq!(summary(&plan), [("app-j-repartition", 2)]);
        // Unless its count is declared: then the start check compares them.
        let plan = rekeyed_beside_a_table(Some(3))
            .plan_internal_topics("app", sources(&[("a", 4), ("t", 2)]))
            .unwrap();
        assert_eq!(summary(&plan), [("app-j-repartition", 3)]);
        // A user topic of the group without a count: its writer's count.
        let plan = rekeyed_beside_a_table(None)
            .plan_internal_topics("app", sources(&[("a", 4)]))
            .unwrap();
        assert_eq!(summary(&plan), [("app-j-repartition", 4)]);
    }

    /// `a` and `b` re-keyed through `ra` and `rb` (counts declared or not),
    /// read together.
    fn two_repartitions(ra: Option<i32>, rb: Option<i32>) -> Result<Topology> {
        let builder = StreamsBuilder::new();
        let declared = |r: Repartitioned<String, String>, n: Option<i32>| match n {
            Some(n) => r.with_partitions(n),
            None => r,
        };
        let left = builder
            .stream("a", strings())
            .repartition(declared(rep("ra"), ra));
        let right = builder
            .stream("b", strings())
            .repartition(declared(rep("rb"), rb));
        left.merge(&right)
            .to("out", Produced::with(Serdes::string(), Serdes::string()));
        builder.build()
    }

    #[test]
    fn repartition_topics_read_together_share_a_declared_count_or_the_most_of_their_writers() {
        let counts = sources(&[("a", 3), ("b", 5)]);
        let plan = two_repartitions(None, None)
            .unwrap()
            .plan_internal_topics("app", &counts)
            .unwrap();
        assert_eq!(
            summary(&plan),
            [("app-ra-repartition", 5), ("app-rb-repartition", 5)]
        );
        for (ra, rb) in [(Some(2), None), (None, Some(2)), (Some(2), Some(2))] {
            let plan = two_repartitions(ra, rb)
                .unwrap()
                .plan_internal_topics("app", &counts)
                .unwrap();
            assert_eq!(
                summary(&plan),
                [("app-ra-repartition", 2), ("app-rb-repartition", 2)],
                "{ra:?} {rb:?}"
            );
        }
    }

    #[test]
    fn declared_counts_that_disagree_within_a_co_partition_group_fail_the_build() {
        let Err(err) = two_repartitions(Some(2), Some(3)) else {
            panic!("the build should fail");
        };
        let message = err.to_string();
        for part in [
            "<application.id>-ra-repartition (2 partitions)",
            "<application.id>-rb-repartition (3 partitions)",
            "co-partitioned",
        ] {
            assert!(message.contains(part), "{message}");
        }
    }
}
