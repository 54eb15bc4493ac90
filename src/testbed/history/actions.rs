//! The user actions that make up the history: creating, moving, deleting and renaming
//! files and folders (content edits are in `content`).

use std::collections::BTreeMap;

use rand::Rng;
use uuid::Uuid;

use super::tree::{renamable, Entry, Node};
use super::{names, History};
use crate::testbed::plan::{DeviceIdx, RealmIdx};
use crate::testbed::random::uuid_v4;

impl History<'_> {
    /// One user action: one to three vlob writes, with the blocks they need first.
    pub(super) fn act(&mut self) {
        let window = self.window();
        let realm = window.realm;
        let Some(cursor) = self.cursor.as_ref() else {
            return;
        };
        let rv = cursor.slots.len() - cursor.next_slot;
        let rb = cursor.blocks_left;
        let device = self.pick_device(window);
        let tree = &self.trees[realm];
        if !tree.entries.contains_key(&tree.root) {
            let root = tree.root;
            self.add_entry(realm, root, root, Node::Folder(BTreeMap::new()));
            self.trees[realm].add_folder(root);
            self.write(root, device);
            return;
        }
        let has_file = tree.live_files() > 0;
        let has_children =
            tree.children(tree.root).is_some_and(|c| !c.is_empty()) || tree.folders.len() > 1;
        let r: u32 = self.rng.gen_range(0..100);
        // Blocks must find a file before the window runs out of vlob writes.
        let must_carry = rb > 0 && rv <= 2;
        if rv >= 2 && (!has_file || r < 30) {
            let nb = self.share_of_blocks(rv, rb, 2);
            return self.create_file(realm, device, nb);
        }
        if has_file && (must_carry || r < 65) {
            let nb = self.share_of_blocks(rv, rb, 1);
            return self.edit_file(realm, device, nb);
        }
        if rv >= 2 && r < 75 {
            return self.create_folder(realm, device);
        }
        if rv >= 2 && has_file && r < 85 && tree.folders.len() >= 2 {
            return self.move_file(realm, device, rv);
        }
        if has_file && tree.live_files() > 3 && r < 90 {
            return self.delete_file(realm, device);
        }
        if has_children {
            return self.rename(realm, device);
        }
        let root = self.trees[realm].root;
        self.write(root, device);
    }

    /// Blocks for an action using `cost` of the `rv` remaining vlob writes: a fair share of
    /// the `rb` remaining blocks, all of them on the window's last writes.
    pub(super) fn share_of_blocks(&mut self, rv: usize, rb: usize, cost: usize) -> usize {
        if rv <= cost {
            return rb;
        }
        let exact = rb as f64 * cost as f64 / rv as f64;
        let mut share = exact.floor() as usize;
        if self.rng.gen_bool(exact - exact.floor()) {
            share += 1;
        }
        share.min(rb)
    }

    pub(super) fn add_entry(&mut self, realm: RealmIdx, id: Uuid, parent: Uuid, node: Node) {
        let start = self.window().start;
        self.trees[realm].entries.insert(
            id,
            Entry {
                parent,
                version: 0,
                created: start,
                last: start,
                node,
            },
        );
    }

    /// A folder with room for one more entry (a new folder if every one is full).
    pub(super) fn folder_with_room(&mut self, realm: RealmIdx) -> Uuid {
        let tree = &self.trees[realm];
        let count = tree.roomy.count();
        if count == 0 {
            return tree.root;
        }
        let pick = self.rng.gen_range(0..count);
        let tree = &self.trees[realm];
        tree.roomy
            .nth(pick)
            .and_then(|position| tree.folders.get(position).copied())
            .unwrap_or(tree.root)
    }

    pub(super) fn random_file(&mut self, realm: RealmIdx) -> Option<Uuid> {
        let count = self.trees[realm].live_files();
        if count == 0 {
            return None;
        }
        let pick = self.rng.gen_range(0..count);
        let tree = &self.trees[realm];
        tree.live
            .nth(pick)
            .and_then(|position| tree.files.get(position).copied())
    }

    /// A file that may be moved or deleted: the awkward names stay where they are, so
    /// every later root lists them.
    pub(super) fn movable_file(&mut self, realm: RealmIdx) -> Option<Uuid> {
        let id = self.random_file(realm)?;
        let tree = &self.trees[realm];
        let parent = tree.entries.get(&id)?.parent;
        let awkward = tree.children(parent).is_some_and(|c| {
            c.iter()
                .any(|(name, child)| *child == id && names::AWKWARD.contains(&name.as_str()))
        });
        (!awkward).then_some(id)
    }

    /// Links `id` under `name` in `folder`; `child_first` decides the upload order.
    pub(super) fn link_and_write(
        &mut self,
        realm: RealmIdx,
        device: DeviceIdx,
        folder: Uuid,
        name: String,
        id: Uuid,
    ) {
        let parent_first = self.rng.gen_bool(0.4);
        if !parent_first {
            self.write(id, device);
        }
        self.trees[realm].edit_children(folder, |children| children.insert(name, id));
        self.write(folder, device);
        if parent_first {
            self.write(id, device);
        }
    }

    pub(super) fn create_file(&mut self, realm: RealmIdx, device: DeviceIdx, nb: usize) {
        let tree = &self.trees[realm];
        let (folder, name, import) = if tree.awkward < names::AWKWARD.len() {
            (tree.root, names::AWKWARD[tree.awkward].to_owned(), None)
        } else if let Some((file, folder)) = self.next_import_file(realm) {
            let name = self
                .import
                .map_or_else(String::new, |i| i.files[file].name.clone());
            (folder, name, Some(file))
        } else {
            self.serial += 1;
            let folder = self.folder_with_room(realm);
            (folder, names::file_name(&mut self.rng, self.serial), None)
        };
        if self.trees[realm].awkward < names::AWKWARD.len() {
            self.trees[realm].awkward += 1;
        }
        let name = self.trees[realm].unique_name(folder, name);
        let id = uuid_v4(&mut self.rng);
        let node = Node::File {
            size: 0,
            blocks: Vec::new(),
            import: import.map(|file| (file, 0)),
        };
        self.add_entry(realm, id, folder, node);
        self.trees[realm].add_file(id, import.is_some());
        if nb > 0 || import.is_none() {
            self.change_content(realm, id, device, nb, true);
        }
        self.link_and_write(realm, device, folder, name, id);
    }

    /// The next imported file whose folder exists in this realm, with that folder.
    pub(super) fn next_import_file(&mut self, realm: RealmIdx) -> Option<(usize, Uuid)> {
        let import = self.import?;
        let tree = &mut self.trees[realm];
        let file = import.files.get(tree.next_import_file)?;
        let folder = match file.folder {
            None => tree.root,
            Some(f) => *tree.imported_folders.get(&f)?,
        };
        tree.next_import_file += 1;
        Some((tree.next_import_file - 1, folder))
    }

    pub(super) fn create_folder(&mut self, realm: RealmIdx, device: DeviceIdx) {
        let imported = self.import.and_then(|import| {
            let tree = &self.trees[realm];
            let index = tree.next_import_folder;
            let folder = import.folders.get(index)?;
            let parent = match folder.parent {
                None => tree.root,
                Some(p) => *tree.imported_folders.get(&p)?,
            };
            Some((index, parent, folder.name.clone()))
        });
        let (parent, name) = match &imported {
            Some((_, parent, name)) => (*parent, name.clone()),
            None => {
                self.serial += 1;
                let parent = self.folder_with_room(realm);
                (parent, names::folder_name(&mut self.rng, self.serial))
            }
        };
        let name = self.trees[realm].unique_name(parent, name);
        let id = uuid_v4(&mut self.rng);
        self.add_entry(realm, id, parent, Node::Folder(BTreeMap::new()));
        let tree = &mut self.trees[realm];
        tree.add_folder(id);
        if let Some((index, _, _)) = imported {
            tree.imported_folders.insert(index, id);
            tree.next_import_folder += 1;
        }
        self.link_and_write(realm, device, parent, name, id);
    }

    pub(super) fn move_file(&mut self, realm: RealmIdx, device: DeviceIdx, rv: usize) {
        let Some(id) = self.movable_file(realm) else {
            return self.rename(realm, device);
        };
        let from = self.trees[realm]
            .entries
            .get(&id)
            .map_or(Uuid::nil(), |e| e.parent);
        let to = self.folder_with_room(realm);
        if to == from {
            return self.rename(realm, device);
        }
        let tree = &mut self.trees[realm];
        let name = tree
            .children(from)
            .and_then(|c| c.iter().find(|(_, child)| **child == id))
            .map(|(name, _)| name.clone());
        let Some(name) = name else {
            return self.rename(realm, device);
        };
        let new_name = tree.unique_name(to, name.clone());
        if let Some(entry) = tree.entries.get_mut(&id) {
            entry.parent = to;
        }
        self.write(id, device);
        self.trees[realm].edit_children(to, |children| children.insert(new_name, id));
        self.write(to, device);
        // Sometimes the old folder is left listing it (the child's `parent` decides).
        if rv >= 3 && self.rng.gen_bool(0.7) {
            self.trees[realm].edit_children(from, |children| children.remove(&name));
            self.write(from, device);
        }
    }

    pub(super) fn delete_file(&mut self, realm: RealmIdx, device: DeviceIdx) {
        let Some(id) = self.movable_file(realm) else {
            return self.rename(realm, device);
        };
        let tree = &mut self.trees[realm];
        let parent = tree.entries.get(&id).map_or(tree.root, |e| e.parent);
        tree.edit_children(parent, |children| children.retain(|_, child| *child != id));
        tree.delete_file(id);
        self.write(parent, device);
    }

    pub(super) fn rename(&mut self, realm: RealmIdx, device: DeviceIdx) {
        let tree = &self.trees[realm];
        let candidates = tree.renamable.count();
        let root = tree.root;
        if candidates == 0 {
            return self.write(root, device);
        }
        let pick = self.rng.gen_range(0..candidates);
        let tree = &self.trees[realm];
        let folder = tree
            .renamable
            .nth(pick)
            .and_then(|position| tree.folders.get(position).copied())
            .unwrap_or(root);
        let count = self.trees[realm]
            .children(folder)
            .map_or(0, |c| c.keys().filter(|n| renamable(n)).count());
        let pick = self.rng.gen_range(0..count.max(1));
        self.serial += 1;
        let fresh = format!("renamed {}", self.serial);
        let tree = &mut self.trees[realm];
        let old = tree
            .children(folder)
            .and_then(|c| c.iter().filter(|(n, _)| renamable(n)).nth(pick))
            .map(|(name, id)| (name.clone(), *id));
        if let Some((old_name, child)) = old {
            let stem = old_name
                .rsplit_once('.')
                .map_or(fresh.clone(), |(_, ext)| format!("{fresh}.{ext}"));
            let new_name = tree.unique_name(folder, stem);
            tree.edit_children(folder, |children| {
                children.remove(&old_name);
                children.insert(new_name, child);
            });
        }
        self.write(folder, device);
    }
}
