//! Confidence-building measures (OSCE PC Decisions 1106 and 1202): notifications with
//! acknowledgements, and the rules that need no I/O — validation of a new notification,
//! the order of acknowledgement states, when an acknowledgement is overdue.

use std::time::Duration;

use crate::{
    AgencyId, ObjectId, PrincipalId, Scope, Timestamp, Tlp, Violations,
    indicator::{ScopeDraft, is_language_tag},
};

/// Prefix of notification ids.
pub const NOTIFICATION_PREFIX: &str = "cbm";
/// Prefix of point-of-contact ids.
pub const POC_PREFIX: &str = "poc";
/// Prefix of communication-check ids.
pub const CHECK_PREFIX: &str = "chk";
/// Prefix of reply ids.
pub const REPLY_PREFIX: &str = "msg";
/// Prefix of consultation ids.
pub const CONSULTATION_PREFIX: &str = "cns";

/// Limits on notification content.
pub mod limits {
    /// Longest title, in characters.
    pub const TITLE_CHARS: usize = 300;
    /// Longest body, in characters.
    pub const BODY_CHARS: usize = 20_000;
    /// Most sectors, references or other sectors.
    pub const LIST_ITEMS: usize = 50;
    /// Longest reference or other sector, in characters.
    pub const ITEM_CHARS: usize = 500;
    /// Longest acknowledgement period: 90 days.
    pub const ACK_WITHIN_MAX: std::time::Duration = std::time::Duration::from_secs(90 * 86_400);
}

macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),*
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The stored code.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code),*
                }
            }

            /// Parses a stored code.
            pub fn parse(code: &str) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

code_enum!(
    /// What a notification is, each tied to the CBM it serves.
    NotificationKind {
        /// A national view of threats (CBM 1).
        NationalThreatView = "national_threat_view",
        /// An ICT incident.
        Incident = "incident",
        /// A consultation request (CBM 3).
        ConsultationRequest = "consultation_request",
        /// A policy, strategy or doctrine update (CBM 7).
        PolicyUpdate = "policy_update",
        /// A point-of-contact change (CBM 8); sent by the hub only.
        PocUpdate = "poc_update",
        /// A vulnerability disclosure and remedy (CBM 16).
        VulnerabilityDisclosure = "vulnerability_disclosure",
        /// An exercise announcement.
        ExerciseAnnouncement = "exercise_announcement",
    }
);

code_enum!(
    /// How serious the notified matter is; ordered from least to most.
    Severity {
        /// For information.
        Info = "info",
        /// Low.
        Low = "low",
        /// Medium.
        Medium = "medium",
        /// High.
        High = "high",
        /// Critical.
        Critical = "critical",
    }
);

code_enum!(
    /// How far a recipient has acknowledged; it only moves forward.
    AckStatus {
        /// Not yet acknowledged.
        Pending = "pending",
        /// Receipt confirmed.
        Received = "received",
        /// Responded.
        Responded = "responded",
    }
);

/// A text with its BCP 47 language tag.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalizedText {
    /// The text.
    pub text: String,
    /// Its language.
    pub language: String,
}

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
    /// The level of a point of contact (OSCE CBM 8).
    ContactLevel {
        /// Policy level.
        Policy = "policy",
        /// Technical.
        Technical = "technical",
    }
);

code_enum!(
    /// How a point of contact is reached.
    ChannelKind {
        /// An E.164 phone number.
        Phone = "phone",
        /// An e-mail address.
        Email = "email",
        /// A Liaison principal URI.
        Liaison = "liaison",
        /// Anything else.
        Other = "other",
    }
);

/// How long a point of contact stays current without being confirmed.
pub const POC_CONFIRM_PERIOD: Duration = Duration::from_secs(365 * 86_400);

/// A point of contact as an officer sent it.
#[derive(Debug, Clone, Default)]
pub struct PocDraft {
    /// `None` when unspecified.
    pub level: Option<ContactLevel>,
    /// Function or office.
    pub function: String,
    /// Channels: kind (`None` when unspecified) and address.
    pub channels: Vec<(Option<ChannelKind>, String)>,
    /// BCP 47 tags.
    pub languages: Vec<String>,
    /// Hours of availability.
    pub hours: String,
    /// Reachable around the clock.
    pub around_the_clock: bool,
}

/// A validated point of contact's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PocContent {
    /// Level.
    pub level: ContactLevel,
    /// Function or office.
    pub function: String,
    /// Channels.
    pub channels: Vec<(ChannelKind, String)>,
    /// BCP 47 tags.
    pub languages: Vec<String>,
    /// Hours of availability.
    pub hours: String,
    /// Reachable around the clock.
    pub around_the_clock: bool,
}

/// A stored point of contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointOfContact {
    /// Id (`poc_…`).
    pub id: ObjectId,
    /// The agency it belongs to.
    pub agency: AgencyId,
    /// What it is.
    pub content: PocContent,
    /// When the agency last set or confirmed it (deadline clock).
    pub confirmed: Timestamp,
}

impl PointOfContact {
    /// True when not confirmed for [`POC_CONFIRM_PERIOD`] as of `now`.
    pub fn is_stale(&self, now: Timestamp) -> bool {
        let period = i64::try_from(POC_CONFIRM_PERIOD.as_micros()).unwrap_or(i64::MAX);
        now.as_micros().saturating_sub(self.confirmed.as_micros()) >= period
    }
}

impl PocContent {
    /// Checks every field of `draft`; field paths are prefixed with `prefix`.
    pub fn validate(draft: PocDraft, prefix: &str) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let field = |name: &str| format!("{prefix}.{name}");
        if draft.level.is_none() {
            violations.add(field("level"), "level is required: policy or technical");
        }
        let function_chars = draft.function.trim().chars().count();
        if function_chars == 0 || function_chars > limits::TITLE_CHARS {
            violations.add(
                field("function"),
                format!(
                    "function is required, at most {} characters",
                    limits::TITLE_CHARS
                ),
            );
        }
        if draft.channels.is_empty() || draft.channels.len() > limits::LIST_ITEMS {
            violations.add(
                field("channels"),
                format!("1 to {} channels", limits::LIST_ITEMS),
            );
        }
        let mut channels = Vec::new();
        for (index, (kind, address)) in draft.channels.iter().enumerate() {
            let chars = address.trim().chars().count();
            if chars == 0 || chars > limits::ITEM_CHARS || address.contains(['\n', '\t']) {
                violations.add(
                    field(&format!("channels[{index}].address")),
                    format!("1 to {} characters on one line", limits::ITEM_CHARS),
                );
            }
            match kind {
                Some(kind) => channels.push((*kind, address.trim().to_owned())),
                None => violations.add(
                    field(&format!("channels[{index}].kind")),
                    "channel kind is required",
                ),
            }
        }
        if draft.languages.len() > limits::LIST_ITEMS {
            violations.add(
                field("languages"),
                format!("at most {} languages", limits::LIST_ITEMS),
            );
        }
        for (index, language) in draft.languages.iter().enumerate() {
            if !is_language_tag(language) {
                violations.add(
                    field(&format!("languages[{index}]")),
                    "language must be a BCP 47 tag such as uk, sr-Cyrl, vi or lv",
                );
            }
        }
        if draft.hours.chars().count() > limits::ITEM_CHARS || draft.hours.contains('\n') {
            violations.add(
                field("hours"),
                format!("at most {} characters on one line", limits::ITEM_CHARS),
            );
        }
        if !draft.around_the_clock && draft.hours.trim().is_empty() {
            violations.add(
                field("hours"),
                "hours are required unless the contact is reachable around the clock",
            );
        }
        violations.into_result(|| PocContent {
            level: draft.level.unwrap_or(ContactLevel::Policy),
            function: draft.function.trim().to_owned(),
            channels,
            languages: draft.languages,
            hours: draft.hours.trim().to_owned(),
            around_the_clock: draft.around_the_clock,
        })
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
    /// Id (`msg_…`).
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

code_enum!(
    /// Where a consultation stands (OSCE CBM 3).
    ConsultationState {
        /// Requested; no invited agency acknowledged yet.
        Requested = "requested",
        /// At least one invited agency acknowledged.
        Acknowledged = "acknowledged",
        /// A meeting is set.
        Scheduled = "scheduled",
        /// The meeting took place.
        Held = "held",
        /// Closed with an outcome. Terminal.
        Closed = "closed",
    }
);

code_enum!(
    /// How a consultation ended.
    ConsultationOutcome {
        /// Resolved or clarified.
        Resolved = "resolved",
        /// Held but not resolved.
        Unresolved = "unresolved",
        /// The invited agencies declined.
        Declined = "declined",
        /// The requester withdrew.
        Withdrawn = "withdrawn",
    }
);

/// What a participant does to a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsultationStep {
    /// An invited agency acknowledges.
    Acknowledge,
    /// A participant sets or moves the meeting.
    Schedule,
    /// A participant records that it took place.
    RecordHeld,
    /// A participant closes it.
    Close,
}

/// Why a consultation step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a consultation that is {from} cannot be {step}")]
pub struct StepError {
    from: &'static str,
    step: &'static str,
}

impl ConsultationState {
    /// The state after `step`, or why it is refused.
    pub fn after(self, step: ConsultationStep) -> Result<ConsultationState, StepError> {
        use ConsultationState::*;
        let next = match (self, step) {
            (Requested | Acknowledged, ConsultationStep::Acknowledge) => Some(Acknowledged),
            (Acknowledged | Scheduled, ConsultationStep::Schedule) => Some(Scheduled),
            (Scheduled, ConsultationStep::RecordHeld) => Some(Held),
            (Closed, ConsultationStep::Close) => None,
            (_, ConsultationStep::Close) => Some(Closed),
            _ => None,
        };
        next.ok_or(StepError {
            from: self.as_str(),
            step: match step {
                ConsultationStep::Acknowledge => "acknowledged",
                ConsultationStep::Schedule => "scheduled",
                ConsultationStep::RecordHeld => "recorded as held",
                ConsultationStep::Close => "closed",
            },
        })
    }
}

/// One agency taking part in a consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// The agency.
    pub agency: AgencyId,
    /// True for the requesting agency.
    pub requester: bool,
    /// When it acknowledged.
    pub acknowledged: Option<Timestamp>,
    /// Who acknowledged.
    pub acknowledged_by: Option<PrincipalId>,
    /// Whether it attended.
    pub attended: bool,
}

/// A consultation between states (OSCE CBM 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consultation {
    /// Id (`cns_…`).
    pub id: ObjectId,
    /// The requesting principal.
    pub requester: PrincipalId,
    /// Requester first, then the invited agencies.
    pub participants: Vec<Participant>,
    /// What it is about.
    pub subject: LocalizedText,
    /// The concern in detail.
    pub description: Option<LocalizedText>,
    /// Where it stands.
    pub state: ConsultationState,
    /// Marking of the consultation and its thread.
    pub tlp: Tlp,
    /// Notifications that prompted it.
    pub related: Vec<ObjectId>,
    /// The notification that announced it.
    pub request_notification: ObjectId,
    /// Proposed meeting times.
    pub proposed: Vec<Timestamp>,
    /// The scheduled start.
    pub schedule: Option<Timestamp>,
    /// The planned length.
    pub planned_duration: Option<Duration>,
    /// Where or how.
    pub venue: Option<LocalizedText>,
    /// The agenda.
    pub agenda: Option<LocalizedText>,
    /// When it was held.
    pub held: Option<Timestamp>,
    /// The meeting summary or closing summary.
    pub summary: Option<LocalizedText>,
    /// How it ended.
    pub outcome: Option<ConsultationOutcome>,
    /// When it was closed.
    pub closed: Option<Timestamp>,
    /// Created (deadline clock).
    pub created: Timestamp,
    /// Last changed (deadline clock).
    pub updated: Timestamp,
}

impl Consultation {
    /// The requesting agency.
    pub fn requester_agency(&self) -> &AgencyId {
        self.requester.agency()
    }

    /// The participant row of `agency`, if it takes part.
    pub fn participant(&self, agency: &AgencyId) -> Option<&Participant> {
        self.participants.iter().find(|p| &p.agency == agency)
    }
}

/// Checks a scope as a client sent it (as for indicators and notifications).
pub fn validate_scope(
    draft: ScopeDraft,
    field: &str,
    violations: &mut Violations,
) -> Option<Scope> {
    crate::indicator::validate_scope(draft, field, violations)
}

/// Longest response window of a communication check: 30 days.
pub const CHECK_WINDOW_MAX: Duration = Duration::from_secs(30 * 86_400);

/// A communication check of points of contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunicationCheck {
    /// Id (`chk_…`).
    pub id: ObjectId,
    /// The operator who started it.
    pub started_by: Option<PrincipalId>,
    /// The agencies checked.
    pub scope: Scope,
    /// Which contacts must answer; `None` for both levels.
    pub contact_level: Option<ContactLevel>,
    /// When it started (deadline clock).
    pub started: Timestamp,
    /// How long contacts have to answer.
    pub window: Duration,
    /// The message shown to the contacts.
    pub message: LocalizedText,
    /// The code a responder must return.
    pub challenge: String,
}

impl CommunicationCheck {
    /// When the window closes.
    pub fn due(&self) -> Timestamp {
        let window = i64::try_from(self.window.as_micros()).unwrap_or(i64::MAX);
        Timestamp::from_micros(self.started.as_micros().saturating_add(window))
    }

    /// True while answers count as in time, as of `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        now < self.due()
    }
}

code_enum!(
    /// One agency's result in a communication check.
    CheckOutcome {
        /// The window is open and no answer came yet.
        Pending = "pending",
        /// Answered within the window.
        Answered = "answered",
        /// Answered after the window.
        Late = "late",
        /// No answer, and the window has passed.
        NoAnswer = "no_answer",
    }
);

/// One agency's answer (or silence) in a communication check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The check.
    pub check: ObjectId,
    /// When the check started.
    pub check_started: Timestamp,
    /// When its window closes.
    pub check_due: Timestamp,
    /// The agency.
    pub agency: AgencyId,
    /// When it answered.
    pub responded: Option<Timestamp>,
    /// Who answered.
    pub responder: Option<PrincipalId>,
    /// The point of contact the responder answered as.
    pub point_of_contact: Option<ObjectId>,
    /// The responder's comment.
    pub comment: Option<LocalizedText>,
}

impl CheckResult {
    /// The outcome as of `now`.
    pub fn outcome(&self, now: Timestamp) -> CheckOutcome {
        match self.responded {
            Some(at) if at <= self.check_due => CheckOutcome::Answered,
            Some(_) => CheckOutcome::Late,
            None if now < self.check_due => CheckOutcome::Pending,
            None => CheckOutcome::NoAnswer,
        }
    }

    /// How long the agency took to answer.
    pub fn response_time(&self) -> Option<Duration> {
        self.responded.map(|at| {
            Duration::from_micros(
                u64::try_from(at.as_micros() - self.check_started.as_micros()).unwrap_or(0),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(text: &str, language: &str) -> Option<LocalizedText> {
        Some(LocalizedText {
            text: text.into(),
            language: language.into(),
        })
    }

    #[test]
    fn a_complete_draft_validates_and_red_needs_named_agencies() {
        let draft = NotificationDraft {
            kind: Some(NotificationKind::Incident),
            severity: Some(Severity::High),
            title: text("Інцидент у енергетиці", "uk"),
            body: text("Атака на диспетчерські системи.", "uk"),
            sectors: vec![Some("energy".into())],
            tlp: Some(Tlp::Red),
            scope: ScopeDraft::AllMembers,
            ack_within: Some(Some(Duration::from_secs(3600))),
            ..NotificationDraft::default()
        };
        let errors = NewNotification::validate(draft.clone(), "notification").unwrap_err();
        assert_eq!(errors.as_slice().len(), 1, "{errors:?}");
        assert_eq!(errors.as_slice()[0].field, "notification.scope");
        let named = NotificationDraft {
            scope: ScopeDraft::Agencies(vec!["RS-MUP".into()]),
            ..draft
        };
        let notification = NewNotification::validate(named, "notification").unwrap();
        assert_eq!(notification.ack_within, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn an_empty_draft_names_every_missing_field() {
        let errors =
            NewNotification::validate(NotificationDraft::default(), "notification").unwrap_err();
        let fields: Vec<_> = errors.as_slice().iter().map(|v| v.field.as_str()).collect();
        for expected in [
            "notification.kind",
            "notification.severity",
            "notification.title",
            "notification.body",
            "notification.tlp",
            "notification.scope",
        ] {
            assert!(
                fields.contains(&expected),
                "{expected} missing in {fields:?}"
            );
        }
    }

    #[test]
    fn a_contact_needs_a_channel_and_hours_or_around_the_clock() {
        let errors = PocContent::validate(
            PocDraft {
                level: Some(ContactLevel::Technical),
                function: "Dežurni".into(),
                ..PocDraft::default()
            },
            "poc",
        )
        .unwrap_err();
        let fields: Vec<_> = errors.as_slice().iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["poc.channels", "poc.hours"]);
        let content = PocContent::validate(
            PocDraft {
                level: Some(ContactLevel::Technical),
                function: "24/7 dežurni oficir".into(),
                channels: vec![(Some(ChannelKind::Phone), "+381 11 123 4567".into())],
                languages: vec!["sr-Latn".into(), "en".into()],
                around_the_clock: true,
                ..PocDraft::default()
            },
            "poc",
        )
        .unwrap();
        let poc = PointOfContact {
            id: ObjectId::generate(POC_PREFIX),
            agency: AgencyId::parse("RS-MUP").unwrap(),
            content,
            confirmed: Timestamp::from_micros(0),
        };
        assert!(!poc.is_stale(Timestamp::from_micros(1_000_000)));
        let year = i64::try_from(POC_CONFIRM_PERIOD.as_micros()).unwrap();
        assert!(poc.is_stale(Timestamp::from_micros(year)));
    }

    #[test]
    fn check_outcomes_follow_the_window() {
        let result = CheckResult {
            check: ObjectId::generate(CHECK_PREFIX),
            check_started: Timestamp::from_micros(0),
            check_due: Timestamp::from_micros(100),
            agency: AgencyId::parse("ME-UP").unwrap(),
            responded: None,
            responder: None,
            point_of_contact: None,
            comment: None,
        };
        assert_eq!(
            result.outcome(Timestamp::from_micros(50)),
            CheckOutcome::Pending
        );
        assert_eq!(
            result.outcome(Timestamp::from_micros(100)),
            CheckOutcome::NoAnswer
        );
        let answered = CheckResult {
            responded: Some(Timestamp::from_micros(40)),
            ..result.clone()
        };
        assert_eq!(
            answered.outcome(Timestamp::from_micros(500)),
            CheckOutcome::Answered
        );
        assert_eq!(answered.response_time(), Some(Duration::from_micros(40)));
        let late = CheckResult {
            responded: Some(Timestamp::from_micros(101)),
            ..result
        };
        assert_eq!(
            late.outcome(Timestamp::from_micros(500)),
            CheckOutcome::Late
        );
    }

    #[test]
    fn consultations_follow_their_states() {
        use ConsultationState::*;
        use ConsultationStep::*;
        assert_eq!(Requested.after(Acknowledge), Ok(Acknowledged));
        assert_eq!(Acknowledged.after(Acknowledge), Ok(Acknowledged));
        assert!(Requested.after(Schedule).is_err());
        assert_eq!(Acknowledged.after(Schedule), Ok(Scheduled));
        assert_eq!(Scheduled.after(Schedule), Ok(Scheduled));
        assert_eq!(Scheduled.after(RecordHeld), Ok(Held));
        assert!(Held.after(Schedule).is_err());
        assert_eq!(Requested.after(Close), Ok(Closed));
        assert_eq!(Held.after(Close), Ok(Closed));
        let closed = Closed.after(Close).unwrap_err();
        assert_eq!(
            closed.to_string(),
            "a consultation that is closed cannot be closed"
        );
    }

    #[test]
    fn acknowledgements_only_move_forward() {
        use AckStatus::*;
        assert_eq!(next_ack_status(Pending, Received), Ok(Some(Received)));
        assert_eq!(next_ack_status(Pending, Responded), Ok(Some(Responded)));
        assert_eq!(next_ack_status(Received, Received), Ok(None));
        assert_eq!(
            next_ack_status(Responded, Received),
            Err(AckError::Backwards)
        );
        assert_eq!(
            next_ack_status(Pending, Pending),
            Err(AckError::NotAnAcknowledgement)
        );
    }

    #[test]
    fn overdue_follows_the_due_time() {
        let ack = Acknowledgement {
            notification: ObjectId::generate(NOTIFICATION_PREFIX),
            agency: AgencyId::parse("RS-MUP").unwrap(),
            status: AckStatus::Pending,
            delivered: None,
            received: None,
            responded: None,
            acknowledged_by: None,
            due: Some(Timestamp::from_micros(100)),
            escalated: None,
            comment: None,
        };
        assert!(!ack.is_overdue(Timestamp::from_micros(99)));
        assert!(ack.is_overdue(Timestamp::from_micros(100)));
        let in_time = Acknowledgement {
            received: Some(Timestamp::from_micros(50)),
            status: AckStatus::Received,
            ..ack
        };
        assert!(!in_time.is_overdue(Timestamp::from_micros(1_000)));
    }
}
