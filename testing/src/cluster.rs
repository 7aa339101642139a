//! A real Kafka broker for integration tests, shared by the tests of one
//! test process.
//!
//! [`KafkaCluster::get`] picks the broker, in this order:
//!
//! 1. `WEIR_BOOTSTRAP_SERVERS`, when set: a broker someone else runs;
//! 2. otherwise the launcher `testing/kafka/kafka` (Apache Kafka
//!    [`KAFKA_VERSION`] run with Java; no Docker engine needed), started once
//!    per test process with a state directory of its own and stopped by its
//!    watchdog when the process ends, even if killed.
//!
//! The launcher is found at run time, not through a path baked in at build
//! time (a build directory shared by several clones would otherwise run
//! another checkout's launcher): `WEIR_KAFKA_LAUNCHER` when set, else
//! `testing/kafka/kafka` in the nearest Weir checkout above the current
//! directory (cargo runs tests from their package's directory, so a clone's
//! tests use that clone's launcher). See [`launcher_path`].
//!
//! [`KafkaCluster::secured`] is a second broker of the process, started by
//! the launcher in its secured mode (`start --sasl-acl`: SASL/PLAIN and
//! ACLs enforced); its own operations run as the super user `admin`, the
//! application under test connects as an ordinary user
//! ([`KafkaCluster::user_properties`]) whose rights the test grants and
//! revokes ([`KafkaCluster::acl`]).
//!
//! Tests share the broker, so each one uses its own names
//! ([`KafkaCluster::unique_topic`] and friends) and can run in parallel.
//!
//! ```no_run
//! use weir_testing::KafkaCluster;
//! use weir_kafka::ProduceRecord;
//!
//! let kafka = KafkaCluster::get().unwrap();
//! let topic = KafkaCluster::unique_topic("doc_example");
//! kafka.create_topic(&topic, 3).unwrap();
//! kafka.produce(&topic, &[ProduceRecord::new("k", "v")]).unwrap();
//! assert_eq!(kafka.read_committed(&topic).unwrap().len(), 1);
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use weir_kafka::{
    Connection, ConsumedRecord, Isolation, ProduceRecord, RecordPosition, TopicSpec,
    TransactionalProducer,
};

/// The environment variable naming an already running broker to use.
pub const BOOTSTRAP_ENV: &str = "WEIR_BOOTSTRAP_SERVERS";
/// The environment variable naming the broker launcher to run instead of
/// the checkout's `testing/kafka/kafka`.
pub const LAUNCHER_ENV: &str = "WEIR_KAFKA_LAUNCHER";
/// The Apache Kafka version the launcher runs.
pub const KAFKA_VERSION: &str = "4.3.1";
/// The launcher's path inside a Weir checkout.
const LAUNCHER_IN_CHECKOUT: &str = "testing/kafka/kafka";

/// Bound on starting the broker through the launcher; the first start also
/// downloads Kafka with Maven.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(600);

/// Errors of the broker fixture.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No broker could be started; `stderr` holds the launcher's output.
    #[error("cannot start the test Kafka broker: {message}\n--- launcher stderr ---\n{stderr}")]
    Start {
        /// What went wrong.
        message: String,
        /// The launcher's standard error (tail of the broker log included).
        stderr: String,
    },
    /// A Kafka client operation failed.
    #[error(transparent)]
    Kafka(#[from] weir_kafka::Error),
    /// The launcher could not be found (see [`launcher_path`]).
    #[error("cannot find the Kafka launcher: {0}")]
    NoLauncher(String),
    /// A tool run through the launcher failed or ran past its bound.
    #[error("{tool} failed ({status}): {stderr}")]
    Tool {
        /// The tool.
        tool: &'static str,
        /// Its exit status, or how it was stopped.
        status: String,
        /// Its standard error.
        stderr: String,
    },
}

/// Where the broker of a [`KafkaCluster`] comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BrokerSource {
    /// `WEIR_BOOTSTRAP_SERVERS` named it.
    External,
    /// The launcher started it, with this state directory.
    Launcher {
        /// The launcher's `--state-dir` (holds `broker.log`).
        state_dir: PathBuf,
    },
}

/// A handle to the test process's shared Kafka broker.
#[derive(Debug)]
pub struct KafkaCluster {
    bootstrap: String,
    source: BrokerSource,
    /// Client properties of every connection of the fixture (the super
    /// user's credentials on a secured broker).
    properties: Vec<(String, String)>,
}

static CLUSTER: OnceLock<Result<KafkaCluster, (String, String)>> = OnceLock::new();
static SECURED: OnceLock<Result<KafkaCluster, (String, String)>> = OnceLock::new();

/// The users of a secured broker (`testing/kafka/kafka start --sasl-acl`)
/// and their passwords; `admin` is the super user.
pub const SECURED_USERS: [(&str, &str); 3] = [
    ("admin", "admin-secret"),
    ("app", "app-secret"),
    ("other", "other-secret"),
];

impl KafkaCluster {
    /// The shared broker, started on first use (see the module docs).
    pub fn get() -> Result<&'static KafkaCluster, ClusterError> {
        match CLUSTER.get_or_init(Self::start) {
            Ok(cluster) => Ok(cluster),
            Err((message, stderr)) => Err(ClusterError::Start {
                message: message.clone(),
                stderr: stderr.clone(),
            }),
        }
    }

    /// The process's secured broker (SASL/PLAIN, ACLs enforced), started on
    /// first use by the launcher whatever `WEIR_BOOTSTRAP_SERVERS` says.
    /// The fixture's own operations run as the super user `admin`.
    pub fn secured() -> Result<&'static KafkaCluster, ClusterError> {
        match SECURED.get_or_init(Self::start_secured) {
            Ok(cluster) => Ok(cluster),
            Err((message, stderr)) => Err(ClusterError::Start {
                message: message.clone(),
                stderr: stderr.clone(),
            }),
        }
    }

    fn start_secured() -> Result<KafkaCluster, (String, String)> {
        remove_stale_state_dirs();
        let state_dir = std::env::temp_dir().join(format!(
            "{STATE_DIR_PREFIX}{SECURED_DIR_INFIX}{}",
            std::process::id()
        ));
        let bootstrap = launch(&state_dir, true)?;
        let mut cluster = KafkaCluster::new(bootstrap, BrokerSource::Launcher { state_dir });
        cluster.properties = sasl_properties("admin").ok_or_else(|| {
            (
                "no credentials for the super user".to_owned(),
                String::new(),
            )
        })?;
        Ok(cluster)
    }

    /// The client properties (`security.protocol`, `sasl.*`) that connect
    /// as `user` (one of [`SECURED_USERS`]) to the secured broker; `None`
    /// for an unknown user.
    pub fn user_properties(user: &str) -> Option<Vec<(String, String)>> {
        sasl_properties(user)
    }

    /// Runs Kafka's ACL tool (`AclCommand`) as the super user on the
    /// secured broker with `args` (`--add`/`--remove --force`, principals,
    /// operations, resources) and returns its standard output. Killed after
    /// two minutes.
    pub fn acl(&self, args: &[&str]) -> Result<String, ClusterError> {
        let BrokerSource::Launcher { state_dir } = &self.source else {
            return Err(ClusterError::Tool {
                tool: "acl",
                status: format!("not supported for a {:?} broker", self.source),
                stderr: String::new(),
            });
        };
        let mut cmd = Command::new(launcher_path()?);
        cmd.arg("acl")
            .arg("--state-dir")
            .arg(state_dir)
            .arg("--")
            .args(args);
        let timeout = Duration::from_secs(120);
        let out = run_bounded(cmd, timeout).map_err(|stderr| ClusterError::Tool {
            tool: "acl",
            status: format!("not finished within {timeout:?}"),
            stderr,
        })?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(ClusterError::Tool {
                tool: "acl",
                status: out.status.to_string(),
                stderr: out.stderr,
            })
        }
    }

    fn start() -> Result<KafkaCluster, (String, String)> {
        if let Ok(bootstrap) = std::env::var(BOOTSTRAP_ENV) {
            if !bootstrap.trim().is_empty() {
                return Ok(KafkaCluster::new(
                    bootstrap.trim().to_owned(),
                    BrokerSource::External,
                ));
            }
        }
        remove_stale_state_dirs();
        let state_dir =
            std::env::temp_dir().join(format!("{STATE_DIR_PREFIX}{}", std::process::id()));
        let bootstrap = launch(&state_dir, false)?;
        Ok(KafkaCluster::new(
            bootstrap,
            BrokerSource::Launcher { state_dir },
        ))
    }

    fn new(bootstrap: String, source: BrokerSource) -> Self {
        KafkaCluster {
            bootstrap,
            source,
            properties: Vec::new(),
        }
    }

    /// The broker's bootstrap address (`127.0.0.1:PORT`).
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// Where the broker comes from.
    pub fn source(&self) -> &BrokerSource {
        &self.source
    }

    /// Stops the broker and starts it again with the same data and address
    /// (clients reconnect by themselves), for fault tests. Only for a broker
    /// the launcher started; every test of the process sees the outage, so
    /// put fault tests in a test file of their own.
    pub fn restart(&self) -> Result<(), ClusterError> {
        self.restart_after(Duration::ZERO)
    }

    /// Like [`restart`](Self::restart), but the broker stays stopped for
    /// `down` (whole seconds) before it starts again: a broker outage of a
    /// chosen length. Returns once the broker is back.
    pub fn restart_after(&self, down: Duration) -> Result<(), ClusterError> {
        let BrokerSource::Launcher { state_dir } = &self.source else {
            return Err(ClusterError::Tool {
                tool: "restart",
                status: format!("not supported for a {:?} broker", self.source),
                stderr: String::new(),
            });
        };
        let mut cmd = Command::new(launcher_path()?);
        cmd.arg("restart").arg("--state-dir").arg(state_dir);
        if !down.is_zero() {
            cmd.arg("--down-for").arg(down.as_secs().to_string());
        }
        let timeout = Duration::from_secs(180) + down;
        let out = run_bounded(cmd, timeout).map_err(|stderr| ClusterError::Tool {
            tool: "restart",
            status: format!("not finished within {timeout:?}"),
            stderr,
        })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(ClusterError::Tool {
                tool: "restart",
                status: out.status.to_string(),
                stderr: out.stderr,
            })
        }
    }

    /// A weir-kafka connection to the broker (30 s operation bound), as
    /// the super user on the secured broker.
    pub fn connection(&self) -> Connection {
        self.properties.iter().fold(
            Connection::new(self.bootstrap.clone()),
            |conn, (key, value)| conn.with_property(key, value),
        )
    }

    /// A name unique to this call: `<prefix>-<test>-<random>`, with every
    /// character Kafka does not allow in names replaced by `-`.
    pub fn unique_name(prefix: &str, test: &str) -> String {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let raw = format!("{prefix}-{test}-{}", &suffix[..12]);
        raw.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    }

    /// A fresh topic name for `test`.
    pub fn unique_topic(test: &str) -> String {
        Self::unique_name("topic", test)
    }

    /// A fresh consumer group id for `test`.
    pub fn unique_group(test: &str) -> String {
        Self::unique_name("group", test)
    }

    /// A fresh `transactional.id` for `test`.
    pub fn unique_transactional_id(test: &str) -> String {
        Self::unique_name("txn", test)
    }

    /// Creates `topic` with `partitions` partitions; succeeds if it already
    /// exists with that count, fails naming the topic otherwise.
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), ClusterError> {
        weir_kafka::create_topics(&self.connection(), &[TopicSpec::new(topic, partitions)])?;
        Ok(())
    }

    /// Deletes `topic`; returns once the broker's metadata no longer shows it.
    pub fn delete_topic(&self, topic: &str) -> Result<(), ClusterError> {
        weir_kafka::delete_topic(&self.connection(), topic)?;
        Ok(())
    }

    /// Produces `records` to `topic` and waits for their acknowledgements.
    pub fn produce(
        &self,
        topic: &str,
        records: &[ProduceRecord],
    ) -> Result<Vec<RecordPosition>, ClusterError> {
        Ok(weir_kafka::produce_batch(
            &self.connection(),
            topic,
            records,
        )?)
    }

    /// A transactional producer with `transactional_id`, already initialised.
    pub fn transactional_producer(
        &self,
        transactional_id: &str,
    ) -> Result<TransactionalProducer, ClusterError> {
        let producer = TransactionalProducer::new(&self.connection(), transactional_id)?;
        producer.init()?;
        Ok(producer)
    }

    /// Everything in `topic` up to its current end, with `isolation`.
    /// A retriable error (a leader moving, metadata not yet there, as a
    /// loaded broker gives now and then) is retried, at most 5 times over a
    /// few seconds; any other error, or the last one, is returned.
    pub fn read_to_end(
        &self,
        topic: &str,
        isolation: Isolation,
    ) -> Result<Vec<ConsumedRecord>, ClusterError> {
        let mut attempt = 0;
        loop {
            match weir_kafka::read_to_end(&self.connection(), topic, isolation) {
                Err(e) if e.kind() == weir_core::ErrorKind::Retriable && attempt < 5 => {
                    attempt += 1;
                    tracing::debug!(topic, attempt, error = %e, "retrying a read to the end");
                    std::thread::sleep(Duration::from_millis(200 * attempt));
                }
                other => return Ok(other?),
            }
        }
    }

    /// Everything committed in `topic` up to its last stable offset.
    pub fn read_committed(&self, topic: &str) -> Result<Vec<ConsumedRecord>, ClusterError> {
        self.read_to_end(topic, Isolation::ReadCommitted)
    }

    /// Everything in `topic` up to its high watermark, aborted records included.
    pub fn read_uncommitted(&self, topic: &str) -> Result<Vec<ConsumedRecord>, ClusterError> {
        self.read_to_end(topic, Isolation::ReadUncommitted)
    }

    /// Runs Kafka's Java console consumer (read_committed) through the
    /// launcher with `args` (`--topic`, `--from-beginning`, `--max-messages`,
    /// `--timeout-ms`, `--formatter-property print.key=true`, ...) and returns
    /// its standard output, line by line. Killed after `timeout`.
    pub fn console_consumer(
        &self,
        args: &[&str],
        timeout: Duration,
    ) -> Result<Vec<String>, ClusterError> {
        let mut cmd = Command::new(launcher_path()?);
        cmd.args(["console-consumer", "--bootstrap", &self.bootstrap, "--"])
            .args(args);
        let out = run_bounded(cmd, timeout).map_err(|stderr| ClusterError::Tool {
            tool: "console-consumer",
            status: format!("not finished within {timeout:?}"),
            stderr,
        })?;
        if !out.status.success() {
            return Err(ClusterError::Tool {
                tool: "console-consumer",
                status: out.status.to_string(),
                stderr: out.stderr,
            });
        }
        Ok(out.stdout.lines().map(str::to_owned).collect())
    }

    /// The values of `topic` as Kafka's Java console consumer sees them under
    /// read_committed: reads from the beginning until `max_messages` arrive
    /// or nothing arrives for `idle` (then the consumer stops by itself).
    pub fn java_read_committed_values(
        &self,
        topic: &str,
        max_messages: usize,
        idle: Duration,
    ) -> Result<Vec<String>, ClusterError> {
        let max = max_messages.to_string();
        let idle_ms = idle.as_millis().to_string();
        self.console_consumer(
            &[
                "--topic",
                topic,
                "--from-beginning",
                "--max-messages",
                &max,
                "--timeout-ms",
                &idle_ms,
            ],
            idle + Duration::from_secs(60),
        )
    }
}

const STATE_DIR_PREFIX: &str = "weir-kafka-test-";
/// After [`STATE_DIR_PREFIX`] in the state directory of a secured broker.
const SECURED_DIR_INFIX: &str = "sasl-";

/// The SASL/PLAIN client properties of `user` on a secured broker.
fn sasl_properties(user: &str) -> Option<Vec<(String, String)>> {
    let (name, password) = SECURED_USERS.iter().find(|(name, _)| *name == user)?;
    Some(
        [
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", name),
            ("sasl.password", password),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    )
}

/// Removes the launcher state directories (logs only, by then) of earlier
/// test processes that have ended and whose broker is stopped.
fn remove_stale_state_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(STATE_DIR_PREFIX))
            .map(|p| p.strip_prefix(SECURED_DIR_INFIX).unwrap_or(p))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let owner_alive = Path::new("/proc").join(pid.to_string()).exists();
        let dir = entry.path();
        if !owner_alive && !dir.join("pid").exists() && !dir.join("data").exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// The broker launcher to run: the file `WEIR_KAFKA_LAUNCHER` names when it
/// is set, else `testing/kafka/kafka` in the Weir checkout the current
/// directory is in ([`checkout_root`]). Found at run time, so tests built in a
/// build directory shared by several clones run their own clone's launcher.
pub fn launcher_path() -> Result<PathBuf, ClusterError> {
    let cwd = std::env::current_dir()
        .map_err(|e| ClusterError::NoLauncher(format!("no current directory: {e}")))?;
    find_launcher(std::env::var_os(LAUNCHER_ENV).map(PathBuf::from), &cwd)
        .map_err(ClusterError::NoLauncher)
}

/// The directory of Kafka's Java jars (kafka-clients among them) that the
/// launcher fetches from Maven Central, fetched first if need be: what
/// tests that run Kafka's own Java clients put on their classpath.
pub fn kafka_client_libs() -> Result<PathBuf, ClusterError> {
    let launcher = launcher_path()?;
    let out = std::process::Command::new(&launcher)
        .arg("fetch")
        .output()
        .map_err(|e| ClusterError::Tool {
            tool: "fetch",
            status: format!("could not run {}: {e}", launcher.display()),
            stderr: String::new(),
        })?;
    if !out.status.success() {
        return Err(ClusterError::Tool {
            tool: "fetch",
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let cache = match std::env::var_os("WEIR_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".cache/weir"))
            .ok_or_else(|| ClusterError::NoLauncher("neither WEIR_CACHE nor HOME is set".into()))?,
    };
    Ok(cache.join(format!("kafka-{KAFKA_VERSION}/libs")))
}

/// The Weir checkout the current directory is in: its nearest ancestor (or
/// itself) that holds `testing/kafka/kafka`.
pub fn checkout_root() -> Result<PathBuf, ClusterError> {
    let cwd = std::env::current_dir()
        .map_err(|e| ClusterError::NoLauncher(format!("no current directory: {e}")))?;
    find_checkout(&cwd).ok_or_else(|| ClusterError::NoLauncher(not_in_checkout(&cwd)))
}

fn find_checkout(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(LAUNCHER_IN_CHECKOUT).is_file())
        .map(Path::to_path_buf)
}

fn not_in_checkout(cwd: &Path) -> String {
    format!(
        "{} is not inside a Weir checkout (no {LAUNCHER_IN_CHECKOUT} in it or above it); \
         run from the checkout or set {LAUNCHER_ENV} to the launcher's path",
        cwd.display()
    )
}

/// [`launcher_path`] with its inputs explicit: the value of
/// `WEIR_KAFKA_LAUNCHER` and the directory to search up from.
fn find_launcher(from_env: Option<PathBuf>, cwd: &Path) -> Result<PathBuf, String> {
    match from_env {
        Some(path) if !path.as_os_str().is_empty() => {
            let path = cwd.join(path);
            if path.is_file() {
                Ok(path)
            } else {
                Err(format!("{LAUNCHER_ENV}={} is not a file", path.display()))
            }
        }
        _ => find_checkout(cwd)
            .map(|root| root.join(LAUNCHER_IN_CHECKOUT))
            .ok_or_else(|| not_in_checkout(cwd)),
    }
}

fn launch(state_dir: &Path, secured: bool) -> Result<String, (String, String)> {
    let launcher = launcher_path().map_err(|e| (e.to_string(), String::new()))?;
    let mut cmd = Command::new(&launcher);
    cmd.arg("start")
        .arg("--state-dir")
        .arg(state_dir)
        .arg("--owner-pid")
        .arg(std::process::id().to_string());
    if secured {
        cmd.arg("--sasl-acl");
    }
    let out = run_bounded(cmd, LAUNCH_TIMEOUT).map_err(|stderr| {
        (
            format!(
                "{} did not finish within {LAUNCH_TIMEOUT:?}",
                launcher.display()
            ),
            stderr,
        )
    })?;
    if !out.status.success() {
        return Err((
            format!("{} start failed ({})", launcher.display(), out.status),
            out.stderr,
        ));
    }
    match out.stdout.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(line) => Ok(line.trim().to_owned()),
        None => Err((
            "the launcher printed no bootstrap address".to_owned(),
            out.stderr,
        )),
    }
}

struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to completion, killing it after `timeout` (then `Err` with
/// what it wrote to stderr so far).
fn run_bounded(mut cmd: Command, timeout: Duration) -> Result<Output, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(stderr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_legal_kafka_names_and_differ() {
        let a = KafkaCluster::unique_topic("module::test name");
        let b = KafkaCluster::unique_topic("module::test name");
        assert_ne!(a, b);
        assert!(a.starts_with("topic-module--test-name-"), "{a}");
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
        assert!(KafkaCluster::unique_group("t").starts_with("group-t-"));
        assert!(KafkaCluster::unique_transactional_id("t").starts_with("txn-t-"));
    }

    #[test]
    fn launcher_is_found_in_the_checkout_of_the_current_directory() {
        // cargo runs unit tests from the package directory, `testing/`.
        let cwd = std::env::current_dir().unwrap();
        let launcher = find_launcher(None, &cwd).unwrap();
        assert_eq!(launcher, cwd.parent().unwrap().join(LAUNCHER_IN_CHECKOUT));
        assert!(launcher.is_file(), "{}", launcher.display());
        assert_eq!(checkout_root().unwrap(), cwd.parent().unwrap());
        assert!(launcher_path().unwrap().is_file());
    }

    /// Two fake checkouts: the launcher found is the one of the checkout the
    /// search starts in, whatever directory the test binary was built from.
    #[test]
    fn launcher_is_searched_up_from_the_given_directory() {
        let tmp = tempfile::tempdir().unwrap();
        for clone in ["a", "b"] {
            let dir = tmp.path().join(clone).join("testing/kafka");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("kafka"), "#!/bin/sh\n").unwrap();
            std::fs::create_dir_all(tmp.path().join(clone).join("examples/app")).unwrap();
        }
        let b = tmp.path().join("b");
        assert_eq!(
            find_launcher(None, &b.join("examples/app")).unwrap(),
            b.join(LAUNCHER_IN_CHECKOUT)
        );
        assert_eq!(
            find_launcher(None, &b).unwrap(),
            b.join(LAUNCHER_IN_CHECKOUT)
        );
        assert_eq!(find_checkout(&b.join("testing")), Some(b.clone()));
        let outside = find_launcher(None, tmp.path()).unwrap_err();
        assert!(outside.contains(LAUNCHER_ENV), "{outside}");
    }

    #[test]
    fn launcher_from_the_environment_wins_and_must_exist() {
        let tmp = tempfile::tempdir().unwrap();
        let custom = tmp.path().join("my-launcher");
        std::fs::write(&custom, "#!/bin/sh\n").unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(find_launcher(Some(custom.clone()), &cwd).unwrap(), custom);
        // Relative to the current directory.
        assert_eq!(
            find_launcher(Some(PathBuf::from("my-launcher")), tmp.path()).unwrap(),
            custom
        );
        let missing = find_launcher(Some(tmp.path().join("nope")), &cwd).unwrap_err();
        assert!(missing.contains("WEIR_KAFKA_LAUNCHER"), "{missing}");
        // Empty means unset.
        assert!(find_launcher(Some(PathBuf::new()), &cwd).is_ok());
    }

    #[test]
    fn bounded_run_kills_an_overrunning_command() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let started = Instant::now();
        assert!(run_bounded(cmd, Duration::from_millis(200)).is_err());
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
