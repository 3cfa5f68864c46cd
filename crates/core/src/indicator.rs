//! Fraud-method indicators: the draft a client sends, its validation, and the stored record.

use crate::{
    id::{AgencyId, ObjectId},
    observable::{Observable, ObservableType},
    principal::PrincipalId,
    scope::{GroupId, Scope},
    time::Timestamp,
    tlp::Tlp,
    violation::Violations,
};

/// The fixed taxonomy of fraud methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum FraudCategory {
    Phishing,
    BusinessEmailCompromise,
    InvestmentFraud,
    RomanceFraud,
    TechSupportFraud,
    SimSwap,
    CardNotPresentFraud,
    RansomwareExtortion,
    CryptoAssetFraud,
    FakeOnlineShop,
    Other,
}

impl FraudCategory {
    /// Every category.
    pub const ALL: [FraudCategory; 11] = [
        FraudCategory::Phishing,
        FraudCategory::BusinessEmailCompromise,
        FraudCategory::InvestmentFraud,
        FraudCategory::RomanceFraud,
        FraudCategory::TechSupportFraud,
        FraudCategory::SimSwap,
        FraudCategory::CardNotPresentFraud,
        FraudCategory::RansomwareExtortion,
        FraudCategory::CryptoAssetFraud,
        FraudCategory::FakeOnlineShop,
        FraudCategory::Other,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FraudCategory::Phishing => "phishing",
            FraudCategory::BusinessEmailCompromise => "business_email_compromise",
            FraudCategory::InvestmentFraud => "investment_fraud",
            FraudCategory::RomanceFraud => "romance_fraud",
            FraudCategory::TechSupportFraud => "tech_support_fraud",
            FraudCategory::SimSwap => "sim_swap",
            FraudCategory::CardNotPresentFraud => "card_not_present_fraud",
            FraudCategory::RansomwareExtortion => "ransomware_extortion",
            FraudCategory::CryptoAssetFraud => "crypto_asset_fraud",
            FraudCategory::FakeOnlineShop => "fake_online_shop",
            FraudCategory::Other => "other",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|category| category.as_str() == text)
    }
}

/// The 4x4 evaluation code: source reliability and information accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    source_reliability: char,
    information_accuracy: u8,
}

impl Evaluation {
    /// Source reliability `A`, `B`, `C` or `X`; information accuracy 1 to 4.
    pub fn new(source_reliability: char, information_accuracy: u8) -> Option<Self> {
        (matches!(source_reliability, 'A' | 'B' | 'C' | 'X')
            && (1..=4).contains(&information_accuracy))
        .then_some(Self {
            source_reliability,
            information_accuracy,
        })
    }

    /// Parses the stored form, `B2`.
    pub fn parse(code: &str) -> Option<Self> {
        let mut chars = code.chars();
        let (Some(source), Some(accuracy), None) = (chars.next(), chars.next(), chars.next())
        else {
            return None;
        };
        Self::new(source, u8::try_from(accuracy.to_digit(10)?).ok()?)
    }

    /// `A`, `B`, `C` or `X`.
    pub fn source_reliability(self) -> char {
        self.source_reliability
    }

    /// 1 to 4.
    pub fn information_accuracy(self) -> u8 {
        self.information_accuracy
    }

    /// The stored form, `B2`.
    pub fn code(self) -> String {
        format!("{}{}", self.source_reliability, self.information_accuracy)
    }
}

/// A fraud method's texts and category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudMethod {
    /// Short title.
    pub title: String,
    /// How it works.
    pub description: String,
    /// What counters it.
    pub countermeasures: String,
    /// Its category.
    pub category: FraudCategory,
}

/// A fraud method as a client sent it, before validation.
#[derive(Debug, Clone, Default)]
pub struct FraudMethodDraft {
    /// Short title.
    pub title: String,
    /// How it works.
    pub description: String,
    /// What counters it.
    pub countermeasures: String,
    /// `None` when unspecified or unknown.
    pub category: Option<FraudCategory>,
}

/// A scope as a client sent it, before validation.
#[derive(Debug, Clone, Default)]
pub enum ScopeDraft {
    /// No target given.
    #[default]
    Missing,
    /// All members.
    AllMembers,
    /// A sharing group id.
    SharingGroup(String),
    /// Agency ids.
    Agencies(Vec<String>),
}

/// An indicator as a client sent it: raw values, checked by [`NewIndicator::validate`].
#[derive(Debug, Clone, Default)]
pub struct IndicatorDraft {
    /// The fraud method, if this is one.
    pub fraud_method: Option<FraudMethodDraft>,
    /// Observables: type (`None` when unspecified) and raw value.
    pub observables: Vec<(Option<ObservableType>, String)>,
    /// BCP 47 language tag.
    pub language: String,
    /// First seen.
    pub first_seen: Option<Timestamp>,
    /// Expiry.
    pub valid_until: Option<Timestamp>,
    /// 0 to 100.
    pub confidence: u32,
    /// Evaluation code, if given: source reliability letter and accuracy digit.
    pub evaluation: Option<(Option<char>, Option<u8>)>,
    /// `None` when unspecified.
    pub tlp: Option<Tlp>,
    /// Who receives it.
    pub scope: ScopeDraft,
    /// Hide the source agency from recipients.
    pub anonymous: bool,
}

/// Limits on indicator content.
pub mod limits {
    /// Longest title, in characters.
    pub const TITLE_CHARS: usize = 300;
    /// Longest description or countermeasures text, in characters.
    pub const TEXT_CHARS: usize = 20_000;
    /// Most observables in one indicator.
    pub const OBSERVABLES: usize = 1_000;
    /// Most agencies named in one scope.
    pub const SCOPE_AGENCIES: usize = 200;
}

/// A validated indicator, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIndicator {
    /// The fraud method, if this is one.
    pub fraud_method: Option<FraudMethod>,
    /// Normalised observables, without duplicates.
    pub observables: Vec<Observable>,
    /// BCP 47 language tag.
    pub language: String,
    /// First seen.
    pub first_seen: Option<Timestamp>,
    /// Expiry.
    pub valid_until: Option<Timestamp>,
    /// 0 to 100.
    pub confidence: u8,
    /// Evaluation code.
    pub evaluation: Option<Evaluation>,
    /// Handling.
    pub tlp: Tlp,
    /// Recipients.
    pub scope: Scope,
    /// Hide the source from recipients.
    pub anonymous: bool,
}

impl NewIndicator {
    /// Checks every field of `draft`; field paths are relative to the indicator message and
    /// prefixed with `prefix` (such as `indicator`).
    pub fn validate(draft: IndicatorDraft, prefix: &str) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let field = |name: &str| format!("{prefix}.{name}");

        let fraud_method = draft.fraud_method.and_then(|method| {
            let title = method.title.trim().to_owned();
            let title_chars = title.chars().count();
            if title_chars == 0 || title_chars > limits::TITLE_CHARS {
                violations.add(
                    field("fraud_method.title"),
                    format!(
                        "title is required, at most {} characters",
                        limits::TITLE_CHARS
                    ),
                );
            }
            for (name, text) in [
                ("description", &method.description),
                ("countermeasures", &method.countermeasures),
            ] {
                if text.chars().count() > limits::TEXT_CHARS {
                    violations.add(
                        field(&format!("fraud_method.{name}")),
                        format!("at most {} characters", limits::TEXT_CHARS),
                    );
                }
            }
            if method.category.is_none() {
                violations.add(field("fraud_method.category"), "category is required");
            }
            Some(FraudMethod {
                title,
                description: method.description,
                countermeasures: method.countermeasures,
                category: method.category?,
            })
        });

        if draft.observables.len() > limits::OBSERVABLES {
            violations.add(
                field("observables"),
                format!("at most {} observables per indicator", limits::OBSERVABLES),
            );
        }
        let mut observables = Vec::with_capacity(draft.observables.len());
        for (index, (kind, value)) in draft.observables.iter().enumerate() {
            match kind {
                None => violations.add(
                    field(&format!("observables[{index}].type")),
                    "observable type is required",
                ),
                Some(kind) => {
                    if let Some(observable) = violations.check(
                        field(&format!("observables[{index}].value")),
                        Observable::parse(*kind, value),
                    ) {
                        observables.push(observable);
                    }
                }
            }
        }
        observables.sort();
        observables.dedup();
        if fraud_method.is_none() && draft.observables.is_empty() && violations.is_empty() {
            violations.add(
                field("observables"),
                "an indicator needs a fraud method or at least one observable",
            );
        }

        if !is_language_tag(&draft.language) {
            violations.add(
                field("language"),
                "language must be a BCP 47 tag such as uk, sr-Cyrl, vi or lv",
            );
        }
        if let (Some(first_seen), Some(valid_until)) = (draft.first_seen, draft.valid_until)
            && valid_until <= first_seen
        {
            violations.add(
                field("valid_until_time"),
                "valid_until_time must be after first_seen_time",
            );
        }
        let confidence = u8::try_from(draft.confidence).ok().filter(|c| *c <= 100);
        if confidence.is_none() {
            violations.add(field("confidence"), "confidence must be between 0 and 100");
        }
        let evaluation = match draft.evaluation {
            None => None,
            Some((source, accuracy)) => {
                let evaluation = source
                    .zip(accuracy)
                    .and_then(|(s, a)| Evaluation::new(s, a));
                if evaluation.is_none() {
                    violations.add(
                        field("evaluation"),
                        "evaluation needs source reliability A, B, C or X and information accuracy 1 to 4",
                    );
                }
                evaluation
            }
        };
        if draft.tlp.is_none() {
            violations.add(
                field("tlp"),
                "tlp is required: clear, green, amber, amber+strict or red",
            );
        }
        let scope = validate_scope(draft.scope, &field("scope"), &mut violations);
        if let (Some(Tlp::Red), Some(scope)) = (draft.tlp, &scope)
            && !matches!(scope, Scope::Agencies(_))
        {
            violations.add(
                field("scope"),
                "TLP:RED items must be scoped to named agencies",
            );
        }

        violations.into_result(|| NewIndicator {
            fraud_method,
            observables,
            language: draft.language,
            first_seen: draft.first_seen,
            valid_until: draft.valid_until,
            confidence: confidence.unwrap_or_default(),
            evaluation,
            tlp: draft.tlp.unwrap_or(Tlp::Red),
            scope: scope.unwrap_or(Scope::AllMembers),
            anonymous: draft.anonymous,
        })
    }
}

pub(crate) fn validate_scope(
    draft: ScopeDraft,
    field: &str,
    violations: &mut Violations,
) -> Option<Scope> {
    match draft {
        ScopeDraft::Missing => {
            violations.add(
                field,
                "scope is required: all members, a sharing group or named agencies",
            );
            None
        }
        ScopeDraft::AllMembers => Some(Scope::AllMembers),
        ScopeDraft::SharingGroup(group) => violations
            .check(format!("{field}.sharing_group_id"), GroupId::parse(&group))
            .map(Scope::SharingGroup),
        ScopeDraft::Agencies(ids) => {
            if ids.len() > limits::SCOPE_AGENCIES {
                violations.add(
                    format!("{field}.agencies"),
                    format!("at most {} agencies", limits::SCOPE_AGENCIES),
                );
                return None;
            }
            let parsed: Vec<AgencyId> = ids
                .iter()
                .enumerate()
                .filter_map(|(index, id)| {
                    violations.check(
                        format!("{field}.agencies.agency_ids[{index}]"),
                        AgencyId::parse(id),
                    )
                })
                .collect();
            if parsed.len() != ids.len() {
                return None;
            }
            violations.check(format!("{field}.agencies"), Scope::agencies(parsed))
        }
    }
}

/// A loose BCP 47 check: a 2–3 letter language and subtags of 1–8 letters or digits.
pub fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let language_ok = parts.next().is_some_and(|language| {
        (2..=3).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_alphabetic())
    });
    language_ok
        && tag.len() <= 35
        && parts.all(|part| {
            (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// A stored indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    /// Server-made id.
    pub id: ObjectId,
    /// The publishing agency (the real one; anonymity is applied when delivering).
    pub source_agency: AgencyId,
    /// The principal that published it.
    pub publisher: PrincipalId,
    /// The content.
    pub content: NewIndicator,
    /// The fraud method its observables were linked to.
    pub linked_fraud_method: Option<ObjectId>,
    /// When it was published.
    pub created: Timestamp,
    /// When and why it was revoked.
    pub revoked: Option<(Timestamp, String)>,
}

impl Indicator {
    /// The observable types it carries.
    pub fn observable_types(&self) -> impl Iterator<Item = ObservableType> + '_ {
        self.content.observables.iter().map(Observable::kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> IndicatorDraft {
        IndicatorDraft {
            fraud_method: Some(FraudMethodDraft {
                title: "Лажни позиви у име банке".into(),
                description: "Позивалац се представља као службеник банке.".into(),
                countermeasures: "Банка никада не тражи PIN телефоном.".into(),
                category: Some(FraudCategory::Phishing),
            }),
            observables: vec![
                (Some(ObservableType::Phone), "+381 11 306 2000".into()),
                (Some(ObservableType::Domain), "Banka-Provera.example".into()),
            ],
            language: "sr-Cyrl".into(),
            confidence: 80,
            evaluation: Some((Some('B'), Some(2))),
            tlp: Some(Tlp::Green),
            scope: ScopeDraft::AllMembers,
            ..IndicatorDraft::default()
        }
    }

    #[test]
    fn a_valid_draft_is_normalised() {
        let indicator = NewIndicator::validate(draft(), "indicator").unwrap();
        let values: Vec<&str> = indicator
            .observables
            .iter()
            .map(Observable::value)
            .collect();
        assert_eq!(values, ["banka-provera.example", "+381113062000"]);
        assert_eq!(indicator.evaluation.unwrap().code(), "B2");
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut bad = draft();
        bad.fraud_method.as_mut().unwrap().title = " ".into();
        bad.observables
            .push((Some(ObservableType::Iban), "RS00 0000".into()));
        bad.observables.push((None, "x".into()));
        bad.confidence = 101;
        bad.language = "Serbian".into();
        bad.tlp = None;
        let fields: Vec<String> = NewIndicator::validate(bad, "indicator")
            .unwrap_err()
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(
            fields,
            [
                "indicator.fraud_method.title",
                "indicator.observables[2].value",
                "indicator.observables[3].type",
                "indicator.language",
                "indicator.confidence",
                "indicator.tlp",
            ]
        );
    }

    #[test]
    fn red_needs_named_agencies() {
        let mut red = draft();
        red.tlp = Some(Tlp::Red);
        let error = NewIndicator::validate(red.clone(), "indicator").unwrap_err();
        assert_eq!(error.as_slice()[0].field, "indicator.scope");
        red.scope = ScopeDraft::Agencies(vec!["UA-CERT".into()]);
        assert!(NewIndicator::validate(red, "indicator").is_ok());
    }

    #[test]
    fn empty_indicator_is_refused() {
        let empty = IndicatorDraft {
            language: "en".into(),
            tlp: Some(Tlp::Clear),
            scope: ScopeDraft::AllMembers,
            ..IndicatorDraft::default()
        };
        let error = NewIndicator::validate(empty, "indicator").unwrap_err();
        assert_eq!(error.as_slice()[0].field, "indicator.observables");
    }

    #[test]
    fn language_tags() {
        for good in ["uk", "sr-Cyrl", "sr-Latn-RS", "vi", "lv", "en"] {
            assert!(is_language_tag(good), "{good}");
        }
        for bad in ["", "s", "serbian", "sr_Cyrl", "sr-", "sr-Cyrillicscript"] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }
}
