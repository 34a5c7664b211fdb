//! What a probe checks, as declared in `services.yaml`: one key per probe
//! (`tcp`, `http`, `command`, `path` or `disk`). Declarations only; running
//! them is `crate::probe`'s job. Each check is validated here, while the
//! file is parsed, so that a problem carries its line.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Tcp(TcpCheck),
    Http(HttpCheck),
    Command(CommandCheck),
    Path(PathCheck),
    Disk(DiskCheck),
}

/// A TCP connection to `host:port` can be opened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    pub host: String,
    pub port: u16,
}

/// A GET of `url` answers with one of `expect_status` (default: any 2xx or
/// 3xx; redirects are not followed) and, if given, a body containing
/// `body_contains`.
///
/// An `https://` url's certificate is verified against, in this order:
/// - `ca_file`, when given: only the CA certificates in that PEM file are
///   trusted, for this probe alone. This is the way for a homelab CA that the
///   probing machine does not trust as a whole.
/// - otherwise the system's trust store, read through the platform verifier
///   when the probe runs. On Linux that is `SSL_CERT_FILE` and/or
///   `SSL_CERT_DIR` when either is set (and then only those), else the
///   distribution's bundle (`/etc/ssl/certs/ca-certificates.crt` and the
///   like). It is the default, rather than a list of public CAs built into
///   the binary, because a homelab's own CA is usually installed there
///   (`update-ca-certificates`), where curl and browsers on the same machine
///   already trust it, and because the distribution keeps it up to date.
///
/// `tls_verify: false` turns verification off for this probe alone: any
/// certificate for any name is accepted, so the probe no longer proves that
/// it talks to the right server. It is insecure, and meant for a device whose
/// self-signed certificate cannot be replaced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub url: String,
    #[serde(default)]
    pub expect_status: Vec<u16>,
    #[serde(default)]
    pub body_contains: Option<String>,
    /// A PEM file of one or more CA certificates (or the server's own
    /// self-signed certificate, if that says `CA:FALSE`: rustls accepts no
    /// CA certificate as a server's). A relative path is taken
    /// from the inventory directory (where the file can live in the same
    /// repository), not from wherever observer happens to be started;
    /// loading the inventory makes it absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The certificates of `ca_file` (DER), read and checked when the
    /// inventory is loaded: a missing or broken file is a problem with its
    /// file and line then, never a surprise when the probe runs.
    #[serde(skip)]
    pub ca_certificates: Vec<Vec<u8>>,
    /// Off only when a probe says `tls_verify: false`.
    #[serde(default = "verify_by_default", skip_serializing_if = "is_verified")]
    pub tls_verify: bool,
}

/// Any field a probe leaves out takes its default; TLS verification is on,
/// which a derived `Default` would get wrong.
impl Default for HttpCheck {
    fn default() -> HttpCheck {
        HttpCheck {
            url: String::new(),
            expect_status: Vec::new(),
            body_contains: None,
            ca_file: None,
            ca_certificates: Vec::new(),
            tls_verify: true,
        }
    }
}

fn verify_by_default() -> bool {
    true
}

fn is_verified(tls_verify: &bool) -> bool {
    *tls_verify
}

/// A Nagios-style plugin, given as its argv and run without a shell: exit 0
/// ok, 1 warning, 2 critical, 3 (or anything else) unknown. The first line of
/// its output is the detail; what follows `|` on it is perfdata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommandCheck {
    pub argv: Vec<String>,
}

/// The path exists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PathCheck {
    pub path: PathBuf,
}

/// The file system holding `path` has at least `min_free_percent` percent
/// and/or `min_free_bytes` bytes free (critical below); below
/// `warn_free_percent` it is a warning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskCheck {
    pub path: PathBuf,
    #[serde(default)]
    pub min_free_percent: Option<f64>,
    #[serde(default)]
    pub min_free_bytes: Option<u64>,
    #[serde(default)]
    pub warn_free_percent: Option<f64>,
}

impl Check {
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Tcp(_) => "tcp",
            Check::Http(_) => "http",
            Check::Command(_) => "command",
            Check::Path(_) => "path",
            Check::Disk(_) => "disk",
        }
    }

    /// What the check looks at, for people.
    pub fn target(&self) -> String {
        match self {
            Check::Tcp(c) => format!("{}:{}", c.host, c.port),
            Check::Http(c) => c.url.clone(),
            Check::Command(c) => c.argv.join(" "),
            Check::Path(c) => c.path.display().to_string(),
            Check::Disk(c) => c.path.display().to_string(),
        }
    }

    /// What serde cannot say about a check: a check that parses but could
    /// never pass, or never be run, is refused with the reason.
    pub(super) fn validate(&self) -> Result<(), String> {
        match self {
            Check::Tcp(c) if c.host.trim().is_empty() || c.port == 0 => {
                Err("tcp needs a host and a port above 0".into())
            }
            Check::Http(c) if !(c.url.starts_with("http://") || c.url.starts_with("https://")) => {
                Err(format!("http url `{}` must start with http:// or https://", c.url))
            }
            Check::Http(c) if (c.ca_file.is_some() || !c.tls_verify) && !c.url.starts_with("https://") => {
                Err(format!("http url `{}`: ca_file and tls_verify apply to https:// urls only", c.url))
            }
            Check::Http(c) if c.ca_file.is_some() && !c.tls_verify => {
                Err("give ca_file or tls_verify: false, not both (with verification off no CA is used)".into())
            }
            Check::Command(c) if c.argv.is_empty() || c.argv[0].is_empty() => {
                Err("command needs its argv: a list whose first item is the program".into())
            }
            Check::Disk(c)
                if c.min_free_percent.is_none() && c.min_free_bytes.is_none() && c.warn_free_percent.is_none() =>
            {
                Err("disk needs min_free_percent, min_free_bytes or warn_free_percent".into())
            }
            Check::Disk(c)
                if [c.min_free_percent, c.warn_free_percent].iter().flatten().any(|p| !(0.0..=100.0).contains(p)) =>
            {
                Err("disk percentages must be between 0 and 100".into())
            }
            _ => Ok(()),
        }
    }
}
