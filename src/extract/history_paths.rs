//! The paths each vlob version had while in force (`--history`), the same as resolving the
//! tree (`tree::walk`) at every row timestamp, but kept up to date row after row: a new
//! version changes the paths of that vlob and, for a folder, of the children it adds,
//! drops or renames, and of their subtrees only when their paths change. Cost: the listings
//! and paths of the versions in force, instead of one whole tree per timestamp.
//!
//! Visibility is `tree::walk`'s (§6.3): the root has the path `/`; a child listed by a
//! folder in force counts there when it has a version in force whose manifest names that
//! folder as its `parent` (an undecodable one counts wherever it is listed); the root is
//! never a child. Only folders recurse.
//!
//! Each row is decoded once, here: only the versions in force keep their listing, parent and
//! description; a version's description (`Described`) goes to the sink, with its paths, as
//! soon as a newer version replaces it (the rest at the end). Memory grows with the vlobs,
//! not with the versions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

use super::source::VlobRow;
use super::tree::{Decoded, Decoder, Described};
use super::versions::Versions;
use crate::ids::Micros;
use crate::parsec::manifests::Manifest;

/// A path: `/` then each entry name from the root (names never hold a `/`), the root
/// itself empty. Joined, not a vector of names: a deep tree held one string per name and
/// level. Sorted as its names are (`by_names`).
type Joined = String;

/// A folder version's children (root excluded) and the names they are listed under.
type Listing = BTreeMap<Uuid, Vec<String>>;

/// A vlob's version in force.
struct Current {
    row: VlobRow,
    /// `None`: undecodable (it counts wherever it is listed).
    parent: Option<Uuid>,
    /// Its children (a folder's), names in `State::listed`.
    children: Vec<Uuid>,
    /// Paths added while it is in force.
    described: Described,
}

/// Receives every row up to `until`, described with its paths, in no particular order.
pub type Sink<'s> = &'s mut dyn FnMut(&VlobRow, Described);

/// Every row up to `until`, described with its paths, to `sink`.
pub fn paths(
    dec: &Decoder,
    versions: &Versions,
    until: Micros,
    sink: Sink,
) -> rusqlite::Result<()> {
    let mut state = State {
        dec,
        realm: dec.source.info.realm_id,
        current: HashMap::new(),
        listed: HashMap::new(),
        paths: HashMap::new(),
        sink,
    };
    // By (timestamp, vlob, version): of one vlob's rows at one timestamp, the last is the
    // one in force (`Versions::at`).
    versions.each_instant(until, &mut |rows| state.apply(rows))?;
    for (_, c) in state.current.drain() {
        (state.sink)(&c.row, c.described);
    }
    Ok(())
}

struct State<'a, 'd, 's> {
    dec: &'a Decoder<'d>,
    realm: Uuid,
    current: HashMap<Uuid, Current>,
    /// child → (folder in force listing it, the names it is listed under), sorted by folder:
    /// almost always one (a map per child was a fifth of a history's memory).
    listed: HashMap<Uuid, Vec<(Uuid, Vec<String>)>>,
    /// Each vlob's paths now (sorted by names); absent: none.
    paths: HashMap<Uuid, Vec<Joined>>,
    sink: Sink<'s>,
}

impl State<'_, '_, '_> {
    /// The rows of one timestamp.
    fn apply(&mut self, rows: &[VlobRow]) {
        let mut dirty: BTreeSet<Uuid> = BTreeSet::new();
        let mut touched: BTreeSet<Uuid> = BTreeSet::new();
        for row in rows {
            let decoded = self.dec.decode(row);
            let parent = decoded.manifest.as_ref().ok().map(|m| m.header().parent);
            let after = self.listing(&decoded);
            // Its names are in `listed`: only the ids are kept here.
            let now = Current {
                row: *row,
                parent,
                children: after.keys().copied().collect(),
                described: Described::new(&decoded),
            };
            let old_children = match self.current.insert(row.vlob_id, now) {
                Some(old) => {
                    // Replaced: its paths are final.
                    (self.sink)(&old.row, old.described);
                    old.children
                }
                None => Vec::new(),
            };
            let mut before = Listing::new();
            for child in old_children {
                if let Some(by) = self.listed.get_mut(&child) {
                    if let Some(i) = by.iter().position(|(f, _)| *f == row.vlob_id) {
                        before.insert(child, by.remove(i).1);
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
                let by = self.listed.entry(child).or_default();
                match by.binary_search_by_key(&row.vlob_id, |(f, _)| *f) {
                    Ok(i) => by[i].1 = names,
                    Err(i) => by.insert(i, (row.vlob_id, names)),
                }
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

    fn compute(&self, id: Uuid) -> Vec<Joined> {
        let Some(current) = self.current.get(&id) else {
            return Vec::new();
        };
        if id == self.realm {
            return vec![String::new()];
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
                    out.push(format!("{base}/{name}"));
                }
            }
        }
        out.sort_by(|a, b| by_names(a, b));
        out
    }

    /// Adds `id`'s paths now to its version in force, the new ones in tree order.
    fn record(&mut self, id: Uuid) {
        let (Some(current), Some(now)) = (self.current.get_mut(&id), self.paths.get(&id)) else {
            return;
        };
        let list = &mut current.described.paths;
        for p in now {
            let p = if p.is_empty() { "/" } else { p.as_str() };
            if !list.iter().any(|q| q == p) {
                list.push(p.to_owned());
            }
        }
    }
}

/// Paths compared name by name (as vectors of names would be): `/a b` after `/a/x`.
fn by_names(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}
