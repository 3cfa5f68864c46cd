//! The Merkle tree as C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): the hashes of the
//! tree cut into tiles of 256 hashes, so that a log of any size is stored, appended to and
//! proved from without holding a tree in memory.
//!
//! Tile level `L` holds the hashes of the complete nodes of height `8 L` (level 0: the
//! leaf hashes), 256 to a tile; the last tile of a level is partial until it fills. Every
//! hash of a full tile at level `L` is below exactly one hash of level `L + 1`: the root of
//! the full tile.
//!
//! No I/O here. Whoever stores tiles asks which tiles an operation needs
//! ([`tiles_for_root`], [`tiles_for_inclusion`], [`tiles_for_consistency`],
//! [`TileEdge::tiles_to_resume`]) — `O(log n)` of them, each at most 8 KiB — reads them in
//! one go into a [`TileSet`], and gets the root or proof from it. A sequencer keeps a
//! [`TileEdge`], the partial tile of each level, and stores the tiles each append returns.

mod path;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};

pub use path::{MAX_LEVEL, TileId, TilePathError};

use crate::{
    merkle::{Hash, empty_root, node_hash, split_point},
    proof::ProofError,
};

/// The height of a tile: a tile of level `L + 1` holds nodes 8 levels above level `L`'s.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// Why a root or proof could not be computed from tiles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// A tile the operation needs was not given.
    #[error("tile {} is missing", .0.path())]
    Missing(TileId),
    /// A tile holds fewer or more hashes than its width.
    #[error("tile {} holds {actual} hashes", .tile.path())]
    WrongWidth {
        /// The tile.
        tile: TileId,
        /// How many hashes it held.
        actual: usize,
    },
    /// The sizes or index asked for do not fit the tree.
    #[error(transparent)]
    Proof(#[from] ProofError),
}

/// Tiles read for one operation on a tree of a given size.
#[derive(Debug, Clone, Default)]
pub struct TileSet {
    size: u64,
    tiles: HashMap<(u8, u64), Vec<Hash>>,
}

impl TileSet {
    /// An empty set for a tree of `size` leaves.
    pub fn new(size: u64) -> Self {
        Self {
            size,
            tiles: HashMap::new(),
        }
    }

    /// Adds a tile: `hashes` are its stored hashes, of which the first `tile.width` are
    /// used (a tile stored wider than this tree needs, because the log has grown since,
    /// serves the smaller tree too: its first hashes never change).
    pub fn insert(&mut self, tile: TileId, mut hashes: Vec<Hash>) -> Result<(), TileError> {
        let width = usize::from(tile.width);
        if hashes.len() < width {
            return Err(TileError::WrongWidth {
                tile,
                actual: hashes.len(),
            });
        }
        hashes.truncate(width);
        self.tiles.insert((tile.level, tile.index), hashes);
        Ok(())
    }

    /// The tree size the set is for.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the tree.
    pub fn root(&self) -> Result<Hash, TileError> {
        root_with(self.size, &mut |height, index| self.node(height, index))
    }

    /// `PATH(index, D[size])`, as [`crate::inclusion_proof`] computes it.
    pub fn inclusion_proof(&self, index: u64) -> Result<Vec<Hash>, TileError> {
        inclusion_with(index, self.size, &mut |height, index| {
            self.node(height, index)
        })
    }

    /// `PROOF(old_size, D[size])`, as [`crate::consistency_proof`] computes it.
    pub fn consistency_proof(&self, old_size: u64) -> Result<Vec<Hash>, TileError> {
        consistency_with(old_size, self.size, &mut |height, index| {
            self.node(height, index)
        })
    }

    /// The hash of the complete node of `height` at `index`.
    fn node(&self, height: u32, index: u64) -> Result<Hash, TileError> {
        let place = NodePlace::of(height, index, self.size);
        let hashes = self
            .tiles
            .get(&(place.tile.level, place.tile.index))
            .ok_or(TileError::Missing(place.tile))?;
        let below =
            hashes
                .get(place.offset..place.offset + place.count)
                .ok_or(TileError::WrongWidth {
                    tile: place.tile,
                    actual: hashes.len(),
                })?;
        Ok(perfect_root(below))
    }
}

/// Where a node's hash comes from: `count` consecutive hashes of `tile` from `offset`,
/// of which it is the perfect root (one hash when its height is a multiple of 8).
struct NodePlace {
    tile: TileId,
    offset: usize,
    count: usize,
}

impl NodePlace {
    fn of(height: u32, index: u64, size: u64) -> Self {
        let level = (height / TILE_HEIGHT) as u8;
        let rise = height % TILE_HEIGHT;
        let first = index << rise;
        let tile_index = first / TILE_WIDTH;
        let width = path::nodes_at(level, size)
            .saturating_sub(tile_index * TILE_WIDTH)
            .min(TILE_WIDTH);
        NodePlace {
            tile: TileId {
                level,
                index: tile_index,
                width: width as u16,
            },
            offset: (first % TILE_WIDTH) as usize,
            count: 1 << rise,
        }
    }
}

/// The tiles [`TileSet::root`] reads for a tree of `size`.
pub fn tiles_for_root(size: u64) -> BTreeSet<TileId> {
    plan(size, |node| root_with(size, node).map(drop))
}

/// The tiles [`TileSet::inclusion_proof`] reads for leaf `index` of a tree of `size`.
pub fn tiles_for_inclusion(index: u64, size: u64) -> Result<BTreeSet<TileId>, TileError> {
    check_index(index, size)?;
    Ok(plan(size, |node| {
        inclusion_with(index, size, node).map(drop)
    }))
}

/// The tiles [`TileSet::consistency_proof`] reads from a tree of `old_size` to `size`.
pub fn tiles_for_consistency(old_size: u64, size: u64) -> Result<BTreeSet<TileId>, TileError> {
    check_sizes(old_size, size)?;
    Ok(plan(size, |node| {
        consistency_with(old_size, size, node).map(drop)
    }))
}

type NodeFn<'a> = dyn FnMut(u32, u64) -> Result<Hash, TileError> + 'a;

/// Runs an operation with a node reader that records the tile of every node it is asked
/// for: which nodes are read depends on the sizes alone, never on the hashes.
fn plan(size: u64, run: impl FnOnce(&mut NodeFn<'_>) -> Result<(), TileError>) -> BTreeSet<TileId> {
    let mut tiles = BTreeSet::new();
    let _ = run(&mut |height, index| {
        tiles.insert(NodePlace::of(height, index, size).tile);
        Ok([0; 32])
    });
    tiles
}

fn check_index(index: u64, size: u64) -> Result<(), TileError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size }.into());
    }
    Ok(())
}

fn check_sizes(old_size: u64, new_size: u64) -> Result<(), TileError> {
    if old_size > new_size {
        return Err(ProofError::OldSizeTooLarge { old_size, new_size }.into());
    }
    Ok(())
}

fn root_with(size: u64, node: &mut NodeFn<'_>) -> Result<Hash, TileError> {
    if size == 0 {
        return Ok(empty_root());
    }
    subtree(0, size, node)
}

fn inclusion_with(index: u64, size: u64, node: &mut NodeFn<'_>) -> Result<Vec<Hash>, TileError> {
    check_index(index, size)?;
    let mut proof = Vec::new();
    path(index, 0, size, node, &mut proof)?;
    Ok(proof)
}

fn consistency_with(old: u64, size: u64, node: &mut NodeFn<'_>) -> Result<Vec<Hash>, TileError> {
    check_sizes(old, size)?;
    let mut proof = Vec::new();
    if old > 0 {
        subproof(old, 0, size, true, node, &mut proof)?;
    }
    Ok(proof)
}

/// `MTH(D[start..end])` of a non-empty range whose perfect parts are complete nodes.
fn subtree(start: u64, end: u64, node: &mut NodeFn<'_>) -> Result<Hash, TileError> {
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return node(n.trailing_zeros(), start / n);
    }
    let k = split(n);
    Ok(node_hash(
        &subtree(start, start + k, node)?,
        &subtree(start + k, end, node)?,
    ))
}

fn path(
    m: u64,
    start: u64,
    end: u64,
    node: &mut NodeFn<'_>,
    proof: &mut Vec<Hash>,
) -> Result<(), TileError> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(m, start, start + k, node, proof)?;
        proof.push(subtree(start + k, end, node)?);
    } else {
        path(m - k, start + k, end, node, proof)?;
        proof.push(subtree(start, start + k, node)?);
    }
    Ok(())
}

fn subproof(
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    node: &mut NodeFn<'_>,
    proof: &mut Vec<Hash>,
) -> Result<(), TileError> {
    let n = end - start;
    if m == n {
        if !complete {
            proof.push(subtree(start, end, node)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(m, start, start + k, complete, node, proof)?;
        proof.push(subtree(start + k, end, node)?);
    } else {
        subproof(m - k, start + k, end, false, node, proof)?;
        proof.push(subtree(start, start + k, node)?);
    }
    Ok(())
}

/// The largest power of two below `n` (at least 2), for sizes beyond `usize`.
fn split(n: u64) -> u64 {
    match usize::try_from(n) {
        Ok(n) => split_point(n) as u64,
        Err(_) => 1 << (u64::BITS - 1 - (n - 1).leading_zeros()),
    }
}

/// The root of a perfect subtree whose bottom hashes are given (a power of two of them).
fn perfect_root(hashes: &[Hash]) -> Hash {
    match hashes {
        [only] => *only,
        _ => {
            let (left, right) = hashes.split_at(hashes.len() / 2);
            node_hash(&perfect_root(left), &perfect_root(right))
        }
    }
}

/// The right edge of a tiled tree: the partial tile of each level, which is all that
/// appending needs. It holds fewer than 256 hashes per level, 8 levels at most.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TileEdge {
    size: u64,
    /// `partial[L]`: the hashes of level `L`'s partial tile (fewer than 256).
    partial: Vec<Vec<Hash>>,
}

impl TileEdge {
    /// The edge of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tiles [`TileEdge::resume`] needs to continue a tree of `size`: the partial
    /// tile of each level that has one.
    pub fn tiles_to_resume(size: u64) -> Vec<TileId> {
        (0..=MAX_LEVEL)
            .take_while(|&level| path::nodes_at(level, size) > 0)
            .filter_map(|level| {
                let nodes = path::nodes_at(level, size);
                TileId::in_tree(level, nodes / TILE_WIDTH, size).filter(|tile| !tile.is_full())
            })
            .collect()
    }

    /// The edge of a tree of `size`, from the tiles [`TileEdge::tiles_to_resume`] names.
    pub fn resume(size: u64, tiles: &TileSet) -> Result<Self, TileError> {
        let mut partial = Vec::new();
        for level in (0..=MAX_LEVEL).take_while(|&level| path::nodes_at(level, size) > 0) {
            let nodes = path::nodes_at(level, size);
            let width = (nodes % TILE_WIDTH) as usize;
            let hashes = if width == 0 {
                Vec::new()
            } else {
                let tile = TileId {
                    level,
                    index: nodes / TILE_WIDTH,
                    width: width as u16,
                };
                tiles
                    .tiles
                    .get(&(level, tile.index))
                    .filter(|hashes| hashes.len() >= width)
                    .ok_or(TileError::Missing(tile))?[..width]
                    .to_vec()
            };
            partial.push(hashes);
        }
        Ok(Self { size, partial })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends leaf hashes and returns every tile that changed, in its final state, to
    /// be stored: tiles that filled (full, for good) and the partial tile of each level
    /// that grew (replacing the narrower one stored before).
    pub fn append(&mut self, leaves: &[Hash]) -> Vec<(TileId, Vec<Hash>)> {
        let mut changed: Vec<(TileId, Vec<Hash>)> = Vec::new();
        let mut grew = BTreeSet::new();
        for leaf in leaves {
            self.size += 1;
            let mut carry = *leaf;
            for level in 0u8.. {
                if self.partial.len() <= usize::from(level) {
                    self.partial.push(Vec::new());
                }
                let tiles = &mut self.partial[usize::from(level)];
                tiles.push(carry);
                grew.insert(level);
                if tiles.len() < TILE_WIDTH as usize {
                    break;
                }
                let full = std::mem::take(tiles);
                carry = perfect_root(&full);
                let index = path::nodes_at(level, self.size) / TILE_WIDTH - 1;
                changed.push((
                    TileId {
                        level,
                        index,
                        width: TILE_WIDTH as u16,
                    },
                    full,
                ));
            }
        }
        for level in grew {
            let hashes = &self.partial[usize::from(level)];
            if !hashes.is_empty() {
                let tile = TileId {
                    level,
                    index: path::nodes_at(level, self.size) / TILE_WIDTH,
                    width: hashes.len() as u16,
                };
                changed.push((tile, hashes.clone()));
            }
        }
        changed
    }
}
