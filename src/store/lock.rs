//! One writer at a time (guarantee 5): `state/.observer.lock`, locked with
//! the standard library's advisory `File::try_lock`. The holder writes its pid
//! and command into the file so that a refused run can name it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::atomic::is_the_file_at;

pub struct StateLock {
    _file: File,
    pub path: PathBuf,
}

#[derive(Debug)]
pub enum LockError {
    /// Another process holds the lock; its self-description, if readable.
    Held {
        path: PathBuf,
        holder: String,
    },
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The lock file is a symlink: observer writes into it, and never
    /// through a link.
    Symlink {
        path: PathBuf,
    },
    /// The state directory cannot be created (a file in its place, …).
    StateDir {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held { path, holder } => write!(
                f,
                "the state directory is locked by another run ({holder}); lock file {}. Wait for it, or pass --wait",
                path.display()
            ),
            LockError::Io { path, error } => write!(f, "cannot lock {}: {error}", path.display()),
            LockError::StateDir { path, error } if path.exists() && !path.is_dir() => {
                write!(f, "the state directory {} is not a directory ({error})", path.display())
            }
            LockError::StateDir { path, error } => {
                write!(f, "cannot create the state directory {}: {error}", path.display())
            }
            LockError::Symlink { path } => write!(
                f,
                "cannot lock {}: it is a symlink, and observer never writes through one; remove it",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LockError {}

impl StateLock {
    /// Takes the lock, at once or (with `wait`) when the holder lets go.
    pub fn acquire(state_dir: &Path, command: &str, wait: bool) -> Result<StateLock, LockError> {
        let path = state_dir.join(".observer.lock");
        let io = |error| LockError::Io { path: path.clone(), error };
        std::fs::create_dir_all(state_dir)
            .map_err(|error| LockError::StateDir { path: state_dir.to_path_buf(), error })?;
        if std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.file_type().is_symlink()) {
            return Err(LockError::Symlink { path });
        }
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        // The holder writes into the file: never through a symlink, even one
        // planted between the check above and the open.
        if !is_the_file_at(&file, &path) {
            return Err(LockError::Symlink { path });
        }
        if wait {
            file.lock().map_err(io)?;
        } else if let Err(error) = file.try_lock() {
            return match error {
                std::fs::TryLockError::WouldBlock => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    let holder = holder.trim();
                    Err(LockError::Held {
                        path: path.clone(),
                        holder: if holder.is_empty() { "holder unknown".into() } else { holder.to_string() },
                    })
                }
                std::fs::TryLockError::Error(error) => Err(io(error)),
            };
        }
        let me = format!("pid {} running `observer {command}`", std::process::id());
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(me.as_bytes()).map_err(io)?;
        Ok(StateLock { _file: file, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_told_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let _first = StateLock::acquire(dir.path(), "run", false).unwrap();
        match StateLock::acquire(dir.path(), "run", false) {
            Err(LockError::Held { holder, .. }) => assert!(holder.contains(&std::process::id().to_string())),
            other => panic!("expected Held, got {:?}", other.map(|_| ())),
        }
    }

    #[cfg(unix)]
    #[test]
    fn never_writes_through_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"keep").unwrap();
        std::os::unix::fs::symlink(&outside, dir.path().join(".observer.lock")).unwrap();
        match StateLock::acquire(dir.path(), "run", false) {
            Err(error @ LockError::Symlink { .. }) => assert!(error.to_string().contains("symlink"), "{error}"),
            other => panic!("expected Symlink, got {:?}", other.map(|_| ())),
        }
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
    }
}
