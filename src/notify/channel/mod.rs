//! The channels a notification is handed to: `hook` (a program, no shell)
//! and `webhook` (an HTTP POST in one of three formats). Each attempt gives
//! a [`Response`] for `retry::decide` and, when it failed, a line saying
//! why.

mod alertmanager;
mod hook;
mod ntfy;
mod webhook;

use std::time::Duration;

use super::retry::Response;
use crate::config::ChannelConfig;
use crate::engine::alerts::Notification;

pub use alertmanager::payload as alertmanager_payload;

/// A channel ready to send: for a webhook, one HTTP agent whose pooled
/// connections every attempt of the round shares (keep-alive).
pub enum Channel {
    Hook { argv: Vec<String>, timeout: Duration },
    Webhook(webhook::Webhook),
}

/// What one attempt gave.
#[derive(Clone, Debug)]
pub struct Sent {
    pub response: Response,
    pub error: Option<String>,
}

impl Channel {
    /// `None` for a channel with neither a hook nor a webhook (the config
    /// check refuses those; delivery skips them).
    pub fn new(config: &ChannelConfig) -> Option<Channel> {
        let timeout = Duration::from_secs(config.timeout_s.max(1));
        if let Some(argv) = &config.hook {
            return Some(Channel::Hook { argv: argv.clone(), timeout });
        }
        let url = config.webhook.as_ref()?;
        Some(Channel::Webhook(webhook::Webhook::new(&config.name, url, config.format, timeout)))
    }

    pub fn send(&self, notification: &Notification) -> Sent {
        match self {
            Channel::Hook { argv, timeout } => hook::send(argv, *timeout, notification),
            Channel::Webhook(webhook) => webhook.send(notification),
        }
    }
}
