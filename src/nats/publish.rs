//! `emit --nats`: publish one validated event to JetStream and wait for the
//! stream's acknowledgement.

use anyhow::{Result, anyhow};

use super::{Credentials, connect, runtime};

/// What the stream said when it stored the event.
#[derive(Debug)]
pub struct Published {
    pub stream: String,
    pub sequence: u64,
    /// The stream already held a message with this `Nats-Msg-Id` inside its
    /// dedup window, and kept only the first.
    pub duplicate: bool,
}

/// Publishes `payload` on `subject`, with `Nats-Msg-Id: id` when the event
/// has an id, and returns once a stream acknowledged it. No stream taking
/// the subject, an unreachable server and refused credentials are errors.
pub fn publish(
    url: &str,
    credentials: &Credentials,
    subject: &str,
    id: Option<&str>,
    payload: Vec<u8>,
) -> Result<Published> {
    runtime()?.block_on(async {
        let client = connect(url, credentials).await?;
        let jetstream = async_nats::jetstream::new(client.clone());
        let mut headers = async_nats::HeaderMap::new();
        if let Some(id) = id {
            headers.insert("Nats-Msg-Id", id);
        }
        let not_stored = |error: async_nats::jetstream::context::PublishError| {
            use async_nats::jetstream::context::PublishErrorKind as Kind;
            match error.kind() {
                Kind::StreamNotFound => anyhow!("no JetStream stream at {url} takes the subject {subject}; nothing was published"),
                Kind::TimedOut => anyhow!("the stream did not acknowledge the event within 5 s; it may or may not be stored (publish it again: its id makes a second copy a duplicate)"),
                _ => anyhow!("cannot publish to {subject} at {url}: {error}"),
            }
        };
        let ack = jetstream
            .publish_with_headers(subject.to_string(), headers, payload.into())
            .await
            .map_err(not_stored)?
            .await
            .map_err(not_stored)?;
        client.flush().await.ok();
        Ok(Published { stream: ack.stream, sequence: ack.sequence, duplicate: ack.duplicate })
    })
}
