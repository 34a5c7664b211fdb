//! The flags of NATS JetStream (SPEC §8): `relay`, and what `emit --nats`
//! and `watch --nats` share with it.

use std::path::PathBuf;

use clap::Args;

/// How to log in to NATS: from a file, never from the command line (where `ps` shows it to every
/// user). At most one of them.
#[derive(Args, Debug, Clone, Default)]
pub struct NatsCredentialArgs {
    /// A NATS credentials file (.creds: a user JWT and its nkey seed, as `nsc` writes it).
    #[arg(long, value_name = "FILE", requires = "nats", conflicts_with_all = ["nats_nkey", "nats_token_file"])]
    pub nats_creds: Option<PathBuf>,
    /// A file holding an nkey seed (SU...), for a server that knows the user by its public nkey.
    #[arg(long, value_name = "FILE", requires = "nats", conflicts_with = "nats_token_file")]
    pub nats_nkey: Option<PathBuf>,
    /// A file holding the server's authorization token.
    #[arg(long, value_name = "FILE", requires = "nats")]
    pub nats_token_file: Option<PathBuf>,
}

impl NatsCredentialArgs {
    pub fn credentials(&self) -> crate::nats::Credentials {
        crate::nats::Credentials {
            creds: self.nats_creds.clone(),
            nkey: self.nats_nkey.clone(),
            token: self.nats_token_file.clone(),
        }
    }
}

/// The stream is read through a durable pull consumer; each message is appended unchanged, as
/// one line, to events/nats/STREAM-YYYY-MM-DD.jsonl (the date of its stream timestamp, in UTC);
/// the file is fsynced, the stream sequence recorded in state/nats-STREAM.json, and only then
/// the message acknowledged. A message redelivered after a crash is acknowledged and not appended
/// again: every message of the stream is in the log exactly once, in stream order. A message
/// that is not a valid event is appended all the same (the fold rejects it with file and line);
/// one that cannot be a line (empty, or holding a newline before its end) is appended as a JSON
/// string of its text, which the fold rejects. The stream is created (subjects
/// homelab.events.>, file storage) when there is none of that name. A lost server is waited for,
/// reconnecting with backoff (100 ms doubling to 5 s). SIGTERM or SIGINT: exit 0 after the batch
/// under way.
#[derive(Args, Debug)]
pub struct RelayArgs {
    /// The NATS server, nats://HOST:PORT.
    #[arg(long, value_name = "URL")]
    pub nats: String,
    /// The JetStream stream (letters, digits, '-' and '_': it names the log files).
    #[arg(long, value_name = "NAME")]
    pub stream: String,
    /// The durable consumer: give each observer its own (default: observer-HOSTNAME); two
    /// observers sharing one would split the stream between them.
    #[arg(long, value_name = "NAME")]
    pub consumer: Option<String>,
    #[command(flatten)]
    pub nats_credentials: NatsCredentialArgs,
}

/// Which stream `watch --nats` relays, through which consumer.
#[derive(Args, Debug, Clone)]
pub struct NatsStreamArgs {
    /// The JetStream stream (letters, digits, '-' and '_': it names the log files).
    #[arg(long, value_name = "NAME", requires = "nats")]
    pub stream: Option<String>,
    /// The durable consumer: give each observer its own (default: observer-HOSTNAME); two
    /// observers sharing one would split the stream between them.
    #[arg(long, value_name = "NAME", requires = "nats")]
    pub consumer: Option<String>,
}
