//! `liaisonctl whoami` and `liaisonctl agencies …`: the directory as an officer reads it.

use clap::Subcommand;
use liaison_client::Client;
use liaison_proto::v1;
use serde_json::json;

use crate::{
    failure::{Failure, failed},
    output::{self, OutputFormat, print_json},
};

/// `liaisonctl agencies …`.
#[derive(Debug, Subcommand)]
pub enum AgenciesCommand {
    /// List every member agency.
    List,
    /// Show one agency.
    Show {
        /// Agency id.
        id: String,
    },
}

/// Runs an `agencies` subcommand.
pub async fn run(
    client: &Client,
    format: OutputFormat,
    command: AgenciesCommand,
) -> Result<(), Failure> {
    match command {
        AgenciesCommand::List => agencies_list(client, format).await,
        AgenciesCommand::Show { id } => agency_show(client, format, id).await,
    }
}

/// `whoami`: the principal, agency, roles and certificate the hub sees.
pub async fn whoami(client: &Client, format: OutputFormat) -> Result<(), Failure> {
    let answer = client
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .map_err(failed(client))?
        .into_inner();
    let principal = answer.principal.unwrap_or_default();
    let reference = principal.r#ref.unwrap_or_default();
    let kind = output::enum_name(
        v1::PrincipalKind::try_from(reference.kind)
            .ok()
            .map(|kind| kind.as_str_name().trim_start_matches("PRINCIPAL_KIND_")),
    );
    let roles: Vec<String> = principal
        .roles
        .iter()
        .map(|role| {
            output::enum_name(
                v1::Role::try_from(*role)
                    .ok()
                    .map(|r| r.as_str_name().trim_start_matches("ROLE_")),
            )
        })
        .collect();
    let agency = answer.agency.unwrap_or_default();
    match format {
        OutputFormat::Json => print_json(&json!({
            "agency_id": reference.agency_id,
            "kind": kind,
            "name": reference.name,
            "roles": roles,
            "agency_name": agency.name,
            "certificate_sha256": answer.certificate_sha256,
            "certificate_not_after": output::time(answer.certificate_not_after.as_ref()),
        })),
        OutputFormat::Table => print!(
            "{}",
            output::table(
                &["FIELD", "VALUE"],
                &[
                    vec![
                        "principal".into(),
                        format!("{}/{}/{}", reference.agency_id, kind, reference.name)
                    ],
                    vec!["agency".into(), agency.name],
                    vec!["roles".into(), roles.join(", ")],
                    vec!["certificate sha256".into(), answer.certificate_sha256],
                    vec![
                        "certificate expires".into(),
                        output::time(answer.certificate_not_after.as_ref())
                    ],
                ]
            )
        ),
    }
    Ok(())
}

/// `agencies list`: every member agency, page by page.
async fn agencies_list(client: &Client, format: OutputFormat) -> Result<(), Failure> {
    let mut directory = client.directory();
    let mut agencies = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = directory
            .list_agencies(v1::ListAgenciesRequest {
                page_size: 500,
                page_token,
            })
            .await
            .map_err(failed(client))?
            .into_inner();
        agencies.extend(page.agencies);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let kind = |agency: &v1::Agency| {
        output::enum_name(
            v1::AgencyKind::try_from(agency.kind)
                .ok()
                .map(|kind| kind.as_str_name().trim_start_matches("AGENCY_KIND_")),
        )
    };
    let yes_no = |value: bool| if value { "yes" } else { "no" }.to_owned();
    match format {
        OutputFormat::Json => print_json(&json!(
            agencies
                .iter()
                .map(|agency| json!({
                    "id": agency.id,
                    "name": agency.name,
                    "native_name": agency.native_name.as_ref().map(|n| n.text.clone()),
                    "kind": kind(agency),
                    "state": agency.state.as_ref().map(|s| json!({
                        "code": s.code,
                        "budapest_convention_party": s.budapest_convention_party,
                        "second_protocol_party": s.second_protocol_party,
                        "osce_participating_state": s.osce_participating_state,
                    })),
                }))
                .collect::<Vec<_>>()
        )),
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = agencies
                .iter()
                .map(|agency| {
                    let state = agency.state.as_ref();
                    vec![
                        agency.id.clone(),
                        kind(agency),
                        state.map_or_else(|| "-".into(), |s| s.code.clone()),
                        state.map_or_else(|| "-".into(), |s| yes_no(s.budapest_convention_party)),
                        agency.name.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                output::table(&["ID", "KIND", "STATE", "BUDAPEST", "NAME"], &rows)
            );
        }
    }
    Ok(())
}

/// `agencies show`: one agency's names, kind, state and status.
async fn agency_show(client: &Client, format: OutputFormat, id: String) -> Result<(), Failure> {
    let agency = client
        .directory()
        .get_agency(v1::GetAgencyRequest { agency_id: id })
        .await
        .map_err(failed(client))?
        .into_inner()
        .agency
        .unwrap_or_default();
    let kind = output::short_name(
        v1::AgencyKind::try_from(agency.kind)
            .ok()
            .map(|kind| kind.as_str_name()),
        "AGENCY_KIND_",
    );
    let status = output::short_name(
        v1::AgencyStatus::try_from(agency.status)
            .ok()
            .map(|status| status.as_str_name()),
        "AGENCY_STATUS_",
    );
    let native = agency.native_name.as_ref().map(|n| n.text.clone());
    let state = agency.state.as_ref().map(|s| s.code.clone());
    match format {
        OutputFormat::Json => print_json(&json!({
            "id": agency.id, "name": agency.name, "native_name": native,
            "kind": kind, "state": state, "status": status,
        })),
        OutputFormat::Table => {
            let rows = vec![
                vec!["id".into(), agency.id.clone()],
                vec!["name".into(), agency.name.clone()],
                vec!["native name".into(), native.unwrap_or_else(|| "-".into())],
                vec!["kind".into(), kind],
                vec!["state".into(), state.unwrap_or_else(|| "-".into())],
                vec!["status".into(), status],
            ];
            print!("{}", output::table(&["FIELD", "VALUE"], &rows));
        }
    }
    Ok(())
}
