//! OUTPUT_DIR: new or empty, or an interrupted extraction of the same export with the same
//! options (its state file says so), which is then continued. Everything is created inside
//! it, folders 0700, files 0600, never through a symlink.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const STATE_DIR: &str = ".parsec-extract";
const STATE_FILE: &str = "state.json";

/// What must match for a re-run to continue an interrupted extraction. The export is
/// named by its size, organization, realm and snapshot (two exports of one snapshot hold the
/// same rows), and by its SHA-256 once a run has finished hashing it: hashing gigabytes
/// first would delay every extraction, so a run records it at its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub export_bytes: u64,
    pub organization: String,
    pub realm_id: String,
    pub snapshot: i64,
    #[serde(default)]
    pub export_sha256: Option<String>,
    pub service_id: String,
    pub mode: String,
    pub at: i64,
}

impl State {
    fn same_run(&self, other: &State) -> bool {
        State {
            export_sha256: None,
            ..self.clone()
        } == State {
            export_sha256: None,
            ..other.clone()
        }
    }
}

pub struct Output {
    pub root: PathBuf,
    pub resumed: bool,
}

fn out_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::ExtractOutput {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

impl Output {
    /// `sha256` gives the export's SHA-256, asked only to continue a run that recorded one.
    pub fn prepare(
        root: &Path,
        state: &State,
        sha256: impl FnOnce() -> Result<String>,
    ) -> Result<Output> {
        let mut resumed = false;
        match std::fs::symlink_metadata(root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .create(root)
                    .map_err(|e| out_error(root, format!("cannot create it: {e}")))?;
                set_private(root).map_err(|e| out_error(root, e.to_string()))?;
            }
            Err(e) => return Err(out_error(root, format!("cannot read it: {e}"))),
            Ok(m) if m.file_type().is_symlink() => {
                return Err(out_error(
                    root,
                    "is a symbolic link: give a real directory (no symlink is followed)",
                ))
            }
            Ok(m) if !m.is_dir() => return Err(out_error(root, "exists and is not a directory")),
            Ok(_) => {
                let entries: Vec<_> = std::fs::read_dir(root)
                    .map_err(|e| out_error(root, format!("cannot list it: {e}")))?
                    .filter_map(|e| e.ok())
                    .collect();
                // Only our state folder, without its state (a run stopped while starting):
                // nothing was extracted yet, start afresh.
                let only_ours_unstarted = entries.len() == 1
                    && entries[0].file_name() == STATE_DIR
                    && !root.join(STATE_DIR).join(STATE_FILE).exists();
                if !entries.is_empty() && !only_ours_unstarted {
                    let saved = std::fs::read(root.join(STATE_DIR).join(STATE_FILE))
                        .ok()
                        .and_then(|b| serde_json::from_slice::<State>(&b).ok());
                    let another = || {
                        out_error(root, "holds an extraction of another export, service, time or mode: choose a new or empty OUTPUT_DIR")
                    };
                    match saved {
                        Some(s) if s.same_run(state) => {
                            if let Some(recorded) = &s.export_sha256 {
                                if *recorded != sha256()? {
                                    return Err(another());
                                }
                            }
                            resumed = true
                        }
                        Some(_) => return Err(another()),
                        None => return Err(out_error(root, "is not empty: choose a new or empty OUTPUT_DIR (extract never mixes its files with others)")),
                    }
                }
            }
        }
        let out = Output {
            root: root.to_owned(),
            resumed,
        };
        let state_dir = out.root.join(STATE_DIR);
        create_dirs(&out.root, &state_dir).map_err(|e| out_error(&state_dir, e.to_string()))?;
        let tmp = out.tmp_dir();
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| out_error(&tmp, e.to_string()))?;
        }
        create_dirs(&out.root, &tmp).map_err(|e| out_error(&tmp, e.to_string()))?;
        if !resumed {
            out.save_state(state)?;
        }
        Ok(out)
    }

    /// Records the state (at the start, then with the export's SHA-256 at the end).
    pub fn save_state(&self, state: &State) -> Result<()> {
        let json = serde_json::to_vec_pretty(state).map_err(|e| Error::Internal(e.to_string()))?;
        self.write_file(&self.root.join(STATE_DIR).join(STATE_FILE), &json)
    }

    /// Makes every file written so far durable: one `syncfs` of OUTPUT_DIR's file system
    /// rather than an fsync per file, before the report says the extraction is done.
    pub fn sync(&self) -> Result<()> {
        use std::os::fd::AsRawFd;
        let dir = std::fs::File::open(&self.root)
            .map_err(|e| out_error(&self.root, format!("cannot open it: {e}")))?;
        // SAFETY: `dir` is an open descriptor for the call's whole duration.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(out_error(
                &self.root,
                format!("cannot flush it to disk: {e}"),
            ));
        }
        Ok(())
    }

    pub fn tmp_dir(&self) -> PathBuf {
        tmp_dir(&self.root)
    }

    /// Writes a small file (report, index) through a temporary name.
    pub fn write_file(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        self.write_with(path, |w| w.write_all(bytes))
    }

    /// `write_file` with the content written by `fill` through a buffer, never whole in memory.
    pub fn write_with(
        &self,
        path: &Path,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()> {
        let tmp = self.tmp_dir().join(format!(
            "small-{}",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        let _ = std::fs::remove_file(&tmp);
        let result = (|| -> std::io::Result<()> {
            let mut f = std::io::BufWriter::with_capacity(1 << 20, create_private(&tmp)?);
            fill(&mut f)?;
            let f = f.into_inner().map_err(|e| e.into_error())?;
            f.sync_data()?;
            std::fs::rename(&tmp, path)
        })();
        result.map_err(|e| out_error(path, format!("cannot write it: {e}")))
    }
}

/// `mkdir -p` of `path` inside `root`, with 0700 folders, refusing to go through a symlink.
pub fn create_dirs(root: &Path, path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let mut ancestors: Vec<&Path> = path
        .ancestors()
        .filter(|p| p.starts_with(root) && *p != root)
        .collect();
    ancestors.reverse();
    for p in ancestors {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(std::io::Error::other(format!(
                    "{} is a symbolic link: not followed",
                    p.display()
                )))
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(std::io::Error::other(format!(
                    "{} exists and is not a directory",
                    p.display()
                )))
            }
            Err(_) => {
                std::fs::DirBuilder::new().mode(0o700).create(p)?;
                set_private(p)?;
            }
        }
    }
    Ok(())
}

fn set_private(p: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700))
}

/// Sets a folder's mtime, unless it is no longer a folder (never through a symlink).
pub fn set_dir_time(dir: &Path, t: crate::ids::Micros) -> std::io::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {}
        _ => return Ok(()),
    }
    std::fs::File::open(dir)?.set_modified(to_system_time(t))
}

/// Where files are written before being renamed into place.
pub fn tmp_dir(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("tmp")
}

/// A timestamp (µs since the epoch, maybe before it) as a file time.
pub fn to_system_time(us: crate::ids::Micros) -> std::time::SystemTime {
    let epoch = std::time::UNIX_EPOCH;
    if us >= 0 {
        epoch + std::time::Duration::from_micros(us as u64)
    } else {
        epoch - std::time::Duration::from_micros(us.unsigned_abs())
    }
}

/// A new file, mode 0600, never through a symlink.
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}
