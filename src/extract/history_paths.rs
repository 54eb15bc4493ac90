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
//! Each row is decoded once, here. The state of the versions in force (their description,
//! parent, listing, paths now and paths so far) is in a scratch SQLite database
//! (`spool::scratch_database`), not in memory: it grows with the vlobs, and was about
//! 1.9 KiB per vlob in memory. A version's description (`Described`) goes to the sink, with
//! its paths, as soon as a newer version replaces it (the rest at the end).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::source::VlobRow;
use super::spool::scratch_database;
use super::tree::{Decoded, Decoder, Described};
use super::versions::Versions;
use crate::ids::Micros;
use crate::parsec::manifests::Manifest;

/// A path: `/` then each entry name from the root (names never hold a `/`), the root
/// itself empty. Sorted as its names are (`by_names`).
type Joined = String;

/// A folder version's children (root excluded) and the names they are listed under.
type Listing = BTreeMap<Uuid, Vec<String>>;

/// Receives every row up to `until`, described with its paths, in no particular order.
pub type Sink<'s> = &'s mut dyn FnMut(&VlobRow, Described);

/// - `cur`: each vlob's version in force, its parent (NULL: undecodable, it counts wherever
///   it is listed) and its description without paths;
/// - `lst`: the listings of the folder versions in force (folder, child, name);
/// - `pth`: each vlob's paths now (none: not reachable);
/// - `seen`: the paths each version in force has had, in order of first appearance.
///
/// Every query follows an index (no sort in SQLite's own temporary files).
const SCHEMA: &str = "
    CREATE TABLE cur (vlob BLOB PRIMARY KEY, seq INTEGER NOT NULL, version INTEGER NOT NULL,
                      key_index INTEGER NOT NULL, author BLOB NOT NULL, ts INTEGER NOT NULL,
                      parent BLOB, described TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE lst (folder BLOB, child BLOB, name TEXT, PRIMARY KEY (folder, child, name))
        WITHOUT ROWID;
    CREATE INDEX lst_child ON lst (child, folder, name);
    CREATE TABLE pth (vlob BLOB, path TEXT, PRIMARY KEY (vlob, path)) WITHOUT ROWID;
    CREATE TABLE seen (n INTEGER PRIMARY KEY, vlob BLOB NOT NULL, path TEXT NOT NULL);
    CREATE UNIQUE INDEX seen_path ON seen (vlob, path);
    CREATE INDEX seen_order ON seen (vlob, n);";

const CUR: &str =
    "SELECT vlob, seq, version, key_index, author, ts, parent, described FROM cur WHERE vlob = ?1";
const ALL_CUR: &str =
    "SELECT vlob, seq, version, key_index, author, ts, parent, described FROM cur ORDER BY vlob";
const LISTING: &str = "SELECT child, name FROM lst WHERE folder = ?1 ORDER BY child, name";
const LISTED: &str = "SELECT folder, name FROM lst WHERE child = ?1 ORDER BY folder, name";
const PATHS: &str = "SELECT path FROM pth WHERE vlob = ?1 ORDER BY path";
const SEEN: &str = "SELECT path FROM seen WHERE vlob = ?1 ORDER BY n";

/// Every row up to `until`, described with its paths, to `sink`; the state in `dir` (or in
/// SQLite's private temporary database).
pub fn paths(
    dec: &Decoder,
    versions: &Versions,
    until: Micros,
    dir: Option<&Path>,
    sink: Sink,
) -> rusqlite::Result<()> {
    let conn = scratch_database(dir, "paths.sqlite")?;
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch("BEGIN")?;
    let mut state = State {
        dec,
        realm: dec.source.info.realm_id,
        conn: &conn,
        sink,
    };
    // By (timestamp, vlob, version): of one vlob's rows at one timestamp, the last is the
    // one in force (`Versions::at`).
    versions.each_instant(until, &mut |rows| state.apply(rows))?;
    let mut stmt = conn.prepare(ALL_CUR)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (row, described) = state.current(r)?;
        (state.sink)(&row, described);
    }
    Ok(())
}

fn id(bytes: [u8; 16]) -> Uuid {
    Uuid::from_bytes(bytes)
}

fn json_error(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

struct State<'a, 'd, 's> {
    dec: &'a Decoder<'d>,
    realm: Uuid,
    conn: &'a Connection,
    sink: Sink<'s>,
}

impl State<'_, '_, '_> {
    /// A `cur` row, with the paths it has had.
    fn current(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<(VlobRow, Described)> {
        let vlob = id(r.get(0)?);
        let row = VlobRow {
            vlob_id: vlob,
            sequential_id: r.get(1)?,
            version: r.get(2)?,
            key_index: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(u64::MAX),
            author: id(r.get(4)?),
            timestamp: r.get(5)?,
        };
        let mut described: Described =
            serde_json::from_str(&r.get::<_, String>(7)?).map_err(json_error)?;
        let mut stmt = self.conn.prepare_cached(SEEN)?;
        let seen = stmt.query_map([vlob.as_bytes().as_slice()], |r| r.get(0))?;
        described.paths = seen.collect::<rusqlite::Result<_>>()?;
        Ok((row, described))
    }

    /// The rows of one timestamp.
    fn apply(&mut self, rows: &[VlobRow]) -> rusqlite::Result<()> {
        let mut dirty: BTreeSet<Uuid> = BTreeSet::new();
        let mut touched: BTreeSet<Uuid> = BTreeSet::new();
        for row in rows {
            let vlob = row.vlob_id.as_bytes().as_slice();
            let decoded = self.dec.decode(row);
            let parent = decoded.manifest.as_ref().ok().map(|m| m.header().parent);
            let after = self.listing(&decoded);
            let old = self
                .conn
                .prepare_cached(CUR)?
                .query_row([vlob], |r| self.current(r))
                .optional()?;
            if let Some((old_row, described)) = old {
                // Replaced: its paths are final.
                (self.sink)(&old_row, described);
                self.conn
                    .prepare_cached("DELETE FROM seen WHERE vlob = ?1")?
                    .execute([vlob])?;
            }
            let described = serde_json::to_string(&Described::new(&decoded)).map_err(json_error)?;
            self.conn
                .prepare_cached("REPLACE INTO cur VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?
                .execute(params![
                    vlob,
                    row.sequential_id,
                    row.version,
                    i64::try_from(row.key_index).unwrap_or(i64::MAX),
                    row.author.as_bytes().as_slice(),
                    row.timestamp,
                    parent.as_ref().map(|p| p.as_bytes().as_slice()),
                    described
                ])?;
            let mut before = Listing::new();
            {
                let mut stmt = self.conn.prepare_cached(LISTING)?;
                let mut listed = stmt.query([vlob])?;
                while let Some(r) = listed.next()? {
                    before.entry(id(r.get(0)?)).or_default().push(r.get(1)?);
                }
            }
            // Only the changes are written: a folder version usually adds or drops one child.
            let mut delete = self
                .conn
                .prepare_cached("DELETE FROM lst WHERE folder = ?1 AND child = ?2")?;
            for (child, names) in &before {
                if after.get(child) != Some(names) {
                    dirty.insert(*child);
                    delete.execute(params![vlob, child.as_bytes().as_slice()])?;
                }
            }
            let mut insert = self
                .conn
                .prepare_cached("INSERT INTO lst VALUES (?1, ?2, ?3)")?;
            for (child, names) in after {
                if before.get(&child) == Some(&names) {
                    continue;
                }
                dirty.insert(child);
                for name in names {
                    insert.execute(params![vlob, child.as_bytes().as_slice(), name])?;
                }
            }
            dirty.insert(row.vlob_id);
            touched.insert(row.vlob_id);
        }
        for id in dirty {
            self.refresh(id, &mut touched)?;
        }
        for id in touched {
            self.record(id)?;
        }
        Ok(())
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

    /// `id`'s paths now, sorted by names.
    fn paths_now(&self, id: Uuid) -> rusqlite::Result<Vec<Joined>> {
        let mut stmt = self.conn.prepare_cached(PATHS)?;
        let rows = stmt.query_map([id.as_bytes().as_slice()], |r| r.get(0))?;
        let mut out = rows.collect::<rusqlite::Result<Vec<Joined>>>()?;
        out.sort_by(|a, b| by_names(a, b));
        Ok(out)
    }

    /// Recomputes `id`'s paths, then its subtree's where they changed.
    fn refresh(&mut self, id: Uuid, touched: &mut BTreeSet<Uuid>) -> rusqlite::Result<()> {
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            let new = self.compute(id)?;
            if new == self.paths_now(id)? {
                continue;
            }
            touched.insert(id);
            let key = id.as_bytes().as_slice();
            self.conn
                .prepare_cached("DELETE FROM pth WHERE vlob = ?1")?
                .execute([key])?;
            let mut insert = self
                .conn
                .prepare_cached("INSERT OR IGNORE INTO pth VALUES (?1, ?2)")?;
            for p in &new {
                insert.execute(params![key, p])?;
            }
            // Its children now (the listing of its version in force).
            let mut stmt = self.conn.prepare_cached(LISTING)?;
            let mut children = stmt.query([key])?;
            while let Some(r) = children.next()? {
                let child = id_of(r)?;
                if stack.last() != Some(&child) {
                    stack.push(child);
                }
            }
        }
        Ok(())
    }

    fn compute(&self, id: Uuid) -> rusqlite::Result<Vec<Joined>> {
        let key = id.as_bytes().as_slice();
        let parent: Option<Option<[u8; 16]>> = self
            .conn
            .prepare_cached("SELECT parent FROM cur WHERE vlob = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        let Some(parent) = parent else {
            return Ok(Vec::new());
        };
        if id == self.realm {
            return Ok(vec![String::new()]);
        }
        let parent = parent.map(Uuid::from_bytes);
        let mut out = Vec::new();
        let mut stmt = self.conn.prepare_cached(LISTED)?;
        let mut by = stmt.query([key])?;
        while let Some(r) = by.next()? {
            let folder = id_of(r)?;
            let name: String = r.get(1)?;
            if parent.is_some_and(|p| p != folder) {
                continue;
            }
            for base in self.paths_now(folder)? {
                out.push(format!("{base}/{name}"));
            }
        }
        out.sort_by(|a, b| by_names(a, b));
        Ok(out)
    }

    /// Adds `id`'s paths now to its version in force, the new ones in tree order.
    fn record(&mut self, id: Uuid) -> rusqlite::Result<()> {
        // `id` has a version in force: it was just written, or it had paths (only a vlob in
        // force has some), and `cur` rows are never deleted.
        let key = id.as_bytes().as_slice();
        let mut insert = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO seen (vlob, path) VALUES (?1, ?2)")?;
        for p in self.paths_now(id)? {
            let p = if p.is_empty() { "/" } else { p.as_str() };
            insert.execute(params![key, p])?;
        }
        Ok(())
    }
}

fn id_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Uuid> {
    Ok(id(r.get(0)?))
}

/// Paths compared name by name (as vectors of names would be): `/a b` after `/a/x`.
fn by_names(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_query_sorts_outside_the_indexes() {
        for sql in [CUR, ALL_CUR, LISTING, LISTED, PATHS, SEEN] {
            let plan = crate::extract::spool::query_plan(SCHEMA, sql);
            assert!(
                plan.iter().all(|step| !step.contains("TEMP B-TREE")),
                "{sql}: {plan:?}"
            );
        }
    }
}
