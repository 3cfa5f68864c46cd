//! The audit log's tables: records enter through the outbox (in the transaction of the
//! change they describe, or on their own for reads and refusals) and the sequencer appends
//! them to `audit_log` as Merkle leaves.

use liaison_audit::Hash;

use crate::{Store, StoreError, Timestamp, backend::BackendOps, with_pool};

/// Topic of audit records in the outbox.
pub(crate) const TOPIC: &str = "audit";

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The signed note.
    pub note: String,
}

fn decode_hash(text: &str) -> Result<Hash, StoreError> {
    let bytes = hex::decode(text).map_err(|_| StoreError::Corrupt(format!("hash {text:?}")))?;
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("hash {text:?}")))
}

impl Store {
    /// Commits an audit record on its own (a read, a delivery, a refused call). It becomes
    /// a leaf of the log when the sequencer next runs.
    pub async fn append_audit(&self, record: &[u8], now: Timestamp) -> Result<(), StoreError> {
        let record = String::from_utf8_lossy(record).into_owned();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            crate::sequencer::write_outbox!(tx, pool, TOPIC, "record", "", now, Some(record));
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(())
    }

    /// How many records the log holds.
    pub async fn audit_size(&self) -> Result<u64, StoreError> {
        let size: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM audit_log").fetch_one(pool).await?
        });
        Ok(u64::try_from(size).unwrap_or(0))
    }

    /// The leaf hashes of records `from..to`, in order.
    pub async fn audit_leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let to = i64::try_from(to).unwrap_or(i64::MAX);
        let hashes: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT leaf_hash FROM audit_log WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?
        });
        hashes.iter().map(|hash| decode_hash(hash)).collect()
    }

    /// Records from leaf `from`, at most `limit`, with their indexes.
    pub async fn audit_records(
        &self,
        from: u64,
        limit: u32,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let rows: Vec<(i64, String)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT leaf_index, record FROM audit_log WHERE leaf_index >= $1 ORDER BY leaf_index LIMIT $2")
                .bind(from)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(index, record)| (u64::try_from(index).unwrap_or(0), record))
            .collect())
    }

    /// The checkpoint of the largest tree signed so far.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row: Option<(i64, String, String)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT tree_size, root_hash, note FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1")
                .fetch_optional(pool)
                .await?
        });
        row.map(|(size, root, note)| {
            Ok(StoredCheckpoint {
                size: u64::try_from(size).unwrap_or(0),
                root: decode_hash(&root)?,
                note,
            })
        })
        .transpose()
    }

    /// Stores a signed checkpoint; a second one for the same size is ignored.
    pub async fn save_checkpoint(
        &self,
        checkpoint: &StoredCheckpoint,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let size = i64::try_from(checkpoint.size).unwrap_or(i64::MAX);
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO audit_checkpoints (tree_size, root_hash, note, signed_us) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tree_size) DO NOTHING",
            )
            .bind(size)
            .bind(hex::encode(checkpoint.root))
            .bind(&checkpoint.note)
            .bind(now.as_micros())
            .execute(pool)
            .await?;
        });
        let size = checkpoint.size;
        self.signals.checkpoint_size.send_if_modified(|current| {
            let grew = size > *current;
            if grew {
                *current = size;
            }
            grew
        });
        Ok(())
    }
}
