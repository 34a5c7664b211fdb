//! Events over NATS JetStream (SPEC §8): `emit --nats` publishes ([`publish`]),
//! `relay` and `watch --nats` copy a stream into `events/nats/` exactly once
//! ([`relay`], with its log and state file in [`log`]).
//!
//! The client is `async-nats`; its tokio runtime (current-thread, created by
//! [`runtime`]) lives only inside this module, so that everything else stays
//! synchronous. Credentials come from files only ([`Credentials`]): a secret
//! on the command line would be readable in `ps` by every user.

pub mod lag;
pub mod log;
pub mod publish;
pub mod relay;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

/// How to reach the server: its URL and at most one credentials file.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// A `.creds` file (a user JWT and its nkey seed, as `nsc` writes it).
    pub creds: Option<PathBuf>,
    /// A file holding an nkey seed (`SU…`).
    pub nkey: Option<PathBuf>,
    /// A file holding a token.
    pub token: Option<PathBuf>,
}

/// A current-thread tokio runtime for one NATS job; dropped with it.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the NATS client's runtime")
}

/// Reads the first word of a secret file, with the file in the message when
/// it cannot.
fn secret(path: &Path, what: &str) -> Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the {what} file {}", path.display()))?;
    match text.split_whitespace().next() {
        Some(word) => Ok(word.to_string()),
        None => bail!("the {what} file {} is empty", path.display()),
    }
}

/// Connects to `url` with `credentials`. The first connection is tried once
/// (an unreachable server is an error the caller reports); once connected,
/// the client reconnects by itself with a growing delay (up to 5 s).
pub(crate) async fn connect(url: &str, credentials: &Credentials) -> Result<async_nats::Client> {
    let mut options = async_nats::ConnectOptions::new()
        .name("observer")
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(5)))
        .reconnect_delay_callback(|attempts| backoff(attempts as u32));
    if let Some(file) = &credentials.creds {
        options = options
            .credentials_file(file)
            .await
            .with_context(|| format!("cannot read the NATS credentials file {}", file.display()))?;
    }
    if let Some(file) = &credentials.nkey {
        options = options.nkey(secret(file, "nkey seed")?);
    }
    if let Some(file) = &credentials.token {
        options = options.token(secret(file, "token")?);
    }
    options.connect(url).await.map_err(|error| connect_error(url, error))
}

/// Says why the connection failed, in words a user can act on.
fn connect_error(url: &str, error: async_nats::ConnectError) -> anyhow::Error {
    use async_nats::ConnectErrorKind as Kind;
    let why = match error.kind() {
        Kind::Authentication | Kind::AuthorizationViolation => {
            "the server refused the credentials (check --nats-creds, --nats-nkey or --nats-token-file)"
        }
        Kind::ServerParse => "the URL is not a NATS server address (nats://HOST:PORT)",
        Kind::Dns => "its host name does not resolve",
        Kind::TimedOut => "no answer within 5 s",
        Kind::Tls => "the TLS handshake failed",
        Kind::Io | Kind::MaxReconnects => "the server is unreachable",
    };
    anyhow::anyhow!("cannot connect to NATS at {url}: {why} ({error})")
}

/// The delay before reconnection attempt `attempts`: 100 ms doubling up to 5 s.
pub(crate) fn backoff(attempts: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << attempts.min(6));
    Duration::from_millis(ms.min(5_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnection_backs_off_from_100_ms_to_5_s() {
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(5), Duration::from_millis(3_200));
        assert_eq!(backoff(6), Duration::from_secs(5));
        assert_eq!(backoff(60), Duration::from_secs(5));
    }
}
