//! Reading the `export-realm --json` summary, and what it must say computed from the export
//! file itself (SQL on the file, not our code).

use std::path::Path;

use serde_json::{json, Value};

use crate::harness::Run;
use crate::rows::scalar;

/// The single JSON object of a run's stdout (nothing else may be there).
pub fn parse(r: &Run) -> Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{}", r.stdout))
}

/// The `tables` member the summary must hold for `file`: rows of each table, and for vlobs
/// and blocks the sum of their `size` column, for block data the length of the data.
pub fn expected_tables(file: &Path) -> Value {
    let n = |table: &str| scalar(file, &format!("SELECT COUNT(*) FROM {table}"));
    let sized = |table: &str, expr: &str| {
        json!({
            "rows": n(table),
            "bytes": scalar(file, &format!("SELECT COALESCE(SUM({expr}), 0) FROM {table}")),
        })
    };
    json!({
        "common_certificates": n("common_certificate"),
        "sequester_certificates": n("sequester_certificate"),
        "realm_certificates": n("realm_certificate"),
        "keys_bundles": n("realm_keys_bundle"),
        "user_accesses": n("realm_keys_bundle_access"),
        "sequester_accesses": n("realm_sequester_keys_bundle_access"),
        "vlobs": sized("vlob_atom", "size"),
        "blocks": sized("block", "size"),
        "block_data": sized("block_data", "length(data)"),
    })
}

/// The `store_health.nodes` entry called `name` (e.g. "RAID5 node 1").
pub fn node<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["store_health"]["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|n| n["node"] == name))
        .unwrap_or_else(|| panic!("no node {name} in {summary:#}"))
}
