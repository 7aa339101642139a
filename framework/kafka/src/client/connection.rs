//! Where the cluster is and how clients talk to it.

use std::time::Duration;

use rdkafka::config::ClientConfig;

/// The address of a Kafka cluster plus extra client properties shared by
/// every client created from it.
///
/// ```
/// use weir_kafka::Connection;
/// let conn = Connection::new("127.0.0.1:9092").with_property("client.id", "orders-app");
/// assert_eq!(conn.bootstrap_servers(), "127.0.0.1:9092");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    bootstrap_servers: String,
    properties: Vec<(String, String)>,
    timeout: Duration,
}

impl Connection {
    /// The default bound on a single client operation (30 s).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// A connection to the cluster at `bootstrap_servers` (`host:port[,host:port...]`).
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        Connection {
            bootstrap_servers: bootstrap_servers.into(),
            properties: Vec::new(),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// Adds a librdkafka client property (Kafka's names) to every client
    /// created from this connection. Later values of a key win.
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((key.into(), value.into()));
        self
    }

    /// Sets the bound on a single client operation (an admin request, a
    /// flush, a transaction step, reading a topic to its end).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The bootstrap servers.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// The bound on a single client operation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The client configuration: bootstrap servers and Weir's client
    /// defaults, then `extra`, then the properties of this connection
    /// (which therefore win).
    pub(crate) fn client_config(&self, extra: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_servers);
        crate::client::tuning::apply(&mut config, crate::client::tuning::CLIENT);
        for (key, value) in extra {
            config.set(*key, *value);
        }
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}
