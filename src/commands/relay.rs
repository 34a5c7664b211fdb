//! `observer relay`: copy a NATS JetStream stream into `events/nats/`,
//! exactly once, until SIGTERM or SIGINT (see [`crate::nats::relay`]).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;

use anyhow::{Context as _, Result};
use signal_hook::consts::{SIGINT, SIGTERM};

use super::context::Context;
use crate::cli::{RelayArgs, WatchArgs};
use crate::nats::log::check_stream_name;
use crate::nats::relay::{Relay, default_consumer};
use crate::watch::Wake;

pub fn execute(context: &Context, args: &RelayArgs) -> Result<i32> {
    check_stream_name(&args.stream)?;
    let relay = Relay {
        url: args.nats.clone(),
        credentials: args.nats_credentials.credentials(),
        stream: args.stream.clone(),
        consumer: args.consumer.clone().unwrap_or_else(default_consumer),
        dirs: context.dirs.clone(),
    };
    let stop = stop_on_signals()?;
    relay.run(&stop, |_| {})?;
    Ok(crate::exit::SUCCESS)
}

/// A flag set by SIGTERM or SIGINT, which the relay looks at between batches.
pub fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGTERM, SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("cannot handle SIGTERM and SIGINT")?;
    }
    Ok(stop)
}

/// The relay of `watch --nats`, on a thread of its own: each batch it
/// appends sends a [`Wake::Files`], so the pass follows at once.
pub struct RelayThread {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl RelayThread {
    /// Starts the relay of `args` and returns once it is connected, with
    /// its stream, consumer and log ready; an error then (an unreachable
    /// server, refused credentials, a stream that cannot be made) is
    /// returned, so that watch stops at start as for a bad config. Later
    /// errors are retried by the relay, with backoff.
    pub fn start(context: &Context, args: &WatchArgs, wake: Sender<Wake>) -> Result<Option<RelayThread>> {
        let Some(url) = &args.nats else { return Ok(None) };
        let stream = args.nats_stream.stream.clone().context("--nats needs --stream")?;
        check_stream_name(&stream)?;
        let relay = Relay {
            url: url.clone(),
            credentials: args.nats_credentials.credentials(),
            stream,
            consumer: args.nats_stream.consumer.clone().unwrap_or_else(default_consumer),
            dirs: context.dirs.clone(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (started, start) = std::sync::mpsc::channel::<Result<()>>();
        let thread = std::thread::Builder::new()
            .name("relay".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || {
                    let ready = started.clone();
                    let result =
                        relay.run_ready(&stop, move || drop(ready.send(Ok(()))), |_| drop(wake.send(Wake::Files)));
                    if let Err(error) = result
                        && let Err(unsent) = started.send(Err(error))
                    {
                        // Watch runs on: the files already relayed still fold.
                        if let Err(error) = unsent.0 {
                            super::warn(&format!("error: the relay stopped: {error:#}"));
                        }
                    }
                }
            })
            .context("cannot start the relay's thread")?;
        match start.recv() {
            Ok(Ok(())) => Ok(Some(RelayThread { stop, thread })),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            Err(_) => {
                let _ = thread.join();
                anyhow::bail!("the relay stopped before it started")
            }
        }
    }

    /// Stops the relay after the batch under way and waits for it.
    pub fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
