//! Tables for people, JSON for scripts. Whatever is printed passes through `safe`: text
//! from other agencies never reaches the terminal as control sequences, and table columns
//! are measured in terminal columns.

pub mod safe;

use std::{fmt::Write as _, io::IsTerminal};

use liaison_proto::v1;
use serde_json::{Value, json};

/// Output format: tables for people, JSON for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

/// Prints a JSON value, pretty.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        safe::escape_json(&serde_json::to_string_pretty(value).unwrap_or_default())
    );
}

/// Prints a JSON value on one line (a followed stream's event).
pub fn print_json_line(value: &Value) {
    println!("{}", safe::escape_json(&value.to_string()));
}

/// Prints one line that may hold other agencies' text, every unsafe character (line
/// breaks included) escaped.
pub fn print_line(text: &str) {
    println!("{}", safe::escape(text));
}

/// `println!` for text that may hold other agencies' text (see [`print_line`]).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::print_line(&format!($($arg)*))
    };
}
pub(crate) use say;

/// The width tables wrap their last column at: `COLUMNS` when set, else 100 on a
/// terminal; no wrapping into a pipe or file.
fn wrap_width() -> Option<usize> {
    match std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        Some(columns) => Some(columns),
        None => std::io::stdout().is_terminal().then_some(100),
    }
}

/// Renders rows under headers, columns padded to the widest cell in terminal columns (so
/// Cyrillic, Vietnamese and Latvian text lines up), every cell escaped by `safe`; the last
/// column wraps when the table would be wider than the terminal (`COLUMNS`).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    table_within(headers, rows, wrap_width())
}

/// [`table`] wrapping its last column at `columns`.
pub fn table_within(headers: &[&str], rows: &[Vec<String>], columns: Option<usize>) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| safe::escape(cell)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|header| safe::width(header)).collect();
    for row in &rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(safe::width(cell));
            }
        }
    }
    let last = widths.len().saturating_sub(1);
    let indent: usize = widths[..last].iter().map(|width| width + 2).sum();
    let last_width = columns.map(|columns| columns.saturating_sub(indent).max(20));
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut text = String::new();
        for (index, cell) in cells.iter().enumerate() {
            if index == last
                && let Some(room) = last_width
                && safe::width(cell) > room
            {
                let wrapped = safe::wrap(cell, room);
                let continuation = format!("\n{}", " ".repeat(indent));
                let _ = write!(text, "{}", wrapped.join(&continuation));
                break;
            }
            let pad = widths[index].saturating_sub(safe::width(cell));
            let _ = write!(text, "{cell}{}  ", " ".repeat(pad));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(headers);
    for row in &rows {
        line(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out
}

/// RFC 3339 text of a timestamp, or `-`.
pub fn time(timestamp: Option<&prost_types::Timestamp>) -> String {
    timestamp
        .and_then(|ts| {
            time::OffsetDateTime::from_unix_timestamp(ts.seconds)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
        })
        .unwrap_or_else(|| "-".into())
}

/// The name of a TLP marking.
pub fn tlp(value: i32) -> &'static str {
    match v1::Tlp::try_from(value) {
        Ok(v1::Tlp::Clear) => "CLEAR",
        Ok(v1::Tlp::Green) => "GREEN",
        Ok(v1::Tlp::Amber) => "AMBER",
        Ok(v1::Tlp::AmberStrict) => "AMBER+STRICT",
        Ok(v1::Tlp::Red) => "RED",
        _ => "?",
    }
}

/// The lowercase name of an enum value as the API spells it (`PHISHING` → `phishing`).
pub fn enum_name(name: Option<&str>) -> String {
    name.map(|name| name.to_ascii_lowercase())
        .unwrap_or_else(|| "?".into())
}

/// The lowercase name of an enum value without its prefix
/// (`MLA_STATE_SUBMITTED` → `submitted`), or `?`.
pub fn short_name(full: Option<&str>, prefix: &str) -> String {
    enum_name(full.map(|name| name.trim_start_matches(prefix)))
}

fn scope(scope: Option<&v1::Scope>) -> String {
    match scope.and_then(|scope| scope.target.as_ref()) {
        Some(v1::scope::Target::AllMembers(_)) => "all members".into(),
        Some(v1::scope::Target::SharingGroupId(group)) => format!("group {group}"),
        Some(v1::scope::Target::Agencies(list)) => list.agency_ids.join(","),
        None => "-".into(),
    }
}

fn observable_type(value: i32) -> String {
    enum_name(
        v1::ObservableType::try_from(value)
            .ok()
            .map(|kind| kind.as_str_name().trim_start_matches("OBSERVABLE_TYPE_")),
    )
}

/// The source column: an anonymous item of another agency shows "a member agency".
pub fn source(indicator: &v1::Indicator) -> String {
    if indicator.source_agency_id.is_empty() {
        "a member agency".into()
    } else {
        indicator.source_agency_id.clone()
    }
}

/// An indicator as JSON.
pub fn indicator_json(indicator: &v1::Indicator) -> Value {
    json!({
        "id": indicator.id,
        "fraud_method": indicator.fraud_method.as_ref().map(|method| json!({
            "title": method.title,
            "description": method.description,
            "countermeasures": method.countermeasures,
            "category": enum_name(v1::FraudCategory::try_from(method.category).ok()
                .map(|c| c.as_str_name().trim_start_matches("FRAUD_CATEGORY_"))),
        })),
        "observables": indicator.observables.iter().map(|o| json!({
            "type": observable_type(o.r#type),
            "value": o.value,
        })).collect::<Vec<_>>(),
        "language": indicator.language,
        "tlp": tlp(indicator.tlp),
        "scope": scope(indicator.scope.as_ref()),
        "source_agency_id": indicator.source_agency_id,
        "anonymous": indicator.anonymous,
        "confidence": indicator.confidence,
        "create_time": time(indicator.create_time.as_ref()),
        "valid_until_time": indicator.valid_until_time.as_ref().map(|t| time(Some(t))),
        "revoke_time": indicator.revoke_time.as_ref().map(|t| time(Some(t))),
    })
}

/// An indicator as a field/value table.
pub fn indicator_details(indicator: &v1::Indicator) -> String {
    let mut rows = vec![
        vec!["id".into(), indicator.id.clone()],
        vec!["source".into(), source(indicator)],
        vec!["tlp".into(), tlp(indicator.tlp).into()],
        vec!["scope".into(), scope(indicator.scope.as_ref())],
        vec!["language".into(), indicator.language.clone()],
        vec!["confidence".into(), indicator.confidence.to_string()],
        vec!["published".into(), time(indicator.create_time.as_ref())],
    ];
    if let Some(method) = &indicator.fraud_method {
        rows.push(vec!["title".into(), method.title.clone()]);
        rows.push(vec![
            "category".into(),
            enum_name(
                v1::FraudCategory::try_from(method.category)
                    .ok()
                    .map(|c| c.as_str_name().trim_start_matches("FRAUD_CATEGORY_")),
            ),
        ]);
        if !method.description.is_empty() {
            rows.push(vec!["description".into(), method.description.clone()]);
        }
        if !method.countermeasures.is_empty() {
            rows.push(vec![
                "countermeasures".into(),
                method.countermeasures.clone(),
            ]);
        }
    }
    for observable in &indicator.observables {
        rows.push(vec![
            format!("observable {}", observable_type(observable.r#type)),
            observable.value.clone(),
        ]);
    }
    if let Some(revoked) = &indicator.revoke_time {
        rows.push(vec![
            "revoked".into(),
            format!("{} ({})", time(Some(revoked)), indicator.revoke_reason),
        ]);
    }
    table(&["FIELD", "VALUE"], &rows)
}

/// A line of `indicators watch`, in fixed-width columns: rows arrive one by one, so
/// widths cannot be measured first.
pub fn watch_line(cells: &[String]) -> String {
    let [cursor, event, id, source, tlp, title] = cells else {
        return cells.join("  ");
    };
    format!("{cursor:<8}  {event:<9}  {id:<30}  {source:<15}  {tlp:<12}  {title}")
}

/// The cells of one `indicators watch` line.
pub fn watch_row(cursor: u64, kind: &str, indicator: &v1::Indicator) -> Vec<String> {
    let title = indicator
        .fraud_method
        .as_ref()
        .map(|method| method.title.clone())
        .unwrap_or_else(|| {
            indicator
                .observables
                .iter()
                .map(|o| o.value.clone())
                .collect::<Vec<_>>()
                .join(", ")
        });
    vec![
        cursor.to_string(),
        kind.into(),
        indicator.id.clone(),
        source(indicator),
        tlp(indicator.tlp).into(),
        title,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_multilingual_text() {
        let rendered = table_within(
            &["AGENCY", "NAME"],
            &[
                vec!["RS-MUP".into(), "Министарство унутрашњих послова".into()],
                vec!["VN-BCA".into(), "Bộ Công an".into()],
            ],
            None,
        );
        assert_eq!(
            rendered,
            "AGENCY  NAME\nRS-MUP  Министарство унутрашњих послова\nVN-BCA  Bộ Công an\n"
        );
    }

    #[test]
    fn tables_measure_columns_escape_and_wrap() {
        let rendered = table_within(
            &["AGENCY", "TITLE"],
            &[
                vec!["VN-BCA".into(), "Bo\u{302}\u{323} Co\u{302}ng an".into()],
                vec!["LV-VP".into(), "Valsts policija: krāpšana Rīgā".into()],
                vec!["XX-EVIL".into(), "\u{1b}[2Jwiped\u{202e}txt.exe".into()],
            ],
            None,
        );
        assert!(!rendered.contains('\u{1b}') && !rendered.contains('\u{202e}'));
        let lines: Vec<&str> = rendered.lines().collect();
        assert_eq!(lines[1], "VN-BCA   Bo\u{302}\u{323} Co\u{302}ng an");
        assert_eq!(lines[2], "LV-VP    Valsts policija: krāpšana Rīgā");
        assert_eq!(lines[3], "XX-EVIL  \\u{1b}[2Jwiped\\u{202e}txt.exe");
        let wrapped = table_within(
            &["ID", "TEXT"],
            &[vec![
                "msg_1".into(),
                "Фішингова кампанія від імені банку; кошти виведено до Сербії".into(),
            ]],
            Some(30),
        );
        let lines: Vec<&str> = wrapped.lines().collect();
        assert_eq!(lines.len(), 4, "{wrapped}");
        assert!(
            lines.iter().all(|line| safe::width(line) <= 30),
            "{wrapped}"
        );
        assert!(lines[2].starts_with("       "), "{wrapped}");
    }
}
