//! One file being written (or only hashed): blocks at their offsets, holes as zeros, its
//! SHA-256, then renamed to its good or damaged path; and the check of a file already written
//! (resume).

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{FileJob, FileResult};
use crate::parsec::manifests::FileManifest;

/// Writes (or hashes) a file sequentially; gaps are holes (zeros).
pub(super) struct Writer {
    file: Option<File>,
    hash: FileHash,
    pos: u64,
}

static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

impl Writer {
    fn zeros_to(&mut self, to: u64) -> std::io::Result<()> {
        if to <= self.pos {
            return Ok(());
        }
        if let FileHash::Streaming(hasher) = &mut self.hash {
            let mut left = to - self.pos;
            while left > 0 {
                let n = left.min(ZEROS.len() as u64) as usize;
                hasher.update(&ZEROS[..n]);
                left -= n as u64;
            }
        }
        if let Some(f) = &mut self.file {
            f.seek(SeekFrom::Start(to))?;
        }
        self.pos = to;
        Ok(())
    }

    pub(super) fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.zeros_to(offset)?;
        if let FileHash::Streaming(hasher) = &mut self.hash {
            hasher.update(data);
        }
        if let Some(f) = &mut self.file {
            f.write_all(data)?;
        }
        self.pos += data.len() as u64;
        Ok(())
    }
}

pub(super) fn open(job: &FileJob) -> std::io::Result<Writer> {
    let file = match &job.target {
        Some(t) => Some(super::super::output::create_private(&t.tmp())?),
        None => None,
    };
    Ok(Writer {
        file,
        hash: FileHash::of(&job.manifest),
        pos: 0,
    })
}

pub(super) fn finish(job: &FileJob, mut w: Writer, result: &mut FileResult) -> std::io::Result<()> {
    w.zeros_to(job.manifest.size)?;
    let Writer { file, hash, .. } = w;
    let digest: [u8; 32] = match hash {
        FileHash::Streaming(hasher) => hasher.finalize().into(),
        FileHash::Known(digest) => digest,
    };
    if result.failures.is_empty() {
        result.sha256 = Some(digest);
    }
    if let (Some(file), Some(t)) = (file, &job.target) {
        file.set_len(job.manifest.size)?;
        // No fsync per file: one `syncfs` before the report makes everything durable, and
        // a resumed run checks every file already written against its manifest.
        if let Some(m) = t.mtime {
            file.set_modified(super::super::output::to_system_time(m))?;
        }
        drop(file);
        let dest = if result.failures.is_empty() {
            t.good()
        } else {
            t.damaged()
        };
        if let Some(parent) = dest.parent() {
            super::super::output::create_dirs(&t.root, parent)?;
        }
        std::fs::rename(t.tmp(), &dest)?;
        result.written = Some(dest);
    }
    Ok(())
}

/// How a file's SHA-256 is had.
enum FileHash {
    /// Hashed as it is written.
    Streaming(Sha256),
    /// The file is one block from offset 0 to its end: its SHA-256 is the block's digest,
    /// which the worker checks (most files are below Parsec's 512 KiB).
    Known([u8; 32]),
}

impl FileHash {
    fn of(manifest: &FileManifest) -> FileHash {
        match manifest.blocks.as_slice() {
            [b] if b.offset == 0 && b.size == manifest.size => FileHash::Known(b.digest),
            _ => FileHash::Streaming(Sha256::new()),
        }
    }
}

/// Whether an already written file has the manifest's content (resume): its size, each
/// block's digest, zeros elsewhere. Returns its SHA-256 when it does.
pub fn check_existing(path: &Path, manifest: &FileManifest) -> Option<[u8; 32]> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_file() || meta.len() != manifest.size {
        return None;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let mut whole = Sha256::new();
    let mut pos = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut read_range = |len: u64, expect_zero: bool, block: Option<&mut Sha256>| -> Option<()> {
        let mut left = len;
        let mut block = block;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            file.read_exact(&mut buf[..n]).ok()?;
            if expect_zero && buf[..n].iter().any(|b| *b != 0) {
                return None;
            }
            whole.update(&buf[..n]);
            if let Some(h) = block.as_deref_mut() {
                h.update(&buf[..n]);
            }
            left -= n as u64;
        }
        Some(())
    };
    for b in &manifest.blocks {
        read_range(b.offset.checked_sub(pos)?, true, None)?;
        let mut h = Sha256::new();
        read_range(b.size, false, Some(&mut h))?;
        if <[u8; 32]>::from(h.finalize()) != b.digest {
            return None;
        }
        pos = b.offset + b.size;
    }
    read_range(manifest.size.checked_sub(pos)?, true, None)?;
    Some(whole.finalize().into())
}
