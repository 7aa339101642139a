//! Running one contender as a child process and measuring it: throughput
//! until its output is complete, CPU time and peak RSS from /proc.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weir_kafka::Connection;

use crate::apps::ChildArgs;
use crate::BenchResult;

/// The figures of one run.
#[derive(Debug, Clone, Copy)]
pub struct RunFigures {
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

pub fn output_count(conn: &Connection, topic: &str) -> BenchResult<u64> {
    let ends = weir_kafka::end_offsets(conn, topic)?;
    Ok(ends
        .iter()
        .map(|(_, e)| u64::try_from(*e).unwrap_or(0))
        .sum())
}

/// Asks the child to stop (SIGTERM), then kills it if it has not exited
/// within `grace`.
fn stop(child: &mut Child, grace: Duration) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
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

/// Runs `<bench> <subcommand> <args>` and measures it until `output` holds
/// `expected` records (bounded by `timeout`).
pub fn run_contender(
    conn: &Connection,
    subcommand: &str,
    args: &ChildArgs,
    input_records: u64,
    expected: u64,
    timeout: Duration,
) -> BenchResult<RunFigures> {
    let ticks = clock_ticks_per_s();
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let mut child = Command::new(exe)
        .arg(subcommand)
        .args(args.to_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();
    let result = (|| -> BenchResult<(f64, ProcUsage)> {
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(format!("{subcommand} exited early ({status})").into());
            }
            let count = output_count(conn, &args.output)?;
            if count >= expected {
                let wall = start.elapsed().as_secs_f64();
                let usage = proc_usage(pid, ticks)?;
                if count > expected {
                    eprintln!(
                        "  note: {subcommand} wrote {count} records, {} more than expected",
                        count - expected
                    );
                }
                return Ok((wall, usage));
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "{subcommand} did not complete within {timeout:?}: output '{}' holds {count} of {expected} records",
                    args.output
                )
                .into());
            }
            // Poll often near the end, where it matters for the timing.
            let near = count.saturating_mul(10) >= expected.saturating_mul(8);
            std::thread::sleep(Duration::from_millis(if near { 25 } else { 200 }));
        }
    })();
    stop(&mut child, Duration::from_secs(30));
    let (wall_s, usage) = result?;
    let millions = input_records as f64 / 1e6;
    Ok(RunFigures {
        wall_s,
        records_per_s: input_records as f64 / wall_s,
        cpu_s_per_million: usage.cpu_s / millions,
        peak_rss_mib: usage.hwm_kib as f64 / 1024.0,
    })
}

/// What the count child reported on its `DONE` line.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChildReport {
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
pub struct ChildFigures {
    /// Seconds from spawning the process until its `DONE` line.
    pub wall_s: f64,
    /// CPU seconds of the child when it reported done.
    pub cpu_s: f64,
    /// Peak RSS in MiB when it reported done.
    pub peak_rss_mib: f64,
    pub report: ChildReport,
}

/// Runs `<bench> <subcommand> <args>`, which prints one `DONE ...` line when
/// its work is done and then waits for its stdin to close; measures it at
/// that line (bounded by `timeout`), then closes its stdin and waits
/// (bounded) for its graceful exit, killing it if it does not.
pub fn run_reporting_child(
    subcommand: &str,
    args: &[String],
    timeout: Duration,
) -> BenchResult<ChildFigures> {
    use std::io::BufRead;
    let ticks = clock_ticks_per_s();
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let mut child = Command::new(exe)
        .arg(subcommand)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let result = (|| -> BenchResult<ChildFigures> {
        loop {
            match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(line) if line.starts_with("DONE ") => {
                    let wall_s = start.elapsed().as_secs_f64();
                    let usage = proc_usage(pid, ticks)?;
                    return Ok(ChildFigures {
                        wall_s,
                        cpu_s: usage.cpu_s,
                        peak_rss_mib: usage.hwm_kib as f64 / 1024.0,
                        report: ChildReport::parse(&line)?,
                    });
                }
                Ok(line) => eprintln!("  {subcommand}: {line}"),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            if let Some(status) = child.try_wait()? {
                return Err(format!("{subcommand} exited before it was done ({status})").into());
            }
            if start.elapsed() > timeout {
                return Err(format!("{subcommand} was not done within {timeout:?}").into());
            }
        }
    })();
    // Closing stdin tells the child to close the application and exit.
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                if !status.success() && result.is_ok() {
                    eprintln!("  note: {subcommand} exited with {status} after it was done");
                }
                break;
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                eprintln!(
                    "  note: {subcommand} did not exit within 90 s of being told to; killing it"
                );
                stop(&mut child, Duration::from_secs(5));
                break;
            }
        }
    }
    result
}
