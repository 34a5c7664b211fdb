//! HTTPS probes to a private name: the real binary against a real TLS server
//! on loopback, whose certificate is signed by a CA each test makes. The
//! three ways to trust it (a probe's `ca_file`, the system's store, and
//! `tls_verify: false`) and the way it fails without any of them.
//!
//! The system's store is reached the way the platform verifier reads it on
//! Linux: `SSL_CERT_FILE` or `SSL_CERT_DIR`, when set, replace the
//! distribution's bundle. Every test sets one of them, to a store that does
//! or does not hold the test's CA, so that none depends on the machine's own
//! store (or on whether it has one). On macOS the platform verifier asks the
//! keychain instead, so the tests that rely on that are Linux-only.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::support::Homelab;

/// A CA that can sign a server certificate.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        Ca { issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap() }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Starts an HTTPS server on 127.0.0.1 with a certificate for
    /// `localhost` and `127.0.0.1` signed by this CA. Returns the port.
    fn serve(&self) -> u16 {
        self.serve_as(&["localhost", "127.0.0.1"])
    }

    /// Starts an HTTPS server on 127.0.0.1 with a certificate for `names`
    /// signed by this CA. Returns the port.
    fn serve_as(&self, names: &[&str]) -> u16 {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        let leaf = params.signed_by(&key, &self.issuer).unwrap();
        https_server(vec![leaf.der().clone(), self.issuer.der().clone()], &key)
    }
}

/// Starts an HTTPS server on 127.0.0.1 that presents `chain`. Each
/// connection gets one `200` answer; a client that rejects the certificate
/// just ends its connection. Returns the port.
fn https_server(chain: Vec<CertificateDer<'static>>, key: &KeyPair) -> u16 {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || answer(config, tcp));
        }
    });
    port
}

/// One HTTP exchange over TLS; any failure (such as a client that does not
/// trust the certificate) ends it quietly.
fn answer(config: Arc<rustls::ServerConfig>, tcp: std::net::TcpStream) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(connection) = rustls::ServerConnection::new(config) else { return };
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let body = "served over tls";
    let response = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    let _ = stream.write_all(response.as_bytes());
    stream.conn.send_close_notify();
    let _ = stream.flush();
}

/// A homelab whose `saturn/nas` service has one `web` probe: an `http`
/// check of `https://HOST:PORT/health` with the extra `http` keys given.
fn lab_with_probe(host: &str, port: u16, extra: &str) -> Homelab {
    let lab = Homelab::new();
    lab.write(
        "inventory/hosts/saturn/services.yaml",
        &format!(
            "services:\n  nas:\n    probes:\n      - name: web\n        http:\n          url: https://{host}:{port}/health\n\
             {extra}          body_contains: served over tls\n        timeout: 5s\n"
        ),
    );
    lab
}

/// `observer probe` with the system store set to `store` (a file for
/// `SSL_CERT_FILE`, a directory for `SSL_CERT_DIR`); returns stdout.
fn probe_with_store(lab: &Homelab, store: &str) -> String {
    let (set, unset) =
        if lab.path(store).is_dir() { ("SSL_CERT_DIR", "SSL_CERT_FILE") } else { ("SSL_CERT_FILE", "SSL_CERT_DIR") };
    let mut invocation = lab.observer(["probe"]);
    invocation.command.env(set, lab.path(store)).env_remove(unset);
    invocation.run().success().stdout
}

/// The `probe_result` the run wrote, as JSON.
fn last_result(lab: &Homelab) -> serde_json::Value {
    let text = lab.read("events/observer/probes-2026-05-12.jsonl");
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

#[test]
fn a_ca_file_with_the_private_ca_is_trusted_for_that_probe() {
    let ca = Ca::new("homelab CA");
    let port = ca.serve();
    let lab = lab_with_probe("127.0.0.1", port, "          ca_file: ca/homelab.pem\n");
    lab.write("inventory/ca/homelab.pem", &ca.pem());
    lab.write("store/other.pem", &Ca::new("someone else").pem());
    lab.observer(["validate"]).run().success();

    let out = probe_with_store(&lab, "store/other.pem");
    assert!(out.contains("saturn/nas/web: ok"), "{out}");
    assert!(out.contains("HTTP 200"), "{out}");
    assert_eq!(last_result(&lab)["payload"]["http_status"], 200);
}

#[test]
fn a_ca_file_may_be_the_servers_own_self_signed_certificate() {
    // A device with a self-signed certificate: not a CA, so it can be its own anchor.
    let key = KeyPair::generate().unwrap();
    let certificate = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap().self_signed(&key).unwrap();
    let port = https_server(vec![certificate.der().clone()], &key);
    let lab = lab_with_probe("127.0.0.1", port, "          ca_file: device.pem\n");
    lab.write("inventory/device.pem", &certificate.pem());
    lab.write("store/other.pem", &Ca::new("someone else").pem());
    let out = probe_with_store(&lab, "store/other.pem");
    assert!(out.contains("saturn/nas/web: ok"), "{out}");
}

#[test]
fn a_ca_file_with_another_ca_is_critical() {
    let ca = Ca::new("homelab CA");
    let port = ca.serve();
    let lab = lab_with_probe("127.0.0.1", port, "          ca_file: ca/other.pem\n");
    lab.write("inventory/ca/other.pem", &Ca::new("someone else").pem());
    let out = probe_with_store(&lab, "inventory/ca/other.pem");
    let ca_file = lab.path("inventory/ca/other.pem");
    assert!(out.contains("saturn/nas/web: critical ("), "{out}");
    assert!(
        out.contains(&format!("TLS certificate not trusted: not issued by the CA in {}", ca_file.display())),
        "{out}"
    );
}

#[test]
#[cfg(not(target_vendor = "apple"))] // There the store is the keychain, not SSL_CERT_FILE.
fn without_trust_the_certificate_is_critical_with_a_clear_detail() {
    let ca = Ca::new("homelab CA");
    let port = ca.serve();
    let lab = lab_with_probe("127.0.0.1", port, "");
    lab.write("store/other.pem", &Ca::new("someone else").pem());
    let out = probe_with_store(&lab, "store/other.pem");
    assert!(out.contains("saturn/nas/web: critical ("), "{out}");
    let detail = "TLS certificate not trusted: not issued by the system trust store \
                  (add its CA there, or give the probe a ca_file)";
    assert!(out.contains(detail), "{out}");
    let event = last_result(&lab);
    assert_eq!(event["payload"]["outcome"], "critical");
    assert_eq!(event["payload"]["detail"], detail);
    assert!(event["payload"].get("http_status").is_none(), "{event}");
}

#[test]
#[cfg(not(target_vendor = "apple"))] // There the store is the keychain, not SSL_CERT_FILE.
fn a_certificate_for_another_name_is_critical_even_from_a_trusted_ca() {
    let ca = Ca::new("homelab CA");
    let port = ca.serve_as(&["nas.lan"]);
    let lab = lab_with_probe("127.0.0.1", port, "");
    lab.write("store/ca.pem", &ca.pem());
    let out = probe_with_store(&lab, "store/ca.pem");
    assert!(out.contains("saturn/nas/web: critical ("), "{out}");
    assert!(out.contains("TLS certificate not accepted: certificate not valid for name \"127.0.0.1\""), "{out}");
}

#[test]
fn tls_verify_false_accepts_an_untrusted_certificate_for_that_probe_only() {
    let ca = Ca::new("homelab CA");
    // Neither the CA nor the name is right: only an insecure probe gets through.
    let port = ca.serve_as(&["nas.lan"]);
    let lab = Homelab::new();
    lab.write(
        "inventory/hosts/saturn/services.yaml",
        &format!(
            "services:\n  nas:\n    probes:\n\
             \x20     - name: insecure\n        http: {{url: \"https://127.0.0.1:{port}/\", tls_verify: false}}\n\
             \x20     - name: verified\n        http: {{url: \"https://127.0.0.1:{port}/\"}}\n"
        ),
    );
    lab.write("store/other.pem", &Ca::new("someone else").pem());
    let out = probe_with_store(&lab, "store/other.pem");
    assert!(out.contains("saturn/nas/insecure: ok"), "{out}");
    assert!(out.contains("saturn/nas/verified: critical"), "{out}");
}

#[test]
#[cfg(not(target_vendor = "apple"))] // There the store is the keychain, not SSL_CERT_FILE.
fn the_system_store_is_the_default_through_ssl_cert_file_and_ssl_cert_dir() {
    let ca = Ca::new("homelab CA");
    let port = ca.serve();
    let lab = lab_with_probe("localhost", port, "");
    // A bundle like the distribution's: several CAs in one file.
    lab.write("store/bundle.pem", &format!("{}{}", Ca::new("public CA").pem(), ca.pem()));
    let out = probe_with_store(&lab, "store/bundle.pem");
    assert!(out.contains("saturn/nas/web: ok"), "{out}");

    let lab = lab_with_probe("localhost", port, "");
    lab.write("store/certs/public.pem", &Ca::new("public CA").pem());
    lab.write("store/certs/homelab.pem", &ca.pem());
    let out = probe_with_store(&lab, "store/certs");
    assert!(out.contains("saturn/nas/web: ok"), "{out}");
}

#[test]
#[cfg(not(target_vendor = "apple"))] // There the store is the keychain, not SSL_CERT_FILE.
fn an_empty_system_store_is_unknown_not_a_failing_service() {
    let ca = Ca::new("homelab CA");
    let port = ca.serve();
    let lab = lab_with_probe("127.0.0.1", port, "");
    lab.write("store/empty.pem", "");
    let out = probe_with_store(&lab, "store/empty.pem");
    assert!(out.contains("saturn/nas/web: unknown ("), "{out}");
    assert!(out.contains("no CA certificates found in the system trust store"), "{out}");
}

// ---------------------------------------------------------------- validation

/// `observer validate`'s problems with a `services.yaml` holding the given
/// probe lines (under `nas`), with a fake server port.
fn validate(probe: &str, files: &[(&str, &str)]) -> (Homelab, String) {
    let lab = Homelab::new();
    lab.write(
        "inventory/hosts/saturn/services.yaml",
        &format!("services:\n  nas:\n    probes:\n      - name: web\n{probe}"),
    );
    for (rel, text) in files {
        lab.write(rel, text);
    }
    let out = lab.observer(["validate"]).run().code(1);
    (lab, out.stdout)
}

#[test]
fn a_missing_ca_file_is_a_problem_with_its_file_and_line() {
    let (lab, out) =
        validate("        http:\n          url: https://nas.lan/\n          ca_file: ca/missing.pem\n", &[]);
    let services = lab.path("inventory/hosts/saturn/services.yaml");
    let ca_file = lab.path("inventory/ca/missing.pem");
    let expected = format!(
        "{}:7: service `nas`: probe `web`: ca_file {}: cannot read: No such file or directory (os error 2)\n",
        services.display(),
        ca_file.display()
    );
    assert_eq!(out, expected);

    // `probe` refuses the inventory before running anything.
    lab.observer(["probe"]).run().code(1).stderr_has("the inventory has problems").stderr_has("ca_file");
}

#[test]
fn a_ca_file_without_a_valid_certificate_is_a_problem() {
    let pem_of = |body: &str| format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n");
    for (text, message) in [
        ("just some text\n".to_string(), "holds no PEM certificate"),
        (pem_of("bm90IGEgY2VydGlmaWNhdGU="), "certificate 1 is not a valid X.509 certificate (not DER)"),
        (pem_of("not base64 at all!"), "not a valid PEM file"),
    ] {
        let probe = "        http: {url: \"https://nas.lan/\", ca_file: ca.pem}\n";
        let (_, out) = validate(probe, &[("inventory/ca.pem", &text)]);
        assert!(out.contains("services.yaml:5: service `nas`: probe `web`: ca_file "), "{out}");
        assert!(out.contains(message), "{text:?}: {out}");
    }
}

#[test]
fn ca_file_and_tls_verify_need_an_https_url_and_exclude_each_other() {
    let (_, out) = validate("        http: {url: \"http://nas.lan/\", tls_verify: false}\n", &[]);
    assert!(out.contains("ca_file and tls_verify apply to https:// urls only"), "{out}");
    let (_, out) = validate(
        "        http: {url: \"https://nas.lan/\", ca_file: ca.pem, tls_verify: false}\n",
        &[("inventory/ca.pem", &Ca::new("homelab CA").pem())],
    );
    assert!(out.contains("give ca_file or tls_verify: false, not both"), "{out}");
}
