//! `http` probe: a GET answers with an expected status (and body).
//!
//! Redirects are not followed: a 301 is the answer of the URL that was asked.
//! Proxies from the environment are not used either: a health probe checks
//! the service itself. Which certificates an `https://` probe trusts is said
//! on [`HttpCheck`]: its `ca_file`, else the system's store, or nothing at
//! all with `tls_verify: false`.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use ureq::tls::{Certificate, RootCerts, TlsConfig};

use super::execution::{Execution, short_io_error};
use super::timing::{elapsed_ms, format_duration};
use crate::event::Outcome;
use crate::inventory::HttpCheck;

/// At most this much of a body is searched for `body_contains`.
const MAX_BODY: u64 = 1 << 20;

/// GETs the check's url within `timeout`. The status must be one of
/// `expect_status` (any 2xx or 3xx when empty), and the first MiB of the body
/// must contain `body_contains` when given.
pub fn execute(check: &HttpCheck, timeout: Duration, timeout_outcome: Outcome) -> Execution {
    let start = Instant::now();
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .proxy(None)
        .tls_config(tls_config(check))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let expect_status = check.expect_status.as_slice();
    let fail = |error, status| failed(error, status, check, start, timeout, timeout_outcome);

    let mut response = match agent.get(&check.url).call() {
        Ok(response) => response,
        Err(e) => return fail(e, None),
    };
    let status = response.status().as_u16();
    let with_status = |execution: Execution| Execution { http_status: Some(status), ..execution };

    if !status_is_expected(status, expect_status) {
        let detail = format!("HTTP {status} (expected {})", describe_expected(expect_status));
        return with_status(Execution::new(Outcome::Critical, elapsed_ms(start), detail));
    }

    if let Some(needle) = check.body_contains.as_deref() {
        let mut body = Vec::new();
        let read = response.body_mut().with_config().reader().take(MAX_BODY).read_to_end(&mut body);
        if let Err(e) = read {
            return fail(ureq::Error::from(e), Some(status));
        }
        if !String::from_utf8_lossy(&body).contains(needle) {
            let detail = format!("HTTP {status}, body does not contain {needle:?}");
            return with_status(Execution::new(Outcome::Critical, elapsed_ms(start), detail));
        }
    }

    with_status(Execution::new(Outcome::Ok, elapsed_ms(start), format!("HTTP {status}")))
}

/// The certificates the check trusts. The system's store is read anew for
/// each run (by the platform verifier), so a CA installed since the last
/// run counts at once; reading it takes a few milliseconds, which count in
/// the run's latency.
fn tls_config(check: &HttpCheck) -> TlsConfig {
    let roots = if check.ca_file.is_some() {
        RootCerts::new_with_certs(
            &check.ca_certificates.iter().map(|der| Certificate::from_der(der).to_owned()).collect::<Vec<_>>(),
        )
    } else {
        RootCerts::PlatformVerifier
    };
    TlsConfig::builder().root_certs(roots).disable_verification(!check.tls_verify).build()
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
    check: &HttpCheck,
    start: Instant,
    timeout: Duration,
    timeout_outcome: Outcome,
) -> Execution {
    if let Some(tls) = tls_error(&error) {
        let (outcome, detail) = describe_tls_error(tls, check);
        return Execution { http_status: status, ..Execution::new(outcome, elapsed_ms(start), detail) };
    }
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

/// The TLS failure inside a failed request, if that is what it was: a
/// handshake error comes wrapped in an I/O error, a verifier that could not
/// be built (no system store) comes as is.
fn tls_error(error: &ureq::Error) -> Option<&rustls::Error> {
    match error {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => e.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

/// A TLS failure in words that say which trust the probe used and what to do
/// about it. An untrusted certificate is critical: the service is not
/// reachable as its clients would reach it. A system without any CA
/// certificate is unknown: the prober is at fault, not the service.
fn describe_tls_error(error: &rustls::Error, check: &HttpCheck) -> (Outcome, String) {
    use rustls::CertificateError;
    let trusted = match &check.ca_file {
        Some(file) => format!("the CA in {}", file.display()),
        None => "the system trust store".to_string(),
    };
    match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            let remedy = if check.ca_file.is_some() { "" } else { " (add its CA there, or give the probe a ca_file)" };
            (Outcome::Critical, format!("TLS certificate not trusted: not issued by {trusted}{remedy}"))
        }
        rustls::Error::InvalidCertificate(e) => {
            (Outcome::Critical, format!("TLS certificate not accepted: {}", describe_certificate_error(e)))
        }
        rustls::Error::General(text) if check.ca_file.is_none() && text.contains("No CA certificates") => (
            Outcome::Unknown,
            "no CA certificates found in the system trust store (install the ca-certificates package, \
             set SSL_CERT_FILE, or give the probe a ca_file)"
                .to_string(),
        ),
        other => (Outcome::Critical, format!("TLS: {other}")),
    }
}

/// rustls words the usual faults (wrong name, expired, not yet valid) well;
/// the rest it shows as debug output, cut here to the error's name.
fn describe_certificate_error(error: &rustls::CertificateError) -> String {
    use rustls::CertificateError;
    match error {
        CertificateError::NotValidForName => "certificate not valid for this name".to_string(),
        CertificateError::Expired => "certificate expired".to_string(),
        CertificateError::NotValidYet => "certificate not valid yet".to_string(),
        CertificateError::Revoked => "certificate revoked".to_string(),
        CertificateError::BadSignature => "bad signature".to_string(),
        // What a self-signed certificate that says `CA:TRUE` gets when it is
        // given as its own ca_file: webpki accepts a self-signed server
        // certificate as its own anchor only when it is not a CA.
        CertificateError::Other(other) if other.to_string() == "CaUsedAsEndEntity" => {
            "the server presents a CA certificate (CA:TRUE) as its own; a self-signed one must say CA:FALSE".to_string()
        }
        CertificateError::Other(other) => other.to_string(),
        other => {
            let text = other.to_string();
            match text.find([' ', '(', '{']) {
                Some(end) if text.starts_with(char::is_uppercase) => text[..end].to_string(),
                _ => text,
            }
        }
    }
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
        let check = HttpCheck { url: "not a url".to_string(), ..HttpCheck::default() };
        let run = execute(&check, Duration::from_secs(1), Outcome::Critical);
        assert_eq!(run.outcome, Outcome::Unknown, "{run:?}");
        assert!(!run.timed_out);
        assert_eq!(run.http_status, None);
    }
}
