//! Tiles against the reference tree: roots and proofs from tiles equal [`ProofTree`]'s for
//! random sizes and indices, every stored tile re-hashes to its parent, and an edge resumed
//! from stored tiles appends exactly as the one that wrote them.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::{ProofTree, leaf_hash, root};

fn leaves(n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("запис {i}").as_bytes()))
        .collect()
}

/// A tile store as a database would keep it: one row per (level, index), a wider write
/// replacing a narrower one.
#[derive(Default)]
struct Stored(HashMap<(u8, u64), Vec<Hash>>);

impl Stored {
    fn write(&mut self, tiles: Vec<(TileId, Vec<Hash>)>) {
        for (tile, hashes) in tiles {
            assert_eq!(hashes.len(), usize::from(tile.width), "{}", tile.path());
            let row = self.0.entry((tile.level, tile.index)).or_default();
            assert!(hashes.len() >= row.len(), "a tile shrank: {}", tile.path());
            assert_eq!(
                &hashes[..row.len()],
                &row[..],
                "a tile changed: {}",
                tile.path()
            );
            *row = hashes;
        }
    }

    fn read(&self, size: u64, tiles: impl IntoIterator<Item = TileId>) -> TileSet {
        let mut set = TileSet::new(size);
        for tile in tiles {
            if let Some(hashes) = self.0.get(&(tile.level, tile.index)) {
                set.insert(tile, hashes.clone()).unwrap();
            }
        }
        set
    }
}

/// Appends `all` in chunks of the given sizes (cycled), storing what each append returns.
fn grow(all: &[Hash], chunks: &[usize]) -> (TileEdge, Stored) {
    let mut edge = TileEdge::new();
    let mut stored = Stored::default();
    let mut at = 0;
    for chunk in chunks.iter().cycle() {
        if at >= all.len() {
            break;
        }
        let end = (at + chunk.max(&1)).min(all.len());
        stored.write(edge.append(&all[at..end]));
        at = end;
    }
    (edge, stored)
}

fn check_against_reference(all: &[Hash], stored: &Stored, size: u64, index: u64, old: u64) {
    let reference = ProofTree::new(all[..size as usize].to_vec());
    let set = stored.read(size, tiles_for_root(size));
    assert_eq!(
        set.root().unwrap(),
        root(&all[..size as usize]),
        "root of {size}"
    );
    if size > 0 {
        let index = index % size;
        let set = stored.read(size, tiles_for_inclusion(index, size).unwrap());
        assert_eq!(
            set.inclusion_proof(index).unwrap(),
            reference.inclusion_proof(index, size).unwrap(),
            "inclusion of {index} in {size}"
        );
    }
    let old = old % (size + 1);
    let set = stored.read(size, tiles_for_consistency(old, size).unwrap());
    assert_eq!(
        set.consistency_proof(old).unwrap(),
        reference.consistency_proof(old, size).unwrap(),
        "consistency {old} to {size}"
    );
}

/// Every full tile's root is the hash its parent tile holds for it, and every stored hash
/// is the root of the leaves below it.
fn check_tiles_rehash(all: &[Hash], stored: &Stored) {
    for (&(level, index), hashes) in &stored.0 {
        let span = 1u64 << (u32::from(level) * TILE_HEIGHT);
        for (offset, hash) in hashes.iter().enumerate() {
            let first = (index * TILE_WIDTH + offset as u64) * span;
            let below = &all[first as usize..(first + span) as usize];
            assert_eq!(*hash, root(below), "hash {offset} of tile {level}/{index}");
        }
        if hashes.len() == TILE_WIDTH as usize {
            let parent = &stored.0[&(level + 1, index / TILE_WIDTH)];
            assert_eq!(
                parent[(index % TILE_WIDTH) as usize],
                perfect_root(hashes),
                "tile {level}/{index} and its parent"
            );
        }
    }
}

#[test]
fn a_tree_of_three_levels_of_tiles_agrees_with_the_reference() {
    // 65,536 + 300 leaves: full tiles on levels 0 and 1, partial ones on all three.
    let all = leaves(65_836);
    let (edge, stored) = grow(&all, &[1, 255, 256, 1000, 7]);
    assert_eq!(edge.size(), 65_836);
    check_tiles_rehash(&all, &stored);
    for (size, index, old) in [
        (65_836, 65_835, 65_536),
        (65_836, 0, 1),
        (65_536, 65_535, 256),
        (65_537, 300, 65_536),
        (256, 255, 255),
        (257, 256, 256),
        (40_000, 12_345, 33_333),
    ] {
        check_against_reference(&all, &stored, size, index, old);
    }
    // A proof reads O(log n) tiles: here at most two per level.
    assert!(tiles_for_inclusion(12_345, 65_836).unwrap().len() <= 6);
    assert!(tiles_for_consistency(33_333, 65_836).unwrap().len() <= 6);
}

#[test]
fn a_missing_tile_is_named() {
    let all = leaves(600);
    let (_, stored) = grow(&all, &[600]);
    let mut set = stored.read(600, tiles_for_root(600));
    set.tiles.remove(&(0, 2));
    assert_eq!(
        set.root(),
        Err(TileError::Missing(TileId {
            level: 0,
            index: 2,
            width: 88
        }))
    );
}

#[test]
fn out_of_range_requests_are_errors() {
    assert!(tiles_for_inclusion(10, 10).is_err());
    assert!(tiles_for_consistency(11, 10).is_err());
    assert!(TileSet::new(10).inclusion_proof(10).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn tiles_give_the_reference_roots_and_proofs(
        n in 0u64..3_000,
        chunks in proptest::collection::vec(1usize..700, 1..6),
        probes in proptest::collection::vec((0u64..3_000, 0u64..3_000, 0u64..3_000), 1..8),
    ) {
        let all = leaves(n);
        let (edge, stored) = grow(&all, &chunks);
        prop_assert_eq!(edge.size(), n);
        check_tiles_rehash(&all, &stored);
        for (size, index, old) in probes {
            check_against_reference(&all, &stored, size % (n + 1), index, old);
        }
    }

    #[test]
    fn a_resumed_edge_appends_as_the_one_that_wrote_the_tiles(
        first in 0u64..1_500,
        more in 1u64..1_500,
    ) {
        let all = leaves(first + more);
        let (mut writer, mut stored) = grow(&all[..first as usize], &[97]);
        let set = stored.read(first, TileEdge::tiles_to_resume(first));
        let mut resumed = TileEdge::resume(first, &set).unwrap();
        prop_assert_eq!(&resumed, &writer);
        let from_resumed = resumed.append(&all[first as usize..]);
        prop_assert_eq!(&from_resumed, &writer.append(&all[first as usize..]));
        stored.write(from_resumed);
        check_tiles_rehash(&all, &stored);
    }
}
