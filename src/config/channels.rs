//! Checking `notify.channels` while the file is parsed, so that every
//! problem carries its line: exactly one of `hook` or `webhook`, names
//! that tell channels apart, a hook program given as an absolute path or a
//! name, a webhook URL that parses and is http or https, `rules` that
//! exist, and no `format` on a hook (it would be silently ignored).
//!
//! Whether a hook's program is there and may be run is a fact of the
//! machine, not of the file, and can change between runs (a script
//! deleted, a disk not mounted yet): [`hook_problems`] tells it apart.
//! `observer validate` counts it as a problem; every other command warns
//! and goes on, and the channel's deliveries fail (and are retried) until
//! the program is back, as for any failing channel: a failing channel
//! never stops the fold nor holds up the other channels.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::alerts::RuleName;
use super::located;
use super::notify::{ChannelConfig, WebhookFormat, default_timeout_s};
use crate::event::Severity;
use crate::input_problem::InputProblem;

/// A channel as written: `format` is kept optional to tell a `format` on a
/// hook from the default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    name: String,
    #[serde(default, deserialize_with = "hook")]
    hook: Option<Vec<String>>,
    #[serde(default, deserialize_with = "webhook")]
    webhook: Option<String>,
    #[serde(default)]
    format: Option<WebhookFormat>,
    #[serde(default = "default_timeout_s")]
    timeout_s: u64,
    #[serde(default)]
    min_severity: Option<Severity>,
    #[serde(default)]
    rules: Option<Vec<RuleName>>,
    #[serde(default, deserialize_with = "after_s")]
    after_s: Option<u64>,
}

/// `notify.channels`, each channel checked, no two with one name.
pub(super) fn checked<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<ChannelConfig>, D::Error> {
    struct Channels;
    impl<'de> Visitor<'de> for Channels {
        type Value = Vec<ChannelConfig>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of channels")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut names = BTreeSet::new();
            let mut channels = Vec::new();
            while let Some(channel) = seq.next_element_seed(Checked(&mut names))? {
                channels.push(channel);
            }
            Ok(channels)
        }
    }
    deserializer.deserialize_seq(Channels)
}

/// One channel, checked with the names of the channels before it.
struct Checked<'a>(&'a mut BTreeSet<String>);

impl<'de> DeserializeSeed<'de> for Checked<'_> {
    type Value = ChannelConfig;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ChannelConfig, D::Error> {
        let names = self.0;
        let raw: RawChannel = located::checked(deserializer, |raw: &RawChannel| raw.check(names))?;
        names.insert(raw.name.clone());
        Ok(ChannelConfig {
            name: raw.name,
            hook: raw.hook,
            webhook: raw.webhook,
            format: raw.format.unwrap_or_default(),
            timeout_s: raw.timeout_s,
            min_severity: raw.min_severity,
            rules: raw.rules.map(|rules| rules.into_iter().map(|RuleName(rule)| rule.name().to_string()).collect()),
            after_s: raw.after_s,
        })
    }
}

impl RawChannel {
    /// What serde cannot say about a channel, given the names before it.
    fn check(&self, names: &BTreeSet<String>) -> Result<(), String> {
        let name = &self.name;
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            return Err("a channel needs a name, without control characters".into());
        }
        if names.contains(name) {
            return Err(format!(
                "two channels are named `{name}`; give each its own name (deliveries are recorded by it)"
            ));
        }
        match (&self.hook, &self.webhook) {
            (Some(_), Some(_)) | (None, None) => Err(format!("channel `{name}`: give exactly one of hook or webhook")),
            (Some(_), None) if self.format.is_some() => Err(format!(
                "channel `{name}`: format is for webhooks; a hook always gets the notification as JSON on stdin"
            )),
            _ if self.timeout_s == 0 => Err(format!("channel `{name}`: a timeout_s of 0 would fail every delivery")),
            _ => Ok(()),
        }
    }
}

/// A hook's argv, whose program is an absolute path or a name to find in
/// `PATH` (the hook runs without a shell, from wherever observer runs, so
/// a relative path would depend on that). Whether it is there is told by
/// [`hook_problems`].
fn hook<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    let argv = located::checked(deserializer, |argv: &Vec<String>| {
        let Some(program) = argv.first().filter(|program| !program.is_empty()) else {
            return Err("a hook needs its argv: a list whose first item is the program".to_string());
        };
        match program.contains('/') && !Path::new(program).is_absolute() {
            true => Err(format!(
                "hook program `{program}` is a relative path; give an absolute path or a program name found in PATH"
            )),
            false => Ok(()),
        }
    })?;
    Ok(Some(argv))
}

/// The hooks of `channels` (read from the config `file`) whose program
/// cannot be run on this machine now: missing, not a file, not executable,
/// or a name not found in `PATH`. Each at the line of the channel's hook,
/// found again in the file's text.
pub fn hook_problems(channels: &[ChannelConfig], file: &Path) -> Vec<InputProblem> {
    // Read again only to place a problem: every command asks, and nearly
    // always every hook can be run.
    let text = std::cell::OnceCell::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for (index, channel) in channels.iter().enumerate() {
        let Some(program) = channel.hook.as_ref().and_then(|argv| argv.first()) else { continue };
        let nth = seen.entry(program.as_str()).or_default();
        *nth += 1;
        if let Some(why) = program_problem(program) {
            let text = text.get_or_init(|| std::fs::read_to_string(file).unwrap_or_default());
            let line = text.lines().enumerate().filter(|(_, line)| line.contains(program.as_str())).nth(*nth - 1);
            problems.push(InputProblem::new(
                file,
                line.map(|(at, _)| at as u64 + 1),
                format!("notify.channels[{index}].hook: {why}"),
            ));
        }
    }
    problems
}

/// Why `program` (an absolute path or a name) cannot be run as a hook now,
/// if it cannot.
fn program_problem(program: &str) -> Option<String> {
    if program.contains('/') {
        let path = Path::new(program);
        return match executable(path) {
            Ok(()) => None,
            Err(why) => Some(format!("hook program {program} {why}")),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found: Option<PathBuf> =
        std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| executable(candidate).is_ok());
    match found {
        Some(_) => None,
        None => Some(format!("hook program `{program}` is not found in PATH; give its absolute path")),
    }
}

/// Whether `path` is a file someone may execute.
fn executable(path: &Path) -> Result<(), &'static str> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Err(_) => Err("does not exist"),
        Ok(meta) if !meta.is_file() => Err("is not a file"),
        Ok(meta) if meta.permissions().mode() & 0o111 == 0 => Err("is not executable (chmod +x)"),
        Ok(_) => Ok(()),
    }
}

/// `after_s` of an escalation channel: a whole number of seconds, at least
/// 1 (0 would be an ordinary channel that misses every firing).
fn after_s<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    struct AfterS;
    impl AfterS {
        fn not<E: serde::de::Error>(shown: String) -> E {
            E::custom(format!(
                "after_s {shown} is not a number of seconds of 1 or more: an escalation channel is paged once an \
                 alert has fired that long unacknowledged"
            ))
        }
    }
    impl Visitor<'_> for AfterS {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a whole number of seconds, 1 or more")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            if v == 0 { Err(AfterS::not("0".to_string())) } else { Ok(v) }
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| AfterS::not(v.to_string())).and_then(|v| self.visit_u64(v))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
            Err(AfterS::not(v.to_string()))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u64, E> {
            Err(AfterS::not(format!("`{v}`")))
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<u64, E> {
            Err(AfterS::not(v.to_string()))
        }
    }
    deserializer.deserialize_any(AfterS).map(Some)
}

/// A webhook URL that parses, with a host, over http or https.
fn webhook<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let url = located::checked(deserializer, |url: &String| match url.parse::<ureq::http::Uri>() {
        Err(e) => Err(format!("webhook `{url}` is not a URL ({e})")),
        Ok(uri) => match uri.scheme_str() {
            Some("http" | "https") if uri.host().is_some_and(|host| !host.is_empty()) => Ok(()),
            Some("http" | "https") => Err(format!("webhook `{url}` has no host")),
            _ => Err(format!("webhook `{url}` must start with http:// or https://")),
        },
    })?;
    Ok(Some(url))
}
