//! Text and Mermaid descriptions of a topology.

use std::fmt::{self, Write as _};

use crate::topology::{NodeKind, SinkTarget, Topology};

/// A printable description of a [`Topology`]. `Display` gives text in the
/// spirit of Kafka Streams' `TopologyDescription`; [`mermaid`](Self::mermaid)
/// gives a Mermaid flowchart. Internal topics show without the application id
/// prefix, which is only known at run time.
pub struct TopologyDescription<'a> {
    topology: &'a Topology,
}

impl<'a> TopologyDescription<'a> {
    pub(crate) fn new(topology: &'a Topology) -> Self {
        TopologyDescription { topology }
    }

    fn names(&self, idx: &[usize]) -> String {
        if idx.is_empty() {
            return "none".to_string();
        }
        idx.iter()
            .map(|&i| self.topology.nodes[i].name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A Mermaid flowchart: one subgraph per sub-topology, topics as
    /// parallelogram nodes, stores as cylinders.
    pub fn mermaid(&self) -> String {
        let t = self.topology;
        let mut out = String::from("flowchart TD\n");
        let mut topics: Vec<String> = Vec::new();
        let topic_id = |name: &str, topics: &mut Vec<String>| -> String {
            let i = match topics.iter().position(|t| t == name) {
                Some(i) => i,
                None => {
                    topics.push(name.to_string());
                    topics.len() - 1
                }
            };
            format!("t{i}")
        };
        let mut edges = String::new();
        for sub in &t.subtopologies {
            let _ = writeln!(
                out,
                "    subgraph sub{}[\"Sub-topology {}\"]",
                sub.id, sub.id
            );
            for &i in &sub.nodes {
                let node = &t.nodes[i];
                let kind = match node.kind {
                    NodeKind::Source { .. } => "source",
                    NodeKind::Processor => "processor",
                    NodeKind::Sink { .. } => "sink",
                };
                let _ = writeln!(
                    out,
                    "        n{i}[\"{}<br/><i>{kind}</i>\"]",
                    escape(&node.name)
                );
                match &node.kind {
                    NodeKind::Source { topics: ts, .. } => {
                        for topic in ts {
                            let id = topic_id(topic.name(), &mut topics);
                            let _ = writeln!(edges, "    {id} --> n{i}");
                        }
                    }
                    NodeKind::Sink {
                        target: SinkTarget::Topic(topic),
                    } => {
                        let id = topic_id(topic.name(), &mut topics);
                        let _ = writeln!(edges, "    n{i} --> {id}");
                    }
                    _ => {}
                }
                for &c in &t.children_of(i) {
                    let _ = writeln!(edges, "    n{i} --> n{c}");
                }
                for store in &node.stores {
                    let _ = writeln!(
                        edges,
                        "    n{i} --- s_{}[(\"{}\")]",
                        sanitize(store),
                        escape(store)
                    );
                }
            }
            out.push_str("    end\n");
        }
        for (i, name) in topics.iter().enumerate() {
            let _ = writeln!(out, "    t{i}[/\"{}\"/]", escape(name));
        }
        out.push_str(&edges);
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('"', "#quot;")
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

impl fmt::Display for TopologyDescription<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.topology;
        writeln!(f, "Topologies:")?;
        let mut globals = t.global_stores.iter().peekable();
        for sub in &t.subtopologies {
            while let Some(g) = globals.next_if(|g| g.id < sub.id) {
                super::global::describe(f, g)?;
            }
            writeln!(f, "   Sub-topology: {}", sub.id)?;
            for &i in &sub.nodes {
                let node = &t.nodes[i];
                let children = t.children_of(i);
                let parents: Vec<usize> = node
                    .parents
                    .iter()
                    .filter_map(|p| t.node_index(p))
                    .collect();
                match &node.kind {
                    NodeKind::Source { topics, .. } => {
                        let names: Vec<&str> = topics.iter().map(|t| t.name()).collect();
                        writeln!(
                            f,
                            "    Source: {} (topics: [{}])",
                            node.name,
                            names.join(", ")
                        )?;
                        writeln!(f, "      --> {}", self.names(&children))?;
                    }
                    NodeKind::Processor => {
                        writeln!(
                            f,
                            "    Processor: {} (stores: [{}])",
                            node.name,
                            node.stores.join(", ")
                        )?;
                        writeln!(f, "      --> {}", self.names(&children))?;
                        writeln!(f, "      <-- {}", self.names(&parents))?;
                    }
                    NodeKind::Sink { target } => {
                        match target {
                            SinkTarget::Topic(topic) => {
                                writeln!(f, "    Sink: {} (topic: {})", node.name, topic.name())?
                            }
                            SinkTarget::Extractor => {
                                writeln!(f, "    Sink: {} (topic extractor)", node.name)?
                            }
                        }
                        writeln!(f, "      <-- {}", self.names(&parents))?;
                    }
                }
            }
            writeln!(f)?;
        }
        for g in globals {
            super::global::describe(f, g)?;
        }
        Ok(())
    }
}
