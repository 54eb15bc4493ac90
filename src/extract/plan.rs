//! The tree at T, extracted: every entry to report, the files to write (or only hash)
//! compared with what OUTPUT_DIR already holds when continuing an interrupted run, the
//! content, then the folders' times. Also what `history` shares: authors, results.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use uuid::Uuid;

use super::content::{self, FileJob, Target};
use super::failure::Failure;
use super::org::Org;
use super::out_io;
use super::output::{self, Output};
use super::report::{Author, Collector, Entry, Escaped, Listed};
use super::source;
use super::tree::{self, Decoder, Kind, Versions};
use super::Run;
use crate::error::Result;
use crate::ids::Micros;
use crate::progress::Unit;

pub enum PlanKind {
    Folder,
    File(Arc<crate::parsec::manifests::FileManifest>),
    Other,
}

/// One entry to report (and maybe write).
pub struct Planned {
    pub entry: Entry,
    pub kind: PlanKind,
    /// Relative path on disk, below `files/` or `history/`.
    pub disk: String,
    pub escaped: bool,
    pub mtime: Option<Micros>,
    pub row_vlob: Uuid,
}

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

fn entry(
    authors: &mut Authors,
    paths: Vec<String>,
    row: &source::VlobRow,
    kind: &Kind,
    failures: Vec<Failure>,
) -> Entry {
    Entry {
        paths,
        written: None,
        vlob_id: row.vlob_id,
        version: row.version,
        timestamp: row.timestamp,
        author: authors.get(row.author),
        kind: kind.name(),
        size: match kind {
            Kind::Folder { children } => Some(*children as u64),
            Kind::File(f) => Some(f.size),
            Kind::Error => None,
        },
        sha256: None,
        resumed: false,
        failures,
    }
}

pub fn plan_tree(dec: &Decoder, versions: &Versions, t: Micros) -> Vec<Planned> {
    let nodes = tree::resolve(dec, versions, t);
    // The nodes hold what they need of the decoded versions (a second copy of every file
    // manifest and folder listing, until now).
    dec.forget();
    let Some(nodes) = nodes else {
        return Vec::new();
    };
    let mut authors = Authors::new(dec.org);
    nodes
        .into_iter()
        .map(|n| {
            let kind = match &n.kind {
                Kind::Folder { .. } => PlanKind::Folder,
                Kind::File(f) => PlanKind::File(f.clone()),
                Kind::Error => PlanKind::Other,
            };
            let escaped = n.names != n.disk;
            Planned {
                entry: entry(&mut authors, vec![n.path()], &n.row, &n.kind, n.failures),
                kind,
                disk: n.disk,
                escaped,
                mtime: n.updated,
                row_vlob: n.row.vlob_id,
            }
        })
        .collect()
}

/// The tree at `t`: its entries, their failures to `failures`, and the names escaped.
pub fn extract(
    run: &mut Run,
    t: Micros,
    failures: &mut Collector<Failure>,
) -> Result<(Listed<Entry>, Vec<Escaped>)> {
    let mut planned = plan_tree(run.dec, run.versions, t);
    let (jobs, job_entries, dirs) = jobs(&mut planned, run.output)?;
    let total = jobs
        .iter()
        .fold(0u64, |t, j| t.saturating_add(j.manifest.size));
    let step = run
        .progress
        .task("extract: content".into(), total, Unit::Bytes);
    let root = run.root;
    let out_root = run.output.map(|o| o.root.as_path());
    let tick = &mut *run.tick;
    content::run(
        run.pool,
        jobs.into_iter()
            .zip(job_entries)
            .map(|(j, i)| Ok((Some(j), i))),
        |e| out_io(root, e),
        |done| {
            step.set(done);
            tick();
        },
        |i, r| {
            if let Some(r) = r {
                finished(&mut planned[i].entry, r, out_root);
            }
            Ok(())
        },
    )?;
    step.finish(total);
    if run.output.is_some() {
        output::set_dir_times(dirs).map_err(|e| out_io(root, e))?;
    }
    let mut names_escaped = Vec::new();
    let mut entries = Vec::with_capacity(planned.len());
    for p in planned {
        if p.escaped {
            if let Some(w) = &p.entry.written {
                names_escaped.push(Escaped {
                    path: p.entry.paths.join("|"),
                    written: w.clone(),
                });
            }
        }
        for f in &p.entry.failures {
            failures.push(f.clone()).map_err(|e| out_io(root, e))?;
        }
        entries.push(p.entry);
    }
    Ok((Listed::Memory(entries), names_escaped))
}

/// The content phase's result into the entry.
pub fn finished(entry: &mut Entry, r: content::FileResult, root: Option<&Path>) {
    entry.sha256 = r.sha256;
    if let (Some(w), Some(root)) = (&r.written, root) {
        entry.written = w.strip_prefix(root).ok().map(|r| r.display().to_string());
    }
    entry.failures.extend(r.failures);
}

/// Folders to create, files to write or hash, skipping files already written and checked.
/// Returns the jobs, the index in `planned` of each, and folders with their mtimes.
#[allow(clippy::type_complexity)]
fn jobs(
    planned: &mut [Planned],
    output: Option<&Output>,
) -> Result<(Vec<FileJob>, Vec<usize>, Vec<(PathBuf, Micros)>)> {
    let mut jobs = Vec::new();
    let mut job_entries = Vec::new();
    let mut dirs = Vec::new();
    let root: Option<Arc<Path>> = output.map(|o| Arc::from(o.root.as_path()));
    for (i, p) in planned.iter_mut().enumerate() {
        let rel = std::mem::take(&mut p.disk);
        match (&p.kind, output) {
            (PlanKind::Folder, Some(out)) => {
                let dir = out.root.join("files").join(&rel);
                output::create_dirs(&out.root, &dir).map_err(|e| out_io(&dir, e))?;
                if let Some(m) = p.mtime {
                    dirs.push((dir, m));
                }
                p.entry.written = Some(format!("files/{rel}").trim_end_matches('/').to_owned());
            }
            (PlanKind::File(manifest), out) => {
                let target = root.as_ref().map(|root| Target {
                    root: root.clone(),
                    base: "files",
                    rel,
                    index: i,
                    mtime: p.mtime,
                });
                if let Some(t) = &target {
                    if out.is_some_and(|o| o.resumed) {
                        let good = t.good();
                        if let Some(sha) = content::check_existing(&good, manifest) {
                            p.entry.sha256 = Some(sha);
                            p.entry.resumed = true;
                            p.entry.written = Some(format!("{}/{}", t.base, t.rel));
                            continue;
                        }
                        let _ = std::fs::remove_file(&good);
                        let _ = std::fs::remove_file(t.damaged());
                    }
                }
                jobs.push(FileJob {
                    manifest: manifest.clone(),
                    vlob: p.row_vlob,
                    version: p.entry.version,
                    target,
                });
                job_entries.push(i);
            }
            _ => {}
        }
    }
    Ok((jobs, job_entries, dirs))
}
