//! The bound of the hot view (SPEC §4) for deployments and incidents: the
//! state keeps running deployments and active incidents, and per
//! node/service only the last `world.keep_finished` finished ones (latest
//! end time first, then id). An older one, and any at retention, leaves the
//! state as an output of the pass ([`Finished::left_deployments`],
//! [`Finished::left_incidents`]) that the shell appends, once, to
//! `world/history/` before it writes the world that no longer shows it —
//! the protocol of `store::history`, which alerts use too. Whichever comes
//! first, pushed out or retention, an entry leaves exactly once.
//!
//! What left is remembered by id and end time until retention (`gone`),
//! and nothing else of it: an incident id stays unique (`-2`, `-3`… as
//! before), and a late event for a deployment that left changes nothing,
//! since its history line is final (it would otherwise come back as a new
//! run without a start). That is a few dozen bytes per entry instead of the
//! whole entry.
//!
//! A checkpoint written before this bound keeps every entry and no index
//! (`indexed` is false): the first pass that starts builds the index from
//! the entries and trims every group, so the surplus goes to the history in
//! that pass (oldest end first, group by group). Each pass trims every
//! group, which also applies a lowered `keep_finished` at once.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub(super) use self::gone::{Gone, SavedSet, read_saved_in, write_saved_head};
use super::{Deployment, DeploymentStatus, Incident, Keyed};
use crate::event::Name;
use crate::time::Ts;

#[path = "finished_gone.rs"]
mod gone;

/// Finished entries of one kind: the ones the hot view keeps, by group,
/// and the ids that left.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Kept {
    /// By `node/service` (an unknown part empty): end time and id, oldest
    /// first. Hashed: every run that finishes and every trim looks its
    /// group up, and the `memcmp` of the names (which share the node's)
    /// down a tree was ~2 % of the busy rebuild's fold thread; written in
    /// key order all the same.
    groups: Keyed<BTreeSet<(Ts, String)>>,
    /// Ids that left the hot view, with their end time, until retention:
    /// every deployment event whose run the hot view does not hold asks
    /// whether it left. Filed by the minute they ended
    /// (`finished_gone.rs`), so that a pass reads and writes the
    /// minutes it changed.
    gone: Gone,
}

/// What the state keeps of finished entries, and what left them in the
/// current pass.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Finished {
    /// False in a state written before the bound (and in a new one until
    /// its first pass starts).
    #[serde(default)]
    indexed: bool,
    deployments: Kept,
    incidents: Kept,
    /// Deployments that left the hot view in the current pass, in the order
    /// they left.
    #[serde(skip)]
    left_deployments: Vec<(Name, Deployment)>,
    /// Incidents that left the hot view in the current pass, in order.
    #[serde(skip)]
    left_incidents: Vec<Incident>,
    /// Groups that gained a finished entry since they were last trimmed.
    #[serde(skip)]
    dirty: BTreeSet<(Which, String)>,
}

/// The state, without what the checkpoint does not keep (the pass's
/// outputs, already in the history).
impl PartialEq for Finished {
    fn eq(&self, other: &Self) -> bool {
        self.indexed == other.indexed && self.deployments == other.deployments && self.incidents == other.incidents
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Which {
    Deployments,
    Incidents,
}

/// The group of an entry: `node/service`.
fn group(node: Option<&str>, service: Option<&str>) -> String {
    let (node, service) = (node.unwrap_or(""), service.unwrap_or(""));
    crate::engine::service_key(node, service).into()
}

/// Adds an entry to its group; the group's name is copied only for a group
/// not seen yet.
fn join(groups: &mut Keyed<BTreeSet<(Ts, String)>>, group: &str, entry: (Ts, String)) {
    match groups.get_mut(group) {
        Some(set) => {
            set.insert(entry);
        }
        None => {
            groups.insert(group.into(), BTreeSet::from([entry]));
        }
    }
}

/// Where a deployment sits among the finished ones, if it is finished.
pub(super) fn deployment_place(run: &Deployment) -> Option<(String, Ts)> {
    place(run.node.as_deref(), run.service.as_deref(), run.status, run.ended_at)
}

/// [`deployment_place`] of a run with these fields.
pub(super) fn place(
    node: Option<&str>,
    service: Option<&str>,
    status: DeploymentStatus,
    ended_at: Option<Ts>,
) -> Option<(String, Ts)> {
    let ended = ended_at.filter(|_| status != DeploymentStatus::Running)?;
    Some((group(node, service), ended))
}

impl Finished {
    /// The index of a state written before the bound: every finished entry
    /// it holds, each group to be trimmed.
    pub(super) fn of_old_state(deployments: &Keyed<Deployment>, incidents: &Keyed<Box<Incident>>) -> Finished {
        let mut finished = Finished { indexed: true, ..Finished::default() };
        for (id, run) in deployments.sorted() {
            finished.deployment_moved(id, None, deployment_place(run));
        }
        for incident in incidents.values() {
            if let Some(at) = incident.resolved_at {
                finished.incident_resolved(incident, at);
            }
        }
        finished
    }

    /// A pass starts: what left before is in the history already, and
    /// every group is trimmed (see the module).
    pub(super) fn on_pass_started(&mut self, deployments: &Keyed<Deployment>, incidents: &Keyed<Box<Incident>>) {
        if !self.indexed {
            *self = Finished::of_old_state(deployments, incidents);
        }
        self.left_deployments.clear();
        self.left_incidents.clear();
        let deployments = self.deployments.groups.iter_unordered().map(|(g, _)| (Which::Deployments, g.to_string()));
        let incidents = self.incidents.groups.iter_unordered().map(|(g, _)| (Which::Incidents, g.to_string()));
        let all: Vec<_> = deployments.chain(incidents).collect();
        self.dirty.extend(all);
    }

    /// The ids that left: the deployments', the incidents'.
    pub(super) fn gone(&self) -> [&Gone; 2] {
        [&self.deployments.gone, &self.incidents.gone]
    }

    pub(super) fn gone_mut(&mut self) -> [&mut Gone; 2] {
        [&mut self.deployments.gone, &mut self.incidents.gone]
    }

    pub(super) fn deployment_left(&self, id: &str) -> bool {
        self.deployments.gone.contains(id)
    }

    pub(super) fn incident_left(&self, id: &str) -> bool {
        self.incidents.gone.contains(id)
    }

    /// A deployment's place among the finished ones changed (it finished,
    /// ended again, or learnt its node or service).
    pub(super) fn deployment_moved(&mut self, id: &str, before: Option<(String, Ts)>, after: Option<(String, Ts)>) {
        if before == after {
            return;
        }
        let groups = &mut self.deployments.groups;
        if let Some((group, at)) = before
            && let Some(set) = groups.get_mut(&group)
        {
            set.remove(&(at, id.to_string()));
            if set.is_empty() {
                groups.remove(&group);
            }
        }
        if let Some((group, at)) = after {
            join(groups, &group, (at, id.to_string()));
            self.dirty.insert((Which::Deployments, group));
        }
    }

    pub(super) fn incident_resolved(&mut self, incident: &Incident, at: Ts) {
        let group = group(Some(&incident.node), Some(&incident.service));
        join(&mut self.incidents.groups, &group, (at, incident.id.clone()));
        self.dirty.insert((Which::Incidents, group));
    }

    /// Every group that gained an entry keeps its newest `keep`; the rest
    /// leave `deployments` and `incidents` for the pass's outputs.
    pub(super) fn trim(
        &mut self,
        keep: usize,
        deployments: &mut Keyed<Deployment>,
        incidents: &mut Keyed<Box<Incident>>,
    ) {
        for (which, group) in std::mem::take(&mut self.dirty) {
            let kept = match which {
                Which::Deployments => &mut self.deployments,
                Which::Incidents => &mut self.incidents,
            };
            let Some(set) = kept.groups.get_mut(&group) else { continue };
            while set.len() > keep {
                let Some((at, id)) = set.pop_first() else { break };
                match which {
                    Which::Deployments => {
                        // The run's own key goes with it: no copy of the id.
                        if let Some(entry) = deployments.remove_entry(&id) {
                            self.left_deployments.push(entry);
                        }
                    }
                    Which::Incidents => {
                        if let Some(incident) = incidents.remove(&id) {
                            self.left_incidents.push(*incident);
                        }
                    }
                }
                kept.gone.insert(id, at);
            }
            if set.is_empty() {
                kept.groups.remove(&group);
            }
        }
    }

    /// Retention: finished entries that ended before `horizon` leave (in
    /// id order), and so are the ids that left before it forgotten.
    pub(super) fn prune(
        &mut self,
        horizon: Ts,
        deployments: &mut Keyed<Deployment>,
        incidents: &mut Keyed<Box<Incident>>,
    ) {
        let old = |run: &Deployment| run.ended_at.is_some_and(|at| at < horizon);
        // In id order, as the map was ordered before it was hashed: the
        // expired ids alone are sorted, not every run each hour.
        let mut expired: Vec<Name> =
            deployments.iter_unordered().filter(|(_, run)| old(run)).map(|(id, _)| id.clone()).collect();
        expired.sort_unstable();
        for id in expired {
            if let Some(run) = deployments.remove(&id) {
                self.deployment_moved(&id, deployment_place(&run), None);
                self.left_deployments.push((id, run));
            }
        }
        let old = |incident: &Incident| incident.resolved_at.is_some_and(|at| at < horizon);
        let mut expired: Vec<String> =
            incidents.iter_unordered().filter(|(_, i)| old(i)).map(|(id, _)| id.to_string()).collect();
        expired.sort_unstable();
        for id in expired {
            if let Some(incident) = incidents.remove(&id) {
                let group = group(Some(&incident.node), Some(&incident.service));
                if let (Some(set), Some(at)) = (self.incidents.groups.get_mut(&group), incident.resolved_at) {
                    set.remove(&(at, id.clone()));
                    if set.is_empty() {
                        self.incidents.groups.remove(&group);
                    }
                }
                self.left_incidents.push(*incident);
            }
        }
        self.deployments.gone.forget_before(horizon);
        self.incidents.gone.forget_before(horizon);
    }

    pub fn left_deployments(&self) -> &[(Name, Deployment)] {
        &self.left_deployments
    }

    pub fn left_incidents(&self) -> &[Incident] {
        &self.left_incidents
    }

    /// `Engine::take_left`: the shell takes the entries that left.
    pub(super) fn take_left(&mut self) -> (Vec<(Name, Deployment)>, Vec<Incident>) {
        (std::mem::take(&mut self.left_deployments), std::mem::take(&mut self.left_incidents))
    }
}

#[cfg(test)]
#[path = "finished_tests.rs"]
mod tests;
