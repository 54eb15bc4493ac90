//! What the certificates say (reference §2.2, §3.4), each verified through
//! `parsec::chain`: devices and their keys, users (human handle, revocation), the realm's
//! roles, key rotations and names, the sequester services. A certificate that fails a check
//! is reported and not used.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::failure::Failure;
use super::source::Source;
use crate::ids::{format_timestamp, Micros};
use crate::parsec::certificates::{
    Certificate, RealmKeyRotationCertificate, RealmNameCertificate, RealmRoleCertificate,
};
use crate::parsec::chain::{Chain, Rejection};
use crate::parsec::crypto::signing::VerifyKey;

pub struct Device {
    pub key: VerifyKey,
    pub user_id: Uuid,
    pub label: Option<String>,
    pub created: Micros,
}

#[derive(Default)]
pub struct Who {
    pub user: Option<Uuid>,
    pub device_label: Option<String>,
    pub label: Option<String>,
    pub email: Option<String>,
}

#[derive(Default)]
pub struct User {
    /// (email, label)
    pub human: Option<(String, String)>,
    pub revoked: Option<Micros>,
}

pub struct Service {
    pub id: Uuid,
    pub label: String,
    pub encryption_key_der: Vec<u8>,
    pub created: Micros,
    pub revoked: Option<Micros>,
}

#[derive(Default)]
pub struct Org {
    pub devices: HashMap<Uuid, Device>,
    pub users: HashMap<Uuid, User>,
    pub roles: Vec<RealmRoleCertificate>,
    pub rotations: BTreeMap<u64, RealmKeyRotationCertificate>,
    /// The last rotation in row order (Parsec's `latest_key_index`), 0 when none.
    pub latest_key_index: u64,
    pub names: Vec<RealmNameCertificate>,
    pub services: Vec<Service>,
    pub failures: Vec<Failure>,
}

/// Why an author could not have written a version at its time (§6.1, check 13).
pub fn author_problem(org: &Org, author: Uuid, at: Micros) -> Option<String> {
    let Some(device) = org.devices.get(&author) else {
        return Some(format!(
            "device {} has no device certificate",
            author.simple()
        ));
    };
    if device.created > at {
        return Some(format!(
            "device {} was certified only at {}",
            author.simple(),
            format_timestamp(device.created)
        ));
    }
    if let Some(revoked) = org.users.get(&device.user_id).and_then(|u| u.revoked) {
        if revoked <= at {
            return Some(format!(
                "user {} was revoked at {}",
                device.user_id.simple(),
                format_timestamp(revoked)
            ));
        }
    }
    let role = org
        .roles
        .iter()
        .rfind(|r| r.user_id == device.user_id && r.timestamp <= at)
        .and_then(|r| r.role.as_deref());
    match role {
        Some("OWNER" | "MANAGER" | "CONTRIBUTOR") => None,
        Some(other) => Some(format!(
            "user {} had role {other} in the realm, which cannot write",
            device.user_id.simple()
        )),
        None => Some(format!(
            "user {} had no role in the realm at that time",
            device.user_id.simple()
        )),
    }
}

impl Org {
    pub fn load(source: &Source) -> rusqlite::Result<Org> {
        let mut org = Org::default();
        let mut chain = match Chain::new(&source.info.root_verify_key, true) {
            Ok(c) => c,
            Err(e) => {
                org.failures.push(Failure::global(
                    "certificate",
                    format!("`info.root_verify_key` is not a valid Ed25519 key ({e}): no certificate can be verified"),
                ));
                return Ok(org);
            }
        };
        let realm = source.info.realm_id;
        for table in [
            "common_certificate",
            "sequester_certificate",
            "realm_certificate",
        ] {
            for (id, bytes) in source.certificates(table)? {
                let cert = match chain.accept(&bytes) {
                    Ok(c) => c,
                    Err(rejection) => {
                        let why = match rejection {
                            Rejection::Undecodable(e) => format!("cannot be decoded ({e})"),
                            Rejection::UnknownKind(k) => {
                                // A kind this tool does not know is skipped, as Parsec does.
                                if table != "common_certificate" {
                                    org.failures.push(Failure::global(
                                        "certificate",
                                        format!(
                                            "`{table}` _id {id} is of unknown kind {k}: skipped"
                                        ),
                                    ));
                                }
                                continue;
                            }
                            Rejection::UnknownSigner(c, why) => {
                                format!("{} with an unknown signer: {why}", c.kind())
                            }
                            Rejection::BadSignature(c, why) => {
                                format!("{} whose signature does not verify: {why}", c.kind())
                            }
                        };
                        org.failures.push(Failure::global(
                            "certificate",
                            format!("`{table}` _id {id}: {why}; not used"),
                        ));
                        continue;
                    }
                };
                if cert.realm_id().is_some_and(|r| r != realm) {
                    org.failures.push(Failure::global(
                        "certificate",
                        format!("`{table}` _id {id} belongs to another realm; not used"),
                    ));
                    continue;
                }
                org.learn(cert);
            }
        }
        Ok(org)
    }

    fn learn(&mut self, cert: Certificate) {
        match cert {
            Certificate::User(u) => {
                self.users.entry(u.user_id).or_default().human = u.human_handle;
            }
            Certificate::Device(d) => {
                if let Ok(key) = VerifyKey::from_bytes(&d.verify_key) {
                    self.devices.insert(
                        d.device_id,
                        Device {
                            key,
                            user_id: d.user_id,
                            label: d.device_label,
                            created: d.timestamp,
                        },
                    );
                }
            }
            Certificate::RevokedUser(r) => {
                self.users.entry(r.user_id).or_default().revoked = Some(r.timestamp);
            }
            Certificate::RealmRole(r) => self.roles.push(r),
            Certificate::RealmKeyRotation(r) => {
                self.latest_key_index = r.key_index;
                self.rotations.insert(r.key_index, r);
            }
            Certificate::RealmName(n) => self.names.push(n),
            Certificate::SequesterService(s) => self.services.push(Service {
                id: s.service_id,
                label: s.service_label,
                encryption_key_der: s.encryption_key_der,
                created: s.timestamp,
                revoked: None,
            }),
            Certificate::SequesterRevokedService(r) => {
                if let Some(s) = self.services.iter_mut().find(|s| s.id == r.service_id) {
                    s.revoked = Some(r.timestamp);
                }
            }
            _ => {}
        }
    }

    /// The human behind a device: (user, device label, human label, email).
    pub fn who(&self, device: Uuid) -> Who {
        let Some(d) = self.devices.get(&device) else {
            return Who::default();
        };
        let human = self.users.get(&d.user_id).and_then(|u| u.human.clone());
        Who {
            user: Some(d.user_id),
            device_label: d.label.clone(),
            label: human.as_ref().map(|h| h.1.clone()),
            email: human.map(|h| h.0),
        }
    }
}
