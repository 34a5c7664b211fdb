//! Older names of `observer.yaml` keys, still accepted (issue 10). The keys
//! follow the SPEC's names, which carry their unit (`nodes.stale_after_s`);
//! a file written with the name without its unit (`stale_after`) or with
//! the unit spelled out (`stale_after_seconds`), as the design notes and
//! older drafts wrote them, still loads: each such key is read under its
//! new name, and a deprecation note names the new one, with the line.
//!
//! Only keys in block style directly under their section are renamed (the
//! way every example writes them); anything else with an old name stays an
//! unknown key, reported as such.

use std::path::Path;

use crate::input_problem::InputProblem;

/// Every key of a section that carries its unit in its name: `section`,
/// `key`. Each is accepted without `_s`, and with `_seconds` for `_s`.
const WITH_UNITS: &[(&str, &str)] = &[
    ("nodes", "stale_after_s"),
    ("events", "dedup_window_s"),
    ("health", "debounce_s"),
    ("health", "interval_s"),
    ("health", "timeout_s"),
    ("breaker", "timeout_s"),
    ("alerts", "cooldown_s"),
    ("alerts", "ttl_s"),
    ("notify", "give_up_after_s"),
];

/// The new name of `section.key`, if `key` is an older name of one.
fn new_name(section: &str, key: &str) -> Option<&'static str> {
    WITH_UNITS.iter().find_map(|(s, new)| {
        let stem = &new[..new.len() - 2];
        (*s == section && (key == stem || key.strip_prefix(stem) == Some("_seconds"))).then_some(*new)
    })
}

/// `text` with every older key name replaced by its new one (line numbers
/// unchanged), and a note for each.
pub fn rename_older_keys(text: &str, file: &Path) -> (String, Vec<InputProblem>) {
    let mut notes = Vec::new();
    // The section a line is in, and the indent of that section's own keys
    // (set by the first of them).
    let mut section: Option<&str> = None;
    let mut child_indent: Option<usize> = None;
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let key = line.trim_start().split_once(':').map(|(key, _)| key.trim_end());
        let is_key =
            key.is_some_and(|key| !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        let mut written = false;
        if is_key && let Some(key) = key {
            if indent == 0 {
                (section, child_indent) = (Some(key), None);
            } else if let Some(section) = section
                && *child_indent.get_or_insert(indent) == indent
                && let Some(new) = new_name(section, key)
            {
                notes.push(InputProblem::new(
                    file,
                    Some(index as u64 + 1),
                    format!("note: `{section}.{key}` is an older name of `{section}.{new}`; rename it (it is read as `{new}` for now)"),
                ));
                out.push_str(&line[..indent]);
                out.push_str(new);
                out.push_str(&line[indent + key.len()..]);
                written = true;
            }
        } else if indent == 0 && !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            section = None;
        }
        if !written {
            out.push_str(line);
        }
        out.push('\n');
    }
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_names_are_read_under_the_new_ones_with_a_note_each() {
        let text = "nodes:\n  stale_after: 60\nhealth:\n  # comment\n  timeout_seconds: 5\n  debounce_s: 3\nalerts:\n  rules:\n    cooldown: {}\n";
        let (renamed, notes) = rename_older_keys(text, Path::new("observer.yaml"));
        assert_eq!(
            renamed,
            "nodes:\n  stale_after_s: 60\nhealth:\n  # comment\n  timeout_s: 5\n  debounce_s: 3\nalerts:\n  rules:\n    cooldown: {}\n"
        );
        let lines: Vec<Option<u64>> = notes.iter().map(|n| n.line).collect();
        assert_eq!(lines, [Some(2), Some(5)]);
        assert!(notes[0].message.contains("`nodes.stale_after` is an older name of `nodes.stale_after_s`"));
    }

    #[test]
    fn an_older_name_in_another_section_is_not_renamed() {
        let (renamed, notes) = rename_older_keys("retention:\n  stale_after: 3\n", Path::new("x"));
        assert_eq!(renamed, "retention:\n  stale_after: 3\n");
        assert!(notes.is_empty());
    }
}
