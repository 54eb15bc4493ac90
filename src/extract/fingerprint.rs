//! The export file's SHA-256 and logical digest, for the report. Each is a full read of the
//! export (gigabytes), so both run on their own threads while the extraction goes on, and
//! are waited for only when needed: the report, or resuming a finished OUTPUT_DIR.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

type Sha = std::result::Result<(u64, String), String>;

pub struct Fingerprint {
    path: PathBuf,
    sha: Option<JoinHandle<Sha>>,
    sha_done: Option<Sha>,
    digest: Option<JoinHandle<Option<String>>>,
    digest_done: Option<String>,
}

impl Fingerprint {
    /// Starts both reads.
    pub fn start(path: &Path) -> Fingerprint {
        let p = path.to_owned();
        let sha = std::thread::spawn(move || file_sha256(&p));
        let p = path.to_owned();
        // `None` when SQLite cannot read every row: the report then has no digest, and the
        // damage is reported by the checks that read those rows.
        let digest = std::thread::spawn(move || {
            let conn = super::source::connect(&p).ok()?;
            crate::format::digest::digest(&conn).ok()
        });
        Fingerprint {
            path: path.to_owned(),
            sha: Some(sha),
            sha_done: None,
            digest: Some(digest),
            digest_done: None,
        }
    }

    /// (bytes, hex SHA-256) of the file, waiting for it if needed.
    pub fn sha256(&mut self) -> Result<(u64, String)> {
        if let Some(handle) = self.sha.take() {
            self.sha_done = Some(
                handle
                    .join()
                    .unwrap_or_else(|_| Err("the hashing thread stopped".into())),
            );
        }
        match &self.sha_done {
            Some(Ok(done)) => Ok(done.clone()),
            Some(Err(reason)) => Err(Error::ExtractInput {
                path: self.path.clone(),
                reason: reason.clone(),
            }),
            None => Err(Error::Internal(
                "the export's SHA-256 was never started".into(),
            )),
        }
    }

    /// The hex SHA-256 if it is already known, without waiting.
    pub fn sha256_if_done(&mut self) -> Option<String> {
        if self.sha.as_ref().is_some_and(|h| !h.is_finished()) {
            return None;
        }
        self.sha256().ok().map(|(_, sha)| sha)
    }

    /// The `verify --digest` digest, waiting for it if needed.
    pub fn digest(&mut self) -> Option<String> {
        if let Some(handle) = self.digest.take() {
            self.digest_done = handle.join().ok().flatten();
        }
        self.digest_done.clone()
    }
}

fn file_sha256(path: &Path) -> Sha {
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
    Ok((n, d.iter().map(|b| format!("{b:02x}")).collect()))
}
