//! `webhook`: an HTTP POST with `Idempotency-Key: <id>`, its body in the
//! channel's format. Redirects are not followed (a 3xx is the receiver's
//! answer, and not a 2xx); proxies from the environment are honoured, as
//! a webhook usually goes out of the homelab.

use std::io::Read;
use std::time::Duration;

use ureq::tls::{RootCerts, TlsConfig};

use super::{Sent, alertmanager, ntfy};
use crate::config::WebhookFormat;
use crate::engine::alerts::Notification;
use crate::notify::retry::Response;

/// At most this much of a response is read (and dropped), so that the
/// connection can go back to the pool.
const MAX_RESPONSE: u64 = 64 * 1024;

pub struct Webhook {
    agent: ureq::Agent,
    url: String,
    format: WebhookFormat,
    /// The channel's name: Alertmanager's `receiver`.
    receiver: String,
}

impl Webhook {
    pub fn new(receiver: &str, url: &str, format: WebhookFormat, timeout: Duration) -> Webhook {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            .tls_config(TlsConfig::builder().root_certs(RootCerts::PlatformVerifier).build())
            .build();
        Webhook { agent: config.into(), url: url.to_string(), format, receiver: receiver.to_string() }
    }

    pub fn send(&self, n: &Notification) -> Sent {
        let request = self.agent.post(&self.url).header("Idempotency-Key", &n.id);
        let result = match self.format {
            WebhookFormat::Observer => match serde_json::to_vec(n) {
                Ok(body) => request.content_type("application/json").send(&body[..]),
                Err(e) => return failed(format!("cannot write JSON: {e}")),
            },
            WebhookFormat::Alertmanager => match serde_json::to_vec(&alertmanager::payload(&self.receiver, n)) {
                Ok(body) => request.content_type("application/json").send(&body[..]),
                Err(e) => return failed(format!("cannot write JSON: {e}")),
            },
            WebhookFormat::Ntfy => {
                let headers = ntfy::headers(n);
                let request = headers.iter().fold(request, |r, (name, value)| r.header(*name, value));
                request.content_type("text/plain; charset=utf-8").send(ntfy::body(n).as_bytes())
            }
        };
        match result {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let mut sink = Vec::new();
                let _ = response.body_mut().with_config().reader().take(MAX_RESPONSE).read_to_end(&mut sink);
                let error = (!(200..300).contains(&status)).then(|| {
                    let said = String::from_utf8_lossy(&sink);
                    let said = said.lines().next().unwrap_or("").trim().chars().take(200).collect::<String>();
                    if said.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {said}") }
                });
                Sent { response: Response::Http(status), error }
            }
            Err(e) => failed(describe(&e)),
        }
    }
}

fn failed(error: String) -> Sent {
    Sent { response: Response::Failed, error: Some(error) }
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".to_string(),
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
            std::io::ErrorKind::ConnectionReset => "connection reset".to_string(),
            _ => io.to_string(),
        },
        other => other.to_string(),
    }
}
