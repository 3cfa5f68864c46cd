//! Revocation by the publisher, and the linking of observables to a fraud method: the
//! owner's changes after publication.

use liaison_core::{Indicator, ObjectId, Timestamp};

use super::TOPIC;
use crate::{Store, StoreError, tx::WritePool, with_pool};

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// Revoked now (the indicator as stored after).
    Revoked(Indicator),
    /// It was revoked already: nothing changed.
    AlreadyRevoked(Indicator),
}

impl Store {
    /// Revokes an indicator with its stream event and audit record in one transaction.
    /// The caller has checked that it may (the stored owner).
    pub async fn revoke_indicator(
        &self,
        id: &ObjectId,
        reason: &str,
        now: Timestamp,
        audit_record: &[u8],
    ) -> Result<Option<RevokeOutcome>, StoreError> {
        let changed: bool = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            let done = sqlx::query(
                "UPDATE indicators SET revoked_us = $1, revoke_reason = $2 WHERE id = $3 AND revoked_us IS NULL",
            )
            .bind(now.as_micros())
            .bind(reason)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                false
            } else {
                crate::outbox::write_outbox!(tx, pool, TOPIC, "revoked", id.as_str(), now, None::<String>);
                let record = String::from_utf8_lossy(audit_record).into_owned();
                crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", id.as_str(), now, Some(record));
                tx.commit().await?;
                true
            }
        });
        if changed {
            self.signals.outbox.notify_one();
        }
        let Some(indicator) = self.get_indicator(id).await? else {
            return Ok(None);
        };
        Ok(Some(if changed {
            RevokeOutcome::Revoked(indicator)
        } else {
            RevokeOutcome::AlreadyRevoked(indicator)
        }))
    }

    /// Links standalone observable indicators to a fraud method, with the audit record, in
    /// one transaction. The caller has checked ownership of every item.
    pub async fn link_observables(
        &self,
        fraud_method: &ObjectId,
        observables: &[ObjectId],
        now: Timestamp,
        audit_record: &[u8],
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            for id in observables {
                sqlx::query("UPDATE indicators SET linked_fraud_method_id = $1 WHERE id = $2")
                    .bind(fraud_method.as_str())
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            let record = String::from_utf8_lossy(audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", fraud_method.as_str(), now, Some(record));
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(())
    }
}
