//! Notifications, their acknowledgement tables and replies.

use std::time::Duration;

use super::*;
use crate::indicator::{ScopeDraft, is_language_tag};
use crate::{AgencyId, ObjectId, PrincipalId, Scope, Timestamp, Tlp, Violations};

/// A notification as a client sent it, before validation.
#[derive(Debug, Clone, Default)]
pub struct NotificationDraft {
    /// `None` when unspecified or unknown.
    pub kind: Option<NotificationKind>,
    /// `None` when unspecified or unknown.
    pub severity: Option<Severity>,
    /// Title.
    pub title: Option<LocalizedText>,
    /// Body.
    pub body: Option<LocalizedText>,
    /// Sector codes; `None` for an unknown or unspecified sector.
    pub sectors: Vec<Option<String>>,
    /// Sectors in text.
    pub other_sectors: Vec<String>,
    /// `None` when unspecified.
    pub tlp: Option<Tlp>,
    /// Recipients.
    pub scope: ScopeDraft,
    /// Acknowledgement period; `Some(Err)` for a negative or malformed one.
    pub ack_within: Option<Option<Duration>>,
    /// References.
    pub references: Vec<String>,
    /// Event time.
    pub event_time: Option<Timestamp>,
    /// An earlier notification, as sent.
    pub related_notification_id: String,
}

/// A validated notification, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// Kind.
    pub kind: NotificationKind,
    /// Severity.
    pub severity: Severity,
    /// Title.
    pub title: LocalizedText,
    /// Body.
    pub body: LocalizedText,
    /// Sector codes.
    pub sectors: Vec<String>,
    /// Sectors in text.
    pub other_sectors: Vec<String>,
    /// Handling.
    pub tlp: Tlp,
    /// Recipients.
    pub scope: Scope,
    /// Acknowledgement period; `None` when none is required.
    pub ack_within: Option<Duration>,
    /// References.
    pub references: Vec<String>,
    /// Event time.
    pub event_time: Option<Timestamp>,
    /// An earlier notification this one follows.
    pub related_notification: Option<ObjectId>,
    /// For POC updates: the contact concerned.
    pub point_of_contact: Option<ObjectId>,
}

fn check_text(
    text: Option<&LocalizedText>,
    field: &str,
    max: usize,
    violations: &mut Violations,
) -> LocalizedText {
    let Some(text) = text else {
        violations.add(field, "required: a text with its language tag");
        return LocalizedText::default();
    };
    let chars = text.text.trim().chars().count();
    if chars == 0 || chars > max {
        violations.add(
            format!("{field}.text"),
            format!("required, at most {max} characters"),
        );
    }
    if !is_language_tag(&text.language) {
        violations.add(
            format!("{field}.language"),
            "language must be a BCP 47 tag such as uk, sr-Cyrl, vi or lv",
        );
    }
    LocalizedText {
        text: text.text.trim().to_owned(),
        language: text.language.clone(),
    }
}

fn check_list(items: &[String], field: &str, violations: &mut Violations) {
    if items.len() > limits::LIST_ITEMS {
        violations.add(field, format!("at most {} items", limits::LIST_ITEMS));
    }
    for (index, item) in items.iter().enumerate() {
        let chars = item.trim().chars().count();
        if chars == 0 || chars > limits::ITEM_CHARS {
            violations.add(
                format!("{field}[{index}]"),
                format!("1 to {} characters", limits::ITEM_CHARS),
            );
        }
    }
}

impl NewNotification {
    /// Checks every field of `draft`; field paths are prefixed with `prefix`.
    pub fn validate(draft: NotificationDraft, prefix: &str) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let field = |name: &str| format!("{prefix}.{name}");
        match draft.kind {
            None => violations.add(field("kind"), "kind is required"),
            Some(NotificationKind::PocUpdate) => violations.add(
                field("kind"),
                "POC updates are sent by the hub when a point of contact changes",
            ),
            Some(NotificationKind::ConsultationRequest) => violations.add(
                field("kind"),
                "consultation requests are sent by RequestConsultation",
            ),
            Some(_) => {}
        }
        if draft.severity.is_none() {
            violations.add(field("severity"), "severity is required");
        }
        let title = check_text(
            draft.title.as_ref(),
            &field("title"),
            limits::TITLE_CHARS,
            &mut violations,
        );
        let body = check_text(
            draft.body.as_ref(),
            &field("body"),
            limits::BODY_CHARS,
            &mut violations,
        );
        if draft.sectors.len() > limits::LIST_ITEMS {
            violations.add(
                field("affected_sectors"),
                format!("at most {} items", limits::LIST_ITEMS),
            );
        }
        let mut sectors = Vec::new();
        for (index, sector) in draft.sectors.iter().enumerate() {
            match sector {
                Some(code) => sectors.push(code.clone()),
                None => violations.add(
                    field(&format!("affected_sectors[{index}]")),
                    "unknown or unspecified sector",
                ),
            }
        }
        sectors.sort();
        sectors.dedup();
        check_list(
            &draft.other_sectors,
            &field("other_sectors"),
            &mut violations,
        );
        check_list(&draft.references, &field("references"), &mut violations);
        if draft.tlp.is_none() {
            violations.add(
                field("tlp"),
                "tlp is required: clear, green, amber, amber+strict or red",
            );
        }
        let scope = crate::indicator::validate_scope(draft.scope, &field("scope"), &mut violations);
        if let (Some(Tlp::Red), Some(scope)) = (draft.tlp, &scope)
            && !matches!(scope, Scope::Agencies(_))
        {
            violations.add(
                field("scope"),
                "TLP:RED notifications must be scoped to named agencies",
            );
        }
        let ack_within = match draft.ack_within {
            None => None,
            Some(None) => {
                violations.add(field("ack_within"), "ack_within must be positive");
                None
            }
            Some(Some(period)) => {
                if period.is_zero() || period > limits::ACK_WITHIN_MAX {
                    violations.add(
                        field("ack_within"),
                        "ack_within must be positive and at most 90 days",
                    );
                }
                Some(period)
            }
        };
        let related_notification = if draft.related_notification_id.is_empty() {
            None
        } else {
            violations.check(
                field("related_notification_id"),
                ObjectId::parse(NOTIFICATION_PREFIX, &draft.related_notification_id),
            )
        };
        violations.into_result(|| NewNotification {
            kind: draft.kind.unwrap_or(NotificationKind::Incident),
            severity: draft.severity.unwrap_or(Severity::Info),
            title,
            body,
            sectors,
            other_sectors: draft.other_sectors,
            tlp: draft.tlp.unwrap_or(Tlp::Red),
            scope: scope.unwrap_or(Scope::AllMembers),
            ack_within,
            references: draft.references,
            event_time: draft.event_time,
            related_notification,
            point_of_contact: None,
        })
    }
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Id (`cbm_…`).
    pub id: ObjectId,
    /// The sending agency.
    pub sender_agency: AgencyId,
    /// The sending principal.
    pub sender: PrincipalId,
    /// What was sent.
    pub content: NewNotification,
    /// When it was sent (by the hub's deadline clock).
    pub created: Timestamp,
    /// For a consultation request: the consultation it announces (read from the store).
    pub consultation: Option<ObjectId>,
}

impl Notification {
    /// By when recipients must acknowledge receipt, if they must.
    pub fn due(&self) -> Option<Timestamp> {
        self.content.ack_within.map(|period| {
            let micros = i64::try_from(period.as_micros()).unwrap_or(i64::MAX);
            Timestamp::from_micros(self.created.as_micros().saturating_add(micros))
        })
    }
}

/// One recipient agency's row of a notification's acknowledgement table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// The notification.
    pub notification: ObjectId,
    /// The recipient agency.
    pub agency: AgencyId,
    /// How far it has acknowledged.
    pub status: AckStatus,
    /// When it was first read by the agency.
    pub delivered: Option<Timestamp>,
    /// When receipt was acknowledged.
    pub received: Option<Timestamp>,
    /// When it was marked responded.
    pub responded: Option<Timestamp>,
    /// Who acknowledged last.
    pub acknowledged_by: Option<PrincipalId>,
    /// By when receipt must be acknowledged.
    pub due: Option<Timestamp>,
    /// When the overdue acknowledgement was escalated.
    pub escalated: Option<Timestamp>,
    /// The acknowledger's comment.
    pub comment: Option<LocalizedText>,
}

impl Acknowledgement {
    /// True when receipt was not acknowledged by the due time, as of `now`.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        match self.due {
            None => false,
            Some(due) => match self.received {
                Some(received) => received > due,
                None => now >= due,
            },
        }
    }
}

/// Why an acknowledgement was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// PENDING is not an acknowledgement.
    #[error("status must be received or responded")]
    NotAnAcknowledgement,
    /// An acknowledgement never goes back.
    #[error("an acknowledgement never goes back: it is already responded")]
    Backwards,
}

/// The status after acknowledging `requested` from `current`; `Ok(None)` when nothing
/// changes (the same acknowledgement repeated).
pub fn next_ack_status(
    current: AckStatus,
    requested: AckStatus,
) -> Result<Option<AckStatus>, AckError> {
    if requested == AckStatus::Pending {
        return Err(AckError::NotAnAcknowledgement);
    }
    match current.cmp(&requested) {
        std::cmp::Ordering::Less => Ok(Some(requested)),
        std::cmp::Ordering::Equal => Ok(None),
        std::cmp::Ordering::Greater => Err(AckError::Backwards),
    }
}

code_enum!(
    /// Who may read a reply.
    ReplyAudience {
        /// The notification's sender (and the replying agency).
        Sender = "sender",
        /// The notification's sender and every recipient.
        AllRecipients = "all_recipients",
        /// Every participant of a consultation: the only audience there.
        Participants = "participants",
    }
);

/// A reply on a notification or in a consultation's thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Id (`rpl_…`; `msg_…` for replies made before that prefix).
    pub id: ObjectId,
    /// The notification (`cbm_…`) or consultation (`cns_…`).
    pub parent: ObjectId,
    /// The replying agency.
    pub sender_agency: AgencyId,
    /// The replying principal.
    pub sender: PrincipalId,
    /// The text.
    pub body: LocalizedText,
    /// Who may read it.
    pub audience: ReplyAudience,
    /// The reply it answers.
    pub in_reply_to: Option<ObjectId>,
    /// Its marking: never less restrictive than its parent's.
    pub tlp: Tlp,
    /// When it was posted (deadline clock).
    pub created: Timestamp,
}
