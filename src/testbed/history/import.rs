//! `--from-dir`: a real directory tree whose folders and files the history creates (in
//! the first realm that reaches them, parents first) with their real names and content;
//! later edits of an imported file append its next chunks until it is complete.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::parsec::entry_name::EntryName;

#[derive(Debug)]
pub(crate) struct ImportedFolder {
    pub(crate) name: String,
    /// Index of the parent folder; `None` = the realm's root.
    pub(crate) parent: Option<usize>,
}

#[derive(Debug)]
pub(crate) struct ImportedFile {
    pub(crate) path: PathBuf,
    pub(crate) name: String,
    pub(crate) folder: Option<usize>,
    pub(crate) size: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Import {
    pub(crate) folders: Vec<ImportedFolder>,
    pub(crate) files: Vec<ImportedFile>,
}

impl Import {
    /// Walks `dir` breadth-first in name order (so parents come first). Symbolic links and
    /// special files are skipped; a name Parsec refuses (not UTF-8, too long) is an error.
    pub(crate) fn read(dir: &Path) -> Result<Self> {
        let mut import = Import::default();
        let mut queue = vec![(dir.to_path_buf(), None)];
        let mut next = 0;
        while next < queue.len() {
            let (path, folder) = queue[next].clone();
            next += 1;
            let mut entries = std::fs::read_dir(&path)
                .with_context(|| format!("--from-dir: cannot read {}", path.display()))?
                .collect::<std::io::Result<Vec<_>>>()
                .with_context(|| format!("--from-dir: cannot read {}", path.display()))?;
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let child = entry.path();
                let kind = entry
                    .file_type()
                    .with_context(|| format!("--from-dir: cannot inspect {}", child.display()))?;
                let raw = entry.file_name();
                let name = raw.to_str().ok_or_else(|| {
                    anyhow!(
                        "--from-dir: {} is not a UTF-8 name, which Parsec cannot store; rename it or leave it out",
                        child.display()
                    )
                })?;
                let name = EntryName::parse(name)
                    .map_err(|e| anyhow!("--from-dir: {}: {e}", child.display()))?
                    .as_str()
                    .to_owned();
                if kind.is_dir() {
                    import.folders.push(ImportedFolder {
                        name,
                        parent: folder,
                    });
                    queue.push((child, Some(import.folders.len() - 1)));
                } else if kind.is_file() {
                    let size = entry
                        .metadata()
                        .with_context(|| format!("--from-dir: cannot inspect {}", child.display()))?
                        .len();
                    import.files.push(ImportedFile {
                        path: child,
                        name,
                        folder,
                        size,
                    });
                }
            }
        }
        if import.files.is_empty() && import.folders.is_empty() {
            bail!(
                "--from-dir: {} is empty: give a folder with files",
                dir.display()
            );
        }
        Ok(import)
    }

    /// Reads `buf.len()` bytes of file `file` at `offset` (the file must not have shrunk
    /// since it was listed).
    pub(crate) fn read_chunk(&self, file: usize, offset: u64, buf: &mut [u8]) -> Result<()> {
        let imported = self
            .files
            .get(file)
            .ok_or_else(|| anyhow!("internal error: no imported file #{file}"))?;
        let path = &imported.path;
        let mut f = File::open(path)
            .with_context(|| format!("--from-dir: cannot open {}", path.display()))?;
        f.seek(SeekFrom::Start(offset))
            .and_then(|_| f.read_exact(buf))
            .with_context(|| {
                format!(
                    "--from-dir: cannot read {} bytes of {} at {offset} (did it change during the generation?)",
                    buf.len(),
                    path.display()
                )
            })
    }
}
