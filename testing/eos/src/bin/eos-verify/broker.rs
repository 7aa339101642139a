//! The test broker: the launcher started, restarted and stopped.

use crate::Res;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub(crate) struct Broker {
    pub(crate) launcher: PathBuf,
    pub(crate) state_dir: PathBuf,
    pub(crate) bootstrap: String,
}

pub(crate) fn run_launcher(
    launcher: &Path,
    args: &[&str],
    state_dir: &Path,
    timeout: Duration,
) -> Res<String> {
    let mut cmd = Command::new(launcher);
    cmd.args(args)
        .arg("--state-dir")
        .arg(state_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if args.first() == Some(&"start") {
        cmd.arg("--owner-pid").arg(std::process::id().to_string());
    }
    let child = cmd.spawn()?;
    let out = wait_output(child, timeout)?;
    if !out.status.success() {
        return Err(format!(
            "launcher {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    Ok(stdout.lines().last().unwrap_or_default().trim().to_string())
}

/// Waits for `child` (its output piped) up to `timeout`, killing it after.
pub(crate) fn wait_output(mut child: Child, timeout: Duration) -> Res<std::process::Output> {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = std::io::Read::read_to_end(s, &mut buf);
        }
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = std::io::Read::read_to_end(s, &mut buf);
        }
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{child:?} did not finish within {timeout:?}").into());
        }
        thread::sleep(Duration::from_millis(100));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(std::process::Output {
        status,
        stdout,
        stderr,
    })
}

impl Broker {
    pub(crate) fn start(launcher: &Path, state_dir: &Path) -> Res<Broker> {
        let bootstrap = run_launcher(launcher, &["start"], state_dir, Duration::from_secs(300))?;
        if !bootstrap.starts_with("127.0.0.1:") {
            return Err(
                format!("the launcher printed '{bootstrap}', not a loopback address").into(),
            );
        }
        Ok(Broker {
            launcher: launcher.to_path_buf(),
            state_dir: state_dir.to_path_buf(),
            bootstrap,
        })
    }

    pub(crate) fn restart(&self) -> Res<()> {
        let bootstrap = run_launcher(
            &self.launcher,
            &["restart"],
            &self.state_dir,
            Duration::from_secs(240),
        )?;
        if bootstrap != self.bootstrap {
            return Err(format!(
                "the broker came back on {bootstrap}, not {}",
                self.bootstrap
            )
            .into());
        }
        Ok(())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Err(e) = run_launcher(
            &self.launcher,
            &["stop"],
            &self.state_dir,
            Duration::from_secs(120),
        ) {
            eprintln!("eos-verify: stopping the broker: {e}");
        }
    }
}
