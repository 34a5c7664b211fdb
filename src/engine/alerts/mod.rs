//! Alerts and notifications (SPEC §6), decided by the pure fold on engine
//! time, so that a replay decides the same: which rule holds for which
//! subject, the lifecycle pending → firing → resolved, and the notifications
//! that follow under the policy (cooldown, reminders, budget, suppression,
//! flapping). Delivery is not here: it only carries out what the outbox
//! holds (`crate::notify`).

mod alert;
mod notification;
mod rules;

pub use alert::{Alert, AlertStatus, Episode};
pub use notification::{Notification, NotificationKind, NotificationRef, priority};
pub use rules::{AlertRules, Rule, RuleOverride, RuleSettings};
