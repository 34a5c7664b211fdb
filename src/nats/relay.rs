//! `observer relay` and `watch --nats`: copy a JetStream stream into the
//! local log through a durable pull consumer, exactly once (see [`super::log`]).
//!
//! Each round fetches a batch (what the consumer has at once, up to
//! [`BATCH`]; when it has nothing, the first message within a second and
//! what came with it), appends what is new in stream order, fsyncs, records the
//! sequence, then acknowledges every message of the batch. The log is kept
//! in stream-sequence order: when the consumer hands over a message past a
//! gap (the messages of the gap were delivered before a crash and wait for
//! their redelivery), the gap is read from the stream by sequence first, so
//! the later redeliveries are only acknowledged. Two relays of one stream
//! therefore write the same bytes in the same files.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use async_nats::jetstream::{self, consumer::pull, stream};
use futures_util::StreamExt as _;

use super::log::{Record, RelayLog};
use super::{Credentials, backoff, connect, runtime};
use crate::dirs::Dirs;

/// Messages fetched (and fsynced) at once.
pub const BATCH: usize = 512;

/// The longest a round may take before it is given up and tried again. A
/// pull request the server never answers (sent as it restarted, and lost
/// with the connection) left the round waiting for its messages for good:
/// seen once in twelve runs of `nats::a_restart_of_nats_server_in_the_middle_is_survived`
/// with both cores busy. Giving a round up is safe at any of its waits:
/// the log is appended before the acknowledgements, and a message
/// delivered again is only acknowledged (its sequence is at or below the
/// log's).
const ROUND_LIMIT: Duration = Duration::from_secs(20);

/// The subjects of a stream the relay creates.
pub const SUBJECTS: &str = "homelab.events.>";

/// What to relay, and where to.
#[derive(Clone, Debug)]
pub struct Relay {
    pub url: String,
    pub credentials: Credentials,
    pub stream: String,
    pub consumer: String,
    pub dirs: Dirs,
}

/// The default durable consumer: `observer-<host name>`, so that two
/// observers on two machines never share one (they would split the stream).
pub fn default_consumer() -> String {
    let host = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|file| std::fs::read_to_string(file).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let host = host.trim();
    let host: String =
        host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if host.is_empty() { "observer".to_string() } else { format!("observer-{host}") }
}

impl Relay {
    /// Relays until `stop` is set (checked at least once a second), calling
    /// `appended` after each batch that added lines to the log. Connecting,
    /// finding (or creating) the stream and the consumer are errors when they
    /// fail at start; afterwards a lost server is waited for, with backoff.
    pub fn run(&self, stop: &Arc<AtomicBool>, appended: impl FnMut(&RelayLog)) -> Result<()> {
        self.run_ready(stop, || {}, appended)
    }

    /// [`Self::run`], calling `ready` once connected, with the stream and the
    /// consumer found and the log opened.
    pub fn run_ready(
        &self,
        stop: &Arc<AtomicBool>,
        ready: impl FnOnce(),
        mut appended: impl FnMut(&RelayLog),
    ) -> Result<()> {
        runtime()?.block_on(async {
            let client = connect(&self.url, &self.credentials).await?;
            let js = jetstream::new(client);
            let stream = self.stream_handle(&js).await?;
            let consumer: jetstream::consumer::PullConsumer = stream
                .get_or_create_consumer(
                    &self.consumer,
                    pull::Config {
                        durable_name: Some(self.consumer.clone()),
                        ack_policy: jetstream::consumer::AckPolicy::Explicit,
                        deliver_policy: jetstream::consumer::DeliverPolicy::All,
                        // Redeliveries are only acknowledged (their sequence
                        // is at or below ours), and gaps are read by sequence:
                        // a short wait costs little and settles a crash soon.
                        ack_wait: Duration::from_secs(10),
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| anyhow!("cannot use the consumer {} on stream {}: {e}", self.consumer, self.stream))?;
            let mut log = RelayLog::open(&self.dirs.events, &self.dirs.state, &self.stream, &self.consumer)?;
            ready();
            let mut failures = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let round = tokio::time::timeout(ROUND_LIMIT, self.round(&stream, &consumer, &mut log)).await;
                let round = round
                    .unwrap_or_else(|_| Err(anyhow!("the server gave no answer within {} s", ROUND_LIMIT.as_secs())));
                match round {
                    Ok(added) => {
                        failures = 0;
                        if added {
                            appended(&log);
                        }
                    }
                    Err(error) => {
                        crate::commands::warn(&format!(
                            "warning: relaying stream {}: {error:#}; retrying",
                            self.stream
                        ));
                        let delay = backoff(failures);
                        failures = failures.saturating_add(1);
                        let mut waited = Duration::ZERO;
                        while waited < delay && !stop.load(Ordering::Relaxed) {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            waited += Duration::from_millis(100);
                        }
                    }
                }
            }
            log.close()
        })
    }

    /// The stream, created (subjects `homelab.events.>`, file storage) when
    /// there is none of that name.
    async fn stream_handle(&self, js: &jetstream::Context) -> Result<stream::Stream> {
        match js.get_stream(&self.stream).await {
            Ok(stream) => Ok(stream),
            Err(error) => {
                let missing = matches!(error.kind(), jetstream::context::GetStreamErrorKind::JetStream(e)
                    if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND);
                if !missing {
                    bail!("cannot read stream {} at {}: {error}", self.stream, self.url);
                }
                let config = stream::Config {
                    name: self.stream.clone(),
                    subjects: vec![SUBJECTS.to_string()],
                    storage: stream::StorageType::File,
                    ..Default::default()
                };
                js.create_stream(config).await.map_err(|e| {
                    anyhow!(
                        "stream {} does not exist at {} and cannot be created with subjects {SUBJECTS}: {e} \
                         (another stream may already take them: give its name to --stream)",
                        self.stream,
                        self.url
                    )
                })
            }
        }
    }

    /// One batch: fetch, append what is new, fsync, acknowledge. Returns
    /// whether lines were added.
    async fn round(
        &self,
        stream: &stream::Stream,
        consumer: &jetstream::consumer::PullConsumer,
        log: &mut RelayLog,
    ) -> Result<bool> {
        // What is there now, up to a batch; when nothing is, wait up to a
        // second for the first message and take what came with it: one event
        // is relayed at once, a backlog a batch at a time.
        let mut messages = take(consumer.fetch().max_messages(BATCH).messages().await).await?;
        if messages.is_empty() {
            let first = consumer.batch().max_messages(1).expires(Duration::from_secs(1)).messages().await;
            messages = take(first).await?;
            if !messages.is_empty() {
                messages.extend(take(consumer.fetch().max_messages(BATCH - 1).messages().await).await?);
            }
        }
        if messages.is_empty() {
            // Nothing delivered, yet the stream may hold more than the log:
            // messages delivered before a crash and not acknowledged wait
            // for their redelivery (ack_wait). They are read by sequence now.
            let info = stream.get_info().await.map_err(|e| anyhow!("cannot read the stream's state: {e}"))?;
            let last = info.state.last_sequence;
            let upto = last.min(log.seq() + BATCH as u64);
            let records =
                if upto > log.seq() { self.fill_gaps(stream, log.seq(), upto, Vec::new()).await? } else { Vec::new() };
            log.append(&records)?;
            log.record_stream_last(last.max(log.seq()))?;
            return Ok(!records.is_empty());
        }
        let mut fresh = Vec::new();
        let mut stream_last = 0;
        for message in &messages {
            let info = message.info().map_err(|e| anyhow!("a message without JetStream metadata: {e}"))?;
            stream_last = stream_last.max(info.stream_sequence + info.pending);
            if info.stream_sequence > log.seq() {
                fresh.push(Record {
                    seq: info.stream_sequence,
                    time_s: info.published.unix_timestamp(),
                    payload: message.payload.to_vec(),
                });
            }
        }
        fresh.sort_by_key(|r| r.seq);
        fresh.dedup_by_key(|r| r.seq);
        let upto = fresh.last().map_or(log.seq(), |r| r.seq);
        let records = self.fill_gaps(stream, log.seq(), upto, fresh).await?;
        let added = !records.is_empty();
        // Written with the batch's sequence, not in a write of its own.
        log.note_stream_last(stream_last);
        log.append(&records)?;
        log.record_stream_last(stream_last.max(log.seq()))?;
        crate::store::fault_injection::crash_at("relay-before-ack");
        for message in &messages {
            message.ack().await.map_err(|e| anyhow!("cannot acknowledge: {e}"))?;
        }
        Ok(added)
    }

    /// `fresh` (ascending, all above `ours`, up to `last`) with the messages
    /// missing from `ours + 1` to `last` read from the stream by sequence
    /// (deleted ones are skipped).
    async fn fill_gaps(
        &self,
        stream: &stream::Stream,
        ours: u64,
        last: u64,
        fresh: Vec<Record>,
    ) -> Result<Vec<Record>> {
        if last.saturating_sub(ours) == fresh.len() as u64 {
            return Ok(fresh);
        }
        let first =
            stream.get_info().await.map_err(|e| anyhow!("cannot read the stream's state: {e}"))?.state.first_sequence;
        let first = fresh.first().map_or(first, |r| first.min(r.seq));
        let mut have = fresh.into_iter().peekable();
        let mut out = Vec::new();
        for seq in (ours + 1).max(first)..=last {
            if have.peek().is_some_and(|r| r.seq == seq) {
                out.extend(have.next());
                continue;
            }
            match stream.get_raw_message(seq).await {
                Ok(message) => {
                    out.push(Record { seq, time_s: message.time.unix_timestamp(), payload: message.payload.to_vec() })
                }
                Err(error) if matches!(error.kind(), stream::RawMessageErrorKind::NoMessageFound) => {}
                Err(error) => return Err(error).context(format!("cannot read message {seq} of the stream")),
            }
        }
        out.extend(have);
        Ok(out)
    }
}

/// The messages of a fetch or a batch, in the order delivered.
async fn take<S, E, F>(batch: Result<S, E>) -> Result<Vec<jetstream::Message>>
where
    S: futures_util::Stream<Item = Result<jetstream::Message, F>> + Unpin,
    E: std::fmt::Display,
    F: std::fmt::Display,
{
    let mut batch = batch.map_err(|e| anyhow!("cannot fetch: {e}"))?;
    let mut messages = Vec::new();
    while let Some(message) = batch.next().await {
        messages.push(message.map_err(|e| anyhow!("cannot fetch: {e}"))?);
    }
    Ok(messages)
}
