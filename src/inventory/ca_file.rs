//! The `ca_file` of an https probe, read when the inventory is loaded: its
//! path made absolute and its certificates checked and kept in the check, so
//! that a missing or broken file is a problem with its file and line (in
//! `observer validate`, and before any probe runs), never a failure found
//! while probing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::check::HttpCheck;
use crate::input_problem::InputProblem;

/// Reads the CA certificates of the check's `ca_file` into the check, with
/// the path made absolute: relative to the inventory directory `dir`, so
/// that the probe does not depend on where observer is started (nothing else
/// in the inventory names a file of the inventory; `path` and `disk` name
/// paths on the probed machine and stay as written). A file that cannot be
/// read, holds no certificate or a broken one is a problem at the line of
/// the `ca_file` in `services` (the nth with that value, counted in `seen`).
pub(super) fn read(
    check: &mut HttpCheck,
    dir: &Path,
    services: &Path,
    seen: &mut BTreeMap<PathBuf, usize>,
) -> Result<(), InputProblem> {
    let Some(given) = check.ca_file.clone() else { return Ok(()) };
    let nth = seen.entry(given.clone()).or_default();
    *nth += 1;
    let line = line_of(services, &given.display().to_string(), *nth);
    let file = dir.join(&given);
    let problem = |message: String| InputProblem::new(services, line, format!("ca_file {}: {message}", file.display()));
    let pem = std::fs::read(&file).map_err(|e| problem(format!("cannot read: {e}")))?;
    let mut certificates = Vec::new();
    let mut roots = rustls::RootCertStore::empty();
    for item in CertificateDer::pem_slice_iter(&pem) {
        let der = item.map_err(|e| problem(format!("not a valid PEM file: {e}")))?;
        // The same check the probe's TLS client makes of its roots, which
        // would otherwise skip a broken certificate without a word.
        if let Err(e) = roots.add(der.clone()) {
            let why = match e {
                rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding) => "not DER".to_string(),
                rustls::Error::InvalidCertificate(e) => e.to_string(),
                e => e.to_string(),
            };
            return Err(problem(format!(
                "certificate {} is not a valid X.509 certificate ({why})",
                certificates.len() + 1
            )));
        }
        certificates.push(der.to_vec());
    }
    if certificates.is_empty() {
        return Err(problem("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_string()));
    }
    check.ca_file = Some(file);
    check.ca_certificates = certificates;
    Ok(())
}

/// The line of the `nth` `ca_file` key whose value is `value`.
fn line_of(services: &Path, value: &str, nth: usize) -> Option<u64> {
    let text = std::fs::read_to_string(services).ok()?;
    crate::input_problem::line_of_key_value(&text, "ca_file", value, nth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_that_of_the_nth_ca_file_with_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let services = dir.path().join("services.yaml");
        let text = "- http: {url: \"https://a/\", ca_file: homelab-ca.pem}\n- name: b\n  http:\n    ca_file: ca.pem\n\
                    - http: {url: \"https://c/\", ca_file: \"ca.pem\"}\n";
        std::fs::write(&services, text).unwrap();
        assert_eq!(line_of(&services, "homelab-ca.pem", 1), Some(1));
        assert_eq!(line_of(&services, "ca.pem", 1), Some(4), "not the tail of homelab-ca.pem");
        assert_eq!(line_of(&services, "ca.pem", 2), Some(5));
        assert_eq!(line_of(&services, "ca.pem", 3), None);
    }

    #[test]
    fn a_relative_ca_file_is_read_from_the_inventory_directory() {
        let dir = tempfile::tempdir().unwrap();
        let services = dir.path().join("services.yaml");
        std::fs::write(&services, "ca_file: missing.pem\n").unwrap();
        let mut check = HttpCheck { ca_file: Some(PathBuf::from("missing.pem")), ..HttpCheck::default() };
        let problem = read(&mut check, dir.path(), &services, &mut BTreeMap::new()).unwrap_err();
        assert_eq!(problem.line, Some(1));
        assert!(
            problem.message.starts_with(&format!("ca_file {}: cannot read", dir.path().join("missing.pem").display()))
        );

        let mut check = HttpCheck::default();
        assert_eq!(
            read(&mut check, dir.path(), &services, &mut BTreeMap::new()),
            Ok(()),
            "no ca_file, nothing to read"
        );
    }
}
