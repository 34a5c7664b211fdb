//! Real probes against real things, on loopback and in temporary directories
//! only: a TCP listener, a tiny HTTP server, Nagios-style scripts, paths and
//! the file system holding a temporary directory.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use observer::inventory::{Check, CommandCheck, DiskCheck, HttpCheck, PathCheck, TcpCheck};
use observer::probe::{Execution, Outcome, execute};

const TIMEOUT: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------- tcp

fn tcp(port: u16) -> Execution {
    execute(&Check::Tcp(TcpCheck { host: "127.0.0.1".to_string(), port }), TIMEOUT, Outcome::Critical)
}

#[test]
fn tcp_connects_to_a_listener_and_is_refused_once_it_is_closed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let up = tcp(port);
    assert_eq!(up.outcome, Outcome::Ok, "{up:?}");
    assert_eq!(up.detail, format!("connected to 127.0.0.1:{port}"));
    assert!(!up.timed_out);
    assert!(up.latency_ms < 1000);

    drop(listener);
    let down = tcp(port);
    assert_eq!(down.outcome, Outcome::Critical, "{down:?}");
    assert!(down.detail.starts_with("connection refused"), "{down:?}");
    assert!(!down.timed_out);
}

// ---------------------------------------------------------------- http

/// Serves one canned response per connection, in order, then stops.
/// `None` accepts the connection and never answers.
fn http_server(responses: Vec<Option<&'static str>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut held = Vec::new();
        for response in responses {
            let Ok((mut stream, _)) = listener.accept() else { return };
            read_request(&mut stream);
            match response {
                Some(response) => {
                    let _ = stream.write_all(response.as_bytes());
                }
                None => held.push(stream),
            }
        }
        // Keep silent connections open until the clients give up.
        thread::sleep(Duration::from_secs(5));
        drop(held);
    });
    addr
}

fn read_request(stream: &mut TcpStream) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
}

const OK_BODY: &str = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nok body";
const UNAVAILABLE: &str = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndown";
const REDIRECT: &str =
    "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

fn http(addr: SocketAddr, expect_status: &[u16], body_contains: Option<&str>, timeout_outcome: Outcome) -> Execution {
    let check = Check::Http(HttpCheck {
        url: format!("http://{addr}/health"),
        expect_status: expect_status.to_vec(),
        body_contains: body_contains.map(str::to_string),
        ..HttpCheck::default()
    });
    execute(&check, TIMEOUT, timeout_outcome)
}

#[test]
fn http_answers_200_then_503() {
    let addr = http_server(vec![Some(OK_BODY), Some(UNAVAILABLE)]);

    let up = http(addr, &[200], Some("ok body"), Outcome::Critical);
    assert_eq!(up.outcome, Outcome::Ok, "{up:?}");
    assert_eq!(up.http_status, Some(200));
    assert_eq!(up.detail, "HTTP 200");
    assert!(!up.timed_out);

    let down = http(addr, &[200], None, Outcome::Critical);
    assert_eq!(down.outcome, Outcome::Critical, "{down:?}");
    assert_eq!(down.http_status, Some(503));
    assert_eq!(down.detail, "HTTP 503 (expected 200)");
}

#[test]
fn http_body_must_contain_the_substring() {
    let addr = http_server(vec![Some(OK_BODY)]);
    let run = http(addr, &[], Some("healthy"), Outcome::Critical);
    assert_eq!(run.outcome, Outcome::Critical, "{run:?}");
    assert_eq!(run.http_status, Some(200));
    assert!(run.detail.contains("body does not contain \"healthy\""), "{run:?}");
}

#[test]
fn http_default_accepts_2xx_and_3xx_and_does_not_follow_redirects() {
    let addr = http_server(vec![Some(REDIRECT), Some(UNAVAILABLE)]);
    let redirect = http(addr, &[], None, Outcome::Critical);
    assert_eq!(redirect.outcome, Outcome::Ok, "{redirect:?}");
    assert_eq!(redirect.http_status, Some(302));

    let unavailable = http(addr, &[], None, Outcome::Critical);
    assert_eq!(unavailable.outcome, Outcome::Critical, "{unavailable:?}");
    assert_eq!(unavailable.detail, "HTTP 503 (expected 2xx or 3xx)");
}

#[test]
fn http_to_a_closed_port_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let run = http(addr, &[], None, Outcome::Warning);
    assert_eq!(run.outcome, Outcome::Critical, "{run:?}");
    assert_eq!(run.detail, "connection refused");
    assert_eq!(run.http_status, None);
    assert!(!run.timed_out);
}

#[test]
fn http_that_never_answers_times_out_with_the_configured_outcome() {
    let addr = http_server(vec![None]);
    let check = Check::Http(HttpCheck {
        url: format!("http://{addr}/"),
        expect_status: vec![],
        body_contains: None,
        ..HttpCheck::default()
    });
    let start = Instant::now();
    let run = execute(&check, Duration::from_millis(500), Outcome::Warning);
    assert!(start.elapsed() < Duration::from_millis(1500), "{:?}", start.elapsed());
    assert_eq!(run.outcome, Outcome::Warning, "{run:?}");
    assert!(run.timed_out);
    assert_eq!(run.detail, "timed out after 500ms");
    assert!(run.latency_ms >= 500);
}

// ---------------------------------------------------------------- command

/// The Nagios-style scripts, written once before any of them runs: a script
/// written while another test forks could not be executed ("text file busy").
fn scripts() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("probe-scripts");
        fs::create_dir_all(&dir).unwrap();
        let scripts: &[(&str, &str, u32)] = &[
            ("ok.sh", "#!/bin/sh\necho 'DISK OK - free space | /=100MB;;;0;200'\nexit 0\n", 0o755),
            ("warning.sh", "#!/bin/sh\necho 'DISK WARNING - 15% free | /=30MB;;;0;200'\nexit 1\n", 0o755),
            ("critical.sh", "#!/bin/sh\necho 'DISK CRITICAL - 2% free'\nexit 2\n", 0o755),
            ("unknown.sh", "#!/bin/sh\necho 'DISK UNKNOWN - cannot stat /data'\nexit 3\n", 0o755),
            ("seven.sh", "#!/bin/sh\necho 'something odd'\nexit 7\n", 0o755),
            ("stderr.sh", "#!/bin/sh\necho 'cannot connect to database' >&2\nexit 2\n", 0o755),
            // Writes the pid of its child to $1, then waits for it.
            ("hang.sh", "#!/bin/sh\nsleep 30 &\necho $! > \"$1\"\nwait\necho done\n", 0o755),
            // Exits at once, but leaves a child holding its stdout.
            ("linger.sh", "#!/bin/sh\nsleep 3 &\necho 'OK - quick'\nexit 0\n", 0o755),
            ("not-executable.sh", "#!/bin/sh\nexit 0\n", 0o644),
        ];
        for (name, text, mode) in scripts {
            // Written aside and renamed, so that another test binary running
            // the same script at the same time never sees it half written.
            let aside = dir.join(format!("{name}.{}", std::process::id()));
            fs::write(&aside, text).unwrap();
            fs::set_permissions(&aside, fs::Permissions::from_mode(*mode)).unwrap();
            fs::rename(&aside, dir.join(name)).unwrap();
        }
        dir
    })
}

fn command(argv: &[&str], timeout: Duration) -> Execution {
    let check = Check::Command(CommandCheck { argv: argv.iter().map(|a| a.to_string()).collect() });
    execute(&check, timeout, Outcome::Critical)
}

fn script(name: &str) -> String {
    scripts().join(name).display().to_string()
}

#[test]
fn nagios_exit_codes_map_to_outcomes() {
    let cases = [
        ("ok.sh", Outcome::Ok, 0, "DISK OK - free space", Some("/=100MB;;;0;200")),
        ("warning.sh", Outcome::Warning, 1, "DISK WARNING - 15% free", Some("/=30MB;;;0;200")),
        ("critical.sh", Outcome::Critical, 2, "DISK CRITICAL - 2% free", None),
        ("unknown.sh", Outcome::Unknown, 3, "DISK UNKNOWN - cannot stat /data", None),
        ("seven.sh", Outcome::Unknown, 7, "exit code 7: something odd", None),
        ("stderr.sh", Outcome::Critical, 2, "cannot connect to database", None),
    ];
    for (name, outcome, code, detail, perfdata) in cases {
        let run = command(&[&script(name)], TIMEOUT);
        assert_eq!(run.outcome, outcome, "{name}: {run:?}");
        assert_eq!(run.exit_code, Some(code), "{name}: {run:?}");
        assert_eq!(run.detail, detail, "{name}: {run:?}");
        assert_eq!(run.perfdata.as_deref(), perfdata, "{name}: {run:?}");
        assert!(!run.timed_out, "{name}: {run:?}");
    }
}

#[test]
fn a_hanging_command_is_killed_with_its_children() {
    let work = tempfile::tempdir().unwrap();
    let pidfile = work.path().join("child.pid");
    let timeout = Duration::from_secs(1);

    let start = Instant::now();
    let run = command(&[&script("hang.sh"), &pidfile.display().to_string()], timeout);
    let took = start.elapsed();

    assert!(took < timeout + Duration::from_secs(1), "took {took:?}");
    assert!(took >= timeout, "took {took:?}");
    assert_eq!(run.outcome, Outcome::Critical, "{run:?}");
    assert!(run.timed_out);
    assert_eq!(run.detail, "timed out after 1s; killed");
    assert_eq!(run.exit_code, None);

    let pid = fs::read_to_string(&pidfile).unwrap().trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(2);
    while is_alive(&pid) {
        assert!(Instant::now() < deadline, "the script's child `sleep` ({pid}) survived the kill");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Whether process `pid` still runs (a zombie waiting for its reaper is dead).
fn is_alive(pid: &str) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

#[test]
fn a_child_holding_the_output_open_does_not_hold_up_the_probe() {
    let start = Instant::now();
    let run = command(&[&script("linger.sh")], TIMEOUT);
    assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
    assert_eq!(run.outcome, Outcome::Ok, "{run:?}");
    assert_eq!(run.detail, "OK - quick");
    assert!(!run.timed_out);
}

#[test]
fn a_missing_command_is_unknown() {
    let missing = scripts().join("no-such-plugin").display().to_string();
    let run = command(&[&missing], TIMEOUT);
    assert_eq!(run.outcome, Outcome::Unknown, "{run:?}");
    assert_eq!(run.detail, format!("command not found: {missing}"));
    assert!(!run.timed_out);

    let bare = command(&["observer-no-such-plugin"], TIMEOUT);
    assert_eq!(bare.outcome, Outcome::Unknown, "{bare:?}");
    assert_eq!(bare.detail, "command not found: observer-no-such-plugin");
}

#[test]
fn a_command_that_cannot_be_executed_is_unknown() {
    let run = command(&[&script("not-executable.sh")], TIMEOUT);
    assert_eq!(run.outcome, Outcome::Unknown, "{run:?}");
    assert!(run.detail.starts_with("cannot execute "), "{run:?}");
}

#[test]
fn arguments_are_not_interpreted_by_a_shell() {
    let run = command(&["/bin/echo", "OK $HOME; exit 2 | x=1"], TIMEOUT);
    assert_eq!(run.outcome, Outcome::Ok, "{run:?}");
    assert_eq!(run.detail, "OK $HOME; exit 2");
    assert_eq!(run.perfdata.as_deref(), Some("x=1"));
}

// ---------------------------------------------------------------- path and disk

#[test]
fn a_path_exists_or_not() {
    let work = tempfile::tempdir().unwrap();
    let present = work.path().join("present");
    fs::write(&present, "x").unwrap();

    let run = execute(&Check::Path(PathCheck { path: present }), TIMEOUT, Outcome::Critical);
    assert_eq!(run.outcome, Outcome::Ok, "{run:?}");
    assert_eq!(run.detail, "exists");

    let run = execute(&Check::Path(PathCheck { path: work.path().join("absent") }), TIMEOUT, Outcome::Critical);
    assert_eq!(run.outcome, Outcome::Critical, "{run:?}");
    assert_eq!(run.detail, "does not exist");
}

fn disk(path: &Path, min_free_percent: Option<f64>, min_free_bytes: Option<u64>) -> Execution {
    let check =
        Check::Disk(DiskCheck { path: path.to_path_buf(), min_free_percent, min_free_bytes, warn_free_percent: None });
    execute(&check, TIMEOUT, Outcome::Critical)
}

#[test]
fn disk_free_space_against_thresholds() {
    let work = tempfile::tempdir().unwrap();

    let roomy = disk(work.path(), Some(0.0001), None);
    assert_eq!(roomy.outcome, Outcome::Ok, "{roomy:?}");
    assert!(roomy.detail.contains("% free ("), "{roomy:?}");
    assert!(roomy.perfdata.as_deref().is_some_and(|p| p.starts_with("free=")), "{roomy:?}");

    let never_enough = disk(work.path(), None, Some(u64::MAX));
    assert_eq!(never_enough.outcome, Outcome::Critical, "{never_enough:?}");
    assert!(never_enough.detail.contains("below minimum"), "{never_enough:?}");

    let missing = disk(&work.path().join("absent"), Some(1.0), None);
    assert_eq!(missing.outcome, Outcome::Unknown, "{missing:?}");
    assert!(missing.detail.starts_with("cannot stat file system"), "{missing:?}");
}
