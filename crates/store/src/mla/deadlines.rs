//! MLA deadlines: which are due, and their announcements as approaching or passed.

use liaison_core::{
    ObjectId, Timestamp,
    mla::{DeadlineKind, REQUEST_ID_PREFIX},
};

use super::TOPIC;
use crate::{Store, StoreError, tx::WritePool, with_pool};

impl Store {
    /// The requests with a running deadline due by `until` that has not yet been
    /// announced (as approaching when `approaching`, else as passed).
    pub async fn mla_with_deadlines_due(
        &self,
        until: Timestamp,
        approaching: bool,
    ) -> Result<Vec<ObjectId>, StoreError> {
        let flag = if approaching { "warned" } else { "passed" };
        let sql = format!(
            "SELECT DISTINCT request_id FROM mla_deadlines
             WHERE met_us IS NULL AND NOT cancelled AND NOT {flag} AND due_us <= $1"
        );
        let ids: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(until.as_micros()).fetch_all(pool).await?
        });
        ids.iter()
            .map(|id| {
                ObjectId::parse(REQUEST_ID_PREFIX, id)
                    .map_err(|_| StoreError::corrupt("mla id", id))
            })
            .collect()
    }

    /// The earliest running deadline not yet announced as passed, for the scanner's sleep.
    pub async fn mla_next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let due: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT MIN(due_us) FROM mla_deadlines WHERE met_us IS NULL AND NOT cancelled AND NOT passed",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(due.map(Timestamp::from_micros))
    }

    /// Announces deadlines of request `id` on the stream: for each `(kind, approaching)`,
    /// marks it warned (approaching) or passed and writes a `deadline_approaching.KIND` or
    /// `deadline_passed.KIND` event, once — a deadline already announced (by another
    /// replica, say) is skipped. The request itself and its version are untouched. Returns
    /// how many were announced now.
    pub async fn announce_mla_deadlines(
        &self,
        id: &ObjectId,
        announcements: &[(DeadlineKind, bool)],
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let announced = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            let mut announced = 0;
            for (kind, approaching) in announcements {
                // A deadline announced passed needs no warning any more.
                let (flag, set, event) = if *approaching {
                    ("warned", "warned = TRUE", "deadline_approaching")
                } else {
                    ("passed", "passed = TRUE, warned = TRUE", "deadline_passed")
                };
                let sql = format!(
                    "UPDATE mla_deadlines SET {set}
                     WHERE request_id = $1 AND kind = $2 AND NOT {flag} AND met_us IS NULL AND NOT cancelled"
                );
                let changed = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id.as_str())
                    .bind(kind.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if changed == 1 {
                    let event_kind = format!("{event}.{}", kind.as_str());
                    crate::outbox::write_outbox!(tx, pool, TOPIC, event_kind.as_str(), id.as_str(), now, None::<String>);
                    announced += 1;
                }
            }
            tx.commit().await?;
            announced
        });
        if announced > 0 {
            self.signals.outbox.notify_one();
        }
        Ok(announced)
    }

    /// The requests whose preservation period ran out by `now` and is not yet expired.
    pub async fn mla_preservations_due(&self, now: Timestamp) -> Result<Vec<ObjectId>, StoreError> {
        let ids: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT request_id FROM mla_deadlines
                 WHERE kind = $1 AND met_us IS NULL AND NOT cancelled AND due_us <= $2",
            )
            .bind(DeadlineKind::PreservationExpiry.as_str())
            .bind(now.as_micros())
            .fetch_all(pool)
            .await?
        });
        ids.iter()
            .map(|id| {
                ObjectId::parse(REQUEST_ID_PREFIX, id)
                    .map_err(|_| StoreError::corrupt("mla id", id))
            })
            .collect()
    }
}
