//! Inclusion and consistency proofs, generated and verified as RFC 9162 §2.1.3 and §2.1.4
//! describe.
//!
//! Proofs are lists of hashes ordered from the leaf (or the old tree) towards the root, as
//! `PATH` and `PROOF` produce them. The verifiers follow the RFC's algorithms step by step
//! and, before running them, check the proof's length against the one the sizes imply,
//! so a short or padded proof is named as such.

use crate::merkle::{Hash, empty_root, node_hash, split_point, subtree_root};

/// Why a proof could not be produced or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old tree is larger than the new one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldSizeTooLarge {
        /// The old tree size.
        old_size: u64,
        /// The new tree size.
        new_size: u64,
    },
    /// The proof has more or fewer hashes than the sizes imply.
    #[error("proof has {actual} hashes where {expected} are expected")]
    WrongLength {
        /// The number of hashes the sizes imply.
        expected: usize,
        /// The number of hashes received.
        actual: usize,
    },
    /// The inclusion proof leads to another root hash.
    #[error("inclusion proof does not lead to the expected root hash")]
    RootMismatch,
    /// The consistency proof leads to another root hash for the old tree.
    #[error("consistency proof does not lead to the old root hash")]
    OldRootMismatch,
    /// The consistency proof leads to another root hash for the new tree.
    #[error("consistency proof does not lead to the new root hash")]
    NewRootMismatch,
    /// Two trees of the same size have different roots: history was rewritten.
    #[error("two trees of size {size} have different root hashes")]
    RootsDiffer {
        /// The common tree size.
        size: u64,
    },
}

/// The inclusion proof `PATH(index, D[n])` (RFC 9162 §2.1.3.1) of leaf `index` in the tree
/// of the given leaf hashes: the sibling hashes from the leaf up to the root.
///
/// Takes `O(n)` time.
pub fn inclusion_proof(leaf_hashes: &[Hash], index: u64) -> Result<Vec<Hash>, ProofError> {
    let size = leaf_hashes.len() as u64;
    let in_range = usize::try_from(index)
        .ok()
        .filter(|&i| i < leaf_hashes.len());
    let Some(index) = in_range else {
        return Err(ProofError::IndexOutOfRange { index, size });
    };
    let mut proof = Vec::new();
    path(index, leaf_hashes, &mut proof);
    Ok(proof)
}

/// `PATH(m, D)` for a non-empty `D`, pushing hashes leaf-first onto `proof`.
fn path(m: usize, leaves: &[Hash], proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        path(m, &leaves[..k], proof);
        proof.push(subtree_root(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], proof);
        proof.push(subtree_root(&leaves[..k]));
    }
}

/// The consistency proof `PROOF(old_size, D[n])` (RFC 9162 §2.1.4.1) between the tree of
/// the first `old_size` leaves and the tree of all given leaves.
///
/// It is empty when `old_size` is 0 or equals the number of leaves. Takes `O(n)` time.
pub fn consistency_proof(leaf_hashes: &[Hash], old_size: u64) -> Result<Vec<Hash>, ProofError> {
    let new_size = leaf_hashes.len() as u64;
    let in_range = usize::try_from(old_size)
        .ok()
        .filter(|&m| m <= leaf_hashes.len());
    let Some(m) = in_range else {
        return Err(ProofError::OldSizeTooLarge { old_size, new_size });
    };
    let mut proof = Vec::new();
    if m > 0 {
        subproof(m, leaf_hashes, true, &mut proof);
    }
    Ok(proof)
}

/// `SUBPROOF(m, D, b)` for `0 < m <= |D|`, pushing hashes onto `proof`.
fn subproof(m: usize, leaves: &[Hash], complete: bool, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            proof.push(subtree_root(leaves));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, proof);
        proof.push(subtree_root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, proof);
        proof.push(subtree_root(&leaves[..k]));
    }
}

/// The number of hashes in the inclusion proof of `index` in a tree of `size` leaves;
/// `index < size`.
pub(crate) fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let (inner, border) = decompose(index, size);
    inner + border
}

/// The number of hashes in the consistency proof between sizes `0 < old < new`.
pub(crate) fn consistency_proof_len(old_size: u64, new_size: u64) -> usize {
    let (inner, border) = decompose(old_size - 1, new_size);
    let shift = old_size.trailing_zeros() as usize;
    // The old tree's rightmost perfect subtree of 2^shift leaves is where the proof
    // starts; when the old tree is that very subtree, its root is not sent.
    let seed = usize::from(!old_size.is_power_of_two());
    seed + (inner - shift) + border
}

/// Splits the path of leaf `index` in a tree of `size` into its inner part (levels below
/// where it meets the path of the last leaf) and its border part (the left siblings above).
fn decompose(index: u64, size: u64) -> (usize, usize) {
    let inner = (u64::BITS - (index ^ (size - 1)).leading_zeros()) as usize;
    // `inner` reaches 64 when the paths split at the top of a tree of more than 2^63
    // leaves; shifting a u64 by 64 would overflow.
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2): that the leaf with hash `leaf_hash` is
/// at `index` in the tree of `tree_size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(leaf_hash, index, tree_size, proof)?;
    if &computed == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// The root hash that an inclusion proof implies for the leaf with hash `leaf_hash` at
/// `index` in a tree of `tree_size` leaves (RFC 9162 §2.1.3.2, without the final
/// comparison).
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    // Step 1.
    if index >= tree_size {
        return Err(ProofError::IndexOutOfRange {
            index,
            size: tree_size,
        });
    }
    let expected = inclusion_proof_len(index, tree_size);
    let wrong_length = ProofError::WrongLength {
        expected,
        actual: proof.len(),
    };
    if proof.len() != expected {
        return Err(wrong_length);
    }
    // Steps 2 and 3.
    let (mut f_n, mut s_n) = (index, tree_size - 1);
    let mut r = *leaf_hash;
    // Step 4.
    for p in proof {
        if s_n == 0 {
            return Err(wrong_length);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 5 (the root comparison is the caller's).
    if s_n != 0 {
        return Err(wrong_length);
    }
    Ok(r)
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2): that the tree of `old_size` leaves with
/// root `old_root` is a prefix of the tree of `new_size` leaves with root `new_root`.
///
/// Beyond the RFC's `0 < old_size < new_size`: for equal sizes the proof must be empty and
/// the roots equal; for `old_size == 0` the proof must be empty and `old_root` must be the
/// empty tree's root.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::OldSizeTooLarge { old_size, new_size });
    }
    let expected = if old_size == 0 || old_size == new_size {
        0
    } else {
        consistency_proof_len(old_size, new_size)
    };
    let wrong_length = ProofError::WrongLength {
        expected,
        actual: proof.len(),
    };
    if proof.len() != expected {
        return Err(wrong_length);
    }
    if old_size == 0 {
        return if old_root == &empty_root() {
            Ok(())
        } else {
            Err(ProofError::OldRootMismatch)
        };
    }
    if old_size == new_size {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootsDiffer { size: old_size })
        };
    }

    // Steps 1 and 2: the path starts at the old root when the old tree is perfect.
    let (first, rest) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (first, rest),
            None => return Err(wrong_length),
        }
    };
    // Steps 3 and 4.
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 5.
    let (mut f_r, mut s_r) = (*first, *first);
    // Step 6.
    for c in rest {
        if s_n == 0 {
            return Err(wrong_length);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 7.
    if s_n != 0 {
        return Err(wrong_length);
    }
    if &f_r != old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if &s_r != new_root {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
