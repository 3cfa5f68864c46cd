//! MLA requests: creation and every change of state, drafts deleted, reads and lists.

use liaison_core::{
    AgencyId, ObjectId, PrincipalId, Timestamp,
    mla::{DeadlineKind, MlaState, PreservationState, Side, Urgency},
};
use sqlx::Row;

use super::{
    COLUMNS, MlaDeadline, MlaFilter, MlaRecord, MlaWrite, MlaWriteOutcome, TOPIC, load_deadlines,
    record_from_row, store_deadlines,
};
use crate::{Page, Store, StoreError, idempotency::seen_request, tx::WritePool, with_pool};

impl Store {
    /// Writes a request (creation or change) with its deadlines, receipts, stream events,
    /// idempotency key and audit record, in one transaction. A change applies only if the
    /// stored version is still `expected_version`.
    pub async fn write_mla(&self, write: MlaWrite<'_>) -> Result<MlaWriteOutcome, StoreError> {
        let principal = write.principal.map(ToString::to_string);
        let record = write.record;
        let outcome = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            if let Some(principal) = &principal {
                seen_request!(tx, principal, write.request_id, write.method, MlaWriteOutcome::Duplicate);
            }
            let requested = record.requested.as_ref().map_or("", AgencyId::as_str);
            let urgency = record.urgency.map_or("", Urgency::as_str);
            let preservation = record.status.preservation.map(PreservationState::as_str);
            let written = match write.expected_version {
                None => sqlx::query(
                    "INSERT INTO mla_requests (id, requesting_agency_id, requested_agency_id, state,
                        preservation_state, urgency, case_reference, version, document, created_us,
                        updated_us, submitted_us)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(record.id.as_str())
                .bind(record.requesting.as_str())
                .bind(requested)
                .bind(record.status.state.as_str())
                .bind(preservation)
                .bind(urgency)
                .bind(&record.case_reference)
                .bind(record.version)
                .bind(hex::encode(&record.document))
                .bind(record.created.as_micros())
                .bind(record.updated.as_micros())
                .bind(record.submitted.map(Timestamp::as_micros))
                .execute(&mut *tx)
                .await?
                .rows_affected(),
                Some(expected) => sqlx::query(
                    "UPDATE mla_requests SET requested_agency_id = $3, state = $4, preservation_state = $5,
                        urgency = $6, case_reference = $7, version = $8, document = $9, updated_us = $10,
                        submitted_us = $11
                     WHERE id = $1 AND version = $2",
                )
                .bind(record.id.as_str())
                .bind(expected)
                .bind(requested)
                .bind(record.status.state.as_str())
                .bind(preservation)
                .bind(urgency)
                .bind(&record.case_reference)
                .bind(record.version)
                .bind(hex::encode(&record.document))
                .bind(record.updated.as_micros())
                .bind(record.submitted.map(Timestamp::as_micros))
                .execute(&mut *tx)
                .await?
                .rows_affected(),
            };
            if written != 1 {
                tx.rollback().await?;
                return Ok(MlaWriteOutcome::Conflict);
            }
            store_deadlines!(tx, record);
            for receipt in write.receipts {
                sqlx::query(
                    "INSERT INTO mla_receipts (id, request_id, kind, statement, signature, key_id, created_us)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&receipt.id)
                .bind(receipt.request_id.as_str())
                .bind(&receipt.kind)
                .bind(hex::encode(&receipt.statement))
                .bind(hex::encode(&receipt.signature))
                .bind(&receipt.key_id)
                .bind(receipt.created.as_micros())
                .execute(&mut *tx)
                .await?;
            }
            if let Some(principal) = &principal {
                sqlx::query(
                    "INSERT INTO idempotency_keys (principal, request_id, method, object_id, created_us)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(principal)
                .bind(write.request_id)
                .bind(write.method)
                .bind(record.id.as_str())
                .bind(write.now.as_micros())
                .execute(&mut *tx)
                .await?;
            }
            for kind in write.events {
                crate::outbox::write_outbox!(tx, pool, TOPIC, kind.as_str(), record.id.as_str(), write.now, None::<String>);
            }
            let audit = String::from_utf8_lossy(&write.audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", record.id.as_str(), write.now, Some(audit));
            tx.commit().await?;
            MlaWriteOutcome::Written
        });
        self.signals.outbox.notify_one();
        Ok(outcome)
    }

    /// Deletes `draft` if it is still a draft at the version read, with its idempotency
    /// key and audit record. `Conflict` when it changed, was submitted or is gone.
    pub async fn delete_mla_draft(
        &self,
        principal: &PrincipalId,
        request_id: &str,
        method: &'static str,
        draft: &MlaRecord,
        audit_record: Vec<u8>,
        now: Timestamp,
    ) -> Result<MlaWriteOutcome, StoreError> {
        let principal = principal.to_string();
        let (id, expected_version) = (&draft.id, draft.version);
        let outcome = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            seen_request!(tx, &principal, request_id, method, MlaWriteOutcome::Duplicate);
            sqlx::query("DELETE FROM mla_deadlines WHERE request_id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            let deleted = sqlx::query("DELETE FROM mla_requests WHERE id = $1 AND version = $2 AND state = $3")
                .bind(id.as_str())
                .bind(expected_version)
                .bind(MlaState::Draft.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted != 1 {
                tx.rollback().await?;
                return Ok(MlaWriteOutcome::Conflict);
            }
            sqlx::query(
                "INSERT INTO idempotency_keys (principal, request_id, method, object_id, created_us)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&principal)
            .bind(request_id)
            .bind(method)
            .bind(id.as_str())
            .bind(now.as_micros())
            .execute(&mut *tx)
            .await?;
            let audit = String::from_utf8_lossy(&audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", id.as_str(), now, Some(audit));
            tx.commit().await?;
            MlaWriteOutcome::Written
        });
        self.signals.outbox.notify_one();
        Ok(outcome)
    }

    /// One request, with its deadlines.
    pub async fn get_mla(&self, id: &ObjectId) -> Result<Option<MlaRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM mla_requests r WHERE r.id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_optional(pool).await?;
            match row {
                None => Ok(None),
                Some(row) => {
                    let mut record = record_from_row(&row)?;
                    load_deadlines!(pool, record);
                    Ok(Some(record))
                }
            }
        })
    }

    /// Requests by `filter`, most recently changed first.
    pub async fn list_mla(&self, filter: &MlaFilter) -> Result<Page<MlaRecord>, StoreError> {
        let limit = filter.limit.max(1);
        let after = match &filter.after {
            None => None,
            Some(token) => {
                let (micros, id) = token
                    .split_once(':')
                    .and_then(|(micros, id)| Some((micros.parse::<i64>().ok()?, id.to_owned())))
                    .ok_or_else(|| StoreError::corrupt("page token", token))?;
                Some((micros, id))
            }
        };
        let mut records = with_pool!(self, pool => {
            let mut query = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM mla_requests r WHERE 1 = 1"));
            match &filter.agency {
                Some(agency) => {
                    let agency = agency.as_str().to_owned();
                    match filter.side {
                        Some(Side::Requesting) => {
                            query.push(" AND r.requesting_agency_id = ").push_bind(agency);
                        }
                        Some(Side::Requested) => {
                            query.push(" AND r.requested_agency_id = ").push_bind(agency).push(" AND r.state <> 'draft'");
                        }
                        _ => {
                            query.push(" AND (r.requesting_agency_id = ").push_bind(agency.clone())
                                .push(" OR (r.requested_agency_id = ").push_bind(agency).push(" AND r.state <> 'draft'))");
                        }
                    }
                }
                None => {
                    query.push(" AND r.state <> 'draft'");
                }
            }
            if let Some(counterpart) = &filter.counterpart {
                let counterpart = counterpart.as_str().to_owned();
                query.push(" AND (r.requesting_agency_id = ").push_bind(counterpart.clone())
                    .push(" OR r.requested_agency_id = ").push_bind(counterpart).push(")");
            }
            if !filter.states.is_empty() {
                query.push(" AND r.state IN (");
                let mut separated = query.separated(", ");
                for state in &filter.states {
                    separated.push_bind(state.as_str());
                }
                query.push(")");
            }
            if !filter.urgencies.is_empty() {
                query.push(" AND r.urgency IN (");
                let mut separated = query.separated(", ");
                for urgency in &filter.urgencies {
                    separated.push_bind(urgency.as_str());
                }
                query.push(")");
            }
            if let Some(case_reference) = &filter.case_reference {
                query.push(" AND r.case_reference = ").push_bind(case_reference.clone());
            }
            if let Some(now) = filter.overdue_at {
                query.push(" AND EXISTS (SELECT 1 FROM mla_deadlines d WHERE d.request_id = r.id AND d.met_us IS NULL AND NOT d.cancelled AND d.due_us <= ")
                    .push_bind(now.as_micros()).push(")");
            }
            if let Some((micros, id)) = &after {
                query.push(" AND (r.updated_us < ").push_bind(*micros)
                    .push(" OR (r.updated_us = ").push_bind(*micros).push(" AND r.id < ").push_bind(id.clone()).push("))");
            }
            query.push(format!(" ORDER BY r.updated_us DESC, r.id DESC LIMIT {}", i64::from(limit) + 1));
            let rows = query.build().fetch_all(pool).await?;
            let mut records = rows.iter().map(record_from_row).collect::<Result<Vec<_>, _>>()?;
            for record in &mut records {
                load_deadlines!(pool, record);
            }
            records
        });
        let next = if records.len() > limit as usize {
            records.truncate(limit as usize);
            records
                .last()
                .map(|record| format!("{}:{}", record.updated.as_micros(), record.id))
        } else {
            None
        };
        Ok(Page {
            items: records,
            next,
        })
    }
}
