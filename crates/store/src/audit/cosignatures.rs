//! Witness cosignatures of checkpoints: stored as the witnesses' signature lines, read
//! back with the checkpoint they sign.

use liaison_core::Timestamp;

use crate::{Store, StoreError, with_pool};

impl Store {
    /// Keeps `witness`'s signature line on the checkpoint of `size`; a second line of the
    /// same witness for the same size is ignored.
    pub async fn save_cosignature(
        &self,
        size: u64,
        witness: &str,
        line: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO audit_cosignatures (tree_size, witness, signature_line, received_us)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tree_size, witness) DO NOTHING",
            )
            .bind(size)
            .bind(witness)
            .bind(line)
            .bind(now.as_micros())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The signature lines witnesses gave the checkpoint of `size`, by witness name.
    pub async fn cosignatures(&self, size: u64) -> Result<Vec<String>, StoreError> {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        let rows: Vec<(String,)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT signature_line FROM audit_cosignatures WHERE tree_size = $1 ORDER BY witness",
            )
            .bind(size)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(line,)| line).collect())
    }

    /// The largest size `witness` cosigned here, if any.
    pub async fn last_cosigned_size(&self, witness: &str) -> Result<Option<u64>, StoreError> {
        let row: Option<(i64,)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT tree_size FROM audit_cosignatures WHERE witness = $1
                 ORDER BY tree_size DESC LIMIT 1",
            )
            .bind(witness)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(size,)| u64::try_from(size).unwrap_or(0)))
    }
}
