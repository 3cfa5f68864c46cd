//! MLA messages between the two sides of a request, and whether they were read.

use liaison_core::{AgencyId, ObjectId, PrincipalId, Timestamp, mla::REQUEST_ID_PREFIX};

use super::{MlaWriteOutcome, TOPIC};
use crate::{Store, StoreError, idempotency::seen_request, tx::WritePool, with_pool};

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

impl Store {
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
}
