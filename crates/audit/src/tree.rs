//! [`ProofTree`]: a Merkle tree kept level by level, so that any subtree hash — and so any
//! inclusion or consistency proof — costs `O(log² n)` instead of `O(n)`.

use crate::{
    merkle::{Hash, node_hash, split_point},
    proof::ProofError,
};

/// The hashes of every complete, aligned block of `2^level` leaves, for each level.
#[derive(Debug, Clone, Default)]
pub struct ProofTree {
    /// `levels[0]` are the leaf hashes; `levels[k][i]` is the root of leaves
    /// `i * 2^k .. (i + 1) * 2^k`.
    levels: Vec<Vec<Hash>>,
}

impl ProofTree {
    /// Builds the levels over `leaf_hashes` in `O(n)`.
    pub fn new(leaf_hashes: Vec<Hash>) -> Self {
        let mut levels = vec![leaf_hashes];
        while let Some(below) = levels.last().filter(|level| level.len() > 1) {
            let above: Vec<Hash> = below
                .chunks_exact(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
            levels.push(above);
        }
        Self { levels }
    }

    /// Appends a leaf, completing the blocks it closes: amortised `O(1)`.
    pub fn push(&mut self, leaf: Hash) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let mut level = 0;
        while self.levels[level].len().is_multiple_of(2) {
            let below = &self.levels[level];
            let joined = node_hash(&below[below.len() - 2], &below[below.len() - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(joined);
            level += 1;
        }
    }

    /// The hash of leaf `index`, if the tree has it.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        let index = usize::try_from(index).ok()?;
        self.levels.first()?.get(index).copied()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, Vec::len) as u64
    }

    /// The root of the first `tree_size` leaves.
    pub fn root(&self, tree_size: u64) -> Result<Hash, ProofError> {
        let end = self.check_size(tree_size)?;
        Ok(if end == 0 {
            crate::merkle::empty_root()
        } else {
            self.subtree(0, end)
        })
    }

    fn check_size(&self, tree_size: u64) -> Result<usize, ProofError> {
        usize::try_from(tree_size)
            .ok()
            .filter(|&size| size as u64 <= self.size())
            .ok_or(ProofError::OldSizeTooLarge {
                old_size: tree_size,
                new_size: self.size(),
            })
    }

    /// `MTH(D[start..end])` for a non-empty range.
    fn subtree(&self, start: usize, end: usize) -> Hash {
        let n = end - start;
        if n.is_power_of_two() && start.is_multiple_of(n) {
            let level = n.trailing_zeros() as usize;
            if let Some(hash) = self
                .levels
                .get(level)
                .and_then(|level| level.get(start / n))
            {
                return *hash;
            }
        }
        let k = split_point(n);
        node_hash(
            &self.subtree(start, start + k),
            &self.subtree(start + k, end),
        )
    }

    /// `PATH(index, D[tree_size])`: the same proof as [`crate::inclusion_proof`] of the first
    /// `tree_size` leaves.
    pub fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, ProofError> {
        let end = self.check_size(tree_size)?;
        let index = usize::try_from(index)
            .ok()
            .filter(|&index| index < end)
            .ok_or(ProofError::IndexOutOfRange {
                index,
                size: tree_size,
            })?;
        let mut proof = Vec::new();
        self.path(index, 0, end, &mut proof);
        Ok(proof)
    }

    fn path(&self, m: usize, start: usize, end: usize, proof: &mut Vec<Hash>) {
        let n = end - start;
        if n <= 1 {
            return;
        }
        let k = split_point(n);
        if m < k {
            self.path(m, start, start + k, proof);
            proof.push(self.subtree(start + k, end));
        } else {
            self.path(m - k, start + k, end, proof);
            proof.push(self.subtree(start, start + k));
        }
    }

    /// `PROOF(old_size, D[new_size])`: the same proof as [`crate::consistency_proof`] over
    /// the first `new_size` leaves.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, ProofError> {
        let end = self.check_size(new_size)?;
        let m = usize::try_from(old_size)
            .ok()
            .filter(|&m| m <= end)
            .ok_or(ProofError::OldSizeTooLarge { old_size, new_size })?;
        let mut proof = Vec::new();
        if m > 0 {
            self.subproof(m, 0, end, true, &mut proof);
        }
        Ok(proof)
    }

    fn subproof(&self, m: usize, start: usize, end: usize, complete: bool, proof: &mut Vec<Hash>) {
        let n = end - start;
        if m == n {
            if !complete {
                proof.push(self.subtree(start, end));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(m, start, start + k, complete, proof);
            proof.push(self.subtree(start + k, end));
        } else {
            self.subproof(m - k, start + k, end, false, proof);
            proof.push(self.subtree(start, start + k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{consistency_proof, inclusion_proof, leaf_hash, root};

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("record {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn agrees_with_the_direct_definitions_for_every_size_and_prefix() {
        let all = leaves(70);
        let tree = ProofTree::new(all.clone());
        for size in 0..=70usize {
            let prefix = &all[..size];
            assert_eq!(
                tree.root(size as u64).unwrap(),
                root(prefix),
                "root of {size}"
            );
            for index in 0..size as u64 {
                assert_eq!(
                    tree.inclusion_proof(index, size as u64).unwrap(),
                    inclusion_proof(prefix, index).unwrap(),
                    "inclusion {index} of {size}"
                );
            }
            for old in 0..=size as u64 {
                assert_eq!(
                    tree.consistency_proof(old, size as u64).unwrap(),
                    consistency_proof(prefix, old).unwrap(),
                    "consistency {old} to {size}"
                );
            }
        }
    }

    #[test]
    fn pushing_builds_the_same_tree() {
        let all = leaves(37);
        let mut grown = ProofTree::default();
        for (count, leaf) in all.iter().enumerate() {
            grown.push(*leaf);
            assert_eq!(grown.root(count as u64 + 1).unwrap(), root(&all[..=count]));
        }
        let built = ProofTree::new(all);
        assert_eq!(
            grown.inclusion_proof(17, 37).unwrap(),
            built.inclusion_proof(17, 37).unwrap()
        );
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        let tree = ProofTree::new(leaves(10));
        assert!(tree.inclusion_proof(10, 10).is_err());
        assert!(tree.inclusion_proof(3, 11).is_err());
        assert!(tree.consistency_proof(5, 11).is_err());
        assert!(tree.consistency_proof(6, 5).is_err());
        assert!(tree.root(11).is_err());
    }
}
