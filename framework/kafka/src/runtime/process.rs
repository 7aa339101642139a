//! The instance's claim on its state directory and its stable process id.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::runtime::RuntimeConfig;

/// The file under `<state.dir>/<application.id>` holding the process id.
const PROCESS_ID_FILE: &str = "weir-process-id";
/// The file under `<state.dir>/<application.id>` the instance locks.
const LOCK_FILE: &str = ".lock";

/// An instance of the application on this machine: the process id that
/// names its transactional producers, kept in the state directory so a
/// restarted instance reuses its `transactional.id`s (and so fences its
/// previous incarnation and aborts the transactions it left open), and an
/// exclusive lock on that directory for as long as the instance runs.
#[derive(Debug)]
pub(crate) struct Instance {
    pub(crate) process_id: Uuid,
    /// Held open for the lock; released when the instance is dropped.
    _lock: Option<File>,
}

fn io_error(path: &Path, what: &str, e: &std::io::Error) -> Error {
    Error::Config {
        key: "state.dir".to_string(),
        message: format!("cannot {what} {}: {e}", path.display()),
    }
}

impl Instance {
    /// Claims `<state.dir>/<application.id>`; without a state dir, a fresh
    /// process id and no lock.
    pub(crate) fn open(config: &RuntimeConfig) -> Result<Self> {
        let Some(state_dir) = &config.state_dir else {
            return Ok(Instance {
                process_id: Uuid::new_v4(),
                _lock: None,
            });
        };
        let dir = state_dir.join(&config.application_id);
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, "create", &e))?;
        let lock = lock(&dir)?;
        let process_id = process_id(&dir)?;
        tracing::info!(state_dir = %dir.display(), %process_id, "state directory claimed");
        Ok(Instance {
            process_id,
            _lock: Some(lock),
        })
    }
}

fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_error(&path, "open", &e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::Config {
            key: "state.dir".to_string(),
            message: format!(
                "{} is in use by another running instance of this application; \
                 give every instance on a machine its own state.dir",
                dir.display()
            ),
        }),
        Err(TryLockError::Error(e)) => Err(io_error(&path, "lock", &e)),
    }
}

/// Reads the process id kept in `dir`, or creates one.
fn process_id(dir: &Path) -> Result<Uuid> {
    let path: PathBuf = dir.join(PROCESS_ID_FILE);
    match File::open(&path) {
        Ok(mut f) => {
            let mut text = String::new();
            f.read_to_string(&mut text)
                .map_err(|e| io_error(&path, "read", &e))?;
            Uuid::parse_str(text.trim()).map_err(|e| Error::Config {
                key: "state.dir".to_string(),
                message: format!(
                    "{} does not hold a process id ({e}); delete it to get a new one",
                    path.display()
                ),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = Uuid::new_v4();
            // Written to a temporary file and renamed, so a crash never leaves half an id.
            let tmp = dir.join(format!("{PROCESS_ID_FILE}.tmp"));
            let mut f = File::create(&tmp).map_err(|e| io_error(&tmp, "create", &e))?;
            f.write_all(id.to_string().as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| io_error(&tmp, "write", &e))?;
            std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, "create", &e))?;
            Ok(id)
        }
        Err(e) => Err(io_error(&path, "open", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> RuntimeConfig {
        let mut c = RuntimeConfig::new("app", "127.0.0.1:1");
        c.state_dir = Some(dir.to_path_buf());
        c
    }

    #[test]
    fn the_process_id_survives_a_restart_and_the_dir_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let first = Instance::open(&config(dir.path())).unwrap();
        let err = Instance::open(&config(dir.path())).unwrap_err();
        assert!(
            err.to_string()
                .contains("in use by another running instance"),
            "{err}"
        );
        let id = first.process_id;
        drop(first);
        let again = Instance::open(&config(dir.path())).unwrap();
        assert_eq!(again.process_id, id);
    }

    #[test]
    fn a_corrupt_process_id_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("app")).unwrap();
        std::fs::write(dir.path().join("app").join(PROCESS_ID_FILE), "garbage").unwrap();
        let err = Instance::open(&config(dir.path())).unwrap_err();
        assert!(
            err.to_string().contains("does not hold a process id"),
            "{err}"
        );
    }
}
