//! Oracle for `extract` on generated organizations: the trees and histories that
//! `record.json` (the generator's own record of what it wrote) implies, by the rules of the
//! reference's section 6 (version in force = greatest timestamp ≤ T; a child counts where its
//! own `parent` names the folder; an entry under a key the service cannot open is an error).

use std::collections::{BTreeMap, BTreeSet};

use parsec_sequester::ids::format_timestamp;
use serde_json::Value;

pub struct Version {
    pub version: u64,
    pub timestamp: i64,
    pub author: String,
    pub key_index: u64,
    pub kind: String,
    pub parent: String,
    pub children: BTreeMap<String, String>,
    pub size: Option<u64>,
    pub sha256: Option<String>,
}

pub struct Realm {
    pub id: String,
    /// vlob id → versions sorted by timestamp.
    pub vlobs: BTreeMap<String, Vec<Version>>,
    /// (key_index, services given an access).
    pub rotations: Vec<(u64, Vec<String>)>,
}

/// README "extract", tables: `%`, `|` and control characters of paths as `%XX`.
fn table_path(path: &str) -> String {
    path.chars()
        .map(|c| {
            if c == '%' || c == '|' || c.is_control() {
                let mut b = [0u8; 4];
                c.encode_utf8(&mut b)
                    .bytes()
                    .map(|x| format!("%{x:02X}"))
                    .collect()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn micros(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("record timestamp {text}: {e}"))
        .timestamp_micros()
}

pub fn realms(record: &Value) -> Vec<Realm> {
    let mut out = Vec::new();
    for r in record["realms"].as_array().expect("realms") {
        let mut vlobs = BTreeMap::new();
        for v in r["vlobs"].as_array().expect("vlobs") {
            let mut versions: Vec<Version> = v["versions"]
                .as_array()
                .expect("versions")
                .iter()
                .map(|x| Version {
                    version: x["version"].as_u64().unwrap(),
                    timestamp: micros(x["timestamp"].as_str().unwrap()),
                    author: x["author"].as_str().unwrap().to_owned(),
                    key_index: x["key_index"].as_u64().unwrap(),
                    kind: x["type"].as_str().unwrap().to_owned(),
                    parent: x["parent"].as_str().unwrap().to_owned(),
                    children: x["children"]
                        .as_object()
                        .map(|c| {
                            c.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                                .collect()
                        })
                        .unwrap_or_default(),
                    size: x["size"].as_u64(),
                    sha256: x["sha256"].as_str().map(str::to_owned),
                })
                .collect();
            versions.sort_by_key(|v| v.timestamp);
            vlobs.insert(v["vlob_id"].as_str().unwrap().to_owned(), versions);
        }
        let rotations = r["rotations"]
            .as_array()
            .expect("rotations")
            .iter()
            .map(|x| {
                (
                    x["key_index"].as_u64().unwrap(),
                    x["services"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s.as_str().unwrap().to_owned())
                        .collect(),
                )
            })
            .collect();
        out.push(Realm {
            id: r["realm_id"].as_str().unwrap().to_owned(),
            vlobs,
            rotations,
        });
    }
    out
}

impl Realm {
    /// Keys a service reads: bundle N opens keys 1…N (reference §3.7).
    pub fn readable(&self, service: &str) -> BTreeSet<u64> {
        let top = self
            .rotations
            .iter()
            .filter(|(_, s)| s.iter().any(|x| x == service))
            .map(|(k, _)| *k)
            .max()
            .unwrap_or(0);
        (1..=top).collect()
    }

    fn at(&self, vlob: &str, t: i64) -> Option<&Version> {
        self.vlobs
            .get(vlob)?
            .iter()
            .rev()
            .find(|v| v.timestamp <= t)
    }

    /// (path, vlob, version, line) of the tree at `t`.
    fn resolve(&self, t: i64, keys: &BTreeSet<u64>) -> Vec<(String, String, u64, String)> {
        let mut out = Vec::new();
        let Some(root) = self.at(&self.id, t) else {
            return out;
        };
        let mut stack = vec![("/".to_owned(), self.id.clone(), root)];
        while let Some((path, id, v)) = stack.pop() {
            let readable = keys.contains(&v.key_index);
            let line = describe(v, readable);
            out.push((path.clone(), id.clone(), v.version, line));
            if !readable || v.kind != "folder" {
                continue;
            }
            for (name, child) in &v.children {
                let Some(cv) = self.at(child, t) else {
                    continue;
                };
                if keys.contains(&cv.key_index) && cv.parent != id {
                    continue;
                }
                let p = if path == "/" {
                    format!("/{name}")
                } else {
                    format!("{path}/{name}")
                };
                stack.push((p, child.clone(), cv));
            }
        }
        out
    }

    /// The (path, type, size, sha256) lines of the tree at `t`, tab-separated, sorted.
    pub fn tree(&self, t: i64, keys: &BTreeSet<u64>) -> Vec<String> {
        let mut lines: Vec<String> = self
            .resolve(t, keys)
            .into_iter()
            .map(|(p, _, _, l)| format!("{}\t{l}", table_path(&p)))
            .collect();
        lines.sort();
        lines
    }

    /// `history.tsv` lines (without the header), sorted.
    pub fn history(&self, snapshot: i64, keys: &BTreeSet<u64>) -> Vec<String> {
        let times: BTreeSet<i64> = self
            .vlobs
            .values()
            .flatten()
            .map(|v| v.timestamp)
            .filter(|t| *t <= snapshot)
            .collect();
        let mut paths: BTreeMap<(String, u64), Vec<String>> = BTreeMap::new();
        for t in times {
            for (p, id, version, _) in self.resolve(t, keys) {
                let e = paths.entry((id, version)).or_default();
                if !e.contains(&p) {
                    e.push(p);
                }
            }
        }
        let mut lines = Vec::new();
        for (id, versions) in &self.vlobs {
            for v in versions.iter().filter(|v| v.timestamp <= snapshot) {
                let p = paths
                    .get(&(id.clone(), v.version))
                    .map_or("-".to_owned(), |p| {
                        p.iter()
                            .map(|x| table_path(x))
                            .collect::<Vec<_>>()
                            .join("|")
                    });
                lines.push(format!(
                    "{id}\t{}\t{}\t{}\t{p}\t{}",
                    v.version,
                    format_timestamp(v.timestamp),
                    v.author,
                    describe(v, keys.contains(&v.key_index))
                ));
            }
        }
        lines.sort();
        lines
    }

    /// A few instants across the history: the first root version, quartiles, the snapshot.
    pub fn instants(&self, snapshot: i64) -> Vec<i64> {
        let first = self.vlobs[&self.id][0].timestamp;
        let times: Vec<i64> = self
            .vlobs
            .values()
            .flatten()
            .map(|v| v.timestamp)
            .filter(|t| *t >= first && *t <= snapshot)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut out: Vec<i64> = [0, times.len() / 4, times.len() / 2, 3 * times.len() / 4]
            .iter()
            .filter_map(|&i| times.get(i).copied())
            .collect();
        out.push(snapshot);
        out.dedup();
        out
    }
}

/// The (type, size, sha256) of one version, tab-separated (a folder's size is its number of children).
fn describe(v: &Version, readable: bool) -> String {
    if !readable {
        return "error\t-\t-".into();
    }
    match v.kind.as_str() {
        "folder" => format!("folder\t{}\t-", v.children.len()),
        _ => format!(
            "file\t{}\t{}",
            v.size.expect("file size"),
            v.sha256.as_deref().expect("file sha256")
        ),
    }
}
