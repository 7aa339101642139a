//! Running one contender as a child process and measuring it: throughput
//! until its output is visible read_committed, CPU time and peak RSS from
//! /proc, and the child's last stderr lines when it fails.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weir_kafka::tools::probe::OutputProbe;
use weir_kafka::{Connection, Isolation};

use crate::BenchResult;

/// How a contender child is started.
#[derive(Debug, Clone)]
pub(crate) struct ChildCommand {
    /// What the child's stderr lines are prefixed with.
    pub label: String,
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl ChildCommand {
    /// `<this bench binary> <subcommand> <args>`.
    pub(crate) fn bench(label: &str, subcommand: &str, args: Vec<String>) -> BenchResult<Self> {
        let mut all = vec![subcommand.to_string()];
        all.extend(args);
        Ok(ChildCommand {
            label: label.to_string(),
            program: std::env::current_exe()?,
            args: all,
        })
    }
}

/// Lines of the child's stderr kept for error messages.
const STDERR_TAIL: usize = 12;

/// A started child: its process, start instant, and the tail of its stderr
/// (each line is also echoed to the bench's stderr, prefixed with the label).
pub(crate) struct Spawned {
    pub child: Child,
    pub pid: u32,
    pub start: Instant,
    label: String,
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl Spawned {
    pub(crate) fn new(cmd: &ChildCommand, stdout: Stdio) -> BenchResult<Self> {
        let start = Instant::now();
        let mut child = Command::new(&cmd.program)
            .args(&cmd.args)
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {} ({}): {e}",
                    cmd.label,
                    cmd.program.display()
                )
            })?;
        let pid = child.id();
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(err) = child.stderr.take() {
            let (tail, label) = (tail.clone(), cmd.label.clone());
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(err).lines() {
                    let Ok(line) = line else { return };
                    eprintln!("  [{label}] {line}");
                    let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                    if t.len() == STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            });
        }
        Ok(Spawned {
            child,
            pid,
            start,
            label: cmd.label.clone(),
            tail,
        })
    }

    /// The child's last stderr lines, most telling first: the last line
    /// that looks like an error, else the last line.
    pub(crate) fn last_error(&self) -> String {
        // Let the reader thread catch up with the child's last words.
        std::thread::sleep(Duration::from_millis(100));
        let t = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        t.iter()
            .rev()
            .find(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("error") || l.contains("exception") || l.contains("not supported")
            })
            .or_else(|| t.back())
            .cloned()
            .unwrap_or_else(|| "(no output on stderr)".to_string())
    }

    /// An error for a child that exited before it was done.
    pub(crate) fn exited_early(&self, status: std::process::ExitStatus) -> String {
        format!(
            "{} exited early ({status}): {}",
            self.label,
            self.last_error()
        )
    }

    /// Fails if the child has exited.
    pub(crate) fn check_alive(&mut self) -> BenchResult<()> {
        match self.child.try_wait()? {
            Some(status) => Err(self.exited_early(status).into()),
            None => Ok(()),
        }
    }

    /// CPU time and peak RSS now.
    pub(crate) fn usage(&self) -> BenchResult<(f64, f64)> {
        let u = proc_usage(self.pid, clock_ticks_per_s())?;
        Ok((u.cpu_s, u.hwm_kib as f64 / 1024.0))
    }

    /// Asks the child to stop (SIGTERM: the apps close gracefully), killing
    /// it after `grace`.
    pub(crate) fn stop(mut self, grace: Duration) {
        stop(&mut self.child, grace);
    }
}

/// The figures of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunFigures {
    /// Seconds from spawning the process until the output held every expected record.
    pub wall_s: f64,
    /// Input records per second over `wall_s`.
    pub records_per_s: f64,
    /// CPU seconds (user + system, children included) per million input records.
    pub cpu_s_per_million: f64,
    /// Peak resident set size in MiB (VmHWM).
    pub peak_rss_mib: f64,
}

/// CPU time and peak RSS of a live process.
struct ProcUsage {
    cpu_s: f64,
    hwm_kib: u64,
}

fn clock_ticks_per_s() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

fn proc_usage(pid: u32, ticks: f64) -> BenchResult<ProcUsage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("malformed /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime, stime, cutime, cstime are fields 14..=17, i.e. 11..=14 here.
    let mut ticks_sum = 0.0;
    for i in 11..=14 {
        let v: f64 = fields.get(i).ok_or("short /proc/<pid>/stat")?.parse()?;
        ticks_sum += v;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let hwm_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmHWM in /proc/<pid>/status")?;
    Ok(ProcUsage {
        cpu_s: ticks_sum / ticks,
        hwm_kib,
    })
}

pub(crate) fn output_count(conn: &Connection, topic: &str) -> BenchResult<u64> {
    let ends = weir_kafka::end_offsets(conn, topic)?;
    Ok(ends
        .iter()
        .map(|(_, e)| u64::try_from(*e).unwrap_or(0))
        .sum())
}

/// Asks the child to stop (SIGTERM), then kills it if it has not exited
/// within `grace`.
fn stop(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Grace for a contender's graceful close after SIGTERM.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(60);

/// Starts `cmd` and measures it until `output` holds `expected` records
/// visible read_committed (bounded by `timeout`): wall time from the spawn,
/// CPU and peak RSS at that moment. Then stops the child (SIGTERM, graceful
/// close). `input_records` is what the rates are per.
pub(crate) fn run_contender(
    conn: &Connection,
    cmd: &ChildCommand,
    output: &str,
    input_records: u64,
    expected: u64,
    timeout: Duration,
) -> BenchResult<RunFigures> {
    let probe = OutputProbe::start(
        conn,
        output,
        Isolation::ReadCommitted,
        expected,
        false,
        timeout + Duration::from_secs(30),
    )?;
    let mut child = Spawned::new(cmd, Stdio::null())?;
    let result = (|| -> BenchResult<(f64, f64, f64)> {
        loop {
            child.check_alive()?;
            if let Some(at) = probe.reached_at() {
                let wall = at.saturating_duration_since(child.start).as_secs_f64();
                let (cpu, rss) = child.usage()?;
                return Ok((wall, cpu, rss));
            }
            if !probe.is_running() {
                return Err(format!("the probe of '{output}' stopped").into());
            }
            if child.start.elapsed() > timeout {
                return Err(format!(
                    "{} did not complete within {timeout:?}: '{output}' shows {} of {expected} records read_committed",
                    cmd.label,
                    probe.count()
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    })();
    child.stop(CLOSE_GRACE);
    let seen = probe.count();
    let probed = probe.finish();
    let (wall_s, cpu_s, peak_rss_mib) = result?;
    probed?;
    if seen > expected {
        eprintln!(
            "  note: {} wrote {seen} records, {} more than expected",
            cmd.label,
            seen - expected
        );
    }
    let millions = input_records as f64 / 1e6;
    Ok(RunFigures {
        wall_s,
        records_per_s: input_records as f64 / wall_s,
        cpu_s_per_million: cpu_s / millions,
        peak_rss_mib,
    })
}

/// What the count child reported on its `DONE` line.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ChildReport {
    pub processed: u64,
    pub restored: u64,
    pub restore_us: u64,
    /// From the child's start until `restored_records` last grew.
    pub settled_ms: u64,
}

impl ChildReport {
    fn parse(line: &str) -> BenchResult<Self> {
        let mut r = ChildReport::default();
        let rest = line
            .strip_prefix("DONE ")
            .ok_or_else(|| format!("unexpected child output: {line}"))?;
        for field in rest.split_whitespace() {
            let (k, v) = field
                .split_once('=')
                .ok_or_else(|| format!("bad field '{field}' in: {line}"))?;
            let v: u64 = v.parse()?;
            match k {
                "processed" => r.processed = v,
                "restored" => r.restored = v,
                "restore_us" => r.restore_us = v,
                "settled_ms" => r.settled_ms = v,
                _ => {}
            }
        }
        Ok(r)
    }
}

/// The figures of one count or restore child run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChildFigures {
    /// CPU seconds of the child when it reported done.
    pub cpu_s: f64,
    /// Peak RSS in MiB when it reported done.
    pub peak_rss_mib: f64,
    pub report: ChildReport,
}

/// Runs `cmd`, which prints one `DONE ...` line when its work is done and
/// then waits for its stdin to close; measures it at that line (bounded by
/// `timeout`), then closes its stdin and waits (bounded) for its graceful
/// exit, killing it if it does not.
pub(crate) fn run_reporting_child(
    cmd: &ChildCommand,
    timeout: Duration,
) -> BenchResult<ChildFigures> {
    let mut child = Spawned::new(cmd, Stdio::piped())?;
    let stdout = child.child.stdout.take().ok_or("no child stdout")?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let label = cmd.label.as_str();
    let result = (|| -> BenchResult<ChildFigures> {
        loop {
            match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(line) if line.starts_with("DONE ") => {
                    let (cpu_s, peak_rss_mib) = child.usage()?;
                    return Ok(ChildFigures {
                        cpu_s,
                        peak_rss_mib,
                        report: ChildReport::parse(&line)?,
                    });
                }
                Ok(line) => eprintln!("  [{label}] {line}"),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            child.check_alive()?;
            if child.start.elapsed() > timeout {
                return Err(format!("{label} was not done within {timeout:?}").into());
            }
        }
    })();
    // Closing stdin tells the child to close the application and exit.
    drop(child.child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.child.try_wait() {
            Ok(Some(status)) => {
                if !status.success() && result.is_ok() {
                    eprintln!("  note: {label} exited with {status} after it was done");
                }
                break;
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                eprintln!("  note: {label} did not exit within 90 s of being told to; killing it");
                child.stop(Duration::from_secs(5));
                break;
            }
        }
    }
    result
}
