//! Appending the observer's own events (ticks, probe results) to its daily
//! files under `events/observer/`. The state lock makes the observer the
//! only writer there. All lines go out in one `write`; if an earlier crash
//! left a line without its newline, a newline is written first so that the
//! torn line is rejected on its own rather than spoiling the new ones.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::atomic::{CreateDirError, create_dir, is_the_file_at, sync_dir};
use crate::time::Ts;

/// Why the lines could not be appended. Each names the file (or directory)
/// it is about.
#[derive(Debug)]
pub enum AppendError {
    Dir(CreateDirError),
    /// `link` (the file or its directory) is a symlink.
    Symlink {
        path: PathBuf,
        link: PathBuf,
    },
    /// The file was swapped for a symlink between the check and the open.
    Replaced {
        path: PathBuf,
    },
    Open {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The end of the file, looked at for a torn last line, cannot be read.
    ReadEnd {
        path: PathBuf,
        error: std::io::Error,
    },
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    Sync {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl std::fmt::Display for AppendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppendError::Dir(error) => error.fmt(f),
            AppendError::Symlink { path, link } => write!(
                f,
                "cannot append to {}: {} is a symlink, and observer writes through none",
                path.display(),
                link.display()
            ),
            AppendError::Replaced { path } => write!(
                f,
                "cannot append to {}: it was replaced by a symlink, and observer writes through none",
                path.display()
            ),
            AppendError::Open { path, error } => write!(f, "cannot open {} to append to it: {error}", path.display()),
            AppendError::ReadEnd { path, error } => {
                write!(f, "cannot read the end of {} before appending to it: {error}", path.display())
            }
            AppendError::Write { path, error } => write!(f, "cannot append to {}: {error}", path.display()),
            AppendError::Sync { path, error } => write!(f, "cannot sync {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for AppendError {}

impl From<CreateDirError> for AppendError {
    fn from(error: CreateDirError) -> AppendError {
        AppendError::Dir(error)
    }
}

/// Appends `lines` (without newlines) to `<dir>/<prefix>-<UTC day of at>.jsonl`.
pub fn append_events(dir: &Path, prefix: &str, at: Ts, lines: &[String]) -> Result<(), AppendError> {
    if lines.is_empty() {
        return Ok(());
    }
    create_dir(dir, "the directory of observer's own events")?;
    let day = &at.to_rfc3339()[..10];
    let path = dir.join(format!("{prefix}-{day}.jsonl"));
    // Never through a symlink, to the directory or the file: the lines
    // would land outside the root, and the scan, which follows no link,
    // would never read them. (A file not there yet is created below.)
    for link in [dir, path.as_path()] {
        if std::fs::symlink_metadata(link).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(AppendError::Symlink { path: path.clone(), link: link.to_path_buf() });
        }
    }
    let created = !path.exists();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|error| AppendError::Open { path: path.clone(), error })?;
    if !is_the_file_at(&file, &path) {
        return Err(AppendError::Replaced { path });
    }
    let mut text = String::new();
    if !ends_with_newline(&mut file).map_err(|error| AppendError::ReadEnd { path: path.clone(), error })? {
        text.push('\n');
    }
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    file.write_all(text.as_bytes()).map_err(|error| AppendError::Write { path: path.clone(), error })?;
    file.sync_data().map_err(|error| AppendError::Sync { path: path.clone(), error })?;
    if created {
        sync_dir(dir).map_err(|error| AppendError::Sync { path: dir.to_path_buf(), error })?;
    }
    Ok(())
}

/// Whether the file is empty or ends with a newline: anything else is a
/// line an earlier crash tore.
fn ends_with_newline(file: &mut File) -> std::io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_ended_before_the_new_lines() {
        let dir = tempfile::tempdir().unwrap();
        let at = Ts::parse("2026-05-12T12:00:00Z").unwrap();
        let path = dir.path().join("ticks-2026-05-12.jsonl");
        std::fs::write(&path, "{\"torn\":").unwrap();
        append_events(dir.path(), "ticks", at, &["one".into(), "two".into()]).unwrap();
        append_events(dir.path(), "ticks", at, &["three".into()]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"torn\":\none\ntwo\nthree\n");
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let at = Ts::parse("2026-05-12T12:00:00Z").unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("ticks-2026-05-12.jsonl")).unwrap();
        let error = append_events(dir.path(), "ticks", at, &["one".into()]).unwrap_err().to_string();
        assert!(error.contains("ticks-2026-05-12.jsonl: ") && error.contains("is a symlink"), "{error}");
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, "").unwrap();
        let error = append_events(&blocked.join("sub"), "ticks", at, &["one".into()]).unwrap_err().to_string();
        assert!(error.ends_with("is not a directory; move it away"), "{error}");
    }
}
