//! Checks before the stream threads start: source and sink topics and the
//! dead-letter topic exist, each
//! sub-topology's inputs are co-partitioned, internal topics (repartition
//! topics, compacted changelog topics) exist with the partition count and
//! configs [`Topology::plan_internal_topics_with`] plans (created when
//! missing).

use std::collections::HashMap;

use weir_core::topology::{InternalTopicOptions, Topology};

use crate::client::admin::{Admin, TopicSpec};
use crate::client::connection::Connection;
use crate::error::{Error, Result};

/// Verifies and prepares the topics of `topology` for `application_id`,
/// with `config`'s replication factor and window changelog retention.
pub(crate) fn prepare_topics(
    conn: &Connection,
    topology: &Topology,
    application_id: &str,
    config: &super::RuntimeConfig,
) -> Result<()> {
    let replication_factor = config.replication_factor;
    let options = InternalTopicOptions::new().with_window_changelog_additional_retention_ms(
        config.window_changelog_additional_retention_ms,
    );
    let admin = Admin::new(conn)?;
    let mut counts: HashMap<String, i32> = HashMap::new();
    // User source topics first: they must exist.
    for sub in topology.subtopologies() {
        for t in sub.source_topics() {
            if t.is_internal() {
                continue;
            }
            let name = t.resolve(application_id);
            match admin.partition_count(&name)? {
                Some(n) => {
                    counts.insert(name, n);
                }
                None => return Err(Error::MissingSourceTopic { topic: name }),
            }
        }
    }
    // Internal topics (repartition, changelog), planned in core from the
    // source topics' counts: names, partition counts, configs.
    let plan = topology
        .plan_internal_topics_with(application_id, |t| counts.get(t).copied(), &options)
        .map_err(|e| match e {
            weir_core::Error::Config { key, message } => Error::Config { key, message },
            other => Error::Config {
                key: "internal topics".to_string(),
                message: other.to_string(),
            },
        })?;
    let mut specs = Vec::with_capacity(plan.len());
    for planned in plan {
        let mut spec = TopicSpec::new(planned.name.clone(), planned.partitions);
        for (key, value) in &planned.configs {
            spec = spec.config(key.clone(), value.clone());
        }
        if replication_factor > 0 {
            spec = spec.replication(replication_factor);
        }
        specs.push(spec);
        counts.insert(planned.name, planned.partitions);
    }
    // Co-partitioning, checked before any topic is created: partition i of
    // every input of a sub-topology feeds task i.
    check_copartitioned(topology, application_id, &counts)?;
    // User sink topics written by name must exist too: the producers do
    // not let the broker create them (see `StreamsRuntime::producer`).
    for sub in topology.subtopologies() {
        for t in topology.sink_topics(sub.id()) {
            if t.is_internal() {
                continue;
            }
            let name = t.resolve(application_id);
            if !counts.contains_key(&name) && admin.partition_count(&name)?.is_none() {
                return Err(Error::MissingSinkTopic { topic: name });
            }
        }
    }
    // The dead-letter topic is the user's, as in Kafka Streams: it must exist
    // (else the first bad record would stop the application much later).
    if let Some(dlq) = &config.task.dead_letter_topic {
        if admin.partition_count(dlq)?.is_none() {
            return Err(Error::Config {
                key: "errors.dead.letter.queue.topic.name".to_string(),
                message: format!(
                    "the dead-letter topic '{dlq}' does not exist; create it before starting \
                     the application (it is not created automatically)"
                ),
            });
        }
    }
    if !specs.is_empty() {
        // Fails with PartitionCountMismatch naming the topic if one exists with another count.
        admin.create_topics(&specs)?;
    }
    Ok(())
}

/// Fails with [`Error::CoPartitioning`] naming the sub-topology and each of
/// its input topics with its partition count when they differ (`counts`:
/// the user topics' counts and the internal topics' planned ones).
fn check_copartitioned(
    topology: &Topology,
    application_id: &str,
    counts: &HashMap<String, i32>,
) -> Result<()> {
    for sub in topology.subtopologies() {
        let inputs: Vec<(String, i32)> = sub
            .source_topics()
            .iter()
            .map(|t| {
                let r = t.resolve(application_id);
                let n = counts.get(&r).copied().unwrap_or(0);
                (r, n)
            })
            .collect();
        if inputs.windows(2).any(|w| w[0].1 != w[1].1) {
            let detail = inputs
                .iter()
                .map(|(t, n)| format!("{t} ({n} partitions)"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::CoPartitioning {
                subtopology: sub.id(),
                detail,
            });
        }
    }
    Ok(())
}
