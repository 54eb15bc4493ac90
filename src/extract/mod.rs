//! `extract`: a realm export plus a sequester service's private key give the workspace's
//! files (at a time T, or every version), and a record of what was and was not readable
//! (reference `parsec-extract-reference.md` §6–§8). Phases: keys (`keys`), the tree at T or
//! every version (`tree`, `history`), a plan compared with what OUTPUT_DIR already holds
//! (resume), the content (`content`, parallel), folder times, then the report.

mod content;
mod failure;
mod fingerprint;
mod history;
mod history_paths;
mod keys;
mod names;
mod org;
mod output;
mod plan;
mod report;
mod source;
mod spool;
mod tree;
mod versions;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use uuid::Uuid;

pub use failure::Failure;
pub use keys::PASSPHRASE_ENV;
pub use names::{escape, unescape};
pub use report::{Report, HISTORY_HEADER, LIST_HEADER};

use crate::error::{Error, Result};
use crate::ids::{format_timestamp, Micros};
use crate::progress::{Mode, Progress};
use keys::RealmKeys;
use org::Org;
use report::{Collector, ExportFacts, Readable, ServiceFacts};
use source::Source;
use tree::Decoder;
use versions::Versions;

pub struct Options {
    pub file: PathBuf,
    pub key: PathBuf,
    pub passphrase_file: Option<PathBuf>,
    pub service_id: Option<Uuid>,
    pub at: Option<Micros>,
    pub history: bool,
    /// `None`: nothing written (`--list`, `verify --key`).
    pub output: Option<PathBuf>,
    pub jobs: usize,
    pub quiet: bool,
}

/// What the content phase (`plan::extract`, `history::extract`) works with.
pub(crate) struct Run<'a> {
    pub dec: &'a Decoder<'a>,
    pub versions: &'a Versions,
    pub output: Option<&'a output::Output>,
    /// Where a history spools its entries: OUTPUT_DIR's `tmp/`, else `$TMPDIR`.
    pub scratch: Option<&'a Path>,
    /// OUTPUT_DIR as given (errors name it), empty without one.
    pub root: &'a Path,
    pub pool: &'a content::Pool,
    pub progress: &'a Progress,
    /// Called as blocks are written.
    pub tick: &'a mut dyn FnMut(),
}

/// What the report says, and whether the run is complete.
pub struct Outcome {
    pub report: Report,
}

/// SQLite's memory for the whole process (page caches of the export and scratch tables).
const SQLITE_HEAP: i64 = 32 << 20;

/// What `plan::scratch_error` names for the rows' table.
const ROWS: &str = "the vlob rows'";

const CHECKS: &[&str] = &[
    "certificate chain from the root key",
    "sequester service certificates signed by the authority",
    "keys bundle signature, realm, key count and author",
    "each key against its rotation's canary",
    "manifest signature, and id, version, author and timestamp equal to the row's",
    "author is a certified device, not revoked, whose role could write at that time",
    "versions increase with time",
    "blocks present, size and SHA-256",
];

/// Runs an extraction (or a check without output). An `Err` is a fatal error; a partial
/// result is an `Ok` whose report is not complete.
pub fn run(opts: &Options) -> Result<Outcome> {
    let source = Source::open(&opts.file)?;
    // The bundled SQLite shares one page budget, counted in pages, among all connections
    // (SQLITE_ENABLE_MEMORY_MANAGEMENT): the export's 64 KiB pages took the slots of the
    // scratch tables' 4 KiB ones, and its cache grew with the realm (30 MiB at 20 000 vlobs).
    // A soft heap limit makes every cache recycle pages past it instead.
    source
        .conn
        .pragma_update(None, "soft_heap_limit", SQLITE_HEAP)
        .map_err(|e| Error::Internal(format!("SQLite's soft heap limit: {e}")))?;
    let mut fingerprint = fingerprint::Fingerprint::start(&opts.file);
    let key = keys::load_private_key(&opts.key, opts.passphrase_file.as_deref())?;
    let sqlite = |e: rusqlite::Error| Error::ExtractInput {
        path: opts.file.clone(),
        reason: format!("the file is damaged: {e}"),
    };
    let org = Org::load(&source).map_err(sqlite)?;
    let service = keys::find_service(&org, &source.info.organization_id, &key, opts.service_id)?;
    let realm_keys = keys::recover(&source, &org, service, &key).map_err(sqlite)?;
    let info = &source.info;
    let Some(lower) = source.first_version(info.realm_id).map_err(sqlite)? else {
        return Err(Error::ExtractTime(
            "the export has no version 1 of the workspace manifest: it holds no history".into(),
        ));
    };
    let t = opts.at.unwrap_or(info.snapshot);
    if t > info.snapshot {
        return Err(Error::ExtractTime(format!(
            "--at {} is after the export's snapshot {}: the export does not hold that time",
            format_timestamp(t),
            format_timestamp(info.snapshot)
        )));
    }
    if t < lower {
        return Err(Error::ExtractTime(format!(
            "no root manifest at {}: the workspace's first version is from {}; choose an --at from then on",
            format_timestamp(t),
            format_timestamp(lower)
        )));
    }
    let decoder = Decoder::new(&source, &org, &realm_keys);
    let mode = if opts.history { "history" } else { "tree" };
    let mut state = output::State {
        export_bytes: source.bytes,
        organization: info.organization_id.clone(),
        realm_id: info.realm_id.simple().to_string(),
        snapshot: info.snapshot,
        export_sha256: None,
        service_id: service.id.simple().to_string(),
        mode: mode.into(),
        at: if opts.history { info.snapshot } else { t },
    };
    let output = match &opts.output {
        Some(dir) => Some(output::Output::prepare(dir, &state, || {
            Ok(fingerprint.sha256()?.1)
        })?),
        None => None,
    };
    let io_root = opts.output.clone().unwrap_or_default();
    let scratch = output.as_ref().map(|o| o.tmp_dir());
    let versions_err = |e| plan::scratch_error(scratch.as_deref(), ROWS, e);
    let versions = Versions::load(&source, scratch.as_deref()).map_err(|e| match e {
        versions::Load::Input(e) => sqlite(e),
        versions::Load::Scratch(e) => versions_err(e),
    })?;
    let readable =
        readable_range(&versions, &realm_keys, lower, info.snapshot).map_err(versions_err)?;
    // There may be a failure per version (every version under a key not opened).
    let mut failures = Collector::spool(scratch.as_deref()).map_err(|e| out_io(&io_root, e))?;
    for f in org.failures.iter().chain(&realm_keys.failures) {
        failures.push(f.clone()).map_err(|e| out_io(&io_root, e))?;
    }
    let mut pushed = Ok(());
    versions
        .failures(&mut |f| {
            if pushed.is_ok() {
                pushed = failures.push(f);
            }
        })
        .map_err(versions_err)?;
    pushed.map_err(|e| out_io(&io_root, e))?;
    let progress = Progress::new(Mode::detect(opts.quiet));
    let pool = content::Pool::start(&opts.file, &realm_keys, opts.jobs)?;
    // The state gets the export's SHA-256 as soon as it is known, so that a run interrupted
    // after the first seconds is continued only with the very same file.
    let mut sha_saved = false;
    let mut tick = || {
        if let (false, Some(out)) = (sha_saved, &output) {
            if let Some(sha) = fingerprint.sha256_if_done() {
                state.export_sha256 = Some(sha);
                sha_saved = out.save_state(&state).is_ok();
            }
        }
    };
    let mut run = Run {
        dec: &decoder,
        versions: &versions,
        output: output.as_ref(),
        scratch: scratch.as_deref(),
        root: &io_root,
        pool: &pool,
        progress: &progress,
        tick: &mut tick,
    };
    let (entries, names_escaped) = if opts.history {
        (
            history::extract(&mut run, &mut failures)?,
            report::Listed::Memory(Vec::new()),
        )
    } else {
        plan::extract(&mut run, t, &mut failures)?
    };
    drop(pool);
    let after_snapshot = versions.after(info.snapshot).map_err(versions_err)?;
    if let Some(out) = &output {
        out.sync()?;
    }
    let (bytes, sha) = fingerprint.sha256()?;
    let digest = fingerprint.digest();
    let (realm_name, name_failure) = realm_name(&org, &realm_keys, t);
    if let Some(f) = name_failure {
        failures.push(f).map_err(|e| out_io(&io_root, e))?;
    }
    let failures = failures.finish().map_err(|e| out_io(&io_root, e))?;
    let opened: Vec<u64> = realm_keys.keys.keys().copied().collect();
    let not_opened: Vec<u64> = org
        .rotations
        .keys()
        .copied()
        .filter(|k| !realm_keys.keys.contains_key(k))
        .collect();
    let report = Report {
        tool: format!("parsec-sequester {} extract", env!("CARGO_PKG_VERSION")),
        export: ExportFacts {
            path: opts.file.display().to_string(),
            bytes,
            sha256: sha,
            digest,
            digest_scheme: crate::format::digest::SCHEME,
        },
        organization: info.organization_id.clone(),
        realm_id: info.realm_id.simple().to_string(),
        realm_name,
        snapshot: format_timestamp(info.snapshot),
        mode,
        at: (!opts.history).then(|| format_timestamp(t)),
        service: ServiceFacts {
            id: service.id.simple().to_string(),
            label: service.label.clone(),
            created: format_timestamp(service.created),
            revoked: service.revoked.map(format_timestamp),
        },
        key_indexes_opened: opened,
        key_indexes_not_opened: not_opened,
        bundles_opened: realm_keys.bundles_opened.clone(),
        readable,
        checks: CHECKS.to_vec(),
        entries,
        names_escaped,
        after_snapshot,
        complete: failures.is_empty(),
        failures,
        resumed: output.as_ref().is_some_and(|o| o.resumed),
    };
    if let Some(out) = &output {
        state.export_sha256 = Some(report.export.sha256.clone());
        out.save_state(&state)?;
        // Streamed to the files: with `--history` the three are about 1 KiB per version.
        out.write_with(&out.root.join("report.json"), |w| {
            serde_json::to_writer_pretty(&mut *w, &report).map_err(std::io::Error::from)
        })?;
        out.write_with(&out.root.join("report.txt"), |w| report.write_text(w))?;
        if opts.history {
            out.write_with(&out.root.join("history.tsv"), |w| report.write_history(w))?;
        }
        let _ = std::fs::remove_dir_all(out.tmp_dir());
    }
    if realm_keys.keys.is_empty() {
        return Err(Error::ExtractNothingReadable(format!(
            "service {} \"{}\" has no access to any key of realm {}: nothing is readable with this key. A service reads only the keys of rotations made while it was active (created {}{}); the realm's rotations are at {}{}",
            service.id.simple(),
            service.label,
            info.realm_id.simple(),
            format_timestamp(service.created),
            service.revoked.map_or(String::new(), |r| format!(", revoked {}", format_timestamp(r))),
            org.rotations.values().map(|r| format!("{} (key {})", format_timestamp(r.timestamp), r.key_index)).collect::<Vec<_>>().join(", "),
            match &opts.output { Some(o) => format!(". The report is in {}", o.display()), None => String::new() },
        )));
    }
    Ok(Outcome { report })
}

pub(crate) fn out_io(path: &Path, e: std::io::Error) -> Error {
    let full = e.raw_os_error() == Some(libc::ENOSPC);
    Error::ExtractOutput {
        path: path.to_owned(),
        reason: format!("cannot write: {e}{}", full_disk_hint(full)),
    }
}

/// What to do about a full disk: the same command continues.
pub(crate) fn full_disk_hint(full: bool) -> &'static str {
    if full {
        " (the disk is full: free some space and run the same command again, it continues)"
    } else {
        ""
    }
}

/// The latest instant before which every version (up to the snapshot) uses an opened key.
fn readable_range(
    versions: &Versions,
    keys: &RealmKeys,
    lower: Micros,
    snapshot: Micros,
) -> rusqlite::Result<Readable> {
    let first_unreadable = versions.first_unreadable(&keys.keys, snapshot)?;
    Ok(Readable {
        from: format_timestamp(lower),
        until_excluded: first_unreadable.map(format_timestamp),
        suggested_at: first_unreadable
            .filter(|x| *x > lower)
            .map(|x| format_timestamp(x - 1)),
    })
}

/// The realm's name at `t`, or why it cannot be read.
fn realm_name(org: &Org, keys: &RealmKeys, t: Micros) -> (Option<String>, Option<Failure>) {
    let Some(cert) = org.names.iter().rfind(|n| n.timestamp <= t) else {
        return (None, None);
    };
    let Some(key) = keys.keys.get(&cert.key_index) else {
        return (None, None);
    };
    match cert.decrypt_name(key) {
        Ok(name) => (Some(name), None),
        Err(e) => (None, Some(Failure::global("realm_name", e.to_string()))),
    }
}

/// Key indexes, for tests and `verify --key`.
pub fn opened_indexes(report: &Report) -> BTreeSet<u64> {
    report.key_indexes_opened.iter().copied().collect()
}
