//! The human-readable form of a verification report.

use std::fmt::Write;

use super::report::{AgainstDbReport, Finding, Report};

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "File                {} ({} bytes)", r.file, r.file_bytes);
    if let Some(s) = &r.sqlite {
        let _ = writeln!(
            w,
            "SQLite              {} pages of {} bytes, journal mode {}",
            s.pages, s.page_size, s.journal_mode
        );
    }
    if let Some(i) = &r.info {
        let _ = writeln!(w, "Format              realm export, version {}", i.version);
        let _ = writeln!(w, "Organization        {}", i.organization_id);
        let _ = writeln!(w, "Realm               {}", i.realm_id);
        let _ = writeln!(
            w,
            "Snapshot            {} ({} µs)",
            i.snapshot_timestamp, i.snapshot_timestamp_us
        );
        let _ = writeln!(w, "Root verify key     {}", i.root_verify_key);
        let s = i.steps;
        let steps = [
            (s.certificates, "certificates"),
            (s.vlobs, "vlobs"),
            (s.blocks_metadata, "blocks metadata"),
            (s.blocks_data, "blocks data"),
        ];
        let missing: Vec<&str> = steps.iter().filter(|(d, _)| !d).map(|(_, n)| *n).collect();
        let _ = if missing.is_empty() {
            writeln!(w, "Complete            yes (all four steps done)")
        } else {
            writeln!(
                w,
                "Complete            NO (not done: {})",
                missing.join(", ")
            )
        };
    }
    if !r.tables.is_empty() {
        let _ = writeln!(
            w,
            "Tables              {:<36} {:>10} {:>16}",
            "", "rows", "bytes"
        );
        for t in &r.tables {
            let _ = writeln!(
                w,
                "                    {:<36} {:>10} {:>16}",
                t.name, t.rows, t.bytes
            );
        }
    }
    if let Some(t) = &r.totals {
        let _ = if t.exact {
            writeln!(
                w,
                "Totals              exact: vlobs {} bytes, blocks {} bytes, as recorded in info",
                t.vlobs_total_bytes, t.blocks_total_bytes
            )
        } else {
            writeln!(
                w,
                "Totals              info records vlobs {} and blocks {} bytes; the file holds vlobs {} (+{} after the snapshot) and blocks {} bytes",
                t.vlobs_total_bytes,
                t.blocks_total_bytes,
                t.vlob_bytes_until_snapshot,
                t.vlob_bytes_after_snapshot,
                t.block_bytes
            )
        };
    }
    if let Some(d) = r.devices {
        let _ = writeln!(w, "Devices             {d} in the common certificates");
    }
    if let Some(n) = r.signatures_verified {
        let _ = writeln!(w, "Signatures          {n} certificates verified");
    }
    if let Some(d) = &r.digest {
        let _ = writeln!(w, "Digest              sha256:{} ({})", d.sha256, d.scheme);
    }
    if let Some(a) = &r.against_db {
        render_against_db(w, a);
    }
    list(w, "Notes", &r.notes);
    if let Some(a) = &r.against_db {
        list(w, "Notes on the comparison", &a.notes);
    }
    list(w, "Problems", &r.problems);
    if let Some(a) = &r.against_db {
        list(w, "Differences with the database", &a.differences);
    }
    let _ = if r.ok {
        writeln!(
            w,
            "Result              OK: a complete and intact realm export{}",
            if r.against_db.is_some() {
                ", matching its source"
            } else {
                ""
            }
        )
    } else {
        let differences = r.against_db.as_ref().map_or(String::new(), |a| {
            format!(", {} difference(s) with the database", a.differences.len())
        });
        writeln!(
            w,
            "Result              FAILED: {} problem(s){differences}",
            r.problems.len()
        )
    };
    out
}

fn render_against_db(w: &mut String, a: &AgainstDbReport) {
    let _ = writeln!(w, "Against database    {}", a.database);
    let _ = writeln!(
        w,
        "Selection           {}",
        match a.selection {
            Some("parsec-sequester") =>
                "parsec-sequester's (vlobs below the marker at T, blocks stamped ≤ 320 s after the newest of them)",
            Some("parsec") => "Parsec's (every row below its markers at T)",
            Some("stored-bounds") => "the bounds stored in this unfinished export",
            _ => "none: the file's rows match no selection of the database",
        }
    );
    let _ = writeln!(
        w,
        "Compared            {:<36} {:>22} {:>22}",
        "", "file rows/bytes", "database rows/bytes"
    );
    for t in &a.tables {
        let _ = writeln!(
            w,
            "                    {:<36} {:>22} {:>22}{}",
            t.name,
            format!("{}/{}", t.file.rows, t.file.bytes),
            format!("{}/{}", t.source.rows, t.source.bytes),
            if t.equal { "" } else { "  DIFFERENT" }
        );
    }
    let _ = writeln!(
        w,
        "Block data          {} of {} block(s) compared byte for byte{} with {}",
        a.blocks_compared,
        a.blocks_in_file,
        if a.all_blocks {
            " (all)"
        } else {
            " (random sample)"
        },
        a.blockstore
    );
}

fn list(w: &mut String, title: &str, items: &[Finding]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(w, "{title} ({}):", items.len());
    for f in items {
        let _ = writeln!(w, "  - [{}] {}", f.check, f.message);
    }
}
