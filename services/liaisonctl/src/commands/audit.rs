//! `liaisonctl audit …`: query and tail the log here; export and verify (with a
//! witness's memory) in `audit/verify.rs`.

mod verify;

use clap::{Args, Subcommand};
use liaison_client::Client;
use liaison_proto::v1;
use serde_json::{Value, json};

pub use self::verify::verify;
use crate::{
    call::next_followed,
    failure::{EXIT_USAGE, Failure, failed},
    output::{self, OutputFormat, print_json},
    parse::parse_time,
};

/// `liaisonctl audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Search audit records. Agency auditors see their agency's actions and the access to
    /// what their agency owns; oversight auditors see everything.
    Query(AuditQueryArgs),
    /// Write the log's records as JSON lines, ending with the signed checkpoint that
    /// covers them, for `audit verify FILE`.
    Export(verify::AuditExportArgs),
    /// Verify an exported file, or the live log, against a signed checkpoint and the
    /// hub's public key. Also checks, as a witness, that the log extends the last
    /// checkpoint this client verified for the hub: a rewritten or forked history fails.
    Verify(verify::AuditVerifyArgs),
    /// Follow new audit records as they are logged (Ctrl-C to stop).
    Tail(AuditTailArgs),
    /// Show the latest signed checkpoint: tree size, root and the signed note.
    Checkpoint,
    /// Prove that one record is in the log: its inclusion proof against a tree size.
    Prove {
        /// The record's leaf index.
        leaf: u64,
        /// The tree size to prove against [default: the latest checkpoint's]
        #[arg(long)]
        size: Option<u64>,
    },
}

#[derive(Debug, Args)]
pub struct AuditQueryArgs {
    /// Only records of this acting agency.
    #[arg(long)]
    pub agency: Option<String>,
    /// Only records of this principal, AGENCY-ID/kind/name.
    #[arg(long)]
    pub principal: Option<String>,
    /// Only this method, e.g. /liaison.v1.IndicatorService/GetIndicator.
    #[arg(long)]
    pub method: Option<String>,
    /// Only records that touched this object (ind_…, an agency id, …).
    #[arg(long)]
    pub object: Option<String>,
    /// Only records that touched objects owned by this agency.
    #[arg(long)]
    pub owner: Option<String>,
    /// Only outcomes of this class: ok, denied or failed.
    #[arg(long)]
    pub outcome: Option<String>,
    /// From this time, RFC 3339.
    #[arg(long)]
    pub since: Option<String>,
    /// Before this time, RFC 3339.
    #[arg(long)]
    pub until: Option<String>,
    /// Newest records first.
    #[arg(long)]
    pub newest_first: bool,
    /// At most this many records.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct AuditTailArgs {
    /// Stop after this many records.
    #[arg(long)]
    pub limit: Option<u64>,
}

/// Runs an `audit` subcommand against the hub at `endpoint`.
pub async fn run(
    client: &Client,
    endpoint: &str,
    format: OutputFormat,
    command: AuditCommand,
) -> Result<(), Failure> {
    match command {
        AuditCommand::Query(args) => query(client, format, args).await,
        AuditCommand::Export(args) => verify::export(client, args).await,
        AuditCommand::Verify(args) => verify::verify(Some(client), endpoint, format, args).await,
        AuditCommand::Tail(args) => tail(client, format, args).await,
        AuditCommand::Checkpoint => checkpoint(client, format).await,
        AuditCommand::Prove { leaf, size } => prove(client, format, leaf, size).await,
    }
}

/// `audit query`: records the caller may see, page by page.
pub async fn query(
    client: &Client,
    format: OutputFormat,
    args: AuditQueryArgs,
) -> Result<(), Failure> {
    let principal = match &args.principal {
        None => None,
        Some(text) => {
            let parts: Vec<&str> = text.split('/').collect();
            let [agency, kind, name] = parts[..] else {
                return Err(Failure::new(
                    EXIT_USAGE,
                    format!("--principal {text:?}: expected AGENCY-ID/kind/name"),
                ));
            };
            Some(v1::PrincipalRef {
                agency_id: agency.into(),
                kind: if kind == "system" {
                    v1::PrincipalKind::System
                } else {
                    v1::PrincipalKind::Person
                } as i32,
                name: name.into(),
            })
        }
    };
    let outcome_class = match args.outcome.as_deref() {
        None => v1::AuditOutcomeClass::Unspecified,
        Some("ok") => v1::AuditOutcomeClass::Ok,
        Some("denied") => v1::AuditOutcomeClass::Denied,
        Some("failed") => v1::AuditOutcomeClass::Failed,
        Some(other) => {
            return Err(Failure::new(
                EXIT_USAGE,
                format!("--outcome {other:?}: expected ok, denied or failed"),
            ));
        }
    };
    let mut request = v1::QueryRecordsRequest {
        page_size: i32::try_from(args.limit.min(1_000)).unwrap_or(1_000),
        start_time: args.since.as_deref().map(parse_time).transpose()?,
        end_time: args.until.as_deref().map(parse_time).transpose()?,
        agency_id: args.agency.unwrap_or_default(),
        principal,
        method: args.method.unwrap_or_default(),
        object_id: args.object.unwrap_or_default(),
        owner_agency_id: args.owner.unwrap_or_default(),
        outcome_class: outcome_class as i32,
        newest_first: args.newest_first,
        ..v1::QueryRecordsRequest::default()
    };
    let mut audit = client.audit();
    let mut records = Vec::new();
    while records.len() < args.limit {
        let page = audit
            .query_records(request.clone())
            .await
            .map_err(failed(client))?
            .into_inner();
        records.extend(page.records);
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    records.truncate(args.limit);
    match format {
        OutputFormat::Json => {
            print_json(&json!(records.iter().map(record_json).collect::<Vec<_>>()))
        }
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = records.iter().map(record_row).collect();
            print!(
                "{}",
                output::table(
                    &["INDEX", "TIME", "PRINCIPAL", "METHOD", "OUTCOME", "OBJECTS"],
                    &rows
                )
            );
        }
    }
    Ok(())
}

fn principal_text(record: &v1::AuditRecord) -> String {
    record
        .actor
        .as_ref()
        .and_then(|actor| actor.principal.as_ref())
        .map(|p| {
            let kind = if p.kind == v1::PrincipalKind::System as i32 {
                "system"
            } else {
                "person"
            };
            format!("{}/{}/{}", p.agency_id, kind, p.name)
        })
        .unwrap_or_else(|| "-".into())
}

fn outcome_text(record: &v1::AuditRecord) -> String {
    let code = record.outcome.as_ref().map_or(2, |outcome| outcome.code);
    format!("{:?}", tonic::Code::from_i32(code))
}

fn record_row(record: &v1::AuditRecord) -> Vec<String> {
    vec![
        record.leaf_index.to_string(),
        output::time(record.time.as_ref()),
        principal_text(record),
        record.method.trim_start_matches("/liaison.v1.").to_owned(),
        outcome_text(record),
        record
            .objects
            .iter()
            .map(|o| o.object_id.clone())
            .collect::<Vec<_>>()
            .join(","),
    ]
}

fn record_json(record: &v1::AuditRecord) -> Value {
    json!({
        "leaf_index": record.leaf_index,
        "time": output::time(record.time.as_ref()),
        "principal": principal_text(record),
        "certificate_sha256": record.actor.as_ref().map(|a| a.certificate_sha256.clone()),
        "method": record.method,
        "outcome": record.outcome.as_ref().map_or(2, |o| o.code),
        "deny_reason": record.outcome.as_ref().map(|o| o.deny_reason.clone()).filter(|r| !r.is_empty()),
        "justification": Some(record.justification.clone()).filter(|j| !j.is_empty()),
        "client_address": record.client_address,
        "objects": record.objects.iter().map(|o| json!({
            "id": o.object_id,
            "access": output::enum_name(v1::AuditAccessKind::try_from(o.access).ok()
                .map(|a| a.as_str_name().trim_start_matches("AUDIT_ACCESS_KIND_"))),
            "owner": Some(o.owner_agency_id.clone()).filter(|owner| !owner.is_empty()),
            "anonymous": o.anonymous.then_some(true),
        })).collect::<Vec<_>>(),
        "redacted": record.redacted.then_some(true),
    })
}

/// `audit tail`: follows new records from the current checkpoint.
pub async fn tail(
    client: &Client,
    format: OutputFormat,
    args: AuditTailArgs,
) -> Result<(), Failure> {
    let mut audit = client.audit();
    let start = audit
        .get_checkpoint(v1::GetCheckpointRequest {})
        .await
        .map(|response| response.into_inner().checkpoint.map_or(0, |c| c.tree_size))
        .unwrap_or(0);
    let mut stream = audit
        .export_records(v1::ExportRecordsRequest {
            start_index: start,
            follow: true,
            ..v1::ExportRecordsRequest::default()
        })
        .await
        .map_err(failed(client))?
        .into_inner();
    if format == OutputFormat::Table {
        eprintln!("following the audit log from record {start} (Ctrl-C to stop)");
    }
    let mut seen = 0u64;
    loop {
        if args.limit.is_some_and(|limit| seen >= limit) {
            return Ok(());
        }
        let Some(message) = next_followed(client, &mut stream).await? else {
            return Ok(());
        };
        let Some(v1::export_records_response::Item::Leaf(leaf)) = message.item else {
            continue;
        };
        seen += 1;
        let Some(record) = leaf.record else { continue };
        match format {
            OutputFormat::Json => crate::output::print_json_line(&record_json(&record)),
            OutputFormat::Table => crate::output::say!("{}", record_row(&record).join("  ")),
        }
    }
}

/// `audit checkpoint`.
async fn checkpoint(client: &Client, format: OutputFormat) -> Result<(), Failure> {
    let checkpoint = latest_checkpoint(client).await?;
    match format {
        OutputFormat::Json => print_json(&json!({
            "origin": checkpoint.origin,
            "tree_size": checkpoint.tree_size,
            "root": hex::encode(&checkpoint.root_hash),
            "sign_time": output::time(checkpoint.sign_time.as_ref()),
            "signed_note": checkpoint.signed_note,
        })),
        OutputFormat::Table => print!("{}", checkpoint.signed_note),
    }
    Ok(())
}

async fn latest_checkpoint(client: &Client) -> Result<v1::AuditCheckpoint, Failure> {
    Ok(client
        .audit()
        .get_checkpoint(v1::GetCheckpointRequest {})
        .await
        .map_err(failed(client))?
        .into_inner()
        .checkpoint
        .unwrap_or_default())
}

/// `audit prove`: the audit path of one leaf (RFC 9162 §2.1.3.1).
async fn prove(
    client: &Client,
    format: OutputFormat,
    leaf_index: u64,
    size: Option<u64>,
) -> Result<(), Failure> {
    let tree_size = match size {
        Some(size) => size,
        None => latest_checkpoint(client).await?.tree_size,
    };
    let proof = client
        .audit()
        .get_inclusion_proof(v1::GetInclusionProofRequest {
            leaf_index,
            tree_size,
        })
        .await
        .map_err(failed(client))?
        .into_inner();
    let hashes: Vec<String> = proof.hashes.iter().map(hex::encode).collect();
    match format {
        OutputFormat::Json => print_json(&json!({
            "leaf_index": proof.leaf_index,
            "tree_size": proof.tree_size,
            "leaf_hash": hex::encode(&proof.leaf_hash),
            "hashes": hashes,
        })),
        OutputFormat::Table => {
            crate::output::say!(
                "leaf {} of {}: {}",
                proof.leaf_index,
                proof.tree_size,
                hex::encode(&proof.leaf_hash)
            );
            for hash in hashes {
                crate::output::say!("  {hash}");
            }
        }
    }
    Ok(())
}
