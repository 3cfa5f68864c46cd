//! Consultations (OSCE CBM 3): a request commits the consultation, its participants and
//! the consultation-request notification together; every change rewrites the row and its
//! participants with its stream event and audit record, in one transaction.

use liaison_core::{
    AgencyId, ObjectId, Timestamp, Tlp,
    cbm::{
        CONSULTATION_PREFIX, Consultation, ConsultationOutcome, ConsultationState, LocalizedText,
        NOTIFICATION_PREFIX, Notification, Participant,
    },
};
use sqlx::Row;

use crate::{
    Store, StoreError,
    cbm::{CbmEventKind, TOPIC, insert_notification, parse_principal},
    idempotency::{WriteOutcome, record_request, seen_request},
    tx::WritePool,
    with_pool,
};

const COLUMNS: &str = "id, requester, subject, subject_language, description, description_language, state, tlp, \
     related_ids, request_notification_id, proposed_us, schedule_us, duration_us, venue, venue_language, agenda, \
     agenda_language, hold_us, summary, summary_language, outcome, close_us, created_us, update_us, version";

fn text_pair(text: Option<String>, language: Option<String>) -> Option<LocalizedText> {
    text.map(|text| LocalizedText {
        text,
        language: language.unwrap_or_default(),
    })
}

fn consultation_from_row<R>(row: &R) -> Result<Consultation, StoreError>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = row.try_get("id")?;
    let requester: String = row.try_get("requester")?;
    let state: String = row.try_get("state")?;
    let tlp: String = row.try_get("tlp")?;
    let related: String = row.try_get("related_ids")?;
    let request: String = row.try_get("request_notification_id")?;
    let proposed: String = row.try_get("proposed_us")?;
    let outcome: Option<String> = row.try_get("outcome")?;
    let duration: Option<i64> = row.try_get("duration_us")?;
    let micros = |name: &str| -> Result<Option<Timestamp>, StoreError> {
        Ok(row
            .try_get::<Option<i64>, _>(name)?
            .map(Timestamp::from_micros))
    };
    Ok(Consultation {
        id: ObjectId::parse(CONSULTATION_PREFIX, &id)
            .map_err(|_| StoreError::corrupt("consultation", &id))?,
        requester: parse_principal(&requester)?,
        participants: Vec::new(),
        subject: LocalizedText {
            text: row.try_get("subject")?,
            language: row.try_get("subject_language")?,
        },
        description: text_pair(
            row.try_get("description")?,
            row.try_get("description_language")?,
        ),
        state: ConsultationState::parse(&state)
            .ok_or_else(|| StoreError::corrupt("state", &state))?,
        tlp: tlp
            .parse::<Tlp>()
            .map_err(|_| StoreError::corrupt("tlp", &tlp))?,
        related: related
            .split('\n')
            .filter(|id| !id.is_empty())
            .map(|id| {
                ObjectId::parse(NOTIFICATION_PREFIX, id)
                    .map_err(|_| StoreError::corrupt("notification", id))
            })
            .collect::<Result<_, _>>()?,
        request_notification: ObjectId::parse(NOTIFICATION_PREFIX, &request)
            .map_err(|_| StoreError::corrupt("notification", &request))?,
        proposed: proposed
            .split('\n')
            .filter(|time| !time.is_empty())
            .map(|time| {
                time.parse::<i64>()
                    .map(Timestamp::from_micros)
                    .map_err(|_| StoreError::corrupt("time", time))
            })
            .collect::<Result<_, _>>()?,
        schedule: micros("schedule_us")?,
        planned_duration: duration
            .map(|us| std::time::Duration::from_micros(u64::try_from(us).unwrap_or(0))),
        venue: text_pair(row.try_get("venue")?, row.try_get("venue_language")?),
        agenda: text_pair(row.try_get("agenda")?, row.try_get("agenda_language")?),
        held: micros("hold_us")?,
        summary: text_pair(row.try_get("summary")?, row.try_get("summary_language")?),
        outcome: outcome
            .map(|code| {
                ConsultationOutcome::parse(&code)
                    .ok_or_else(|| StoreError::corrupt("outcome", &code))
            })
            .transpose()?,
        closed: micros("close_us")?,
        created: Timestamp::from_micros(row.try_get("created_us")?),
        updated: Timestamp::from_micros(row.try_get("update_us")?),
        version: u64::try_from(row.try_get::<i64, _>("version")?).unwrap_or(0),
    })
}

type ParticipantRow = (String, bool, Option<i64>, Option<String>, bool);

/// Writes every column and the participants of `$c` inside `$tx` (after deleting the old).
macro_rules! write_consultation {
    ($tx:ident, $c:expr) => {{
        let c: &Consultation = $c;
        sqlx::query("DELETE FROM cbm_consultation_participants WHERE consultation_id = $1")
            .bind(c.id.as_str())
            .execute(&mut *$tx)
            .await?;
        sqlx::query("DELETE FROM cbm_consultations WHERE id = $1")
            .bind(c.id.as_str())
            .execute(&mut *$tx)
            .await?;
        let sql = format!(
            "INSERT INTO cbm_consultations ({COLUMNS}, requester_agency_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
             $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(c.id.as_str())
            .bind(c.requester.to_string())
            .bind(&c.subject.text)
            .bind(&c.subject.language)
            .bind(c.description.as_ref().map(|t| t.text.clone()))
            .bind(c.description.as_ref().map(|t| t.language.clone()))
            .bind(c.state.as_str())
            .bind(c.tlp.as_str())
            .bind(c.related.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
            .bind(c.request_notification.as_str())
            .bind(c.proposed.iter().map(|t| t.as_micros().to_string()).collect::<Vec<_>>().join("\n"))
            .bind(c.schedule.map(Timestamp::as_micros))
            .bind(c.planned_duration.map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX)))
            .bind(c.venue.as_ref().map(|t| t.text.clone()))
            .bind(c.venue.as_ref().map(|t| t.language.clone()))
            .bind(c.agenda.as_ref().map(|t| t.text.clone()))
            .bind(c.agenda.as_ref().map(|t| t.language.clone()))
            .bind(c.held.map(Timestamp::as_micros))
            .bind(c.summary.as_ref().map(|t| t.text.clone()))
            .bind(c.summary.as_ref().map(|t| t.language.clone()))
            .bind(c.outcome.map(ConsultationOutcome::as_str))
            .bind(c.closed.map(Timestamp::as_micros))
            .bind(c.created.as_micros())
            .bind(c.updated.as_micros())
            .bind(i64::try_from(c.version).unwrap_or(i64::MAX))
            .bind(c.requester_agency().as_str())
            .execute(&mut *$tx)
            .await?;
        for p in &c.participants {
            sqlx::query(
                "INSERT INTO cbm_consultation_participants (consultation_id, agency_id, requester, acknowledge_us,
                    acknowledged_by, attended) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(c.id.as_str())
            .bind(p.agency.as_str())
            .bind(p.requester)
            .bind(p.acknowledged.map(Timestamp::as_micros))
            .bind(p.acknowledged_by.as_ref().map(ToString::to_string))
            .bind(p.attended)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

impl Store {
    /// Stores a new consultation with its request notification, stream events and audit
    /// record in one transaction; a repeated `request_id` stores nothing.
    pub async fn request_consultation(
        &self,
        consultation: &Consultation,
        notification: &Notification,
        request_id: &str,
        audit_record: &[u8],
    ) -> Result<WriteOutcome<()>, StoreError> {
        let actor = notification.sender.to_string();
        let method = "liaison.v1.CbmService/RequestConsultation";
        let outcome = self
            .write_consultation(
                consultation,
                Some(notification),
                None,
                &actor,
                method,
                request_id,
                audit_record,
            )
            .await?;
        // Only steps are versioned: a new consultation is always written.
        Ok(outcome.unwrap_or(WriteOutcome::Stored(())))
    }

    /// Rewrites a consultation after a step (with a reply posted to its thread, if any),
    /// with its stream events and audit record, in one transaction, if the stored one
    /// still has `consultation.version` (the version the step was decided on); it is
    /// stored with the next version. `None`, and nothing written, if another step was
    /// stored meanwhile.
    pub async fn change_consultation(
        &self,
        consultation: &Consultation,
        reply: Option<&liaison_core::cbm::Reply>,
        actor: &liaison_core::PrincipalId,
        method: &'static str,
        request_id: &str,
        audit_record: &[u8],
    ) -> Result<Option<WriteOutcome<()>>, StoreError> {
        let actor = actor.to_string();
        self.write_consultation(
            consultation,
            None,
            reply,
            &actor,
            method,
            request_id,
            audit_record,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_consultation(
        &self,
        consultation: &Consultation,
        notification: Option<&Notification>,
        reply: Option<&liaison_core::cbm::Reply>,
        actor: &str,
        method: &'static str,
        request_id: &str,
        audit_record: &[u8],
    ) -> Result<Option<WriteOutcome<()>>, StoreError> {
        fn duplicate(object: String) -> Option<WriteOutcome<()>> {
            Some(WriteOutcome::Duplicate(object))
        }
        let now = consultation.updated;
        let mut stored = consultation.clone();
        let stored = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            seen_request!(tx, actor, request_id, method, duplicate);
            if let Some(notification) = notification {
                insert_notification!(tx, pool, notification);
            } else {
                // A step: only over the version it was decided on (on PostgreSQL this
                // also locks the row until commit).
                let current = i64::try_from(consultation.version).unwrap_or(i64::MAX);
                let claimed = sqlx::query(
                    "UPDATE cbm_consultations SET version = version + 1 WHERE id = $1 AND version = $2",
                )
                .bind(consultation.id.as_str())
                .bind(current)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if claimed != 1 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                stored.version = consultation.version + 1;
            }
            write_consultation!(tx, &stored);
            if let Some(reply) = reply {
                crate::cbm::replies::insert_reply!(tx, pool, reply);
            }
            record_request!(tx, actor, request_id, method, consultation.id.as_str(), now);
            let (kind, object) = CbmEventKind::ConsultationChanged(consultation.id.clone()).storage();
            crate::outbox::write_outbox!(tx, pool, TOPIC, kind, object, now, None::<String>);
            let record = String::from_utf8_lossy(audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", consultation.id.as_str(), now, Some(record));
            tx.commit().await?;
            Some(WriteOutcome::Stored(()))
        });
        self.signals.outbox.notify_one();
        Ok(stored)
    }

    /// One consultation with its participants (requester first).
    pub async fn get_consultation(
        &self,
        id: &ObjectId,
    ) -> Result<Option<Consultation>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM cbm_consultations WHERE id = $1");
        let found = with_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_optional(pool).await?;
            row.as_ref().map(consultation_from_row).transpose()?
        });
        let Some(mut consultation) = found else {
            return Ok(None);
        };
        let rows: Vec<ParticipantRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT agency_id, requester, acknowledge_us, acknowledged_by, attended
                 FROM cbm_consultation_participants WHERE consultation_id = $1 ORDER BY requester DESC, agency_id",
            )
            .bind(id.as_str())
            .fetch_all(pool)
            .await?
        });
        for (agency, requester, acknowledged, by, attended) in rows {
            consultation.participants.push(Participant {
                agency: AgencyId::parse(&agency)
                    .map_err(|_| StoreError::corrupt("agency", &agency))?,
                requester,
                acknowledged: acknowledged.map(Timestamp::from_micros),
                acknowledged_by: by.as_deref().map(parse_principal).transpose()?,
                attended,
            });
        }
        Ok(Some(consultation))
    }

    /// The ids of the consultations `agency` takes part in, most recently changed first.
    pub async fn consultations_of(
        &self,
        agency: &AgencyId,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<ObjectId>, StoreError> {
        let ids: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT c.id FROM cbm_consultations c JOIN cbm_consultation_participants p ON p.consultation_id = c.id
                 WHERE p.agency_id = $1 ORDER BY c.update_us DESC, c.id DESC LIMIT {limit} OFFSET $2"
            )))
            .bind(agency.as_str())
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await?
        });
        ids.iter()
            .map(|id| {
                ObjectId::parse(CONSULTATION_PREFIX, id)
                    .map_err(|_| StoreError::corrupt("consultation", id))
            })
            .collect()
    }
}
