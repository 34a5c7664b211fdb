//! `hook`: the notification as JSON on the stdin of a program run without
//! a shell, with `OBSERVER_NOTIFICATION_ID` set. Exit 0 is delivered. The
//! program runs in its own process group and is killed with its children
//! at the timeout (`crate::child`).

use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use super::Sent;
use crate::child::{self, Capture, kill_group, reap, wait_until};
use crate::engine::alerts::Notification;
use crate::notify::retry::Response;

/// How long the hook's output is still awaited once it is gone.
const OUTPUT_GRACE: Duration = Duration::from_millis(100);

pub fn send(argv: &[String], timeout: Duration, notification: &Notification) -> Sent {
    let failed = |error: String| Sent { response: Response::Failed, error: Some(error) };
    let Some((program, args)) = argv.split_first() else { return failed("empty hook".to_string()) };
    let Ok(mut json) = serde_json::to_vec(notification) else { return failed("cannot write JSON".to_string()) };
    json.push(b'\n');

    let spawned =
        child::command(program, args).env("OBSERVER_NOTIFICATION_ID", &notification.id).stdin(Stdio::piped()).spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return failed(format!("hook not found: {program}")),
        Err(e) => return failed(format!("cannot run hook {program}: {e}")),
    };
    // Written on a thread: a hook that never reads its stdin must not hold
    // delivery up (it is killed at the timeout; the write then fails).
    if let Some(mut stdin) = child.stdin.take() {
        let _ = thread::Builder::new().name("observer-hook-stdin".to_string()).spawn(move || {
            let _ = stdin.write_all(&json);
        });
    }
    let stdout = Capture::start(child.stdout.take());
    let stderr = Capture::start(child.stderr.take());

    let status = match wait_until(&mut child, Instant::now() + timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            kill_group(&mut child);
            reap(&mut child);
            return failed(format!("timed out after {}s; killed", timeout.as_secs()));
        }
        Err(e) => {
            kill_group(&mut child);
            reap(&mut child);
            return failed(format!("cannot wait for hook {program}: {e}"));
        }
    };
    let deadline = Instant::now() + OUTPUT_GRACE;
    let _ = stdout.finish(deadline);
    let said = stderr.finish(deadline);
    let said = said.lines().find(|l| !l.trim().is_empty()).map(|l| l.trim().chars().take(200).collect::<String>());
    match (status.code(), status.signal()) {
        (Some(0), _) => Sent { response: Response::Exit(0), error: None },
        (Some(code), _) => Sent {
            response: Response::Exit(code),
            error: Some(match said {
                Some(text) => format!("exit code {code}: {text}"),
                None => format!("exit code {code}"),
            }),
        },
        (None, Some(signal)) => failed(format!("killed by signal {signal}")),
        (None, None) => failed("ended without an exit code".to_string()),
    }
}
