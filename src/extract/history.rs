//! `--history`: every version of every vlob (reference §6.6), each with the path(s) it had
//! while in force (`history_paths`). Files go to `history/<vlob id>/v<version>-<name>`.
//!
//! A history has an entry per version, so none waits in memory: the versions, described in
//! time order, are sorted into the report's order (vlob, then time) on disk
//! (`spool::Sorter`); they are then read back in that order, each file version decoded again
//! for its blocks and written, and each finished entry appended to the report's spool.

use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;

use super::content::{self, FileJob, Target};
use super::failure::Failure;
use super::history_paths::{self, Described, Shape};
use super::names;
use super::plan::{self, Authors};
use super::report::{Collector, Entry, Listed};
use super::spool::{Key, Sorter};
use super::Run;
use crate::error::{Error, Result};

/// The whole history: entries (in the report's order) and their failures to `failures`.
pub fn extract(run: &mut Run, failures: &mut Collector<Failure>) -> Result<Listed<Entry>> {
    let scratch = run.scratch;
    let spool_err = |e: rusqlite::Error| Error::ExtractOutput {
        path: scratch.map_or_else(std::env::temp_dir, Path::to_owned),
        reason: format!(
            "cannot write the history's temporary table: {e}{}",
            super::full_disk_hint(e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull))
        ),
    };
    let mut sorter = Sorter::<Described>::create(scratch).map_err(spool_err)?;
    let mut total = 0u64;
    let snapshot = run.dec.source.info.snapshot;
    history_paths::paths(run.dec, run.versions, snapshot, &mut |row, d| {
        if d.shape == Shape::File {
            total = total.saturating_add(d.size.unwrap_or(0));
        }
        sorter.put(key(row), &d);
    });
    sorter.finish().map_err(spool_err)?;

    let io = |e: std::io::Error| super::out_io(run.root, e);
    let mut entries = Collector::spool(scratch).map_err(io)?;
    let step = run.progress.task(
        "extract: content".into(),
        total,
        crate::progress::Unit::Bytes,
    );
    let mut authors = Authors::new(run.dec.org);
    let mut index = 0usize;
    let skipped = Cell::new(0u64);
    let (dec, versions, output) = (run.dec, run.versions, run.output);
    let root = output.map(|o| Arc::<Path>::from(o.root.as_path()));
    let items = sorter.read().map(|item| {
        let (key, mut described) = item.map_err(spool_err)?;
        // A vlob's rows are sorted by (timestamp, version): found by bisection, not a scan
        // per version (a file of many versions would cost their square).
        let row = versions
            .by_vlob
            .get(&key.vlob)
            .and_then(|rows| {
                let at = (key.timestamp, key.version);
                let from = rows.partition_point(|r| (r.timestamp, r.version) < at);
                rows[from..]
                    .iter()
                    .take_while(|r| (r.timestamp, r.version) == at)
                    .find(|r| r.sequential_id == key.sequential_id)
            })
            .ok_or_else(|| Error::Internal("a history version lost its row".into()))?;
        let manifest = if described.shape == Shape::File {
            let again = described
                .blob_sha256
                .as_deref()
                .and_then(|h| {
                    let mut sha = [0u8; 32];
                    base16ct::lower::decode(h, &mut sha).ok()?;
                    dec.file_again(row, &sha)
                });
            if again.is_none() {
                described.failures.push(Failure::vlob(
                    "manifest_invalid",
                    key.vlob,
                    key.version,
                    "could not be read again identically for its content (the export file changed or could not be read during the run)",
                ));
            }
            again
        } else {
            None
        };
        let (mut entry, disk, mtime) = entry(&mut authors, key, row.author, described);
        let Some(manifest) = manifest.map(Arc::new) else {
            return Ok((None, entry));
        };
        let target = root.as_ref().map(|root| Target {
            root: root.clone(),
            base: "history",
            rel: disk,
            index,
            mtime,
        });
        index += 1;
        if let (Some(t), true) = (&target, output.is_some_and(|o| o.resumed)) {
            let good = t.good();
            if let Some(sha) = content::check_existing(&good, &manifest) {
                entry.sha256 = Some(sha);
                entry.resumed = true;
                entry.written = Some(format!("{}/{}", t.base, t.rel));
                skipped.set(skipped.get().saturating_add(manifest.size));
                return Ok((None, entry));
            }
            let _ = std::fs::remove_file(&good);
            let _ = std::fs::remove_file(t.damaged());
        }
        let job = FileJob {
            manifest,
            vlob: key.vlob,
            version: key.version,
            target,
        };
        Ok((Some(job), entry))
    });
    let tick = &mut *run.tick;
    content::run(
        run.pool,
        items,
        io,
        |done| {
            step.set(done.saturating_add(skipped.get()));
            tick();
        },
        |mut entry, result| {
            if let Some(r) = result {
                plan::finished(&mut entry, r, output.map(|o| o.root.as_path()));
            }
            for f in &entry.failures {
                failures.push(f.clone()).map_err(io)?;
            }
            entries.push(entry).map_err(io)
        },
    )?;
    step.finish(total);
    entries.finish().map_err(io)
}

fn key(row: &super::source::VlobRow) -> Key {
    Key {
        vlob: row.vlob_id,
        timestamp: row.timestamp,
        version: row.version,
        sequential_id: row.sequential_id,
    }
}

/// The entry of one version, its file's path below `history/`, and its mtime.
fn entry(
    authors: &mut Authors,
    key: Key,
    author: uuid::Uuid,
    d: Described,
) -> (Entry, String, Option<crate::ids::Micros>) {
    let last_name = d
        .paths
        .first()
        .and_then(|p| p.rsplit('/').next())
        .filter(|n| !n.is_empty())
        .map(names::escape);
    let disk = match &last_name {
        Some(n) => format!("{}/v{}-{n}", key.vlob.simple(), key.version),
        None => format!("{}/v{}", key.vlob.simple(), key.version),
    };
    let path = d.paths.join("|");
    let failures = d
        .failures
        .into_iter()
        .map(|f| if path.is_empty() { f } else { f.at(&path) })
        .collect();
    let entry = Entry {
        paths: d.paths,
        written: None,
        vlob_id: key.vlob,
        version: key.version,
        timestamp: key.timestamp,
        author: authors.get(author),
        kind: d.shape.name(),
        size: d.size,
        sha256: None,
        resumed: false,
        failures,
    };
    (entry, disk, d.updated)
}
