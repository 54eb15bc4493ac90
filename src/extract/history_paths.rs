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

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

use super::source::VlobRow;
use super::tree::{Decoder, Versions};
use crate::ids::Micros;
use crate::parsec::manifests::Manifest;

/// A path as entry names from the root.
type Names = Vec<String>;

/// `sequential_id` → the version's paths, in order of first appearance (within one
/// timestamp, in tree order).
pub fn paths(dec: &Decoder, versions: &Versions, until: Micros) -> HashMap<i64, Vec<String>> {
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
        recorded: HashMap::new(),
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
    state
        .recorded
        .into_iter()
        .map(|(seq, list)| {
            let list = list.into_iter().map(|n| format!("/{}", n.join("/")));
            (seq, list.collect())
        })
        .collect()
}

struct State<'a, 'd> {
    dec: &'a Decoder<'d>,
    realm: Uuid,
    /// Each vlob's version in force.
    current: HashMap<Uuid, VlobRow>,
    /// child → folder in force listing it → the names it is listed under.
    listed: HashMap<Uuid, BTreeMap<Uuid, Vec<String>>>,
    /// Each vlob's paths now (sorted); absent: none.
    paths: HashMap<Uuid, Vec<Names>>,
    /// What `paths` returns, as names.
    recorded: HashMap<i64, Vec<Names>>,
}

impl State<'_, '_> {
    /// The rows of one timestamp.
    fn apply(&mut self, rows: &[&VlobRow]) {
        let mut dirty: BTreeSet<Uuid> = BTreeSet::new();
        let mut touched: BTreeSet<Uuid> = BTreeSet::new();
        for row in rows {
            let old = self.current.insert(row.vlob_id, **row);
            let before = old.map(|r| self.listing(&r)).unwrap_or_default();
            let after = self.listing(row);
            for (child, names) in &before {
                if after.get(child) != Some(names) {
                    dirty.insert(*child);
                }
                if let Some(by) = self.listed.get_mut(child) {
                    by.remove(&row.vlob_id);
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
    fn listing(&self, row: &VlobRow) -> BTreeMap<Uuid, Vec<String>> {
        let mut out: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
        if let Ok(Manifest::Folder(f)) = &self.dec.decode(row).manifest {
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
            if let Some(row) = self.current.get(&id) {
                stack.extend(self.listing(row).into_keys());
            }
        }
    }

    fn compute(&self, id: Uuid) -> Vec<Names> {
        let Some(row) = self.current.get(&id) else {
            return Vec::new();
        };
        if id == self.realm {
            return vec![Vec::new()];
        }
        let Some(by) = self.listed.get(&id) else {
            return Vec::new();
        };
        let parent = match &self.dec.decode(row).manifest {
            Ok(m) => Some(m.header().parent),
            Err(_) => None,
        };
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
        let (Some(row), Some(now)) = (self.current.get(&id), self.paths.get(&id)) else {
            return;
        };
        let list = self.recorded.entry(row.sequential_id).or_default();
        for p in now {
            if !list.contains(p) {
                list.push(p.clone());
            }
        }
    }
}
