//! Certificates, decoded by `crate::parsec` (reference §10): each table holds its own kinds,
//! in timestamp order, none after the snapshot, realm certificates of the file's realm, each
//! signed by a signer the chain knows (`crate::parsec::chain`); and every vlob and block author is a
//! device the common certificates certify.

use std::collections::{BTreeSet, HashSet};

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use uuid::Uuid;

use super::info::FileInfo;
use super::report::{examples, Findings, Tally};
use super::rows::EXAMPLES;
use crate::ids::format_timestamp;
use crate::parsec::certificates::Certificate;
use crate::parsec::chain::{Chain, Rejection};

const COMMON: &[&str] = &[
    "user_certificate",
    "device_certificate",
    "revoked_user_certificate",
    "user_update_certificate",
];
const SEQUESTER: &[&str] = &[
    "sequester_authority_certificate",
    "sequester_service_certificate",
    "sequester_revoked_service_certificate",
];
const REALM: &[&str] = &[
    "realm_role_certificate",
    "realm_key_rotation_certificate",
    "realm_name_certificate",
    "realm_archiving_certificate",
];

/// What later checks need from the certificates.
#[derive(Debug, Default)]
pub struct CertificateFacts {
    /// Device IDs certified by the common certificates; `None` when some common certificate
    /// could not be decoded (the set would be incomplete).
    pub devices: Option<HashSet<Uuid>>,
    /// Key indexes of the realm's key rotations; `None` when some realm certificate could
    /// not be decoded.
    pub rotations: Option<BTreeSet<u64>>,
    /// Certificates whose signature verified; `None` when signatures were not checked.
    pub signatures_verified: Option<usize>,
}

/// Problems found in one certificate table, one tally per kind.
#[derive(Default)]
struct TableTallies {
    undecodable: Tally,
    wrong_table: Tally,
    unknown: Tally,
    unknown_signer: Tally,
    bad_signature: Tally,
    out_of_order: Tally,
    after_snapshot: Tally,
    other_realm: Tally,
}

pub fn check(
    conn: &Connection,
    usable: &BTreeSet<&'static str>,
    info: &FileInfo,
    signatures: bool,
    findings: &mut Findings,
) -> rusqlite::Result<CertificateFacts> {
    let mut facts = CertificateFacts::default();
    let mut chain = match Chain::new(&info.root_verify_key, signatures) {
        Ok(chain) => chain,
        Err(e) => {
            findings.problem(
                "certificate_signature",
                format!("`info.root_verify_key` is not a valid Ed25519 key ({e}): no certificate can be verified"),
            );
            // The chain still decodes; every signature is then reported unchecked.
            Chain::new(&info.root_verify_key, false).unwrap_or_else(|_| unreachable!())
        }
    };
    if chain.checks() {
        facts.signatures_verified = Some(0);
    }
    if !chain.checks() {
        findings.note(
            "signatures_not_checked",
            "certificate signatures were not checked (--no-signatures): use it only for unsigned test data",
        );
    }
    for (table, own) in [
        ("common_certificate", COMMON),
        ("sequester_certificate", SEQUESTER),
        ("realm_certificate", REALM),
    ] {
        if !usable.contains(table) {
            continue;
        }
        let mut t = TableTallies::default();
        let mut devices = HashSet::new();
        let mut rotations = BTreeSet::new();
        let mut last: Option<(i64, i64)> = None;
        let mut stmt = conn.prepare(&format!(
            "SELECT _id, certificate FROM {table} ORDER BY _id"
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let accepted = match row.get_ref(1)? {
                ValueRef::Blob(b) => chain.accept(b),
                _ => Err(Rejection::Undecodable(crate::parsec::DataError::Invalid {
                    what: "certificate",
                    why: "it is not a blob".into(),
                })),
            };
            let cert = match accepted {
                Ok(c) => {
                    if let Some(n) = facts.signatures_verified.as_mut() {
                        *n += 1;
                    }
                    c
                }
                Err(Rejection::Undecodable(why)) => {
                    t.undecodable.add(|| format!("_id {id} ({why})"));
                    continue;
                }
                Err(Rejection::UnknownKind(kind)) => {
                    t.unknown.add(|| format!("_id {id} is a {kind}"));
                    continue;
                }
                Err(Rejection::UnknownSigner(c, why)) => {
                    t.unknown_signer
                        .add(|| format!("_id {id} ({}: {why})", c.kind()));
                    *c
                }
                Err(Rejection::BadSignature(c, why)) => {
                    t.bad_signature
                        .add(|| format!("_id {id} ({}: {why})", c.kind()));
                    *c
                }
            };
            let kind = cert.kind().to_owned();
            if !own.contains(&kind.as_str()) {
                let known = [COMMON, SEQUESTER, REALM]
                    .iter()
                    .any(|k| k.contains(&kind.as_str()));
                let tally = if known {
                    &mut t.wrong_table
                } else {
                    &mut t.unknown
                };
                tally.add(|| format!("_id {id} is a {kind}"));
            }
            if table == "sequester_certificate" && id == 0 && kind != SEQUESTER[0] {
                t.wrong_table.add(|| {
                    format!("_id 0 is a {kind}, not the sequester authority's certificate")
                });
            }
            let ts = cert.timestamp();
            if let Some((prev_id, prev_ts)) = last.filter(|(_, p)| ts < *p) {
                t.out_of_order.add(|| {
                    format!(
                        "_id {id} ({}) comes after _id {prev_id} ({})",
                        format_timestamp(ts),
                        format_timestamp(prev_ts)
                    )
                });
            }
            if ts > info.snapshot {
                t.after_snapshot
                    .add(|| format!("_id {id} ({})", format_timestamp(ts)));
            }
            last = Some((id, ts));
            if let Some(realm) = cert.realm_id().filter(|r| *r != info.realm_id) {
                t.other_realm
                    .add(|| format!("_id {id} is for realm {}", realm.simple()));
            }
            match &cert {
                Certificate::Device(d) => {
                    devices.insert(d.device_id);
                }
                Certificate::RealmKeyRotation(r) => {
                    rotations.insert(r.key_index);
                }
                _ => {}
            }
        }
        let decodable = t.undecodable.count == 0;
        report(table, &t, findings);
        match table {
            "common_certificate" if decodable => facts.devices = Some(devices),
            "realm_certificate" if decodable => facts.rotations = Some(rotations),
            _ => {}
        }
    }
    Ok(facts)
}

fn report(table: &str, t: &TableTallies, findings: &mut Findings) {
    let problems = [
        (
            &t.undecodable,
            "certificate_undecodable",
            "cannot be decoded as Parsec certificates",
        ),
        (
            &t.wrong_table,
            "certificate_kind",
            "are of a kind that belongs in another table",
        ),
        (
            &t.bad_signature,
            "certificate_signature",
            "have a signature that does not verify (altered, or signed by another key)",
        ),
        (
            &t.unknown_signer,
            "certificate_signer",
            "are signed by a signer not certified before them in the chain",
        ),
        (
            &t.out_of_order,
            "certificate_order",
            "are not in timestamp order (readers verify them in `_id` order)",
        ),
        (
            &t.after_snapshot,
            "certificate_after_snapshot",
            "are timestamped after the snapshot",
        ),
        (
            &t.other_realm,
            "certificate_realm",
            "belong to another realm than the file's",
        ),
    ];
    for (tally, check, what) in problems {
        if let Some(text) = tally.describe(&format!(
            "{} certificate(s) of `{table}` {what}",
            tally.count
        )) {
            findings.problem(check, text);
        }
    }
    if let Some(text) = t.unknown.describe(&format!(
        "{} certificate(s) of `{table}` are of a kind this tool does not know (a newer Parsec?)",
        t.unknown.count
    )) {
        findings.note("certificate_kind_unknown", text);
    }
}

/// Every vlob and block author must be a device of the common certificates, or readers
/// cannot check who wrote what. Vlob versions after the snapshot (Parsec's exporter writes
/// some) can come from devices enrolled after it: noted, not failed.
pub fn check_authors(
    conn: &Connection,
    devices: &HashSet<Uuid>,
    info: &FileInfo,
    usable: &BTreeSet<&'static str>,
    findings: &mut Findings,
) -> rusqlite::Result<()> {
    let sources = [
        ("vlob_atom", "vlob version(s)", "timestamp <= ?1", true),
        (
            "vlob_atom",
            "vlob version(s) after the snapshot",
            "timestamp > ?1",
            false,
        ),
        // Block rows carry no timestamp and exports keep blocks stored after T (those the
        // versions below the marker may reference): their authors may be devices enrolled
        // after T, whose certificates are not exported.
        ("block", "block(s)", "?1 IS NOT NULL", false),
    ];
    for (table, what, condition, is_problem) in sources {
        if !usable.contains(table) {
            continue;
        }
        let mut stmt = conn.prepare(&format!(
            "SELECT author, COUNT(*), MIN(sequential_id) FROM {table} \
             WHERE {condition} AND typeof(author) = 'blob' AND length(author) = 16 \
             GROUP BY author ORDER BY MIN(sequential_id)"
        ))?;
        let mut rows = stmt.query([info.snapshot])?;
        let mut foreign = Vec::new();
        let mut count = 0i64;
        while let Some(row) = rows.next()? {
            let author: Vec<u8> = row.get(0)?;
            let Ok(author) = Uuid::from_slice(&author) else {
                continue;
            };
            if devices.contains(&author) {
                continue;
            }
            count += 1;
            if (foreign.len() as i64) < EXAMPLES {
                let n: i64 = row.get(1)?;
                let first: i64 = row.get(2)?;
                foreign.push(format!(
                    "{} ({n} {what}, first sequential_id {first})",
                    author.simple()
                ));
            }
        }
        if count == 0 {
            continue;
        }
        let text = format!(
            "{count} author(s) of `{table}` are not devices of the common certificates: {}",
            examples(&foreign, count)
        );
        if is_problem {
            findings.problem("foreign_author", text);
        } else {
            findings.note(
                "foreign_author_after_snapshot",
                format!(
                    "{text} (they can be devices enrolled after the snapshot, whose certificates an export does not hold; readers stop at the snapshot)"
                ),
            );
        }
    }
    Ok(())
}
