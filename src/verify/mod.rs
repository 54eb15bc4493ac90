//! `verify`: checks that an export file (ours or Parsec's) is a complete, intact realm export,
//! optionally compares it with its source, and computes its logical digest. The file is
//! never modified (see `format::untouched`).

mod against_db;
mod certificates;
pub(crate) mod info;
mod keys;
pub mod report;
mod rows;
mod source_blocks;
mod source_certificates;
mod structure;
pub mod text;
mod totals;
mod versions;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use against_db::{BlockSample, SourceRequest};
use info::FileInfo;
pub use report::Report;
use report::{DigestReport, Findings, StepsReport};

use crate::error::{Error, Result};
use crate::format::digest;
use crate::format::schema::BOUNDS_TABLE;
use crate::format::untouched::{self, FileStamp};
use crate::format::Bounds;

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Compute the logical digest (reads every row).
    pub digest: bool,
    /// Require the file's sums to equal the totals of `info` exactly (files made by
    /// parsec-sequester).
    pub exact_totals: bool,
    /// Skip certificate signature checks (for unsigned test data only).
    pub no_signatures: bool,
}

/// A verification in progress: the file's checks are done; the comparison with the source
/// may follow; `finish` makes sure the file did not change meanwhile.
pub struct Session {
    path: PathBuf,
    stamp: FileStamp,
    /// A side file present from the start is reported as such, not as a change.
    side_file_at_start: bool,
    report: Report,
    findings: Findings,
    opened: Option<Opened>,
}

/// What the comparison with the source needs from the file.
struct Opened {
    conn: Connection,
    info: FileInfo,
    stored_bounds: Option<Bounds>,
}

/// Runs every check of the file itself.
pub fn check_file(path: &Path, options: &Options) -> Result<Session> {
    let input_error = |reason: String| Error::VerifyInput {
        path: path.to_owned(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => input_error("no such file".into()),
        _ => input_error(format!("cannot read it: {e}")),
    })?;
    if meta.is_dir() {
        return Err(input_error("is a directory, not an export file".into()));
    }
    let stamp = FileStamp::of(path).map_err(|e| input_error(format!("cannot read it: {e}")))?;
    let mut session = Session {
        path: path.to_owned(),
        stamp,
        side_file_at_start: untouched::pending_side_file(path).is_some(),
        report: Report::new(path.display().to_string(), meta.len()),
        findings: Findings::default(),
        opened: None,
    };
    let f = &mut session.findings;
    let Some((conn, sqlite)) = structure::open(path, f)? else {
        return Ok(session);
    };
    session.report.sqlite = Some(sqlite);
    structure::integrity(&conn, f);
    let Some(usable) = structure::tables(&conn, f) else {
        return Ok(session);
    };
    let Some(info) = guarded(f, "the `info` row", |f| info::check(&conn, f)).flatten() else {
        return Ok(session);
    };
    session.report.info = Some(info.report.clone());
    session.report.complete = info.report.steps.complete();
    let stored_bounds = check_contents(&conn, &usable, &info, options, &mut session.report, f);
    session.opened = Some(Opened {
        conn,
        info,
        stored_bounds,
    });
    Ok(session)
}

/// Everything below the `info` row. Returns our stored bounds, if the file has them.
fn check_contents(
    conn: &Connection,
    usable: &BTreeSet<&'static str>,
    info: &FileInfo,
    options: &Options,
    report: &mut Report,
    f: &mut Findings,
) -> Option<Bounds> {
    let steps = info.report.steps;
    let stored_bounds = check_extra_tables(conn, &steps, f);
    let has = |t: &str| usable.contains(t);
    let lacking = if has("block") && has("block_data") {
        guarded(f, "block data", |_| rows::blocks_lacking_data(conn))
    } else {
        None
    };
    info::check_steps(&steps, lacking, "verify", f);
    guarded(f, "the rows", |f| rows::check_columns(conn, usable, f));
    for (table, check) in [
        ("common_certificate", "certificate_ids"),
        ("sequester_certificate", "certificate_ids"),
        ("realm_certificate", "certificate_ids"),
        ("realm_keys_bundle_access", "access_ids"),
        ("realm_sequester_keys_bundle_access", "access_ids"),
    ] {
        if has(table) {
            guarded(f, table, |f| rows::check_numbering(conn, table, check, f));
        }
    }
    if has("block") && has("block_data") {
        guarded(f, "block data", |f| {
            rows::check_block_data(conn, steps.blocks_data, f)
        });
    }
    let facts = guarded(f, "the certificates", |f| {
        certificates::check(conn, usable, info, !options.no_signatures, f)
    })
    .unwrap_or_default();
    report.devices = facts.devices.as_ref().map(|d| d.len());
    report.signatures_verified = facts.signatures_verified;
    match &facts.devices {
        Some(devices) => {
            guarded(f, "the authors", |f| {
                certificates::check_authors(conn, devices, info, usable, f)
            });
        }
        None => f.note(
            "authors_not_checked",
            "vlob and block authors were not checked: the common certificates could not all be read",
        ),
    }
    guarded(f, "the keys bundles", |f| {
        keys::check(conn, usable, facts.rotations.as_ref(), info, f)
    });
    if has("vlob_atom") {
        guarded(f, "the workspace manifest", |f| {
            totals::check_workspace_manifest(conn, info, f)
        });
        guarded(f, "the vlob versions", |f| versions::check(conn, f));
    }
    if has("vlob_atom") && has("block") {
        report.totals = guarded(f, "the totals", |f| {
            totals::check(conn, info, options.exact_totals, f)
        })
        .flatten();
    }
    report.tables =
        guarded(f, "the table sizes", |_| totals::table_stats(conn, usable)).unwrap_or_default();
    if options.digest {
        if usable.len() == crate::format::schema::TABLES.len() {
            match digest::digest(conn) {
                Ok(sha256) => {
                    report.digest = Some(DigestReport {
                        scheme: digest::SCHEME,
                        sha256,
                    })
                }
                Err(e) => f.problem(
                    "digest",
                    format!("the digest cannot be computed, the file is damaged: {e}"),
                ),
            }
        } else {
            f.note("digest", "no digest: tables of the format are missing");
        }
    }
    stored_bounds
}

/// Tables outside the format: readers ignore them, but our resume table says the file is an
/// unfinished export of ours (and holds the bounds to compare it with its source).
fn check_extra_tables(conn: &Connection, steps: &StepsReport, f: &mut Findings) -> Option<Bounds> {
    let extra = guarded(f, "the list of tables", |_| structure::extra_tables(conn))?;
    let (ours, others): (Vec<String>, Vec<String>) =
        extra.into_iter().partition(|t| t == BOUNDS_TABLE);
    if !others.is_empty() {
        f.note(
            "extra_tables",
            format!(
                "tables that are not part of the format (readers ignore them; the digest does not cover them): {}",
                others.join(", ")
            ),
        );
    }
    if ours.is_empty() {
        return None;
    }
    if steps.complete() {
        f.problem(
            "bounds_table_left",
            format!("the file is marked complete but still holds `{BOUNDS_TABLE}`, which parsec-sequester drops in the same transaction as it sets the last flag: the file was altered"),
        );
        return None;
    }
    f.note(
        "unfinished_export",
        "an unfinished export of parsec-sequester (it holds its resume bounds)",
    );
    guarded(f, BOUNDS_TABLE, |_| crate::format::stored_bounds(conn)).flatten()
}

/// Runs a check; an SQLite error (a damaged file) becomes a problem naming what was read.
fn guarded<T>(
    findings: &mut Findings,
    what: &str,
    check: impl FnOnce(&mut Findings) -> rusqlite::Result<T>,
) -> Option<T> {
    match check(findings) {
        Ok(v) => Some(v),
        Err(e) => {
            findings.problem(
                "sqlite_error",
                format!("reading {what} failed, the file is damaged: {e}"),
            );
            None
        }
    }
}

impl Session {
    /// Whether the comparison with a source is possible (the file is an export).
    pub fn is_export(&self) -> bool {
        self.opened.is_some()
    }

    pub async fn compare_with_source(&mut self, request: &SourceRequest) -> Result<()> {
        let Some(opened) = &self.opened else {
            self.findings.note(
                "against_db_skipped",
                "not compared with the database: the file is not a readable export",
            );
            return Ok(());
        };
        let report = against_db::compare(
            &opened.conn,
            &self.path,
            &opened.info,
            opened.stored_bounds,
            &self.report.tables,
            request,
        )
        .await?;
        self.report.against_db = Some(report);
        Ok(())
    }

    /// Closes the file and checks that nobody changed it during verification.
    pub fn finish(mut self) -> Report {
        drop(self.opened.take());
        let changed = FileStamp::of(&self.path).map_or(true, |s| s != self.stamp)
            || (!self.side_file_at_start && untouched::pending_side_file(&self.path).is_some());
        if changed {
            self.findings.problem(
                "changed_during_verification",
                "the file changed while it was being verified (size, modification time or a side file): a program is writing it. Verify again once it is done",
            );
        }
        self.report.problems = self.findings.problems;
        self.report.notes = self.findings.notes;
        self.report.settle();
        self.report
    }
}
