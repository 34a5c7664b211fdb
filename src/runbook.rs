//! Runbooks (SPEC §6): what to do about an alert, as an http(s) URL or as a
//! path inside the inventory directory. Set on a service in
//! `services.yaml` or on a rule in `alerts.rules.<rule>`; the service's
//! wins (`AlertRules::runbook`).
//!
//! A runbook is carried as written: a path stays relative to the inventory,
//! so that the outbox is the same wherever the root lives. It is checked in
//! two steps, both reported with the file and line of the `runbook:` key:
//! its form while the YAML is parsed ([`check_written`]), and, once the
//! inventory directory is known, that a path leads to a file that exists
//! and stays inside that directory, symlinks followed ([`check_in`]).

use std::path::{Component, Path};

/// Whether `value` reads as an http(s) URL (a path has no scheme).
pub fn is_url(value: &str) -> bool {
    value.contains("://")
}

/// The form of a runbook as written: an http(s) URL that parses with a
/// host, or a relative path without a scheme.
pub fn check_written(value: &str) -> Result<(), String> {
    if value.trim().is_empty() || value.chars().any(char::is_control) {
        return Err("a runbook is a URL or a path inside the inventory; this one is empty".to_string());
    }
    if is_url(value) {
        return match value.parse::<ureq::http::Uri>() {
            Err(e) => Err(format!("runbook `{value}` is not a URL ({e})")),
            Ok(uri) => match uri.scheme_str() {
                Some("http" | "https") if uri.host().is_some_and(|host| !host.is_empty()) => Ok(()),
                Some("http" | "https") => Err(format!("runbook `{value}` has no host")),
                _ => Err(format!("runbook `{value}`: a runbook URL must start with http:// or https://")),
            },
        };
    }
    if Path::new(value).is_absolute() {
        return Err(format!(
            "runbook `{value}` is an absolute path; give a path relative to the inventory directory, or a URL"
        ));
    }
    if Path::new(value).components().any(|c| c == Component::ParentDir) {
        return Err(format!("runbook `{value}` leaves the inventory directory (`..`); keep runbooks inside it"));
    }
    Ok(())
}

/// A path runbook leads to a file inside `inventory`, symlinks followed. A
/// URL is not fetched.
pub fn check_in(value: &str, inventory: &Path) -> Result<(), String> {
    if is_url(value) {
        return Ok(());
    }
    let root = inventory
        .canonicalize()
        .map_err(|e| format!("runbook `{value}`: cannot read the inventory directory {}: {e}", inventory.display()))?;
    let file = root.join(value);
    let real = file.canonicalize().map_err(|e| format!("runbook `{value}`: {} {}", file.display(), missing(&e)))?;
    if !real.starts_with(&root) {
        return Err(format!(
            "runbook `{value}` leads out of the inventory directory (to {}); keep runbooks inside it",
            real.display()
        ));
    }
    if !real.is_file() {
        return Err(format!("runbook `{value}`: {} is not a file", file.display()));
    }
    Ok(())
}

fn missing(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "does not exist".to_string(),
        _ => format!("cannot be read: {e}"),
    }
}

/// The line of the `nth` `runbook:` key whose value is `value`.
pub fn line_of(text: &str, value: &str, nth: usize) -> Option<u64> {
    crate::input_problem::line_of_key_value(text, "runbook", value, nth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_parse_and_be_http() {
        assert_eq!(check_written("https://wiki.lan/runbooks/mosquitto"), Ok(()));
        assert!(check_written("ftp://wiki.lan/x").unwrap_err().contains("http:// or https://"));
        assert!(check_written("https://").unwrap_err().contains("runbook `https://`"));
        assert!(check_written("http://exa mple/").unwrap_err().contains("not a URL"));
    }

    #[test]
    fn paths_are_relative_and_stay_inside() {
        assert_eq!(check_written("runbooks/nextcloud.md"), Ok(()));
        assert!(check_written("/etc/passwd").unwrap_err().contains("absolute path"));
        assert!(check_written("runbooks/../../x.md").unwrap_err().contains("`..`"));
        assert!(check_written("  ").unwrap_err().contains("empty"));
    }

    #[test]
    fn a_path_must_exist_inside_the_inventory_symlinks_followed() {
        let dir = tempfile::tempdir().unwrap();
        let inventory = dir.path().join("inventory");
        std::fs::create_dir_all(inventory.join("runbooks")).unwrap();
        std::fs::write(inventory.join("runbooks/a.md"), "# a\n").unwrap();
        std::fs::write(dir.path().join("outside.md"), "# out\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.md"), inventory.join("runbooks/out.md")).unwrap();
        assert_eq!(check_in("runbooks/a.md", &inventory), Ok(()));
        assert!(check_in("runbooks/b.md", &inventory).unwrap_err().contains("does not exist"));
        assert!(check_in("runbooks/out.md", &inventory).unwrap_err().contains("leads out of the inventory"));
        assert!(check_in("runbooks", &inventory).unwrap_err().contains("is not a file"));
        assert_eq!(check_in("https://wiki.lan/x", &inventory), Ok(()), "a URL is not fetched");
    }

    #[test]
    fn the_line_is_that_of_the_nth_runbook_with_the_value() {
        let text = "a:\n  runbook: runbooks/a.md\nb: {runbook: \"runbooks/a.md\"}\nc:\n  runbook: runbooks/a.md.old\n";
        assert_eq!(line_of(text, "runbooks/a.md", 1), Some(2));
        assert_eq!(line_of(text, "runbooks/a.md", 2), Some(3));
        assert_eq!(line_of(text, "runbooks/a.md", 3), None, "not the head of a longer name");
    }
}
