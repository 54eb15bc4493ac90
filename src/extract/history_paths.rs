//! The paths each vlob version had while in force (`--history`), the same as resolving the
//! tree (`tree::resolve`) at every row timestamp, but kept up to date row after row: a new
//! version changes the paths of that vlob and, for a folder, of the children it adds,
//! drops or renames, and of their subtrees only when their paths change. Cost: the rows,
//! the folder listings, and the paths that change, instead of one whole tree per timestamp.
//!
//! Visibility is `tree::resolve`'s (§6.3): the root has the path `/`; a child listed by a
//! folder in force counts there when it has a version in force whose manifest names that
//! folder as its `parent` (an undecodable one counts wherever it is listed); the root is
//! never a child. Only folders recurse.
//!
//! Each row is decoded once, here: only the versions in force keep their listing and parent,
//! and what the plan needs of every row (`Described`) is handed over with its paths. Keeping
//! every decoded folder until the plan was half of a history's peak memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

use super::failure::Failure;
use super::source::VlobRow;
use super::tree::{self, Decoded, Decoder, Kind, Versions};
use crate::ids::Micros;
use crate::parsec::manifests::Manifest;

/// A path as entry names from the root.
type Names = Vec<String>;

/// A folder version's children (root excluded) and the names they are listed under.
type Listing = BTreeMap<Uuid, Vec<String>>;

/// One row as the plan needs it: `tree::describe`'s answer, and its paths.
pub struct Described {
    pub kind: Kind,
    pub updated: Option<Micros>,
    pub failures: Vec<Failure>,
    /// In order of first appearance (within one timestamp, in tree order); empty: never
    /// reachable.
    pub paths: Vec<String>,
}

impl Described {
    /// Without paths yet.
    pub fn new(decoded: &Decoded) -> Self {
        let (kind, updated, failures) = tree::describe(decoded);
        Described {
            kind,
            updated,
            failures,
            paths: Vec::new(),
        }
    }
}

/// A vlob's version in force.
struct Current {
    row: VlobRow,
    /// `None`: undecodable (it counts wherever it is listed).
    parent: Option<Uuid>,
    /// Its children (a folder's), names in `State::listed`.
    children: Vec<Uuid>,
}

/// `sequential_id` → the row described, with its paths, for every row up to `until`.
pub fn paths(dec: &Decoder, versions: &Versions, until: Micros) -> HashMap<i64, Described> {
    let mut rows: Vec<&VlobRow> = versions
        .by_vlob
        .values()
        .flatten()
        .filter(|r| r.timestamp <= until)
        .collect();
    // By vlob rows are sorted by (timestamp, version): the last one of a timestamp is the
    // one in force (`Versions::at`).
    rows.sort_by_key(|r| (r.timestamp, r.vlob_id, r.version));
    let mut state = State {
        dec,
        realm: dec.source.info.realm_id,
        current: HashMap::new(),
        listed: HashMap::new(),
        paths: HashMap::new(),
        described: HashMap::new(),
    };
    let mut i = 0;
    while i < rows.len() {
        let t = rows[i].timestamp;
        let mut end = i;
        while end < rows.len() && rows[end].timestamp == t {
            end += 1;
        }
        state.apply(&rows[i..end]);
        i = end;
    }
    state.described
}

struct State<'a, 'd> {
    dec: &'a Decoder<'d>,
    realm: Uuid,
    current: HashMap<Uuid, Current>,
    /// child → folder in force listing it → the names it is listed under.
    listed: HashMap<Uuid, BTreeMap<Uuid, Vec<String>>>,
    /// Each vlob's paths now (sorted); absent: none.
    paths: HashMap<Uuid, Vec<Names>>,
    /// What `paths` returns (paths joined as they come: names would hold twice the memory).
    described: HashMap<i64, Described>,
}

impl State<'_, '_> {
    /// The rows of one timestamp.
    fn apply(&mut self, rows: &[&VlobRow]) {
        let mut dirty: BTreeSet<Uuid> = BTreeSet::new();
        let mut touched: BTreeSet<Uuid> = BTreeSet::new();
        for row in rows {
            let decoded = self.dec.take(row);
            let parent = decoded.manifest.as_ref().ok().map(|m| m.header().parent);
            let after = self.listing(&decoded);
            self.described
                .insert(row.sequential_id, Described::new(&decoded));
            // Its names are in `listed`: only the ids are kept here.
            let now = Current {
                row: **row,
                parent,
                children: after.keys().copied().collect(),
            };
            let mut before = Listing::new();
            for child in self
                .current
                .insert(row.vlob_id, now)
                .map(|c| c.children)
                .unwrap_or_default()
            {
                if let Some(by) = self.listed.get_mut(&child) {
                    if let Some(names) = by.remove(&row.vlob_id) {
                        before.insert(child, names);
                    }
                    if by.is_empty() {
                        self.listed.remove(&child);
                    }
                }
            }
            for (child, names) in &before {
                if after.get(child) != Some(names) {
                    dirty.insert(*child);
                }
            }
            for (child, names) in after {
                if before.get(&child) != Some(&names) {
                    dirty.insert(child);
                }
                self.listed
                    .entry(child)
                    .or_default()
                    .insert(row.vlob_id, names);
            }
            dirty.insert(row.vlob_id);
            touched.insert(row.vlob_id);
        }
        for id in dirty {
            self.refresh(id, &mut touched);
        }
        for id in touched {
            self.record(id);
        }
    }

    /// Children of a folder version (root excluded) and their names; empty for the rest.
    fn listing(&self, decoded: &Decoded) -> Listing {
        let mut out = Listing::new();
        if let Ok(Manifest::Folder(f)) = &decoded.manifest {
            for (name, child) in &f.children {
                if *child != self.realm {
                    out.entry(*child)
                        .or_default()
                        .push(name.as_str().to_owned());
                }
            }
        }
        out
    }

    /// Recomputes `id`'s paths, then its subtree's where they changed.
    fn refresh(&mut self, id: Uuid, touched: &mut BTreeSet<Uuid>) {
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            let new = self.compute(id);
            let old = self.paths.get(&id).map_or(&[][..], Vec::as_slice);
            if new.as_slice() == old {
                continue;
            }
            touched.insert(id);
            if new.is_empty() {
                self.paths.remove(&id);
            } else {
                self.paths.insert(id, new);
            }
            if let Some(c) = self.current.get(&id) {
                stack.extend(c.children.iter().copied());
            }
        }
    }

    fn compute(&self, id: Uuid) -> Vec<Names> {
        let Some(current) = self.current.get(&id) else {
            return Vec::new();
        };
        if id == self.realm {
            return vec![Vec::new()];
        }
        let Some(by) = self.listed.get(&id) else {
            return Vec::new();
        };
        let parent = current.parent;
        let mut out = Vec::new();
        for (folder, names) in by {
            if parent.is_some_and(|p| p != *folder) {
                continue;
            }
            for base in self.paths.get(folder).into_iter().flatten() {
                for name in names {
                    let mut p = base.clone();
                    p.push(name.clone());
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    }

    /// Adds `id`'s paths now to its version in force, the new ones in tree order.
    fn record(&mut self, id: Uuid) {
        let (Some(current), Some(now)) = (self.current.get(&id), self.paths.get(&id)) else {
            return;
        };
        let Some(described) = self.described.get_mut(&current.row.sequential_id) else {
            return;
        };
        let list = &mut described.paths;
        for p in now {
            let p = format!("/{}", p.join("/"));
            if !list.contains(&p) {
                list.push(p);
            }
        }
    }
}
