//! Communication checks: the check with one result row per agency checked, written with
//! its stream event and audit record in one transaction; answers likewise.

use liaison_core::{
    AgencyId, ObjectId, PrincipalId, Scope, Timestamp,
    cbm::{CHECK_PREFIX, CheckResult, CommunicationCheck, ContactLevel, LocalizedText, POC_PREFIX},
};

use crate::{
    Store, StoreError,
    cbm::{CbmEventKind, TOPIC, parse_principal},
    idempotency::{WriteOutcome, record_request, seen_request},
    tx::WritePool,
    with_pool,
};

const METHOD_START: &str = "liaison.v1.CbmService/StartCommunicationCheck";
const METHOD_RESPOND: &str = "liaison.v1.CbmService/RespondToCommunicationCheck";

/// An answer to a communication check.
#[derive(Debug)]
pub struct CheckAnswer<'a> {
    /// The check.
    pub check: &'a ObjectId,
    /// The answering agency.
    pub agency: &'a AgencyId,
    /// Who answers.
    pub responder: &'a PrincipalId,
    /// The point of contact answered as.
    pub point_of_contact: Option<&'a ObjectId>,
    /// A comment.
    pub comment: Option<LocalizedText>,
    /// Now, by the deadline clock.
    pub now: Timestamp,
    /// The client's idempotency key.
    pub request_id: &'a str,
    /// The audit record.
    pub audit_record: Vec<u8>,
}

type CheckRow = (
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    i64,
    String,
    String,
    String,
);

const CHECK_COLUMNS: &str = "id, started_by, scope_kind, scope_value, contact_level, start_us, window_us, \
     message, message_language, challenge";

fn check_from_row(row: CheckRow) -> Result<CommunicationCheck, StoreError> {
    let (
        id,
        started_by,
        scope_kind,
        scope_value,
        level,
        start,
        window,
        message,
        language,
        challenge,
    ) = row;
    Ok(CommunicationCheck {
        id: ObjectId::parse(CHECK_PREFIX, &id).map_err(|_| StoreError::corrupt("check id", &id))?,
        started_by: started_by.as_deref().map(parse_principal).transpose()?,
        scope: Scope::from_storage(&scope_kind, &scope_value)
            .map_err(|_| StoreError::corrupt("scope", &scope_value))?,
        contact_level: match level.as_str() {
            "all" => None,
            other => Some(
                ContactLevel::parse(other).ok_or_else(|| StoreError::corrupt("level", other))?,
            ),
        },
        started: Timestamp::from_micros(start),
        window: std::time::Duration::from_micros(u64::try_from(window).unwrap_or(0)),
        message: LocalizedText {
            text: message,
            language,
        },
        challenge,
    })
}

type ResultRow = (
    String,
    i64,
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

const RESULT_SELECT: &str =
    "SELECT r.check_id, c.start_us, c.start_us + c.window_us, r.agency_id, r.respond_us, \
     r.responder, r.point_of_contact_id, r.comment, r.comment_language
     FROM cbm_check_results r JOIN cbm_checks c ON c.id = r.check_id";

fn result_from_row(row: ResultRow) -> Result<CheckResult, StoreError> {
    let (check, start, due, agency, respond, responder, poc, comment, language) = row;
    Ok(CheckResult {
        check: ObjectId::parse(CHECK_PREFIX, &check)
            .map_err(|_| StoreError::corrupt("check id", &check))?,
        check_started: Timestamp::from_micros(start),
        check_due: Timestamp::from_micros(due),
        agency: AgencyId::parse(&agency).map_err(|_| StoreError::corrupt("agency", &agency))?,
        responded: respond.map(Timestamp::from_micros),
        responder: responder.as_deref().map(parse_principal).transpose()?,
        point_of_contact: poc
            .map(|id| {
                ObjectId::parse(POC_PREFIX, &id).map_err(|_| StoreError::corrupt("poc id", &id))
            })
            .transpose()?,
        comment: comment.map(|text| LocalizedText {
            text,
            language: language.unwrap_or_default(),
        }),
    })
}

impl Store {
    /// Starts a check: one result row per member agency of its scope (never the hub), its
    /// stream event and audit record, in one transaction.
    pub async fn start_check(
        &self,
        check: &CommunicationCheck,
        request_id: &str,
        audit_record: &[u8],
    ) -> Result<WriteOutcome<()>, StoreError> {
        let actor = check
            .started_by
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let (scope_kind, scope_value) = check.scope.to_storage();
        let now = check.started;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            seen_request!(tx, &actor, request_id, METHOD_START);
            let agencies: Vec<String> = match &check.scope {
                Scope::AllMembers => sqlx::query_scalar("SELECT id FROM agencies WHERE kind <> 'hub' ORDER BY id")
                    .fetch_all(&mut *tx)
                    .await?,
                Scope::SharingGroup(group) => sqlx::query_scalar(
                    "SELECT m.agency_id FROM sharing_group_members m JOIN agencies a ON a.id = m.agency_id
                     WHERE m.group_id = $1 AND a.kind <> 'hub' ORDER BY m.agency_id",
                )
                .bind(group.as_str())
                .fetch_all(&mut *tx)
                .await?,
                Scope::Agencies(agencies) => agencies.iter().map(ToString::to_string).collect(),
            };
            sqlx::query(
                "INSERT INTO cbm_checks (id, started_by, scope_kind, scope_value, contact_level, start_us, window_us,
                    message, message_language, challenge)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(check.id.as_str())
            .bind(check.started_by.as_ref().map(ToString::to_string))
            .bind(scope_kind)
            .bind(&scope_value)
            .bind(check.contact_level.map_or("all", ContactLevel::as_str))
            .bind(now.as_micros())
            .bind(i64::try_from(check.window.as_micros()).unwrap_or(i64::MAX))
            .bind(&check.message.text)
            .bind(&check.message.language)
            .bind(&check.challenge)
            .execute(&mut *tx)
            .await?;
            for agency in &agencies {
                sqlx::query("INSERT INTO cbm_check_results (check_id, agency_id) VALUES ($1, $2)")
                    .bind(check.id.as_str())
                    .bind(agency)
                    .execute(&mut *tx)
                    .await?;
            }
            record_request!(tx, &actor, request_id, METHOD_START, check.id.as_str(), now);
            let (kind, object) = CbmEventKind::CheckStarted(check.id.clone()).storage();
            crate::outbox::write_outbox!(tx, pool, TOPIC, kind, object, now, None::<String>);
            let record = String::from_utf8_lossy(audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", check.id.as_str(), now, Some(record));
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(WriteOutcome::Stored(()))
    }

    /// Records an agency's answer, with its audit record, in one transaction. Only the
    /// first answer counts; a later one changes nothing.
    pub async fn answer_check(
        &self,
        answer: CheckAnswer<'_>,
    ) -> Result<WriteOutcome<()>, StoreError> {
        let responder = answer.responder.to_string();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            seen_request!(tx, &responder, answer.request_id, METHOD_RESPOND);
            sqlx::query(
                "UPDATE cbm_check_results SET respond_us = $3, responder = $4, point_of_contact_id = $5,
                    comment = $6, comment_language = $7
                 WHERE check_id = $1 AND agency_id = $2 AND respond_us IS NULL",
            )
            .bind(answer.check.as_str())
            .bind(answer.agency.as_str())
            .bind(answer.now.as_micros())
            .bind(&responder)
            .bind(answer.point_of_contact.map(ObjectId::as_str))
            .bind(answer.comment.as_ref().map(|comment| comment.text.clone()))
            .bind(answer.comment.as_ref().map(|comment| comment.language.clone()))
            .execute(&mut *tx)
            .await?;
            record_request!(tx, &responder, answer.request_id, METHOD_RESPOND, answer.check.as_str(), answer.now);
            let record = String::from_utf8_lossy(&answer.audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", answer.check.as_str(), answer.now, Some(record));
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(WriteOutcome::Stored(()))
    }

    /// Marks every check whose window has closed by `now` as closed, with a stream event
    /// each, in one transaction. Returns how many.
    pub async fn close_due_checks(&self, now: Timestamp) -> Result<usize, StoreError> {
        let closed = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM cbm_checks WHERE close_us IS NULL AND start_us + window_us <= $1 ORDER BY id LIMIT 100",
            )
            .bind(now.as_micros())
            .fetch_all(&mut *tx)
            .await?;
            let mut closed = 0;
            for id in &ids {
                // Conditional, so that two replicas announce a window once.
                let changed = sqlx::query("UPDATE cbm_checks SET close_us = $2 WHERE id = $1 AND close_us IS NULL")
                    .bind(id)
                    .bind(now.as_micros())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if changed == 1 {
                    crate::outbox::write_outbox!(tx, pool, TOPIC, "check_closed", id.as_str(), now, None::<String>);
                    closed += 1;
                }
            }
            tx.commit().await?;
            closed
        });
        if closed > 0 {
            self.signals.outbox.notify_one();
        }
        Ok(closed)
    }

    /// When the next open check's window closes.
    pub async fn next_check_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let due: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT MIN(start_us + window_us) FROM cbm_checks WHERE close_us IS NULL")
                .fetch_one(pool)
                .await?
        });
        Ok(due.map(Timestamp::from_micros))
    }

    /// One check.
    pub async fn get_check(&self, id: &ObjectId) -> Result<Option<CommunicationCheck>, StoreError> {
        let sql = format!("SELECT {CHECK_COLUMNS} FROM cbm_checks WHERE id = $1");
        let row: Option<CheckRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_optional(pool).await?
        });
        row.map(check_from_row).transpose()
    }

    /// Checks newest first, started in `[start, end)`, after `offset`; only those checking
    /// `agency` when given.
    pub async fn list_checks(
        &self,
        agency: Option<&AgencyId>,
        range: (Option<Timestamp>, Option<Timestamp>),
        offset: u64,
        limit: u32,
    ) -> Result<Vec<CommunicationCheck>, StoreError> {
        let sql = format!(
            "SELECT {CHECK_COLUMNS} FROM cbm_checks c
             WHERE ($1 = '' OR EXISTS (SELECT 1 FROM cbm_check_results r WHERE r.check_id = c.id AND r.agency_id = $1))
               AND c.start_us >= $2 AND c.start_us < $3
             ORDER BY c.start_us DESC, c.id DESC LIMIT {limit} OFFSET $4"
        );
        let rows: Vec<CheckRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(agency.map_or("", AgencyId::as_str))
                .bind(range.0.map_or(i64::MIN, Timestamp::as_micros))
                .bind(range.1.map_or(i64::MAX, Timestamp::as_micros))
                .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(check_from_row).collect()
    }

    /// A check's results by agency id.
    pub async fn check_results(&self, check: &ObjectId) -> Result<Vec<CheckResult>, StoreError> {
        let sql = format!("{RESULT_SELECT} WHERE r.check_id = $1 ORDER BY r.agency_id");
        let rows: Vec<ResultRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(check.as_str()).fetch_all(pool).await?
        });
        rows.into_iter().map(result_from_row).collect()
    }

    /// An agency's results, newest check first, of checks started in `[start, end)`.
    pub async fn agency_check_results(
        &self,
        agency: &AgencyId,
        range: (Option<Timestamp>, Option<Timestamp>),
        offset: u64,
        limit: u32,
    ) -> Result<Vec<CheckResult>, StoreError> {
        let sql = format!(
            "{RESULT_SELECT} WHERE r.agency_id = $1 AND c.start_us >= $2 AND c.start_us < $3
             ORDER BY c.start_us DESC, c.id DESC LIMIT {limit} OFFSET $4"
        );
        let rows: Vec<ResultRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(agency.as_str())
                .bind(range.0.map_or(i64::MIN, Timestamp::as_micros))
                .bind(range.1.map_or(i64::MAX, Timestamp::as_micros))
                .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(result_from_row).collect()
    }
}
