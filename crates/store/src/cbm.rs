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

use crate::{Store, StoreError, with_pool};

pub(crate) mod checks;
pub(crate) mod consultations;
pub(crate) mod contacts;
pub(crate) mod escalation;
pub(crate) mod notifications;
pub(crate) mod replies;

/// Topic of CBM events in `outbox` and `events`.
pub(crate) const TOPIC: &str = "cbm";

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

pub(crate) const NOTIFICATION_COLUMNS: &str = "n.id, n.sender_agency_id, n.sender, n.kind, n.severity, n.title, n.title_language, \
     n.body, n.body_language, n.sectors, n.other_sectors, n.reference_list, n.tlp, n.scope_kind, n.scope_value, \
     n.ack_within_us, n.event_us, n.related_notification_id, n.point_of_contact_id, n.created_us, \
     (SELECT c.id FROM cbm_consultations c WHERE c.request_notification_id = n.id) AS consultation_id";
pub(crate) const ACK_COLUMNS: &str = "a.notification_id, a.agency_id, a.status, a.due_us, a.deliver_us, a.receive_us, \
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
        pub(crate) fn $name<R>($row: &R) -> Result<$out, StoreError>
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
