//! `incidents.json`: the hot view of the incidents (SPEC §4) — active ones
//! and, per node/service, the last `world.keep_finished` resolved ones — as
//! the engine holds them (the field order of
//! [`Incident`] is the file's).

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{InOrder, SCHEMA_VERSION, WorldFile};
use crate::engine::{Engine, Incident};
use crate::time::Ts;

/// The file as a whole: borrowed when written, owned when read back.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct IncidentsFile<'a> {
    pub schema_version: u32,
    pub as_of: Option<Ts>,
    pub incidents: InOrder<'a, Cow<'a, Incident>>,
}

impl WorldFile for IncidentsFile<'_> {
    const NAME: &'static str = "incidents.json";
}

pub(super) fn project(engine: &Engine) -> IncidentsFile<'_> {
    IncidentsFile {
        schema_version: SCHEMA_VERSION,
        as_of: engine.clock(),
        // In key order before they are collected, as `deployments.json`'s
        // views are (`deployments::project`): a `Cow` of an incident is as
        // large as an incident, and a sort of them moves each.
        incidents: engine
            .incidents()
            .sorted()
            .into_iter()
            .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(&**v)))
            .collect(),
    }
}
