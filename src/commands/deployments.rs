//! `observer deployments`: the deployment runs of world/deployments.json,
//! newest first, filtered by `--status`, `--node` and `--service`, as a
//! table for people or (`--json`) an array for scripts.
//!
//! Like `status`, it reads the world file only, never the events or the
//! lock. Newest first means by `started_at`, latest first; a run whose
//! start was never seen (only its end was) comes after those, and equal
//! times go by correlation id.

use std::collections::BTreeSet;

use anyhow::{Result, bail};

use super::context::Context;
use super::filter::Subject;
use super::{print, shown, warn, word};
use crate::cli::{DeploymentStatusArg, DeploymentsArgs};
use crate::engine::DeploymentStatus;
use crate::world::{self, DeploymentView, DeploymentsFile, NodesFile, ServicesFile};

pub fn execute(context: &Context, args: &DeploymentsArgs) -> Result<i32> {
    let dirs = &context.dirs;
    let subject = Subject::new(args.node.as_deref(), args.service.as_deref());
    // The names it warns are unknown from the same generation, even while
    // passes write the next ones.
    let (file, names) = world::read_whole(&dirs.world, |generation| {
        let names = (!subject.is_everything())
            .then(|| (world::read::<NodesFile>(generation), world::read::<ServicesFile>(generation)));
        (world::read::<DeploymentsFile>(generation), names)
    });
    let Some(file) = file else {
        bail!(
            "no {} in {} yet; run `observer run` (or `observer rebuild`) first",
            "deployments.json",
            shown(&dirs.world)
        );
    };
    let runs = file.deployments.into_values().collect::<Vec<_>>();
    if let Some((nodes, services)) = names {
        let nodes = nodes.map(|f| f.nodes).unwrap_or_default();
        let services = services.map(|f| f.services).unwrap_or_default();
        let mut known_nodes: BTreeSet<&str> = nodes.keys().map(|n| n.as_ref()).collect();
        let mut known_services: BTreeSet<&str> = services.values().map(|s| s.state.service.as_str()).collect();
        known_nodes.extend(runs.iter().filter_map(|r| r.node.as_deref()));
        known_services.extend(runs.iter().filter_map(|r| r.service.as_deref()));
        for note in subject.unknown_notes(&known_nodes, &known_services) {
            warn(&note);
        }
    }
    let mut runs: Vec<DeploymentView> = runs
        .into_iter()
        .filter(|run| subject.matches(run.node.as_deref(), run.service.as_deref()))
        .filter(|run| args.status.is_none_or(|wanted| run.status == status_of(wanted)))
        .collect();
    runs.sort_by(|a, b| {
        let newest_first = match (a.started_at, b.started_at) {
            (Some(a), Some(b)) => b.cmp(&a),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        newest_first.then_with(|| a.correlation_id.cmp(&b.correlation_id))
    });
    if args.json {
        print(&String::from_utf8_lossy(&world::render(&runs)?))?;
    } else {
        print(&table(&runs))?;
    }
    Ok(crate::exit::SUCCESS)
}

fn status_of(arg: DeploymentStatusArg) -> DeploymentStatus {
    match arg {
        DeploymentStatusArg::Running => DeploymentStatus::Running,
        DeploymentStatusArg::Failed => DeploymentStatus::Failed,
        DeploymentStatusArg::Succeeded => DeploymentStatus::Succeeded,
    }
}

/// One row per run, columns as wide as their widest cell; `-` for what is
/// not known. The last stage is the latest one the run reported.
fn table(runs: &[DeploymentView]) -> String {
    if runs.is_empty() {
        return "no deployment runs\n".into();
    }
    let header = ["CORRELATION ID", "NODE", "SERVICE", "STATUS", "STARTED", "DURATION", "LAST STAGE"];
    let mut rows: Vec<[String; 7]> = vec![header.map(str::to_string)];
    for run in runs {
        rows.push([
            run.correlation_id.to_string(),
            run.node.as_deref().unwrap_or("-").to_string(),
            run.service.as_deref().unwrap_or("-").to_string(),
            word(run.status),
            run.started_at.map_or("-".into(), |t| t.to_string()),
            run.duration_s.as_ref().map_or("-".into(), |d| format!("{d}s")),
            run.stages.last().map_or("-".into(), |s| format!("{} ({})", s.name, s.status)),
        ]);
    }
    let mut widths = [0; 7];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<String> = row.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}
