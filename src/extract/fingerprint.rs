//! The export file's SHA-256 and logical digest, for the report. Each is a full read of the
//! export (gigabytes), so both run on their own threads while the extraction goes on, and
//! are waited for only when needed: the report, or resuming a finished OUTPUT_DIR.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A value computed on its own thread, kept once it is there.
struct Background<T> {
    handle: Option<JoinHandle<T>>,
    value: Option<T>,
}

impl<T: Send + 'static> Background<T> {
    fn spawn(f: impl FnOnce() -> T + Send + 'static) -> Self {
        Background {
            handle: Some(std::thread::spawn(f)),
            value: None,
        }
    }

    /// The value, waiting for it if needed; `stopped` stands for a thread that panicked.
    fn get(&mut self, stopped: impl FnOnce() -> T) -> &T {
        if let Some(handle) = self.handle.take() {
            self.value = handle.join().ok();
        }
        self.value.get_or_insert_with(stopped)
    }

    fn is_ready(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }
}

pub struct Fingerprint {
    path: PathBuf,
    /// (bytes, hex SHA-256), or why the file could not be read.
    sha: Background<std::result::Result<(u64, String), String>>,
    /// `None` when SQLite cannot read every row: the report then has no digest, and the
    /// damage is reported by the checks that read those rows.
    digest: Background<Option<String>>,
}

impl Fingerprint {
    /// Starts both reads.
    pub fn start(path: &Path) -> Fingerprint {
        let p = path.to_owned();
        let sha = Background::spawn(move || file_sha256(&p));
        let p = path.to_owned();
        let digest = Background::spawn(move || {
            let conn = super::source::connect(&p).ok()?;
            crate::format::digest::digest(&conn).ok()
        });
        Fingerprint {
            path: path.to_owned(),
            sha,
            digest,
        }
    }

    /// (bytes, hex SHA-256) of the file, waiting for it if needed.
    pub fn sha256(&mut self) -> Result<(u64, String)> {
        self.sha
            .get(|| Err("the hashing thread stopped".into()))
            .clone()
            .map_err(|reason| Error::ExtractInput {
                path: self.path.clone(),
                reason,
            })
    }

    /// The hex SHA-256 if it is already known, without waiting.
    pub fn sha256_if_done(&mut self) -> Option<String> {
        if !self.sha.is_ready() {
            return None;
        }
        self.sha256().ok().map(|(_, sha)| sha)
    }

    /// The `verify --digest` digest, waiting for it if needed.
    pub fn digest(&mut self) -> Option<String> {
        self.digest.get(|| None).clone()
    }
}

fn file_sha256(path: &Path) -> std::result::Result<(u64, String), String> {
    let err = |e: std::io::Error| format!("cannot read it: {e}");
    let mut f = std::fs::File::open(path).map_err(err)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(err)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    let d: [u8; 32] = h.finalize().into();
    Ok((n, base16ct::lower::encode_string(&d)))
}
