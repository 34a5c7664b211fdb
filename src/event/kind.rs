//! The event types the engine understands, their wire names, and which
//! envelope fields each one needs.
//!
//! The names are written once, in the `kinds!` table below, which gives both
//! directions (name → kind when parsing, kind → name when an event keeps its
//! type name), so the two cannot drift apart.

/// Declares [`Kind`] from one table of `Variant => "wire_name"` rows, with
/// [`Kind::from_name`] and [`Kind::static_name`] generated from the same rows.
macro_rules! kinds {
    ($(#[$meta:meta])* pub enum Kind { $($variant:ident => $name:literal,)* } else Other) => {
        $(#[$meta])*
        pub enum Kind {
            $($variant,)*
            Other,
        }

        impl Kind {
            /// Every known kind, in the order of the table.
            pub const KNOWN: &[Kind] = &[$(Kind::$variant,)*];

            /// The kind an event's `type` names; `Other` for a name this
            /// version does not know.
            pub fn from_name(name: &str) -> Kind {
                match name {
                    $($name => Kind::$variant,)*
                    _ => Kind::Other,
                }
            }

            /// The name of a known kind, so that the events of a known kind
            /// share it instead of each carrying a copy; `None` for `Other`.
            pub fn static_name(self) -> Option<&'static str> {
                match self {
                    $(Kind::$variant => Some($name),)*
                    Kind::Other => None,
                }
            }
        }
    };
}

kinds! {
    /// The event types the engine understands; anything else is `Other` and
    /// is only counted, so that old observers keep working on new logs.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Kind {
        Heartbeat => "heartbeat",
        NodeUp => "node_up",
        NodeDown => "node_down",
        ServiceUnhealthy => "service_unhealthy",
        HealthcheckFailed => "healthcheck_failed",
        ServiceHealthy => "service_healthy",
        HealthcheckPassed => "healthcheck_passed",
        ServiceRecovered => "service_recovered",
        DeploymentStarted => "deployment_started",
        DeploymentStage => "deployment_stage",
        DeploymentSucceeded => "deployment_succeeded",
        DeploymentFailed => "deployment_failed",
        ProbeResult => "probe_result",
        BudgetExhausted => "budget_exhausted",
        MaintenanceStarted => "maintenance_started",
        MaintenanceEnded => "maintenance_ended",
        AlertAcknowledged => "alert_acknowledged",
        Tick => "tick",
    } else Other
}

impl Kind {
    /// Node events, and every service event (a service lives on a node).
    pub(super) fn needs_node(self) -> bool {
        matches!(
            self,
            Kind::Heartbeat | Kind::NodeUp | Kind::NodeDown | Kind::MaintenanceStarted | Kind::MaintenanceEnded
        ) || self.needs_service()
    }

    pub(super) fn needs_service(self) -> bool {
        matches!(
            self,
            Kind::ServiceUnhealthy
                | Kind::HealthcheckFailed
                | Kind::ServiceHealthy
                | Kind::HealthcheckPassed
                | Kind::ServiceRecovered
                | Kind::ProbeResult
        )
    }

    /// Deployment events: the correlation id names the run they belong to.
    pub(super) fn needs_correlation_id(self) -> bool {
        matches!(
            self,
            Kind::DeploymentStarted | Kind::DeploymentStage | Kind::DeploymentSucceeded | Kind::DeploymentFailed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_kinds_name_themselves() {
        for kind in [
            Kind::Heartbeat,
            Kind::NodeUp,
            Kind::NodeDown,
            Kind::ServiceUnhealthy,
            Kind::HealthcheckFailed,
            Kind::ServiceHealthy,
            Kind::HealthcheckPassed,
            Kind::ServiceRecovered,
            Kind::DeploymentStarted,
            Kind::DeploymentStage,
            Kind::DeploymentSucceeded,
            Kind::DeploymentFailed,
            Kind::ProbeResult,
            Kind::BudgetExhausted,
            Kind::MaintenanceStarted,
            Kind::MaintenanceEnded,
            Kind::AlertAcknowledged,
            Kind::Tick,
        ] {
            let name = kind.static_name().expect("a known kind has a name");
            assert_eq!(Kind::from_name(name), kind);
        }
        assert_eq!(Kind::Other.static_name(), None);
    }
}
