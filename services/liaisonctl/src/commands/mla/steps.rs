//! `liaisonctl mla update | delete | provide-info | postpone | resume | conditions …` and
//! `mla preservation …`: the workflow steps beyond the plain ones, each returning the
//! request as it is after the step.

use clap::{Args, Subcommand};
use liaison_client::Client;
use liaison_proto::v1;

use super::{content, new};
use crate::{
    call::{request_id, text},
    failure::{Failure, failed},
    parse::{parse_duration, parse_time, parse_when},
};

/// `mla update`: replace a draft's content from a file.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The draft (`mla_…`).
    pub id: String,
    /// The new content, a TOML or JSON file with the fields of `mla new --help`.
    #[arg(long)]
    pub file: std::path::PathBuf,
}

/// `mla delete`: a draft never submitted.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The draft (`mla_…`).
    pub id: String,
}

/// `mla provide-info`: the requester's answer to a request for more information.
#[derive(Debug, Args)]
pub struct ProvideArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// The answer.
    pub text: String,
    /// An evidence file uploaded with the answer (`evd_…`, repeatable).
    #[arg(long = "evidence")]
    pub evidence_ids: Vec<String>,
    /// The language of the text (BCP 47).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

/// `mla postpone`.
#[derive(Debug, Args)]
pub struct PostponeArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// The reasons (Art. 27(7)).
    #[arg(long)]
    pub reasons: String,
    /// Until when, RFC 3339.
    #[arg(long)]
    pub until: Option<String>,
    /// The language of the text (BCP 47).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

/// A step on a request with an optional note.
#[derive(Debug, Args)]
pub struct NoteArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// A note for the history.
    #[arg(long)]
    pub note: Option<String>,
    /// The language of the note (BCP 47).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

/// `mla conditions …` (Art. 27(6), Art. 28).
#[derive(Debug, Subcommand)]
pub enum ConditionsCommand {
    /// Proposes conditions for granting the request (requested agency).
    Propose(ProposeArgs),
    /// Accepts the proposed conditions, binding your agency (requesting agency).
    Accept(NoteArgs),
}

/// `mla conditions propose`.
#[derive(Debug, Args)]
pub struct ProposeArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// A condition (repeatable).
    #[arg(long = "condition")]
    pub conditions: Vec<String>,
    /// The request is to be kept confidential (Art. 27(8), Art. 28(2)(a)).
    #[arg(long)]
    pub confidentiality: bool,
    /// The data may be used only for the investigation stated (Art. 28(2)(b)).
    #[arg(long)]
    pub use_limited: bool,
    /// What would be granted in part, if not all.
    #[arg(long)]
    pub partial_grant: Option<String>,
    /// The language of the texts (BCP 47).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

/// `mla preservation …` (Art. 29).
#[derive(Debug, Subcommand)]
pub enum PreservationCommand {
    /// The data are preserved (requested agency), until --until (at least 60 days).
    Confirm(UntilArgs),
    /// Asks for the preservation period to be extended (requesting agency).
    RequestExtension(ExtensionArgs),
    /// Extends the preservation period (requested agency).
    Extend(UntilArgs),
    /// Holds the data until the follow-up request is decided (requested agency).
    Hold(HoldArgs),
    /// Ends preservation once it is no longer needed (either party).
    Release(NoteArgs),
}

/// A preservation step with a date.
#[derive(Debug, Args)]
pub struct UntilArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// Preserved until, RFC 3339 [default for confirm: the period requested]
    #[arg(long)]
    pub until: Option<String>,
    /// Preserved for this period from now (90d), instead of --until.
    #[arg(long = "for", value_name = "PERIOD", conflicts_with = "until")]
    pub period: Option<String>,
    /// A note for the history.
    #[arg(long)]
    pub note: Option<String>,
    /// The language of the note (BCP 47).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

/// `mla preservation request-extension`.
#[derive(Debug, Args)]
pub struct ExtensionArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// By how long (30d, 90d).
    #[arg(long)]
    pub by: String,
    /// Why.
    #[arg(long)]
    pub reason: Option<String>,
    /// The language of the reason (BCP 47).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

/// `mla preservation hold`.
#[derive(Debug, Args)]
pub struct HoldArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// The follow-up request for disclosure (`mla_…`).
    #[arg(long)]
    pub follow_up: String,
    /// A note for the history.
    #[arg(long)]
    pub note: Option<String>,
    /// The language of the note (BCP 47).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

/// The request after a step, as the hub returns it.
pub type After = Result<Option<v1::MlaRequest>, Failure>;

fn note(note: Option<&str>, lang: &str) -> Option<v1::LocalizedText> {
    note.and_then(|note| text(note, lang))
}

/// `mla update`.
pub async fn update(client: &Client, args: UpdateArgs) -> After {
    let content = content::content_from_json(&new::from_file(&args.file)?)?;
    Ok(client
        .mla()
        .update_draft(v1::UpdateDraftRequest {
            request_id: request_id(),
            mla_request_id: args.id,
            etag: String::new(),
            content: Some(content),
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .mla_request)
}

/// `mla delete`: nothing to show after it.
pub async fn delete(client: &Client, args: DeleteArgs) -> Result<(), Failure> {
    client
        .mla()
        .delete_draft(v1::DeleteDraftRequest {
            request_id: request_id(),
            mla_request_id: args.id,
            etag: String::new(),
        })
        .await
        .map_err(failed(client))?;
    Ok(())
}

/// `mla provide-info`.
pub async fn provide(client: &Client, args: ProvideArgs) -> After {
    Ok(client
        .mla()
        .provide_information(v1::ProvideInformationRequest {
            request_id: request_id(),
            mla_request_id: args.id,
            etag: String::new(),
            answer: text(&args.text, &args.lang),
            evidence_ids: args.evidence_ids,
            amended_content: None,
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .mla_request)
}

/// `mla postpone`.
pub async fn postpone(client: &Client, args: PostponeArgs) -> After {
    Ok(client
        .mla()
        .postpone_request(v1::PostponeRequestRequest {
            request_id: request_id(),
            mla_request_id: args.id,
            etag: String::new(),
            reasons: text(&args.reasons, &args.lang),
            postpone_until: args.until.as_deref().map(parse_time).transpose()?,
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .mla_request)
}

/// `mla resume`.
pub async fn resume(client: &Client, args: NoteArgs) -> After {
    Ok(client
        .mla()
        .resume_assessment(v1::ResumeAssessmentRequest {
            request_id: request_id(),
            mla_request_id: args.id,
            etag: String::new(),
            comment: note(args.note.as_deref(), &args.lang),
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .mla_request)
}

/// `mla conditions propose | accept`.
pub async fn conditions(client: &Client, command: ConditionsCommand) -> After {
    let mut mla = client.mla();
    let request = match command {
        ConditionsCommand::Propose(args) => {
            mla.propose_conditions(v1::ProposeConditionsRequest {
                request_id: request_id(),
                mla_request_id: args.id,
                etag: String::new(),
                conditions: Some(v1::MlaConditions {
                    conditions: args
                        .conditions
                        .iter()
                        .filter_map(|condition| text(condition, &args.lang))
                        .collect(),
                    confidentiality: args.confidentiality,
                    use_limited_to_stated_investigation: args.use_limited,
                    partial_grant: note(args.partial_grant.as_deref(), &args.lang),
                    ..v1::MlaConditions::default()
                }),
            })
            .await
            .map_err(failed(client))?
            .into_inner()
            .mla_request
        }
        ConditionsCommand::Accept(args) => {
            mla.accept_conditions(v1::AcceptConditionsRequest {
                request_id: request_id(),
                mla_request_id: args.id,
                etag: String::new(),
                comment: note(args.note.as_deref(), &args.lang),
            })
            .await
            .map_err(failed(client))?
            .into_inner()
            .mla_request
        }
    };
    Ok(request)
}

/// `mla preservation confirm | request-extension | extend | hold | release`.
pub async fn preservation(client: &Client, command: PreservationCommand) -> After {
    let mut mla = client.mla();
    let failed = failed(client);
    let request = match command {
        PreservationCommand::Confirm(args) => {
            mla.confirm_preservation(v1::ConfirmPreservationRequest {
                request_id: request_id(),
                mla_request_id: args.id,
                etag: String::new(),
                preserve_until: parse_when(args.until.as_deref(), args.period.as_deref())?,
                note: note(args.note.as_deref(), &args.lang),
            })
            .await
            .map_err(failed)?
            .into_inner()
            .mla_request
        }
        PreservationCommand::RequestExtension(args) => {
            mla.request_preservation_extension(v1::RequestPreservationExtensionRequest {
                request_id: request_id(),
                mla_request_id: args.id,
                etag: String::new(),
                extension: Some(parse_duration(&args.by)?),
                reason: note(args.reason.as_deref(), &args.lang),
            })
            .await
            .map_err(failed)?
            .into_inner()
            .mla_request
        }
        PreservationCommand::Extend(args) => {
            mla.extend_preservation(v1::ExtendPreservationRequest {
                request_id: request_id(),
                mla_request_id: args.id,
                etag: String::new(),
                preserve_until: parse_when(args.until.as_deref(), args.period.as_deref())?,
                note: note(args.note.as_deref(), &args.lang),
            })
            .await
            .map_err(failed)?
            .into_inner()
            .mla_request
        }
        PreservationCommand::Hold(args) => {
            mla.hold_preservation(v1::HoldPreservationRequest {
                request_id: request_id(),
                mla_request_id: args.id,
                etag: String::new(),
                follow_up_mla_request_id: args.follow_up,
                note: note(args.note.as_deref(), &args.lang),
            })
            .await
            .map_err(failed)?
            .into_inner()
            .mla_request
        }
        PreservationCommand::Release(args) => {
            mla.release_preservation(v1::ReleasePreservationRequest {
                request_id: request_id(),
                mla_request_id: args.id,
                etag: String::new(),
                reason: note(args.note.as_deref(), &args.lang),
            })
            .await
            .map_err(failed)?
            .into_inner()
            .mla_request
        }
    };
    Ok(request)
}
