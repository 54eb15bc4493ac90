//! The certificate chain (reference §2.2, §3.4): who may sign what, as the certificates are
//! read in `_id` order. The root key signs what has no author; a device signs once its own
//! certificate, itself verified, came earlier; the sequester authority (signed by the root)
//! signs the services.

use std::collections::HashMap;

use uuid::Uuid;

use crate::parsec::certificates::{self, Certificate};
use crate::parsec::crypto::rsa_key::SequesterPublicKey;
use crate::parsec::crypto::signing::VerifyKey;
use crate::parsec::DataError;

/// Why a certificate was not accepted.
pub enum Rejection {
    /// It cannot be decoded at all.
    Undecodable(DataError),
    /// Its kind is not one this tool knows.
    UnknownKind(String),
    /// Decoded, but its signer is not known at that point of the chain.
    UnknownSigner(Box<Certificate>, String),
    /// Decoded, but the signature does not verify.
    BadSignature(Box<Certificate>, String),
}

pub struct Chain {
    /// `None` when the signatures are not checked (`--no-signatures`).
    root: Option<VerifyKey>,
    devices: HashMap<Uuid, VerifyKey>,
    authority: Option<SequesterPublicKey>,
    /// Whether an authority certificate was seen (even one that failed).
    authority_seen: bool,
}

impl Chain {
    /// `root` is `info.root_verify_key`; `check` false skips every signature.
    pub fn new(root: &[u8; 32], check: bool) -> Result<Self, DataError> {
        let root = if check {
            Some(VerifyKey::from_bytes(root)?)
        } else {
            None
        };
        Ok(Chain {
            root,
            devices: HashMap::new(),
            authority: None,
            authority_seen: false,
        })
    }

    pub fn checks(&self) -> bool {
        self.root.is_some()
    }

    /// Reads one certificate of `common_certificate`, `realm_certificate` or
    /// `sequester_certificate`, checks its signature and learns the keys it certifies.
    pub fn accept(&mut self, bytes: &[u8]) -> Result<Certificate, Rejection> {
        if bytes.starts_with(crate::parsec::crypto::sequester::SIGNATURE_ALGORITHM.as_bytes()) {
            return self.accept_rsa(bytes);
        }
        let unverified = certificates::decode(bytes).map_err(rejection)?;
        let certificate = match &self.root {
            None => unverified.certificate,
            Some(root) => {
                let signer = unverified.certificate.author();
                let key = match signer {
                    None => root,
                    Some(device) => match self.devices.get(&device) {
                        Some(key) => key,
                        None => {
                            return Err(Rejection::UnknownSigner(
                                Box::new(unverified.certificate),
                                format!(
                                    "device {} has no earlier verified device certificate",
                                    device.simple()
                                ),
                            ))
                        }
                    },
                };
                let who = signer.map_or("the root key".to_owned(), |d| {
                    format!("device {}", d.simple())
                });
                let certificate = unverified.certificate.clone();
                unverified.verify(key).map_err(|_| {
                    Rejection::BadSignature(Box::new(certificate), format!("not signed by {who}"))
                })?
            }
        };
        match &certificate {
            Certificate::Device(d) => {
                if let Ok(key) = VerifyKey::from_bytes(&d.verify_key) {
                    self.devices.insert(d.device_id, key);
                }
            }
            Certificate::SequesterAuthority(a) => {
                self.authority_seen = true;
                self.authority = SequesterPublicKey::from_der(&a.verify_key_der).ok();
            }
            _ => {}
        }
        Ok(certificate)
    }

    fn accept_rsa(&mut self, bytes: &[u8]) -> Result<Certificate, Rejection> {
        if self.root.is_none() {
            return certificates::decode_rsa_unverified(bytes).map_err(rejection);
        }
        let Some(authority) = &self.authority else {
            let certificate = certificates::decode_rsa_unverified(bytes).map_err(rejection)?;
            let why = if self.authority_seen {
                "the sequester authority certificate did not verify, or its key is not an RSA key"
            } else {
                "no sequester authority certificate precedes it"
            };
            return Err(Rejection::UnknownSigner(Box::new(certificate), why.into()));
        };
        certificates::verify_rsa(bytes, authority).map_err(|e| match e {
            DataError::BadSignature(_) | DataError::Truncated { .. } => {
                match certificates::decode_rsa_unverified(bytes) {
                    Ok(c) => Rejection::BadSignature(
                        Box::new(c),
                        "not signed by the sequester authority".into(),
                    ),
                    Err(e) => Rejection::Undecodable(e),
                }
            }
            other => rejection(other),
        })
    }
}

fn rejection(e: DataError) -> Rejection {
    match e {
        DataError::UnknownType { found, .. } => Rejection::UnknownKind(found),
        other => Rejection::Undecodable(other),
    }
}
