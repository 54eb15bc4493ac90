//! What the PostgreSQL connection and the object stores share about verified TLS: loading
//! PEM files (CA bundles, client certificates and keys), the OS trust store, and turning a
//! certificate rejection buried in an error chain into a sentence saying what failed.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CertificateError, RootCertStore};

/// Every certificate of a PEM file; an unreadable file or one without a certificate is an
/// error naming it.
pub fn load_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the {what} `{}`: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "the {what} `{}` holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// A private key (PKCS#8, PKCS#1 or SEC1) from a PEM file. The message never shows its content.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("cannot read a private key from `{}`: {e}", path.display()))
}

/// A trust store holding the certificates of a PEM bundle.
pub fn roots_from_file(path: &Path, what: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path, what)? {
        roots
            .add(cert)
            .map_err(|e| format!("the {what} `{}`: {e}", path.display()))?;
    }
    Ok(roots)
}

/// The operating system's trust store (honours `SSL_CERT_FILE`/`SSL_CERT_DIR`).
pub fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = found
            .errors
            .first()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(format!(
            "the operating system's trust store has no certificate{why} (install ca-certificates, or give a CA file)"
        ));
    }
    Ok(roots)
}

/// If `err`'s chain holds a certificate rejection, what was wrong, in words.
pub fn describe_rejection(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(err);
    while let Some(e) = current {
        let found = rustls_error(e);
        if let Some(rustls::Error::InvalidCertificate(c)) = found {
            return Some(certificate_problem(c));
        }
        if let Some(other @ rustls::Error::AlertReceived(_)) = found {
            return Some(format!("the TLS handshake failed: {other}"));
        }
        current = e.source();
    }
    None
}

/// `e` itself, or the error an `io::Error` (possibly nested) carries: `io::Error::source`
/// skips over it.
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(found) = e.downcast_ref::<rustls::Error>() {
        return Some(found);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}

fn certificate_problem(c: &CertificateError) -> String {
    match c {
        CertificateError::UnknownIssuer => {
            "certificate verification failed: unknown CA (the server's certificate is not signed by a trusted CA)".into()
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "certificate verification failed: the server's certificate has expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate verification failed: the server's certificate is not valid yet (check the clocks)".into()
        }
        CertificateError::NotValidForName => {
            "certificate verification failed: host name mismatch (the server's certificate is not issued for the host connected to)".into()
        }
        CertificateError::NotValidForNameContext { expected, presented } => format!(
            "certificate verification failed: host name mismatch (connected to `{}`, the server's certificate is for {})",
            expected.to_str(),
            presented
                .iter()
                .map(|p| {
                    // rustls gives `DnsName("x")` / `IpAddress(x)`: keep the name.
                    let name = p.trim_start_matches("DnsName(").trim_start_matches("IpAddress(");
                    format!("`{}`", name.trim_end_matches(')').trim_matches('"'))
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        CertificateError::Revoked => {
            "certificate verification failed: the server's certificate is revoked".into()
        }
        other => format!("certificate verification failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(std::io::Error);
    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }
    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn rejections_are_found_inside_nested_io_errors() {
        let tls = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, tls));
        let found = describe_rejection(&Wrapper(io)).unwrap();
        assert!(found.contains("unknown CA"), "{found}");
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(describe_rejection(&Wrapper(plain)), None);
    }

    #[test]
    fn a_name_mismatch_names_both_sides() {
        let e = CertificateError::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("127.0.0.2").unwrap(),
            presented: vec![
                "DnsName(\"localhost\")".into(),
                "IpAddress(127.0.0.1)".into(),
            ],
        };
        assert_eq!(
            certificate_problem(&e),
            "certificate verification failed: host name mismatch (connected to `127.0.0.2`, the server's certificate is for `localhost`, `127.0.0.1`)"
        );
    }
}
