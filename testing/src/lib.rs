//! Testing tools for Weir: real-broker fixtures (and, soon, the TopologyTestDriver).

pub mod cluster;

pub use cluster::KafkaCluster;
