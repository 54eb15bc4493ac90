//! `--history`: every version of every vlob (reference §6.6), each with the path(s) it had
//! while in force: the tree is resolved at every row timestamp up to the snapshot, and each
//! version collects the paths it appears at (`history_paths`, kept up to date row after row).
//! Files go to `history/<vlob id>/v<version>-<name>`.

use super::history_paths::{self, Described};
use super::names;
use super::plan::{entry, Authors, PlanKind, Planned};
use super::tree::{Decoder, Kind, Versions};
use crate::ids::Micros;

pub fn plan(dec: &Decoder, versions: &Versions, snapshot: Micros) -> Vec<Planned> {
    let mut paths = history_paths::paths(dec, versions, snapshot);
    let mut ids: Vec<_> = versions.by_vlob.keys().copied().collect();
    ids.sort();
    let mut authors = Authors::new(dec.org);
    // Sized once: a history holds an entry per version, and doubling would hold up to twice
    // that (three times while it moves).
    let count = versions
        .by_vlob
        .values()
        .flatten()
        .filter(|r| r.timestamp <= snapshot)
        .count();
    let mut out = Vec::with_capacity(count);
    for id in ids {
        for row in versions.by_vlob[&id]
            .iter()
            .filter(|r| r.timestamp <= snapshot)
        {
            // Every row up to the snapshot was described with its paths.
            let d = paths
                .remove(&row.sequential_id)
                .unwrap_or_else(|| Described::new(&dec.take(row)));
            let (kind, updated, failures, p) = (d.kind, d.updated, d.failures, d.paths);
            let last_name = p
                .first()
                .and_then(|p| p.rsplit('/').next())
                .filter(|n| !n.is_empty())
                .map(names::escape);
            let disk = match &last_name {
                Some(n) => format!("{}/v{}-{n}", id.simple(), row.version),
                None => format!("{}/v{}", id.simple(), row.version),
            };
            let plan_kind = match &kind {
                Kind::File(f) => PlanKind::File(f.clone()),
                Kind::Folder { .. } => PlanKind::Folder,
                Kind::Error => PlanKind::Other,
            };
            let path = p.join("|");
            let failures = failures
                .into_iter()
                .map(|f| if path.is_empty() { f } else { f.at(&path) })
                .collect();
            out.push(Planned {
                entry: entry(&mut authors, p, row, &kind, failures),
                kind: plan_kind,
                disk,
                escaped: false,
                mtime: updated,
                row_vlob: row.vlob_id,
            });
        }
    }
    out
}
