//! The bulk of an organization: blocks, then vlob versions (signed, encrypted manifests),
//! streamed into PostgreSQL with binary `COPY` from the realm histories
//! (`testbed::history`). Each payload is made on the fly, so memory stays bounded at any
//! scale: the history is replayed for the manifests rather than kept, and only the blocks'
//! metadata and digests (which the manifests need) stay in memory.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};

use super::*;
use crate::parsec::crypto::hash;
use crate::parsec::entry_name::EntryName;
use crate::parsec::manifests::{BlockAccess, FileManifest, FolderManifest, Header, Manifest};
use crate::testbed::history::{BlockSpec, Content, History, Import, Kind, Op, VlobWrite};
use crate::testbed::random::fill_payload;
use crate::testbed::record::{self, VersionRecord, VlobRecord};

/// RNG stream of block nonces (see `random::stream_rng`).
const NONCE_STREAM: u64 = 7;

#[derive(Clone, Copy, Default)]
pub(super) struct RealmStats {
    pub(super) count: usize,
    pub(super) bytes: u64,
}

/// What the bulk passes read: the plan's windows, the ids and keys written so far.
pub(super) struct Bulk<'a> {
    pub(super) spec: &'a OrgSpec,
    pub(super) plan: &'a Plan,
    pub(super) ids: &'a Ids,
    pub(super) windows: &'a [Window],
    pub(super) import: Option<&'a Import>,
    pub(super) certificates: &'a CertificateFactory<StdRng>,
}

/// The blocks of the histories, with the SHA-256 of each cleartext once written.
pub(super) struct Blocks {
    pub(super) specs: Vec<BlockSpec>,
    pub(super) digests: Vec<[u8; 32]>,
}

impl Bulk<'_> {
    fn history(&self) -> History<'_> {
        let roots: Vec<Uuid> = self.plan.realms.iter().map(|r| r.realm_id).collect();
        History::new(self.spec, &roots, self.windows, self.import)
    }

    fn realm_key(&self, realm: RealmIdx, key_index: u32) -> Result<&[u8; 32]> {
        let realm_id = self.plan.realms[realm].realm_id;
        self.certificates.keyring.realm(realm_id)?.key(key_index)
    }

    /// A block's cleartext, regenerated.
    fn fill(&self, content: Content, buf: &mut [u8]) -> Result<()> {
        match (content, self.import) {
            (Content::Seeded(seed), _) => fill_payload(seed, buf),
            (Content::Imported { file, offset }, Some(import)) => {
                import.read_chunk(file, offset, buf)?
            }
            (Content::Imported { .. }, None) => {
                return Err(anyhow!(
                    "internal error: imported content without --from-dir"
                ))
            }
        }
        Ok(())
    }

    /// Block metadata, then block bytes (into `block_data` and/or the sink), one block in
    /// memory at a time.
    pub(super) async fn copy_blocks(
        &self,
        client: &Client,
        sink: &mut BlockSink<'_>,
    ) -> Result<(Vec<RealmStats>, Blocks)> {
        let specs: Vec<BlockSpec> = self
            .history()
            .filter_map(|op| match op {
                Op::Block(block) => Some(block),
                Op::Vlob(_) => None,
            })
            .collect();
        let mut stats = vec![RealmStats::default(); self.plan.realms.len()];
        let copy = client
            .copy_in(
                "COPY block (block_id, realm, author, size, created_on, key_index) FROM STDIN BINARY",
            )
            .await
            .context("starting COPY into block")?;
        let types = [
            Type::UUID,
            Type::INT4,
            Type::INT4,
            Type::INT4,
            Type::TIMESTAMPTZ,
            Type::INT4,
        ];
        let mut writer = pin!(BinaryCopyInWriter::new(copy, &types));
        for block in &specs {
            let size = block.size as usize + secretbox::OVERHEAD;
            let size_value = i32::try_from(size).context("block too large")?;
            writer
                .as_mut()
                .write(&[
                    &block.id,
                    &self.ids.realm(block.realm)?,
                    &self.ids.device(block.device)?,
                    &size_value,
                    &block.created_on,
                    &(block.key_index as i32),
                ])
                .await
                .context("writing a block row")?;
            stats[block.realm].count += 1;
            stats[block.realm].bytes += size as u64;
        }
        writer
            .as_mut()
            .finish()
            .await
            .context("finishing COPY into block")?;

        let mut data_writer = if self.spec.store_blocks_in_db {
            let copy = client
                .copy_in("COPY block_data (organization_id, block_id, data) FROM STDIN BINARY")
                .await
                .context("starting COPY into block_data")?;
            Some(Box::pin(BinaryCopyInWriter::new(
                copy,
                &[Type::VARCHAR, Type::UUID, Type::BYTEA],
            )))
        } else {
            None
        };
        let mut nonces = stream_rng(self.spec.seed, NONCE_STREAM);
        let mut clear = Vec::new();
        let mut digests = Vec::with_capacity(specs.len());
        for block in &specs {
            clear.resize(block.size as usize, 0);
            self.fill(block.content, &mut clear)?;
            digests.push(hash::sha256(&clear));
            let key = self.realm_key(block.realm, block.key_index)?;
            let data = BlockAccess::seal_with_nonce(block.id, &clear, key, &nonces.gen());
            if let Some(writer) = data_writer.as_mut() {
                writer
                    .as_mut()
                    .write(&[&self.spec.organization_id, &block.id, &data.as_slice()])
                    .await
                    .context("writing a block_data row")?;
            }
            sink(block.id, &data).context("block sink")?;
        }
        if let Some(writer) = data_writer.as_mut() {
            writer
                .as_mut()
                .finish()
                .await
                .context("finishing COPY into block_data")?;
        }
        Ok((stats, Blocks { specs, digests }))
    }

    fn manifest(&self, write: &VlobWrite, blocks: &Blocks, blocksize: u64) -> Result<Manifest> {
        let micros = |t: Ts| t.timestamp_micros();
        let header = Header {
            author: self.plan.devices[write.device].device_id,
            timestamp: micros(write.timestamp),
            id: write.id,
            parent: write.parent,
            version: write.version,
            created: micros(write.created),
            updated: micros(write.timestamp),
        };
        Ok(match &write.kind {
            Kind::Folder(children) => {
                let mut map = BTreeMap::new();
                for (name, id) in children {
                    let name = EntryName::parse(name)
                        .map_err(|e| anyhow!("internal error: generated name: {e}"))?;
                    map.insert(name, *id);
                }
                Manifest::Folder(FolderManifest {
                    header,
                    children: map,
                })
            }
            Kind::File { size, blocks: refs } => {
                let accesses = refs
                    .iter()
                    .map(|(n, offset)| {
                        let spec = blocks.specs.get(*n);
                        let digest = blocks.digests.get(*n);
                        match (spec, digest) {
                            (Some(spec), Some(digest)) => Ok(BlockAccess {
                                id: spec.id,
                                offset: *offset,
                                size: u64::from(spec.size),
                                digest: *digest,
                            }),
                            _ => Err(anyhow!("internal error: block #{n} was not generated")),
                        }
                    })
                    .collect::<Result<Vec<_>>>()?;
                let manifest = FileManifest {
                    header,
                    size: *size,
                    blocksize,
                    blocks: accesses,
                };
                manifest
                    .check_integrity()
                    .map_err(|e| anyhow!("internal error: generated file manifest: {e}"))?;
                Manifest::File(manifest)
            }
        })
    }

    /// SHA-256 of a file version's whole content, holes as zeros (for the record).
    fn file_sha256(&self, size: u64, refs: &[(usize, u64)], blocks: &Blocks) -> Result<[u8; 32]> {
        static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
        let mut hasher = Sha256::new();
        let zeros = |hasher: &mut Sha256, mut n: u64| {
            while n > 0 {
                let len = n.min(ZEROS.len() as u64);
                hasher.update(&ZEROS[..len as usize]);
                n -= len;
            }
        };
        let mut position = 0;
        let mut buf = Vec::new();
        for (n, offset) in refs {
            let spec = blocks
                .specs
                .get(*n)
                .ok_or_else(|| anyhow!("internal error: block #{n} was not generated"))?;
            zeros(&mut hasher, offset.saturating_sub(position));
            buf.resize(spec.size as usize, 0);
            self.fill(spec.content, &mut buf)?;
            hasher.update(&buf);
            position = offset + u64::from(spec.size);
        }
        zeros(&mut hasher, size.saturating_sub(position));
        Ok(hasher.finalize().into())
    }

    /// Every vlob version, in the histories' order (= insertion order); with `record`, also
    /// what each holds, per realm.
    pub(super) async fn copy_vlobs(
        &self,
        client: &Client,
        blocks: &Blocks,
        mut record: Option<&mut Vec<Vec<VlobRecord>>>,
    ) -> Result<Vec<RealmStats>> {
        let mut stats = vec![RealmStats::default(); self.plan.realms.len()];
        let mut positions: Vec<HashMap<Uuid, usize>> = vec![HashMap::new(); self.plan.realms.len()];
        let sink = client
            .copy_in(
                "COPY vlob_atom (realm, key_index, vlob_id, version, blob, size, author, created_on) \
                 FROM STDIN BINARY",
            )
            .await
            .context("starting COPY into vlob_atom")?;
        let types = [
            Type::INT4,
            Type::INT4,
            Type::UUID,
            Type::INT4,
            Type::BYTEA,
            Type::INT4,
            Type::INT4,
            Type::TIMESTAMPTZ,
        ];
        let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
        let history = self.history();
        let blocksize = history.blocksize();
        for op in history {
            let Op::Vlob(write) = op else { continue };
            let manifest = self.manifest(&write, blocks, blocksize)?;
            let device = &self.plan.devices[write.device];
            let author_key = self.certificates.device_key(device.device_id)?;
            let blob = manifest.seal(author_key, self.realm_key(write.realm, write.key_index)?);
            let size_value = i32::try_from(blob.len()).context("manifest too large")?;
            writer
                .as_mut()
                .write(&[
                    &self.ids.realm(write.realm)?,
                    &(write.key_index as i32),
                    &write.id,
                    &(write.version as i32),
                    &blob.as_slice(),
                    &size_value,
                    &self.ids.device(write.device)?,
                    &write.timestamp,
                ])
                .await
                .context("writing a vlob_atom row")?;
            stats[write.realm].count += 1;
            stats[write.realm].bytes += blob.len() as u64;
            if let Some(record) = record.as_deref_mut() {
                let version = self.version_record(&write, device.device_id, blocks)?;
                let vlobs = &mut record[write.realm];
                let position = *positions[write.realm].entry(write.id).or_insert_with(|| {
                    vlobs.push(VlobRecord {
                        vlob_id: write.id.simple().to_string(),
                        versions: Vec::new(),
                    });
                    vlobs.len() - 1
                });
                vlobs[position].versions.push(version);
            }
        }
        writer
            .as_mut()
            .finish()
            .await
            .context("finishing COPY into vlob_atom")?;
        Ok(stats)
    }

    fn version_record(
        &self,
        write: &VlobWrite,
        author: Uuid,
        blocks: &Blocks,
    ) -> Result<VersionRecord> {
        let mut version = VersionRecord {
            version: write.version,
            timestamp: record::timestamp(write.timestamp),
            author: author.simple().to_string(),
            key_index: write.key_index,
            kind: String::new(),
            parent: write.parent.simple().to_string(),
            children: None,
            size: None,
            sha256: None,
            blocks: None,
        };
        match &write.kind {
            Kind::Folder(children) => {
                version.kind = "folder".into();
                version.children = Some(
                    children
                        .iter()
                        .map(|(name, id)| (name.clone(), id.simple().to_string()))
                        .collect(),
                );
            }
            Kind::File { size, blocks: refs } => {
                version.kind = "file".into();
                version.size = Some(*size);
                version.sha256 = Some(base16ct::lower::encode_string(
                    &self.file_sha256(*size, refs, blocks)?,
                ));
                version.blocks = Some(refs.len());
            }
        }
        Ok(version)
    }
}

/// Per-realm change log: index 1, 2, ... in write order (vlob atoms of a new realm were all
/// just written in timeline order, so `_id` order is write order).
pub(super) async fn link_vlob_updates(client: &Client, realm_ids: &[i32]) -> Result<()> {
    client
        .execute(
            "INSERT INTO realm_vlob_update (realm, index, vlob_atom)
             SELECT realm, row_number() OVER (PARTITION BY realm ORDER BY _id)::integer, _id
             FROM vlob_atom
             WHERE realm = ANY($1)
             ORDER BY _id",
            &[&realm_ids],
        )
        .await
        .context("writing realm_vlob_update")?;
    Ok(())
}
