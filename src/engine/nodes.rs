//! Node liveness from `heartbeat`, `node_up` and `node_down`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Engine;
use crate::event::{Event, Kind};
use crate::time::Ts;

/// What events said about a node. `stale` is not stored: it is derived from
/// `last_seen` and the clock when the world is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    Up,
    Down,
    Stale,
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    pub status: NodeStatus,
    pub last_seen: Option<Ts>,
}

impl Default for NodeState {
    fn default() -> Self {
        NodeState { status: NodeStatus::Unknown, last_seen: None }
    }
}

pub(super) fn apply(engine: &mut Engine, event: &Event) {
    let Some(name) = event.node.as_deref() else { return };
    let Some(node) = engine.nodes.get_or_insert_default(name) else { return };
    match event.kind {
        Kind::Heartbeat | Kind::NodeUp => {
            if event.kind == Kind::Heartbeat {
                engine.counters.heartbeats += 1;
            }
            node.status = NodeStatus::Up;
            node.last_seen = Some(node.last_seen.map_or(event.ts, |seen| seen.max(event.ts)));
        }
        Kind::NodeDown => node.status = NodeStatus::Down,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::given::given;
    use super::*;

    #[test]
    fn heartbeat_marks_up_and_node_down_marks_down() {
        let engine = given(&[
            r#"{"ts":"2026-05-12T12:00:00Z","type":"heartbeat","node":"saturn"}"#,
            r#"{"ts":"2026-05-12T12:01:00Z","type":"node_down","node":"saturn"}"#,
        ]);
        assert_eq!(engine.nodes["saturn"].status, NodeStatus::Down);
        assert_eq!(engine.nodes["saturn"].last_seen, Ts::parse("2026-05-12T12:00:00Z").ok());
        assert_eq!(engine.counters.heartbeats, 1);
    }
}
