//! `liaisonctl mla messages | evidence`: a request's messages, oldest first, and its
//! evidence files, every page.

use clap::Args;
use liaison_client::Client;
use liaison_proto::v1;
use serde_json::json;

use crate::{
    call::request,
    failure::{Failure, failed},
    output::{self, OutputFormat, print_json},
};

/// `mla messages` and `mla evidence`.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The request (`mla_…`).
    pub id: String,
}

fn principal(principal: Option<&v1::PrincipalRef>) -> String {
    principal.map_or_else(|| "-".into(), |p| format!("{}/{}", p.agency_id, p.name))
}

fn localized(text: Option<&v1::LocalizedText>) -> String {
    text.map(|t| t.text.clone()).unwrap_or_default()
}

/// `mla messages`: needs a purpose to show the bodies.
pub async fn messages(
    client: &Client,
    format: OutputFormat,
    purpose: Option<&str>,
    args: RequestArgs,
) -> Result<(), Failure> {
    let mut mla = client.mla();
    let (mut messages, mut page_token) = (Vec::new(), String::new());
    loop {
        let page = mla
            .list_messages(request(
                v1::ListMessagesRequest {
                    mla_request_id: args.id.clone(),
                    page_size: 100,
                    page_token,
                },
                purpose,
            ))
            .await
            .map_err(failed(client))?
            .into_inner();
        messages.extend(page.messages);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let rows: Vec<Vec<String>> = messages
        .iter()
        .map(|message| {
            vec![
                message.id.clone(),
                output::time(message.create_time.as_ref()),
                principal(message.sender.as_ref()),
                localized(message.body.as_ref()),
            ]
        })
        .collect();
    match format {
        OutputFormat::Json => print_json(&json!(
            rows.iter()
                .map(|r| json!({"id": r[0], "time": r[1], "sender": r[2], "body": r[3]}))
                .collect::<Vec<_>>()
        )),
        OutputFormat::Table => print!(
            "{}",
            output::table(&["MESSAGE", "TIME", "FROM", "TEXT"], &rows)
        ),
    }
    Ok(())
}

/// `mla evidence`.
pub async fn evidence(
    client: &Client,
    format: OutputFormat,
    args: RequestArgs,
) -> Result<(), Failure> {
    let mut mla = client.mla();
    let (mut files, mut page_token) = (Vec::new(), String::new());
    loop {
        let page = mla
            .list_evidence(v1::ListEvidenceRequest {
                mla_request_id: args.id.clone(),
                page_size: 100,
                page_token,
            })
            .await
            .map_err(failed(client))?
            .into_inner();
        files.extend(page.evidence);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let rows: Vec<Vec<String>> = files
        .iter()
        .map(|file| {
            vec![
                file.id.clone(),
                file.file_name.clone(),
                file.size_bytes.to_string(),
                file.sha256.clone(),
                principal(file.uploader.as_ref()),
            ]
        })
        .collect();
    match format {
        OutputFormat::Json => print_json(&json!(
            rows.iter()
                .map(|r| json!({"id": r[0], "file_name": r[1], "size_bytes": r[2], "sha256": r[3], "uploader": r[4]}))
                .collect::<Vec<_>>()
        )),
        OutputFormat::Table => print!(
            "{}",
            output::table(&["EVIDENCE", "FILE", "SIZE", "SHA-256", "UPLOADER"], &rows)
        ),
    }
    Ok(())
}
