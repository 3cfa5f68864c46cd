//! The log's tree, kept as tiles in the store (`liaison_audit::tiles`): the tiler appends
//! the leaves sequenced since it last looked, writing the tiles each append changes, and
//! roots and proofs read the `O(log n)` tiles they need. In memory there is only the right
//! edge — the partial tile of each level, at most 8 of them — so the hub holds the same
//! whatever the log's size, and starts by reading that edge, never every leaf.
//!
//! Tiles are derived from the leaf hashes, deterministically: replicas that tile the same
//! leaves write the same rows (a row is only ever replaced by a wider one). A log written
//! before tiles existed is tiled from its leaves, in steps, the first time it is needed.

use std::sync::Arc;

use liaison_audit::{Hash, TileEdge, TileId, TileSet, tiles};
use liaison_store::{Store, StoreError};
use tokio::sync::Mutex;

/// Leaves read and tiled per step while catching up.
const STEP: u64 = 65_536;

/// Shared by the signer and the proof RPCs of one process.
#[derive(Debug, Clone)]
pub struct Tiler {
    store: Store,
    edge: Arc<Mutex<Option<TileEdge>>>,
}

impl Tiler {
    /// A tiler over `store`'s log; it reads the edge on first use.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            edge: Arc::default(),
        }
    }

    /// Tiles the log up to `size` leaves (it must hold that many) and returns how far the
    /// tiles reach. A gap in the leaves is an error: nothing past it is tiled.
    pub async fn extend_to(&self, size: u64) -> Result<u64, StoreError> {
        let mut guard = self.edge.lock().await;
        let stored = self.store.tiled_size().await?;
        // First use, or another replica tiled further: resume from the stored edge.
        if guard.as_ref().is_none_or(|edge| edge.size() < stored) {
            let ids = TileEdge::tiles_to_resume(stored);
            let set = self.tile_set(stored, &ids).await?;
            *guard = Some(TileEdge::resume(stored, &set).map_err(corrupt)?);
        }
        let Some(edge) = guard.as_mut() else {
            return Ok(0);
        };
        while edge.size() < size {
            let from = edge.size();
            let to = size.min(from + STEP);
            let hashes = self.store.audit_leaf_hashes(from, to).await?;
            if hashes.len() as u64 != to - from {
                return Err(StoreError::Corrupt(format!(
                    "the audit log is missing leaves between {from} and {to}; not tiling past them"
                )));
            }
            let changed = edge.append(&hashes);
            if let Err(error) = self.store.write_tiles(&changed).await {
                // The edge ran ahead of the store: read it again next time.
                *guard = None;
                return Err(error);
            }
        }
        Ok(edge.size())
    }

    /// The root of the first `size` leaves.
    pub async fn root(&self, size: u64) -> Result<Hash, StoreError> {
        self.extend_to(size).await?;
        let ids: Vec<TileId> = tiles::tiles_for_root(size).into_iter().collect();
        self.tile_set(size, &ids).await?.root().map_err(corrupt)
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProveError> {
        let ids: Vec<TileId> = tiles::tiles_for_inclusion(index, size)
            .map_err(ProveError::Request)?
            .into_iter()
            .collect();
        self.extend_to(size).await.map_err(ProveError::Store)?;
        let set = self.tile_set(size, &ids).await.map_err(ProveError::Store)?;
        set.inclusion_proof(index)
            .map_err(|error| ProveError::Store(corrupt(error)))
    }

    /// The consistency proof from `old` to `size` leaves.
    pub async fn consistency_proof(&self, old: u64, size: u64) -> Result<Vec<Hash>, ProveError> {
        let ids: Vec<TileId> = tiles::tiles_for_consistency(old, size)
            .map_err(ProveError::Request)?
            .into_iter()
            .collect();
        self.extend_to(size).await.map_err(ProveError::Store)?;
        let set = self.tile_set(size, &ids).await.map_err(ProveError::Store)?;
        set.consistency_proof(old)
            .map_err(|error| ProveError::Store(corrupt(error)))
    }

    async fn tile_set(&self, size: u64, ids: &[TileId]) -> Result<TileSet, StoreError> {
        let mut set = TileSet::new(size);
        for (tile, hashes) in self.store.read_tiles(ids).await? {
            set.insert(tile, hashes).map_err(corrupt)?;
        }
        // A tile the operation needs and the store lacks is named when it is used.
        Ok(set)
    }
}

/// Why a proof was not given.
#[derive(Debug)]
pub enum ProveError {
    /// The index or sizes do not fit together.
    Request(tiles::TileError),
    /// The store failed, or its tiles do not add up.
    Store(StoreError),
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("audit tiles: {error}"))
}
