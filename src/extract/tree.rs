//! The tree at T (reference §6): each vlob's version in force at T (greatest timestamp ≤ T),
//! decrypted and checked (§6.1, with the author checks of §7 #13), children kept only where
//! their own `parent` names the folder listing them (§6.3).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use uuid::Uuid;

use super::failure::Failure;
use super::keys::RealmKeys;
use super::names;
use super::org::{author_problem, Org};
use super::source::{Source, VlobRow};
use crate::ids::{format_timestamp, Micros};
use crate::parsec::manifests::{self, FileManifest, Manifest};
use crate::parsec::DataError;

/// Every vlob's rows, sorted by timestamp.
pub struct Versions {
    pub by_vlob: HashMap<Uuid, Vec<VlobRow>>,
    pub failures: Vec<Failure>,
}

impl Versions {
    pub fn new(rows: Vec<VlobRow>, bad_rows: &[i64]) -> Self {
        let mut by_vlob: HashMap<Uuid, Vec<VlobRow>> = HashMap::new();
        for row in rows {
            by_vlob.entry(row.vlob_id).or_default().push(row);
        }
        let mut failures: Vec<Failure> = bad_rows
            .iter()
            .map(|seq| {
                Failure::global(
                    "vlob_row",
                    format!("`vlob_atom` sequential_id {seq} has columns of the wrong type or size: ignored"),
                )
            })
            .collect();
        let mut ids: Vec<&Uuid> = by_vlob.keys().collect();
        ids.sort();
        let ids: Vec<Uuid> = ids.into_iter().copied().collect();
        for id in ids {
            let rows = by_vlob.get_mut(&id).unwrap_or_else(|| unreachable!());
            rows.sort_by_key(|r| (r.timestamp, r.version));
            rows.shrink_to_fit();
            for pair in rows.windows(2) {
                if pair[1].version <= pair[0].version || pair[1].timestamp == pair[0].timestamp {
                    failures.push(Failure::vlob(
                        "versions_order",
                        id,
                        pair[1].version,
                        format!(
                            "version {} at {} follows version {} at {}: versions do not increase with time",
                            pair[1].version,
                            format_timestamp(pair[1].timestamp),
                            pair[0].version,
                            format_timestamp(pair[0].timestamp)
                        ),
                    ));
                }
            }
        }
        Versions { by_vlob, failures }
    }

    pub fn at(&self, vlob: Uuid, t: Micros) -> Option<&VlobRow> {
        let rows = self.by_vlob.get(&vlob)?;
        let n = rows.partition_point(|r| r.timestamp <= t);
        n.checked_sub(1).map(|i| &rows[i])
    }
}

/// One vlob version, decoded and checked.
pub struct Decoded {
    pub manifest: Result<Manifest, Failure>,
    /// A failed author check (§7 #13): the version is still used.
    pub author_problem: Option<Failure>,
    /// SHA-256 of the row's blob, when it could be read (`file_again`).
    pub blob_sha256: Option<[u8; 32]>,
}

pub struct Decoder<'a> {
    pub source: &'a Source,
    pub org: &'a Org,
    pub keys: &'a RealmKeys,
    cache: RefCell<HashMap<i64, Rc<Decoded>>>,
}

impl<'a> Decoder<'a> {
    pub fn new(source: &'a Source, org: &'a Org, keys: &'a RealmKeys) -> Self {
        Decoder {
            source,
            org,
            keys,
            cache: RefCell::new(HashMap::new()),
        }
    }

    pub fn decode(&self, row: &VlobRow) -> Rc<Decoded> {
        if let Some(d) = self.cache.borrow().get(&row.sequential_id) {
            return d.clone();
        }
        let decoded = Rc::new(self.decode_uncached(row));
        self.cache
            .borrow_mut()
            .insert(row.sequential_id, decoded.clone());
        decoded
    }

    /// Empties the cache (the plan holds what it needs of it).
    pub fn forget(&self) {
        *self.cache.borrow_mut() = HashMap::new();
    }

    /// The version for its last use, out of the cache: a history decodes every version,
    /// and the cache would otherwise hold them all until the end of the run.
    pub fn take(&self, row: &VlobRow) -> Rc<Decoded> {
        let cached = self.cache.borrow_mut().remove(&row.sequential_id);
        cached.unwrap_or_else(|| Rc::new(self.decode_uncached(row)))
    }

    fn decode_uncached(&self, row: &VlobRow) -> Decoded {
        let mut blob_sha256 = None;
        Decoded {
            manifest: self.manifest(row, &mut blob_sha256),
            blob_sha256,
            author_problem: author_problem(self.org, row.author, row.timestamp).map(|why| {
                Failure::vlob(
                    "author_not_allowed",
                    row.vlob_id,
                    row.version,
                    format!(
                        "its author could not write at {}: {why}",
                        format_timestamp(row.timestamp)
                    ),
                )
            }),
        }
    }

    /// A file version `take` decoded and checked, read again for its blocks (`--history`
    /// keeps none in memory): the very same blob (its SHA-256 compared) has the same
    /// signature, so it is not verified twice. `None` if the blob changed.
    pub fn file_again(&self, row: &VlobRow, blob_sha256: &[u8; 32]) -> Option<FileManifest> {
        let (key, blob) = self.key_and_blob(row).ok()?;
        if sha256(&blob) != *blob_sha256 {
            return None;
        }
        match manifests::Manifest::decrypt(&blob, key, row.vlob_id)
            .ok()?
            .manifest
        {
            Manifest::File(f) => Some(f),
            Manifest::Folder(_) => None,
        }
    }

    /// The realm key of the row's key index, and the row's blob.
    fn key_and_blob(&self, row: &VlobRow) -> Result<(&[u8; 32], Vec<u8>), Failure> {
        let fail = |check, why: String| Failure::vlob(check, row.vlob_id, row.version, why);
        let key = self.keys.get(row.key_index).map_err(|f| Failure {
            check: f.check,
            ..fail("", f.reason)
        })?;
        let blob = self
            .source
            .vlob_blob(row.sequential_id)
            .map_err(|e| fail("vlob_row", format!("cannot read its blob: {e}")))?;
        Ok((key, blob))
    }

    fn manifest(
        &self,
        row: &VlobRow,
        blob_sha256: &mut Option<[u8; 32]>,
    ) -> Result<Manifest, Failure> {
        let fail = |check, why: String| Failure::vlob(check, row.vlob_id, row.version, why);
        let (key, blob) = self.key_and_blob(row)?;
        *blob_sha256 = Some(sha256(&blob));
        let unverified = manifests::Manifest::decrypt(&blob, key, row.vlob_id).map_err(|e| {
            let check = match e {
                DataError::WrongKey(_) => "cannot_decrypt",
                DataError::InvalidEntryName { .. } => "name_invalid",
                _ => "manifest_invalid",
            };
            fail(check, e.to_string())
        })?;
        let Some(device) = self.org.devices.get(&row.author) else {
            return Err(fail(
                "unknown_author",
                format!(
                    "its author, device {}, has no (valid) device certificate",
                    row.author.simple()
                ),
            ));
        };
        let check_row = manifests::VlobRow {
            vlob_id: row.vlob_id,
            version: row.version,
            author: row.author,
            timestamp: row.timestamp,
            realm_id: self.source.info.realm_id,
        };
        unverified.verify(&device.key, &check_row).map_err(|e| {
            let check = match e {
                DataError::BadSignature(_) => "bad_signature",
                _ => "manifest_invalid",
            };
            fail(check, e.to_string())
        })
    }
}

#[derive(Clone)]
pub enum Kind {
    Folder {
        children: usize,
    },
    /// Shared with the plan and the content phase (one copy per version).
    File(Arc<FileManifest>),
    Error,
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Folder { .. } => "folder",
            Kind::File(_) => "file",
            Kind::Error => "error",
        }
    }
}

/// One entry of the tree at T.
#[derive(Clone)]
pub struct Node {
    /// Entry names from the root joined with `/` (empty for the root): a name never holds a
    /// `/` (`EntryName`), and one string per node instead of one per name and level was a
    /// third of a deep tree's memory.
    pub names: String,
    /// The same, as written on disk (see `names`).
    pub disk: String,
    pub row: VlobRow,
    pub kind: Kind,
    /// `updated` of the manifest (the mtime).
    pub updated: Option<Micros>,
    pub failures: Vec<Failure>,
}

impl Node {
    pub fn path(&self) -> String {
        format!("/{}", self.names)
    }
}

/// The entry names of a joined path, in order (none for the root): the tree's sort order
/// is by names, not by the joined string (`a b` sorts after `a/b`'s `a`).
fn components(joined: &str) -> impl Iterator<Item = &str> {
    joined
        .split('/')
        .take(if joined.is_empty() { 0 } else { usize::MAX })
}

fn child_path(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}/{name}")
    }
}

/// What a decoded version is, its mtime, and its failures.
pub fn describe(decoded: &Decoded) -> (Kind, Option<Micros>, Vec<Failure>) {
    let kind = match &decoded.manifest {
        Ok(Manifest::Folder(f)) => Kind::Folder {
            children: f.children.len(),
        },
        Ok(Manifest::File(f)) => Kind::File(Arc::new(f.clone())),
        Err(_) => Kind::Error,
    };
    let (updated, failures) = checked(decoded);
    (kind, updated, failures)
}

/// A version's `updated` time, and its failures: the manifest's, then the author's.
pub fn checked(decoded: &Decoded) -> (Option<Micros>, Vec<Failure>) {
    let updated = decoded.manifest.as_ref().ok().map(|m| m.header().updated);
    let failures = decoded
        .manifest
        .as_ref()
        .err()
        .into_iter()
        .chain(&decoded.author_problem)
        .cloned()
        .collect();
    (updated, failures)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    <sha2::Sha256 as sha2::Digest>::digest(bytes).into()
}

fn node(names: String, disk: String, row: VlobRow, decoded: &Decoded) -> Node {
    let (kind, updated, failures) = describe(decoded);
    let path = format!("/{names}");
    let failures = failures.into_iter().map(|f| f.at(&path)).collect();
    Node {
        names,
        disk,
        row,
        kind,
        updated,
        failures,
    }
}

/// The tree at `t`, parents before children; `None` when the root has no version at `t`.
pub fn resolve(dec: &Decoder, versions: &Versions, t: Micros) -> Option<Vec<Node>> {
    let realm = dec.source.info.realm_id;
    let root_row = *versions.at(realm, t)?;
    let mut out = vec![node(
        String::new(),
        String::new(),
        root_row,
        &dec.decode(&root_row),
    )];
    // (index in out, ancestors' ids)
    let mut stack = vec![(0usize, vec![realm])];
    while let Some((index, ancestors)) = stack.pop() {
        let parent_row = out[index].row;
        let decoded = dec.decode(&parent_row);
        let Ok(Manifest::Folder(folder)) = &decoded.manifest else {
            continue;
        };
        let mut visible = Vec::new();
        for (name, child_id) in &folder.children {
            if ancestors.contains(child_id) {
                continue;
            }
            let Some(row) = versions.at(*child_id, t) else {
                continue; // Listed before it was uploaded: hidden (§6.3).
            };
            let child = dec.decode(row);
            if let Ok(m) = &child.manifest {
                if m.header().parent != parent_row.vlob_id {
                    continue; // Moved away: the old parent version still lists it.
                }
            }
            visible.push((name.as_str().to_owned(), *row, child));
        }
        let disk_names = names::assign(&visible.iter().map(|v| v.0.as_str()).collect::<Vec<_>>());
        for ((name, row, child), disk) in visible.into_iter().zip(disk_names) {
            let n = child_path(&out[index].names, &name);
            let d = child_path(&out[index].disk, &disk);
            let is_folder = matches!(child.manifest, Ok(Manifest::Folder(_)));
            out.push(node(n, d, row, &child));
            if is_folder {
                let mut a = ancestors.clone();
                a.push(row.vlob_id);
                stack.push((out.len() - 1, a));
            }
        }
    }
    out.sort_by(|a, b| components(&a.names).cmp(components(&b.names)));
    Some(out)
}
