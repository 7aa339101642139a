//! Turns a [`TopologyBuilder`] into a [`Topology`]: checks the graph and finds
//! the sub-topologies.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::topology::{NodeKind, SinkTarget, SubTopology, Topology, TopologyBuilder};

fn err<T>(message: String) -> Result<T> {
    Err(Error::Topology(message))
}

fn kind_name(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Source { .. } => "source",
        NodeKind::Processor => "processor",
        NodeKind::Sink { .. } => "sink",
    }
}

pub(super) fn validate(builder: TopologyBuilder) -> Result<Topology> {
    let TopologyBuilder {
        mut nodes,
        stores,
        store_links,
        internal_topics,
        mut global_stores,
        ..
    } = builder;
    if global_stores.is_empty()
        && !nodes
            .iter()
            .any(|n| matches!(n.kind, NodeKind::Source { .. }))
    {
        return err("the topology has no source node".to_string());
    }
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();

    // Edges: every parent exists, is not a sink, and forwards the types the child takes.
    let mut parents_of: Vec<Vec<usize>> = Vec::with_capacity(nodes.len());
    for node in &nodes {
        let kind = kind_name(&node.kind);
        if !matches!(node.kind, NodeKind::Source { .. }) && node.parents.is_empty() {
            return err(format!("{kind} '{}' has no parent", node.name));
        }
        let mut parents = Vec::new();
        for parent in &node.parents {
            let Some(&p) = index.get(parent.as_str()) else {
                return err(format!(
                    "{kind} '{}' names unknown parent '{parent}'",
                    node.name
                ));
            };
            let pnode = &nodes[p];
            if matches!(pnode.kind, NodeKind::Sink { .. }) {
                return err(format!(
                    "sink '{parent}' cannot be the parent of {kind} '{}'",
                    node.name
                ));
            }
            if let (Some(out), Some(input)) = (pnode.output, node.input) {
                if out != input {
                    return err(format!(
                        "{kind} '{}' takes {input} but its parent '{parent}' forwards {out}",
                        node.name
                    ));
                }
            }
            if parents.contains(&p) {
                return err(format!(
                    "{kind} '{}' names parent '{parent}' twice",
                    node.name
                ));
            }
            parents.push(p);
        }
        parents_of.push(parents);
    }

    // Cycles: depth-first search over parent edges.
    let mut mark = vec![0u8; nodes.len()]; // 0 new, 1 on stack, 2 done
    for start in 0..nodes.len() {
        if mark[start] == 0 {
            if let Some(at) = find_cycle(start, &parents_of, &mut mark) {
                return err(format!(
                    "the topology has a cycle through node '{}'",
                    nodes[at].name
                ));
            }
        }
    }

    // A topic may feed only one source.
    let mut readers: HashMap<&crate::topology::TopicName, &str> = HashMap::new();
    for node in &nodes {
        if let NodeKind::Source { topics, .. } = &node.kind {
            for t in topics {
                if let Some(other) = readers.insert(t, &node.name) {
                    return err(format!(
                        "topic '{t}' is read by both source '{other}' and source '{}'",
                        node.name
                    ));
                }
            }
        }
    }

    // Stores: connected only to existing processors, and existing stores.
    for (proc_name, store) in &store_links {
        let Some(&p) = index.get(proc_name.as_str()) else {
            return err(format!(
                "state store '{store}' is connected to unknown processor '{proc_name}'"
            ));
        };
        if !matches!(nodes[p].kind, NodeKind::Processor) {
            return err(format!(
                "state store '{store}' is connected to '{proc_name}', which is not a processor"
            ));
        }
        if !stores.iter().any(|s| &s.name == store) {
            return err(format!(
                "processor '{proc_name}' is connected to unknown state store '{store}'"
            ));
        }
    }
    let links: Vec<(usize, String)> = store_links
        .iter()
        .filter_map(|(p, s)| index.get(p.as_str()).map(|&i| (i, s.clone())))
        .collect();
    let mut subtopologies = find_subtopologies(&nodes, &parents_of, &store_links, &index);
    super::plan::check_declared_counts(&subtopologies, &internal_topics)?;
    for (p, store) in links {
        if !nodes[p].stores.contains(&store) {
            nodes[p].stores.push(store);
        }
    }
    for sub in &mut subtopologies {
        for &m in &sub.nodes {
            for s in &nodes[m].stores {
                if !sub.stores.contains(s) {
                    sub.stores.push(s.clone());
                }
            }
        }
    }
    let stream_topics: Vec<crate::topology::TopicName> = nodes
        .iter()
        .filter_map(|n| match &n.kind {
            NodeKind::Source { topics, .. } => Some(topics.iter().cloned()),
            _ => None,
        })
        .flatten()
        .collect();
    let node_names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    super::global::check_and_number(
        &mut global_stores,
        &mut subtopologies,
        &stores,
        &stream_topics,
        &node_names,
    )?;
    Ok(Topology {
        nodes,
        stores,
        subtopologies,
        internal_topics,
        global_stores,
    })
}

fn find_cycle(at: usize, parents_of: &[Vec<usize>], mark: &mut [u8]) -> Option<usize> {
    mark[at] = 1;
    for &p in &parents_of[at] {
        match mark[p] {
            1 => return Some(p),
            0 => {
                if let Some(c) = find_cycle(p, parents_of, mark) {
                    return Some(c);
                }
            }
            _ => {}
        }
    }
    mark[at] = 2;
    None
}

fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (root(parent, a), root(parent, b));
    if ra != rb {
        // Keep the smaller index as root so components are numbered by their first node.
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[hi] = lo;
    }
}

fn find_subtopologies(
    nodes: &[crate::topology::NodeDef],
    parents_of: &[Vec<usize>],
    store_links: &[(String, String)],
    index: &HashMap<&str, usize>,
) -> Vec<SubTopology> {
    let mut parent: Vec<usize> = (0..nodes.len()).collect();
    for (child, ps) in parents_of.iter().enumerate() {
        for &p in ps {
            union(&mut parent, child, p);
        }
    }
    // Processors sharing a store run in the same task, hence the same sub-topology.
    let mut first_user: HashMap<&str, usize> = HashMap::new();
    for (proc_name, store) in store_links {
        if let Some(&p) = index.get(proc_name.as_str()) {
            match first_user.get(store.as_str()) {
                Some(&q) => union(&mut parent, p, q),
                None => {
                    first_user.insert(store, p);
                }
            }
        }
    }
    let mut by_root: Vec<(usize, Vec<usize>)> = Vec::new();
    for i in 0..nodes.len() {
        let r = root(&mut parent, i);
        match by_root.iter_mut().find(|(root, _)| *root == r) {
            Some((_, members)) => members.push(i),
            None => by_root.push((r, vec![i])),
        }
    }
    by_root.sort_by_key(|(r, _)| *r);
    by_root
        .into_iter()
        .enumerate()
        .map(|(id, (_, members))| {
            let mut source_topics = Vec::new();
            let mut sink_topics = Vec::new();
            let mut stores = Vec::new();
            for &m in &members {
                match &nodes[m].kind {
                    NodeKind::Source { topics, .. } => source_topics.extend(topics.iter().cloned()),
                    NodeKind::Sink {
                        target: SinkTarget::Topic(topic),
                    } if !sink_topics.contains(topic) => sink_topics.push(topic.clone()),
                    _ => {}
                }
                for s in &nodes[m].stores {
                    if !stores.contains(s) {
                        stores.push(s.clone());
                    }
                }
            }
            SubTopology {
                id: u32::try_from(id).unwrap_or(u32::MAX),
                nodes: members,
                source_topics,
                sink_topics,
                stores,
            }
        })
        .collect()
}
