//! File manifests and their block accesses; blocks themselves (reference §5.5, §6.4).

use rmpv::Value;
use uuid::Uuid;

use super::Header;
use crate::parsec::crypto::{hash, kdf, secretbox};
use crate::parsec::error::{DataError, DataResult};
use crate::parsec::serialization::msgpack::{self as mp, Fields};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockAccess {
    pub id: Uuid,
    pub offset: u64,
    /// Cleartext length, non-zero.
    pub size: u64,
    /// SHA-256 of the cleartext.
    pub digest: [u8; 32],
}

impl BlockAccess {
    fn read(v: &Value) -> DataResult<Self> {
        let f = Fields::of(v).map_err(|_| DataError::BadField {
            field: "blocks",
            expected: "a list of maps",
        })?;
        Ok(BlockAccess {
            id: f.id("id")?,
            offset: f.u64("offset")?,
            size: f.u64("size")?,
            digest: f.key32("digest")?,
        })
    }

    fn to_value(&self) -> Value {
        mp::map(vec![
            ("id", mp::id(self.id)),
            ("offset", Value::from(self.offset)),
            ("size", Value::from(self.size)),
            ("digest", mp::bin(&self.digest)),
        ])
    }

    /// Decrypts `block_data.data` and checks its size and digest.
    pub fn open(&self, data: Vec<u8>, realm_key: &[u8; 32]) -> DataResult<secretbox::Opened> {
        let clear = kdf::derive(realm_key, self.id).decrypt_owned(data, "block")?;
        if clear.len() as u64 != self.size {
            return Err(DataError::Mismatch {
                field: "block size",
                expected: self.size.to_string(),
                found: clear.len().to_string(),
            });
        }
        if hash::sha256(&clear) != self.digest {
            return Err(DataError::Mismatch {
                field: "block SHA-256",
                expected: "the manifest's digest".into(),
                found: "another".into(),
            });
        }
        Ok(clear)
    }

    /// `block_data.data` for a cleartext block.
    pub fn seal(id: Uuid, clear: &[u8], realm_key: &[u8; 32]) -> Vec<u8> {
        kdf::derive(realm_key, id).encrypt(clear)
    }

    /// Like `seal` with the caller's nonce (never twice for one key): one copy of the
    /// cleartext, for generating gigabytes of blocks.
    pub fn seal_with_nonce(
        id: Uuid,
        clear: &[u8],
        realm_key: &[u8; 32],
        nonce: &[u8; secretbox::NONCE_LEN],
    ) -> Vec<u8> {
        kdf::derive(realm_key, id).encrypt_with_nonce(nonce, clear)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileManifest {
    pub header: Header,
    pub size: u64,
    pub blocksize: u64,
    pub blocks: Vec<BlockAccess>,
}

impl FileManifest {
    pub(super) fn read(header: Header, f: &Fields) -> DataResult<Self> {
        let manifest = FileManifest {
            header,
            size: f.u64("size")?,
            blocksize: f.u64("blocksize")?,
            blocks: f
                .array("blocks")?
                .iter()
                .map(BlockAccess::read)
                .collect::<DataResult<_>>()?,
        };
        manifest.check_integrity()?;
        Ok(manifest)
    }

    pub(super) fn to_value(&self) -> Value {
        let mut fields = self.header.fields("file_manifest");
        fields.push(("size", Value::from(self.size)));
        fields.push(("blocksize", Value::from(self.blocksize)));
        fields.push((
            "blocks",
            Value::Array(self.blocks.iter().map(BlockAccess::to_value).collect()),
        ));
        mp::map(fields)
    }

    /// Parsec's `check_data_integrity` (reference §5.5).
    pub fn check_integrity(&self) -> DataResult<()> {
        let bad = |why: String| {
            Err(DataError::Invalid {
                what: "file manifest",
                why,
            })
        };
        if self.blocksize < 8 {
            return bad(format!("blocksize {} is below 8", self.blocksize));
        }
        let mut end_of_previous = 0u64;
        let mut previous_span = None;
        for (i, b) in self.blocks.iter().enumerate() {
            let Some(end) = b.offset.checked_add(b.size).filter(|_| b.size > 0) else {
                return bad(format!("block {i} has size 0 or overflows"));
            };
            if b.offset < end_of_previous {
                return bad(format!(
                    "block {i} is out of order or overlaps the previous one"
                ));
            }
            let span = b.offset / self.blocksize;
            if previous_span == Some(span) {
                return bad(format!("block {i} shares its span with the previous one"));
            }
            if (end - 1) / self.blocksize != span {
                return bad(format!("block {i} crosses a span boundary"));
            }
            end_of_previous = end;
            previous_span = Some(span);
        }
        if end_of_previous > self.size {
            return bad(format!(
                "its blocks end at {end_of_previous}, past its size {}",
                self.size
            ));
        }
        Ok(())
    }
}
