//! The content phase: blocks fetched and decrypted by worker threads (each with its own
//! read-only connection), written in file order by one writer, streamed to a temporary file
//! then renamed. Memory is bounded: at most `window` blocks are in flight (each at most
//! `MAX_BLOCK` bytes, Parsec's blocks are 512 KiB), never a whole file.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use super::failure::Failure;
use super::keys::RealmKeys;
use super::source;
use crate::ids::Micros;
use crate::parsec::crypto::secretbox::Opened;
use crate::parsec::manifests::{BlockAccess, FileManifest};
use crate::parsec::DataError;

/// Blocks above this size are refused rather than held in memory (hostile manifests).
pub const MAX_BLOCK: u64 = 64 * 1024 * 1024;

/// Where a file goes: a temporary name, renamed to `good` or, when a block failed, to
/// `damaged` (holes where blocks failed). Kept as parts, the paths made when the file is
/// written: a history has a job per version, and four paths each were a sixth of its memory.
pub struct Target {
    /// OUTPUT_DIR: folders are created below it only.
    pub root: Arc<Path>,
    /// `files` or `history`.
    pub base: &'static str,
    /// Below `base`.
    pub rel: String,
    /// The temporary file's name.
    pub index: usize,
    pub mtime: Option<Micros>,
}

impl Target {
    pub fn tmp(&self) -> PathBuf {
        super::output::tmp_dir(&self.root).join(self.index.to_string())
    }
    pub fn good(&self) -> PathBuf {
        self.root.join(self.base).join(&self.rel)
    }
    pub fn damaged(&self) -> PathBuf {
        self.root.join("damaged").join(self.base).join(&self.rel)
    }
}

pub struct FileJob {
    pub manifest: Arc<FileManifest>,
    pub vlob: uuid::Uuid,
    pub version: u32,
    /// `None`: only hash (`--list`, `verify --key`).
    pub target: Option<Target>,
}

#[derive(Debug, Default)]
pub struct FileResult {
    /// SHA-256 of the content, when every block was good.
    pub sha256: Option<[u8; 32]>,
    pub failures: Vec<Failure>,
    /// Where it was written (good or damaged path).
    pub written: Option<PathBuf>,
}

/// A block's cleartext, or the check it failed and why.
type BlockResult = Result<Opened, (&'static str, String)>;

struct BlockJob {
    access: BlockAccess,
    reply: SyncSender<BlockResult>,
}

pub struct Pool {
    jobs: Option<mpsc::Sender<BlockJob>>,
    handles: Vec<JoinHandle<()>>,
    pub window: usize,
}

impl Pool {
    pub fn start(path: &Path, keys: &RealmKeys, threads: usize) -> crate::error::Result<Pool> {
        let (tx, rx) = mpsc::channel::<BlockJob>();
        let rx = Arc::new(Mutex::new(rx));
        let keys = Arc::new((keys.keys.clone(), keys.latest_key_index));
        let mut handles = Vec::new();
        for _ in 0..threads.max(1) {
            let conn = source::connect(path)?;
            let rx = rx.clone();
            let keys = keys.clone();
            handles.push(std::thread::spawn(move || loop {
                let job = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                let result = fetch(&conn, &keys.0, keys.1, &job.access);
                let _ = job.reply.send(result);
            }));
        }
        Ok(Pool {
            jobs: Some(tx),
            handles,
            window: threads.max(1) * 4,
        })
    }

    fn submit(&self, access: BlockAccess) -> Receiver<BlockResult> {
        let (reply, rx) = mpsc::sync_channel(1);
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(BlockJob { access, reply });
        }
        rx
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs.take();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

fn fetch(
    conn: &rusqlite::Connection,
    keys: &BTreeMap<u64, [u8; 32]>,
    latest: u64,
    access: &BlockAccess,
) -> BlockResult {
    if access.size > MAX_BLOCK {
        return Err((
            "block_too_large",
            format!(
                "a block of {} bytes: above the {MAX_BLOCK} bytes this tool holds in memory",
                access.size
            ),
        ));
    }
    let row = source::block(conn, access.id)
        .map_err(|e| ("block_missing", format!("cannot read the block row: {e}")))?
        .ok_or((
            "block_missing",
            "no `block` row for it in the export".to_owned(),
        ))?;
    let data = row.data.ok_or((
        "block_no_data",
        "its `block` row has no `block_data`".to_owned(),
    ))?;
    let key = keys.get(&row.key_index).ok_or_else(|| {
        if row.key_index == 0 || row.key_index > latest {
            (
                "key_index_unknown",
                format!(
                    "key index {} has no key rotation certificate",
                    row.key_index
                ),
            )
        } else {
            (
                "key_not_opened",
                format!(
                    "encrypted with key index {}, which this service's key cannot open",
                    row.key_index
                ),
            )
        }
    })?;
    access.open(data, key).map_err(|e| match e {
        DataError::Mismatch {
            field: "block size",
            ..
        } => ("block_size", e.to_string()),
        DataError::Mismatch { .. } => ("block_digest", e.to_string()),
        _ => ("block_cannot_decrypt", e.to_string()),
    })
}

/// Writes (or hashes) a file sequentially; gaps are holes (zeros).
struct Writer {
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

    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
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

/// Items waiting for their blocks (in order), and the blocks in flight.
struct Queue<P> {
    /// From index `base` on; each with its file, if any.
    pending: VecDeque<Pending<P>>,
    base: usize,
    /// (item index, block index, reply), in submission order.
    flight: VecDeque<(usize, usize, Receiver<BlockResult>)>,
    done_bytes: u64,
}

struct Pending<P> {
    file: Option<FileJob>,
    payload: P,
    writer: Option<Writer>,
    result: FileResult,
}

/// Items waiting beyond the blocks in flight (files without blocks, entries without files)
/// before the oldest block is waited for: the queue stays bounded.
const MAX_PENDING: usize = 1024;

/// Runs the items through the pool, in order: each item's file (if any) is written or
/// hashed, then `done` gets its payload and result, in the items' order. Neither the items
/// nor their results are ever all in memory: `items` is pulled as blocks are settled.
pub fn run<P>(
    pool: &Pool,
    items: impl Iterator<Item = crate::error::Result<(Option<FileJob>, P)>>,
    io_error: impl Fn(std::io::Error) -> crate::error::Error,
    mut progress: impl FnMut(u64),
    mut done: impl FnMut(P, Option<FileResult>) -> crate::error::Result<()>,
) -> crate::error::Result<()> {
    let mut q = Queue {
        pending: VecDeque::new(),
        base: 0,
        flight: VecDeque::new(),
        done_bytes: 0,
    };
    for item in items {
        let (file, payload) = item?;
        let index = q.base + q.pending.len();
        let manifest = file.as_ref().map(|f| f.manifest.clone());
        q.pending.push_back(Pending {
            file,
            payload,
            writer: None,
            result: FileResult::default(),
        });
        for (bi, access) in manifest.iter().flat_map(|m| m.blocks.iter().enumerate()) {
            while q.flight.len() >= pool.window {
                q.settle_one(&mut done, &mut progress, &io_error)?;
            }
            q.flight.push_back((index, bi, pool.submit(access.clone())));
        }
        while q.pending.len() > MAX_PENDING && !q.flight.is_empty() {
            q.settle_one(&mut done, &mut progress, &io_error)?;
        }
        let upto = q.flight.front().map_or(usize::MAX, |(f, _, _)| *f);
        q.finish_before(upto, &mut done, &io_error)?;
    }
    while !q.flight.is_empty() {
        q.settle_one(&mut done, &mut progress, &io_error)?;
    }
    q.finish_before(usize::MAX, &mut done, &io_error)
}

impl<P> Queue<P> {
    /// Waits for the oldest block in flight and writes it.
    fn settle_one(
        &mut self,
        done: &mut impl FnMut(P, Option<FileResult>) -> crate::error::Result<()>,
        progress: &mut impl FnMut(u64),
        io_error: &impl Fn(std::io::Error) -> crate::error::Error,
    ) -> crate::error::Result<()> {
        let Some((f, b, rx)) = self.flight.pop_front() else {
            return Ok(());
        };
        // The items before `f` have no block left in flight.
        self.finish_before(f, done, io_error)?;
        let Some(p) = self.pending.get_mut(f - self.base) else {
            return Ok(());
        };
        let Some(job) = &p.file else { return Ok(()) };
        if p.writer.is_none() {
            p.writer = Some(open(job).map_err(io_error)?);
        }
        let Some(w) = p.writer.as_mut() else {
            return Ok(());
        };
        let access = &job.manifest.blocks[b];
        let result = rx
            .recv()
            .unwrap_or_else(|_| Err(("block_cannot_decrypt", "the worker stopped".into())));
        match result {
            Ok(data) => w.write_at(access.offset, &data).map_err(io_error)?,
            Err((check, why)) => p.result.failures.push(Failure::vlob(
                check,
                job.vlob,
                job.version,
                format!(
                    "block {} (bytes {}..{}): {why}; that range is left as zeros",
                    access.id.simple(),
                    access.offset,
                    access.offset.saturating_add(access.size)
                ),
            )),
        }
        self.done_bytes += access.size;
        progress(self.done_bytes);
        Ok(())
    }

    /// Finishes the items before index `upto`, in order.
    fn finish_before(
        &mut self,
        upto: usize,
        done: &mut impl FnMut(P, Option<FileResult>) -> crate::error::Result<()>,
        io_error: &impl Fn(std::io::Error) -> crate::error::Error,
    ) -> crate::error::Result<()> {
        while self.base < upto {
            let Some(p) = self.pending.pop_front() else {
                return Ok(());
            };
            self.base += 1;
            let Pending {
                file,
                payload,
                writer,
                mut result,
            } = p;
            match file {
                Some(job) => {
                    let w = match writer {
                        Some(w) => w,
                        None => open(&job).map_err(io_error)?,
                    };
                    finish(&job, w, &mut result).map_err(io_error)?;
                    done(payload, Some(result))?;
                }
                None => done(payload, None)?,
            }
        }
        Ok(())
    }
}

fn open(job: &FileJob) -> std::io::Result<Writer> {
    let file = match &job.target {
        Some(t) => Some(super::output::create_private(&t.tmp())?),
        None => None,
    };
    Ok(Writer {
        file,
        hash: FileHash::of(&job.manifest),
        pos: 0,
    })
}

fn finish(job: &FileJob, mut w: Writer, result: &mut FileResult) -> std::io::Result<()> {
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
            file.set_modified(super::output::to_system_time(m))?;
        }
        drop(file);
        let dest = if result.failures.is_empty() {
            t.good()
        } else {
            t.damaged()
        };
        if let Some(parent) = dest.parent() {
            super::output::create_dirs(&t.root, parent)?;
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
