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

mod actions;
mod content;
mod import;
mod names;
mod ranked;
mod time;
mod tree;

pub(crate) use import::Import;
pub(crate) use names::realm_name;
pub(crate) use time::{client_timestamp, clock_offset, spread};

use std::collections::VecDeque;

use chrono::Duration;
use rand::rngs::StdRng;
use rand::Rng;
use uuid::Uuid;

use self::tree::{Node, Tree};
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

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
