//! The text layout of the realms report (README "realms"): one block per realm, labels in a
//! column, human-readable sizes (exact byte counts are in `--json`).

use std::fmt::Write;

use indicatif::HumanBytes;

use super::{Realm, Report, Size, Status};
use crate::ids::format_timestamp;
use crate::report::style::{paint, ENDING, REALM_ID, USER_ID};

/// Width of the label column ("Created on  ").
const LABEL: usize = 12;

pub fn render(report: &Report) -> String {
    let mut out = format!(
        "Found {} realm(s) in organization {}\n\
         Sizes are those of now ({}): every row of each realm. An export downloads the block data.\n",
        report.realms.len(),
        report.organization_id,
        format_timestamp(report.as_of)
    );
    for realm in &report.realms {
        out.push('\n');
        render_realm(&mut out, realm);
    }
    let t = &report.total;
    let _ = writeln!(
        out,
        "\nTotal: {} realm(s); {}; {}",
        t.realms,
        vlobs(t.vlobs),
        blocks(t.blocks)
    );
    out
}

fn render_realm(out: &mut String, realm: &Realm) {
    // Writing into a String cannot fail.
    let _ = writeln!(out, "Realm {}", paint(REALM_ID, realm.realm_id.simple()));
    line(out, "Created on", &format_timestamp(realm.created_on));
    line(out, "Status", &status(realm));
    if realm.owners.is_empty() {
        line(out, "Owners", "none");
    }
    for (position, owner) in realm.owners.iter().enumerate() {
        let revoked = match owner.revoked_on {
            Some(_) => format!(" ({})", paint(ENDING, "revoked")),
            None => String::new(),
        };
        let text = format!(
            "{}  {} <{}>{revoked}",
            paint(USER_ID, owner.user_id.hyphenated()),
            owner.label,
            owner.email
        );
        line(out, if position == 0 { "Owners" } else { "" }, &text);
    }
    line(out, "Vlobs", &vlobs(realm.vlobs));
    line(out, "Blocks", &blocks(realm.blocks));
}

fn line(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "  {label:<LABEL$}{value}");
}

fn status(realm: &Realm) -> String {
    let since = realm
        .archiving
        .as_ref()
        .map(|a| format!(" (since {})", format_timestamp(a.certified_on)))
        .unwrap_or_default();
    match realm.status {
        Status::Active => "active".into(),
        Status::Archived => format!("archived{since}"),
        Status::DeletionPlanned => {
            let date = realm
                .archiving
                .as_ref()
                .and_then(|a| a.deletion_date)
                .map(|d| format!(" for {}", format_timestamp(d)))
                .unwrap_or_default();
            format!("deletion planned{date}{since}")
        }
        Status::Deleted => paint(
            ENDING,
            "deleted: its data was purged, it cannot be exported",
        ),
    }
}

fn vlobs(size: Size) -> String {
    format!(
        "{} vlob version{}, {}",
        size.count,
        plural(size.count),
        bytes(size.bytes)
    )
}

fn blocks(size: Size) -> String {
    format!(
        "{} block{}, {} of block data to download",
        size.count,
        plural(size.count),
        bytes(size.bytes)
    )
}

fn bytes(n: i64) -> HumanBytes {
    HumanBytes(u64::try_from(n).unwrap_or(0))
}

fn plural(n: i64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
