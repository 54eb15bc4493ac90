//! The parts of the `export-realm` summary added for the operator's records: the "store
//! health" section of the text summary, and the `--json` object (README, "export-realm
//! --json").

use std::io::Write;

use serde::Serialize;

use crate::blockstore::HealthReport;
use crate::error::Error;
use crate::export::Summary;
use crate::ids::format_timestamp;

/// The "store health" section: nothing when every read went through at the first attempt.
pub fn write_health(out: &mut impl Write, health: Option<&HealthReport>) -> std::io::Result<()> {
    let Some(h) = health.filter(|h| !h.clean) else {
        return Ok(());
    };
    writeln!(out, "  store health        {}", h.store)?;
    for n in &h.nodes {
        let mut facts = vec![format!("{} read", n.reads_ok)];
        for (count, what) in [
            (n.missing, "missing"),
            (n.unavailable, "unavailable"),
            (n.timeout, "timed out"),
            (n.rebuilt_from_parity, "rebuilt from parity"),
            (n.parity_unreadable, "parity unreadable"),
            (n.failed_over, "failed over to another mirror"),
        ] {
            if count > 0 {
                facts.push(format!("{count} {what}"));
            }
        }
        writeln!(out, "    {}: {} ({})", n.node, facts.join(", "), n.store)?;
    }
    if h.retries > 0 {
        writeln!(
            out,
            "    retries: {} reads succeeded after retries; {} retries, {} attempts timed out",
            h.reads_succeeded_after_retries, h.retries, h.attempts_timed_out
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct Rows {
    rows: i64,
    bytes: i64,
}

#[derive(Serialize)]
struct Tables {
    common_certificates: i64,
    sequester_certificates: i64,
    realm_certificates: i64,
    keys_bundles: i64,
    user_accesses: i64,
    sequester_accesses: i64,
    vlobs: Rows,
    blocks: Rows,
    block_data: Rows,
}

#[derive(Serialize)]
struct Fetched {
    blocks: u64,
    bytes: u64,
}

/// The `--json` object. On failure only `status`, `exit_code` and `error` are set.
#[derive(Serialize, Default)]
struct JsonSummary {
    /// `complete`, `already_complete`, `interrupted` or `failed`.
    status: &'static str,
    exit_code: i32,
    error: Option<String>,
    file: Option<String>,
    organization: Option<String>,
    /// 32 hex digits.
    realm: Option<String>,
    snapshot: Option<String>,
    snapshot_us: Option<i64>,
    tables: Option<Tables>,
    fetched_this_run: Option<Fetched>,
    elapsed_seconds: Option<f64>,
    store_health: Option<HealthReport>,
}

pub fn json_of_summary(s: &Summary) -> String {
    let c = &s.counts;
    let rows = |(rows, bytes): (i64, i64)| Rows { rows, bytes };
    render(&JsonSummary {
        status: if s.already_complete {
            "already_complete"
        } else {
            "complete"
        },
        exit_code: 0,
        error: None,
        file: Some(s.path.display().to_string()),
        organization: Some(s.info.organization_id.clone()),
        realm: Some(s.info.realm_id.simple().to_string()),
        snapshot: Some(format_timestamp(s.info.snapshot_timestamp)),
        snapshot_us: Some(s.info.snapshot_timestamp),
        tables: Some(Tables {
            common_certificates: c.common_certificates,
            sequester_certificates: c.sequester_certificates,
            realm_certificates: c.realm_certificates,
            keys_bundles: c.keys_bundles,
            user_accesses: c.user_accesses,
            sequester_accesses: c.sequester_accesses,
            vlobs: rows(c.vlobs),
            blocks: rows(c.blocks),
            block_data: rows(c.block_data),
        }),
        fetched_this_run: Some(Fetched {
            blocks: s.fetched_blocks,
            bytes: s.fetched_bytes,
        }),
        elapsed_seconds: Some(s.elapsed.as_secs_f64()),
        store_health: s.store_health.clone(),
    })
}

/// `message` is the error as printed on stderr, already scrubbed of secrets.
pub fn json_of_error(e: &Error, message: String) -> String {
    render(&JsonSummary {
        status: if matches!(e, Error::Interrupted { .. }) {
            "interrupted"
        } else {
            "failed"
        },
        exit_code: e.exit_code(),
        error: Some(message),
        ..JsonSummary::default()
    })
}

fn render(value: &JsonSummary) -> String {
    // Only strings and numbers: serialization cannot fail; be total anyway.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|e| {
        format!("{{\"status\": \"failed\", \"error\": \"cannot encode the summary: {e}\"}}")
    });
    text.push('\n');
    text
}
