//! CBM messages to domain values and back. Invalid input cannot get past
//! [`draft_from_proto`] and [`NewNotification::validate`].

use liaison_core::{
    Scope, Timestamp, Tlp,
    cbm::{
        AckStatus, Acknowledgement, LocalizedText, NewNotification, Notification,
        NotificationDraft, NotificationKind, Severity,
    },
    indicator::ScopeDraft,
};
use liaison_proto::{
    domain::{ProtoEnum, principal_ref},
    v1,
};
use liaison_rpc::{from_timestamp, to_timestamp};

/// A sector's stored code: its proto name without the prefix, lowercase.
fn sector_code(value: i32) -> Option<String> {
    match v1::CbmSector::try_from(value).ok()? {
        v1::CbmSector::Unspecified => None,
        sector => Some(
            sector
                .as_str_name()
                .trim_start_matches("CBM_SECTOR_")
                .to_ascii_lowercase(),
        ),
    }
}

fn sector_from_code(code: &str) -> i32 {
    v1::CbmSector::from_str_name(&format!("CBM_SECTOR_{}", code.to_ascii_uppercase()))
        .map_or(0, |sector| sector as i32)
}

pub(crate) fn text_from_proto(text: Option<v1::LocalizedText>) -> Option<LocalizedText> {
    text.map(|text| LocalizedText {
        text: text.text,
        language: text.language,
    })
}

pub(crate) fn text_to_proto(text: &LocalizedText) -> v1::LocalizedText {
    v1::LocalizedText {
        text: text.text.clone(),
        language: text.language.clone(),
    }
}

pub(crate) fn scope_draft(scope: Option<v1::Scope>) -> ScopeDraft {
    match scope.and_then(|scope| scope.target) {
        None => ScopeDraft::Missing,
        Some(v1::scope::Target::AllMembers(_)) => ScopeDraft::AllMembers,
        Some(v1::scope::Target::SharingGroupId(group)) => ScopeDraft::SharingGroup(group),
        Some(v1::scope::Target::Agencies(list)) => ScopeDraft::Agencies(list.agency_ids),
    }
}

pub(crate) fn scope_to_proto(scope: &Scope) -> v1::Scope {
    v1::Scope {
        target: Some(match scope {
            Scope::AllMembers => v1::scope::Target::AllMembers(v1::AllMembers {}),
            Scope::SharingGroup(group) => v1::scope::Target::SharingGroupId(group.to_string()),
            Scope::Agencies(agencies) => v1::scope::Target::Agencies(v1::AgencyList {
                agency_ids: agencies.iter().map(ToString::to_string).collect(),
            }),
        }),
    }
}

/// A `google.protobuf.Duration` as a period: `Some(None)` when negative or malformed.
pub(crate) fn duration_from_proto(
    duration: Option<prost_types::Duration>,
) -> Option<Option<std::time::Duration>> {
    duration.map(|duration| {
        let seconds = u64::try_from(duration.seconds).ok()?;
        let nanos = u32::try_from(duration.nanos)
            .ok()
            .filter(|n| *n < 1_000_000_000)?;
        Some(std::time::Duration::new(seconds, nanos))
    })
}

pub(crate) fn duration_to_proto(duration: std::time::Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(duration.subsec_nanos()).unwrap_or(0),
    }
}

/// A notification as the sender wrote it; server-set fields are ignored.
pub(crate) fn draft_from_proto(notification: v1::CbmNotification) -> NotificationDraft {
    NotificationDraft {
        kind: NotificationKind::from_proto(notification.kind),
        severity: Severity::from_proto(notification.severity),
        title: text_from_proto(notification.title),
        body: text_from_proto(notification.body),
        sectors: notification
            .affected_sectors
            .iter()
            .map(|sector| sector_code(*sector))
            .collect(),
        other_sectors: notification.other_sectors,
        tlp: Tlp::from_proto(notification.tlp),
        scope: scope_draft(notification.scope),
        ack_within: duration_from_proto(notification.ack_within),
        references: notification.references,
        event_time: notification.event_time.as_ref().and_then(from_timestamp),
        related_notification_id: notification.related_notification_id,
    }
}

/// An acknowledgement row; `now` (the deadline clock) decides `overdue`.
pub(crate) fn ack_to_proto(ack: &Acknowledgement, now: Timestamp) -> v1::CbmAcknowledgement {
    v1::CbmAcknowledgement {
        notification_id: ack.notification.to_string(),
        agency_id: ack.agency.to_string(),
        status: ack.status.to_proto(),
        deliver_time: ack.delivered.map(to_timestamp),
        receive_time: ack.received.map(to_timestamp),
        respond_time: ack.responded.map(to_timestamp),
        acknowledged_by: ack.acknowledged_by.as_ref().map(principal_ref),
        due_time: ack.due.map(to_timestamp),
        overdue: ack.is_overdue(now),
        escalate_time: ack.escalated.map(to_timestamp),
        comment: ack.comment.as_ref().map(text_to_proto),
    }
}

fn summary(table: &[Acknowledgement], now: Timestamp) -> v1::CbmAckSummary {
    let count = |status: AckStatus| {
        i32::try_from(table.iter().filter(|ack| ack.status == status).count()).unwrap_or(i32::MAX)
    };
    v1::CbmAckSummary {
        recipients: i32::try_from(table.len()).unwrap_or(i32::MAX),
        pending: count(AckStatus::Pending),
        received: count(AckStatus::Received),
        responded: count(AckStatus::Responded),
        overdue: i32::try_from(table.iter().filter(|ack| ack.is_overdue(now)).count())
            .unwrap_or(i32::MAX),
    }
}

/// A notification with the acknowledgement rows the caller may see; `whole_table` adds
/// the summary (sender and auditors).
pub(crate) fn notification_to_proto(
    notification: &Notification,
    rows: &[Acknowledgement],
    whole_table: bool,
    now: Timestamp,
) -> v1::CbmNotification {
    let content: &NewNotification = &notification.content;
    v1::CbmNotification {
        id: notification.id.to_string(),
        sender_agency_id: notification.sender_agency.to_string(),
        sender: Some(principal_ref(&notification.sender)),
        kind: content.kind.to_proto(),
        severity: content.severity.to_proto(),
        title: Some(text_to_proto(&content.title)),
        body: Some(text_to_proto(&content.body)),
        affected_sectors: content
            .sectors
            .iter()
            .map(|code| sector_from_code(code))
            .collect(),
        other_sectors: content.other_sectors.clone(),
        tlp: content.tlp.to_proto(),
        scope: Some(scope_to_proto(&content.scope)),
        ack_within: content.ack_within.map(duration_to_proto),
        references: content.references.clone(),
        event_time: content.event_time.map(to_timestamp),
        related_notification_id: content
            .related_notification
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        consultation_id: notification
            .consultation
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        point_of_contact_id: content
            .point_of_contact
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        acknowledgements: rows.iter().map(|ack| ack_to_proto(ack, now)).collect(),
        ack_summary: whole_table.then(|| summary(rows, now)),
        meta: Some(v1::RecordMeta {
            create_time: Some(to_timestamp(notification.created)),
            update_time: Some(to_timestamp(notification.created)),
            creator: Some(principal_ref(&notification.sender)),
        }),
    }
}
