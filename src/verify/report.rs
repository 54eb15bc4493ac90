//! What `verify` found, in a shape printed as text or as JSON (README, "verify --json").

use serde::Serialize;

/// One finding: a stable identifier of the check, and a message naming the culprit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub message: String,
}

/// Problems make verification fail; notes are facts worth knowing that do not.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Findings {
    pub problems: Vec<Finding>,
    pub notes: Vec<Finding>,
}

impl Findings {
    pub fn problem(&mut self, check: &'static str, message: impl Into<String>) {
        self.problems.push(Finding {
            check,
            message: message.into(),
        });
    }

    pub fn note(&mut self, check: &'static str, message: impl Into<String>) {
        self.notes.push(Finding {
            check,
            message: message.into(),
        });
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SqliteSummary {
    pub page_size: u32,
    pub pages: u64,
    /// `delete` (as Parsec writes files) or `wal` (a Parsec client opened the file).
    pub journal_mode: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StepsReport {
    pub certificates: bool,
    pub vlobs: bool,
    pub blocks_metadata: bool,
    pub blocks_data: bool,
}

impl StepsReport {
    pub fn complete(&self) -> bool {
        self.certificates && self.vlobs && self.blocks_metadata && self.blocks_data
    }
}

/// The `info` row, as far as it could be read.
#[derive(Debug, Clone, Serialize)]
pub struct InfoReport {
    pub version: i64,
    pub organization_id: String,
    /// 32 hex digits.
    pub realm_id: String,
    pub snapshot_timestamp: String,
    pub snapshot_timestamp_us: i64,
    /// Hex.
    pub root_verify_key: String,
    /// Null when not a non-negative integer (reported as a problem).
    pub vlobs_total_bytes: Option<i64>,
    pub blocks_total_bytes: Option<i64>,
    pub steps: StepsReport,
}

/// Rows and payload bytes of one table (see README for what "bytes" counts per table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TableStat {
    pub name: &'static str,
    pub rows: i64,
    pub bytes: i64,
}

/// The file's sums compared with the totals recorded in `info` (reference §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TotalsReport {
    pub vlobs_total_bytes: i64,
    /// Bytes of the vlob versions timestamped at or before the snapshot.
    pub vlob_bytes_until_snapshot: i64,
    /// Bytes (and count) of vlob versions timestamped after it (only Parsec's exporter
    /// writes such rows).
    pub vlob_bytes_after_snapshot: i64,
    pub vlobs_after_snapshot: i64,
    pub blocks_total_bytes: i64,
    pub block_bytes: i64,
    /// The file holds exactly what `info` counts (always so for parsec-sequester's files).
    pub exact: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DigestReport {
    pub scheme: &'static str,
    pub sha256: String,
}

/// One table compared between the file and the source database.
#[derive(Debug, Clone, Serialize)]
pub struct TableComparison {
    pub name: &'static str,
    pub file: Counts,
    pub source: Counts,
    pub equal: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub rows: i64,
    pub bytes: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgainstDbReport {
    /// The database, without its password.
    pub database: String,
    pub blockstore: String,
    /// Which row selection the file matches: `parsec-sequester` (vlobs below the marker at T, blocks
    /// stamped ≤ 320 s after the newest of them), `parsec` (Parsec's markers at T), `stored-bounds` (an unfinished
    /// export of ours), or null when it matches none.
    pub selection: Option<&'static str>,
    pub tables: Vec<TableComparison>,
    pub blocks_in_file: i64,
    pub blocks_compared: i64,
    pub all_blocks: bool,
    pub differences: Vec<Finding>,
    pub notes: Vec<Finding>,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub file: String,
    pub file_bytes: u64,
    pub sqlite: Option<SqliteSummary>,
    pub info: Option<InfoReport>,
    /// All four step flags are 1: the file is a finished export.
    pub complete: bool,
    pub tables: Vec<TableStat>,
    pub totals: Option<TotalsReport>,
    /// Devices found in the common certificates.
    pub devices: Option<usize>,
    /// Certificates whose signature verified; null when signatures were not checked.
    pub signatures_verified: Option<usize>,
    pub problems: Vec<Finding>,
    pub notes: Vec<Finding>,
    pub digest: Option<DigestReport>,
    pub against_db: Option<AgainstDbReport>,
    /// No problem in the file, and no difference with the source when compared.
    pub ok: bool,
}

impl Report {
    pub fn new(file: String, file_bytes: u64) -> Self {
        Report {
            file,
            file_bytes,
            sqlite: None,
            info: None,
            complete: false,
            tables: Vec::new(),
            totals: None,
            devices: None,
            signatures_verified: None,
            problems: Vec::new(),
            notes: Vec::new(),
            digest: None,
            against_db: None,
            ok: false,
        }
    }

    /// Recomputes `ok` from what was found.
    pub fn settle(&mut self) {
        self.ok = self.problems.is_empty() && self.against_db.as_ref().is_none_or(|a| a.ok);
    }
}

/// "12, 15, 17 and 4 more": a few culprits, and how many others.
pub fn examples<T: std::fmt::Display>(items: &[T], total: i64) -> String {
    let shown: Vec<String> = items.iter().map(ToString::to_string).collect();
    let more = total - shown.len() as i64;
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Culprits of one kind of problem: counted, a few of them named.
#[derive(Debug, Default)]
pub struct Tally {
    pub count: i64,
    pub examples: Vec<String>,
}

impl Tally {
    pub fn add(&mut self, example: impl FnOnce() -> String) {
        self.count += 1;
        if self.examples.len() < 5 {
            self.examples.push(example());
        }
    }

    /// "PREFIX: a, b and 3 more", if anything was counted.
    pub fn describe(&self, prefix: &str) -> Option<String> {
        (self.count > 0).then(|| format!("{prefix}: {}", examples(&self.examples, self.count)))
    }
}
