//! Property tests of the audit log core over random tree sizes, leaves and notes.

use liaison_audit::{
    Checkpoint, Hash, ProofError, SigningKey, TreeBuilder, consistency_proof, empty_root,
    inclusion_proof, leaf_hash, root, root_from_inclusion_proof, verify_consistency,
    verify_inclusion,
};
use proptest::prelude::*;

fn leaves(seed: u64, n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| {
            let mut data = seed.to_be_bytes().to_vec();
            data.extend_from_slice(&i.to_be_bytes());
            leaf_hash(&data)
        })
        .collect()
}

/// A tree size and a leaf index below it.
fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
    (1u64..2048).prop_flat_map(|n| (Just(n), 0..n))
}

/// Two tree sizes, old <= new.
fn two_sizes() -> impl Strategy<Value = (u64, u64)> {
    (1u64..1024).prop_flat_map(|n| (0..=n, Just(n)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn builder_root_equals_root(data in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..200)) {
        let hashes: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
        let mut builder = TreeBuilder::new();
        for d in &data {
            builder.push_data(d);
        }
        prop_assert_eq!(builder.size(), data.len() as u64);
        prop_assert_eq!(builder.root(), root(&hashes));
    }

    #[test]
    fn inclusion_proofs_verify_and_resist_tampering(
        (n, index) in size_and_index(),
        seed in any::<u64>(),
        which in any::<prop::sample::Index>(),
        byte in 0usize..32,
        bit in 0u8..8,
    ) {
        let tree = leaves(seed, n);
        let r = root(&tree);
        let leaf = tree[index as usize];
        let proof = inclusion_proof(&tree, index).unwrap();
        prop_assert_eq!(verify_inclusion(&leaf, index, n, &proof, &r), Ok(()));
        prop_assert_eq!(root_from_inclusion_proof(&leaf, index, n, &proof), Ok(r));

        if !proof.is_empty() {
            let mut bad = proof.clone();
            let j = which.index(bad.len());
            bad[j][byte] ^= 1 << bit;
            prop_assert_eq!(
                verify_inclusion(&leaf, index, n, &bad, &r),
                Err(ProofError::RootMismatch)
            );
        }
        let mut bad_leaf = leaf;
        bad_leaf[byte] ^= 1 << bit;
        prop_assert!(verify_inclusion(&bad_leaf, index, n, &proof, &r).is_err());
        if n > 1 {
            let other = (index + 1 + which.index(n as usize - 1) as u64) % n;
            prop_assert_ne!(other, index);
            prop_assert!(verify_inclusion(&leaf, other, n, &proof, &r).is_err());
        }
        let grown = leaves(seed, n + 1);
        prop_assert!(verify_inclusion(&leaf, index, n + 1, &proof, &root(&grown)).is_err());
    }

    #[test]
    fn consistency_proofs_verify_and_resist_tampering(
        (old, new) in two_sizes(),
        seed in any::<u64>(),
        which in any::<prop::sample::Index>(),
        byte in 0usize..32,
        bit in 0u8..8,
    ) {
        let tree = leaves(seed, new);
        let new_root = root(&tree);
        let old_root = root(&tree[..old as usize]);
        let proof = consistency_proof(&tree, old).unwrap();
        prop_assert_eq!(verify_consistency(old, new, &old_root, &new_root, &proof), Ok(()));

        if !proof.is_empty() {
            let mut bad = proof.clone();
            let j = which.index(bad.len());
            bad[j][byte] ^= 1 << bit;
            prop_assert!(verify_consistency(old, new, &old_root, &new_root, &bad).is_err());
        }
        if old < new {
            prop_assert!(verify_consistency(old, new, &new_root, &old_root, &proof).is_err());
        }
        // A history rewritten anywhere before `old` is caught.
        if old > 0 {
            let mut forked = tree.clone();
            let at = which.index(old as usize);
            forked[at][byte] ^= 1 << bit;
            let forked_root = root(&forked);
            let forked_proof = consistency_proof(&forked, old).unwrap();
            prop_assert!(
                verify_consistency(old, new, &old_root, &forked_root, &forked_proof).is_err()
            );
        } else {
            prop_assert_eq!(old_root, empty_root());
        }
    }

    #[test]
    fn checkpoints_round_trip(
        origin in "[a-z0-9][a-z0-9./_-]{0,60}",
        size in any::<u64>(),
        root_hash in any::<[u8; 32]>(),
        seed in any::<[u8; 32]>(),
    ) {
        let key = SigningKey::from_seed(&origin, &seed).unwrap();
        let checkpoint = Checkpoint::new(&origin, size, root_hash).unwrap();
        let parsed = Checkpoint::parse_text(&checkpoint.text());
        prop_assert_eq!(parsed.as_ref(), Ok(&checkpoint));
        let note = checkpoint.sign(&key);
        prop_assert_eq!(Checkpoint::verify(&note, &key.verifier_key()), Ok(checkpoint));
    }

    #[test]
    fn any_single_character_edit_of_a_signed_checkpoint_is_refused(
        at in any::<prop::sample::Index>(),
        replacement in prop::char::any(),
        size in any::<u64>(),
    ) {
        let key = SigningKey::from_seed("audit.liaison.test", &[3; 32]).unwrap();
        let note = Checkpoint::new("audit.liaison.test", size, [9; 32]).unwrap().sign(&key);
        let chars: Vec<char> = note.chars().collect();
        let i = at.index(chars.len());
        prop_assume!(chars[i] != replacement);
        let mut edited = chars;
        edited[i] = replacement;
        let edited: String = edited.into_iter().collect();
        prop_assert!(Checkpoint::verify(&edited, &key.verifier_key()).is_err());
    }

    #[test]
    fn arbitrary_text_never_verifies_or_panics(text in any::<String>()) {
        let key = SigningKey::from_seed("audit.liaison.test", &[3; 32]).unwrap();
        prop_assert!(Checkpoint::verify(&text, &key.verifier_key()).is_err());
        let with_separator = format!("audit.liaison.test\n1\n{text}\n\n\u{2014} {text}\n");
        prop_assert!(Checkpoint::verify(&with_separator, &key.verifier_key()).is_err());
    }
}
