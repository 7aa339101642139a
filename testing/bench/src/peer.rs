//! The Kafka Streams peer (testing/bench/kstreams): where its build is and
//! how to start it as a contender child.

use std::path::PathBuf;

use crate::apps::ChildArgs;
use crate::measure::ChildCommand;
use crate::BenchResult;

/// The built peer: a thin jar and its dependencies, run with `java -cp`.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    java: PathBuf,
    dir: PathBuf,
    heap: Vec<String>,
}

/// The JVM heap options unless `WEIR_KSTREAMS_HEAP` says otherwise.
const DEFAULT_HEAP: &str = "-Xmx512m";

impl Peer {
    /// Finds the build in `WEIR_KSTREAMS_PEER`, else
    /// `${WEIR_CACHE:-$HOME/.cache/weir}/kstreams-peer` (what
    /// `testing/bench/kstreams/build` writes), and the `java` to run it.
    pub(crate) fn locate() -> BenchResult<Self> {
        let dir = match std::env::var_os("WEIR_KSTREAMS_PEER") {
            Some(d) => PathBuf::from(d),
            None => {
                let cache = match std::env::var_os("WEIR_CACHE") {
                    Some(c) => PathBuf::from(c),
                    None => PathBuf::from(std::env::var_os("HOME").ok_or("HOME is not set")?)
                        .join(".cache/weir"),
                };
                cache.join("kstreams-peer")
            }
        };
        if !dir.join("weir-kstreams-peer.jar").is_file() {
            return Err(format!(
                "the Kafka Streams peer is not built in {} (testing/bench/run builds it; or run testing/bench/kstreams/build)",
                dir.display()
            )
            .into());
        }
        let java = match std::env::var_os("JAVA_HOME") {
            Some(home) if PathBuf::from(&home).join("bin/java").is_file() => {
                PathBuf::from(home).join("bin/java")
            }
            _ => PathBuf::from("java"),
        };
        let heap = std::env::var("WEIR_KSTREAMS_HEAP")
            .unwrap_or_else(|_| DEFAULT_HEAP.to_string())
            .split_whitespace()
            .map(str::to_string)
            .collect();
        Ok(Peer { java, dir, heap })
    }

    /// The JVM options used, for reports.
    pub(crate) fn heap(&self) -> String {
        self.heap.join(" ")
    }

    /// The version of the jar of `artifact` in the peer's lib/ (from its file name).
    pub(crate) fn jar_version(&self, artifact: &str) -> Option<String> {
        let prefix = format!("{artifact}-");
        std::fs::read_dir(self.dir.join("lib"))
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .find_map(|n| {
                n.strip_prefix(&prefix)?
                    .strip_suffix(".jar")
                    .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
                    .map(str::to_string)
            })
    }

    /// `java -version`'s first line.
    pub(crate) fn java_version(&self) -> String {
        std::process::Command::new(&self.java)
            .arg("-version")
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .next()
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "java: unknown version".to_string())
    }

    /// The child command running the peer in `mode` (`passthrough`, `count`,
    /// `restore`, `windowed-count`, `stream-table-join`, `stream-stream-join`)
    /// with `args`.
    pub(crate) fn command(&self, label: &str, mode: &str, args: &ChildArgs) -> ChildCommand {
        let cp = format!(
            "{}/lib/*:{}/weir-kstreams-peer.jar",
            self.dir.display(),
            self.dir.display()
        );
        let mut a: Vec<String> = self.heap.clone();
        a.extend([
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn".to_string(),
            // Its one warning (on the processing exception handler of global
            // threads, which these apps do not have) repeats for every client.
            "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.streams.StreamsConfig=error".to_string(),
            "-cp".to_string(),
            cp,
            "weir.bench.KStreamsPeer".to_string(),
            mode.to_string(),
            format!("bootstrap={}", args.bootstrap),
            format!("input={}", args.input),
            format!("output={}", args.output),
            format!("app.id={}", args.group),
            format!("commit.ms={}", args.commit_ms),
            format!("guarantee={}", args.guarantee.as_str()),
            format!("state.dir={}", args.state_dir.display()),
            format!("budget.bytes={}", args.budget_bytes),
            format!("other={}", args.other),
            "threads=1".to_string(),
        ]);
        ChildCommand {
            label: label.to_string(),
            program: self.java.clone(),
            args: a,
        }
    }
}
