//! Points of contact (OSCE CBM 8, Budapest Convention Art. 35).

use std::time::Duration;

use super::*;
use crate::indicator::is_language_tag;
use crate::{AgencyId, ObjectId, Timestamp, Violations};

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
