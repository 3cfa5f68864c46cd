//! How MLA requests are shown: JSON, or a field/value table with deadlines and history.

use liaison_proto::v1;
use serde_json::{Value, json};

use crate::output::{self, OutputFormat, print_json, short_name};

/// The lowercase name of a request state (`submitted`).
pub fn state_name(state: i32) -> String {
    short_name(
        v1::MlaState::try_from(state).ok().map(|s| s.as_str_name()),
        "MLA_STATE_",
    )
}

/// A request as JSON.
pub fn request_json(request: &v1::MlaRequest) -> Value {
    let content = request.content.clone().unwrap_or_default();
    json!({
        "id": request.id,
        "state": state_name(request.state),
        "requesting_agency_id": request.requesting_agency_id,
        "requested_agency_id": content.requested_agency_id,
        "case_reference": content.case_reference,
        "overdue": request.overdue,
        "etag": request.etag,
        "preservation": request.preservation.as_ref().map(|p| json!({
            "state": short_name(v1::MlaPreservationState::try_from(p.state).ok().map(|s| s.as_str_name()), "MLA_PRESERVATION_STATE_"),
            "preserve_until": output::time(p.preserve_until.as_ref()),
        })),
        "deadlines": request.deadlines.iter().map(|deadline| json!({
            "kind": short_name(v1::MlaDeadlineKind::try_from(deadline.kind).ok().map(|k| k.as_str_name()), "MLA_DEADLINE_KIND_"),
            "due": output::time(deadline.due_time.as_ref()),
            "status": short_name(v1::MlaDeadlineStatus::try_from(deadline.status).ok().map(|s| s.as_str_name()), "MLA_DEADLINE_STATUS_"),
        })).collect::<Vec<_>>(),
        "history": request.history.iter().map(|entry| json!({
            "time": output::time(entry.time.as_ref()),
            "action": short_name(v1::MlaAction::try_from(entry.action).ok().map(|a| a.as_str_name()), "MLA_ACTION_"),
            "actor": entry.actor.as_ref().map(|actor| format!("{}/{}", actor.agency_id, actor.name)),
            "to_state": state_name(entry.to_state),
        })).collect::<Vec<_>>(),
    })
}

/// Prints a request: JSON, or its fields, deadlines and history.
pub fn print_request(request: &v1::MlaRequest, format: OutputFormat) {
    match format {
        OutputFormat::Json => print_json(&request_json(request)),
        OutputFormat::Table => {
            let value = request_json(request);
            let mut rows = vec![
                vec!["id".into(), request.id.clone()],
                vec!["state".into(), state_name(request.state)],
                vec![
                    "parties".into(),
                    format!(
                        "{} → {}",
                        value["requesting_agency_id"].as_str().unwrap_or("-"),
                        value["requested_agency_id"].as_str().unwrap_or("-")
                    ),
                ],
                vec![
                    "case".into(),
                    value["case_reference"].as_str().unwrap_or("-").to_owned(),
                ],
                vec![
                    "overdue".into(),
                    if request.overdue {
                        "yes".into()
                    } else {
                        "no".into()
                    },
                ],
            ];
            if let Some(preservation) = &request.preservation {
                rows.push(vec![
                    "preservation".into(),
                    format!(
                        "{} until {}",
                        value["preservation"]["state"].as_str().unwrap_or("-"),
                        output::time(preservation.preserve_until.as_ref())
                    ),
                ]);
            }
            for deadline in value["deadlines"].as_array().into_iter().flatten() {
                rows.push(vec![
                    format!("deadline {}", deadline["kind"].as_str().unwrap_or("-")),
                    format!(
                        "{} ({})",
                        deadline["due"].as_str().unwrap_or("-"),
                        deadline["status"].as_str().unwrap_or("-")
                    ),
                ]);
            }
            for entry in value["history"].as_array().into_iter().flatten() {
                rows.push(vec![
                    entry["time"].as_str().unwrap_or("-").to_owned(),
                    format!(
                        "{} by {} → {}",
                        entry["action"].as_str().unwrap_or("-"),
                        entry["actor"].as_str().unwrap_or("the hub"),
                        entry["to_state"].as_str().unwrap_or("-")
                    ),
                ]);
            }
            print!("{}", output::table(&["FIELD", "VALUE"], &rows));
        }
    }
}
