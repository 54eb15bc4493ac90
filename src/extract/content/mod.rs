//! The content phase: blocks fetched and decrypted by worker threads (`pool`, each with its
//! own read-only connection), written in file order by one writer (`file`), streamed to a
//! temporary file then renamed. Memory is bounded: at most `window` blocks are in flight (each
//! at most `MAX_BLOCK` bytes, Parsec's blocks are 512 KiB), never a whole file, and the items
//! waiting for them are bounded too.

mod file;
mod pool;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

pub use file::check_existing;
use file::{finish, open, Writer};
use pool::BlockResult;
pub use pool::Pool;

use super::failure::Failure;
use crate::ids::Micros;
use crate::parsec::manifests::FileManifest;

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
        self.done_bytes = self.done_bytes.saturating_add(access.size);
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
