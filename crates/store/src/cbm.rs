//! The CBM tables: notifications and their acknowledgement tables (each write in one
//! transaction with its idempotency key, stream event and audit record), escalation of
//! overdue acknowledgements, and the CBM event stream (topic `cbm`).

use liaison_core::{
    AgencyId, ObjectId, PrincipalId, Scope, Timestamp, Tlp,
    cbm::{
        AckStatus, Acknowledgement, LocalizedText, NOTIFICATION_PREFIX, NewNotification,
        Notification, NotificationKind, Severity,
    },
};
use sqlx::Row;

use crate::{
    Store, StoreError,
    idempotency::{WriteOutcome, record_request, seen_request},
    tx::WritePool,
    with_pool,
};

/// Topic of CBM events in `outbox` and `events`.
pub(crate) const TOPIC: &str = "cbm";
const METHOD_NOTIFY: &str = "liaison.v1.CbmService/Notify";
const METHOD_ACKNOWLEDGE: &str = "liaison.v1.CbmService/AcknowledgeNotification";

/// What a CBM stream event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CbmEventKind {
    /// A notification was sent.
    NotificationSent(ObjectId),
    /// A recipient's acknowledgement changed.
    AcknowledgementChanged(ObjectId, AgencyId),
    /// An overdue acknowledgement was escalated.
    Escalated(ObjectId, AgencyId),
    /// A communication check started.
    CheckStarted(ObjectId),
    /// A communication check's window closed.
    CheckClosed(ObjectId),
    /// A reply was posted.
    ReplyPosted(ObjectId),
    /// A consultation was requested or changed.
    ConsultationChanged(ObjectId),
    /// Something not known to this build (written by a newer version): skipped.
    Other,
}

impl CbmEventKind {
    pub(crate) fn storage(&self) -> (&'static str, String) {
        match self {
            CbmEventKind::NotificationSent(id) => ("notification", id.to_string()),
            CbmEventKind::AcknowledgementChanged(id, agency) => {
                ("acknowledgement", format!("{id}:{agency}"))
            }
            CbmEventKind::Escalated(id, agency) => ("escalation", format!("{id}:{agency}")),
            CbmEventKind::CheckStarted(id) => ("check_started", id.to_string()),
            CbmEventKind::CheckClosed(id) => ("check_closed", id.to_string()),
            CbmEventKind::ReplyPosted(id) => ("reply", id.to_string()),
            CbmEventKind::ConsultationChanged(id) => ("consultation", id.to_string()),
            CbmEventKind::Other => ("other", String::new()),
        }
    }

    fn from_storage(kind: &str, object: &str) -> Self {
        let pair = || {
            let (id, agency) = object.split_once(':')?;
            Some((
                ObjectId::parse(NOTIFICATION_PREFIX, id).ok()?,
                AgencyId::parse(agency).ok()?,
            ))
        };
        match kind {
            "notification" => ObjectId::parse(NOTIFICATION_PREFIX, object)
                .map_or(CbmEventKind::Other, CbmEventKind::NotificationSent),
            "acknowledgement" => pair().map_or(CbmEventKind::Other, |(id, agency)| {
                CbmEventKind::AcknowledgementChanged(id, agency)
            }),
            "escalation" => pair().map_or(CbmEventKind::Other, |(id, agency)| {
                CbmEventKind::Escalated(id, agency)
            }),
            "check_started" => ObjectId::parse(liaison_core::cbm::CHECK_PREFIX, object)
                .map_or(CbmEventKind::Other, CbmEventKind::CheckStarted),
            "check_closed" => ObjectId::parse(liaison_core::cbm::CHECK_PREFIX, object)
                .map_or(CbmEventKind::Other, CbmEventKind::CheckClosed),
            "reply" => ObjectId::parse(liaison_core::cbm::REPLY_PREFIX, object)
                .map_or(CbmEventKind::Other, CbmEventKind::ReplyPosted),
            "consultation" => ObjectId::parse(liaison_core::cbm::CONSULTATION_PREFIX, object)
                .map_or(CbmEventKind::Other, CbmEventKind::ConsultationChanged),
            _ => CbmEventKind::Other,
        }
    }
}

/// A sequenced event of the CBM stream. The object is read as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CbmEvent {
    /// Stream position.
    pub position: u64,
    /// When it happened.
    pub time: Timestamp,
    /// What happened.
    pub kind: CbmEventKind,
}

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

const NOTIFICATION_COLUMNS: &str = "n.id, n.sender_agency_id, n.sender, n.kind, n.severity, n.title, n.title_language, \
     n.body, n.body_language, n.sectors, n.other_sectors, n.reference_list, n.tlp, n.scope_kind, n.scope_value, \
     n.ack_within_us, n.event_us, n.related_notification_id, n.point_of_contact_id, n.created_us, \
     (SELECT c.id FROM cbm_consultations c WHERE c.request_notification_id = n.id) AS consultation_id";
const ACK_COLUMNS: &str = "a.notification_id, a.agency_id, a.status, a.due_us, a.deliver_us, a.receive_us, \
     a.respond_us, a.acknowledged_by, a.comment, a.comment_language, a.escalate_us";

pub(crate) fn join_lines(items: &[String]) -> String {
    items.join("\n")
}

fn split_lines(text: &str) -> Vec<String> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').map(str::to_owned).collect()
    }
}

/// Principals are stored as `AGENCY/kind/name`.
pub(crate) fn parse_principal(text: &str) -> Result<PrincipalId, StoreError> {
    let mut parts = text.splitn(3, '/');
    let (Some(agency), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(StoreError::corrupt("principal", text));
    };
    Ok(PrincipalId::new(
        AgencyId::parse(agency).map_err(|_| StoreError::corrupt("principal", text))?,
        kind.parse()
            .map_err(|_| StoreError::corrupt("principal", text))?,
        liaison_core::PrincipalName::parse(name)
            .map_err(|_| StoreError::corrupt("principal", text))?,
    ))
}

fn micros(value: Option<i64>) -> Option<Timestamp> {
    value.map(Timestamp::from_micros)
}

macro_rules! row_decoder {
    ($name:ident -> $out:ty, |$row:ident| $body:block) => {
        fn $name<R>($row: &R) -> Result<$out, StoreError>
        where
            R: Row,
            for<'a> &'a str: sqlx::ColumnIndex<R>,
            String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        {
            $body
        }
    };
}

row_decoder!(notification_from_row -> Notification, |row| {
    let id: String = row.try_get("id")?;
    let sender_agency: String = row.try_get("sender_agency_id")?;
    let sender: String = row.try_get("sender")?;
    let kind: String = row.try_get("kind")?;
    let severity: String = row.try_get("severity")?;
    let tlp: String = row.try_get("tlp")?;
    let scope_kind: String = row.try_get("scope_kind")?;
    let scope_value: String = row.try_get("scope_value")?;
    let ack_within: Option<i64> = row.try_get("ack_within_us")?;
    let related: Option<String> = row.try_get("related_notification_id")?;
    let poc: Option<String> = row.try_get("point_of_contact_id")?;
    Ok(Notification {
        id: ObjectId::parse(NOTIFICATION_PREFIX, &id).map_err(|_| StoreError::corrupt("notification id", &id))?,
        sender_agency: AgencyId::parse(&sender_agency).map_err(|_| StoreError::corrupt("agency", &sender_agency))?,
        sender: parse_principal(&sender)?,
        content: NewNotification {
            kind: NotificationKind::parse(&kind).ok_or_else(|| StoreError::corrupt("kind", &kind))?,
            severity: Severity::parse(&severity).ok_or_else(|| StoreError::corrupt("severity", &severity))?,
            title: LocalizedText {
                text: row.try_get("title")?,
                language: row.try_get("title_language")?,
            },
            body: LocalizedText {
                text: row.try_get("body")?,
                language: row.try_get("body_language")?,
            },
            sectors: split_lines(&row.try_get::<String, _>("sectors")?),
            other_sectors: split_lines(&row.try_get::<String, _>("other_sectors")?),
            tlp: tlp.parse::<Tlp>().map_err(|_| StoreError::corrupt("tlp", &tlp))?,
            scope: Scope::from_storage(&scope_kind, &scope_value)
                .map_err(|_| StoreError::corrupt("scope", &scope_value))?,
            ack_within: ack_within
                .map(|us| std::time::Duration::from_micros(u64::try_from(us).unwrap_or(0))),
            references: split_lines(&row.try_get::<String, _>("reference_list")?),
            event_time: micros(row.try_get("event_us")?),
            related_notification: related
                .map(|id| ObjectId::parse(NOTIFICATION_PREFIX, &id).map_err(|_| StoreError::corrupt("notification id", &id)))
                .transpose()?,
            point_of_contact: poc
                .map(|id| ObjectId::parse(liaison_core::cbm::POC_PREFIX, &id).map_err(|_| StoreError::corrupt("poc id", &id)))
                .transpose()?,
        },
        created: Timestamp::from_micros(row.try_get("created_us")?),
        consultation: row
            .try_get::<Option<String>, _>("consultation_id")?
            .map(|id| {
                ObjectId::parse(liaison_core::cbm::CONSULTATION_PREFIX, &id)
                    .map_err(|_| StoreError::corrupt("consultation id", &id))
            })
            .transpose()?,
    })
});

row_decoder!(ack_from_row -> Acknowledgement, |row| {
    let id: String = row.try_get("notification_id")?;
    let agency: String = row.try_get("agency_id")?;
    let status: String = row.try_get("status")?;
    let by: Option<String> = row.try_get("acknowledged_by")?;
    let comment: Option<String> = row.try_get("comment")?;
    let comment_language: Option<String> = row.try_get("comment_language")?;
    Ok(Acknowledgement {
        notification: ObjectId::parse(NOTIFICATION_PREFIX, &id).map_err(|_| StoreError::corrupt("notification id", &id))?,
        agency: AgencyId::parse(&agency).map_err(|_| StoreError::corrupt("agency", &agency))?,
        status: AckStatus::parse(&status).ok_or_else(|| StoreError::corrupt("ack status", &status))?,
        delivered: micros(row.try_get("deliver_us")?),
        received: micros(row.try_get("receive_us")?),
        responded: micros(row.try_get("respond_us")?),
        acknowledged_by: by.as_deref().map(parse_principal).transpose()?,
        due: micros(row.try_get("due_us")?),
        escalated: micros(row.try_get("escalate_us")?),
        comment: comment.map(|text| LocalizedText {
            text,
            language: comment_language.unwrap_or_default(),
        }),
    })
});

/// Inserts a notification, one acknowledgement row per recipient (the scope's member
/// agencies now, never the sender nor the hub) and its stream event, inside transaction
/// `$tx`; evaluates to the recipients.
macro_rules! insert_notification {
    ($tx:ident, $pool:ident, $notification:expr) => {{
        let (scope_kind, scope_value) = $notification.content.scope.to_storage();
            let candidates: Vec<String> = match &$notification.content.scope {
                liaison_core::Scope::AllMembers => sqlx::query_scalar(
                    "SELECT id FROM agencies WHERE kind <> 'hub' ORDER BY id",
                )
                .fetch_all(&mut *$tx)
                .await?,
                liaison_core::Scope::SharingGroup(group) => sqlx::query_scalar(
                    "SELECT m.agency_id FROM sharing_group_members m JOIN agencies a ON a.id = m.agency_id
                     WHERE m.group_id = $1 AND a.kind <> 'hub' ORDER BY m.agency_id",
                )
                .bind(group.as_str())
                .fetch_all(&mut *$tx)
                .await?,
                liaison_core::Scope::Agencies(agencies) => agencies.iter().map(|agency| agency.to_string()).collect(),
            };
            let recipients: Vec<String> = candidates
                .into_iter()
                .filter(|agency| agency != $notification.sender_agency.as_str())
                .collect();
            sqlx::query(
                "INSERT INTO cbm_notifications (id, sender_agency_id, sender, kind, severity, title, title_language,
                    body, body_language, sectors, other_sectors, reference_list, tlp, scope_kind, scope_value,
                    ack_within_us, event_us, related_notification_id, point_of_contact_id, created_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
            )
            .bind($notification.id.as_str())
            .bind($notification.sender_agency.as_str())
            .bind(&$notification.sender.to_string())
            .bind($notification.content.kind.as_str())
            .bind($notification.content.severity.as_str())
            .bind(&$notification.content.title.text)
            .bind(&$notification.content.title.language)
            .bind(&$notification.content.body.text)
            .bind(&$notification.content.body.language)
            .bind($crate::cbm::join_lines(&$notification.content.sectors))
            .bind($crate::cbm::join_lines(&$notification.content.other_sectors))
            .bind($crate::cbm::join_lines(&$notification.content.references))
            .bind($notification.content.tlp.as_str())
            .bind(scope_kind)
            .bind(&scope_value)
            .bind($notification.content.ack_within.map(|period| i64::try_from(period.as_micros()).unwrap_or(i64::MAX)))
            .bind($notification.content.event_time.map(liaison_core::Timestamp::as_micros))
            .bind($notification.content.related_notification.as_ref().map(liaison_core::ObjectId::as_str))
            .bind($notification.content.point_of_contact.as_ref().map(liaison_core::ObjectId::as_str))
            .bind($notification.created.as_micros())
            .execute(&mut *$tx)
            .await?;
            let due = $notification.due().map(liaison_core::Timestamp::as_micros);
            for agency in &recipients {
                sqlx::query(
                    "INSERT INTO cbm_acknowledgements (notification_id, agency_id, status, due_us, update_us)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind($notification.id.as_str())
                .bind(agency)
                .bind(liaison_core::cbm::AckStatus::Pending.as_str())
                .bind(due)
                .bind($notification.created.as_micros())
                .execute(&mut *$tx)
                .await?;
            }
        let (kind, object) = $crate::cbm::CbmEventKind::NotificationSent($notification.id.clone()).storage();
        crate::outbox::write_outbox!($tx, $pool, $crate::cbm::TOPIC, kind, object, $notification.created, None::<String>);
        recipients
    }};
}
pub(crate) use insert_notification;

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

    /// The method and object of an earlier write by `principal` with `request_id`, if
    /// any (of any service): a retry answers with the object as it is now instead of
    /// repeating the step.
    pub async fn earlier_request(
        &self,
        principal: &PrincipalId,
        request_id: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT method, object_id FROM idempotency_keys WHERE principal = $1 AND request_id = $2",
            )
            .bind(principal.to_string())
            .bind(request_id)
            .fetch_optional(pool)
            .await?
        }))
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

    /// The CBM events after position `after`, oldest first, at most `limit`.
    pub async fn cbm_events_after(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<CbmEvent>, StoreError> {
        let rows = self.events_after(TOPIC, after, limit).await?;
        rows.into_iter()
            .map(|(position, kind, object, created)| {
                Ok(CbmEvent {
                    position: u64::try_from(position)
                        .map_err(|_| StoreError::corrupt("position", &position.to_string()))?,
                    time: Timestamp::from_micros(created),
                    kind: CbmEventKind::from_storage(&kind, &object),
                })
            })
            .collect()
    }
}

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
