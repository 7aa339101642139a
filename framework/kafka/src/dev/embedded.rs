//! An in-process Kafka broker for development: librdkafka's mock cluster.
//!
//! **For development and demos only.** The mock cluster speaks enough of the
//! Kafka protocol for producers, consumer groups and offset commits, but it is
//! not Kafka:
//!
//! - it does not filter aborted transactions under `read_committed`, so it
//!   cannot show or test exactly-once (use a real broker for that);
//! - it has no CreateTopics admin API: [`create_topics`](crate::create_topics)
//!   fails against it, so create topics with [`EmbeddedBroker::create_topics`];
//! - it auto-creates unknown topics (4 partitions) when a producer writes to
//!   them, where a real broker may refuse;
//! - it keeps everything in memory and loses it when dropped.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::mocking::MockCluster;
use weir_core::ErrorKind;

use crate::client::admin::{partition_count, TopicSpec};
use crate::error::{classify, Error, Result};
use crate::Connection;

/// What the thread that owns the mock cluster is asked to do.
enum Command {
    CreateTopic {
        name: String,
        partitions: i32,
        reply: mpsc::Sender<std::result::Result<(), KafkaError>>,
    },
}

/// A single-broker, in-process Kafka cluster (librdkafka's mock cluster) for
/// development, demos and quick local runs. **Not for production, and not for
/// exactly-once:** it does not filter aborted transactions (see the [module
/// docs](self) for what else it lacks).
///
/// The cluster lives on a thread of its own (librdkafka's mock cluster handle
/// is not `Send`) until the broker is dropped or [`stop`](Self::stop)ped.
///
/// ```no_run
/// use weir_kafka::{produce_batch, Connection, EmbeddedBroker, ProduceRecord, TopicSpec};
///
/// let broker = EmbeddedBroker::start()?;
/// broker.create_topics(&[TopicSpec::new("readings", 1)])?;
/// let conn = Connection::new(broker.bootstrap_servers());
/// produce_batch(&conn, "readings", &[ProduceRecord::new("pump-7", "93.5")])?;
/// # Ok::<(), weir_kafka::Error>(())
/// ```
pub struct EmbeddedBroker {
    bootstrap_servers: String,
    commands: Option<mpsc::Sender<Command>>,
    thread: Option<JoinHandle<()>>,
}

fn embedded_error(message: impl Into<String>) -> Error {
    Error::Client {
        message: message.into(),
        kind: ErrorKind::Fatal,
    }
}

impl EmbeddedBroker {
    /// Starts a one-broker mock cluster listening on a free loopback port.
    pub fn start() -> Result<EmbeddedBroker> {
        let (ready_tx, ready_rx) = mpsc::channel::<std::result::Result<String, KafkaError>>();
        let (commands, inbox) = mpsc::channel::<Command>();
        let thread = std::thread::Builder::new()
            .name("weir-embedded-broker".to_string())
            .spawn(move || {
                let cluster = match MockCluster::new(1) {
                    Ok(cluster) => cluster,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                if ready_tx.send(Ok(cluster.bootstrap_servers())).is_err() {
                    return;
                }
                // Serve commands until every sender is gone (stop or drop).
                while let Ok(command) = inbox.recv() {
                    match command {
                        Command::CreateTopic {
                            name,
                            partitions,
                            reply,
                        } => {
                            let _ = reply.send(cluster.create_topic(&name, partitions, 1));
                        }
                    }
                }
                drop(cluster);
            })
            .map_err(|e| embedded_error(format!("cannot spawn the embedded broker thread: {e}")))?;
        let bootstrap_servers = match ready_rx.recv() {
            Ok(Ok(bootstrap)) => bootstrap,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(Error::Client {
                    message: format!("cannot start the embedded broker: {e}"),
                    kind: classify(&e),
                });
            }
            Err(_) => {
                let _ = thread.join();
                return Err(embedded_error(
                    "the embedded broker thread stopped before the cluster started",
                ));
            }
        };
        tracing::info!(bootstrap = %bootstrap_servers, "embedded development broker started");
        Ok(EmbeddedBroker {
            bootstrap_servers,
            commands: Some(commands),
            thread: Some(thread),
        })
    }

    /// The `bootstrap.servers` string clients use to reach this broker.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// A [`Connection`] to this broker.
    pub fn connection(&self) -> Connection {
        Connection::new(self.bootstrap_servers.clone())
    }

    /// Creates the topics, or checks that they exist with the requested
    /// partition count (as [`create_topics`](crate::create_topics) does on a
    /// real cluster, which the mock cluster's missing CreateTopics API rules
    /// out here). Replication factors and topic configs are ignored: there is
    /// one broker, and it keeps no retention or compaction settings.
    pub fn create_topics(&self, topics: &[TopicSpec]) -> Result<()> {
        let commands = self
            .commands
            .as_ref()
            .ok_or_else(|| embedded_error("the embedded broker is stopped"))?;
        for topic in topics {
            let (reply, answer) = mpsc::channel();
            commands
                .send(Command::CreateTopic {
                    name: topic.name.clone(),
                    partitions: topic.partitions,
                    reply,
                })
                .map_err(|_| embedded_error("the embedded broker thread has stopped"))?;
            let result = answer
                .recv()
                .map_err(|_| embedded_error("the embedded broker thread has stopped"))?;
            match result {
                Ok(()) => {}
                Err(KafkaError::MockCluster(RDKafkaErrorCode::TopicAlreadyExists)) => {
                    match partition_count(&self.connection(), &topic.name)? {
                        Some(actual) if actual == topic.partitions => {}
                        Some(actual) => {
                            return Err(Error::PartitionCountMismatch {
                                topic: topic.name.clone(),
                                expected: topic.partitions,
                                actual,
                            })
                        }
                        None => {
                            return Err(Error::UnknownTopic {
                                topic: topic.name.clone(),
                            })
                        }
                    }
                }
                Err(e) => {
                    return Err(Error::Admin {
                        topic: topic.name.clone(),
                        message: e.to_string(),
                        kind: classify(&e),
                    })
                }
            }
        }
        Ok(())
    }

    /// Stops the cluster and waits for its thread to finish. Clients still
    /// connected to it lose their connection.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Dropping the only sender ends the owner thread's loop; it drops the cluster.
        self.commands = None;
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::warn!("the embedded broker thread panicked");
            }
            tracing::info!(bootstrap = %self.bootstrap_servers, "embedded development broker stopped");
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("running", &self.thread.is_some())
            .finish()
    }
}
