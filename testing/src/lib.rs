//! Testing tools for Weir: the [`TopologyTestDriver`], which runs a topology
//! on the real task engine in memory, and real-broker fixtures
//! ([`KafkaCluster`]).
//!
//! A topology under test with the driver: pipe records into input topics,
//! read what the topology wrote from output topics. Time is explicit: record
//! timestamps drive stream time, and the wall clock moves only when told.
//!
//! ```
//! use weir_core::processor::{Processor, ProcessorContext};
//! use weir_core::topology::{Consumed, Produced, TopologyBuilder};
//! use weir_core::{Record, Result, Serdes};
//! use weir_testing::{KeyValue, TopologyTestDriver};
//!
//! /// Counts words per key and forwards the running count.
//! #[derive(Default)]
//! struct WordCount {
//!     counts: std::collections::HashMap<String, i64>,
//! }
//!
//! impl Processor<String, String, String, i64> for WordCount {
//!     fn process(
//!         &mut self,
//!         ctx: &mut dyn ProcessorContext<String, i64>,
//!         record: Record<String, String>,
//!     ) -> Result<()> {
//!         let text = record.value.clone().unwrap_or_default();
//!         for word in text.split_whitespace() {
//!             let count = self.counts.entry(word.to_lowercase()).or_default();
//!             *count += 1;
//!             let out = Record::new(word.to_lowercase(), *count, record.timestamp);
//!             ctx.forward(out)?;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let mut builder = TopologyBuilder::new();
//! builder
//!     .add_source("lines", ["text"], Consumed::with(Serdes::string(), Serdes::string()))
//!     .add_processor("count", WordCount::default, &["lines"])
//!     .add_sink("counts", "word-counts", Produced::with(Serdes::string(), Serdes::i64()), &["count"]);
//! let driver = TopologyTestDriver::with_defaults(builder.build()?);
//!
//! let mut text = driver.create_input_topic("text", Serdes::string(), Serdes::string());
//! let counts = driver.create_output_topic("word-counts", Serdes::string(), Serdes::i64());
//!
//! text.pipe_input("to be or not to be".to_string())?;
//! assert_eq!(counts.queue_size(), 6);
//! let table = counts.read_key_values_to_map()?;
//! assert_eq!(table.get("to"), Some(&2));
//! assert_eq!(table.get("not"), Some(&1));
//!
//! text.pipe_input("Be".to_string())?;
//! assert_eq!(counts.read_key_value()?, Some(KeyValue::new("be".to_string(), 3)));
//! driver.close()?;
//! # Ok::<(), weir_core::Error>(())
//! ```

pub mod cluster;
pub mod driver;

pub use cluster::KafkaCluster;
pub use driver::{
    CrashPoint, DriverConfig, KeyValue, KeyValueStoreView, MockClock, TestInputTopic,
    TestOutputTopic, TopologyTestDriver,
};
