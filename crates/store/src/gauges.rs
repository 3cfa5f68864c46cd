//! What the store tells the hub's gauges: the outbox's depth and age, the audit log's size,
//! the latest checkpoint's time and the pool's connections in use.

use crate::{Store, StoreError, with_pool};

/// One sample of the store's gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreGauges {
    /// Committed outbox rows not yet sequenced.
    pub outbox_depth: u64,
    /// When the oldest of them was written (µs since the epoch), if any.
    pub oldest_outbox_us: Option<i64>,
    /// Leaves in the audit log.
    pub audit_log_size: u64,
    /// When the latest checkpoint was signed (µs since the epoch), if any.
    pub checkpoint_signed_us: Option<i64>,
    /// Connections of the pool in use.
    pub pool_in_use: u64,
}

impl Store {
    /// Whether the database holds every migration of this build (readiness).
    pub async fn schema_is_current(&self) -> Result<bool, StoreError> {
        let version: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
                .fetch_one(pool)
                .await?
        });
        Ok(version == Some(crate::migrate::latest_version()))
    }

    /// Samples the gauges: three small reads.
    pub async fn gauges(&self) -> Result<StoreGauges, StoreError> {
        let (depth, oldest): (i64, Option<i64>) = with_pool!(self, pool => {
            sqlx::query_as("SELECT COUNT(*), MIN(created_us) FROM outbox")
                .fetch_one(pool)
                .await?
        });
        let signed: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT MAX(signed_us) FROM audit_checkpoints")
                .fetch_one(pool)
                .await?
        });
        let pool_in_use = with_pool!(self, pool => {
            u64::from(pool.size()).saturating_sub(pool.num_idle() as u64)
        });
        Ok(StoreGauges {
            outbox_depth: u64::try_from(depth).unwrap_or(0),
            oldest_outbox_us: oldest,
            audit_log_size: self.audit_size().await?,
            checkpoint_signed_us: signed,
            pool_in_use,
        })
    }
}
