//! The value parsers of the command line: TLP markings, scopes, observables, categories,
//! evaluation codes, times, periods, roles, principals. An enum value is found by its
//! generated proto name (`amber+strict` is `TLP_AMBER_STRICT`), never by a hand-written
//! list of the names, so a value added to the API is accepted without a change here.

use liaison_proto::v1;

use crate::failure::Failure;

/// The proto name of `text` under `prefix`: upper case, `-`, `+` and spaces as `_`.
fn api_name(prefix: &str, text: &str) -> String {
    format!(
        "{prefix}{}",
        text.trim()
            .to_ascii_uppercase()
            .replace(['-', '+', ' '], "_")
    )
}

/// The number of an enum value named `text` (`EMERGENCY` for `MLA_URGENCY_EMERGENCY`),
/// `UNSPECIFIED` included; `field` names the argument in the failure.
pub fn enum_number(
    prefix: &str,
    text: &str,
    from: fn(&str) -> Option<i32>,
    field: &str,
) -> Result<i32, Failure> {
    from(&api_name(prefix, text))
        .ok_or_else(|| Failure::usage(format!("{field}: unknown value {text:?}")))
}

/// The number of an enum value named `text`, never `UNSPECIFIED`.
pub fn enum_value(
    prefix: &str,
    text: &str,
    from: impl Fn(&str) -> Option<i32>,
) -> Result<i32, Failure> {
    from(&api_name(prefix, text))
        .filter(|value| *value != 0)
        .ok_or_else(|| Failure::usage(format!("{text:?}: not a known value (see --help)")))
}

/// A category as the API names it (`crypto-asset-fraud` is `FRAUD_CATEGORY_CRYPTO_ASSET_FRAUD`).
pub fn parse_category(text: &str) -> Result<v1::FraudCategory, Failure> {
    v1::FraudCategory::from_str_name(&api_name("FRAUD_CATEGORY_", text))
        .filter(|category| *category != v1::FraudCategory::Unspecified)
        .ok_or_else(|| {
            Failure::usage(format!(
                "--category {text:?}: see `liaisonctl indicators publish --help` for the categories"
            ))
        })
}

/// A TLP 2.0 marking: `clear` (or TLP 1.0's `white`), `green`, `amber`, `amber+strict`,
/// `red`, with or without `tlp:`.
pub fn parse_tlp(text: &str) -> Result<v1::Tlp, Failure> {
    let lower = text.trim().to_ascii_lowercase();
    let name = match lower.trim_start_matches("tlp:") {
        "white" => "clear",
        other => other,
    };
    v1::Tlp::from_str_name(&api_name("TLP_", name))
        .filter(|tlp| *tlp != v1::Tlp::Unspecified)
        .ok_or_else(|| {
            Failure::usage(format!(
                "--tlp {text:?}: expected clear, green, amber, amber+strict or red"
            ))
        })
}

/// Who receives something: `all`, `group:GROUP-ID` or `agencies:ID,ID,…`.
pub fn parse_scope(text: &str) -> Result<v1::Scope, Failure> {
    let target = if text == "all" {
        v1::scope::Target::AllMembers(v1::AllMembers {})
    } else if let Some(group) = text.strip_prefix("group:") {
        v1::scope::Target::SharingGroupId(group.to_owned())
    } else if let Some(list) = text.strip_prefix("agencies:") {
        v1::scope::Target::Agencies(v1::AgencyList {
            agency_ids: list.split(',').map(|id| id.trim().to_owned()).collect(),
        })
    } else {
        return Err(Failure::usage(format!(
            "--scope {text:?}: expected all, group:GROUP-ID or agencies:ID,ID"
        )));
    };
    Ok(v1::Scope {
        target: Some(target),
    })
}

/// An observable, `TYPE=VALUE`; besides the API's names, `ip`, `wallet`, `bin` and
/// `messenger` are accepted.
pub fn parse_observable(text: &str) -> Result<v1::Observable, Failure> {
    let (kind, value) = text
        .split_once('=')
        .ok_or_else(|| Failure::usage(format!("--observable {text:?}: expected TYPE=VALUE")))?;
    let kind = kind.trim().to_ascii_lowercase().replace('_', "-");
    let name = match kind.as_str() {
        "ip" => "ipv4",
        "wallet" => "crypto-wallet",
        "bin" => "card-bin",
        "messenger" => "messenger-handle",
        other => other,
    };
    let kind = v1::ObservableType::from_str_name(&api_name("OBSERVABLE_TYPE_", name))
        .filter(|kind| *kind != v1::ObservableType::Unspecified)
        .ok_or_else(|| Failure::usage(format!("--observable: unknown type {kind:?}")))?;
    Ok(v1::Observable {
        r#type: kind as i32,
        value: value.to_owned(),
    })
}

/// An evaluation code: source reliability A, B, C or X and accuracy 1-4 (`B2`).
pub fn parse_evaluation(code: &str) -> Result<v1::Evaluation, Failure> {
    let bad = || {
        Failure::usage(format!(
            "--evaluation {code:?}: expected A, B, C or X and 1-4, e.g. B2"
        ))
    };
    let mut chars = code.chars();
    let (Some(source), Some(accuracy), None) = (chars.next(), chars.next(), chars.next()) else {
        return Err(bad());
    };
    let source = v1::evaluation::SourceReliability::from_str_name(&api_name(
        "SOURCE_RELIABILITY_",
        &source.to_string(),
    ))
    .filter(|source| *source != v1::evaluation::SourceReliability::Unspecified)
    .ok_or_else(bad)?;
    let accuracy = accuracy
        .to_digit(10)
        .filter(|digit| (1..=4).contains(digit))
        .ok_or_else(bad)?;
    Ok(v1::Evaluation {
        source_reliability: source as i32,
        information_accuracy: accuracy as i32,
    })
}

/// An RFC 3339 time.
pub fn parse_time(text: &str) -> Result<prost_types::Timestamp, Failure> {
    let time = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            Failure::usage(format!(
                "{text:?}: expected an RFC 3339 time such as 2027-01-31T00:00:00Z"
            ))
        })?;
    Ok(prost_types::Timestamp {
        seconds: time.unix_timestamp(),
        nanos: i32::try_from(time.nanosecond()).unwrap_or(0),
    })
}

/// A period such as `90s`, `30m`, `24h` or `3d`.
pub fn parse_duration(text: &str) -> Result<prost_types::Duration, Failure> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match number.parse::<i64>() {
        Ok(value) if scale > 0 && value > 0 => Ok(prost_types::Duration {
            seconds: value * scale,
            nanos: 0,
        }),
        _ => Err(Failure::usage(format!(
            "{text:?}: expected a period such as 30m, 24h or 3d"
        ))),
    }
}

/// A time given as RFC 3339 (`at`) or as a period from now (`from_now`, `90d`).
pub fn parse_when(
    at: Option<&str>,
    from_now: Option<&str>,
) -> Result<Option<prost_types::Timestamp>, Failure> {
    if let Some(period) = from_now {
        let period = parse_duration(period)?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        return Ok(Some(prost_types::Timestamp {
            seconds: now + period.seconds,
            nanos: 0,
        }));
    }
    at.map(parse_time).transpose()
}

/// A role: `officer`, `auditor`, `oversight-auditor`, `operator` or `system`.
pub fn parse_role(text: &str) -> Result<v1::Role, Failure> {
    v1::Role::from_str_name(&api_name("ROLE_", text))
        .filter(|role| *role != v1::Role::Unspecified)
        .ok_or_else(|| {
            Failure::usage(format!(
                "unknown role {text:?}: system, officer, auditor, oversight-auditor or operator"
            ))
        })
}

/// Roles as the API's numbers.
pub fn parse_roles(texts: &[String]) -> Result<Vec<i32>, Failure> {
    texts
        .iter()
        .map(|text| parse_role(text).map(|role| role as i32))
        .collect()
}

/// The kind of a member agency; the hub's own kind is not one a member can have.
pub fn parse_agency_kind(text: &str) -> Result<v1::AgencyKind, Failure> {
    v1::AgencyKind::from_str_name(&api_name("AGENCY_KIND_", text))
        .filter(|kind| !matches!(kind, v1::AgencyKind::Unspecified | v1::AgencyKind::Hub))
        .ok_or_else(|| {
            Failure::usage(format!(
                "unknown agency kind {text:?}: police, cert, ministry or international"
            ))
        })
}

/// A principal, `AGENCY-ID/system/NAME` or `AGENCY-ID/person/NAME`.
pub fn parse_principal(text: &str) -> Result<v1::PrincipalRef, Failure> {
    let parts: Vec<&str> = text.split('/').collect();
    let [agency, kind, name] = parts.as_slice() else {
        return Err(Failure::usage(format!(
            "principal {text:?} must be AGENCY-ID/system/NAME or AGENCY-ID/person/NAME"
        )));
    };
    let kind = v1::PrincipalKind::from_str_name(&api_name("PRINCIPAL_KIND_", kind))
        .filter(|kind| *kind != v1::PrincipalKind::Unspecified)
        .ok_or_else(|| {
            Failure::usage(format!("principal kind {kind:?} must be system or person"))
        })?;
    Ok(v1::PrincipalRef {
        agency_id: (*agency).to_owned(),
        kind: kind as i32,
        name: (*name).to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_reach_the_generated_enums() {
        assert_eq!(parse_tlp("TLP:AMBER+STRICT").unwrap(), v1::Tlp::AmberStrict);
        assert_eq!(parse_tlp("white").unwrap(), v1::Tlp::Clear);
        assert!(parse_tlp("unspecified").is_err());
        assert_eq!(
            parse_observable("messenger=@x").unwrap().r#type,
            v1::ObservableType::MessengerHandle as i32
        );
        assert_eq!(
            parse_observable("card_bin=411111").unwrap().r#type,
            v1::ObservableType::CardBin as i32
        );
        assert_eq!(
            parse_role("oversight-auditor").unwrap(),
            v1::Role::OversightAuditor
        );
        assert!(parse_agency_kind("hub").is_err());
        assert_eq!(parse_evaluation("b2").unwrap().information_accuracy, 2);
        assert!(parse_evaluation("E2").is_err());
        assert_eq!(
            parse_principal("UA-CERT/person/officer").unwrap().kind,
            v1::PrincipalKind::Person as i32
        );
        assert!(parse_principal("UA-CERT/robot/x").is_err());
    }
}
