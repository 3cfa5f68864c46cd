//! The MLA tables: requests (with a version for optimistic concurrency), their deadlines
//! and receipts. Every write checks the idempotency key, changes the request only if it
//! still has the version the decision was taken on, and commits its stream events and its
//! audit record in the same transaction.

use liaison_core::{
    AgencyId, ObjectId, PrincipalId, Timestamp,
    mla::{DeadlineKind, MlaState, MlaStatus, PreservationState, REQUEST_ID_PREFIX, Side, Urgency},
};
use sqlx::Row;

use crate::{Store, StoreError};

pub(crate) mod deadlines;
pub(crate) mod evidence;
pub(crate) mod messages;
pub(crate) mod receipts;
pub(crate) mod requests;

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

pub(crate) const COLUMNS: &str = "r.id, r.requesting_agency_id, r.requested_agency_id, r.state, r.preservation_state, \
     r.urgency, r.case_reference, r.version, r.document, r.created_us, r.updated_us, r.submitted_us";

pub(crate) fn record_from_row<R>(row: &R) -> Result<MlaRecord, StoreError>
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
pub(crate) use load_deadlines;

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
pub(crate) use insert_receipt;

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
pub(crate) use store_deadlines;

impl Store {
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
}
