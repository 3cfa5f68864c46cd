//! `liaisonctl mla …`: mutual legal assistance requests from the command line — a new
//! request from a JSON file, the workflow steps, messages, the overdue list, a request's
//! history and deadlines, and receipts verified against the hub's receipt keys. The
//! watch is in `mla/watch.rs`.

mod new;
pub mod receipt_file;
mod watch;

use clap::{Args, Subcommand};
use liaison_client::{Client, with_purpose};
use liaison_proto::v1;
use prost::Message;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    cli::OutputFormat,
    commands::{EXIT_CALL_FAILED, EXIT_USAGE, Failure, print_json},
    output,
    progress::{Progress, Unit},
};

/// `liaisonctl mla …`.
#[derive(Debug, Subcommand)]
pub enum MlaCommand {
    /// Creates a draft from a TOML or JSON file, or by asking for each field on a
    /// terminal (see `new --help`).
    New(NewArgs),
    /// Lists the requests your agency is a party to.
    List(ListArgs),
    /// Shows a request: state, deadlines and history (needs --purpose).
    Show {
        /// The request (`mla_…`).
        id: String,
    },
    /// Submits a draft.
    Submit(StepArgs),
    /// Acknowledges a delivered request (requested agency).
    Ack(StepArgs),
    /// Starts the assessment (requested agency).
    Assess(StepArgs),
    /// Accepts the request (requested agency).
    Accept(StepArgs),
    /// Starts the execution (requested agency).
    Start(StepArgs),
    /// Closes an executed request (requesting agency).
    Close(StepArgs),
    /// Withdraws the request (requesting agency).
    Withdraw(StepArgs),
    /// Refuses the request with grounds and reasons (requested agency).
    Refuse(RefuseArgs),
    /// Asks the requester for more information (requested agency).
    RequestInfo(TextArgs),
    /// Reports the execution (requested agency).
    Execute(ExecuteArgs),
    /// Posts a message to the other party.
    Message(TextArgs),
    /// Uploads a file as evidence on a request, its SHA-256 checked by the hub.
    Upload(UploadArgs),
    /// Downloads an evidence file, its SHA-256 checked (needs --purpose).
    Download(DownloadArgs),
    /// Follows your agency's requests as they change — submissions, steps, messages,
    /// evidence, receipts, deadlines approaching or passed — until Ctrl-C; resumable with
    /// --after.
    Watch(watch::WatchArgs),
    /// Lists a request's receipts, each verified against the hub's receipt keys; with
    /// --out DIR, saves them and the keys for `verify-receipt`.
    Receipts(ReceiptsArgs),
    /// Verifies a saved receipt: the hub's Ed25519 signature over its exact bytes, against
    /// --keys KEYS_FILE (offline) or the keys the hub publishes; shows what it proves.
    /// Exits 1 if anything differs.
    VerifyReceipt(receipt_file::VerifyReceiptArgs),
}

/// `mla new`.
#[derive(Debug, Args)]
#[command(after_long_help = NEW_FIELDS)]
pub struct NewArgs {
    /// The request as a TOML (`.toml`) or JSON (`.json`) file; the fields are listed
    /// below. Without it, `mla new` asks for each field when run on a terminal.
    #[arg(long)]
    pub file: Option<std::path::PathBuf>,
    /// Ask for each field even when standard input is not a terminal, reading one answer
    /// per line (for scripts and tests).
    #[arg(long, conflicts_with = "file")]
    pub interactive: bool,
}

/// The fields of a `mla new` file, for `new --help`.
const NEW_FIELDS: &str = r#"Fields of a request file (TOML shown; JSON has the same keys):

  requested_agency = "RS-MUP"
  legal_basis = "BUDAPEST_ART_29_PRESERVATION"   # or _ART_30_…, _ART_31_…, _ART_33_…, _ART_34_…,
                                                 # PROTOCOL_ART_9_…, PROTOCOL_ART_10_…, BILATERAL_TREATY
  bilateral_treaty = "…"                         # with BILATERAL_TREATY
  urgency = "EMERGENCY"                          # ROUTINE, URGENT or EMERGENCY
  emergency_justification = "…"                  # with EMERGENCY
  case_reference = "UA-2026-1187"
  language = "uk"                                # BCP 47, of every text
  requesting_authority = "…"
  offence = "…"
  summary_of_facts = "…"
  preservation_requested = true
  preservation_necessity = "…"
  full_request_to_follow = true

  [[data_sought]]
  category = "TRAFFIC"                           # SUBSCRIBER, TRAFFIC or CONTENT
  description = "…"
  relation_to_offence = "…"
  provider = "Example Hosting d.o.o."
  identifiers = [{ type = "IP_ADDRESS", value = "203.0.113.45", time = 2026-11-20T08:53:20Z, time_zone = "Europe/Kyiv" }]

The hub checks the request when it is submitted and names every missing or wrong field."#;

/// `mla receipts`.
#[derive(Debug, Args)]
pub struct ReceiptsArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// Save every receipt as DIR/rct_….json and the hub's receipt keys as
    /// DIR/receipt-keys.json (the directory is created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
}

/// `mla upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// The file to upload.
    pub file: std::path::PathBuf,
    /// Its IANA media type.
    #[arg(long, default_value = "application/octet-stream")]
    pub media_type: String,
    /// What the file is and how it was obtained (chain of custody).
    #[arg(long)]
    pub description: Option<String>,
    /// The language of the description (BCP 47).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

/// `mla download`.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The evidence file (`evd_…`).
    pub evidence_id: String,
    /// Where to write it; written only once complete and verified.
    #[arg(long)]
    pub out: std::path::PathBuf,
}

/// `mla list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only requests with an overdue deadline.
    #[arg(long)]
    pub overdue: bool,
}

/// A step with an optional comment.
#[derive(Debug, Args)]
pub struct StepArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// A note for the history.
    #[arg(long)]
    pub comment: Option<String>,
    /// The language of the text (BCP 47).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

/// A step whose text is required.
#[derive(Debug, Args)]
pub struct TextArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// The text.
    pub text: String,
    /// The language of the text (BCP 47).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

/// `mla refuse`.
#[derive(Debug, Args)]
pub struct RefuseArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// Grounds (repeatable): POLITICAL_OFFENCE, ESSENTIAL_INTERESTS, DOMESTIC_LAW_OR_TREATY,
    /// DUAL_CRIMINALITY, CONFIDENTIALITY_NOT_POSSIBLE, INSUFFICIENT_INFORMATION,
    /// DATA_NOT_AVAILABLE, OTHER.
    #[arg(long = "grounds", required = true)]
    pub grounds: Vec<String>,
    /// The reasons (Art. 27(7)).
    #[arg(long)]
    pub reasons: String,
    /// The language of the text (BCP 47).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

/// `mla execute`.
#[derive(Debug, Args)]
pub struct ExecuteArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// What was done.
    #[arg(long)]
    pub summary: String,
    /// Only part was executed; say what was not and why with --not-executed.
    #[arg(long)]
    pub partial: bool,
    /// What was not done and why.
    #[arg(long)]
    pub not_executed: Option<String>,
    /// The language of the text (BCP 47).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

fn text(text: &str, language: &str) -> Option<v1::LocalizedText> {
    Some(v1::LocalizedText {
        text: text.to_owned(),
        language: language.to_owned(),
    })
}

fn request_id() -> String {
    format!(
        "liaisonctl-{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    )
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::new(EXIT_USAGE, message)
}

/// An enum value by its name without the prefix (`EMERGENCY` for `MLA_URGENCY_EMERGENCY`).
fn named(
    prefix: &str,
    name: &str,
    parse: fn(&str) -> Option<i32>,
    field: &str,
) -> Result<i32, Failure> {
    parse(&format!("{prefix}{}", name.to_ascii_uppercase()))
        .ok_or_else(|| usage(format!("{field}: unknown value {name:?}")))
}

fn short_name(full: Option<&str>, prefix: &str) -> String {
    output::enum_name(full.map(|name| name.trim_start_matches(prefix)))
}

fn state_name(state: i32) -> String {
    short_name(
        v1::MlaState::try_from(state).ok().map(|s| s.as_str_name()),
        "MLA_STATE_",
    )
}

/// The content a `mla new` JSON file describes.
fn content_from_json(value: &Value) -> Result<v1::MlaRequestContent, Failure> {
    let string = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
    let language = value["language"].as_str().unwrap_or("en").to_owned();
    let localized = |key: &str| value[key].as_str().and_then(|t| text(t, &language));
    let time = |raw: &str| -> Result<Option<prost_types::Timestamp>, Failure> {
        if raw.is_empty() {
            return Ok(None);
        }
        let parsed =
            time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
                .map_err(|_| usage(format!("not an RFC 3339 time: {raw:?}")))?;
        Ok(Some(prost_types::Timestamp {
            seconds: parsed.unix_timestamp(),
            nanos: 0,
        }))
    };
    let mut data_sought = Vec::new();
    for item in value["data_sought"].as_array().into_iter().flatten() {
        let item_text = |key: &str| item[key].as_str().and_then(|t| text(t, &language));
        let mut identifiers = Vec::new();
        for identifier in item["identifiers"].as_array().into_iter().flatten() {
            identifiers.push(v1::MlaIdentifier {
                r#type: named(
                    "MLA_IDENTIFIER_TYPE_",
                    identifier["type"].as_str().unwrap_or("OTHER"),
                    |name| v1::MlaIdentifierType::from_str_name(name).map(|v| v as i32),
                    "identifiers.type",
                )?,
                value: identifier["value"].as_str().unwrap_or_default().to_owned(),
                observe_time: time(identifier["time"].as_str().unwrap_or_default())?,
                time_zone: identifier["time_zone"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                ..v1::MlaIdentifier::default()
            });
        }
        data_sought.push(v1::MlaDataSought {
            category: named(
                "MLA_DATA_CATEGORY_",
                item["category"].as_str().unwrap_or("UNSPECIFIED"),
                |name| v1::MlaDataCategory::from_str_name(name).map(|v| v as i32),
                "data_sought.category",
            )?,
            identifiers,
            service_provider: item["provider"]
                .as_str()
                .map(|name| v1::MlaServiceProvider {
                    name: name.to_owned(),
                    ..v1::MlaServiceProvider::default()
                }),
            description: item_text("description"),
            relation_to_offence: item_text("relation_to_offence"),
        });
    }
    Ok(v1::MlaRequestContent {
        requested_agency_id: string("requested_agency"),
        legal_basis: named(
            "MLA_LEGAL_BASIS_",
            value["legal_basis"].as_str().unwrap_or("UNSPECIFIED"),
            |name| v1::MlaLegalBasis::from_str_name(name).map(|v| v as i32),
            "legal_basis",
        )?,
        bilateral_treaty: localized("bilateral_treaty"),
        urgency: named(
            "MLA_URGENCY_",
            value["urgency"].as_str().unwrap_or("UNSPECIFIED"),
            |name| v1::MlaUrgency::from_str_name(name).map(|v| v as i32),
            "urgency",
        )?,
        emergency_justification: localized("emergency_justification"),
        case_reference: string("case_reference"),
        requesting_authority: localized("requesting_authority"),
        offence: localized("offence").map(|description| v1::MlaOffence {
            description: Some(description),
            ..v1::MlaOffence::default()
        }),
        summary_of_facts: localized("summary_of_facts"),
        data_sought,
        preservation_requested: value["preservation_requested"].as_bool().unwrap_or(false),
        preservation_necessity: localized("preservation_necessity"),
        full_request_to_follow: value["full_request_to_follow"].as_bool().unwrap_or(false),
        language,
        ..v1::MlaRequestContent::default()
    })
}

fn request_json(request: &v1::MlaRequest) -> Value {
    let content = request.content.clone().unwrap_or_default();
    json!({
        "id": request.id,
        "state": state_name(request.state),
        "requesting_agency_id": request.requesting_agency_id,
        "requested_agency_id": content.requested_agency_id,
        "case_reference": content.case_reference,
        "overdue": request.overdue,
        "etag": request.etag,
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

fn print_request(request: &v1::MlaRequest, format: OutputFormat) {
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

/// Runs `liaisonctl mla …`.
pub async fn run(
    client: &Client,
    format: OutputFormat,
    purpose: Option<&str>,
    command: MlaCommand,
) -> Result<(), Failure> {
    let mut mla = client.mla();
    let failed = |status: tonic::Status| Failure::from_status(client, &status);
    let comment = |args: &StepArgs| args.comment.as_deref().and_then(|c| text(c, &args.lang));
    // A step whose request holds only an idempotency key, the request, no etag and an
    // optional note (`comment`, or `reason` for a withdrawal).
    macro_rules! step {
        ($method:ident, $request:ident, $note:ident, $args:ident) => {
            mla.$method(v1::$request {
                request_id: request_id(),
                $note: comment(&$args),
                mla_request_id: $args.id,
                etag: String::new(),
            })
            .await
            .map_err(failed)?
            .into_inner()
            .mla_request
        };
    }
    let request = match command {
        MlaCommand::New(args) => {
            let value = match args.file {
                Some(path) => new::from_file(&path)?,
                None if args.interactive || std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
                    // Prompts block on the terminal: off the runtime's thread.
                    tokio::task::spawn_blocking(|| {
                        new::from_prompts(&mut std::io::stdin().lock(), &mut std::io::stderr())
                    })
                    .await
                    .map_err(|error| usage(format!("prompts: {error}")))??
                }
                None => {
                    return Err(usage(
                        "mla new needs --file REQUEST.toml (or .json); without it, it asks for \
                         each field, but standard input is not a terminal (use --interactive \
                         to answer from standard input)",
                    ));
                }
            };
            let content = content_from_json(&value)?;
            mla.create_draft(v1::CreateDraftRequest {
                request_id: request_id(),
                content: Some(content),
            })
            .await
            .map_err(failed)?
            .into_inner()
            .mla_request
        }
        MlaCommand::List(args) => {
            let requests = mla
                .list_requests(v1::ListRequestsRequest {
                    page_size: 500,
                    overdue_only: args.overdue,
                    ..v1::ListRequestsRequest::default()
                })
                .await
                .map_err(failed)?
                .into_inner()
                .mla_requests;
            match format {
                OutputFormat::Json => {
                    print_json(&Value::Array(requests.iter().map(request_json).collect()))
                }
                OutputFormat::Table => {
                    let rows: Vec<Vec<String>> = requests
                        .iter()
                        .map(|request| {
                            let content = request.content.clone().unwrap_or_default();
                            vec![
                                request.id.clone(),
                                state_name(request.state),
                                request.requesting_agency_id.clone(),
                                content.requested_agency_id,
                                content.case_reference,
                                if request.overdue {
                                    "OVERDUE".into()
                                } else {
                                    String::new()
                                },
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        output::table(&["ID", "STATE", "FROM", "TO", "CASE", ""], &rows)
                    );
                }
            }
            return Ok(());
        }
        MlaCommand::Show { id } => {
            let purpose = purpose.ok_or_else(|| {
                usage("reading a request needs --purpose TEXT (or LIAISON_PURPOSE)")
            })?;
            mla.get_request(with_purpose(
                v1::GetRequestRequest {
                    mla_request_id: id,
                    view: v1::MlaRequestView::Full as i32,
                },
                purpose,
            ))
            .await
            .map_err(failed)?
            .into_inner()
            .mla_request
        }
        MlaCommand::Submit(args) => {
            mla.submit_request(v1::SubmitRequestRequest {
                request_id: request_id(),
                mla_request_id: args.id,
                etag: String::new(),
            })
            .await
            .map_err(failed)?
            .into_inner()
            .mla_request
        }
        MlaCommand::Ack(args) => step!(
            acknowledge_request,
            AcknowledgeRequestRequest,
            comment,
            args
        ),
        MlaCommand::Assess(args) => step!(start_assessment, StartAssessmentRequest, comment, args),
        MlaCommand::Accept(args) => step!(accept_request, AcceptRequestRequest, comment, args),
        MlaCommand::Start(args) => step!(start_execution, StartExecutionRequest, comment, args),
        MlaCommand::Close(args) => step!(close_request, CloseRequestRequest, comment, args),
        MlaCommand::Withdraw(args) => step!(withdraw_request, WithdrawRequestRequest, reason, args),
        MlaCommand::Refuse(args) => {
            let grounds = args
                .grounds
                .iter()
                .map(|ground| {
                    named(
                        "MLA_REFUSAL_GROUND_",
                        ground,
                        |name| v1::MlaRefusalGround::from_str_name(name).map(|v| v as i32),
                        "--grounds",
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            mla.refuse_request(v1::RefuseRequestRequest {
                request_id: request_id(),
                mla_request_id: args.id,
                etag: String::new(),
                grounds,
                reasons: text(&args.reasons, &args.lang),
            })
            .await
            .map_err(failed)?
            .into_inner()
            .mla_request
        }
        MlaCommand::RequestInfo(args) => {
            mla.request_more_information(v1::RequestMoreInformationRequest {
                request_id: request_id(),
                mla_request_id: args.id,
                questions: text(&args.text, &args.lang),
                ..v1::RequestMoreInformationRequest::default()
            })
            .await
            .map_err(failed)?
            .into_inner()
            .mla_request
        }
        MlaCommand::Execute(args) => {
            mla.report_execution(v1::ReportExecutionRequest {
                request_id: request_id(),
                mla_request_id: args.id,
                partial: args.partial,
                summary: text(&args.summary, &args.lang),
                not_executed_reasons: args
                    .not_executed
                    .as_deref()
                    .and_then(|t| text(t, &args.lang)),
                ..v1::ReportExecutionRequest::default()
            })
            .await
            .map_err(failed)?
            .into_inner()
            .mla_request
        }
        MlaCommand::Message(args) => {
            let message = mla
                .post_message(v1::PostMessageRequest {
                    request_id: request_id(),
                    mla_request_id: args.id,
                    body: text(&args.text, &args.lang),
                    evidence_ids: Vec::new(),
                })
                .await
                .map_err(failed)?
                .into_inner()
                .message
                .unwrap_or_default();
            match format {
                OutputFormat::Json => print_json(&json!({ "id": message.id })),
                OutputFormat::Table => println!("{}", message.id),
            }
            return Ok(());
        }
        MlaCommand::Receipts(args) => return receipts(client, format, args).await,
        MlaCommand::VerifyReceipt(args) => {
            let keys = mla
                .get_receipt_keys(v1::GetReceiptKeysRequest {})
                .await
                .map_err(failed)?
                .into_inner()
                .keys;
            return receipt_file::verify_file(format, &args, &keys, "fetched from the hub");
        }
        MlaCommand::Watch(args) => return watch::watch(client, format, args).await,
        MlaCommand::Upload(args) => return upload(client, format, args).await,
        MlaCommand::Download(args) => return download(client, format, purpose, args).await,
    };
    print_request(&request.unwrap_or_default(), format);
    Ok(())
}

/// Lists and verifies a request's receipts; fails if any does not verify.
async fn receipts(
    client: &Client,
    format: OutputFormat,
    args: ReceiptsArgs,
) -> Result<(), Failure> {
    let id = args.id;
    let mut mla = client.mla();
    let failed = |status: tonic::Status| Failure::from_status(client, &status);
    let keys = mla
        .get_receipt_keys(v1::GetReceiptKeysRequest {})
        .await
        .map_err(failed)?
        .into_inner()
        .keys;
    // Every receipt, page by page: a saved or verified set must not stop at the first page.
    let mut receipts = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = mla
            .list_receipts(v1::ListReceiptsRequest {
                mla_request_id: id.clone(),
                // The hub's default page (100); a request rarely has more.
                page_size: 0,
                page_token,
            })
            .await
            .map_err(failed)?
            .into_inner();
        receipts.extend(page.receipts);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|error| usage(format!("{}: {error}", dir.display())))?;
        receipt_file::save_keys(dir, &keys)?;
        for receipt in &receipts {
            receipt_file::save_receipt(dir, receipt)?;
        }
        eprintln!(
            "saved {} receipt(s) and the hub's receipt keys ({}) in {}",
            receipts.len(),
            receipt_file::KEYS_FILE,
            dir.display()
        );
    }
    let mut rows = Vec::new();
    let mut all_verified = true;
    for receipt in &receipts {
        let verified = receipt_file::verify(receipt, &keys).is_ok();
        all_verified &= verified;
        let statement =
            v1::MlaReceiptStatement::decode(receipt.statement.as_slice()).unwrap_or_default();
        rows.push(vec![
            receipt.id.clone(),
            short_name(
                v1::MlaReceiptKind::try_from(statement.kind)
                    .ok()
                    .map(|k| k.as_str_name()),
                "MLA_RECEIPT_KIND_",
            ),
            output::time(statement.event_time.as_ref()),
            statement
                .actor
                .map(|actor| format!("{}/{}", actor.agency_id, actor.name))
                .unwrap_or_default(),
            if verified {
                "verified".into()
            } else {
                "INVALID".into()
            },
        ]);
    }
    match format {
        OutputFormat::Json => print_json(&Value::Array(
            rows.iter()
                .map(|row| json!({"id": row[0], "kind": row[1], "time": row[2], "actor": row[3], "signature": row[4]}))
                .collect(),
        )),
        OutputFormat::Table => print!("{}", output::table(&["RECEIPT", "KIND", "TIME", "ACTOR", "SIGNATURE"], &rows)),
    }
    if all_verified {
        Ok(())
    } else {
        Err(Failure::new(
            EXIT_CALL_FAILED,
            "a receipt does not verify against the hub's receipt keys",
        ))
    }
}

/// Uploads a file as evidence, streaming it in 1 MiB chunks with its SHA-256 announced.
async fn upload(client: &Client, format: OutputFormat, args: UploadArgs) -> Result<(), Failure> {
    use tokio::io::AsyncReadExt;
    use v1::upload_evidence_request::Payload;
    let unreadable = |error: std::io::Error| usage(format!("{}: {error}", args.file.display()));
    // First pass: the digest the hub must find (it refuses the upload otherwise).
    let mut file = tokio::fs::File::open(&args.file)
        .await
        .map_err(unreadable)?;
    let length = file.metadata().await.map_err(unreadable)?.len();
    let mut hashing = Progress::new("hashing", length, Unit::Bytes);
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    let mut size: u64 = 0;
    loop {
        let read = file.read(&mut buffer).await.map_err(unreadable)?;
        if read == 0 {
            break;
        }
        Digest::update(&mut hasher, &buffer[..read]);
        size += read as u64;
        hashing.draw(size);
    }
    hashing.finish();
    let sha256 = hex::encode(Digest::finalize(hasher));
    let file_name = args
        .file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "evidence".into());
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let first = v1::UploadEvidenceRequest {
        request_id: request_id(),
        payload: Some(Payload::Metadata(v1::MlaEvidenceUploadMetadata {
            mla_request_id: args.id.clone(),
            file_name,
            media_type: args.media_type.clone(),
            description: args
                .description
                .as_deref()
                .and_then(|d| text(d, &args.lang)),
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            expected_sha256: sha256.clone(),
        })),
    };
    let path = args.file.clone();
    let mut uploading = Progress::new("uploading", size, Unit::Bytes);
    // Second pass, streamed: one chunk in memory at a time. The bar counts what the
    // transport has taken; at most a few chunks wait in between.
    let sending = tokio::spawn(async move {
        if sender.send(first).await.is_err() {
            return;
        }
        let Ok(mut file) = tokio::fs::File::open(&path).await else {
            return;
        };
        let mut buffer = vec![0; 1 << 20];
        let mut sent: u64 = 0;
        while let Ok(read) = file.read(&mut buffer).await {
            if read == 0 {
                break;
            }
            let chunk = v1::UploadEvidenceRequest {
                request_id: String::new(),
                payload: Some(Payload::Chunk(buffer[..read].to_vec())),
            };
            if sender.send(chunk).await.is_err() {
                return;
            }
            sent += read as u64;
            uploading.draw(sent);
        }
        uploading.finish();
    });
    let response = client
        .mla()
        .upload_evidence(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await
        .map_err(|status| Failure::from_status(client, &status));
    // The bar's last line is written before the result is printed.
    let _ = sending.await;
    let response = response?.into_inner();
    let evidence = response.evidence.unwrap_or_default();
    let receipt = response
        .receipt
        .map(|receipt| receipt.id)
        .unwrap_or_default();
    match format {
        OutputFormat::Json => print_json(&json!({
            "id": evidence.id, "sha256": evidence.sha256, "size_bytes": evidence.size_bytes, "receipt": receipt,
        })),
        OutputFormat::Table => print!(
            "{}",
            output::table(
                &["EVIDENCE", "SIZE", "SHA-256", "RECEIPT"],
                &[vec![
                    evidence.id,
                    evidence.size_bytes.to_string(),
                    evidence.sha256,
                    receipt
                ]]
            )
        ),
    }
    Ok(())
}

/// Downloads an evidence file to `--out`, checking its SHA-256; nothing is left at
/// `--out` unless the whole file arrived and matched.
async fn download(
    client: &Client,
    format: OutputFormat,
    purpose: Option<&str>,
    args: DownloadArgs,
) -> Result<(), Failure> {
    use tokio::io::AsyncWriteExt;
    use v1::download_evidence_response::Payload;
    let purpose = purpose
        .ok_or_else(|| usage("downloading evidence needs --purpose TEXT (or LIAISON_PURPOSE)"))?;
    let mut stream = client
        .mla()
        .download_evidence(with_purpose(
            v1::DownloadEvidenceRequest {
                evidence_id: args.evidence_id.clone(),
                offset: 0,
            },
            purpose,
        ))
        .await
        .map_err(|status| Failure::from_status(client, &status))?
        .into_inner();
    let partial = args.out.with_extension("part");
    let unwritable = |error: std::io::Error| usage(format!("{}: {error}", partial.display()));
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(unwritable)?;
    let mut hasher = Sha256::new();
    let (mut expected, mut receipt, mut size) = (String::new(), String::new(), 0u64);
    let mut downloading: Option<Progress> = None;
    loop {
        match stream.message().await {
            Ok(Some(message)) => match message.payload {
                Some(Payload::Metadata(metadata)) => {
                    let total = u64::try_from(metadata.size_bytes).unwrap_or(0);
                    downloading = Some(Progress::new("downloading", total, Unit::Bytes));
                    expected = metadata.sha256;
                }
                Some(Payload::Chunk(chunk)) => {
                    Digest::update(&mut hasher, &chunk);
                    size += chunk.len() as u64;
                    file.write_all(&chunk).await.map_err(unwritable)?;
                    if let Some(bar) = downloading.as_mut() {
                        bar.draw(size);
                    }
                }
                Some(Payload::Receipt(issued)) => receipt = issued.id,
                None => {}
            },
            Ok(None) => break,
            Err(status) => {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(Failure::from_status(client, &status));
            }
        }
    }
    if let Some(bar) = &downloading {
        bar.finish();
    }
    file.flush().await.map_err(unwritable)?;
    drop(file);
    let sha256 = hex::encode(Digest::finalize(hasher));
    if sha256 != expected {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(Failure::new(
            EXIT_CALL_FAILED,
            "the file received does not match its SHA-256; nothing was kept",
        ));
    }
    tokio::fs::rename(&partial, &args.out)
        .await
        .map_err(unwritable)?;
    match format {
        OutputFormat::Json => print_json(&json!({
            "file": args.out.display().to_string(), "sha256": sha256, "size_bytes": size, "receipt": receipt,
        })),
        OutputFormat::Table => print!(
            "{}",
            output::table(
                &["FILE", "SIZE", "SHA-256", "RECEIPT"],
                &[vec![
                    args.out.display().to_string(),
                    size.to_string(),
                    sha256,
                    receipt
                ]]
            )
        ),
    }
    Ok(())
}
