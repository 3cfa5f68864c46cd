//! The audit log's tree as C2SP tlog-tiles (`audit_tiles`, migration 13): read a set of
//! tiles in one query, write what an append changed, and tell how far the log is tiled.
//! What the tiles mean, and how roots and proofs come from them, is `liaison_audit::tiles`.

use liaison_audit::{HASH_LEN, Hash, TileId};

use crate::{Store, StoreError, tx::WritePool, with_pool};

impl Store {
    /// How many leaves the stored tiles cover.
    pub async fn tiled_size(&self) -> Result<u64, StoreError> {
        let size: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT MAX(idx * 256 + width) FROM audit_tiles WHERE level = 0")
                .fetch_one(pool)
                .await?
        });
        Ok(size.map_or(0, |size| u64::try_from(size).unwrap_or(0)))
    }

    /// Bytes the tiles' hashes take (for the benchmark's bytes per leaf).
    pub async fn tiles_bytes(&self) -> Result<u64, StoreError> {
        let bytes: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT SUM(LENGTH(hashes)) FROM audit_tiles")
                .fetch_one(pool)
                .await?
        });
        Ok(bytes.map_or(0, |bytes| u64::try_from(bytes).unwrap_or(0)))
    }

    /// The stored hashes of each of `tiles` the store has (at least as wide as asked:
    /// a tile stored wider serves a smaller tree too).
    pub async fn read_tiles(
        &self,
        tiles: &[TileId],
    ) -> Result<Vec<(TileId, Vec<Hash>)>, StoreError> {
        let mut found = Vec::with_capacity(tiles.len());
        // A proof reads a handful of tiles: a few statements of at most 16 each keep the
        // statement texts few and cached.
        for chunk in tiles.chunks(16) {
            let condition = (0..chunk.len())
                .map(|i| format!("(level = ${} AND idx = ${})", 2 * i + 1, 2 * i + 2))
                .collect::<Vec<_>>()
                .join(" OR ");
            let sql = format!("SELECT level, idx, hashes FROM audit_tiles WHERE {condition}");
            let rows: Vec<(i16, i64, Vec<u8>)> = with_pool!(self, pool => {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for tile in chunk {
                    query = query
                        .bind(i16::from(tile.level))
                        .bind(i64::try_from(tile.index).unwrap_or(i64::MAX));
                }
                query.fetch_all(pool).await?
            });
            for (level, index, bytes) in rows {
                let Some(tile) = chunk.iter().find(|tile| {
                    i16::from(tile.level) == level && i64::try_from(tile.index).ok() == Some(index)
                }) else {
                    continue;
                };
                if bytes.len() % HASH_LEN != 0 {
                    return Err(StoreError::corrupt("tile of whole hashes", &tile.path()));
                }
                let hashes = bytes
                    .chunks_exact(HASH_LEN)
                    .map(|hash| hash.try_into().unwrap_or([0; HASH_LEN]))
                    .collect();
                found.push((*tile, hashes));
            }
        }
        Ok(found)
    }

    /// Stores tiles an append changed, in one transaction; a tile already stored at least
    /// as wide is left as it is (another replica wrote the same hashes).
    pub async fn write_tiles(&self, tiles: &[(TileId, Vec<Hash>)]) -> Result<(), StoreError> {
        if tiles.is_empty() {
            return Ok(());
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            for (tile, hashes) in tiles {
                sqlx::query(
                    "INSERT INTO audit_tiles (level, idx, width, hashes) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, hashes = excluded.hashes
                     WHERE excluded.width > audit_tiles.width",
                )
                .bind(i16::from(tile.level))
                .bind(i64::try_from(tile.index).unwrap_or(i64::MAX))
                .bind(i16::try_from(tile.width).unwrap_or(i16::MAX))
                .bind(hashes.concat())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
