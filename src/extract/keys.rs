//! From the service's private key to the realm keys (reference §3): load the key (with its
//! passphrase), find the service whose certificate holds its public half, open the bundles
//! the service has an access to (highest first, Parsec's loop of §3.6), check each bundle
//! (signature, realm, key count, author) and each key against its rotation's canary.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::Path;

use uuid::Uuid;

use super::failure::Failure;
use super::org::{Org, Service};
use super::source::Source;
use crate::error::{Error, Result};
use crate::ids::format_timestamp;
use crate::parsec::crypto::rsa_key::SequesterPrivateKey;
use crate::parsec::keys_bundle::{KeysBundleAccess, RealmKeysBundle};

/// The environment variable read for the key's passphrase.
pub const PASSPHRASE_ENV: &str = "PARSEC_SEQUESTER_KEY_PASSPHRASE";

fn key_error(reason: impl Into<String>) -> Error {
    Error::ExtractKey(reason.into())
}

/// Loads `--key`; the passphrase comes from `passphrase_file`, else the environment, else
/// a prompt when stdin is a terminal. Nothing of the key or passphrase reaches an error.
pub fn load_private_key(
    path: &Path,
    passphrase_file: Option<&Path>,
) -> Result<SequesterPrivateKey> {
    let bytes = std::fs::read(path)
        .map_err(|e| key_error(format!("cannot read the key file {}: {e}", path.display())))?;
    // Only an encrypted PKCS#8 PEM takes a passphrase (legacy encrypted PEM is refused by
    // the loader with the command that converts it).
    let marker = b"BEGIN ENCRYPTED PRIVATE KEY";
    let encrypted = bytes.windows(marker.len()).any(|w| w == marker);
    let passphrase: Option<zeroize_string::Secret> = if !encrypted {
        None
    } else if let Some(file) = passphrase_file {
        let raw = std::fs::read(file).map_err(|e| {
            key_error(format!(
                "cannot read the passphrase file {}: {e}",
                file.display()
            ))
        })?;
        Some(zeroize_string::Secret::from_line(raw))
    } else if let Some(value) = std::env::var_os(PASSPHRASE_ENV) {
        Some(zeroize_string::Secret(value.into_encoded_bytes()))
    } else if std::io::stdin().is_terminal() {
        let typed = rpassword::prompt_password(format!("Passphrase of {}: ", path.display()))
            .map_err(|e| key_error(format!("cannot read the passphrase from the terminal: {e}")))?;
        Some(zeroize_string::Secret(typed.into_bytes()))
    } else {
        return Err(key_error(format!(
            "{} is passphrase-protected: give its passphrase with --key-passphrase-file FILE or the {PASSPHRASE_ENV} environment variable (or run on a terminal to be prompted)",
            path.display()
        )));
    };
    SequesterPrivateKey::load(&bytes, passphrase.as_ref().map(|p| p.0.as_slice()))
        .map_err(|e| key_error(format!("{}: {e}", path.display())))
}

/// A tiny owner that wipes the passphrase bytes on drop.
mod zeroize_string {
    pub struct Secret(pub Vec<u8>);

    impl Secret {
        /// A file's content without its final line break.
        pub fn from_line(mut raw: Vec<u8>) -> Self {
            if raw.ends_with(b"\n") {
                raw.pop();
                if raw.ends_with(b"\r") {
                    raw.pop();
                }
            }
            Secret(raw)
        }
    }

    impl Drop for Secret {
        fn drop(&mut self) {
            use rsa::pkcs8::der::zeroize::Zeroize;
            self.0.zeroize();
        }
    }
}

/// The service whose certificate holds the key's public half (§3.3); `given` is checked.
pub fn find_service<'a>(
    org: &'a Org,
    organization: &str,
    key: &SequesterPrivateKey,
    given: Option<Uuid>,
) -> Result<&'a Service> {
    let der = key.public_key().to_der();
    let found = org.services.iter().find(|s| s.encryption_key_der == der);
    let list = || {
        if org.services.is_empty() {
            "the organization has no sequester service".to_owned()
        } else {
            let names: Vec<String> = org
                .services
                .iter()
                .map(|s| format!("{} \"{}\"", s.id.simple(), s.label))
                .collect();
            format!("its services are {}", names.join(", "))
        }
    };
    match (found, given) {
        (Some(s), Some(id)) if s.id != id => Err(key_error(format!(
            "the key is that of service {} \"{}\", not of --service-id {}",
            s.id.simple(),
            s.label,
            id.simple()
        ))),
        (Some(s), _) => Ok(s),
        (None, _) => Err(key_error(format!(
            "the key belongs to no sequester service of organization `{organization}`: {}. Give the private key of one of them",
            list()
        ))),
    }
}

/// The realm keys this service recovered, and what failed on the way.
#[derive(Default)]
pub struct RealmKeys {
    pub keys: BTreeMap<u64, [u8; 32]>,
    /// Bundles opened through the service's accesses.
    pub bundles_opened: Vec<u64>,
    pub failures: Vec<Failure>,
    pub latest_key_index: u64,
}

impl RealmKeys {
    /// The key of a vlob or block row, or why it is not available (§3.6).
    pub fn get(&self, index: u64) -> std::result::Result<&[u8; 32], Failure> {
        if let Some(k) = self.keys.get(&index) {
            return Ok(k);
        }
        if index == 0 || index > self.latest_key_index {
            return Err(Failure::global(
                "key_index_unknown",
                format!("key index {index} has no key rotation certificate"),
            ));
        }
        Err(Failure::global(
            "key_not_opened",
            format!("encrypted with key index {index}, which this service's key cannot open"),
        ))
    }
}

/// Parsec's recovery loop (§3.6), with the bundle checks its export reader skips (§3.5).
pub fn recover(
    source: &Source,
    org: &Org,
    service: &Service,
    key: &SequesterPrivateKey,
) -> rusqlite::Result<RealmKeys> {
    let mut out = RealmKeys {
        latest_key_index: org.latest_key_index,
        ..RealmKeys::default()
    };
    let mut wanted: BTreeSet<u64> = org.rotations.keys().copied().collect();
    while let Some(&n) = wanted.iter().next_back() {
        let accesses = source.sequester_accesses(service.id, n)?;
        let Some(bundle) = open_bundle(source, org, n, &accesses, key, &mut out.failures)? else {
            wanted.remove(&n);
            continue;
        };
        out.bundles_opened.push(n);
        for (i, k) in bundle.keys.iter().enumerate() {
            let index = i as u64 + 1;
            if !wanted.contains(&index) {
                continue;
            }
            let Some(rotation) = org.rotations.get(&index) else {
                continue;
            };
            match rotation.check_key(k) {
                Ok(()) => {
                    out.keys.insert(index, *k);
                    wanted.remove(&index);
                }
                Err(e) => out.failures.push(Failure::global(
                    "canary",
                    format!("bundle {n}: {e}; that key is not used"),
                )),
            }
        }
        wanted.remove(&n);
    }
    Ok(out)
}

fn open_bundle(
    source: &Source,
    org: &Org,
    n: u64,
    accesses: &[Vec<u8>],
    key: &SequesterPrivateKey,
    failures: &mut Vec<Failure>,
) -> rusqlite::Result<Option<RealmKeysBundle>> {
    if accesses.is_empty() {
        return Ok(None);
    }
    let mut access = None;
    for (i, raw) in accesses.iter().enumerate() {
        match KeysBundleAccess::open_sequester(raw, key) {
            Ok(a) => {
                access = Some(a);
                break;
            }
            Err(e) => failures.push(Failure::global(
                "keys_bundle",
                format!("access {} of the service to bundle {n}: {e}", i + 1),
            )),
        }
    }
    let Some(access) = access else {
        return Ok(None);
    };
    let Some(encrypted) = source.keys_bundle(n)? else {
        failures.push(Failure::global(
            "keys_bundle",
            format!("`realm_keys_bundle` has no row for key index {n}"),
        ));
        return Ok(None);
    };
    let unverified = match RealmKeysBundle::open(&encrypted, &access) {
        Ok(u) => u,
        Err(e) => {
            failures.push(Failure::global("keys_bundle", format!("bundle {n}: {e}")));
            return Ok(None);
        }
    };
    let author = unverified.bundle.author;
    let bundle = match org.devices.get(&author) {
        Some(device) => match unverified.clone().verify(&device.key) {
            Ok(b) => b,
            Err(e) => {
                failures.push(Failure::global(
                    "keys_bundle",
                    format!("bundle {n}: {e} (its keys are still checked by their canaries)"),
                ));
                unverified.bundle
            }
        },
        None => {
            failures.push(Failure::global(
                "keys_bundle",
                format!(
                    "bundle {n} is signed by device {}, which has no device certificate (its keys are still checked by their canaries)",
                    author.simple()
                ),
            ));
            unverified.bundle
        }
    };
    if let Some(rotation) = org.rotations.get(&n) {
        if let Err(e) = bundle.check_rotation(rotation) {
            failures.push(Failure::global("keys_bundle", format!("bundle {n}: {e}")));
        }
        if bundle.timestamp < rotation.timestamp {
            failures.push(Failure::global(
                "keys_bundle",
                format!(
                    "bundle {n} ({}) is older than its rotation ({})",
                    format_timestamp(bundle.timestamp),
                    format_timestamp(rotation.timestamp)
                ),
            ));
        }
    }
    Ok(Some(bundle))
}
