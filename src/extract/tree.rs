//! The tree at T (reference §6): each vlob's version in force at T (greatest timestamp ≤ T),
//! decrypted and checked (§6.1, with the author checks of §7 #13), children kept only where
//! their own `parent` names the folder listing them (§6.3). The walk is depth first and
//! hands each entry to a sink as it finds it: what it holds is the current folders'
//! listings, not the tree (the entries are sorted on disk, `plan`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::failure::Failure;
use super::keys::RealmKeys;
use super::names;
use super::org::{author_problem, Org};
use super::source::{Source, VlobRow};
use super::spool::SortKey;
use super::versions::Versions;
use crate::ids::{format_timestamp, Micros};
use crate::parsec::manifests::{self, FileManifest, Manifest};
use crate::parsec::DataError;

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
}

impl<'a> Decoder<'a> {
    pub fn new(source: &'a Source, org: &'a Org, keys: &'a RealmKeys) -> Self {
        Decoder { source, org, keys }
    }

    /// Not cached: a version is decoded where it is used, and kept only as long as needed.
    pub fn decode(&self, row: &VlobRow) -> Decoded {
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

    /// A file version decoded and checked, read again for its blocks (the walks keep none
    /// in memory): the very same blob (its SHA-256, `Described::blob_sha256`, compared) has
    /// the same signature, so it is not verified twice.
    pub fn file_again(
        &self,
        row: &VlobRow,
        blob_sha256: Option<&str>,
    ) -> Result<FileManifest, Failure> {
        let same = || {
            let mut sha = [0u8; 32];
            base16ct::lower::decode(blob_sha256?, &mut sha).ok()?;
            let (key, blob) = self.key_and_blob(row).ok()?;
            if sha256(&blob) != sha {
                return None;
            }
            match manifests::Manifest::decrypt(&blob, key, row.vlob_id)
                .ok()?
                .manifest
            {
                Manifest::File(f) => Some(f),
                Manifest::Folder(_) => None,
            }
        };
        same().ok_or_else(|| {
            Failure::vlob(
                "manifest_invalid",
                row.vlob_id,
                row.version,
                "could not be read again identically for its content (the export file changed or could not be read during the run)",
            )
        })
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    Folder,
    File,
    Error,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Folder => "folder",
            Shape::File => "file",
            Shape::Error => "error",
        }
    }
}

/// One version as the report needs it, without its manifest (the content phase reads a
/// file's again, `Decoder::file_again`), and its paths.
#[derive(Debug, Serialize, Deserialize)]
pub struct Described {
    pub shape: Shape,
    /// Bytes of a file, children of a folder.
    pub size: Option<u64>,
    pub updated: Option<Micros>,
    /// A file's blob SHA-256 (hex), to read it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_sha256: Option<String>,
    /// The manifest's failure, then the author's.
    pub failures: Vec<Failure>,
    /// `/`, then entry names joined with `/`; in a history in order of first appearance
    /// (within one timestamp, in tree order); empty: never reachable.
    pub paths: Vec<String>,
}

impl Described {
    /// Without paths yet.
    pub fn new(decoded: &Decoded) -> Self {
        let (shape, size) = match &decoded.manifest {
            Ok(Manifest::Folder(f)) => (Shape::Folder, Some(f.children.len() as u64)),
            Ok(Manifest::File(f)) => (Shape::File, Some(f.size)),
            Err(_) => (Shape::Error, None),
        };
        let blob_sha256 = decoded
            .blob_sha256
            .filter(|_| shape == Shape::File)
            .map(|h| base16ct::lower::encode_string(&h));
        Described {
            shape,
            size,
            updated: decoded.manifest.as_ref().ok().map(|m| m.header().updated),
            blob_sha256,
            failures: decoded
                .manifest
                .as_ref()
                .err()
                .into_iter()
                .chain(&decoded.author_problem)
                .cloned()
                .collect(),
            paths: Vec::new(),
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    <sha2::Sha256 as sha2::Digest>::digest(bytes).into()
}

/// One entry of the tree at T.
#[derive(Debug, Serialize, Deserialize)]
pub struct Node {
    /// Below `files/`: the entry names escaped (`names`), joined with `/`.
    pub disk: String,
    /// Whether a name of its path (its own or a folder's above) was escaped or suffixed.
    pub escaped: bool,
    pub row: VlobRow,
    /// With its one path.
    pub described: Described,
}

/// The tree's order, by names (not by the joined string: `a b` sorts after `a/b`'s `a`):
/// a first byte (the root's key is not empty), then the names separated by NUL, which no
/// name holds and which sorts below every other byte.
pub struct PathKey(pub String);

impl SortKey for PathKey {
    fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.0.len() + 1);
        b.push(1);
        b.extend(self.0.bytes().map(|c| if c == b'/' { 0 } else { c }));
        b
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let names: Vec<u8> = bytes
            .get(1..)?
            .iter()
            .map(|&c| if c == 0 { b'/' } else { c })
            .collect();
        String::from_utf8(names).ok().map(PathKey)
    }
}

fn child_path(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}/{name}")
    }
}

/// A visible folder to walk into.
struct Pending {
    row: VlobRow,
    names: String,
    disk: String,
}

/// Walks the tree at `t`: each entry to `sink` (names joined with `/`, the root's empty, and
/// the node), in no particular order. `false` when the root has no version at `t`.
pub fn walk(
    dec: &Decoder,
    versions: &Versions,
    t: Micros,
    sink: &mut dyn FnMut(&str, Node),
) -> rusqlite::Result<bool> {
    let realm = dec.source.info.realm_id;
    let Some(root_row) = versions.at(realm, t)? else {
        return Ok(false);
    };
    let mut described = Described::new(&dec.decode(&root_row));
    described.paths = vec!["/".into()];
    let root = Pending {
        row: root_row,
        names: String::new(),
        disk: String::new(),
    };
    sink(
        "",
        Node {
            disk: String::new(),
            escaped: false,
            row: root_row,
            described,
        },
    );
    // One frame per folder being walked, with its visible subfolders still to walk; the
    // folders' ids from the root (a folder listing an ancestor is not followed).
    let mut ancestors = vec![realm];
    let mut stack = vec![children(dec, versions, t, &root, &ancestors, sink)?.into_iter()];
    while let Some(top) = stack.last_mut() {
        match top.next() {
            Some(folder) => {
                ancestors.push(folder.row.vlob_id);
                let below = children(dec, versions, t, &folder, &ancestors, sink)?;
                stack.push(below.into_iter());
            }
            None => {
                stack.pop();
                ancestors.pop();
            }
        }
    }
    Ok(true)
}

/// The visible children of `folder` to `sink`; returns its subfolders.
fn children(
    dec: &Decoder,
    versions: &Versions,
    t: Micros,
    folder: &Pending,
    ancestors: &[Uuid],
    sink: &mut dyn FnMut(&str, Node),
) -> rusqlite::Result<Vec<Pending>> {
    // Decoded again (it was when listed): keeping every folder's listing until it is walked
    // would hold the tree's.
    let decoded = dec.decode(&folder.row);
    let Ok(Manifest::Folder(listing)) = &decoded.manifest else {
        return Ok(Vec::new());
    };
    let mut visible = Vec::new();
    for (name, child_id) in &listing.children {
        if ancestors.contains(child_id) {
            continue;
        }
        let Some(row) = versions.at(*child_id, t)? else {
            continue; // Listed before it was uploaded: hidden (§6.3).
        };
        let child = dec.decode(&row);
        if let Ok(m) = &child.manifest {
            if m.header().parent != folder.row.vlob_id {
                continue; // Moved away: the old parent version still lists it.
            }
        }
        visible.push((name.as_str(), row, Described::new(&child)));
    }
    let disk_names = names::assign(&visible.iter().map(|v| v.0).collect::<Vec<_>>());
    let mut folders = Vec::new();
    for ((name, row, mut described), disk_name) in visible.into_iter().zip(disk_names) {
        let names = child_path(&folder.names, name);
        let disk = child_path(&folder.disk, &disk_name);
        described.paths = vec![format!("/{names}")];
        let is_folder = described.shape == Shape::Folder;
        let node = Node {
            escaped: names != disk,
            disk: disk.clone(),
            row,
            described,
        };
        sink(&names, node);
        if is_folder {
            folders.push(Pending { row, names, disk });
        }
    }
    Ok(folders)
}
