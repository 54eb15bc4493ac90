//! The hand-over record (README "extract: report"): JSON, and the same as readable text.

use serde::Serialize;
use uuid::Uuid;

use super::failure::Failure;
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
    pub entries: Vec<Entry>,
    /// Entries whose on-disk name differs from their Parsec name.
    pub names_escaped: Vec<Escaped>,
    /// Vlob versions dated after the snapshot (the exporter keeps some): not extracted.
    pub after_snapshot: Vec<String>,
    pub failures: Vec<Failure>,
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
        let mut result = Ok(());
        let mut line = |s: String| {
            if result.is_ok() {
                result = writeln!(w, "{s}");
            }
        };
        line(format!("{} — extraction record", self.tool));
        line(format!(
            "export: {} ({} bytes), SHA-256 {}",
            self.export.path, self.export.bytes, self.export.sha256
        ));
        if let Some(d) = &self.export.digest {
            line(format!("  digest ({}): {d}", self.export.digest_scheme));
        }
        line(format!(
            "organization: {}; realm {}{}; snapshot {}",
            self.organization,
            self.realm_id,
            self.realm_name
                .as_ref()
                .map_or(String::new(), |n| format!(" \"{n}\"")),
            self.snapshot
        ));
        match &self.at {
            Some(at) => line(format!("mode: {}, at {at}", self.mode)),
            None => line(format!("mode: {}", self.mode)),
        }
        line(format!(
            "service: {} \"{}\", created {}{}",
            self.service.id,
            self.service.label,
            self.service.created,
            self.service
                .revoked
                .as_ref()
                .map_or(String::new(), |r| format!(", revoked {r}"))
        ));
        let list = |v: &[u64]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
            }
        };
        line(format!(
            "key indexes opened: {} (through bundle(s) {}); not opened: {}",
            list(&self.key_indexes_opened),
            list(&self.bundles_opened),
            list(&self.key_indexes_not_opened)
        ));
        match (&self.readable.until_excluded, &self.readable.suggested_at) {
            (None, _) => line(format!(
                "readable: every version from {} on uses a key this service opened",
                self.readable.from
            )),
            (Some(until), Some(at)) => line(format!(
                "readable: every version before {until} uses a key this service opened; --at {at} gives everything readable"
            )),
            (Some(until), None) => line(format!(
                "readable: nothing: the versions from {until} on use keys this service cannot open"
            )),
        }
        line(format!("checks: {}", self.checks.join("; ")));
        line(String::new());
        if with_entries {
            line(format!("entries ({}):", self.entries.len()));
            line(LIST_HEADER.to_owned());
            for e in &self.entries {
                line(e.line());
            }
        }
        if !self.names_escaped.is_empty() {
            line(String::new());
            line(format!("names escaped ({}):", self.names_escaped.len()));
            for n in &self.names_escaped {
                line(format!("{}\t->\t{}", n.path, n.written));
            }
        }
        if !self.after_snapshot.is_empty() {
            line(String::new());
            line(format!(
                "versions after the snapshot, not extracted: {}",
                self.after_snapshot.join(", ")
            ));
        }
        line(String::new());
        if self.failures.is_empty() {
            line("failures: none".into());
        } else {
            line(format!("failures ({}):", self.failures.len()));
            for f in &self.failures {
                line(format!("  {f}"));
            }
        }
        line(if self.complete {
            "result: complete".into()
        } else {
            "result: PARTIAL (see the failures)".into()
        });
        result
    }

    /// `history.tsv`: a header, then a line per version.
    pub fn write_history(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(w, "{HISTORY_HEADER}")?;
        for e in &self.entries {
            writeln!(w, "{}", e.history_line())?;
        }
        Ok(())
    }
}
