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

use super::content::{self, Target};
use super::failure::Failure;
use super::history_paths;
use super::names;
use super::plan::{self, Authors};
use super::report::{Collector, Entry, Listed};
use super::spool::{Key, Sorter};
use super::tree::{Described, Shape};
use super::Run;
use crate::error::{Error, Result};

/// The whole history: entries (in the report's order) and their failures to `failures`.
pub fn extract(run: &mut Run, failures: &mut Collector<Failure>) -> Result<Listed<Entry>> {
    let scratch = run.scratch;
    let spool_err = |e| plan::scratch_error(scratch, "the history's", e);
    let mut sorter =
        Sorter::<Key, Described>::create(scratch, "history.sqlite").map_err(spool_err)?;
    let mut total = 0u64;
    let snapshot = run.dec.source.info.snapshot;
    history_paths::paths(run.dec, run.versions, snapshot, scratch, &mut |row, d| {
        if d.shape == Shape::File {
            total = total.saturating_add(d.size.unwrap_or(0));
        }
        sorter.put(key(row), &d);
    })
    .map_err(|e| plan::scratch_error(scratch, "the history's paths", e))?;
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
    let resumed_run = output.is_some_and(|o| o.resumed);
    let items = sorter.read().map(|item| {
        let (key, mut described) = item.map_err(spool_err)?;
        let row = versions
            .row(key.sequential_id)
            .map_err(|e| plan::scratch_error(scratch, super::ROWS, e))?
            .ok_or_else(|| Error::Internal("a history version lost its row".into()))?;
        let manifest = plan::manifest_again(dec, &row, &mut described);
        let disk = disk_path(&key, &described);
        let mtime = described.updated;
        let mut entry = plan::entry(&mut authors, &row, described);
        let Some(manifest) = manifest else {
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
        let job = plan::job(manifest, &mut entry, target, resumed_run, &skipped);
        Ok((job, entry))
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

/// A version's file below `history/`: `<vlob>/v<version>-<its name at its first path>`.
fn disk_path(key: &Key, d: &Described) -> String {
    let last_name = d
        .paths
        .first()
        .and_then(|p| p.rsplit('/').next())
        .filter(|n| !n.is_empty())
        .map(names::escape);
    match &last_name {
        Some(n) => format!("{}/v{}-{n}", key.vlob.simple(), key.version),
        None => format!("{}/v{}", key.vlob.simple(), key.version),
    }
}
