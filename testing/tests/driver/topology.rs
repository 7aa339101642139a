//! describe() and the topology validation errors.

use super::*;

#[test]
fn describe_two_subtopologies_golden() {
    let topology = through_mid();
    let expected = "\
Topologies:
   Sub-topology: 0
    Source: src-a (topics: [a])
      --> upper
    Processor: upper (stores: [])
      --> to-mid
      <-- src-a
    Sink: to-mid (topic: mid)
      <-- upper

   Sub-topology: 1
    Source: src-mid (topics: [mid])
      --> tag
    Processor: tag (stores: [])
      --> to-out
      <-- src-mid
    Sink: to-out (topic: out)
      <-- tag

";
    assert_eq!(topology.describe().to_string(), expected);

    let mermaid = topology.describe().mermaid();
    assert!(mermaid.starts_with("flowchart TD\n"), "{mermaid}");
    for needle in [
        "subgraph sub0",
        "subgraph sub1",
        "src-a",
        "to-out",
        "[/\"mid\"/]",
    ] {
        assert!(mermaid.contains(needle), "missing {needle} in\n{mermaid}");
    }
}

fn expect_topology_error(builder: TopologyBuilder, needles: &[&str]) {
    let err = builder.build().map(|_| ()).unwrap_err();
    assert!(matches!(err, Error::Topology(_)), "{err:?}");
    let text = err.to_string();
    for n in needles {
        assert!(text.contains(n), "'{text}' does not name {n}");
    }
}

struct NoStore;
impl StateStore for NoStore {
    fn name(&self) -> &str {
        "st"
    }
    fn persistent(&self) -> bool {
        false
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

#[test]
fn every_topology_validation_error_names_the_node() {
    let mut b = TopologyBuilder::new();
    b.add_source("s", ["t"], strings())
        .add_processor("p", || Upper, &["s"])
        .add_processor("p", || Upper, &["s"]);
    expect_topology_error(b, &["'p'", "used twice"]);

    let mut b = TopologyBuilder::new();
    b.add_source("s", ["t"], strings())
        .add_processor("p", || Upper, &["nope"]);
    expect_topology_error(b, &["processor 'p'", "unknown parent 'nope'"]);

    let mut b = TopologyBuilder::new();
    b.add_source("s", ["t"], strings())
        .add_processor("p1", || Upper, &["s", "p2"])
        .add_processor("p2", || Upper, &["p1"]);
    expect_topology_error(b, &["cycle", "'p1'"]);

    let mut b = TopologyBuilder::new();
    b.add_source("s1", ["t"], strings())
        .add_source("s2", ["t"], strings());
    expect_topology_error(b, &["topic 't'", "'s1'", "'s2'"]);

    let mut b = TopologyBuilder::new();
    b.add_source("s", ["t"], strings())
        .add_processor("route", || Route, &["s"]);
    expect_topology_error(b, &["processor 'route'", "parent 's'", "i64", "String"]);

    let mut b = TopologyBuilder::new();
    b.add_source("s", ["t"], strings())
        .add_processor("orphan", || Upper, &[]);
    expect_topology_error(b, &["processor 'orphan' has no parent"]);

    let mut b = TopologyBuilder::new();
    b.add_source("s", ["t"], strings())
        .add_sink("snk", "out", to_strings(), &["s"])
        .add_processor("p", || Upper, &["snk"]);
    expect_topology_error(b, &["sink 'snk'", "processor 'p'"]);

    let supplier: StoreSupplier = Arc::new(|_| Ok(Box::new(NoStore) as Box<dyn StateStore>));
    let mut b = TopologyBuilder::new();
    b.add_source("s", ["t"], strings())
        .add_processor("p", || Upper, &["s"])
        .add_state_store("st", supplier, &["ghost"]);
    expect_topology_error(b, &["state store 'st'", "unknown processor 'ghost'"]);
}
