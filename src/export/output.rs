//! Which file an export writes, and at which snapshot (reference §3.4, plus resume rules).

use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::format::{read_existing, ExistingFile};
use crate::ids::{default_export_file_name, format_timestamp, Micros, CLIENT_LATE_OFFSET_US};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotChoice {
    /// Not given: the existing file's snapshot, else the latest allowed (now − 320 s).
    Auto,
    /// `--snapshot-timestamp latest`: now − 320 s, always a new snapshot.
    Latest,
    At(Micros),
}

/// OUTPUT: a file, or a directory where the default file name is used.
#[derive(Debug, Clone)]
pub struct OutputTarget(pub PathBuf);

pub struct Resolved {
    pub path: PathBuf,
    pub snapshot: Micros,
    pub existing: ExistingFile,
}

pub fn resolve(
    output: &OutputTarget,
    organization_id: &str,
    realm_id: Uuid,
    choice: SnapshotChoice,
    now: Micros,
) -> Result<Resolved> {
    let latest = now - CLIENT_LATE_OFFSET_US;
    let target = &output.0;
    if target.is_dir() {
        let snapshot = match choice {
            SnapshotChoice::At(t) => t,
            SnapshotChoice::Latest => latest,
            SnapshotChoice::Auto => {
                if let Some(found) = previous_export_in(target, organization_id, realm_id)? {
                    return Ok(found);
                }
                latest
            }
        };
        let path = target.join(default_export_file_name(
            organization_id,
            &realm_id,
            snapshot,
        ));
        let existing = read_existing(&path)?;
        return Ok(Resolved {
            path,
            snapshot,
            existing,
        });
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            let what = if parent.exists() {
                "is not a directory"
            } else {
                "does not exist"
            };
            return Err(Error::OutputIo {
                path: target.clone(),
                reason: format!("{} {what}", parent.display()),
            });
        }
    }
    let existing = read_existing(target)?;
    let snapshot = match (&existing, choice) {
        (_, SnapshotChoice::At(t)) => t,
        (ExistingFile::Export { info, .. }, SnapshotChoice::Auto) => info.snapshot_timestamp,
        (ExistingFile::Export { info, .. }, SnapshotChoice::Latest) => {
            return Err(Error::OutputMismatch {
                path: target.clone(),
                reason: format!(
                    "it already holds the snapshot {}; a new snapshot needs a new file",
                    format_timestamp(info.snapshot_timestamp)
                ),
            })
        }
        (ExistingFile::Missing, _) => latest,
    };
    Ok(Resolved {
        path: target.clone(),
        snapshot,
        existing,
    })
}

/// In a directory, re-running the same command (no --snapshot-timestamp) continues the
/// unfinished export of this realm, or reports the newest finished one: the default file
/// name changes with the snapshot, so "same command" must find the file it wrote before.
fn previous_export_in(
    dir: &Path,
    organization_id: &str,
    realm_id: Uuid,
) -> Result<Option<Resolved>> {
    let prefix = format!(
        "parsec-export-{organization_id}-realm-{}-",
        realm_id.simple()
    );
    let entries = std::fs::read_dir(dir).map_err(|e| Error::OutputIo {
        path: dir.to_owned(),
        reason: format!("cannot list the directory: {e}"),
    })?;
    let mut incomplete = Vec::new();
    let mut complete = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(&prefix) && name.ends_with(".sqlite")) {
            continue;
        }
        let path = entry.path();
        // A file with our name that is not an export is reported, never written to.
        let existing = read_existing(&path)?;
        if let ExistingFile::Export { info, .. } = &existing {
            if info.organization_id != organization_id || info.realm_id != realm_id {
                continue;
            }
            let snapshot = info.snapshot_timestamp;
            let item = Resolved {
                path,
                snapshot,
                existing,
            };
            if let ExistingFile::Export { info, .. } = &item.existing {
                if info.steps.complete() {
                    complete.push(item);
                } else {
                    incomplete.push(item);
                }
            }
        }
    }
    match incomplete.len() {
        0 => {}
        1 => return Ok(incomplete.pop()),
        _ => {
            let names: Vec<String> = incomplete
                .iter()
                .map(|r| r.path.display().to_string())
                .collect();
            return Err(Error::Usage(format!(
                "several unfinished exports of this realm are in {}: {}. Give the one to continue as OUTPUT",
                dir.display(),
                names.join(", ")
            )));
        }
    }
    complete.sort_by_key(|r| r.snapshot);
    Ok(complete.pop())
}
