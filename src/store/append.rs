//! Appending the observer's own events (ticks, probe results) to its daily
//! files under `events/observer/`. The state lock makes the observer the
//! only writer there. All lines go out in one `write`; if an earlier crash
//! left a line without its newline, a newline is written first so that the
//! torn line is rejected on its own rather than spoiling the new ones.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::atomic::{create_dir, is_the_file_at, sync_dir};
use crate::time::Ts;

/// Appends `lines` (without newlines) to `<dir>/<prefix>-<UTC day of at>.jsonl`.
pub fn append_events(dir: &Path, prefix: &str, at: Ts, lines: &[String]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    create_dir(dir, "the directory of observer's own events")?;
    let day = &at.to_rfc3339()[..10];
    let path = dir.join(format!("{prefix}-{day}.jsonl"));
    // Never through a symlink, to the directory or the file: the lines
    // would land outside the root, and the scan, which follows no link,
    // would never read them.
    for link in [dir, path.as_path()] {
        if std::fs::symlink_metadata(link).is_ok_and(|m| m.file_type().is_symlink()) {
            bail!(
                "cannot append to {}: {} is a symlink, and observer writes through none",
                path.display(),
                link.display()
            );
        }
    }
    let created = !path.exists();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&path)
        .with_context(|| format!("cannot open {} to append to it", path.display()))?;
    if !is_the_file_at(&file, &path) {
        bail!("cannot append to {}: it was replaced by a symlink, and observer writes through none", path.display());
    }
    let mut text = String::new();
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(len - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            text.push('\n');
        }
    }
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    file.write_all(text.as_bytes()).with_context(|| format!("cannot append to {}", path.display()))?;
    file.sync_data().with_context(|| format!("cannot sync {}", path.display()))?;
    if created {
        sync_dir(dir).with_context(|| format!("cannot sync {}", dir.display()))?;
    }
    Ok(())
}
