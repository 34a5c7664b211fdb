//! `observer status`: the world at a glance, for a person (or `--json`).
//!
//! It reads the world files and `state/last-run.json` only — never the events —
//! so it is instant and never competes with a running pass for the lock.

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::context::Context;
use super::{count, print, shown};
use crate::cli::StatusArgs;
use crate::store::world_files::{read_world_file, recorded_rejects};
use crate::time::Ts;

pub fn execute(context: &Context, args: &StatusArgs) -> Result<i32> {
    let dirs = &context.dirs;
    let Some(summary) = read_world_file(dirs, "runtime-summary.json") else {
        bail!("no world in {} yet; run `observer run` (or `observer rebuild`) first", shown(&dirs.world));
    };
    let services = read_world_file(dirs, "services.json").unwrap_or(Value::Null);
    let incidents = read_world_file(dirs, "incidents.json").unwrap_or(Value::Null);
    let deployments = read_world_file(dirs, "deployments.json").unwrap_or(Value::Null);
    let nodes = read_world_file(dirs, "nodes.json").unwrap_or(Value::Null);
    let last_run: Value =
        std::fs::read(dirs.last_run()).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
    let rejects = recorded_rejects(dirs);
    let now = context.now()?;

    let not_healthy: Vec<&Value> = entries(&services, "services").filter(|s| s["status"] != "healthy").collect();
    let problem_nodes: Vec<(&String, &Value)> =
        nodes["nodes"].as_object().into_iter().flatten().filter(|(_, n)| n["status"] != "up").collect();
    let active: Vec<&Value> = entries(&incidents, "incidents").filter(|i| i["status"] == "active").collect();
    let running: Vec<&Value> = entries(&deployments, "deployments").filter(|d| d["status"] == "running").collect();
    let last_run_at = last_run["started_at"].as_str().and_then(|t| Ts::parse(t).ok());
    let as_of = summary["as_of"].as_str().and_then(|t| Ts::parse(t).ok());

    if args.json {
        let out = json!({
            "overall_health": summary["overall_health"],
            "as_of": summary["as_of"],
            "last_run": last_run,
            "seconds_since_last_run": last_run_at.map(|at| (now.0 - at.0) / 1000),
            "seconds_behind": as_of.map(|at| (now.0 - at.0) / 1000),
            "nodes": summary["nodes"],
            "services": summary["services"],
            "nodes_not_up": problem_nodes.iter().map(|(name, n)| json!({"node": name, "status": n["status"], "last_seen": n["last_seen"]})).collect::<Vec<_>>(),
            "services_not_healthy": not_healthy,
            "active_incidents": active,
            "running_deployments": running,
            "events": summary["events"],
            "recent_rejects": rejects.iter().rev().take(10).collect::<Vec<_>>(),
        });
        print(&String::from_utf8_lossy(&crate::world::render(&out)))?;
        return Ok(crate::exit::SUCCESS);
    }

    let mut text = String::new();
    let health = summary["overall_health"].as_str().unwrap_or("unknown");
    text.push_str(&format!("overall health: {health}\n"));
    text.push_str(&format!(
        "world as of {} ({}); last run {}\n",
        as_of.map_or("never".into(), |t| t.to_string()),
        as_of.map_or("no events yet".into(), |t| format!("{} behind the wall clock", ago(now, t))),
        last_run_at.map_or("unknown".into(), |t| format!("{} ago", ago(now, t))),
    ));
    let n = &summary["nodes"];
    text.push_str(&format!(
        "nodes: {} total, {} up, {} down, {} stale, {} unknown\n",
        n["total"], n["up"], n["down"], n["stale"], n["unknown"]
    ));
    for (name, node) in &problem_nodes {
        text.push_str(&format!(
            "  {name}: {} (last seen {})\n",
            node["status"].as_str().unwrap_or("?"),
            node["last_seen"].as_str().unwrap_or("never")
        ));
    }
    let s = &summary["services"];
    text.push_str(&format!(
        "services: {} total, {} healthy, {} degraded, {} unhealthy, {} unknown\n",
        s["total"], s["healthy"], s["degraded"], s["unhealthy"], s["unknown"]
    ));
    for service in &not_healthy {
        text.push_str(&format!(
            "  {}/{}: {}{}\n",
            service["node"].as_str().unwrap_or("?"),
            service["service"].as_str().unwrap_or("?"),
            service["status"].as_str().unwrap_or("?"),
            service["since"].as_str().map(|t| format!(" since {t}")).unwrap_or_default(),
        ));
    }
    text.push_str(&format!("active incidents: {}\n", active.len()));
    for incident in &active {
        text.push_str(&format!(
            "  {} ({}, {} since {})\n",
            incident["id"].as_str().unwrap_or("?"),
            incident["severity"].as_str().unwrap_or("?"),
            count(incident["occurrence_count"].as_u64().unwrap_or(0), "occurrence"),
            incident["started_at"].as_str().unwrap_or("?"),
        ));
    }
    text.push_str(&format!("running deployments: {}\n", running.len()));
    for run in &running {
        text.push_str(&format!(
            "  {} ({}/{}, started {})\n",
            run["correlation_id"].as_str().unwrap_or("?"),
            run["node"].as_str().unwrap_or("-"),
            run["service"].as_str().unwrap_or("-"),
            run["started_at"].as_str().unwrap_or("unknown"),
        ));
    }
    let events = &summary["events"];
    text.push_str(&format!(
        "events: {} folded, {} rejected, {}, {} late\n",
        events["total"],
        events["rejected"],
        count(events["duplicates"].as_u64().unwrap_or(0), "duplicate"),
        events["late"]
    ));
    if let Some(last) = rejects.last() {
        text.push_str(&format!(
            "  last rejected: {}:{}: {} (`observer validate` lists all)\n",
            shown(&dirs.events.join(&last.file)),
            last.line,
            last.reason
        ));
    }
    print(&text)?;
    Ok(crate::exit::SUCCESS)
}

fn entries<'a>(file: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    file[key].as_object().into_iter().flat_map(|map| map.values())
}

/// A rough human duration: "42s", "5m", "3h", "2d".
fn ago(now: Ts, then: Ts) -> String {
    let seconds = (now.0 - then.0) / 1000;
    match seconds {
        s if s < 0 => "in the future".into(),
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
