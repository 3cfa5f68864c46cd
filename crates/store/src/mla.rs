//! The MLA tables: requests (with a version for optimistic concurrency), their deadlines
//! and receipts. Every write checks the idempotency key, changes the request only if it
//! still has the version the decision was taken on, and commits its stream events and its
//! audit record in the same transaction.

use liaison_core::{
    AgencyId, ObjectId, PrincipalId, Timestamp,
    mla::{DeadlineKind, MlaState, MlaStatus, PreservationState, REQUEST_ID_PREFIX, Side, Urgency},
};
use sqlx::Row;

use crate::{Page, Store, StoreError, idempotency::seen_request, tx::WritePool, with_pool};

/// Topic of MLA events in `outbox` and `events`.
pub(crate) const TOPIC: &str = "mla";

/// A stored request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlaRecord {
    /// The request id (`mla_…`).
    pub id: ObjectId,
    /// The requesting agency.
    pub requesting: AgencyId,
    /// The requested agency; `None` while a draft names none.
    pub requested: Option<AgencyId>,
    /// Workflow and preservation states.
    pub status: MlaStatus,
    /// The urgency, once given.
    pub urgency: Option<Urgency>,
    /// The requester's case reference.
    pub case_reference: String,
    /// Increases with every change; the etag.
    pub version: i64,
    /// The service's encoding of everything else (content, history, decisions).
    pub document: Vec<u8>,
    /// Created.
    pub created: Timestamp,
    /// Last changed.
    pub updated: Timestamp,
    /// Submitted.
    pub submitted: Option<Timestamp>,
    /// The deadlines, by kind.
    pub deadlines: Vec<MlaDeadline>,
}

/// A deadline of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlaDeadline {
    /// What must happen.
    pub kind: DeadlineKind,
    /// When it was set.
    pub set: Timestamp,
    /// By when.
    pub due: Timestamp,
    /// When it was met.
    pub met: Option<Timestamp>,
    /// No longer relevant.
    pub cancelled: bool,
    /// The hub announced it approaching.
    pub warned: bool,
    /// The hub announced it passed.
    pub passed: bool,
}

impl MlaDeadline {
    /// A new running deadline, set at `set`.
    pub fn running(kind: DeadlineKind, set: Timestamp, due: Timestamp) -> Self {
        Self {
            kind,
            set,
            due,
            met: None,
            cancelled: false,
            warned: false,
            passed: false,
        }
    }

    /// Neither met nor cancelled.
    pub fn is_running(&self) -> bool {
        self.met.is_none() && !self.cancelled
    }

    /// Running and past due at `now`.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.is_running() && self.due <= now
    }
}

/// A stored receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlaReceiptRow {
    /// The receipt id (`rct_…`).
    pub id: String,
    /// The request.
    pub request_id: ObjectId,
    /// What it attests (the service's spelling).
    pub kind: String,
    /// Exactly the bytes signed.
    pub statement: Vec<u8>,
    /// The Ed25519 signature.
    pub signature: Vec<u8>,
    /// The signing key's id.
    pub key_id: String,
    /// Issued.
    pub created: Timestamp,
}

/// One write of a request: a creation (no `expected_version`) or a change.
#[derive(Debug)]
pub struct MlaWrite<'a> {
    /// Who writes (owner of the idempotency key); `None` for the hub's own steps, which
    /// have no idempotency key.
    pub principal: Option<&'a PrincipalId>,
    /// The client's idempotency key.
    pub request_id: &'a str,
    /// The RPC, for the idempotency key.
    pub method: &'static str,
    /// The request as it is to be stored (its `version` the new one).
    pub record: &'a MlaRecord,
    /// The version the decision was taken on; `None` for a creation.
    pub expected_version: Option<i64>,
    /// Receipts issued with the write.
    pub receipts: &'a [MlaReceiptRow],
    /// Stream events, by kind, each optionally followed by `.` and what it refers to
    /// (`submitted.0`, `state_changed.4`: the history entry; `receipt_issued.rct_…`).
    pub events: &'a [String],
    /// The audit record of the write.
    pub audit_record: Vec<u8>,
    /// The time of the write.
    pub now: Timestamp,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MlaWriteOutcome {
    /// Written.
    Written,
    /// The idempotency key was used before for this method: the id of its object; nothing
    /// written.
    Duplicate(String),
    /// The request changed since it was read (or is gone): nothing written.
    Conflict,
}

/// A sequenced MLA event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlaEvent {
    /// Stream position.
    pub position: u64,
    /// What happened (the writer's spelling).
    pub kind: String,
    /// The request.
    pub request_id: String,
    /// When.
    pub time: Timestamp,
}

/// Which requests a list returns.
#[derive(Debug, Clone, Default)]
pub struct MlaFilter {
    /// Requests this agency is a party to; `None` for every request (oversight), drafts
    /// excluded.
    pub agency: Option<AgencyId>,
    /// Only where `agency` is on this side.
    pub side: Option<Side>,
    /// Only with this counterpart.
    pub counterpart: Option<AgencyId>,
    /// Only in these states; empty for any.
    pub states: Vec<MlaState>,
    /// Only of these urgencies; empty for any.
    pub urgencies: Vec<Urgency>,
    /// Only with this case reference.
    pub case_reference: Option<String>,
    /// Only with a deadline running and past due at this time.
    pub overdue_at: Option<Timestamp>,
    /// Resume after this page token.
    pub after: Option<String>,
    /// At most this many.
    pub limit: u32,
}

const COLUMNS: &str = "r.id, r.requesting_agency_id, r.requested_agency_id, r.state, r.preservation_state, \
     r.urgency, r.case_reference, r.version, r.document, r.created_us, r.updated_us, r.submitted_us";

fn record_from_row<R>(row: &R) -> Result<MlaRecord, StoreError>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = row.try_get("id")?;
    let requesting: String = row.try_get("requesting_agency_id")?;
    let requested: String = row.try_get("requested_agency_id")?;
    let state: String = row.try_get("state")?;
    let preservation: Option<String> = row.try_get("preservation_state")?;
    let urgency: String = row.try_get("urgency")?;
    let document: String = row.try_get("document")?;
    Ok(MlaRecord {
        id: ObjectId::parse(REQUEST_ID_PREFIX, &id)
            .map_err(|_| StoreError::corrupt("mla id", &id))?,
        requesting: AgencyId::parse(&requesting)
            .map_err(|_| StoreError::corrupt("agency", &requesting))?,
        requested: if requested.is_empty() {
            None
        } else {
            Some(
                AgencyId::parse(&requested)
                    .map_err(|_| StoreError::corrupt("agency", &requested))?,
            )
        },
        status: MlaStatus {
            state: MlaState::parse(&state)
                .ok_or_else(|| StoreError::corrupt("mla state", &state))?,
            preservation: preservation
                .map(|text| {
                    PreservationState::parse(&text)
                        .ok_or_else(|| StoreError::corrupt("preservation", &text))
                })
                .transpose()?,
        },
        urgency: if urgency.is_empty() {
            None
        } else {
            Some(Urgency::parse(&urgency).ok_or_else(|| StoreError::corrupt("urgency", &urgency))?)
        },
        case_reference: row.try_get("case_reference")?,
        version: row.try_get("version")?,
        document: hex::decode(&document).map_err(|_| StoreError::corrupt("mla document", &id))?,
        created: Timestamp::from_micros(row.try_get("created_us")?),
        updated: Timestamp::from_micros(row.try_get("updated_us")?),
        submitted: row
            .try_get::<Option<i64>, _>("submitted_us")?
            .map(Timestamp::from_micros),
        deadlines: Vec::new(),
    })
}

/// Loads the deadlines of records read without them.
macro_rules! load_deadlines {
    ($executor:expr, $record:expr) => {{
        let rows = sqlx::query(
            "SELECT kind, set_us, due_us, met_us, cancelled, warned, passed FROM mla_deadlines WHERE request_id = $1 ORDER BY due_us",
        )
        .bind($record.id.as_str())
        .fetch_all($executor)
        .await?;
        for row in &rows {
            let kind: String = row.try_get("kind")?;
            $record.deadlines.push(MlaDeadline {
                kind: DeadlineKind::parse(&kind).ok_or_else(|| StoreError::corrupt("deadline kind", &kind))?,
                set: Timestamp::from_micros(row.try_get("set_us")?),
                due: Timestamp::from_micros(row.try_get("due_us")?),
                met: row.try_get::<Option<i64>, _>("met_us")?.map(Timestamp::from_micros),
                cancelled: row.try_get("cancelled")?,
                warned: row.try_get("warned")?,
                passed: row.try_get("passed")?,
            });
        }
    }};
}

/// Inserts receipt `$receipt` inside transaction `$tx`.
macro_rules! insert_receipt {
    ($tx:ident, $receipt:expr) => {{
        let receipt = $receipt;
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
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Replaces the deadlines of `$record` inside transaction `$tx`.
macro_rules! store_deadlines {
    ($tx:ident, $record:expr) => {{
        sqlx::query("DELETE FROM mla_deadlines WHERE request_id = $1")
            .bind($record.id.as_str())
            .execute(&mut *$tx)
            .await?;
        for deadline in &$record.deadlines {
            sqlx::query(
                "INSERT INTO mla_deadlines (request_id, kind, set_us, due_us, met_us, cancelled, warned, passed)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind($record.id.as_str())
            .bind(deadline.kind.as_str())
            .bind(deadline.set.as_micros())
            .bind(deadline.due.as_micros())
            .bind(deadline.met.map(Timestamp::as_micros))
            .bind(deadline.cancelled)
            .bind(deadline.warned)
            .bind(deadline.passed)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

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

    /// The receipts of a request, oldest first.
    pub async fn mla_receipts(&self, id: &ObjectId) -> Result<Vec<MlaReceiptRow>, StoreError> {
        let rows: Vec<(String, String, String, String, String, i64)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, kind, statement, signature, key_id, created_us FROM mla_receipts
                 WHERE request_id = $1 ORDER BY created_us, id",
            )
            .bind(id.as_str())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(
                |(receipt_id, kind, statement, signature, key_id, created)| {
                    Ok(MlaReceiptRow {
                        statement: hex::decode(&statement)
                            .map_err(|_| StoreError::corrupt("receipt", &receipt_id))?,
                        signature: hex::decode(&signature)
                            .map_err(|_| StoreError::corrupt("receipt", &receipt_id))?,
                        id: receipt_id,
                        request_id: id.clone(),
                        kind,
                        key_id,
                        created: Timestamp::from_micros(created),
                    })
                },
            )
            .collect()
    }

    /// The MLA events after position `after`, oldest first, at most `limit`.
    pub async fn mla_events_after(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<MlaEvent>, StoreError> {
        let rows = self.events_after(TOPIC, after, limit).await?;
        Ok(rows
            .into_iter()
            .map(|(position, kind, request_id, created)| MlaEvent {
                position: u64::try_from(position).unwrap_or(0),
                kind,
                request_id,
                time: Timestamp::from_micros(created),
            })
            .collect())
    }

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

    /// Posts a message on a request, with its idempotency key, stream event and audit
    /// record, in one transaction. `Duplicate` with the first message's id on a retry.
    pub async fn post_mla_message(
        &self,
        principal: &PrincipalId,
        request_id: &str,
        message: &MlaMessageRow,
        audit_record: Vec<u8>,
    ) -> Result<MlaWriteOutcome, StoreError> {
        const METHOD: &str = "liaison.v1.MlaService/PostMessage";
        let principal = principal.to_string();
        let outcome = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            seen_request!(tx, &principal, request_id, METHOD, MlaWriteOutcome::Duplicate);
            sqlx::query(
                "INSERT INTO mla_messages (id, request_id, sender_agency_id, document, created_us)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&message.id)
            .bind(message.request_id.as_str())
            .bind(message.sender_agency.as_str())
            .bind(hex::encode(&message.document))
            .bind(message.created.as_micros())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO idempotency_keys (principal, request_id, method, object_id, created_us)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&principal)
            .bind(request_id)
            .bind(METHOD)
            .bind(&message.id)
            .bind(message.created.as_micros())
            .execute(&mut *tx)
            .await?;
            crate::outbox::write_outbox!(tx, pool, TOPIC, format!("message_posted.{}", message.id), message.request_id.as_str(), message.created, None::<String>);
            let audit = String::from_utf8_lossy(&audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", message.request_id.as_str(), message.created, Some(audit));
            tx.commit().await?;
            MlaWriteOutcome::Written
        });
        self.signals.outbox.notify_one();
        Ok(outcome)
    }

    /// One message by id.
    pub async fn get_mla_message(&self, id: &str) -> Result<Option<MlaMessageRow>, StoreError> {
        let row: Option<(String, String, String, String, i64, Option<i64>)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, request_id, sender_agency_id, document, created_us, read_us FROM mla_messages WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(message_from_row).transpose()
    }

    /// The messages of a request, oldest first, from `offset`, at most `limit`.
    pub async fn list_mla_messages(
        &self,
        request: &ObjectId,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<MlaMessageRow>, StoreError> {
        let rows: Vec<(String, String, String, String, i64, Option<i64>)> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT id, request_id, sender_agency_id, document, created_us, read_us FROM mla_messages
                 WHERE request_id = $1 ORDER BY created_us, id LIMIT {limit} OFFSET $2"
            )))
            .bind(request.as_str())
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(message_from_row).collect()
    }

    /// Marks `messages` of `request` read by `reader` at `now` — those sent by the other
    /// party and not read yet — with the read's audit record, in one transaction. Returns
    /// the ids it marked.
    pub async fn mark_mla_messages_read(
        &self,
        request: &ObjectId,
        reader: &AgencyId,
        messages: &[String],
        now: Timestamp,
        audit_record: Vec<u8>,
    ) -> Result<Vec<String>, StoreError> {
        let marked = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            let mut marked = Vec::new();
            for id in messages {
                let changed = sqlx::query(
                    "UPDATE mla_messages SET read_us = $1
                     WHERE id = $2 AND request_id = $3 AND sender_agency_id <> $4 AND read_us IS NULL",
                )
                .bind(now.as_micros())
                .bind(id)
                .bind(request.as_str())
                .bind(reader.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed == 1 {
                    marked.push(id.clone());
                }
            }
            let audit = String::from_utf8_lossy(&audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", request.as_str(), now, Some(audit));
            tx.commit().await?;
            marked
        });
        self.signals.outbox.notify_one();
        Ok(marked)
    }

    /// Records an uploaded evidence file (its bytes already stored) with its receipt,
    /// idempotency key, stream events and audit record, in one transaction.
    pub async fn add_mla_evidence(
        &self,
        principal: &PrincipalId,
        request_id: &str,
        evidence: &MlaEvidenceRow,
        receipt: &MlaReceiptRow,
        audit_record: Vec<u8>,
    ) -> Result<MlaWriteOutcome, StoreError> {
        const METHOD: &str = "liaison.v1.MlaService/UploadEvidence";
        let principal = principal.to_string();
        let now = evidence.created;
        let outcome = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            seen_request!(tx, &principal, request_id, METHOD, MlaWriteOutcome::Duplicate);
            sqlx::query(
                "INSERT INTO mla_evidence (id, request_id, uploader_agency_id, sha256, size_bytes, document, created_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&evidence.id)
            .bind(evidence.request_id.as_str())
            .bind(evidence.uploader_agency.as_str())
            .bind(&evidence.sha256)
            .bind(evidence.size_bytes)
            .bind(hex::encode(&evidence.document))
            .bind(now.as_micros())
            .execute(&mut *tx)
            .await?;
            insert_receipt!(tx, receipt);
            sqlx::query(
                "INSERT INTO idempotency_keys (principal, request_id, method, object_id, created_us)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&principal)
            .bind(request_id)
            .bind(METHOD)
            .bind(&evidence.id)
            .bind(now.as_micros())
            .execute(&mut *tx)
            .await?;
            crate::outbox::write_outbox!(tx, pool, TOPIC, format!("evidence_added.{}", evidence.id), evidence.request_id.as_str(), now, None::<String>);
            crate::outbox::write_outbox!(tx, pool, TOPIC, format!("receipt_issued.{}", receipt.id), evidence.request_id.as_str(), now, None::<String>);
            let audit = String::from_utf8_lossy(&audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", evidence.request_id.as_str(), now, Some(audit));
            tx.commit().await?;
            MlaWriteOutcome::Written
        });
        self.signals.outbox.notify_one();
        Ok(outcome)
    }

    /// Records the first complete retrieval of an evidence file by the other party, with
    /// its receipt and audit record; `false` (nothing written) when it was retrieved
    /// before.
    pub async fn mark_mla_evidence_retrieved(
        &self,
        evidence_id: &str,
        receipt: &MlaReceiptRow,
        audit_record: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let now = receipt.created;
        let first = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            let changed = sqlx::query(
                "UPDATE mla_evidence SET first_retrieve_us = $1 WHERE id = $2 AND first_retrieve_us IS NULL",
            )
            .bind(now.as_micros())
            .bind(evidence_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            insert_receipt!(tx, receipt);
            crate::outbox::write_outbox!(tx, pool, TOPIC, format!("receipt_issued.{}", receipt.id), receipt.request_id.as_str(), now, None::<String>);
            let audit = String::from_utf8_lossy(&audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", receipt.request_id.as_str(), now, Some(audit));
            tx.commit().await?;
            true
        });
        self.signals.outbox.notify_one();
        Ok(first)
    }

    /// One evidence file's record.
    pub async fn get_mla_evidence(&self, id: &str) -> Result<Option<MlaEvidenceRow>, StoreError> {
        let row: Option<EvidenceTuple> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, request_id, uploader_agency_id, sha256, size_bytes, document, created_us, first_retrieve_us
                 FROM mla_evidence WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(evidence_from_row).transpose()
    }

    /// The evidence files of a request, oldest first.
    pub async fn list_mla_evidence(
        &self,
        request: &ObjectId,
    ) -> Result<Vec<MlaEvidenceRow>, StoreError> {
        let rows: Vec<EvidenceTuple> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, request_id, uploader_agency_id, sha256, size_bytes, document, created_us, first_retrieve_us
                 FROM mla_evidence WHERE request_id = $1 ORDER BY created_us, id",
            )
            .bind(request.as_str())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(evidence_from_row).collect()
    }

    /// Bytes of evidence stored on `request` (all parties' files), and bytes `agency`
    /// uploaded over all requests: what the evidence quotas count.
    pub async fn mla_evidence_usage(
        &self,
        request: &ObjectId,
        agency: &AgencyId,
    ) -> Result<(u64, u64), StoreError> {
        let (on_request, by_agency): (i64, i64) = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT
                   (SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM mla_evidence WHERE request_id = $1),
                   (SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM mla_evidence WHERE uploader_agency_id = $2)",
            )
            .bind(request.as_str())
            .bind(agency.as_str())
            .fetch_one(pool)
            .await?
        });
        Ok((
            u64::try_from(on_request).unwrap_or(0),
            u64::try_from(by_agency).unwrap_or(0),
        ))
    }

    /// Stores a receipt issued without a change to its request (a rejected submission),
    /// with its stream event and audit record, in one transaction.
    pub async fn add_mla_receipt(
        &self,
        receipt: &MlaReceiptRow,
        audit_record: Vec<u8>,
    ) -> Result<(), StoreError> {
        let now = receipt.created;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            insert_receipt!(tx, receipt);
            crate::outbox::write_outbox!(tx, pool, TOPIC, format!("receipt_issued.{}", receipt.id), receipt.request_id.as_str(), now, None::<String>);
            let audit = String::from_utf8_lossy(&audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", receipt.request_id.as_str(), now, Some(audit));
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(())
    }
}

type EvidenceTuple = (
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    Option<i64>,
);

/// A stored evidence file's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlaEvidenceRow {
    /// The evidence id (`evd_…`).
    pub id: String,
    /// The request.
    pub request_id: ObjectId,
    /// The uploader's agency.
    pub uploader_agency: AgencyId,
    /// SHA-256 of the bytes, lowercase hex: also where they are stored.
    pub sha256: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// The service's encoding of the metadata.
    pub document: Vec<u8>,
    /// Uploaded.
    pub created: Timestamp,
    /// First complete retrieval by the other party.
    pub first_retrieved: Option<Timestamp>,
}

fn evidence_from_row(
    (id, request_id, uploader, sha256, size_bytes, document, created, retrieved): EvidenceTuple,
) -> Result<MlaEvidenceRow, StoreError> {
    Ok(MlaEvidenceRow {
        request_id: ObjectId::parse(REQUEST_ID_PREFIX, &request_id)
            .map_err(|_| StoreError::corrupt("mla id", &request_id))?,
        uploader_agency: AgencyId::parse(&uploader)
            .map_err(|_| StoreError::corrupt("agency", &uploader))?,
        document: hex::decode(&document).map_err(|_| StoreError::corrupt("evidence", &id))?,
        sha256,
        size_bytes,
        created: Timestamp::from_micros(created),
        first_retrieved: retrieved.map(Timestamp::from_micros),
        id,
    })
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlaMessageRow {
    /// The message id (`msg_…`).
    pub id: String,
    /// The request.
    pub request_id: ObjectId,
    /// The sender's agency.
    pub sender_agency: AgencyId,
    /// The service's encoding of the message.
    pub document: Vec<u8>,
    /// Posted.
    pub created: Timestamp,
    /// First read by the other party.
    pub read: Option<Timestamp>,
}

fn message_from_row(
    (id, request_id, sender, document, created, read): (
        String,
        String,
        String,
        String,
        i64,
        Option<i64>,
    ),
) -> Result<MlaMessageRow, StoreError> {
    Ok(MlaMessageRow {
        request_id: ObjectId::parse(REQUEST_ID_PREFIX, &request_id)
            .map_err(|_| StoreError::corrupt("mla id", &request_id))?,
        sender_agency: AgencyId::parse(&sender)
            .map_err(|_| StoreError::corrupt("agency", &sender))?,
        document: hex::decode(&document).map_err(|_| StoreError::corrupt("message", &id))?,
        created: Timestamp::from_micros(created),
        read: read.map(Timestamp::from_micros),
        id,
    })
}
