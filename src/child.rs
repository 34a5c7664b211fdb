//! Running a child process that must not outlive its timeout: a command
//! probe's plugin or a notification hook. The child runs in a process group
//! of its own ([`command`] sets that up), so at the timeout the
//! whole group is killed and the child's children die with it. Output is
//! read on helper threads, so a grandchild that keeps a pipe open after the
//! child exited never holds the caller up.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};

/// At most this much of each output stream is kept (the rest is drained).
const MAX_OUTPUT: usize = 64 * 1024;
/// How long a killed child is awaited before it is left unreaped.
const REAP_GRACE: Duration = Duration::from_secs(1);
/// Upper bound of the pause between two looks at the child.
const MAX_POLL: Duration = Duration::from_millis(20);

/// `program` with `args`, run without a shell in a process group of its own
/// (which [`kill_group`] relies on), its output piped to be [`Capture`]d.
/// The caller chooses stdin and the environment.
pub fn command(program: &str, args: &[String]) -> Command {
    let mut command = Command::new(program);
    command.args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    command
}

/// Waits for `child` until `deadline`; `Ok(None)` if it is still running then.
pub fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// Kills the child's whole process group. The child is not reaped yet, so
/// its pid (the group id) cannot have been reused.
pub fn kill_group(child: &mut Child) {
    if kill_process_group(Pid::from_child(child), Signal::KILL).is_err() {
        // No group (it could not be created?): at least the plugin itself.
        let _ = child.kill();
    }
}

/// Reaps a killed child, giving up after [`REAP_GRACE`] (a process stuck in
/// the kernel cannot be waited for without holding up the prober).
pub fn reap(child: &mut Child) {
    let _ = wait_until(child, Instant::now() + REAP_GRACE);
}

/// One output stream, read on its own thread: the first [`MAX_OUTPUT`] bytes
/// are kept, the rest is drained so the child never blocks on a full pipe.
pub struct Capture {
    kept: Arc<Mutex<Vec<u8>>>,
    done: Receiver<()>,
}

impl Capture {
    pub fn start(pipe: Option<impl Read + Send + 'static>) -> Capture {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let (tx, done) = mpsc::channel();
        if let Some(mut pipe) = pipe {
            let sink = Arc::clone(&kept);
            // If no thread can be started the pipe is dropped unread: the
            // capture is then empty, which is all that is lost.
            let _ = thread::Builder::new().name("observer-child-output".to_string()).spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    match pipe.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            let mut kept = sink.lock().unwrap_or_else(PoisonError::into_inner);
                            let room = MAX_OUTPUT.saturating_sub(kept.len());
                            kept.extend_from_slice(&buf[..n.min(room)]);
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                let _ = tx.send(());
            });
        }
        Capture { kept, done }
    }

    /// What was read, once the stream ended or `deadline` passed (a reader
    /// still blocked then is abandoned).
    pub fn finish(self, deadline: Instant) -> String {
        let _ = self.done.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        let kept = std::mem::take(&mut *self.kept.lock().unwrap_or_else(PoisonError::into_inner));
        String::from_utf8_lossy(&kept).into_owned()
    }
}
