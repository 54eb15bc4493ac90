//! A realm's tree as the history sees it now: entries, their current state, and the
//! indexes that keep every random pick O(log n).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

use super::names;
use super::ranked::Ranked;
use super::MAX_CHILDREN;
use crate::testbed::plan::Ts;

pub(super) struct Entry {
    pub(super) parent: Uuid,
    pub(super) version: u32,
    pub(super) created: Ts,
    pub(super) last: Ts,
    pub(super) node: Node,
}

pub(super) enum Node {
    Folder(BTreeMap<String, Uuid>),
    File {
        size: u64,
        /// (block number, offset, cleartext size), sorted by offset.
        blocks: Vec<(usize, u64, u64)>,
        /// Imported file still being written: (file, bytes written so far).
        import: Option<(usize, u64)>,
    },
}

/// A realm's tree. Files and folders keep their creation order (the random picks index
/// into it); the `Ranked` flags and positions keep each pick O(log n) at any history size.
#[derive(Default)]
pub(super) struct Tree {
    pub(super) root: Uuid,
    pub(super) entries: HashMap<Uuid, Entry>,
    /// Every file ever created, in creation order; `live` flags the ones not deleted.
    pub(super) files: Vec<Uuid>,
    pub(super) live: Ranked,
    pub(super) file_positions: HashMap<Uuid, usize>,
    /// Positions of live imported files still being written.
    pub(super) pending_imports: BTreeSet<usize>,
    pub(super) folders: Vec<Uuid>,
    pub(super) folder_positions: HashMap<Uuid, usize>,
    /// Folders with fewer than `MAX_CHILDREN` entries.
    pub(super) roomy: Ranked,
    /// Folders with an entry that may be renamed.
    pub(super) renamable: Ranked,
    pub(super) awkward: usize,
    /// Imported folder (index in `Import::folders`) → its vlob.
    pub(super) imported_folders: HashMap<usize, Uuid>,
    pub(super) next_import_file: usize,
    pub(super) next_import_folder: usize,
}

impl Tree {
    pub(super) fn children(&self, folder: Uuid) -> Option<&BTreeMap<String, Uuid>> {
        match self.entries.get(&folder).map(|e| &e.node) {
            Some(Node::Folder(children)) => Some(children),
            _ => None,
        }
    }

    /// Changes a folder's children, keeping its `roomy` and `renamable` flags right.
    pub(super) fn edit_children<R>(
        &mut self,
        folder: Uuid,
        edit: impl FnOnce(&mut BTreeMap<String, Uuid>) -> R,
    ) -> Option<R> {
        let Some(Node::Folder(children)) = self.entries.get_mut(&folder).map(|e| &mut e.node)
        else {
            return None;
        };
        let result = edit(children);
        let roomy = children.len() < MAX_CHILDREN;
        let renamable = children.keys().any(|n| renamable(n));
        if let Some(position) = self.folder_positions.get(&folder).copied() {
            self.roomy.set(position, roomy);
            self.renamable.set(position, renamable);
        }
        Some(result)
    }

    /// Registers a new (empty) folder, already in `entries`.
    pub(super) fn add_folder(&mut self, id: Uuid) {
        self.folder_positions.insert(id, self.folders.len());
        self.folders.push(id);
        self.roomy.push(true);
        self.renamable.push(false);
    }

    /// Registers a new file, already in `entries`.
    pub(super) fn add_file(&mut self, id: Uuid, importing: bool) {
        let position = self.files.len();
        self.file_positions.insert(id, position);
        self.files.push(id);
        self.live.push(true);
        if importing {
            self.pending_imports.insert(position);
        }
    }

    pub(super) fn delete_file(&mut self, id: Uuid) {
        if let Some(position) = self.file_positions.get(&id).copied() {
            self.live.set(position, false);
            self.pending_imports.remove(&position);
        }
    }

    pub(super) fn live_files(&self) -> usize {
        self.live.count()
    }

    pub(super) fn unique_name(&self, folder: Uuid, name: String) -> String {
        let children = self.children(folder);
        names::unique(name, |n| children.is_some_and(|c| c.contains_key(n)))
    }
}

/// The awkward names are kept as they are (see `History::movable_file`).
pub(super) fn renamable(name: &str) -> bool {
    !names::AWKWARD.contains(&name)
}
