//! OUTPUT_DIR: new or empty, or an interrupted extraction of the same export with the same
//! options (its state file says so), which is then continued. Everything is created inside
//! it, folders 0700, files 0600, never through a symlink.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const STATE_DIR: &str = ".parsec-extract";
const STATE_FILE: &str = "state.json";

/// What must match for a re-run to continue an interrupted extraction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub export_sha256: String,
    pub service_id: String,
    pub mode: String,
    pub at: i64,
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
    pub fn prepare(root: &Path, state: &State) -> Result<Output> {
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
                    match saved {
                        Some(s) if &s == state => resumed = true,
                        Some(_) => return Err(out_error(root, "holds an extraction of another export, service, time or mode: choose a new or empty OUTPUT_DIR")),
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
            let json =
                serde_json::to_vec_pretty(state).map_err(|e| Error::Internal(e.to_string()))?;
            out.write_file(&state_dir.join(STATE_FILE), &json)?;
        }
        Ok(out)
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR).join("tmp")
    }

    /// Writes a small file (report, index) through a temporary name.
    pub fn write_file(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = self.tmp_dir().join(format!(
            "small-{}",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        let _ = std::fs::remove_file(&tmp);
        let result = (|| -> std::io::Result<()> {
            let mut f = super::content::create_private(&tmp)?;
            f.write_all(bytes)?;
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

/// Sets folders' mtimes, deepest first (writing into a folder changes its mtime).
pub fn set_dir_times(mut dirs: Vec<(PathBuf, i64)>) -> std::io::Result<()> {
    dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
    for (p, t) in dirs {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {}
            _ => continue,
        }
        let f = std::fs::File::open(&p)?;
        f.set_modified(super::content::to_system_time(t))?;
    }
    Ok(())
}
