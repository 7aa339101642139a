//! Checks before the stream threads start: source topics exist, each
//! sub-topology's inputs are co-partitioned, internal topics (repartition
//! topics, compacted changelog topics) exist with the right partition count
//! (created when missing).

use std::collections::HashMap;

use weir_core::topology::Topology;

use crate::admin::{Admin, TopicSpec};
use crate::connection::Connection;
use crate::error::{Error, Result};

/// Verifies and prepares the topics of `topology` for `application_id`.
pub(crate) fn prepare_topics(
    conn: &Connection,
    topology: &Topology,
    application_id: &str,
    replication_factor: i32,
) -> Result<()> {
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
    // Internal topics: as many partitions as asked, else as the largest input
    // of the sub-topology that writes them. Repeat until every count is known,
    // since one internal topic may feed the writer of another.
    let internal = topology.internal_topics();
    let mut wanted: HashMap<String, i32> = HashMap::new();
    for _ in 0..=internal.len() {
        for it in internal {
            let name = it.topic.resolve(application_id);
            if wanted.contains_key(&name) {
                continue;
            }
            let n = match it.partitions {
                Some(n) => Some(n),
                None => topology
                    .subtopologies()
                    .iter()
                    .filter(|s| topology.sink_topics(s.id()).contains(&it.topic))
                    .flat_map(|s| s.source_topics().iter())
                    .map(|t| {
                        let r = t.resolve(application_id);
                        counts.get(&r).or_else(|| wanted.get(&r)).copied()
                    })
                    .try_fold(0, |acc, c| c.map(|c| acc.max(c))),
            };
            if let Some(n) = n.filter(|n| *n > 0) {
                wanted.insert(name, n);
            }
        }
    }
    let mut specs = Vec::new();
    for it in internal {
        let name = it.topic.resolve(application_id);
        let Some(&n) = wanted.get(&name) else {
            return Err(Error::Config {
                key: "repartition".to_string(),
                message: format!("cannot work out the partition count of internal topic '{name}'"),
            });
        };
        let mut spec = TopicSpec::new(name.clone(), n);
        if replication_factor > 0 {
            spec = spec.replication(replication_factor);
        }
        specs.push(spec);
        counts.insert(name, n);
    }
    // Changelog topics: compacted, one partition per task of their sub-topology.
    for sub in topology.subtopologies() {
        let logs = topology.changelog_topics(sub.id());
        if logs.is_empty() {
            continue;
        }
        let n = sub
            .source_topics()
            .iter()
            .filter_map(|t| {
                let r = t.resolve(application_id);
                counts.get(&r).or_else(|| wanted.get(&r)).copied()
            })
            .max();
        let Some(n) = n else {
            return Err(Error::Config {
                key: "state".to_string(),
                message: format!(
                    "cannot work out the partition count of sub-topology {}'s changelogs",
                    sub.id()
                ),
            });
        };
        for (_, topic) in logs {
            let mut spec = TopicSpec::new(topic.resolve(application_id), n)
                .config("cleanup.policy", "compact");
            if replication_factor > 0 {
                spec = spec.replication(replication_factor);
            }
            specs.push(spec);
        }
    }
    if !specs.is_empty() {
        // Fails with PartitionCountMismatch naming the topic if one exists with another count.
        admin.create_topics(&specs)?;
    }
    // Co-partitioning: partition i of every input of a sub-topology feeds task i.
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
