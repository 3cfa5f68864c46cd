//! The commands.

use liaison_client::{Client, FailureKind, explain_status, with_purpose};
use liaison_proto::v1;
use serde_json::json;

use crate::{
    audit,
    cli::{
        AgenciesCommand, AuditCommand, Cli, Command, IndicatorsCommand, OutputFormat, PublishArgs,
        WatchArgs,
    },
    connect::{EXIT_UNREACHABLE, connect},
    output,
};

/// Exit code: the hub refused or failed the call.
pub(crate) const EXIT_CALL_FAILED: u8 = 1;
/// Exit code: the hub does not accept this identity or denies the action (`EX_NOPERM`).
const EXIT_DENIED: u8 = 77;
/// Exit code: bad arguments, as clap uses.
pub(crate) const EXIT_USAGE: u8 = 2;

/// Why a command failed, and the exit code that says so.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub exit_code: u8,
}

impl Failure {
    pub fn new(exit_code: u8, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code,
        }
    }

    pub(crate) fn from_status(client: &Client, status: &tonic::Status) -> Self {
        let (kind, mut message) = explain_status(client.endpoint(), status);
        let code = match (kind, status.code()) {
            (FailureKind::CertificateRefused, _) => EXIT_DENIED,
            (
                FailureKind::NotListening
                | FailureKind::HubBusy
                | FailureKind::ServerUntrusted
                | FailureKind::Transport,
                _,
            ) => EXIT_UNREACHABLE,
            (_, tonic::Code::Unauthenticated | tonic::Code::PermissionDenied) => EXIT_DENIED,
            (_, tonic::Code::Unavailable) => EXIT_UNREACHABLE,
            _ => EXIT_CALL_FAILED,
        };
        for (field, description) in field_violations(status) {
            message.push_str(&format!("\n  {field}: {description}"));
            if field == liaison_client::PURPOSE_HEADER {
                message.push_str("\n  (liaisonctl: pass --purpose TEXT or set LIAISON_PURPOSE)");
            }
        }
        Self::new(code, message)
    }
}

/// Field violations of an INVALID_ARGUMENT status, from its `google.rpc.BadRequest`.
fn field_violations(status: &tonic::Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .into_iter()
                .map(|violation| (violation.field, violation.description))
                .collect()
        })
        .unwrap_or_default()
}

/// The next message of a followed stream; `None` when the user pressed Ctrl-C or the hub
/// ended the stream cleanly.
pub(crate) async fn next_followed<T>(
    client: &Client,
    stream: &mut tonic::Streaming<T>,
) -> Result<Option<T>, Failure> {
    tokio::select! {
        message = stream.message() => message.map_err(|status| Failure::from_status(client, &status)),
        _ = tokio::signal::ctrl_c() => Ok(None),
    }
}

/// Runs the command the arguments name.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let format = cli.output;
    let command = match cli.command {
        // Verifying an exported file needs no hub.
        Command::Audit(AuditCommand::Verify(args)) if args.file.is_some() => {
            return audit::verify(None, &cli.connection.endpoint, format, args).await;
        }
        // Verifying a saved receipt against a saved key needs no hub either.
        Command::Mla(crate::mla::MlaCommand::VerifyReceipt(args)) if args.keys.is_some() => {
            use crate::mla::receipt_file;
            let keys_file = args.keys.clone().unwrap_or_default();
            let keys = receipt_file::load_keys(&keys_file)?;
            let from = format!("from {}", keys_file.display());
            return receipt_file::verify_file(format, &args, &keys, &from);
        }
        command => command,
    };
    let client = connect(&cli.connection).await?;
    match command {
        Command::Whoami => whoami(&client, format).await,
        Command::Agencies(AgenciesCommand::List) => agencies_list(&client, format).await,
        Command::Indicators(IndicatorsCommand::Publish(args)) => match args.file.clone() {
            Some(file) => crate::publish_file::publish_file(&client, format, &args, &file).await,
            None => publish(&client, format, *args).await,
        },
        Command::Indicators(IndicatorsCommand::Export { id, stix: _, out }) => {
            crate::exchange::export_stix(&client, id, out, cli.purpose.as_deref()).await
        }
        Command::Indicators(IndicatorsCommand::Get { id }) => {
            get(&client, format, id, cli.purpose.as_deref()).await
        }
        Command::Indicators(IndicatorsCommand::Watch(args)) => {
            watch(&client, format, args, cli.purpose.as_deref()).await
        }
        Command::Indicators(IndicatorsCommand::Search(args)) => {
            crate::exchange::search(&client, format, args, cli.purpose.as_deref()).await
        }
        Command::Indicators(IndicatorsCommand::Lookup { observable }) => {
            crate::exchange::lookup(&client, format, observable, cli.purpose.as_deref()).await
        }
        Command::Indicators(IndicatorsCommand::Revoke { id, reason }) => {
            crate::exchange::revoke(&client, format, id, reason).await
        }
        Command::Indicators(IndicatorsCommand::Sight(args)) => {
            crate::exchange::sight(&client, format, args).await
        }
        Command::Audit(AuditCommand::Query(args)) => audit::query(&client, format, args).await,
        Command::Audit(AuditCommand::Export(args)) => audit::export(&client, args).await,
        Command::Audit(AuditCommand::Verify(args)) => {
            audit::verify(Some(&client), &cli.connection.endpoint, format, args).await
        }
        Command::Audit(AuditCommand::Tail(args)) => audit::tail(&client, format, args).await,
        Command::Admin(command) => crate::admin::run(&client, format, command).await,
        Command::Mla(command) => {
            crate::mla::run(&client, format, cli.purpose.as_deref(), command).await
        }
        Command::Cbm(command) => crate::cbm::run(&client, format, command).await,
    }
}

pub(crate) fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

async fn whoami(client: &Client, format: OutputFormat) -> Result<(), Failure> {
    let answer = client
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .map_err(|status| Failure::from_status(client, &status))?
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
            .map_err(|status| Failure::from_status(client, &status))?
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

/// A category as the API names it (`crypto-asset-fraud` is `FRAUD_CATEGORY_CRYPTO_ASSET_FRAUD`).
pub(crate) fn parse_category(text: &str) -> Result<v1::FraudCategory, Failure> {
    let name = format!(
        "FRAUD_CATEGORY_{}",
        text.trim().to_ascii_uppercase().replace('-', "_")
    );
    v1::FraudCategory::from_str_name(&name)
        .filter(|category| *category != v1::FraudCategory::Unspecified)
        .ok_or_else(|| {
            Failure::new(
                EXIT_USAGE,
                format!("--category {text:?}: see `liaisonctl indicators publish --help` for the categories"),
            )
        })
}

pub(crate) fn parse_tlp(text: &str) -> Result<v1::Tlp, Failure> {
    match text.trim().to_ascii_lowercase().trim_start_matches("tlp:") {
        "clear" | "white" => Ok(v1::Tlp::Clear),
        "green" => Ok(v1::Tlp::Green),
        "amber" => Ok(v1::Tlp::Amber),
        "amber+strict" | "amber-strict" | "amber_strict" => Ok(v1::Tlp::AmberStrict),
        "red" => Ok(v1::Tlp::Red),
        _ => Err(Failure::new(
            EXIT_USAGE,
            format!("--tlp {text:?}: expected clear, green, amber, amber+strict or red"),
        )),
    }
}

pub(crate) fn parse_scope(text: &str) -> Result<v1::Scope, Failure> {
    let target = if text == "all" {
        v1::scope::Target::AllMembers(v1::AllMembers {})
    } else if let Some(group) = text.strip_prefix("group:") {
        v1::scope::Target::SharingGroupId(group.to_owned())
    } else if let Some(list) = text.strip_prefix("agencies:") {
        v1::scope::Target::Agencies(v1::AgencyList {
            agency_ids: list.split(',').map(|id| id.trim().to_owned()).collect(),
        })
    } else {
        return Err(Failure::new(
            EXIT_USAGE,
            format!("--scope {text:?}: expected all, group:GROUP-ID or agencies:ID,ID"),
        ));
    };
    Ok(v1::Scope {
        target: Some(target),
    })
}

pub(crate) fn parse_observable(text: &str) -> Result<v1::Observable, Failure> {
    let (kind, value) = text.split_once('=').ok_or_else(|| {
        Failure::new(
            EXIT_USAGE,
            format!("--observable {text:?}: expected TYPE=VALUE"),
        )
    })?;
    let kind = match kind.trim().to_ascii_lowercase().replace('_', "-").as_str() {
        "domain" => v1::ObservableType::Domain,
        "url" => v1::ObservableType::Url,
        "ipv4" | "ip" => v1::ObservableType::Ipv4,
        "ipv6" => v1::ObservableType::Ipv6,
        "email" => v1::ObservableType::Email,
        "phone" => v1::ObservableType::Phone,
        "iban" => v1::ObservableType::Iban,
        "crypto-wallet" | "wallet" => v1::ObservableType::CryptoWallet,
        "sha256" => v1::ObservableType::Sha256,
        "sha1" => v1::ObservableType::Sha1,
        "md5" => v1::ObservableType::Md5,
        "card-bin" | "bin" => v1::ObservableType::CardBin,
        "messenger" | "messenger-handle" => v1::ObservableType::MessengerHandle,
        other => {
            return Err(Failure::new(
                EXIT_USAGE,
                format!("--observable: unknown type {other:?}"),
            ));
        }
    };
    Ok(v1::Observable {
        r#type: kind as i32,
        value: value.to_owned(),
    })
}

pub(crate) fn parse_evaluation(code: &str) -> Result<v1::Evaluation, Failure> {
    let bad = || {
        Failure::new(
            EXIT_USAGE,
            format!("--evaluation {code:?}: expected A, B, C or X and 1-4, e.g. B2"),
        )
    };
    let mut chars = code.chars();
    let (Some(source), Some(accuracy), None) = (chars.next(), chars.next(), chars.next()) else {
        return Err(bad());
    };
    let source = match source.to_ascii_uppercase() {
        'A' => v1::evaluation::SourceReliability::A,
        'B' => v1::evaluation::SourceReliability::B,
        'C' => v1::evaluation::SourceReliability::C,
        'X' => v1::evaluation::SourceReliability::X,
        _ => return Err(bad()),
    };
    let accuracy = accuracy
        .to_digit(10)
        .filter(|digit| (1..=4).contains(digit))
        .ok_or_else(bad)?;
    Ok(v1::Evaluation {
        source_reliability: source as i32,
        information_accuracy: accuracy as i32,
    })
}

pub(crate) fn parse_time(text: &str) -> Result<prost_types::Timestamp, Failure> {
    let time = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            Failure::new(
                EXIT_USAGE,
                format!("{text:?}: expected an RFC 3339 time such as 2027-01-31T00:00:00Z"),
            )
        })?;
    Ok(prost_types::Timestamp {
        seconds: time.unix_timestamp(),
        nanos: i32::try_from(time.nanosecond()).unwrap_or(0),
    })
}

async fn publish(client: &Client, format: OutputFormat, args: PublishArgs) -> Result<(), Failure> {
    let category = parse_category(&args.category)?;
    let indicator = v1::Indicator {
        fraud_method: args.title.map(|title| v1::FraudMethod {
            title,
            description: args.description,
            countermeasures: args.countermeasures,
            category: category as i32,
        }),
        observables: args
            .observables
            .iter()
            .map(|text| parse_observable(text))
            .collect::<Result<_, _>>()?,
        language: args.language,
        confidence: args.confidence,
        evaluation: args
            .evaluation
            .as_deref()
            .map(parse_evaluation)
            .transpose()?,
        tlp: parse_tlp(&args.tlp)? as i32,
        scope: Some(parse_scope(&args.scope)?),
        anonymous: args.anonymous,
        valid_until_time: args.valid_until.as_deref().map(parse_time).transpose()?,
        ..v1::Indicator::default()
    };
    let request_id = args.request_id.unwrap_or_else(|| {
        format!(
            "liaisonctl-{}",
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        )
    });
    let response = client
        .indicators()
        .publish(v1::PublishRequest {
            request_id,
            indicator: Some(indicator),
        })
        .await
        .map_err(|status| Failure::from_status(client, &status))?
        .into_inner();
    let indicator = response.indicator.unwrap_or_default();
    match format {
        OutputFormat::Json => print_json(&json!({
            "duplicate": response.duplicate,
            "indicator": output::indicator_json(&indicator),
        })),
        OutputFormat::Table => {
            let verb = if response.duplicate {
                "already published (same request id)"
            } else {
                "published"
            };
            println!("{verb}: {}", indicator.id);
            print!("{}", output::indicator_details(&indicator));
        }
    }
    Ok(())
}

/// A request with the caller's purpose, when one was given.
fn request<T>(message: T, purpose: Option<&str>) -> tonic::Request<T> {
    match purpose {
        Some(purpose) => with_purpose(message, purpose),
        None => tonic::Request::new(message),
    }
}

async fn get(
    client: &Client,
    format: OutputFormat,
    id: String,
    purpose: Option<&str>,
) -> Result<(), Failure> {
    let indicator = client
        .indicators()
        .get_indicator(request(
            v1::GetIndicatorRequest { indicator_id: id },
            purpose,
        ))
        .await
        .map_err(|status| Failure::from_status(client, &status))?
        .into_inner()
        .indicator
        .unwrap_or_default();
    match format {
        OutputFormat::Json => print_json(&output::indicator_json(&indicator)),
        OutputFormat::Table => print!("{}", output::indicator_details(&indicator)),
    }
    Ok(())
}

async fn watch(
    client: &Client,
    format: OutputFormat,
    args: WatchArgs,
    purpose: Option<&str>,
) -> Result<(), Failure> {
    let subscription = v1::SubscribeRequest {
        after: Some(v1::Cursor {
            position: args.after,
        }),
        categories: args
            .categories
            .iter()
            .map(|text| parse_category(text).map(|category| category as i32))
            .collect::<Result<_, _>>()?,
        tlps: args
            .tlps
            .iter()
            .map(|tlp| parse_tlp(tlp).map(|t| t as i32))
            .collect::<Result<_, _>>()?,
        ..v1::SubscribeRequest::default()
    };
    let mut stream = client
        .indicators()
        .subscribe(request(subscription, purpose))
        .await
        .map_err(|status| Failure::from_status(client, &status))?
        .into_inner();
    if format == OutputFormat::Table {
        eprintln!(
            "watching indicators after cursor {} (Ctrl-C to stop)",
            args.after
        );
        println!(
            "{}",
            output::watch_line(
                &["CURSOR", "EVENT", "ID", "SOURCE", "TLP", "TITLE"].map(String::from)
            )
        );
    }
    let mut seen = 0u64;
    loop {
        if args.limit.is_some_and(|limit| seen >= limit) {
            return Ok(());
        }
        let Some(message) = next_followed(client, &mut stream).await? else {
            return Ok(());
        };
        let Some(event) = message.event else {
            continue;
        };
        let cursor = event.cursor.map_or(0, |cursor| cursor.position);
        let (kind, indicator) = match &event.event {
            Some(v1::indicator_event::Event::Published(indicator)) => ("published", indicator),
            Some(v1::indicator_event::Event::Revoked(indicator)) => ("revoked", indicator),
            Some(v1::indicator_event::Event::Correlation(matched)) => {
                seen += 1;
                let value = matched
                    .observable
                    .as_ref()
                    .map(|o| o.value.clone())
                    .unwrap_or_default();
                let other = if matched.other_agency_id.is_empty() {
                    "a member agency".to_owned()
                } else {
                    matched.other_agency_id.clone()
                };
                match format {
                    OutputFormat::Json => println!(
                        "{}",
                        json!({ "cursor": cursor, "event": "correlation", "value": value,
                            "own_indicator_id": matched.own_indicator_id,
                            "other_indicator_id": matched.other_indicator_id,
                            "other_agency_id": matched.other_agency_id })
                    ),
                    OutputFormat::Table => println!(
                        "{}",
                        output::watch_line(&[
                            cursor.to_string(),
                            "match".into(),
                            matched.own_indicator_id.clone(),
                            other,
                            String::new(),
                            format!("{value} also in {}", matched.other_indicator_id),
                        ])
                    ),
                }
                continue;
            }
            None => continue,
        };
        match format {
            OutputFormat::Json => println!(
                "{}",
                json!({ "cursor": cursor, "event": kind, "indicator": output::indicator_json(indicator) })
            ),
            OutputFormat::Table => println!(
                "{}",
                output::watch_line(&output::watch_row(cursor, kind, indicator))
            ),
        }
        seen += 1;
    }
}
