//! What `watch --listen ADDR --token-file FILE` is given: the address to
//! listen on and the trigger's token, each checked with a clear error.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use anyhow::{Context, Result, bail};

const FORMS: &str = "give PORT or :PORT (loopback), or IP:PORT such as 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080";

/// Parses `--listen`. A bare port (`8080` or `:8080`) binds the loopback
/// address 127.0.0.1: listening beyond the machine needs its address
/// written out (`0.0.0.0:8080`, `[::]:8080`, `192.168.1.5:8080`), so it
/// never happens by accident. `localhost:PORT` is 127.0.0.1; other host
/// names are refused, as an address that resolves differently tomorrow is
/// not one to bind. Port 0 lets the system choose (the server says which).
pub fn parse_listen(text: &str) -> Result<SocketAddr> {
    let text = text.trim();
    if text.is_empty() {
        bail!("--listen needs an address: {FORMS}");
    }
    let bare_port = text.strip_prefix(':').unwrap_or(text);
    if bare_port.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port(bare_port, text)?));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let unbracketed = text.trim_start_matches('[').trim_end_matches(']');
    match unbracketed.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => {
            bail!("--listen `{text}` has no port: an IPv6 address goes in brackets before it, as in [::1]:8080")
        }
        Ok(IpAddr::V4(_)) => bail!("--listen `{text}` has no port: {FORMS}"),
        Err(_) => {}
    }
    let Some((host, port_text)) = text.rsplit_once(':') else {
        bail!("--listen `{text}` is not an address: {FORMS}");
    };
    if host.contains(':') && !host.starts_with('[') {
        bail!("--listen `{text}`: an IPv6 address goes in brackets, as in [::1]:8080");
    }
    let port = port(port_text, text)?;
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    let inner = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if inner.parse::<IpAddr>().is_err() {
        bail!(
            "--listen `{text}`: `{host}` is not an IP address (host names other than localhost are not resolved): {FORMS}"
        );
    }
    bail!("--listen `{text}` is not an address: {FORMS}")
}

fn port(digits: &str, whole: &str) -> Result<u16> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        bail!("--listen `{whole}`: the port `{digits}` is not a number from 0 to 65535");
    }
    digits
        .parse::<u16>()
        .map_err(|_| anyhow::anyhow!("--listen `{whole}`: the port {digits} is out of range (0 to 65535)"))
}

/// Reads the trigger's token from `path`: the file's content without the
/// surrounding white space (a final newline is usual). Refused, with the
/// file named: a file that is missing or is not a regular file, one that
/// the group or others may read or write (like an ssh key: `chmod 600`),
/// an empty one, and a token with white space or control characters inside
/// (it travels in an `Authorization: Bearer` header, on one line).
pub fn read_token_file(path: &Path) -> Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read the token file {shown}"))?;
    if !meta.is_file() {
        bail!("the token file {shown} is not a regular file");
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "the token file {shown} may be read or written by others (mode {mode:03o}); make it private to its owner \
             with `chmod 600 {shown}`"
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read the token file {shown}"))?;
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("the token file {shown} is not UTF-8 text"))?;
    let token = text.trim();
    if token.is_empty() {
        bail!("the token file {shown} is empty; put a long random token in it (e.g. `openssl rand -hex 32`)");
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("the token file {shown} holds more than one word; the token is one line without spaces");
    }
    Ok(token.to_string())
}

/// Compares a presented token with the expected one in time that depends
/// only on their lengths, not on where they first differ.
pub(super) fn same_token(presented: &[u8], expected: &[u8]) -> bool {
    if presented.len() != expected.len() {
        return false;
    }
    let difference = presented.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_is_loopback_and_an_explicit_host_is_kept() {
        for (text, expected) in [
            ("8080", "127.0.0.1:8080"),
            (":8080", "127.0.0.1:8080"),
            (" 9 ", "127.0.0.1:9"),
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("0.0.0.0:80", "0.0.0.0:80"),
            ("[::1]:8080", "[::1]:8080"),
            ("[::]:0", "[::]:0"),
            ("localhost:8080", "127.0.0.1:8080"),
        ] {
            assert_eq!(parse_listen(text).unwrap().to_string(), expected, "{text}");
        }
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        for (text, expected) in [
            ("", "needs an address"),
            ("70000", "out of range"),
            (":", "is not a number"),
            ("127.0.0.1", "has no port"),
            ("[::1]", "has no port"),
            ("::1:8080", "goes in brackets"),
            ("fe80::1%eth0:80", "goes in brackets"),
            ("example.org:80", "is not an IP address"),
            ("127.0.0.1:http", "is not a number"),
            ("127.0.0.1:-1", "is not a number"),
            ("300.1.1.1:80", "is not an IP address"),
            ("nonsense", "is not an address"),
        ] {
            let error = parse_listen(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token(b"secret", b"secret"));
        assert!(!same_token(b"secreT", b"secret"));
        assert!(!same_token(b"secre", b"secret"));
        assert!(!same_token(b"", b"secret"));
    }
}
