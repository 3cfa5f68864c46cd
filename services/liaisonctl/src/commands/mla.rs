//! `liaisonctl mla …`: mutual legal assistance requests from the command line — a new
//! request from a file or prompts, the workflow steps, messages, the overdue list, a
//! request's history and deadlines. Evidence is in `mla/evidence.rs`, receipts in
//! `mla/receipts.rs` and `mla/receipt_file.rs`, the watch in `mla/watch.rs`.

mod content;
mod evidence;
mod lists;
mod new;
mod receipt_file;
mod receipts;
mod steps;
mod view;
mod watch;

use clap::{Args, Subcommand};
use liaison_client::{Client, with_purpose};
use liaison_proto::v1;
use serde_json::{Value, json};

use self::view::{print_request, request_json, state_name};
use crate::{
    call::{request_id, required_purpose, text},
    failure::{Failure, failed},
    output::{self, OutputFormat, print_json},
    parse::enum_number,
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
    /// Lists a request's messages, oldest first (the texts need --purpose).
    Messages(lists::RequestArgs),
    /// Replaces a draft's content from a file (requesting agency; drafts only).
    Update(steps::UpdateArgs),
    /// Deletes a draft that was never submitted (requesting agency).
    Delete(steps::DeleteArgs),
    /// Answers a request for more information (requesting agency).
    ProvideInfo(steps::ProvideArgs),
    /// Postpones the request with reasons (requested agency, Art. 27(5)).
    Postpone(steps::PostponeArgs),
    /// Resumes the assessment of a postponed request (requested agency).
    Resume(steps::NoteArgs),
    /// Conditions for granting the request: propose, accept.
    #[command(subcommand)]
    Conditions(steps::ConditionsCommand),
    /// Expedited preservation (Art. 29): confirm, request-extension, extend, hold, release.
    #[command(subcommand)]
    Preservation(steps::PreservationCommand),
    /// Lists a request's evidence files.
    Evidence(lists::RequestArgs),
    /// Uploads a file as evidence on a request, its SHA-256 checked by the hub.
    Upload(evidence::UploadArgs),
    /// Downloads an evidence file, its SHA-256 checked (needs --purpose).
    Download(evidence::DownloadArgs),
    /// Follows your agency's requests as they change — submissions, steps, messages,
    /// evidence, receipts, deadlines approaching or passed — until Ctrl-C; resumable with
    /// --after.
    Watch(watch::WatchArgs),
    /// Lists a request's receipts, each verified against the hub's receipt keys; with
    /// --out DIR, saves them and the keys for `verify-receipt`.
    Receipts(receipts::ReceiptsArgs),
    /// Verifies a saved receipt: the hub's Ed25519 signature over its exact bytes, against
    /// --keys KEYS_FILE (offline) or the keys the hub publishes; shows what it proves.
    /// Exits 1 if anything differs.
    VerifyReceipt(receipt_file::VerifyReceiptArgs),
}

/// `mla new`.
#[derive(Debug, Args)]
#[command(after_long_help = content::NEW_FIELDS)]
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
    /// An evidence file your agency uploaded that goes with the report (`evd_…`,
    /// repeatable).
    #[arg(long = "evidence")]
    pub evidence_ids: Vec<String>,
    /// The language of the text (BCP 47).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

/// A step whose request holds only an idempotency key, the request, no etag and an
/// optional note (`comment`, or `reason` for a withdrawal): the request after it.
macro_rules! step {
    ($client:expr, $method:ident, $request:ident, $note:ident, $args:expr) => {{
        let args: StepArgs = $args;
        $client
            .mla()
            .$method(v1::$request {
                request_id: request_id(),
                $note: args.comment.as_deref().and_then(|c| text(c, &args.lang)),
                mla_request_id: args.id,
                etag: String::new(),
            })
            .await
            .map_err(failed($client))?
            .into_inner()
            .mla_request
    }};
}

/// Verifies a saved receipt against saved receipt keys, without the hub.
pub fn verify_receipt_offline(
    format: OutputFormat,
    args: &receipt_file::VerifyReceiptArgs,
) -> Result<(), Failure> {
    let keys_file = args.keys.clone().unwrap_or_default();
    let keys = receipt_file::load_keys(&keys_file)?;
    let from = format!("from {}", keys_file.display());
    receipt_file::verify_file(format, args, &keys, &from)
}

/// Runs `liaisonctl mla …`.
pub async fn run(
    client: &Client,
    format: OutputFormat,
    purpose: Option<&str>,
    command: MlaCommand,
) -> Result<(), Failure> {
    let request = match command {
        MlaCommand::New(args) => new_draft(client, args).await?,
        MlaCommand::List(args) => return list(client, format, args).await,
        MlaCommand::Show { id } => show(client, purpose, id).await?,
        MlaCommand::Submit(args) => submit(client, args).await?,
        MlaCommand::Refuse(args) => refuse(client, args).await?,
        MlaCommand::RequestInfo(args) => request_info(client, args).await?,
        MlaCommand::Execute(args) => execute(client, args).await?,
        MlaCommand::Message(args) => return message(client, format, args).await,
        MlaCommand::Messages(args) => return lists::messages(client, format, purpose, args).await,
        MlaCommand::Evidence(args) => return lists::evidence(client, format, args).await,
        MlaCommand::Update(args) => steps::update(client, args).await?,
        MlaCommand::Delete(args) => {
            let id = args.id.clone();
            steps::delete(client, args).await?;
            match format {
                OutputFormat::Json => print_json(&json!({ "deleted": id })),
                OutputFormat::Table => crate::output::say!("deleted draft {id}"),
            }
            return Ok(());
        }
        MlaCommand::ProvideInfo(args) => steps::provide(client, args).await?,
        MlaCommand::Postpone(args) => steps::postpone(client, args).await?,
        MlaCommand::Resume(args) => steps::resume(client, args).await?,
        MlaCommand::Conditions(command) => steps::conditions(client, command).await?,
        MlaCommand::Preservation(command) => steps::preservation(client, command).await?,
        MlaCommand::Receipts(args) => return receipts::receipts(client, format, args).await,
        MlaCommand::VerifyReceipt(args) => return verify_receipt(client, format, args).await,
        MlaCommand::Watch(args) => return watch::watch(client, format, args).await,
        MlaCommand::Upload(args) => return evidence::upload(client, format, args).await,
        MlaCommand::Download(args) => {
            return evidence::download(client, format, purpose, args).await;
        }
        MlaCommand::Ack(args) => step!(
            client,
            acknowledge_request,
            AcknowledgeRequestRequest,
            comment,
            args
        ),
        MlaCommand::Assess(args) => step!(
            client,
            start_assessment,
            StartAssessmentRequest,
            comment,
            args
        ),
        MlaCommand::Accept(args) => {
            step!(client, accept_request, AcceptRequestRequest, comment, args)
        }
        MlaCommand::Start(args) => step!(
            client,
            start_execution,
            StartExecutionRequest,
            comment,
            args
        ),
        MlaCommand::Close(args) => step!(client, close_request, CloseRequestRequest, comment, args),
        MlaCommand::Withdraw(args) => step!(
            client,
            withdraw_request,
            WithdrawRequestRequest,
            reason,
            args
        ),
    };
    print_request(&request.unwrap_or_default(), format);
    Ok(())
}

/// `mla new`: a draft from a file, or from prompts on a terminal.
async fn new_draft(client: &Client, args: NewArgs) -> Result<Option<v1::MlaRequest>, Failure> {
    let value = match args.file {
        Some(path) => new::from_file(&path)?,
        None if args.interactive || std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
            // Prompts block on the terminal: off the runtime's thread.
            tokio::task::spawn_blocking(|| {
                new::from_prompts(&mut std::io::stdin().lock(), &mut std::io::stderr())
            })
            .await
            .map_err(|error| Failure::usage(format!("prompts: {error}")))??
        }
        None => {
            return Err(Failure::usage(
                "mla new needs --file REQUEST.toml (or .json); without it, it asks for \
                 each field, but standard input is not a terminal (use --interactive \
                 to answer from standard input)",
            ));
        }
    };
    let content = content::content_from_json(&value)?;
    Ok(client
        .mla()
        .create_draft(v1::CreateDraftRequest {
            request_id: request_id(),
            content: Some(content),
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .mla_request)
}

/// `mla list`.
async fn list(client: &Client, format: OutputFormat, args: ListArgs) -> Result<(), Failure> {
    let requests = client
        .mla()
        .list_requests(v1::ListRequestsRequest {
            page_size: 500,
            overdue_only: args.overdue,
            ..v1::ListRequestsRequest::default()
        })
        .await
        .map_err(failed(client))?
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
    Ok(())
}

/// `mla show`: the full request, read with a purpose.
async fn show(
    client: &Client,
    purpose: Option<&str>,
    id: String,
) -> Result<Option<v1::MlaRequest>, Failure> {
    let purpose = required_purpose(purpose, "reading a request")?;
    Ok(client
        .mla()
        .get_request(with_purpose(
            v1::GetRequestRequest {
                mla_request_id: id,
                view: v1::MlaRequestView::Full as i32,
            },
            purpose,
        ))
        .await
        .map_err(failed(client))?
        .into_inner()
        .mla_request)
}

/// `mla submit`.
async fn submit(client: &Client, args: StepArgs) -> Result<Option<v1::MlaRequest>, Failure> {
    Ok(client
        .mla()
        .submit_request(v1::SubmitRequestRequest {
            request_id: request_id(),
            mla_request_id: args.id,
            etag: String::new(),
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .mla_request)
}

/// `mla refuse`.
async fn refuse(client: &Client, args: RefuseArgs) -> Result<Option<v1::MlaRequest>, Failure> {
    let grounds = args
        .grounds
        .iter()
        .map(|ground| {
            enum_number(
                "MLA_REFUSAL_GROUND_",
                ground,
                |name| v1::MlaRefusalGround::from_str_name(name).map(|v| v as i32),
                "--grounds",
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(client
        .mla()
        .refuse_request(v1::RefuseRequestRequest {
            request_id: request_id(),
            mla_request_id: args.id,
            etag: String::new(),
            grounds,
            reasons: text(&args.reasons, &args.lang),
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .mla_request)
}

/// `mla request-info`.
async fn request_info(client: &Client, args: TextArgs) -> Result<Option<v1::MlaRequest>, Failure> {
    Ok(client
        .mla()
        .request_more_information(v1::RequestMoreInformationRequest {
            request_id: request_id(),
            mla_request_id: args.id,
            questions: text(&args.text, &args.lang),
            ..v1::RequestMoreInformationRequest::default()
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .mla_request)
}

/// `mla execute`.
async fn execute(client: &Client, args: ExecuteArgs) -> Result<Option<v1::MlaRequest>, Failure> {
    Ok(client
        .mla()
        .report_execution(v1::ReportExecutionRequest {
            request_id: request_id(),
            mla_request_id: args.id,
            partial: args.partial,
            summary: text(&args.summary, &args.lang),
            not_executed_reasons: args
                .not_executed
                .as_deref()
                .and_then(|t| text(t, &args.lang)),
            evidence_ids: args.evidence_ids,
            ..v1::ReportExecutionRequest::default()
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .mla_request)
}

/// `mla message`.
async fn message(client: &Client, format: OutputFormat, args: TextArgs) -> Result<(), Failure> {
    let message = client
        .mla()
        .post_message(v1::PostMessageRequest {
            request_id: request_id(),
            mla_request_id: args.id,
            body: text(&args.text, &args.lang),
            evidence_ids: Vec::new(),
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .message
        .unwrap_or_default();
    match format {
        OutputFormat::Json => print_json(&json!({ "id": message.id })),
        OutputFormat::Table => crate::output::say!("{}", message.id),
    }
    Ok(())
}

/// `mla verify-receipt` against the keys the hub publishes.
async fn verify_receipt(
    client: &Client,
    format: OutputFormat,
    args: receipt_file::VerifyReceiptArgs,
) -> Result<(), Failure> {
    let keys = client
        .mla()
        .get_receipt_keys(v1::GetReceiptKeysRequest {})
        .await
        .map_err(failed(client))?
        .into_inner()
        .keys;
    receipt_file::verify_file(format, &args, &keys, "fetched from the hub")
}
