//! Topic administration: create topics idempotently, read partition counts,
//! delete topics.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

use crate::client::block_on::block_on_timeout;
use crate::error::{classify, classify_code, Error, Result};
use crate::Connection;

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// Number of partitions.
    pub partitions: i32,
    /// Replication factor; `None` uses the broker's `default.replication.factor`.
    pub replication: Option<i32>,
    /// Topic configs (`cleanup.policy`, `retention.ms`, ...).
    pub configs: Vec<(String, String)>,
}

impl TopicSpec {
    /// A topic with `partitions` partitions and the broker's defaults otherwise.
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        TopicSpec {
            name: name.into(),
            partitions,
            replication: None,
            configs: Vec::new(),
        }
    }

    /// Sets the replication factor.
    pub fn replication(mut self, factor: i32) -> Self {
        self.replication = Some(factor);
        self
    }

    /// Adds a topic config.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.push((key.into(), value.into()));
        self
    }
}

/// An admin client that several calls share (the runtime's start-up checks
/// make several); dropping it hands the client to a thread of its own,
/// since destroying a librdkafka handle waits for its threads (~50 ms).
pub(crate) struct Admin<'c> {
    client: Option<AdminClient<DefaultClientContext>>,
    conn: &'c Connection,
}

impl<'c> Admin<'c> {
    /// An admin client for `conn`.
    pub(crate) fn new(conn: &'c Connection) -> Result<Self> {
        // The admin client is a producer-type handle, for which librdkafka asks the
        // broker to auto-create the topics its metadata requests name: reading a
        // missing topic's partition count would create it (with the broker's
        // default count) wherever `auto.create.topics.enable` is on, Kafka's default.
        let client = conn
            .client_config(&[("allow.auto.create.topics", "false")])
            .create()
            .map_err(|e| Error::client(&e))?;
        Ok(Admin {
            client: Some(client),
            conn,
        })
    }

    fn client(&self) -> Result<&AdminClient<DefaultClientContext>> {
        self.client.as_ref().ok_or_else(|| Error::Client {
            message: "the admin client is closed".to_string(),
            kind: weir_core::ErrorKind::Fatal,
        })
    }

    /// See [`create_topics`].
    pub(crate) fn create_topics(&self, topics: &[TopicSpec]) -> Result<()> {
        create_topics_with(self.client()?, self.conn, topics)
    }

    /// See [`partition_count`].
    pub(crate) fn partition_count(&self, topic: &str) -> Result<Option<i32>> {
        partition_count_with(self.client()?, self.conn, topic)
    }
}

impl Drop for Admin<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let closing = std::thread::Builder::new()
                .name("weir-admin-close".to_string())
                .spawn(move || drop(client));
            if let Err(e) = closing {
                tracing::debug!(error = %e, "closing the admin client on this thread");
            }
        }
    }
}

/// Creates the topics, or checks that they exist with the requested
/// partition count. Returns once every topic shows in the broker's
/// metadata, so that a client created next can use it.
///
/// Fails with [`Error::PartitionCountMismatch`] (naming the topic) when a
/// topic exists with another count. Bounded by [`Connection::timeout`].
pub fn create_topics(conn: &Connection, topics: &[TopicSpec]) -> Result<()> {
    if topics.is_empty() {
        // No admin client for nothing to do.
        return Ok(());
    }
    Admin::new(conn)?.create_topics(topics)
}

fn create_topics_with(
    admin: &AdminClient<DefaultClientContext>,
    conn: &Connection,
    topics: &[TopicSpec],
) -> Result<()> {
    if topics.is_empty() {
        return Ok(());
    }
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            let replication = match t.replication {
                Some(n) => TopicReplication::Fixed(n),
                None => TopicReplication::Fixed(-1),
            };
            t.configs.iter().fold(
                NewTopic::new(&t.name, t.partitions, replication),
                |nt, (k, v)| nt.set(k, v),
            )
        })
        .collect();
    let options = AdminOptions::new()
        .request_timeout(Some(conn.timeout()))
        .operation_timeout(Some(conn.timeout()));
    let names = topics
        .iter()
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let results = block_on_timeout(
        admin.create_topics(new_topics.iter(), &options),
        conn.timeout(),
    )
    .ok_or_else(|| Error::Timeout {
        operation: format!("creating topics {names}"),
        after: conn.timeout(),
    })?
    .map_err(|e| Error::Admin {
        topic: names.clone(),
        message: e.to_string(),
        kind: classify(&e),
    })?;

    // Created or already there, each topic is waited for until the broker's
    // metadata shows it (it can lag the controller), and its count checked.
    for result in results {
        let topic = match result {
            Ok(topic) => topic,
            Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => topic,
            Err((topic, code)) => {
                return Err(Error::Admin {
                    message: format!("create failed: {code}"),
                    topic,
                    kind: classify_code(code),
                })
            }
        };
        let expected = topics
            .iter()
            .find(|t| t.name == topic)
            .map_or(0, |t| t.partitions);
        match visible_partition_count(admin, conn, &topic)? {
            Some(actual) if actual == expected => {}
            Some(actual) => {
                return Err(Error::PartitionCountMismatch {
                    topic,
                    expected,
                    actual,
                })
            }
            None => return Err(Error::UnknownTopic { topic }),
        }
    }
    Ok(())
}

/// The partition count of a topic the broker says exists: another client
/// may have created it a moment ago, and the metadata can lag behind the
/// creation, so an unknown topic is asked for again within [`Connection::timeout`].
fn visible_partition_count(
    admin: &AdminClient<DefaultClientContext>,
    conn: &Connection,
    topic: &str,
) -> Result<Option<i32>> {
    let start = std::time::Instant::now();
    loop {
        let count = partition_count_with(admin, conn, topic)?;
        if count.is_some() || start.elapsed() >= conn.timeout() {
            return Ok(count);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Deletes `topic` and waits until the broker's metadata no longer shows
/// it (within [`Connection::timeout`]). A topic that does not exist is an
/// [`Error::UnknownTopic`].
pub fn delete_topic(conn: &Connection, topic: &str) -> Result<()> {
    let admin = Admin::new(conn)?;
    let client = admin.client()?;
    let options = AdminOptions::new()
        .request_timeout(Some(conn.timeout()))
        .operation_timeout(Some(conn.timeout()));
    let results = block_on_timeout(client.delete_topics(&[topic], &options), conn.timeout())
        .ok_or_else(|| Error::Timeout {
            operation: format!("deleting topic {topic}"),
            after: conn.timeout(),
        })?
        .map_err(|e| Error::Admin {
            topic: topic.to_owned(),
            message: e.to_string(),
            kind: classify(&e),
        })?;
    for result in results {
        match result {
            Ok(_) => {}
            Err((topic, RDKafkaErrorCode::UnknownTopicOrPartition)) => {
                return Err(Error::UnknownTopic { topic })
            }
            Err((topic, code)) => {
                return Err(Error::Admin {
                    message: format!("delete failed: {code}"),
                    topic,
                    kind: classify_code(code),
                })
            }
        }
    }
    let start = std::time::Instant::now();
    while partition_count_with(client, conn, topic)?.is_some() {
        if start.elapsed() >= conn.timeout() {
            return Err(Error::Timeout {
                operation: format!("waiting for topic {topic} to be gone"),
                after: conn.timeout(),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}

/// The number of partitions of `topic`, or `None` when it does not exist.
pub fn partition_count(conn: &Connection, topic: &str) -> Result<Option<i32>> {
    Admin::new(conn)?.partition_count(topic)
}

fn partition_count_with(
    admin: &AdminClient<DefaultClientContext>,
    conn: &Connection,
    topic: &str,
) -> Result<Option<i32>> {
    let metadata = admin
        .inner()
        .fetch_metadata(Some(topic), conn.timeout())
        .map_err(|e| Error::Admin {
            topic: topic.to_owned(),
            message: e.to_string(),
            kind: classify(&e),
        })?;
    let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(None);
    };
    match t.error() {
        None => Ok(Some(
            i32::try_from(t.partitions().len()).unwrap_or(i32::MAX),
        )),
        Some(code) => {
            let code = RDKafkaErrorCode::from(code);
            if code == RDKafkaErrorCode::UnknownTopicOrPartition {
                Ok(None)
            } else {
                Err(Error::Admin {
                    topic: topic.to_owned(),
                    message: format!("metadata: {code}"),
                    kind: classify_code(code),
                })
            }
        }
    }
}
