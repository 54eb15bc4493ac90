//! Manifests (reference §5.5, §6.1): a vlob's blob is a secret box under
//! `KDF(key, vlob id)` of `signature ‖ format v0 manifest`. The root (the workspace
//! manifest) is a folder manifest whose `parent` is its own id.

mod file;
mod folder;

pub use file::{BlockAccess, FileManifest};
pub use folder::FolderManifest;

use rmpv::Value;
use uuid::Uuid;

use super::crypto::kdf;
use super::crypto::signing::{self, SigningKey, VerifyKey};
use super::error::{DataError, DataResult};
use super::serialization::envelope;
use super::serialization::msgpack::Fields;
use crate::ids::Micros;

/// What every manifest carries, compared with its `vlob_atom` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub author: Uuid,
    pub timestamp: Micros,
    pub id: Uuid,
    pub parent: Uuid,
    pub version: u32,
    pub created: Micros,
    pub updated: Micros,
}

impl Header {
    fn read(f: &Fields) -> DataResult<Self> {
        Ok(Header {
            author: f.id("author")?,
            timestamp: f.time("timestamp")?,
            id: f.id("id")?,
            parent: f.id("parent")?,
            version: f.u32("version")?,
            created: f.time("created")?,
            updated: f.time("updated")?,
        })
    }

    fn fields(&self, kind: &'static str) -> Vec<(&'static str, Value)> {
        use super::serialization::msgpack as mp;
        vec![
            ("type", mp::str(kind)),
            ("author", mp::id(self.author)),
            ("timestamp", mp::time(self.timestamp)),
            ("id", mp::id(self.id)),
            ("parent", mp::id(self.parent)),
            ("version", Value::from(self.version)),
            ("created", mp::time(self.created)),
            ("updated", mp::time(self.updated)),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    Folder(FolderManifest),
    File(FileManifest),
}

/// The `vlob_atom` row a manifest must match.
#[derive(Debug, Clone, Copy)]
pub struct VlobRow {
    pub vlob_id: Uuid,
    pub version: u32,
    pub author: Uuid,
    pub timestamp: Micros,
    pub realm_id: Uuid,
}

/// A decrypted manifest whose signature is not checked yet.
#[derive(Debug, Clone)]
pub struct Unverified {
    pub manifest: Manifest,
    signed: Vec<u8>,
}

impl Manifest {
    pub fn header(&self) -> &Header {
        match self {
            Manifest::Folder(m) => &m.header,
            Manifest::File(m) => &m.header,
        }
    }

    /// Decrypts a blob with the realm key of its row's `key_index`.
    pub fn decrypt(blob: &[u8], realm_key: &[u8; 32], vlob_id: Uuid) -> DataResult<Unverified> {
        let signed = kdf::derive(realm_key, vlob_id).decrypt(blob, "vlob")?;
        let (_, payload) = signing::split(&signed, "manifest")?;
        let manifest = Self::decode(payload)?;
        Ok(Unverified { manifest, signed })
    }

    pub fn decode(payload: &[u8]) -> DataResult<Self> {
        let value = envelope::load(payload)?;
        let (f, kind) = Fields::typed(&value, &["folder_manifest", "file_manifest"])?;
        let header = Header::read(&f)?;
        Ok(match kind {
            "folder_manifest" => Manifest::Folder(FolderManifest::read(header, &f)?),
            _ => Manifest::File(FileManifest::read(header, &f)?),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        envelope::dump(&match self {
            Manifest::Folder(m) => m.to_value(),
            Manifest::File(m) => m.to_value(),
        })
    }

    /// Signed then encrypted, as `vlob_atom.blob`.
    pub fn seal(&self, author: &SigningKey, realm_key: &[u8; 32]) -> Vec<u8> {
        kdf::derive(realm_key, self.header().id).encrypt(&author.sign(&self.encode()))
    }

    /// The rules of §6.1 step 4: the row's fields, the root and parent rules.
    pub fn check_row(&self, row: &VlobRow) -> DataResult<()> {
        let h = self.header();
        let mismatch = |field, expected: String, found: String| {
            Err(DataError::Mismatch {
                field,
                expected,
                found,
            })
        };
        if h.id != row.vlob_id {
            return mismatch(
                "manifest id",
                row.vlob_id.simple().to_string(),
                h.id.simple().to_string(),
            );
        }
        if h.version != row.version {
            return mismatch(
                "manifest version",
                row.version.to_string(),
                h.version.to_string(),
            );
        }
        if h.author != row.author {
            return mismatch(
                "manifest author",
                row.author.simple().to_string(),
                h.author.simple().to_string(),
            );
        }
        if h.timestamp != row.timestamp {
            return mismatch(
                "manifest timestamp",
                row.timestamp.to_string(),
                h.timestamp.to_string(),
            );
        }
        let is_root = row.vlob_id == row.realm_id;
        match (is_root, self) {
            (true, Manifest::File(_)) => Err(DataError::Invalid {
                what: "workspace manifest",
                why: "it is a file manifest".into(),
            }),
            (true, _) if h.parent != h.id => Err(DataError::Invalid {
                what: "workspace manifest",
                why: "its parent is not itself".into(),
            }),
            (false, _) if h.parent == h.id => Err(DataError::Invalid {
                what: "manifest",
                why: "a child is its own parent".into(),
            }),
            _ => Ok(()),
        }
    }
}

impl Unverified {
    /// Checks the signature with the row author's verify key, then the row rules.
    pub fn verify(self, author_key: &VerifyKey, row: &VlobRow) -> DataResult<Manifest> {
        author_key.verify(&self.signed, "manifest")?;
        self.manifest.check_row(row)?;
        Ok(self.manifest)
    }
}
