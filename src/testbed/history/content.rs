//! File content changes: which blocks a file version has, appended, replaced, truncated,
//! with holes, or the next chunks of an imported file.

use rand::Rng;
use uuid::Uuid;

use super::tree::{Entry, Node};
use super::{Content, History};
use crate::testbed::plan::{DeviceIdx, RealmIdx};

impl History<'_> {
    pub(super) fn edit_file(&mut self, realm: RealmIdx, device: DeviceIdx, nb: usize) {
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
    pub(super) fn change_content(
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
}
