//! The `info` row: format version, identity of the export, totals and step flags. Unlike the
//! export's own reader it does not stop at the first bad field: every one is reported.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use super::report::{Findings, InfoReport, StepsReport};
use crate::format::{MAGIC, VERSION};
use crate::ids::{format_timestamp, validate_organization_id, Micros};

/// What the other checks need from `info`.
#[derive(Debug, Clone)]
pub struct FileInfo {
    pub report: InfoReport,
    pub realm_id: Uuid,
    pub snapshot: Micros,
    /// The organization's Ed25519 root key, which signs the first certificates.
    pub root_verify_key: [u8; 32],
}

const FLAGS: [(&str, &str); 4] = [
    ("certificates_export_done", "1/4 certificates"),
    ("vlobs_export_done", "2/4 vlobs"),
    ("blocks_metadata_export_done", "3/4 blocks metadata"),
    ("blocks_data_export_done", "4/4 blocks data"),
];

/// Reads and checks `info`. `None` when the file cannot be interpreted as an export of a
/// supported version or its identity (organization, realm, snapshot) is unreadable: the
/// other checks then have nothing to stand on.
pub fn check(conn: &Connection, findings: &mut Findings) -> rusqlite::Result<Option<FileInfo>> {
    let rows: i64 = conn.query_row("SELECT COUNT(*) FROM info", [], |r| r.get(0))?;
    let values = conn
        .query_row(
            "SELECT version, organization_id, realm_id, root_verify_key, snapshot_timestamp, \
             vlobs_total_bytes, blocks_total_bytes, certificates_export_done, vlobs_export_done, \
             blocks_metadata_export_done, blocks_data_export_done FROM info WHERE magic = ?1",
            [MAGIC],
            |r| {
                (0..11)
                    .map(|i| r.get::<_, Value>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()
            },
        )
        .optional()?;
    let Some(v) = values else {
        findings.problem(
            "not_export",
            format!("not a realm export: the `info` table has no row with magic {MAGIC}"),
        );
        return Ok(None);
    };
    if rows != 1 {
        findings.problem(
            "info",
            format!("the `info` table has {rows} rows; an export has exactly one"),
        );
    }
    match &v[0] {
        Value::Integer(VERSION) => {}
        Value::Integer(other) => {
            findings.problem(
                "unsupported_version",
                format!("unsupported export format version {other}: this tool reads version {VERSION} (Parsec v3)"),
            );
            return Ok(None);
        }
        _ => {
            findings.problem("info", "`info.version` is not an integer");
            return Ok(None);
        }
    }
    let mut bad = |what: String| findings.problem("info", what);
    let organization_id = match &v[1] {
        Value::Text(t) if validate_organization_id(t).is_ok() => Some(t.clone()),
        Value::Text(t) => {
            bad(format!(
                "`info.organization_id` `{t}` is not a valid organization ID"
            ));
            None
        }
        _ => {
            bad("`info.organization_id` is not text".into());
            None
        }
    };
    let realm_id = match &v[2] {
        Value::Blob(b) if b.len() == 16 => Uuid::from_slice(b).ok(),
        _ => {
            bad("`info.realm_id` is not a 16-byte blob".into());
            None
        }
    };
    let root_verify_key = match &v[3] {
        Value::Blob(b) => <[u8; 32]>::try_from(b.as_slice()).ok(),
        _ => None,
    };
    let root_verify_key = match root_verify_key {
        Some(key) => Some(key),
        _ => {
            bad("`info.root_verify_key` is not a 32-byte blob (an Ed25519 public key)".into());
            None
        }
    };
    let snapshot = match &v[4] {
        Value::Integer(t) if chrono::DateTime::from_timestamp_micros(*t).is_some() => Some(*t),
        _ => {
            bad("`info.snapshot_timestamp` is not a valid timestamp in microseconds".into());
            None
        }
    };
    let mut total = |i: usize, name: &str| match &v[i] {
        Value::Integer(n) if *n >= 0 => Some(*n),
        _ => {
            bad(format!("`info.{name}` is not a non-negative integer"));
            None
        }
    };
    let vlobs_total_bytes = total(5, "vlobs_total_bytes");
    let blocks_total_bytes = total(6, "blocks_total_bytes");
    let mut flags = [false; 4];
    for (i, (column, _)) in FLAGS.iter().enumerate() {
        flags[i] = match &v[7 + i] {
            Value::Integer(1) => true,
            Value::Integer(0) => false,
            _ => {
                bad(format!(
                    "step flag `{column}` is neither 0 nor 1: the file is corrupted"
                ));
                false
            }
        };
    }
    let (Some(organization_id), Some(realm_id), Some(root_verify_key), Some(snapshot)) =
        (organization_id, realm_id, root_verify_key, snapshot)
    else {
        return Ok(None);
    };
    let steps = StepsReport {
        certificates: flags[0],
        vlobs: flags[1],
        blocks_metadata: flags[2],
        blocks_data: flags[3],
    };
    Ok(Some(FileInfo {
        report: InfoReport {
            version: VERSION,
            organization_id,
            realm_id: realm_id.simple().to_string(),
            snapshot_timestamp: format_timestamp(snapshot),
            snapshot_timestamp_us: snapshot,
            root_verify_key: base16ct::lower::encode_string(&root_verify_key),
            vlobs_total_bytes,
            blocks_total_bytes,
            steps,
        },
        realm_id,
        snapshot,
        root_verify_key,
    }))
}

/// One problem per step not done. `blocks_lacking_data` completes the last one's message;
/// `then` is the command to run again once the export is finished (`verify`, `extract`).
pub fn check_steps(
    steps: &StepsReport,
    blocks_lacking_data: Option<i64>,
    then: &str,
    findings: &mut Findings,
) {
    let done = [
        steps.certificates,
        steps.vlobs,
        steps.blocks_metadata,
        steps.blocks_data,
    ];
    for ((column, step), done) in FLAGS.iter().zip(done) {
        if done {
            continue;
        }
        let detail = match (column, blocks_lacking_data) {
            (&"blocks_data_export_done", Some(n)) if n > 0 => {
                format!(" ({n} block(s) still lack their data)")
            }
            _ => String::new(),
        };
        findings.problem(
            "step_not_done",
            format!(
                "step {step} is not done (`{column}` is 0){detail}: the export is incomplete. Resume it with the same `export-realm` command (or Parsec's `export_realm`), then {then} again"
            ),
        );
    }
}
