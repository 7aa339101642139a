//! Co-partitioning for joins: a stream whose key may have been changed
//! upstream is repartitioned by its new key before it joins, as Kafka
//! Streams does (`KStreamImpl.repartitionForJoin`).
//!
//! The repartition topic is `<application.id>-<name>-repartition`, `name`
//! being what the join passes:
//!
//! - a stream-table join: its name (`Joined::with_name`), else the name of
//!   the stream's node;
//! - a stream-stream join: its name with `-left` (this stream) or `-right`
//!   (the other stream), else the name of that stream's node.
//!
//! Unlike [`KStream::repartition`], which drops records without a key, a
//! join's repartition passes them on, as Kafka Streams' does: a left or
//! outer stream-stream join still emits them (KIP-962). The partition count
//! of the topic follows the topics it is joined with (see
//! [`Topology::plan_internal_topics`](crate::topology::Topology::plan_internal_topics)).

use crate::dsl::KStream;
use crate::processor::Data;
use crate::serde::SharedSerde;
use crate::topology::{Consumed, Produced, TopicName};

impl<K: Data, V: Data> KStream<K, V> {
    /// The stream a join reads: this stream when its records are still
    /// partitioned by their key, else this stream repartitioned through
    /// `<application.id>-<name>-repartition` (`name` empty: the name of this
    /// stream's node) written and read with the serdes given.
    ///
    /// A repartition without both serdes is a build error naming the join
    /// (by `name`) and the stream's node.
    #[allow(dead_code)]
    pub(crate) fn for_join(
        &self,
        name: &str,
        key_serde: Option<SharedSerde<K>>,
        value_serde: Option<SharedSerde<V>>,
    ) -> KStream<K, V> {
        if !self.key_changed() {
            return self.clone();
        }
        let name = if name.is_empty() {
            self.node_name().to_string()
        } else {
            name.to_string()
        };
        match (key_serde, value_serde) {
            (Some(key_serde), Some(value_serde)) => {
                self.repartition_for_join(&name, key_serde, value_serde)
            }
            (key_serde, value_serde) => {
                let missing = match (key_serde.is_none(), value_serde.is_none()) {
                    (true, true) => "key and value serdes",
                    (true, false) => "a key serde",
                    _ => "a value serde",
                };
                self.shared().borrow_mut().topology.problems.push(format!(
                    "the join '{name}' reads node '{}', whose key may have changed (map, \
                     flat_map, select_key or process upstream): it repartitions it through \
                     '<application.id>-{name}-repartition', which needs {missing} (give \
                     them to the join's Joined or StreamJoined)",
                    self.node_name()
                ));
                self.clone()
            }
        }
    }
}

impl<K: Data, V: Data> KStream<K, V> {
    /// Writes this stream to `<application.id>-<name>-repartition` and reads
    /// it back, records without a key included; the nodes are named as
    /// Kafka Streams names them (`<topic>-filter`, `-sink`, `-source`).
    fn repartition_for_join(
        &self,
        name: &str,
        key_serde: SharedSerde<K>,
        value_serde: SharedSerde<V>,
    ) -> KStream<K, V> {
        let topic = format!("{name}-repartition");
        let mut inner = self.shared().borrow_mut();
        inner.topology.add_internal_topic(&topic, None);
        let filter = format!("{topic}-filter");
        inner
            .topology
            .add_pass_through::<K, V>(&filter, &[self.node_name()]);
        inner.topology.add_sink_topic(
            &format!("{topic}-sink"),
            TopicName::internal(&topic),
            Produced::with(key_serde.clone(), value_serde.clone()),
            &[&filter],
        );
        let source = format!("{topic}-source");
        inner.topology.add_source_topics(
            &source,
            vec![TopicName::internal(&topic)],
            Consumed::with(key_serde, value_serde),
        );
        drop(inner);
        KStream::new(self.shared().clone(), source)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::dsl::{KStream, Repartitioned, StreamsBuilder};
    use crate::serde::Serdes;
    use crate::topology::{Consumed, Produced, TopicName, Topology};

    /// Forwards each record (a processor that could change the key).
    struct Forward;

    impl crate::processor::Processor<String, String> for Forward {
        fn process(
            &mut self,
            ctx: &mut dyn crate::processor::ProcessorContext<String, String>,
            record: crate::record::Record<String, String>,
        ) -> crate::error::Result<()> {
            ctx.forward(record)
        }
    }

    fn source(builder: &StreamsBuilder, topic: &str) -> KStream<String, String> {
        builder.stream(topic, Consumed::with(Serdes::string(), Serdes::string()))
    }

    /// Joins `stream` (as a stand-in for a join: the stream `for_join`
    /// returns written to "out") and builds.
    fn joined(builder: StreamsBuilder, stream: &KStream<String, String>, name: &str) -> Topology {
        stream
            .for_join(name, Some(Serdes::string()), Some(Serdes::string()))
            .to("out", Produced::with(Serdes::string(), Serdes::string()));
        builder.build().unwrap()
    }

    fn repartition_topics(topology: &Topology) -> Vec<String> {
        topology
            .internal_topics()
            .iter()
            .map(|t| t.topic.name().to_string())
            .collect()
    }

    #[test]
    fn key_changing_operators_mark_the_stream() {
        let builder = StreamsBuilder::new();
        let s = source(&builder, "a");
        assert!(!s.key_changed());
        let proc_out: KStream<String, String> = s.process(|| Forward, &[]);
        let changed = [
            s.map(|k, v| (v, k.unwrap_or_default())),
            s.flat_map(|k, v| vec![(v, k.unwrap_or_default())]),
            s.select_key(|_k, v| v.clone()),
            proc_out,
        ];
        for c in &changed {
            assert!(c.key_changed(), "{}", c.node_name());
            // Key-preserving operators keep the mark.
            assert!(c.filter(|_, _| true).key_changed());
            assert!(c.filter_not(|_, _| false).key_changed());
            assert!(c.map_values(|v| v).key_changed());
            assert!(c.map_values_with_key(|_, v| v).key_changed());
            assert!(c.flat_map_values(|v| vec![v]).key_changed());
            assert!(c.peek(|_, _| ()).key_changed());
            assert!(c
                .clone()
                .named(&format!("{}-n", c.node_name()))
                .key_changed());
            // A repartition clears it.
            let name = format!("{}-r", c.node_name());
            assert!(!c
                .repartition(Repartitioned::as_(
                    &name,
                    Serdes::string(),
                    Serdes::string()
                ))
                .key_changed());
        }
        // Key-preserving operators on an unchanged stream leave it unmarked.
        assert!(!s
            .filter(|_, _| true)
            .map_values(|v| v)
            .peek(|_, _| ())
            .key_changed());
        // A merge is marked when either side is.
        assert!(!s.merge(&source(&builder, "b")).key_changed());
        assert!(s.merge(&changed[2]).key_changed());
        assert!(changed[2].merge(&s).key_changed());
        // Branches keep their parent's mark.
        let branches = changed[0]
            .split()
            .branch("x", |_, _| true)
            .default_branch("rest");
        assert_eq!(branches.len(), 2);
        assert!(branches
            .names()
            .all(|n| branches.get(n).unwrap().key_changed()));
        let branches = s.split().branch("y", |_, _| true).default_branch("other");
        assert!(branches
            .names()
            .all(|n| !branches.get(n).unwrap().key_changed()));
    }

    #[test]
    fn an_unchanged_stream_joins_as_it_is() {
        let builder = StreamsBuilder::new();
        let s = source(&builder, "a").filter(|_, _| true);
        let topology = joined(builder, &s, "j");
        assert!(topology.internal_topics().is_empty());
        assert_eq!(topology.subtopologies().len(), 1);
    }

    #[test]
    fn a_re_keyed_stream_is_repartitioned_through_the_join_name() {
        let builder = StreamsBuilder::new();
        let s = source(&builder, "a").select_key(|_k, v| v.clone());
        let topology = joined(builder, &s, "orders-join-left");
        assert_eq!(
            repartition_topics(&topology),
            ["orders-join-left-repartition"]
        );
        let subs = topology.subtopologies();
        assert_eq!(subs.len(), 2);
        assert_eq!(
            subs[1].source_topics(),
            [TopicName::internal("orders-join-left-repartition")]
        );
        let description = topology.describe().to_string();
        for node in [
            "orders-join-left-repartition-filter",
            "orders-join-left-repartition-sink",
            "orders-join-left-repartition-source",
        ] {
            assert!(description.contains(node), "{description}");
        }
    }

    #[test]
    fn an_unnamed_join_repartitions_through_the_stream_node_name() {
        let builder = StreamsBuilder::new();
        let s = source(&builder, "a").map(|k, v| (v, k.unwrap_or_default()));
        let node = s.node_name().to_string();
        assert_eq!(node, "KSTREAM-MAP-0000000001");
        let topology = joined(builder, &s, "");
        assert_eq!(
            repartition_topics(&topology),
            ["KSTREAM-MAP-0000000001-repartition"]
        );
    }

    #[test]
    fn a_re_keyed_stream_without_serdes_fails_the_build_naming_the_join() {
        for (key, value, missing) in [
            (None, None, "key and value serdes"),
            (None, Some(Serdes::string()), "a key serde"),
            (Some(Serdes::string()), None, "a value serde"),
        ] {
            let builder = StreamsBuilder::new();
            let s = source(&builder, "a").select_key(|_k, v| v.clone());
            s.for_join("enrich", key, value)
                .to("out", Produced::with(Serdes::string(), Serdes::string()));
            let err = builder.build().unwrap_err().to_string();
            assert!(err.contains("join 'enrich'"), "{err}");
            assert!(err.contains("KSTREAM-KEY-SELECT-0000000001"), "{err}");
            assert!(err.contains("enrich-repartition"), "{err}");
            assert!(err.contains(missing), "{err}");
        }
        // Without a key change no serdes are needed.
        let builder = StreamsBuilder::new();
        source(&builder, "a")
            .for_join("enrich", None, None)
            .to("out", Produced::with(Serdes::string(), Serdes::string()));
        assert!(builder.build().is_ok());
    }
}
