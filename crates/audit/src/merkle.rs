//! Merkle tree hashing as RFC 6962 §2.1 and RFC 9162 §2.1 define it, with SHA-256.
//!
//! Leaves and interior nodes are hashed with distinct one-byte prefixes (`0x00` and
//! `0x01`), so a leaf can never be passed off as a node. A tree of `n > 1` leaves is split
//! at `k`, the largest power of two smaller than `n`: the left subtree holds the first `k`
//! leaves and is always perfect, the right subtree holds the rest.

use sha2::{Digest, Sha256};

/// Length in bytes of every hash in the tree (SHA-256).
pub const HASH_LEN: usize = 32;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; HASH_LEN];

/// Prefix of the hashed input of a leaf (RFC 9162 §2.1.1).
const LEAF_PREFIX: u8 = 0x00;
/// Prefix of the hashed input of an interior node (RFC 9162 §2.1.1).
const NODE_PREFIX: u8 = 0x01;

/// The hash of a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(data);
    hasher.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: `SHA-256()` of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The Merkle tree hash `MTH(D[n])` of the leaves whose hashes are given, in order.
///
/// The empty tree has [`empty_root`]; a tree of one leaf has that leaf's hash as root.
/// Takes `O(n)` time and `O(log n)` stack.
pub fn root(leaf_hashes: &[Hash]) -> Hash {
    match leaf_hashes {
        [] => empty_root(),
        _ => subtree_root(leaf_hashes),
    }
}

/// `MTH` of a non-empty range of leaf hashes.
pub(crate) fn subtree_root(leaf_hashes: &[Hash]) -> Hash {
    debug_assert!(!leaf_hashes.is_empty());
    if let [only] = leaf_hashes {
        return *only;
    }
    let k = split_point(leaf_hashes.len());
    node_hash(
        &subtree_root(&leaf_hashes[..k]),
        &subtree_root(&leaf_hashes[k..]),
    )
}

/// The largest power of two strictly smaller than `n`; `n` must be at least 2.
pub(crate) fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// Builds the root of a growing tree one leaf at a time, as a sequencer appends records.
///
/// Holds one hash per set bit of the tree size: the roots of the perfect subtrees that
/// the size decomposes into, largest (leftmost) first. Appending a leaf costs `O(log n)`
/// hashes in the worst case and amortised `O(1)`; [`TreeBuilder::root`] costs `O(log n)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeBuilder {
    size: u64,
    /// Roots of the perfect subtrees, left to right; sizes strictly decreasing powers of two.
    peaks: Vec<Hash>,
}

impl TreeBuilder {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree holding the given leaf hashes, in order.
    pub fn from_leaf_hashes(leaf_hashes: &[Hash]) -> Self {
        let mut builder = Self::new();
        for leaf in leaf_hashes {
            builder.push(*leaf);
        }
        builder
    }

    /// Appends one leaf, given by its [`leaf_hash`].
    ///
    /// # Panics
    ///
    /// When the tree already holds `u64::MAX` leaves.
    pub fn push(&mut self, leaf_hash: Hash) {
        let mut carry = leaf_hash;
        // Each trailing one bit of the old size is a peak of the same height as `carry`
        // that now merges with it, exactly like a binary increment.
        let mut merges = self.size.trailing_ones();
        while merges > 0 {
            let left = self.peaks.pop().expect("one peak per set bit of the size");
            carry = node_hash(&left, &carry);
            merges -= 1;
        }
        self.peaks.push(carry);
        self.size = self.size.checked_add(1).expect("tree size overflows u64");
    }

    /// Appends one leaf given by its data (hashed with [`leaf_hash`]).
    pub fn push_data(&mut self, data: &[u8]) {
        self.push(leaf_hash(data));
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The root hash, the same as [`root`] over all leaves appended so far.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return empty_root();
        };
        // The RFC split puts the largest perfect subtree on the left and the remainder on
        // the right, so folding the peaks from the right reproduces MTH.
        peaks.fold(*last, |right, left| node_hash(left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("record {i}").as_bytes()))
            .collect()
    }

    /// MTH written straight from RFC 9162 §2.1.1, independently of the code under test:
    /// finds k by doubling and hashes with a fresh hasher.
    fn naive_mth(data: &[Vec<u8>]) -> Hash {
        let sha = |parts: &[&[u8]]| -> Hash {
            let mut h = Sha256::new();
            for p in parts {
                h.update(p);
            }
            h.finalize().into()
        };
        match data.len() {
            0 => sha(&[]),
            1 => sha(&[&[0u8], &data[0]]),
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                let l = naive_mth(&data[..k]);
                let r = naive_mth(&data[k..]);
                sha(&[&[1u8], &l, &r])
            }
        }
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(root(&[]), empty_root());
        assert_eq!(TreeBuilder::new().root(), empty_root());
    }

    #[test]
    fn leaf_hash_of_empty_leaf_matches_rfc6962_vector() {
        // RFC 6962 test vectors (as used by certificate-transparency-go): the leaf hash of
        // the empty entry.
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn prefixes_separate_leaves_from_nodes() {
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let mut concat = Vec::new();
        concat.extend_from_slice(&a);
        concat.extend_from_slice(&b);
        assert_ne!(node_hash(&a, &b), leaf_hash(&concat));
        assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
    }

    #[test]
    fn split_point_is_largest_power_of_two_below_n() {
        let expected = [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (17, 16),
            (64, 32),
        ];
        for (n, k) in expected {
            assert_eq!(split_point(n), k, "n = {n}");
        }
    }

    #[test]
    fn root_matches_naive_definition() {
        for n in 0..=130 {
            let data: Vec<Vec<u8>> = (0..n).map(|i| format!("record {i}").into_bytes()).collect();
            let hashes: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
            assert_eq!(root(&hashes), naive_mth(&data), "n = {n}");
        }
    }

    #[test]
    fn root_of_one_leaf_is_the_leaf_hash() {
        let l = leaf_hash(b"only");
        assert_eq!(root(&[l]), l);
    }

    #[test]
    fn small_trees_have_the_rfc_shape() {
        let l = leaves(3);
        assert_eq!(root(&l[..2]), node_hash(&l[0], &l[1]));
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
    }

    #[test]
    fn builder_agrees_with_root_at_every_size() {
        let all = leaves(300);
        let mut builder = TreeBuilder::new();
        for (i, leaf) in all.iter().enumerate() {
            assert_eq!(builder.size(), i as u64);
            assert_eq!(builder.root(), root(&all[..i]), "size {i}");
            builder.push(*leaf);
            assert_eq!(builder.peaks.len(), builder.size().count_ones() as usize);
        }
        assert_eq!(builder.root(), root(&all));
        assert_eq!(TreeBuilder::from_leaf_hashes(&all), builder);
    }

    #[test]
    fn push_data_hashes_as_a_leaf() {
        let mut a = TreeBuilder::new();
        a.push_data(b"x");
        let mut b = TreeBuilder::new();
        b.push(leaf_hash(b"x"));
        assert_eq!(a, b);
        assert!(!a.is_empty());
    }
}
