//! `alerts.json`: the hot view of the alerts (SPEC §4, §6) — pending and
//! firing ones, and for keys whose latest episode resolved, that episode —
//! as the engine holds them (the field order of [`Alert`] is the file's).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{SCHEMA_VERSION, WorldFile};
use crate::engine::Engine;
use crate::engine::alerts::Alert;
use crate::time::Ts;

/// The file as a whole: borrowed when written, owned when read back.
#[derive(Serialize, Deserialize)]
pub struct AlertsFile<'a> {
    pub schema_version: u32,
    pub as_of: Option<Ts>,
    /// By alert key, `<rule>:<subject>`.
    pub alerts: BTreeMap<Cow<'a, str>, Cow<'a, Alert>>,
}

impl WorldFile for AlertsFile<'_> {
    const NAME: &'static str = "alerts.json";
}

pub(super) fn project(engine: &Engine) -> AlertsFile<'_> {
    AlertsFile {
        schema_version: SCHEMA_VERSION,
        as_of: engine.clock(),
        alerts: engine.alerts().iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v))).collect(),
    }
}
