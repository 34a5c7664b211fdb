//! Every problem of a YAML file a person wrote (`observer.yaml`,
//! `topology.yaml`, `services.yaml`), not only the first (issue 10).
//!
//! serde stops at the first problem. So the file is parsed, and each
//! problem found is recorded with its line; then the entry it is on is
//! taken out of the text (that line and the lines indented under it become
//! blank, so every later line keeps its number) and the file is parsed
//! again, until it parses or nothing more can be taken out. An entry taken
//! out takes its default, as if it had never been written, so what is
//! found next is a problem of its own, not a consequence of the first.
//! The checks are the very ones `run` makes: `validate` and `run` cannot
//! disagree on what is wrong.
//!
//! Limits, by design: one problem per line (a flow map such as
//! `{for: 600, severity: bad}` reports its first); a YAML syntax error
//! (a bad indent, an unclosed quote) ends the list, as nothing after it
//! can be read reliably.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::input_problem::InputProblem;

/// No file a person writes has more; the list stops there.
const MAX_PROBLEMS: usize = 100;

/// `T` from `text`, or every problem found in it, in line order.
pub fn parse_all<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T, Vec<InputProblem>> {
    let original: Vec<&str> = text.lines().collect();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut current = text.to_string();
    let mut problems: Vec<InputProblem> = Vec::new();
    let mut taken_out: Vec<usize> = Vec::new();
    loop {
        let error = match serde_yaml::from_str::<T>(&current) {
            Ok(parsed) if problems.is_empty() => return Ok(parsed),
            Ok(_) => break,
            Err(error) => error,
        };
        let mut problem = InputProblem::from_yaml(file, &error);
        if let Err(syntax) = serde_yaml::from_str::<serde_yaml::Value>(&current) {
            // A syntax error is listed as the parser says (with the problem
            // serde met before it, if any), and ends the list. After a
            // first problem, taking an entry out broke the file's structure
            // (a flow map over several lines): it would be ours.
            if problems.is_empty() {
                let syntax = InputProblem::from_yaml(file, &syntax);
                if syntax != problem {
                    problems.push(problem);
                }
                problems.push(syntax);
            }
            break;
        }
        let reported = problem.line.and_then(|line| usize::try_from(line).ok());
        let Some(reported) = reported.filter(|line| *line >= 1 && !original.is_empty()) else {
            problems.push(problem);
            break;
        };
        let at = refine(&lines, reported - 1, &problem.message);
        problem.line = Some(at as u64 + 1);
        // An item taken out of a list before shifts the index serde names
        // of the items after it: counted again in the file as written.
        if !taken_out.is_empty() {
            problem.message = renumbered(&original, at, &problem.message);
        }
        // A problem on an entry that holds one taken out before is a
        // consequence (a probe left without its check): it goes silently.
        let consequence = taken_out.iter().any(|&out| block_of(&original, at).contains(&out));
        let seen = problems.iter().any(|p| p.line == problem.line);
        if !consequence && !seen {
            problems.push(problem);
        }
        if seen || problems.len() >= MAX_PROBLEMS || !take_out(&mut lines, at) {
            break;
        }
        taken_out.push(at);
        current = lines.join("\n");
    }
    problems.sort_by_key(|p| p.line);
    Err(problems)
}

/// `message` with the last index of its path (`notify.channels[0].hook:
/// …`) made the index, in the file as written, of the list item that holds
/// line `at`; as it is when that line is in no block list item.
fn renumbered(original: &[&str], at: usize, message: &str) -> String {
    let Some(index) = item_index(original, at) else { return message.to_string() };
    let path_end = message.find(": ").unwrap_or(message.len());
    let Some(open) = message[..path_end].rfind('[') else { return message.to_string() };
    let Some(close) = message[open..path_end].find(']').map(|at| open + at) else { return message.to_string() };
    if !message[open + 1..close].chars().all(|c| c.is_ascii_digit()) || open + 1 == close {
        return message.to_string();
    }
    format!("{}[{index}]{}", &message[..open], &message[close + 1..])
}

/// The index among its siblings of the block list item (`- …`) that holds
/// line `at`, or `None`.
fn item_index(original: &[&str], at: usize) -> Option<usize> {
    let own = indent(original.get(at)?);
    let start = (0..=at)
        .rev()
        .find(|&i| original[i].trim_start().starts_with("- ") && (i == at || indent(original[i]) < own))?;
    let dash = indent(original[start]);
    if (start + 1..at).any(|i| !is_blank(original[i]) && indent(original[i]) <= dash) {
        return None;
    }
    let mut index = 0;
    for line in original[..start].iter().rev().filter(|line| !is_blank(line)) {
        match indent(line) {
            less if less < dash => break,
            same if same == dash && line.trim_start().starts_with("- ") => index += 1,
            same if same == dash => break,
            _ => {}
        }
    }
    Some(index)
}

/// The lines of the entry that starts at `at`: it and those indented under it.
fn block_of(lines: &[impl AsRef<str>], at: usize) -> std::ops::Range<usize> {
    let own = indent(lines[at].as_ref());
    let end = (at + 1..lines.len())
        .find(|&i| !is_blank(lines[i].as_ref()) && indent(lines[i].as_ref()) <= own)
        .unwrap_or(lines.len());
    at..end
}

/// The lines of the list whose item starts at `at`: from there while lines
/// are indented at least as far as its `- `.
fn list_of(lines: &[String], at: usize) -> std::ops::Range<usize> {
    let own = indent(&lines[at]);
    let end = (at + 1..lines.len()).find(|&i| !is_blank(&lines[i]) && indent(&lines[i]) < own).unwrap_or(lines.len());
    at..end
}

/// serde reports a problem found while a whole entry is checked (a probe's
/// `try_from`) at a line of the enclosing list, not of the entry. Where the
/// message names the probe (`probe `web``), its `name:` line at or after the
/// reported one is the entry; and where the message quotes a value
/// (`` `soon` is not a duration``) held by exactly one line of that entry,
/// that line is the problem's.
fn refine(lines: &[String], reported: usize, message: &str) -> usize {
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let mut at = reported.min(lines.len().saturating_sub(1));
    if let Some(name) = message.split("probe `").nth(1).and_then(|rest| rest.split('`').next())
        && let Some(found) = (at..lines.len()).find(|&i| holds(&lines[i], "name", name))
    {
        at = found;
    }
    if lines.is_empty() {
        return at;
    }
    // The entry, or, when the line starts a list item, the whole list: the
    // problem may be any item's.
    let scope = if lines[at].trim_start().starts_with("- ") { list_of(lines, at) } else { block_of(lines, at) };
    for value in quoted {
        let holding: Vec<usize> = scope.clone().filter(|&i| value_is(&lines[i], value)).collect();
        if let [one] = holding[..] {
            return one;
        }
    }
    at
}

/// Whether `line` is `key: value` (after an optional `- `).
fn holds(line: &str, key: &str, value: &str) -> bool {
    let line = line.trim_start().trim_start_matches("- ").trim_start();
    line.strip_prefix(key)
        .and_then(|rest| rest.trim_start().strip_prefix(':'))
        .is_some_and(|rest| rest.trim().trim_matches(['"', '\'']) == value)
}

/// Whether `line` is `some_key: value`.
fn value_is(line: &str, value: &str) -> bool {
    line.split_once(':').is_some_and(|(_, rest)| rest.trim().trim_matches(['"', '\'']) == value)
}

/// How far a line is indented, a sequence item's `- ` counted as indent
/// of its first key (`  - name: x` is at 4, like the item's other keys).
fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_blank(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.is_empty() || trimmed.starts_with('#')
}

/// Blanks line `at` and the lines indented under it; then, going up, a
/// parent key left with nothing under it (`alerts:` whose only key was
/// taken out), which would otherwise read as null. False if line `at` was
/// blank already (nothing left to take out).
fn take_out(lines: &mut [String], at: usize) -> bool {
    if at >= lines.len() || is_blank(&lines[at]) {
        return false;
    }
    let own = indent(&lines[at]);
    lines[at].clear();
    let mut next = at + 1;
    while next < lines.len() && (is_blank(&lines[next]) || indent(&lines[next]) > own) {
        lines[next].clear();
        next += 1;
    }
    // The parent: the nearest line above that is indented less.
    let Some(parent) = (0..at).rev().find(|&i| !is_blank(&lines[i]) && indent(&lines[i]) < own) else {
        return true;
    };
    let parent_indent = indent(&lines[parent]);
    let has_children = lines[parent + 1..]
        .iter()
        .take_while(|line| is_blank(line) || indent(line) > parent_indent)
        .any(|line| !is_blank(line));
    let bare_key = lines[parent].trim_end().ends_with(':') && !lines[parent].trim_start().starts_with("- ");
    if !has_children && bare_key {
        take_out(lines, parent);
    }
    true
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Section {
        a: u64,
        b: bool,
    }

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct File {
        one: Section,
        two: Section,
        items: Vec<Section>,
        map: BTreeMap<String, Section>,
    }

    fn lines_of(text: &str) -> Vec<(Option<u64>, String)> {
        let problems = parse_all::<File>(text, Path::new("f.yaml")).unwrap_err();
        problems.into_iter().map(|p| (p.line, p.message)).collect()
    }

    #[test]
    fn every_problem_is_listed_with_its_line() {
        let text =
            "one:\n  a: -1\n  b: true\ntwo:\n  c: 1\nitems:\n  - a: 1\n  - a: x\n    b: true\nmap:\n  k:\n    b: 5\n";
        let found = lines_of(text);
        let lines: Vec<Option<u64>> = found.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [Some(2), Some(5), Some(8), Some(12)], "{found:?}");
        assert!(found[1].1.contains("unknown field `c`"), "{found:?}");
    }

    /// A list item taken out for its own problem is not in the file the
    /// next parse reads, so serde numbers the items after it from one less:
    /// each problem names its item's index in the file as written (found by
    /// an operator's review, issue 11's thirty-seventh pass: three bad
    /// channels were all `notify.channels[0]`).
    #[test]
    fn each_problem_names_its_list_item_as_written() {
        let text = "items:\n  - a: x\n  - a: 1\n  - a: y\n    b: true\n  - b: z\n";
        let found = lines_of(text);
        let named: Vec<(Option<u64>, bool)> = found
            .iter()
            .map(|(line, message)| {
                (
                    *line,
                    message.starts_with(&format!(
                        "items[{}]",
                        match line {
                            Some(2) => 0,
                            Some(4) => 2,
                            _ => 3,
                        }
                    )),
                )
            })
            .collect();
        assert_eq!(named, [(Some(2), true), (Some(4), true), (Some(6), true)], "{found:?}");
        assert_eq!(renumbered(&["x:", "  - a: 1", "  - b: 2"], 2, "x[0].b: bad"), "x[1].b: bad");
        assert_eq!(renumbered(&["x:", "- a: 1", "- b: 2"], 2, "x[0].b: bad"), "x[1].b: bad", "an indentless list");
        assert_eq!(renumbered(&["x: 1"], 0, "x: bad [0]"), "x: bad [0]", "not in a list: as it is");
    }

    #[test]
    fn a_good_file_parses_and_a_syntax_error_ends_the_list() {
        let parsed: File = parse_all("one:\n  a: 3\n", Path::new("f.yaml")).unwrap();
        assert_eq!(parsed.one.a, 3);
        let found = lines_of("one:\n  a: 1\n two: x\n");
        assert_eq!(found.len(), 1, "{found:?}");
        // A problem before the syntax error is listed too.
        let found = lines_of("one:\n  z: 1\ntwo:\n  a: [1\n");
        assert_eq!(found.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [Some(2), Some(5)], "{found:?}");
    }

    #[test]
    fn an_empty_file_or_one_of_comments_is_one_problem_not_a_panic() {
        for text in ["", "# nothing\n", "\n\n"] {
            if let Err(found) = parse_all::<Vec<Checked>>(text, Path::new("f.yaml")) {
                assert_eq!(found.len(), 1, "{text:?}: {found:?}");
            }
        }
    }

    /// An entry checked whole (`try_from`), as a probe is.
    #[derive(Debug, Deserialize)]
    #[serde(try_from = "Section")]
    struct Checked;

    impl TryFrom<Section> for Checked {
        type Error = String;
        fn try_from(section: Section) -> Result<Checked, String> {
            if section.b { Err(format!("`{}` is too big", section.a)) } else { Ok(Checked) }
        }
    }

    #[test]
    fn a_problem_of_a_whole_entry_is_put_on_the_line_holding_the_value_it_quotes() {
        let found = parse_all::<Vec<Checked>>("- {a: 1}\n- a: 2\n- a: 3\n  b: true\n", Path::new("f.yaml"));
        let lines: Vec<Option<u64>> = found.unwrap_err().iter().map(|p| p.line).collect();
        assert_eq!(lines, [Some(3)]);
    }

    #[test]
    fn a_section_left_empty_by_a_problem_takes_its_default() {
        // `one:` alone would be null; its only key taken out, it goes too.
        let found = lines_of("one:\n  z: 1\ntwo:\n  a: true\n");
        assert_eq!(found.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [Some(2), Some(4)], "{found:?}");
    }
}
