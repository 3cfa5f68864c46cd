//! Notifications: sent to every member of their scope, each recipient's acknowledgement
//! row, deliveries and acknowledgements, and the two mailboxes.

use liaison_core::{
    AgencyId, ObjectId, PrincipalId, Timestamp,
    cbm::{AckStatus, Acknowledgement, LocalizedText, Notification},
};

use super::{
    ACK_COLUMNS, CbmEventKind, NOTIFICATION_COLUMNS, TOPIC, ack_from_row, insert_notification,
    notification_from_row,
};
use crate::{
    Store, StoreError,
    idempotency::{WriteOutcome, record_request, seen_request},
    tx::WritePool,
    with_pool,
};

const METHOD_NOTIFY: &str = "liaison.v1.CbmService/Notify";

const METHOD_ACKNOWLEDGE: &str = "liaison.v1.CbmService/AcknowledgeNotification";

/// A change of one recipient's acknowledgement, decided by the caller.
#[derive(Debug, Clone)]
pub struct AckChange<'a> {
    /// The notification.
    pub notification: &'a ObjectId,
    /// The recipient agency.
    pub agency: &'a AgencyId,
    /// The new status.
    pub status: AckStatus,
    /// Who acknowledges.
    pub by: &'a PrincipalId,
    /// An optional comment.
    pub comment: Option<LocalizedText>,
    /// Now, by the deadline clock.
    pub now: Timestamp,
    /// The client's idempotency key.
    pub request_id: &'a str,
    /// The audit record, committed with the change.
    pub audit_record: Vec<u8>,
}

/// Which rows of a mailbox to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct MailboxQuery {
    /// Unacknowledged first (inbox).
    pub unacknowledged_first: bool,
    /// Only unacknowledged.
    pub unacknowledged_only: bool,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return.
    pub limit: u32,
}

impl Store {
    /// Stores a notification with one acknowledgement row per recipient agency (the
    /// scope's members now, never the sender nor the hub), its stream event and audit
    /// record, in one transaction. A repeated `request_id` stores nothing.
    pub async fn send_notification(
        &self,
        notification: &Notification,
        request_id: &str,
        audit_record: &[u8],
    ) -> Result<WriteOutcome<Vec<AgencyId>>, StoreError> {
        let attempt = self.try_send_notification(notification, request_id, audit_record);
        match attempt.await {
            Err(error) if error.is_unique_violation() => {
                self.try_send_notification(notification, request_id, audit_record)
                    .await
            }
            other => other,
        }
    }

    async fn try_send_notification(
        &self,
        notification: &Notification,
        request_id: &str,
        audit_record: &[u8],
    ) -> Result<WriteOutcome<Vec<AgencyId>>, StoreError> {
        let principal = notification.sender.to_string();
        let now = notification.created;
        let recipients = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            seen_request!(tx, &principal, request_id, METHOD_NOTIFY);
            let recipients = insert_notification!(tx, pool, notification);
            record_request!(tx, &principal, request_id, METHOD_NOTIFY, notification.id.as_str(), now);
            let record = String::from_utf8_lossy(audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", notification.id.as_str(), now, Some(record));
            tx.commit().await?;
            recipients
        });
        self.signals.outbox.notify_one();
        recipients
            .iter()
            .map(|id| AgencyId::parse(id).map_err(|_| StoreError::corrupt("agency", id)))
            .collect::<Result<Vec<_>, _>>()
            .map(WriteOutcome::Stored)
    }

    /// One notification.
    pub async fn get_notification(
        &self,
        id: &ObjectId,
    ) -> Result<Option<Notification>, StoreError> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM cbm_notifications n WHERE n.id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_optional(pool).await?;
            row.as_ref().map(notification_from_row).transpose()
        })
    }

    /// A notification's whole acknowledgement table, by agency id.
    pub async fn acknowledgements(
        &self,
        id: &ObjectId,
    ) -> Result<Vec<Acknowledgement>, StoreError> {
        let sql = format!(
            "SELECT {ACK_COLUMNS} FROM cbm_acknowledgements a WHERE a.notification_id = $1 ORDER BY a.agency_id"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_all(pool).await?;
            rows.iter().map(ack_from_row).collect()
        })
    }

    /// One recipient's row; `None` when the agency is not a recipient.
    pub async fn acknowledgement(
        &self,
        id: &ObjectId,
        agency: &AgencyId,
    ) -> Result<Option<Acknowledgement>, StoreError> {
        let sql = format!(
            "SELECT {ACK_COLUMNS} FROM cbm_acknowledgements a WHERE a.notification_id = $1 AND a.agency_id = $2"
        );
        with_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.as_str())
                .bind(agency.as_str())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(ack_from_row).transpose()
        })
    }

    /// Notes the first time a recipient read each of `notifications` (its first read, or
    /// the first delivery on a stream), with the audit record of that read or delivery,
    /// in one transaction.
    pub async fn mark_delivered(
        &self,
        notifications: &[ObjectId],
        agency: &AgencyId,
        now: Timestamp,
        audit_record: Vec<u8>,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            for id in notifications {
                sqlx::query(
                    "UPDATE cbm_acknowledgements SET deliver_us = $3
                     WHERE notification_id = $1 AND agency_id = $2 AND deliver_us IS NULL",
                )
                .bind(id.as_str())
                .bind(agency.as_str())
                .bind(now.as_micros())
                .execute(&mut *tx)
                .await?;
            }
            let audit = String::from_utf8_lossy(&audit_record).into_owned();
            let object = notifications.first().map(ObjectId::as_str).unwrap_or_default();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", object, now, Some(audit));
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(())
    }

    /// Changes one recipient's acknowledgement with its stream event and audit record, in
    /// one transaction. A repeated `request_id` changes nothing.
    pub async fn acknowledge_notification(
        &self,
        change: AckChange<'_>,
    ) -> Result<WriteOutcome<()>, StoreError> {
        let principal = change.by.to_string();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            seen_request!(tx, &principal, change.request_id, METHOD_ACKNOWLEDGE);
            let now = change.now.as_micros();
            let (receive, respond) = match change.status {
                AckStatus::Responded => (Some(now), Some(now)),
                _ => (Some(now), None),
            };
            sqlx::query(
                "UPDATE cbm_acknowledgements SET status = $3,
                    receive_us = COALESCE(receive_us, $4), respond_us = COALESCE(respond_us, $5),
                    acknowledged_by = $6, comment = COALESCE($7, comment),
                    comment_language = COALESCE($8, comment_language), update_us = $9
                 WHERE notification_id = $1 AND agency_id = $2",
            )
            .bind(change.notification.as_str())
            .bind(change.agency.as_str())
            .bind(change.status.as_str())
            .bind(receive)
            .bind(respond)
            .bind(&principal)
            .bind(change.comment.as_ref().map(|comment| comment.text.clone()))
            .bind(change.comment.as_ref().map(|comment| comment.language.clone()))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            record_request!(tx, &principal, change.request_id, METHOD_ACKNOWLEDGE, change.notification.as_str(), change.now);
            let (kind, object) = CbmEventKind::AcknowledgementChanged(change.notification.clone(), change.agency.clone()).storage();
            crate::outbox::write_outbox!(tx, pool, TOPIC, kind, object, change.now, None::<String>);
            let record = String::from_utf8_lossy(&change.audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", change.notification.as_str(), change.now, Some(record));
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(WriteOutcome::Stored(()))
    }

    /// An agency's received notifications with its own rows: newest first, or
    /// unacknowledged first and then newest first.
    pub async fn inbox(
        &self,
        agency: &AgencyId,
        query: MailboxQuery,
    ) -> Result<Vec<(Notification, Acknowledgement)>, StoreError> {
        let only = if query.unacknowledged_only {
            "AND a.status = 'pending'"
        } else {
            ""
        };
        let order = if query.unacknowledged_first {
            "CASE WHEN a.status = 'pending' THEN 0 ELSE 1 END, n.id DESC"
        } else {
            "n.id DESC"
        };
        let limit = query.limit;
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS}, {ACK_COLUMNS} FROM cbm_acknowledgements a
             JOIN cbm_notifications n ON n.id = a.notification_id
             WHERE a.agency_id = $1 {only} ORDER BY {order} LIMIT {limit} OFFSET $2"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(agency.as_str())
                .bind(i64::try_from(query.offset).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| Ok((notification_from_row(row)?, ack_from_row(row)?)))
                .collect()
        })
    }

    /// An agency's sent notifications, newest first.
    pub async fn outbox(
        &self,
        agency: &AgencyId,
        query: MailboxQuery,
    ) -> Result<Vec<Notification>, StoreError> {
        let only = if query.unacknowledged_only {
            "AND EXISTS (SELECT 1 FROM cbm_acknowledgements a WHERE a.notification_id = n.id AND a.status = 'pending')"
        } else {
            ""
        };
        let limit = query.limit;
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM cbm_notifications n
             WHERE n.sender_agency_id = $1 {only} ORDER BY n.id DESC LIMIT {limit} OFFSET $2"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(agency.as_str())
                .bind(i64::try_from(query.offset).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?;
            rows.iter().map(notification_from_row).collect()
        })
    }
}
