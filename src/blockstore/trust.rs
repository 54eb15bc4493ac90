//! Which CAs the object stores (S3, Swift) are verified against over HTTPS: the bundle given
//! by `--blockstore-ca-bundle`, else `AWS_CA_BUNDLE` (S3 only, as the AWS tools), else
//! `SSL_CERT_FILE`, else the operating system's trust store. A bundle replaces the OS store
//! (as those variables do for the AWS CLI and OpenSSL): only its CAs are trusted.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::error::{Error, Result};

static CA_BUNDLE: OnceLock<PathBuf> = OnceLock::new();

/// `--blockstore-ca-bundle`, set once at start-up.
pub fn set_ca_bundle(path: PathBuf) {
    let _ = CA_BUNDLE.set(path);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    S3,
    Swift,
}

/// The CA bundle's PEM text and where it was named, or None for the OS trust store.
pub fn ca_bundle(kind: StoreKind) -> Result<Option<(Vec<u8>, String)>> {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(|v| (PathBuf::from(v), name.to_owned()))
    };
    let chosen = CA_BUNDLE
        .get()
        .map(|p| (p.clone(), "--blockstore-ca-bundle".to_owned()))
        .or_else(|| {
            (kind == StoreKind::S3)
                .then(|| env("AWS_CA_BUNDLE"))
                .flatten()
        })
        .or_else(|| env("SSL_CERT_FILE"));
    let Some((path, from)) = chosen else {
        return Ok(None);
    };
    // Parsed once here so that a wrong file is named, not reported as an HTTPS failure.
    crate::trust::load_certs(&path, &format!("CA bundle ({from})"))
        .map_err(Error::BlockstoreConfig)?;
    let pem = std::fs::read(&path).map_err(|e| {
        Error::BlockstoreConfig(format!(
            "cannot read the CA bundle `{}` ({from}): {e}",
            path.display()
        ))
    })?;
    Ok(Some((pem, format!("{} ({from})", path.display()))))
}

/// The reason to show for a failed request: a certificate rejection said in words, with
/// what was trusted; anything else as `fallback` gives it.
pub fn explain(err: &(dyn std::error::Error + 'static), trusted: &str, fallback: String) -> String {
    match crate::trust::describe_rejection(err) {
        Some(problem) => format!(
            "HTTPS {problem}; trusted: {trusted} (give the CA that signed the store's certificate with --blockstore-ca-bundle FILE)"
        ),
        None => fallback,
    }
}
