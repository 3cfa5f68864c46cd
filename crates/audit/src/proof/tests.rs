//! Unit tests of the `proof` module.

use super::*;
use crate::merkle::{leaf_hash, root};

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
        .collect()
}

fn flip(hash: &mut Hash) {
    hash[7] ^= 0x20;
}

#[test]
fn every_inclusion_proof_up_to_64_leaves_verifies() {
    let all = leaves(64);
    for n in 1..=64usize {
        let tree = &all[..n];
        let r = root(tree);
        for i in 0..n {
            let proof = inclusion_proof(tree, i as u64).unwrap();
            assert_eq!(proof.len(), inclusion_proof_len(i as u64, n as u64));
            verify_inclusion(&tree[i], i as u64, n as u64, &proof, &r)
                .unwrap_or_else(|e| panic!("n = {n}, i = {i}: {e}"));
        }
    }
}

#[test]
fn tampered_inclusion_proofs_fail() {
    let all = leaves(41);
    for n in 1..=40usize {
        let tree = &all[..n];
        let r = root(tree);
        for i in 0..n {
            let (idx, size) = (i as u64, n as u64);
            let proof = inclusion_proof(tree, idx).unwrap();
            for j in 0..proof.len() {
                let mut bad = proof.clone();
                flip(&mut bad[j]);
                assert_eq!(
                    verify_inclusion(&tree[i], idx, size, &bad, &r),
                    Err(ProofError::RootMismatch),
                    "n = {n}, i = {i}, hash {j}"
                );
            }
            let mut bad_leaf = tree[i];
            flip(&mut bad_leaf);
            assert!(verify_inclusion(&bad_leaf, idx, size, &proof, &r).is_err());
            let mut bad_root = r;
            flip(&mut bad_root);
            assert!(verify_inclusion(&tree[i], idx, size, &proof, &bad_root).is_err());
            // Another leaf's hash at this index, or this leaf at another index.
            if n > 1 {
                let other = (i + 1) % n;
                assert!(verify_inclusion(&tree[other], idx, size, &proof, &r).is_err());
                assert!(verify_inclusion(&tree[i], other as u64, size, &proof, &r).is_err());
            }
            // The proof checked against another tree size, with that tree's root. (With
            // the same root a size can pass: the size is bound to the root by the
            // signed checkpoint, not by the proof.)
            let bigger = root(&all[..n + 1]);
            assert!(verify_inclusion(&tree[i], idx, size + 1, &proof, &bigger).is_err());
            if i + 1 < n {
                let smaller = root(&all[..n - 1]);
                assert!(verify_inclusion(&tree[i], idx, size - 1, &proof, &smaller).is_err());
            }
        }
    }
}

#[test]
fn inclusion_proof_length_errors_are_named() {
    let tree = leaves(7);
    let r = root(&tree);
    let mut proof = inclusion_proof(&tree, 3).unwrap();
    proof.push(proof[0]);
    assert_eq!(
        verify_inclusion(&tree[3], 3, 7, &proof, &r),
        Err(ProofError::WrongLength {
            expected: 3,
            actual: 4
        })
    );
    proof.truncate(1);
    assert_eq!(
        verify_inclusion(&tree[3], 3, 7, &proof, &r),
        Err(ProofError::WrongLength {
            expected: 3,
            actual: 1
        })
    );
}

#[test]
fn inclusion_index_out_of_range() {
    let tree = leaves(5);
    assert_eq!(
        inclusion_proof(&tree, 5),
        Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
    );
    assert_eq!(
        inclusion_proof(&[], 0),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        verify_inclusion(&tree[0], 5, 5, &[], &root(&tree)),
        Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
    );
    assert_eq!(
        verify_inclusion(&tree[0], 0, 0, &[], &root(&[])),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
}

#[test]
fn single_leaf_tree_has_empty_inclusion_proof() {
    let tree = leaves(1);
    assert_eq!(inclusion_proof(&tree, 0).unwrap(), Vec::<Hash>::new());
    verify_inclusion(&tree[0], 0, 1, &[], &tree[0]).unwrap();
}

#[test]
fn every_consistency_proof_up_to_40_leaves_verifies() {
    let all = leaves(40);
    for new in 1..=40usize {
        let new_root = root(&all[..new]);
        for old in 1..=new {
            let old_root = root(&all[..old]);
            let proof = consistency_proof(&all[..new], old as u64).unwrap();
            if old < new {
                assert_eq!(
                    proof.len(),
                    consistency_proof_len(old as u64, new as u64),
                    "old = {old}, new = {new}"
                );
            } else {
                assert!(proof.is_empty());
            }
            verify_consistency(old as u64, new as u64, &old_root, &new_root, &proof)
                .unwrap_or_else(|e| panic!("old = {old}, new = {new}: {e}"));
        }
    }
}

#[test]
fn tampered_consistency_proofs_fail() {
    let all = leaves(41);
    for new in 2..=40usize {
        let new_root = root(&all[..new]);
        for old in 1..new {
            let (m, n) = (old as u64, new as u64);
            let old_root = root(&all[..old]);
            let proof = consistency_proof(&all[..new], m).unwrap();
            let ctx = format!("old = {old}, new = {new}");
            for j in 0..proof.len() {
                let mut bad = proof.clone();
                flip(&mut bad[j]);
                assert!(
                    verify_consistency(m, n, &old_root, &new_root, &bad).is_err(),
                    "{ctx}, hash {j}"
                );
            }
            // Swapped roots, each root altered, sizes off by one.
            assert!(
                verify_consistency(m, n, &new_root, &old_root, &proof).is_err(),
                "{ctx}"
            );
            let mut bad = old_root;
            flip(&mut bad);
            // A perfect old tree's root seeds the path, so a wrong one shows up in the
            // new root.
            let expected = if m.is_power_of_two() {
                ProofError::NewRootMismatch
            } else {
                ProofError::OldRootMismatch
            };
            assert_eq!(
                verify_consistency(m, n, &bad, &new_root, &proof),
                Err(expected),
                "{ctx}"
            );
            let mut bad = new_root;
            flip(&mut bad);
            assert_eq!(
                verify_consistency(m, n, &old_root, &bad, &proof),
                Err(ProofError::NewRootMismatch),
                "{ctx}"
            );
            // Other sizes, with the roots of those sizes.
            let bigger = root(&all[..new + 1]);
            assert!(verify_consistency(m, n + 1, &old_root, &bigger, &proof).is_err());
            if old > 1 {
                let smaller = root(&all[..old - 1]);
                assert!(verify_consistency(m - 1, n, &smaller, &new_root, &proof).is_err());
            }
            if old + 1 < new {
                let larger_old = root(&all[..old + 1]);
                assert!(verify_consistency(m + 1, n, &larger_old, &new_root, &proof).is_err());
            }
            // A forked history: the same old size, but one old leaf rewritten.
            let mut forked = all[..new].to_vec();
            flip(&mut forked[old - 1]);
            let forked_root = root(&forked);
            let forked_proof = consistency_proof(&forked, m).unwrap();
            assert!(
                verify_consistency(m, n, &old_root, &forked_root, &forked_proof).is_err(),
                "{ctx}: fork accepted"
            );
        }
    }
}

#[test]
fn consistency_edge_cases() {
    let tree = leaves(6);
    let r = root(&tree);
    assert_eq!(consistency_proof(&tree, 0).unwrap(), Vec::<Hash>::new());
    assert_eq!(consistency_proof(&tree, 6).unwrap(), Vec::<Hash>::new());
    assert_eq!(
        consistency_proof(&tree, 7),
        Err(ProofError::OldSizeTooLarge {
            old_size: 7,
            new_size: 6
        })
    );
    verify_consistency(0, 6, &empty_root(), &r, &[]).unwrap();
    verify_consistency(0, 0, &empty_root(), &empty_root(), &[]).unwrap();
    assert_eq!(
        verify_consistency(0, 6, &r, &r, &[]),
        Err(ProofError::OldRootMismatch)
    );
    assert_eq!(
        verify_consistency(0, 6, &empty_root(), &r, &[r]),
        Err(ProofError::WrongLength {
            expected: 0,
            actual: 1
        })
    );
    verify_consistency(6, 6, &r, &r, &[]).unwrap();
    assert_eq!(
        verify_consistency(6, 6, &r, &root(&tree[..5]), &[]),
        Err(ProofError::RootsDiffer { size: 6 })
    );
    assert_eq!(
        verify_consistency(7, 6, &r, &r, &[]),
        Err(ProofError::OldSizeTooLarge {
            old_size: 7,
            new_size: 6
        })
    );
    // The RFC's first step: an empty proof between different sizes fails.
    assert!(matches!(
        verify_consistency(4, 6, &root(&tree[..4]), &r, &[]),
        Err(ProofError::WrongLength { actual: 0, .. })
    ));
}

#[test]
fn huge_sizes_are_handled_without_overflow() {
    let h = [5; 32];
    let sizes = [
        (u64::MAX - 1, u64::MAX),
        (1 << 63, u64::MAX),
        (1, u64::MAX),
        ((1 << 63) + 1, u64::MAX),
    ];
    for (old, new) in sizes {
        assert!(matches!(
            verify_consistency(old, new, &h, &h, &[h]),
            Err(ProofError::WrongLength { .. } | ProofError::OldRootMismatch)
                | Err(ProofError::NewRootMismatch)
        ));
        let expected = consistency_proof_len(old, new);
        assert!(expected <= 2 * 64, "{old} {new}: {expected}");
        let proof = vec![h; expected];
        assert!(verify_consistency(old, new, &h, &[6; 32], &proof).is_err());
    }
    for (index, size) in [(u64::MAX - 1, u64::MAX), (0, u64::MAX), (1 << 63, u64::MAX)] {
        let expected = inclusion_proof_len(index, size);
        assert!(expected <= 64);
        let proof = vec![h; expected];
        assert_eq!(
            verify_inclusion(&h, index, size, &proof, &[6; 32]),
            Err(ProofError::RootMismatch)
        );
    }
}

#[test]
fn proof_lengths_match_known_values() {
    // Leaf 0 of 8: three siblings. Leaf 6 of 7: two (leaf 6's sibling is absent).
    assert_eq!(inclusion_proof_len(0, 8), 3);
    assert_eq!(inclusion_proof_len(6, 7), 2);
    assert_eq!(inclusion_proof_len(0, 1), 0);
    // RFC 9162 §2.1.5 example tree of 7 leaves: PROOF(3) = [c, d, g, l],
    // PROOF(4) = [l], PROOF(6) = [i, j, k].
    assert_eq!(consistency_proof_len(3, 7), 4);
    assert_eq!(consistency_proof_len(4, 7), 1);
    assert_eq!(consistency_proof_len(6, 7), 3);
}

#[test]
fn rfc_example_consistency_proofs_have_the_documented_nodes() {
    // RFC 9162 §2.1.5: leaves d0..d6; a = H(d0), …; g = H(a,b), h = H(c,d), i = H(e,f),
    // j = d6, k = H(g,h), l = H(i,j).
    let d = leaves(7);
    let g = node_hash(&d[0], &d[1]);
    let h = node_hash(&d[2], &d[3]);
    let i = node_hash(&d[4], &d[5]);
    let k = node_hash(&g, &h);
    let l = node_hash(&i, &d[6]);
    assert_eq!(consistency_proof(&d, 3).unwrap(), vec![d[2], d[3], g, l]);
    assert_eq!(consistency_proof(&d, 4).unwrap(), vec![l]);
    assert_eq!(consistency_proof(&d, 6).unwrap(), vec![i, d[6], k]);
    // And the inclusion path of d3 in the 7-leaf tree: c, g, l.
    assert_eq!(inclusion_proof(&d, 3).unwrap(), vec![d[2], g, l]);
}
