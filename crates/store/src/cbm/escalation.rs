//! Escalation: acknowledgements overdue are marked escalated by the hub itself, with the
//! stream events and the audit record of the hub's own step.

use liaison_core::Timestamp;

use super::TOPIC;
use crate::{Store, StoreError, tx::WritePool, with_pool};

/// The audit method of the escalations the hub makes itself (actor: none).
pub const ESCALATE_METHOD: &str = "liaison.hub/cbm/Escalate";

/// The stored audit record of one escalation pass: the hub as actor, each escalated
/// acknowledgement (`<notification>:<agency>`) written, owned by the late agency.
fn escalation_record(rows: &[(String, String)]) -> String {
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let record = liaison_audit::AuditRecord {
        time_us: now.as_micros(),
        method: ESCALATE_METHOD.to_owned(),
        objects: rows
            .iter()
            .map(|(notification, agency)| {
                liaison_audit::ObjectAccess::new(
                    format!("{notification}:{agency}"),
                    liaison_audit::Access::Write,
                    Some(agency.clone()),
                )
            })
            .collect(),
        trace_id: format!("{:032x}", now.as_micros()),
        ..liaison_audit::AuditRecord::default()
    };
    String::from_utf8_lossy(&record.seal()).into_owned()
}

impl Store {
    /// Escalates every acknowledgement still pending at its due time, as of `now`: marks
    /// it escalated and adds an escalation event, in one transaction. Returns how many.
    pub async fn escalate_overdue(&self, now: Timestamp) -> Result<usize, StoreError> {
        let escalated = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT notification_id, agency_id FROM cbm_acknowledgements
                 WHERE status = 'pending' AND escalate_us IS NULL AND due_us IS NOT NULL AND due_us <= $1
                 ORDER BY due_us, notification_id, agency_id LIMIT 500",
            )
            .bind(now.as_micros())
            .fetch_all(&mut *tx)
            .await?;
            let mut escalated = 0;
            let mut escalated_rows = Vec::new();
            for (notification, agency) in &rows {
                // Conditional, so that two replicas escalating at once escalate a row once.
                let changed = sqlx::query(
                    "UPDATE cbm_acknowledgements SET escalate_us = $3, update_us = $3
                     WHERE notification_id = $1 AND agency_id = $2 AND escalate_us IS NULL AND status = 'pending'",
                )
                .bind(notification)
                .bind(agency)
                .bind(now.as_micros())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed == 1 {
                    let object = format!("{notification}:{agency}");
                    crate::outbox::write_outbox!(tx, pool, TOPIC, "escalation", object, now, None::<String>);
                    escalated_rows.push((notification.clone(), agency.clone()));
                    escalated += 1;
                }
            }
            if !escalated_rows.is_empty() {
                let audit = escalation_record(&escalated_rows);
                crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", escalated_rows[0].0.as_str(), now, Some(audit));
            }
            tx.commit().await?;
            escalated
        });
        if escalated > 0 {
            self.signals.outbox.notify_one();
        }
        Ok(escalated)
    }

    /// The earliest due time of a pending acknowledgement not yet escalated.
    pub async fn next_acknowledgement_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let due: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT MIN(due_us) FROM cbm_acknowledgements
                 WHERE status = 'pending' AND escalate_us IS NULL AND due_us IS NOT NULL",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(due.map(Timestamp::from_micros))
    }
}
