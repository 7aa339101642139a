//! Sink nodes: how a topology writes to a topic (serdes, topic choice, partitioner).

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Data, ErasedProcessor, ErasedRecord, Punctuation};
use crate::record::{OutputRecord, Record, RecordMetadata};
use crate::serde::{SerializeContext, SharedSerde};
use crate::task::NodeContext;
use crate::topology::TopicName;

/// Chooses the destination topic of each record.
pub trait TopicNameExtractor<K, V>: Send + Sync {
    /// The topic for this record. `metadata` is the source record's, when there is one.
    fn extract(
        &self,
        key: Option<&K>,
        value: Option<&V>,
        metadata: Option<&RecordMetadata>,
    ) -> String;
}

impl<K, V, F> TopicNameExtractor<K, V> for F
where
    F: Fn(Option<&K>, Option<&V>, Option<&RecordMetadata>) -> String + Send + Sync,
{
    fn extract(
        &self,
        key: Option<&K>,
        value: Option<&V>,
        metadata: Option<&RecordMetadata>,
    ) -> String {
        self(key, value, metadata)
    }
}

/// Chooses the partition of each output record.
pub trait StreamPartitioner<K, V>: Send + Sync {
    /// A partition in `0..num_partitions`, or `None` for the producer's default
    /// (murmur2 of the serialized key, as Kafka's Java producer does).
    fn partition(
        &self,
        topic: &str,
        key: Option<&K>,
        value: Option<&V>,
        num_partitions: i32,
    ) -> Option<i32>;
}

impl<K, V, F> StreamPartitioner<K, V> for F
where
    F: Fn(&str, Option<&K>, Option<&V>, i32) -> Option<i32> + Send + Sync,
{
    fn partition(
        &self,
        topic: &str,
        key: Option<&K>,
        value: Option<&V>,
        num_partitions: i32,
    ) -> Option<i32> {
        self(topic, key, value, num_partitions)
    }
}

/// How to write a topic: serdes, an optional partitioner, an optional node
/// name (Kafka Streams' `Produced`).
pub struct Produced<K, V> {
    pub(crate) key_serde: SharedSerde<K>,
    pub(crate) value_serde: SharedSerde<V>,
    pub(crate) partitioner: Option<Arc<dyn StreamPartitioner<K, V>>>,
    pub(crate) name: Option<String>,
}

impl<K, V> Clone for Produced<K, V> {
    fn clone(&self) -> Self {
        Produced {
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            partitioner: self.partitioner.clone(),
            name: self.name.clone(),
        }
    }
}

impl<K: 'static, V: 'static> Produced<K, V> {
    /// Writes keys with `key_serde` and values with `value_serde`.
    pub fn with(key_serde: SharedSerde<K>, value_serde: SharedSerde<V>) -> Self {
        Produced {
            key_serde,
            value_serde,
            partitioner: None,
            name: None,
        }
    }

    /// Chooses partitions with `partitioner`.
    pub fn with_partitioner(mut self, partitioner: impl StreamPartitioner<K, V> + 'static) -> Self {
        self.partitioner = Some(Arc::new(partitioner));
        self
    }

    /// Names the sink node.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// Where a sink writes.
pub(crate) enum SinkTopic<K, V> {
    Static(TopicName),
    Dynamic(Arc<dyn TopicNameExtractor<K, V>>),
}

impl<K, V> Clone for SinkTopic<K, V> {
    fn clone(&self) -> Self {
        match self {
            SinkTopic::Static(t) => SinkTopic::Static(t.clone()),
            SinkTopic::Dynamic(e) => SinkTopic::Dynamic(e.clone()),
        }
    }
}

pub(crate) struct SinkNode<K, V> {
    pub(crate) topic: SinkTopic<K, V>,
    pub(crate) produced: Produced<K, V>,
    /// A static topic's name with the application id, resolved once.
    pub(crate) resolved: Option<Arc<str>>,
}

impl<K: Data, V: Data> SinkNode<K, V> {
    fn send(&mut self, ctx: &mut NodeContext<'_>, record: Record<K, V>) -> Result<()> {
        let topic: Arc<str> = match &self.topic {
            SinkTopic::Static(t) => match &self.resolved {
                Some(name) => Arc::clone(name),
                None => Arc::clone(
                    self.resolved
                        .insert(Arc::from(t.resolve(ctx.application_id()))),
                ),
            },
            SinkTopic::Dynamic(e) => Arc::from(e.extract(
                record.key.as_ref(),
                record.value.as_ref(),
                ctx.record_metadata(),
            )),
        };
        let mut headers = record.headers;
        let key = match &record.key {
            Some(k) => self
                .produced
                .key_serde
                .serialize(&mut SerializeContext::key(&topic, &mut headers), k)?,
            None => None,
        };
        let value = match &record.value {
            Some(v) => self
                .produced
                .value_serde
                .serialize(&mut SerializeContext::value(&topic, &mut headers), v)?,
            None => None,
        };
        let partition = match &self.produced.partitioner {
            Some(p) => match ctx.collector().partition_count(&topic)? {
                Some(n) => p.partition(&topic, record.key.as_ref(), record.value.as_ref(), n),
                None => None,
            },
            None => None,
        };
        ctx.send_output(OutputRecord {
            topic,
            partition,
            key,
            value,
            timestamp: record.timestamp,
            headers,
        })
    }
}

impl<K: Data, V: Data> ErasedProcessor for SinkNode<K, V> {
    fn init(&mut self, _ctx: &mut NodeContext<'_>) -> Result<()> {
        Ok(())
    }
    fn process(&mut self, ctx: &mut NodeContext<'_>, record: ErasedRecord) -> Result<()> {
        let record = record.typed::<K, V>(ctx.node_name())?;
        self.send(ctx, record)
    }
    fn punctuate(&mut self, _ctx: &mut NodeContext<'_>, _p: Punctuation) -> Result<()> {
        Ok(())
    }
    fn close(&mut self, _ctx: &mut NodeContext<'_>) -> Result<()> {
        Ok(())
    }
}
