//! The application instances: started, SIGKILLed and restarted.

use crate::{say, Plan, Res};
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};
use weir_eos::rng::SplitMix64;

pub(crate) struct Instance {
    pub(crate) id: usize,
    pub(crate) child: Option<Child>,
    pub(crate) commit_ms: u64,
    pub(crate) starts: u64,
    pub(crate) restart_at: Option<Instant>,
}

pub(crate) struct Fleet {
    pub(crate) app_bin: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) bootstrap: String,
    /// The application's own arguments (application id, topology, topics).
    pub(crate) app_args: Vec<String>,
    pub(crate) plan: Plan,
    pub(crate) instances: Vec<Instance>,
    pub(crate) kills: u64,
    pub(crate) kills_long_commit: u64,
    pub(crate) crashes: u64,
    pub(crate) forced_closes: u64,
}

impl Fleet {
    pub(crate) fn spawn(&mut self, i: usize, rng: &mut SplitMix64, start: Instant) -> Res<()> {
        let plan = &self.plan;
        let inst = &mut self.instances[i];
        // About a third of the starts (and instance 0's first) commit rarely,
        // so kills land in big open transactions.
        let long = (inst.starts == 0 && i == 0) || rng.chance(1, 3);
        inst.commit_ms = if long {
            rng.range(plan.long_commit_ms.0, plan.long_commit_ms.1)
        } else {
            plan.commit_ms
        };
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("app-{}.log", inst.id)))?;
        let mut cmd = Command::new(&self.app_bin);
        cmd.arg("--bootstrap")
            .arg(&self.bootstrap)
            .args(&self.app_args)
            .args(["--guarantee", plan.guarantee.as_str()])
            .arg("--commit-interval-ms")
            .arg(inst.commit_ms.to_string())
            .arg("--state-dir")
            .arg(self.dir.join(format!("state-{}", inst.id)))
            .arg("--instance")
            .arg(inst.id.to_string())
            .args(["--store", plan.store.as_str()])
            .arg("--owner-pid")
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log));
        inst.child = Some(cmd.spawn()?);
        inst.starts += 1;
        inst.restart_at = None;
        say(
            start,
            format!(
                "instance {} started (start #{}, commit interval {} ms)",
                inst.id, inst.starts, inst.commit_ms
            ),
        );
        Ok(())
    }

    pub(crate) fn running(&self) -> Vec<usize> {
        (0..self.instances.len())
            .filter(|i| self.instances[*i].child.is_some())
            .collect()
    }

    /// SIGKILLs instance `i` and schedules its restart.
    pub(crate) fn kill(&mut self, i: usize, rng: &mut SplitMix64, start: Instant) -> Res<()> {
        let inst = &mut self.instances[i];
        let Some(mut child) = inst.child.take() else {
            return Ok(());
        };
        child.kill()?;
        child.wait()?;
        self.kills += 1;
        if inst.commit_ms >= self.plan.long_commit_ms.0 {
            self.kills_long_commit += 1;
        }
        let delay = Duration::from_millis(rng.range(500, 3000));
        inst.restart_at = Some(Instant::now() + delay);
        say(
            start,
            format!(
                "kill #{}: SIGKILL instance {} (commit interval {} ms); restart in {:.1}s",
                self.kills,
                inst.id,
                inst.commit_ms,
                delay.as_secs_f64()
            ),
        );
        Ok(())
    }

    /// Restarts instances due, and notices instances that exited on their own.
    pub(crate) fn tend(&mut self, rng: &mut SplitMix64, start: Instant) -> Res<()> {
        for i in 0..self.instances.len() {
            let inst = &mut self.instances[i];
            if let Some(child) = inst.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    inst.child = None;
                    self.crashes += 1;
                    inst.restart_at = Some(Instant::now() + Duration::from_secs(2));
                    let log = self.dir.join(format!("app-{}.log", inst.id));
                    say(
                        start,
                        format!(
                            "instance {} exited by itself ({status}); log {}",
                            inst.id,
                            log.display()
                        ),
                    );
                    if self.crashes > self.plan.max_crashes {
                        return Err(format!(
                            "instances exited by themselves {} times; last log lines of instance {}:\n{}",
                            self.crashes,
                            inst.id,
                            tail(&log, 15)
                        )
                        .into());
                    }
                }
            }
            if self.instances[i].child.is_none()
                && self.instances[i]
                    .restart_at
                    .is_some_and(|t| Instant::now() >= t)
            {
                self.spawn(i, rng, start)?;
            }
        }
        Ok(())
    }

    /// SIGTERMs every instance and waits for them to close; SIGKILLs those
    /// still running after `timeout`.
    pub(crate) fn close_all(&mut self, timeout: Duration, start: Instant) -> Res<()> {
        for inst in &self.instances {
            if let Some(child) = &inst.child {
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
            }
        }
        let deadline = Instant::now() + timeout;
        for inst in &mut self.instances {
            let Some(mut child) = inst.child.take() else {
                continue;
            };
            loop {
                if let Some(status) = child.try_wait()? {
                    if !status.success() {
                        say(start, format!("instance {} closed with {status}", inst.id));
                    }
                    break;
                }
                if Instant::now() >= deadline {
                    child.kill()?;
                    child.wait()?;
                    self.forced_closes += 1;
                    say(
                        start,
                        format!("instance {} did not close in time: SIGKILLed", inst.id),
                    );
                    break;
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for inst in &mut self.instances {
            if let Some(mut child) = inst.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
