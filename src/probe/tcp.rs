//! `tcp` probe: a connection to `host:port` can be opened within the timeout.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::execution::{Execution, short_io_error};
use super::timing::{elapsed_ms, format_duration, run_with_timeout};
use crate::event::Outcome;

/// Resolves `host:port` and connects to each address in turn until one
/// accepts, all within `timeout`. The connection is closed at once.
pub fn execute(host: &str, port: u16, timeout: Duration, timeout_outcome: Outcome) -> Execution {
    let start = Instant::now();
    let timed_out = |what: String| Execution {
        timed_out: true,
        ..Execution::new(
            timeout_outcome,
            elapsed_ms(start),
            format!("timed out after {} {what}", format_duration(timeout)),
        )
    };

    // Name resolution can hang on a dead resolver: bound it like the rest.
    let name = host.to_string();
    let Some(resolved) = run_with_timeout(timeout, move || {
        (name.as_str(), port).to_socket_addrs().map(|addrs| addrs.collect::<Vec<SocketAddr>>())
    }) else {
        return timed_out(format!("resolving {host}"));
    };
    let addrs = match resolved {
        Ok(addrs) if !addrs.is_empty() => addrs,
        Ok(_) => {
            return Execution::new(Outcome::Critical, elapsed_ms(start), format!("cannot resolve {host}: no address"));
        }
        Err(e) => {
            return Execution::new(
                Outcome::Critical,
                elapsed_ms(start),
                format!("cannot resolve {host}: {}", short_io_error(&e)),
            );
        }
    };

    let mut failures: Vec<(SocketAddr, io::Error)> = Vec::new();
    for addr in &addrs {
        let remaining = timeout.saturating_sub(start.elapsed());
        if remaining.is_zero() {
            return timed_out(format!("connecting to {}", describe_addrs(&addrs)));
        }
        match TcpStream::connect_timeout(addr, remaining) {
            Ok(_stream) => return Execution::new(Outcome::Ok, elapsed_ms(start), format!("connected to {addr}")),
            Err(e) => failures.push((*addr, e)),
        }
    }

    // Every address failed. A timeout on the last one used up the budget.
    if failures.last().is_some_and(|(_, e)| is_timeout(e)) || start.elapsed() >= timeout {
        return timed_out(format!("connecting to {}", describe_addrs(&addrs)));
    }
    let detail = if failures.iter().all(|(_, e)| e.kind() == io::ErrorKind::ConnectionRefused) {
        let tried: Vec<String> = failures.iter().map(|(addr, _)| addr.to_string()).collect();
        format!("connection refused ({})", tried.join(", "))
    } else {
        failures.iter().map(|(addr, e)| format!("{}: {addr}", describe_error(e))).collect::<Vec<String>>().join("; ")
    };
    Execution::new(Outcome::Critical, elapsed_ms(start), detail)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
}

fn describe_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::HostUnreachable => "host unreachable".to_string(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".to_string(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".to_string(),
        _ => short_io_error(e),
    }
}

fn describe_addrs(addrs: &[SocketAddr]) -> String {
    match addrs {
        [one] => one.to_string(),
        many => many.iter().map(SocketAddr::to_string).collect::<Vec<String>>().join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_described_briefly() {
        assert_eq!(describe_error(&io::Error::from(io::ErrorKind::ConnectionRefused)), "connection refused");
        assert_eq!(describe_error(&io::Error::from(io::ErrorKind::TimedOut)), "timed out");
        let addrs: Vec<SocketAddr> = vec!["127.0.0.1:80".parse().unwrap(), "[::1]:80".parse().unwrap()];
        assert_eq!(describe_addrs(&addrs), "127.0.0.1:80, [::1]:80");
    }
}
