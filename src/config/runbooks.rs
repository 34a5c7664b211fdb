//! The runbooks of `alerts.rules`, checked against the inventory once it is
//! known (their form was checked while the file was parsed): a path must
//! lead to a file inside the inventory directory. Reported at the line of
//! the `runbook:` key, found again in the file's text.

use std::collections::BTreeMap;
use std::path::Path;

use super::Config;
use crate::input_problem::InputProblem;
use crate::runbook;

/// Checks every rule's runbook of `config` (read from `file`) against the
/// inventory directory; a path runbook without an inventory is a problem.
pub fn check_runbooks(config: &Config, file: &Path, inventory: Option<&Path>) -> Result<(), InputProblem> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (rule, settings) in &config.alerts.rules {
        let Some(value) = settings.runbook.as_deref() else { continue };
        let nth = seen.entry(value).or_default();
        *nth += 1;
        let found = match inventory {
            Some(dir) => runbook::check_in(value, dir),
            None if runbook::is_url(value) => Ok(()),
            None => Err(format!("runbook `{value}` is a path inside the inventory, but no inventory is given")),
        };
        if let Err(message) = found {
            let line = std::fs::read_to_string(file).ok().and_then(|text| runbook::line_of(&text, value, *nth));
            return Err(InputProblem::new(file, line, format!("alerts.rules.{}: {message}", rule.name())));
        }
    }
    Ok(())
}
