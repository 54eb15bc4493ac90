//! The workspace history of generated realms: which folders and files exist, and every
//! version of them and every block, as a stream of operations (`Op`) that fills each
//! activity window's vlob and block budget. It follows Parsec's rules (reference §5.5–5.7,
//! §6): the root folder's vlob id is the realm id; a folder may list a child that is not
//! uploaded yet (the parent is sometimes written first) or that has moved away (a move
//! sometimes leaves the old folder untouched): the child's own `parent` decides. Files
//! have several blocks, holes (between blocks, inside a span, past the last block), may be
//! empty, are edited, renamed, moved and deleted; names include ones Windows and macOS
//! refuse.
//!
//! The stream is deterministic for a seed and holds only the tree's current state, so it
//! can be replayed: the writer runs it once for the blocks (whose digests the manifests
//! need) and once more for the manifests.

mod import;
mod names;
mod ranked;

pub(crate) use import::Import;
pub(crate) use names::realm_name;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use chrono::Duration;
use rand::rngs::StdRng;
use rand::Rng;
use uuid::Uuid;

use self::ranked::Ranked;
use super::plan::{DeviceIdx, RealmIdx, Ts, Window};
use super::random::{stream_rng, uuid_v4};
use super::OrgSpec;
use crate::parsec::crypto::secretbox;

/// Parsec's default block size (span), the `blocksize` of every generated file manifest.
pub(crate) const BLOCKSIZE: u64 = 512 * 1024;
/// Folders stop receiving new entries past this (a soft cap that keeps manifests small).
const MAX_CHILDREN: usize = 32;
/// RNG stream of the history (see `random::stream_rng`).
const HISTORY_STREAM: u64 = 6;
/// RNG stream of the devices' clock offsets (shared with the bulk writer).
pub(crate) const CLOCK_STREAM: u64 = 5;

/// Where a block's cleartext comes from (regenerated on demand, never kept).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Content {
    /// `random::fill_payload` of this seed.
    Seeded(u64),
    /// Bytes of an imported file (`Import::files[file]`) from `offset`.
    Imported { file: usize, offset: u64 },
}

#[derive(Debug, Clone)]
pub(crate) struct BlockSpec {
    pub(crate) id: Uuid,
    pub(crate) realm: RealmIdx,
    pub(crate) device: DeviceIdx,
    /// Server time of the upload (just before the manifest that first uses it).
    pub(crate) created_on: Ts,
    pub(crate) key_index: u32,
    /// Cleartext length (the row's `size` is this plus the encryption overhead).
    pub(crate) size: u32,
    pub(crate) content: Content,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// Children as written, in name order (entries not yet uploaded or moved away included).
    Folder(Vec<(String, Uuid)>),
    /// `blocks`: (block number in the stream, offset), sorted by offset.
    File {
        size: u64,
        blocks: Vec<(usize, u64)>,
    },
}

/// One vlob version: its row and its manifest.
#[derive(Debug, Clone)]
pub(crate) struct VlobWrite {
    pub(crate) realm: RealmIdx,
    pub(crate) key_index: u32,
    pub(crate) device: DeviceIdx,
    /// The client's timestamp (row `created_on` and manifest `timestamp` alike).
    pub(crate) timestamp: Ts,
    pub(crate) id: Uuid,
    pub(crate) parent: Uuid,
    pub(crate) version: u32,
    pub(crate) created: Ts,
    pub(crate) kind: Kind,
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Block(BlockSpec),
    Vlob(VlobWrite),
}

struct Entry {
    parent: Uuid,
    version: u32,
    created: Ts,
    last: Ts,
    node: Node,
}

enum Node {
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
struct Tree {
    root: Uuid,
    entries: HashMap<Uuid, Entry>,
    /// Every file ever created, in creation order; `live` flags the ones not deleted.
    files: Vec<Uuid>,
    live: Ranked,
    file_positions: HashMap<Uuid, usize>,
    /// Positions of live imported files still being written.
    pending_imports: BTreeSet<usize>,
    folders: Vec<Uuid>,
    folder_positions: HashMap<Uuid, usize>,
    /// Folders with fewer than `MAX_CHILDREN` entries.
    roomy: Ranked,
    /// Folders with an entry that may be renamed.
    renamable: Ranked,
    awkward: usize,
    /// Imported folder (index in `Import::folders`) → its vlob.
    imported_folders: HashMap<usize, Uuid>,
    next_import_file: usize,
    next_import_folder: usize,
}

impl Tree {
    fn children(&self, folder: Uuid) -> Option<&BTreeMap<String, Uuid>> {
        match self.entries.get(&folder).map(|e| &e.node) {
            Some(Node::Folder(children)) => Some(children),
            _ => None,
        }
    }

    /// Changes a folder's children, keeping its `roomy` and `renamable` flags right.
    fn edit_children<R>(
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
    fn add_folder(&mut self, id: Uuid) {
        self.folder_positions.insert(id, self.folders.len());
        self.folders.push(id);
        self.roomy.push(true);
        self.renamable.push(false);
    }

    /// Registers a new file, already in `entries`.
    fn add_file(&mut self, id: Uuid, importing: bool) {
        let position = self.files.len();
        self.file_positions.insert(id, position);
        self.files.push(id);
        self.live.push(true);
        if importing {
            self.pending_imports.insert(position);
        }
    }

    fn delete_file(&mut self, id: Uuid) {
        if let Some(position) = self.file_positions.get(&id).copied() {
            self.live.set(position, false);
            self.pending_imports.remove(&position);
        }
    }

    fn live_files(&self) -> usize {
        self.live.count()
    }

    fn unique_name(&self, folder: Uuid, name: String) -> String {
        let children = self.children(folder);
        names::unique(name, |n| children.is_some_and(|c| c.contains_key(n)))
    }
}

/// The window being filled.
struct Cursor {
    window: usize,
    /// Server times of the window's vlob writes.
    slots: Vec<Ts>,
    next_slot: usize,
    blocks_left: usize,
    /// Server time of the last write, blocks included.
    last_time: Ts,
}

pub(crate) struct History<'a> {
    spec: &'a OrgSpec,
    windows: &'a [Window],
    import: Option<&'a Import>,
    rng: StdRng,
    trees: Vec<Tree>,
    next_window: usize,
    cursor: Option<Cursor>,
    queue: VecDeque<Op>,
    blocks: usize,
    serial: usize,
    clear_min: u64,
    clear_max: u64,
    blocksize: u64,
}

impl<'a> History<'a> {
    pub(crate) fn new(
        spec: &'a OrgSpec,
        realm_ids: &[Uuid],
        windows: &'a [Window],
        import: Option<&'a Import>,
    ) -> Self {
        let overhead = secretbox::OVERHEAD as u64;
        let clear_min = (spec.block_size_min as u64).saturating_sub(overhead).max(1);
        let clear_max = (spec.block_size_max as u64)
            .saturating_sub(overhead)
            .max(clear_min);
        let trees = realm_ids
            .iter()
            .map(|root| Tree {
                root: *root,
                ..Tree::default()
            })
            .collect();
        Self {
            spec,
            windows,
            import,
            rng: stream_rng(spec.seed, HISTORY_STREAM),
            trees,
            next_window: 0,
            cursor: None,
            queue: VecDeque::new(),
            blocks: 0,
            serial: 0,
            clear_min,
            clear_max,
            blocksize: BLOCKSIZE.max(clear_max.next_power_of_two()),
        }
    }

    pub(crate) fn blocksize(&self) -> u64 {
        self.blocksize
    }

    fn window(&self) -> &'a Window {
        let index = self.cursor.as_ref().map_or(0, |c| c.window);
        &self.windows[index]
    }

    /// Moves to the next window with work; false at the end.
    fn advance(&mut self) -> bool {
        // Blocks left over (no vlob write to carry them): uploaded but never referenced,
        // as after a client's failed sync; stamped up to the window's end.
        let left = self.cursor.as_ref().map_or(0, |c| c.blocks_left);
        if left > 0 {
            let device = self.pick_device(self.window());
            for _ in 0..left {
                let size = self.rng.gen_range(self.clear_min..=self.clear_max);
                let content = Content::Seeded(self.rng.gen());
                self.new_block(device, size, content);
            }
        }
        self.cursor = None;
        if left > 0 {
            return true;
        }
        let Some(window) = self.windows.get(self.next_window) else {
            return false;
        };
        let slots = spread(window.start, window.end, window.vlobs, &mut self.rng);
        self.cursor = Some(Cursor {
            window: self.next_window,
            slots,
            next_slot: 0,
            blocks_left: window.blocks,
            last_time: window.start,
        });
        self.next_window += 1;
        true
    }

    fn pick_device(&mut self, window: &Window) -> DeviceIdx {
        // The planner gives every window at least one writer.
        window.writers[self.rng.gen_range(0..window.writers.len().max(1))]
    }

    /// Emits a block; its upload time falls between the last write and the next slot.
    fn new_block(&mut self, device: DeviceIdx, size: u64, content: Content) -> (usize, u64) {
        let window = self.window();
        let Some(cursor) = self.cursor.as_mut() else {
            return (0, 0);
        };
        let next = cursor
            .slots
            .get(cursor.next_slot)
            .copied()
            .unwrap_or(window.end);
        let gap = (next - cursor.last_time).num_microseconds().unwrap_or(0);
        let step = (gap / 8).max(1);
        let created_on = (cursor.last_time + Duration::microseconds(step)).min(next);
        cursor.last_time = created_on;
        cursor.blocks_left = cursor.blocks_left.saturating_sub(1);
        let number = self.blocks;
        self.blocks += 1;
        self.queue.push_back(Op::Block(BlockSpec {
            id: uuid_v4(&mut self.rng),
            realm: window.realm,
            device,
            created_on,
            key_index: window.key_index,
            size: size as u32,
            content,
        }));
        (number, size)
    }

    /// Emits the next version of `id` (already in the tree, with its new state).
    fn write(&mut self, id: Uuid, device: DeviceIdx) {
        let window = self.window();
        let (spec_seed, skew) = (self.spec.seed, self.spec.clock_skew_s);
        let Some(cursor) = self.cursor.as_mut() else {
            return;
        };
        let Some(server_time) = cursor.slots.get(cursor.next_slot).copied() else {
            return;
        };
        let position = cursor.next_slot;
        cursor.next_slot += 1;
        cursor.last_time = server_time;
        let offset = clock_offset(spec_seed, device, skew);
        let mut timestamp = client_timestamp(server_time, offset, window, position);
        let tree = &mut self.trees[window.realm];
        let Some(entry) = tree.entries.get_mut(&id) else {
            return;
        };
        // Parsec's server refuses a version not newer than the previous one: the client
        // retries with a later timestamp.
        if entry.version > 0 && timestamp <= entry.last {
            timestamp = entry.last + Duration::microseconds(1);
        }
        entry.version += 1;
        entry.last = timestamp;
        if entry.version == 1 {
            entry.created = timestamp;
        }
        let kind = match &entry.node {
            Node::Folder(children) => Kind::Folder(
                children
                    .iter()
                    .map(|(name, id)| (name.clone(), *id))
                    .collect(),
            ),
            Node::File { size, blocks, .. } => Kind::File {
                size: *size,
                blocks: blocks.iter().map(|(n, offset, _)| (*n, *offset)).collect(),
            },
        };
        self.queue.push_back(Op::Vlob(VlobWrite {
            realm: window.realm,
            key_index: window.key_index,
            device,
            timestamp,
            id,
            parent: entry.parent,
            version: entry.version,
            created: entry.created,
            kind,
        }));
    }

    /// One user action: one to three vlob writes, with the blocks they need first.
    fn act(&mut self) {
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
    fn share_of_blocks(&mut self, rv: usize, rb: usize, cost: usize) -> usize {
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

    fn add_entry(&mut self, realm: RealmIdx, id: Uuid, parent: Uuid, node: Node) {
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
    fn folder_with_room(&mut self, realm: RealmIdx) -> Uuid {
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

    fn random_file(&mut self, realm: RealmIdx) -> Option<Uuid> {
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
    fn movable_file(&mut self, realm: RealmIdx) -> Option<Uuid> {
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
    fn link_and_write(
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

    fn create_file(&mut self, realm: RealmIdx, device: DeviceIdx, nb: usize) {
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
    fn next_import_file(&mut self, realm: RealmIdx) -> Option<(usize, Uuid)> {
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

    fn create_folder(&mut self, realm: RealmIdx, device: DeviceIdx) {
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

    fn edit_file(&mut self, realm: RealmIdx, device: DeviceIdx, nb: usize) {
        // Imported files still incomplete come first, so that they get completed.
        let tree = &self.trees[realm];
        let pending = (nb > 0 && self.import.is_some())
            .then(|| tree.pending_imports.first())
            .flatten()
            .and_then(|position| tree.files.get(*position).copied());
        if let Some(id) = pending.or_else(|| self.random_file(realm)) {
            self.change_content(realm, id, device, nb, false);
            self.write(id, device);
        }
    }

    /// New content for file `id` with `nb` new blocks: appended or replacing blocks (or,
    /// with none, truncated, extended with a hole, or emptied). An imported file first
    /// gets its next real chunks.
    fn change_content(
        &mut self,
        realm: RealmIdx,
        id: Uuid,
        device: DeviceIdx,
        nb: usize,
        new: bool,
    ) {
        let bs = self.blocksize;
        let Some(Entry {
            node:
                Node::File {
                    size,
                    blocks,
                    import,
                },
            ..
        }) = self.trees[realm].entries.get_mut(&id)
        else {
            return;
        };
        let (mut size, mut blocks, mut import) = (*size, std::mem::take(blocks), *import);
        let imported_len = |file: usize| self.import.map_or(0, |i| i.files[file].size);
        if let Some((file, written)) = import.filter(|_| nb > 0) {
            let total = imported_len(file);
            let mut written = written;
            for _ in 0..nb {
                if written >= total {
                    break;
                }
                let len = (total - written).min(bs);
                let (n, len) = self.new_block(
                    device,
                    len,
                    Content::Imported {
                        file,
                        offset: written,
                    },
                );
                blocks.push((n, written, len));
                written += len;
            }
            size = written;
            import = (written < total).then_some((file, written));
        } else if nb > 0 {
            let append = blocks.is_empty() || new || self.rng.gen_bool(0.5);
            let mut spans: Vec<u64> = Vec::new();
            // Past every current span, the replaced ones included.
            let mut next_span = blocks.iter().map(|b| b.1 / bs + 1).max().unwrap_or(0);
            if !append {
                let mut existing: Vec<u64> = blocks.iter().map(|b| b.1 / bs).collect();
                while spans.len() < nb && !existing.is_empty() {
                    let i = self.rng.gen_range(0..existing.len());
                    spans.push(existing.swap_remove(i));
                }
                blocks.retain(|b| !spans.contains(&(b.1 / bs)));
            }
            while spans.len() < nb {
                if self.rng.gen_bool(0.15) {
                    next_span += 1; // a whole span left as a hole
                }
                spans.push(next_span);
                next_span += 1;
            }
            for span in spans {
                let len = self.rng.gen_range(self.clear_min..=self.clear_max).min(bs);
                let intra = if len < bs && self.rng.gen_bool(0.1) {
                    self.rng.gen_range(0..=bs - len)
                } else {
                    0
                };
                let content = Content::Seeded(self.rng.gen());
                let (n, len) = self.new_block(device, len, content);
                blocks.push((n, span * bs + intra, len));
            }
            blocks.sort_by_key(|b| b.1);
            let end = blocks.last().map_or(0, |b| b.1 + b.2);
            size = size.max(end);
            if self.rng.gen_bool(0.15) {
                size += self.rng.gen_range(1..=bs); // zeros past the last block
            }
        } else {
            match self.rng.gen_range(0..10) {
                // Empty (a new file: an empty file half of the time).
                0..=4 if new => {}
                0 => {
                    blocks.clear();
                    size = 0;
                }
                1..=4 => {
                    blocks.pop();
                    let end = blocks.last().map_or(0, |b| b.1 + b.2);
                    size = end + self.rng.gen_range(0..=bs / 4).min(size.saturating_sub(end));
                }
                _ => size += self.rng.gen_range(1..=bs),
            }
        }
        if let Some(Entry {
            node:
                Node::File {
                    size: s,
                    blocks: b,
                    import: i,
                },
            ..
        }) = self.trees[realm].entries.get_mut(&id)
        {
            (*s, *b, *i) = (size, blocks, import);
        }
        if import.is_none() {
            let tree = &mut self.trees[realm];
            if let Some(position) = tree.file_positions.get(&id) {
                tree.pending_imports.remove(position);
            }
        }
    }

    fn move_file(&mut self, realm: RealmIdx, device: DeviceIdx, rv: usize) {
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

    fn delete_file(&mut self, realm: RealmIdx, device: DeviceIdx) {
        let Some(id) = self.movable_file(realm) else {
            return self.rename(realm, device);
        };
        let tree = &mut self.trees[realm];
        let parent = tree.entries.get(&id).map_or(tree.root, |e| e.parent);
        tree.edit_children(parent, |children| children.retain(|_, child| *child != id));
        tree.delete_file(id);
        self.write(parent, device);
    }

    fn rename(&mut self, realm: RealmIdx, device: DeviceIdx) {
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

/// The awkward names are kept as they are (see `History::movable_file`).
fn renamable(name: &str) -> bool {
    !names::AWKWARD.contains(&name)
}

impl Iterator for History<'_> {
    type Item = Op;

    fn next(&mut self) -> Option<Op> {
        loop {
            if let Some(op) = self.queue.pop_front() {
                return Some(op);
            }
            let has_slots = self
                .cursor
                .as_ref()
                .is_some_and(|c| c.next_slot < c.slots.len());
            if has_slots {
                self.act();
            } else if !self.advance() {
                return None;
            }
        }
    }
}

/// `count` strictly increasing timestamps strictly inside (start, end): evenly spaced slots,
/// each jittered backwards by less than half a slot so the spacing looks organic.
pub(crate) fn spread(start: Ts, end: Ts, count: usize, rng: &mut StdRng) -> Vec<Ts> {
    let span = (end - start).num_microseconds().unwrap_or(i64::MAX);
    let slot = span / (count as i64 + 1);
    (1..=count as i64)
        .map(|position| {
            let jitter = if slot >= 2 {
                rng.gen_range(0..slot / 2)
            } else {
                0
            };
            start + Duration::microseconds(slot * position - jitter)
        })
        .collect()
}

/// A device's clock offset from the server's, in µs, within ±`skew_s` seconds: fixed per
/// device (and seed), so one device's versions are consistently early or late.
pub(crate) fn clock_offset(seed: u64, device: DeviceIdx, skew_s: u32) -> i64 {
    if skew_s == 0 {
        return 0;
    }
    let span = i64::from(skew_s) * 1_000_000;
    let mut rng = stream_rng(
        seed ^ (device as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        CLOCK_STREAM,
    );
    rng.gen_range(-span..span)
}

/// What a client with that clock offset stamps a write made at server time `at`: kept
/// strictly inside the window (after the certificate that opened it, as Parsec's server
/// requires, and before the next one), distinct per position so no two versions of a vlob
/// share a timestamp.
pub(crate) fn client_timestamp(at: Ts, offset_us: i64, window: &Window, position: usize) -> Ts {
    let stamped = at + Duration::microseconds(offset_us);
    let nudge = Duration::microseconds(1 + position as i64);
    if stamped <= window.start {
        window.start + nudge
    } else if stamped >= window.end {
        window.end - nudge
    } else {
        stamped
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
