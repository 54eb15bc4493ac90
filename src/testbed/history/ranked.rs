//! A list of flags in insertion order that finds the k-th set flag in O(log n) (a Fenwick
//! tree): the history picks "a random folder with room", "a random live file" among
//! hundreds of thousands without scanning them all on every operation.

#[derive(Default)]
pub(super) struct Ranked {
    /// Fenwick tree, 1-based: `tree[i]` counts the set flags in `(i - lowbit(i), i]`.
    tree: Vec<usize>,
    flags: Vec<bool>,
    set: usize,
}

fn lowbit(i: usize) -> usize {
    i & i.wrapping_neg()
}

impl Ranked {
    /// Appends a flag; its position is the number of flags before it.
    pub(super) fn push(&mut self, on: bool) {
        if self.tree.is_empty() {
            self.tree.push(0);
        }
        let i = self.flags.len() + 1;
        // The node covers (i - lowbit(i), i]: the new flag plus flags already counted.
        let covered = self.prefix(i - 1) - self.prefix(i - lowbit(i));
        self.tree.push(covered + usize::from(on));
        self.flags.push(on);
        self.set += usize::from(on);
    }

    /// Sets flag `position` (out of range: nothing).
    pub(super) fn set(&mut self, position: usize, on: bool) {
        let Some(flag) = self.flags.get_mut(position) else {
            return;
        };
        if *flag == on {
            return;
        }
        *flag = on;
        let mut i = position + 1;
        while i < self.tree.len() {
            if on {
                self.tree[i] += 1;
            } else {
                self.tree[i] -= 1;
            }
            i += lowbit(i);
        }
        if on {
            self.set += 1;
        } else {
            self.set -= 1;
        }
    }

    /// How many flags are set.
    pub(super) fn count(&self) -> usize {
        self.set
    }

    /// Set flags among the first `n`.
    fn prefix(&self, mut n: usize) -> usize {
        let mut sum = 0;
        while n > 0 {
            sum += self.tree[n];
            n -= lowbit(n);
        }
        sum
    }

    /// Position of the `k`-th set flag (0-based), None if fewer are set.
    pub(super) fn nth(&self, mut k: usize) -> Option<usize> {
        if k >= self.set {
            return None;
        }
        let len = self.flags.len();
        let mut position = 0;
        let mut step = if len == 0 { 0 } else { 1 << len.ilog2() };
        while step > 0 {
            let next = position + step;
            if next <= len && self.tree[next] <= k {
                position = next;
                k -= self.tree[next];
            }
            step >>= 1;
        }
        Some(position)
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::Ranked;

    /// Against the plain scan it replaces, under random pushes and flips.
    #[test]
    fn finds_the_kth_set_flag_like_a_scan() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut ranked = Ranked::default();
        let mut plain: Vec<bool> = Vec::new();
        for _ in 0..3000 {
            if plain.is_empty() || rng.gen_bool(0.4) {
                let on = rng.gen_bool(0.6);
                ranked.push(on);
                plain.push(on);
            } else {
                let position = rng.gen_range(0..plain.len());
                let on = rng.gen_bool(0.5);
                ranked.set(position, on);
                plain[position] = on;
            }
            let set: Vec<usize> = (0..plain.len()).filter(|i| plain[*i]).collect();
            assert_eq!(ranked.count(), set.len());
            for (k, position) in set.iter().enumerate() {
                assert_eq!(ranked.nth(k), Some(*position));
            }
            assert_eq!(ranked.nth(set.len()), None);
        }
    }
}
