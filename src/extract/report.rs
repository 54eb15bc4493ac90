//! The hand-over record (README "extract: report"): JSON, and the same as readable text.

use std::path::Path;

use serde::{Serialize, Serializer};
use uuid::Uuid;

use super::failure::Failure;
use super::spool::{Lines, Sealed, Spoolable};
use crate::ids::{format_timestamp, Micros};
use crate::report::json;

#[derive(Debug, Serialize)]
pub struct Report {
    pub tool: String,
    pub export: ExportFacts,
    pub organization: String,
    pub realm_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm_name: Option<String>,
    pub snapshot: String,
    /// `tree` (the files at `at`) or `history` (every version).
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    pub service: ServiceFacts,
    pub key_indexes_opened: Vec<u64>,
    pub key_indexes_not_opened: Vec<u64>,
    pub bundles_opened: Vec<u64>,
    pub readable: Readable,
    /// Checks made beyond what Parsec's own export reader does (reference §7, §8.12).
    pub checks: Vec<&'static str>,
    pub entries: Listed<Entry>,
    /// Entries whose on-disk name differs from their Parsec name.
    pub names_escaped: Listed<Escaped>,
    /// Vlob versions dated after the snapshot (the exporter keeps some): not extracted.
    pub after_snapshot: Vec<String>,
    pub failures: Listed<Failure>,
    pub complete: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
}

#[derive(Debug, Serialize)]
pub struct ExportFacts {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    /// `verify --digest` of the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub digest_scheme: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ServiceFacts {
    pub id: String,
    pub label: String,
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Readable {
    /// The workspace's first version (root v1): no earlier T has a tree.
    pub from: String,
    /// Every version before this instant uses a key the service opened; `None`: all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until_excluded: Option<String>,
    /// The `--at` that gives everything readable, when the snapshot does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Author {
    pub device: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Path(s) in the workspace; history: every path the version had while in force.
    pub paths: Vec<String>,
    /// Where it was written, relative to OUTPUT_DIR (none for folders of history, errors,
    /// `--list`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
    // Kept binary, written as text: a history holds an entry per version.
    #[serde(serialize_with = "json::simple")]
    pub vlob_id: Uuid,
    pub version: u32,
    #[serde(serialize_with = "json::timestamp")]
    pub timestamp: Micros,
    /// Shared by every version of the same device (a history holds one entry per version).
    pub author: std::sync::Arc<Author>,
    /// `file`, `folder` or `error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Bytes of a file; children of a folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "json::optional_sha256"
    )]
    pub sha256: Option<[u8; 32]>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Failure>,
}

impl Entry {
    /// Paths joined with `|`; `-` when the version was never reachable.
    pub fn path_text(&self) -> String {
        if self.paths.is_empty() {
            "-".into()
        } else {
            let escaped: Vec<String> = self
                .paths
                .iter()
                .map(|p| super::names::table_path(p))
                .collect();
            escaped.join("|")
        }
    }

    /// `path type size sha256`, tab-separated (reference §9.3), then vlob, version, time, author.
    pub fn line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            self.path_text(),
            self.kind,
            self.size.map_or("-".into(), |s| s.to_string()),
            self.sha256_text(),
            self.vlob_id.simple(),
            self.version,
            format_timestamp(self.timestamp),
            self.author.device
        )
    }

    /// A line of `history.tsv`, in the reference's §9.3 layout.
    pub fn history_line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            self.vlob_id.simple(),
            self.version,
            format_timestamp(self.timestamp),
            self.author.device,
            self.path_text(),
            self.kind,
            self.size.map_or("-".into(), |s| s.to_string()),
            self.sha256_text(),
        )
    }

    fn sha256_text(&self) -> String {
        self.sha256
            .map_or("-".into(), |h| base16ct::lower::encode_string(&h))
    }
}

pub const LIST_HEADER: &str = "#path\ttype\tsize\tsha256\tvlob_id\tversion\ttimestamp\tauthor";
pub const HISTORY_HEADER: &str = "#vlob_id\tversion\ttimestamp\tauthor\tpath\ttype\tsize\tsha256";

#[derive(Debug, Clone, Serialize)]
pub struct Escaped {
    pub path: String,
    pub written: String,
}

/// The report's entries or failures, spooled to files (there may be one per version; `Memory`
/// holds records made in memory, the spooled form's oracle in tests).
#[derive(Debug)]
pub enum Listed<T> {
    Memory(Vec<T>),
    Spooled(Sealed),
}

impl<T: Spoolable> Listed<T> {
    pub fn len(&self) -> u64 {
        match self {
            Listed::Memory(v) => v.len() as u64,
            Listed::Spooled(s) => s.count(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each record's text form `column`, a line each.
    pub fn write_text(&self, column: usize, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        match self {
            Listed::Memory(v) => {
                for r in v {
                    writeln!(w, "{}", r.text(column))?;
                }
                Ok(())
            }
            Listed::Spooled(s) => s.write_text(column, w),
        }
    }
}

impl<T: Spoolable> Serialize for Listed<T> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        match self {
            Listed::Memory(v) => v.serialize(ser),
            Listed::Spooled(s) => {
                let mut seq = ser.serialize_seq(usize::try_from(s.count()).ok())?;
                let mut failed = None;
                let read = s.for_each_json(|json| {
                    // Written by `Lines::push` from the same types: valid JSON.
                    let raw = serde_json::value::RawValue::from_string(json.to_owned())
                        .map_err(std::io::Error::from)?;
                    seq.serialize_element(&raw).map_err(|e| {
                        failed = Some(e);
                        std::io::Error::other("serialization")
                    })
                });
                if let Some(e) = failed {
                    return Err(e);
                }
                read.map_err(S::Error::custom)?;
                seq.end()
            }
        }
    }
}

/// A `Listed` being filled, on disk: there may be one per version.
pub struct Collector<T> {
    lines: Lines,
    _t: std::marker::PhantomData<T>,
}

impl<T: Spoolable> Collector<T> {
    /// Spooled to unnamed files in `dir`, or in `$TMPDIR`.
    pub fn spool(dir: Option<&Path>) -> std::io::Result<Self> {
        Ok(Collector {
            lines: Lines::create(dir, T::TEXTS)?,
            _t: std::marker::PhantomData,
        })
    }

    pub fn push(&mut self, record: T) -> std::io::Result<()> {
        self.lines.push(&record)
    }

    pub fn finish(self) -> std::io::Result<Listed<T>> {
        Ok(Listed::Spooled(self.lines.seal()?))
    }
}

/// `line()` and `history_line()`.
impl Spoolable for Entry {
    const TEXTS: usize = 2;
    fn text(&self, column: usize) -> String {
        if column == 0 {
            self.line()
        } else {
            self.history_line()
        }
    }
}

/// As the text report lists it.
impl Spoolable for Escaped {
    const TEXTS: usize = 1;
    fn text(&self, _: usize) -> String {
        format!("{}\t->\t{}", self.path, self.written)
    }
}

/// As the text report lists it.
impl Spoolable for Failure {
    const TEXTS: usize = 1;
    fn text(&self, _: usize) -> String {
        format!("  {self}")
    }
}

impl Report {
    /// The readable record, streamed: with `--history` it has a line per version, and is
    /// never held whole in memory.
    pub fn write_text(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.write(w, true)
    }

    /// The record without its entries (beside the `--list` table).
    pub fn write_summary(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.write(w, false)
    }

    fn write(&self, w: &mut dyn std::io::Write, with_entries: bool) -> std::io::Result<()> {
        writeln!(w, "{} — extraction record", self.tool)?;
        writeln!(
            w,
            "export: {} ({} bytes), SHA-256 {}",
            self.export.path, self.export.bytes, self.export.sha256
        )?;
        if let Some(d) = &self.export.digest {
            writeln!(w, "  digest ({}): {d}", self.export.digest_scheme)?;
        }
        writeln!(
            w,
            "organization: {}; realm {}{}; snapshot {}",
            self.organization,
            self.realm_id,
            self.realm_name
                .as_ref()
                .map_or(String::new(), |n| format!(" \"{n}\"")),
            self.snapshot
        )?;
        match &self.at {
            Some(at) => writeln!(w, "mode: {}, at {at}", self.mode)?,
            None => writeln!(w, "mode: {}", self.mode)?,
        }
        writeln!(
            w,
            "service: {} \"{}\", created {}{}",
            self.service.id,
            self.service.label,
            self.service.created,
            self.service
                .revoked
                .as_ref()
                .map_or(String::new(), |r| format!(", revoked {r}"))
        )?;
        let list = |v: &[u64]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
            }
        };
        writeln!(
            w,
            "key indexes opened: {} (through bundle(s) {}); not opened: {}",
            list(&self.key_indexes_opened),
            list(&self.bundles_opened),
            list(&self.key_indexes_not_opened)
        )?;
        match (&self.readable.until_excluded, &self.readable.suggested_at) {
            (None, _) => writeln!(w, "readable: every version from {} on uses a key this service opened",
                self.readable.from)?,
            (Some(until), Some(at)) => writeln!(w, "readable: every version before {until} uses a key this service opened; --at {at} gives everything readable")?,
            (Some(until), None) => writeln!(w, "readable: nothing: the versions from {until} on use keys this service cannot open")?,
        }
        writeln!(w, "checks: {}", self.checks.join("; "))?;
        writeln!(w)?;
        if with_entries {
            writeln!(w, "entries ({}):", self.entries.len())?;
            writeln!(w, "{LIST_HEADER}")?;
            self.entries.write_text(0, w)?;
        }
        if !self.names_escaped.is_empty() {
            writeln!(w)?;
            writeln!(w, "names escaped ({}):", self.names_escaped.len())?;
            self.names_escaped.write_text(0, w)?;
        }
        if !self.after_snapshot.is_empty() {
            writeln!(w)?;
            writeln!(
                w,
                "versions after the snapshot, not extracted: {}",
                self.after_snapshot.join(", ")
            )?;
        }
        writeln!(w)?;
        if self.failures.is_empty() {
            writeln!(w, "failures: none")?;
        } else {
            writeln!(w, "failures ({}):", self.failures.len())?;
            self.failures.write_text(0, w)?;
        }
        writeln!(
            w,
            "{}",
            if self.complete {
                "result: complete"
            } else {
                "result: PARTIAL (see the failures)"
            }
        )?;
        Ok(())
    }

    /// `history.tsv`: a header, then a line per version.
    pub fn write_history(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(w, "{HISTORY_HEADER}")?;
        self.entries.write_text(1, w)
    }
}
