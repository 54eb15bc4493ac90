//! The tree at T, extracted: the walk's entries sorted into the report's order on disk
//! (`spool::Sorter`), then read back in that order: folders created, each file's manifest
//! read again and its content written (or only hashed), skipping files already written and
//! checked when continuing an interrupted run; then the folders' times. Nothing here grows
//! with the tree. Also what `history` shares: authors, entries, jobs, results.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use uuid::Uuid;

use super::content::{self, FileJob, Target};
use super::failure::Failure;
use super::org::Org;
use super::output;
use super::report::{Author, Collector, Entry, Escaped, Listed};
use super::source::VlobRow;
use super::spool::Sorter;
use super::tree::{self, Decoder, Described, Node, PathKey, Shape};
use super::{out_io, Run};
use crate::error::{Error, Result};
use crate::ids::Micros;
use crate::parsec::manifests::FileManifest;
use crate::progress::Unit;

/// Each device's `Author`, built once: a history has an entry per version, and five strings
/// per entry were a fifth of its memory.
pub struct Authors<'a> {
    org: &'a Org,
    cache: HashMap<Uuid, Arc<Author>>,
}

impl<'a> Authors<'a> {
    pub fn new(org: &'a Org) -> Self {
        Authors {
            org,
            cache: HashMap::new(),
        }
    }

    pub fn get(&mut self, device: Uuid) -> Arc<Author> {
        let org = self.org;
        self.cache
            .entry(device)
            .or_insert_with(|| {
                let who = org.who(device);
                Arc::new(Author {
                    device: device.simple().to_string(),
                    device_label: who.device_label,
                    user: who.user.map(|u| u.simple().to_string()),
                    label: who.label,
                    email: who.email,
                })
            })
            .clone()
    }
}

/// The report's entry of one version; its failures labelled with its paths.
pub fn entry(authors: &mut Authors, row: &VlobRow, d: Described) -> Entry {
    let path = d.paths.join("|");
    let failures = d
        .failures
        .into_iter()
        .map(|f| if path.is_empty() { f } else { f.at(&path) })
        .collect();
    Entry {
        paths: d.paths,
        written: None,
        vlob_id: row.vlob_id,
        version: row.version,
        timestamp: row.timestamp,
        author: authors.get(row.author),
        kind: d.shape.name(),
        size: d.size,
        sha256: None,
        resumed: false,
        failures,
    }
}

/// The job of a file version, unless a previous run of this command wrote and checked it
/// (then the entry says so, and `skipped` gets its size).
pub fn job(
    manifest: FileManifest,
    entry: &mut Entry,
    target: Option<Target>,
    resumed_run: bool,
    skipped: &Cell<u64>,
) -> Option<FileJob> {
    if let (Some(t), true) = (&target, resumed_run) {
        let good = t.good();
        if let Some(sha) = content::check_existing(&good, &manifest) {
            entry.sha256 = Some(sha);
            entry.resumed = true;
            entry.written = Some(format!("{}/{}", t.base, t.rel));
            skipped.set(skipped.get().saturating_add(manifest.size));
            return None;
        }
        let _ = std::fs::remove_file(&good);
        let _ = std::fs::remove_file(t.damaged());
    }
    Some(FileJob {
        manifest: Arc::new(manifest),
        vlob: entry.vlob_id,
        version: entry.version,
        target,
    })
}

/// A file version's manifest, read again for its blocks (`Decoder::file_again`); when it
/// cannot be, the failure goes with the entry. `None` for folders and errors.
pub fn manifest_again(dec: &Decoder, row: &VlobRow, d: &mut Described) -> Option<FileManifest> {
    if d.shape != Shape::File {
        return None;
    }
    dec.file_again(row, d.blob_sha256.as_deref())
        .map_err(|f| d.failures.push(f))
        .ok()
}

/// An error of a scratch table (in OUTPUT_DIR's state folder, or `$TMPDIR`).
pub fn scratch_error(scratch: Option<&Path>, what: &str, e: rusqlite::Error) -> Error {
    Error::ExtractOutput {
        path: scratch.map_or_else(std::env::temp_dir, Path::to_owned),
        reason: format!(
            "cannot write {what} temporary table: {e}{}",
            super::full_disk_hint(e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull))
        ),
    }
}

/// The tree at `t`: its entries (and their failures to `failures`), and the names escaped.
pub fn extract(
    run: &mut Run,
    t: Micros,
    failures: &mut Collector<Failure>,
) -> Result<(Listed<Entry>, Listed<Escaped>)> {
    let scratch = run.scratch;
    let spool_err = |e| scratch_error(scratch, "the tree's", e);
    let mut sorter = Sorter::<PathKey, Node>::create(scratch, "tree.sqlite").map_err(spool_err)?;
    let mut total = 0u64;
    tree::walk(run.dec, run.versions, t, &mut |names, node| {
        if node.described.shape == Shape::File {
            total = total.saturating_add(node.described.size.unwrap_or(0));
        }
        sorter.put(PathKey(names.to_owned()), &node);
    })
    .map_err(|e| scratch_error(scratch, super::ROWS, e))?;
    sorter.finish().map_err(spool_err)?;

    let root = run.root;
    let io = |e: std::io::Error| out_io(root, e);
    let mut entries = Collector::spool(scratch).map_err(io)?;
    let mut names_escaped = Collector::spool(scratch).map_err(io)?;
    let step = run
        .progress
        .task("extract: content".into(), total, Unit::Bytes);
    let (dec, output) = (run.dec, run.output);
    let out_root = output.map(|o| Arc::<Path>::from(o.root.as_path()));
    let resumed_run = output.is_some_and(|o| o.resumed);
    let mut authors = Authors::new(dec.org);
    let mut index = 0usize;
    let skipped = Cell::new(0u64);
    let items = sorter.read().map(|item| {
        let (_, node) = item.map_err(spool_err)?;
        let Node {
            disk,
            escaped,
            row,
            mut described,
        } = node;
        let manifest = manifest_again(dec, &row, &mut described);
        let (shape, mtime) = (described.shape, described.updated);
        let mut entry = entry(&mut authors, &row, described);
        if let (Shape::Folder, Some(out)) = (shape, output) {
            let dir = out.root.join("files").join(&disk);
            output::create_dirs(&out.root, &dir).map_err(|e| out_io(&dir, e))?;
            entry.written = Some(format!("files/{disk}").trim_end_matches('/').to_owned());
            return Ok((None, (entry, escaped)));
        }
        let Some(manifest) = manifest else {
            return Ok((None, (entry, escaped)));
        };
        let target = out_root.as_ref().map(|r| Target {
            root: r.clone(),
            base: "files",
            rel: disk,
            index,
            mtime,
        });
        index += 1;
        let job = job(manifest, &mut entry, target, resumed_run, &skipped);
        Ok((job, (entry, escaped)))
    });
    let tick = &mut *run.tick;
    let out_path = output.map(|o| o.root.as_path());
    content::run(
        run.pool,
        items,
        io,
        |done| {
            step.set(done.saturating_add(skipped.get()));
            tick();
        },
        |(mut entry, escaped), result| {
            if let Some(r) = result {
                finished(&mut entry, r, out_path);
            }
            if let (true, Some(w)) = (escaped, &entry.written) {
                names_escaped
                    .push(Escaped {
                        path: entry.paths.join("|"),
                        written: w.clone(),
                    })
                    .map_err(io)?;
            }
            for f in &entry.failures {
                failures.push(f.clone()).map_err(io)?;
            }
            entries.push(entry).map_err(io)
        },
    )?;
    step.finish(total);
    // After the content: writing a file in a folder changes the folder's time.
    if let Some(out) = output {
        for item in sorter.read() {
            let (_, node) = item.map_err(spool_err)?;
            if let (Shape::Folder, Some(t)) = (node.described.shape, node.described.updated) {
                let dir = out.root.join("files").join(&node.disk);
                output::set_dir_time(&dir, t).map_err(|e| out_io(&dir, e))?;
            }
        }
    }
    Ok((
        entries.finish().map_err(io)?,
        names_escaped.finish().map_err(io)?,
    ))
}

/// The content phase's result into the entry.
pub fn finished(entry: &mut Entry, r: content::FileResult, root: Option<&Path>) {
    entry.sha256 = r.sha256;
    if let (Some(w), Some(root)) = (&r.written, root) {
        entry.written = w.strip_prefix(root).ok().map(|r| r.display().to_string());
    }
    entry.failures.extend(r.failures);
}
