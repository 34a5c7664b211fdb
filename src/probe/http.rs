//! `http` probe: a GET answers with an expected status (and body).
//!
//! Redirects are not followed: a 301 is the answer of the URL that was asked.
//! Proxies from the environment are not used either: a health probe checks
//! the service itself.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::execution::{Execution, short_io_error};
use super::timing::{elapsed_ms, format_duration};
use crate::event::Outcome;

/// At most this much of a body is searched for `body_contains`.
const MAX_BODY: u64 = 1 << 20;

/// GETs `url` within `timeout`. The status must be one of `expect_status`
/// (any 2xx or 3xx when empty), and the first MiB of the body must contain
/// `body_contains` when given.
pub fn execute(
    url: &str,
    expect_status: &[u16],
    body_contains: Option<&str>,
    timeout: Duration,
    timeout_outcome: Outcome,
) -> Execution {
    let start = Instant::now();
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .proxy(None)
        .build();
    let agent = ureq::Agent::new_with_config(config);

    let mut response = match agent.get(url).call() {
        Ok(response) => response,
        Err(e) => return failed(e, None, start, timeout, timeout_outcome),
    };
    let status = response.status().as_u16();
    let with_status = |execution: Execution| Execution { http_status: Some(status), ..execution };

    if !status_is_expected(status, expect_status) {
        let detail = format!("HTTP {status} (expected {})", describe_expected(expect_status));
        return with_status(Execution::new(Outcome::Critical, elapsed_ms(start), detail));
    }

    if let Some(needle) = body_contains {
        let mut body = Vec::new();
        let read = response.body_mut().with_config().reader().take(MAX_BODY).read_to_end(&mut body);
        if let Err(e) = read {
            return failed(ureq::Error::from(e), Some(status), start, timeout, timeout_outcome);
        }
        if !String::from_utf8_lossy(&body).contains(needle) {
            let detail = format!("HTTP {status}, body does not contain {needle:?}");
            return with_status(Execution::new(Outcome::Critical, elapsed_ms(start), detail));
        }
    }

    with_status(Execution::new(Outcome::Ok, elapsed_ms(start), format!("HTTP {status}")))
}

fn status_is_expected(status: u16, expect_status: &[u16]) -> bool {
    if expect_status.is_empty() { (200..400).contains(&status) } else { expect_status.contains(&status) }
}

fn describe_expected(expect_status: &[u16]) -> String {
    if expect_status.is_empty() {
        return "2xx or 3xx".to_string();
    }
    expect_status.iter().map(u16::to_string).collect::<Vec<String>>().join(" or ")
}

/// The execution of a request that failed with `error`.
fn failed(
    error: ureq::Error,
    status: Option<u16>,
    start: Instant,
    timeout: Duration,
    timeout_outcome: Outcome,
) -> Execution {
    let (outcome, detail, timed_out) = match &error {
        ureq::Error::Timeout(_) => (timeout_outcome, format!("timed out after {}", format_duration(timeout)), true),
        ureq::Error::Io(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
            (timeout_outcome, format!("timed out after {}", format_duration(timeout)), true)
        }
        ureq::Error::Io(e) => (Outcome::Critical, describe_io_error(e), false),
        ureq::Error::HostNotFound => (Outcome::Critical, "host not found".to_string(), false),
        // The probe itself is wrong, not the service.
        ureq::Error::BadUri(uri) => (Outcome::Unknown, format!("bad url: {uri}"), false),
        ureq::Error::Http(e) => (Outcome::Unknown, format!("bad url: {e}"), false),
        other => (Outcome::Critical, other.to_string(), false),
    };
    Execution { timed_out, http_status: status, ..Execution::new(outcome, elapsed_ms(start), detail) }
}

fn describe_io_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::ConnectionReset => "connection reset".to_string(),
        io::ErrorKind::UnexpectedEof => "connection closed before a complete response".to_string(),
        io::ErrorKind::HostUnreachable => "host unreachable".to_string(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".to_string(),
        _ => short_io_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_2xx_or_3xx_is_expected_by_default() {
        assert!(status_is_expected(200, &[]));
        assert!(status_is_expected(204, &[]));
        assert!(status_is_expected(302, &[]));
        assert!(!status_is_expected(404, &[]));
        assert!(!status_is_expected(503, &[]));
        assert!(!status_is_expected(199, &[]));
    }

    #[test]
    fn explicit_statuses_replace_the_default() {
        assert!(status_is_expected(401, &[200, 401]));
        assert!(!status_is_expected(204, &[200, 401]));
        assert_eq!(describe_expected(&[200]), "200");
        assert_eq!(describe_expected(&[200, 401]), "200 or 401");
        assert_eq!(describe_expected(&[]), "2xx or 3xx");
    }

    #[test]
    fn a_malformed_url_is_unknown() {
        let run = execute("not a url", &[], None, Duration::from_secs(1), Outcome::Critical);
        assert_eq!(run.outcome, Outcome::Unknown, "{run:?}");
        assert!(!run.timed_out);
        assert_eq!(run.http_status, None);
    }
}
