//! `liaisonctl admin …`: the hub operator's commands. Each needs the operator role (a
//! principal of the hub agency); the hub records every change in its audit log.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use liaison_client::Client;
use liaison_proto::v1;
use serde_json::json;
use sha2::Digest;

use crate::{
    call,
    failure::{Failure, failed},
    output::{self, OutputFormat, print_json},
    parse::{parse_agency_kind, parse_principal, parse_roles},
};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Register, suspend and reinstate agencies.
    #[command(subcommand)]
    Agency(AgencyCommand),
    /// Register and revoke client certificates.
    #[command(subcommand)]
    Certificate(CertificateCommand),
    /// Replace a principal's roles.
    Roles(RolesArgs),
    /// Create, change and list sharing groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Show the public keys that verify access tokens (a JSON Web Key Set).
    TokenKeys,
}

/// An idempotency key: a retry with the same key changes nothing twice.
#[derive(Debug, Args)]
pub struct RequestId {
    /// Idempotency key [default: random]
    #[arg(long)]
    pub request_id: Option<String>,
}

impl RequestId {
    fn value(self) -> String {
        self.request_id.unwrap_or_else(call::request_id)
    }
}

#[derive(Debug, Subcommand)]
pub enum AgencyCommand {
    /// Register a new member agency.
    Register {
        /// Agency id: ISO country code and acronym (LV-VP), or INT-/EU- for international bodies.
        id: String,
        /// Full name in English.
        #[arg(long)]
        name: String,
        /// police, cert, ministry or international.
        #[arg(long)]
        kind: String,
        /// Name in the agency's own language.
        #[arg(long)]
        native_name: Option<String>,
        /// BCP 47 tag of the native name's language (lv, uk, sr-Cyrl, vi, …).
        #[arg(long, requires = "native_name")]
        native_language: Option<String>,
        /// ISO code of the agency's state (must be in the federation file); none for INT-/EU-.
        #[arg(long)]
        state: Option<String>,
        #[command(flatten)]
        request_id: RequestId,
    },
    /// Suspend an agency: its principals are cut off at once, open streams included.
    Suspend {
        /// Agency id.
        id: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        request_id: RequestId,
    },
    /// Lift a suspension.
    Reinstate {
        /// Agency id.
        id: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        request_id: RequestId,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertificateCommand {
    /// Register a certificate issued by the hub CA, creating its principal with these roles
    /// (or replacing the roles of an existing one).
    Register {
        /// The certificate, PEM.
        file: PathBuf,
        /// A role: system, officer, auditor, oversight-auditor, operator (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[command(flatten)]
        request_id: RequestId,
    },
    /// Revoke a certificate: refused at the next handshake, its calls and streams end.
    Revoke {
        /// SHA-256 fingerprint of the certificate (hex), or the path of its PEM file.
        certificate: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        request_id: RequestId,
    },
}

#[derive(Debug, Args)]
pub struct RolesArgs {
    /// The principal: AGENCY-ID/system/NAME or AGENCY-ID/person/NAME.
    pub principal: String,
    /// Its complete new set of roles (repeatable).
    #[arg(long = "role", required = true)]
    pub roles: Vec<String>,
    #[command(flatten)]
    pub request_id: RequestId,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a sharing group; the hub assigns its id.
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// A member agency id (repeatable).
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        #[command(flatten)]
        request_id: RequestId,
    },
    /// Replace a sharing group's name and members.
    Update {
        /// Group id.
        id: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// A member agency id (repeatable): the complete new list.
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        #[command(flatten)]
        request_id: RequestId,
    },
    /// List sharing groups (all of them for the operator).
    List,
    /// Show one sharing group.
    Show {
        /// Group id.
        id: String,
    },
}

/// A fingerprint given as hex, or computed from a PEM file.
fn fingerprint(text: &str) -> Result<String, Failure> {
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(text.to_ascii_lowercase());
    }
    let pem = std::fs::read_to_string(text).map_err(|error| {
        Failure::usage(format!(
            "{text:?} is neither a SHA-256 fingerprint (64 hex digits) nor a readable PEM file: {error}"
        ))
    })?;
    let der = pem_certificate_der(&pem)
        .ok_or_else(|| Failure::usage(format!("{text}: holds no PEM certificate")))?;
    Ok(hex::encode(sha2::Sha256::digest(&der)))
}

/// The DER of the first `CERTIFICATE` block of a PEM text.
fn pem_certificate_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let body = pem
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)?
        .split("-----END CERTIFICATE-----")
        .next()?;
    let text: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

fn print_agency(format: OutputFormat, verb: &str, agency: &v1::Agency) {
    let status = output::enum_name(
        v1::AgencyStatus::try_from(agency.status)
            .ok()
            .map(|status| status.as_str_name().trim_start_matches("AGENCY_STATUS_")),
    );
    match format {
        OutputFormat::Json => print_json(&json!({
            "id": agency.id, "name": agency.name, "status": status,
        })),
        OutputFormat::Table => {
            crate::output::say!("{verb}: {} ({}), {status}", agency.id, agency.name)
        }
    }
}

fn print_group(format: OutputFormat, group: &v1::SharingGroup) {
    match format {
        OutputFormat::Json => print_json(&json!({
            "id": group.id, "name": group.name, "members": group.member_agency_ids,
        })),
        OutputFormat::Table => crate::output::say!(
            "{}  {}  members: {}",
            group.id,
            group.name,
            group.member_agency_ids.join(", ")
        ),
    }
}

/// Runs an admin command.
pub async fn run(
    client: &Client,
    format: OutputFormat,
    command: AdminCommand,
) -> Result<(), Failure> {
    match command {
        AdminCommand::Agency(command) => agency(client, format, command).await,
        AdminCommand::Certificate(command) => certificate(client, format, command).await,
        AdminCommand::Roles(args) => roles(client, format, args).await,
        AdminCommand::Group(command) => group(client, format, command).await,
        AdminCommand::TokenKeys => token_keys(client).await,
    }
}

/// `admin agency register | suspend | reinstate`.
async fn agency(
    client: &Client,
    format: OutputFormat,
    command: AgencyCommand,
) -> Result<(), Failure> {
    let failed = failed(client);
    let mut directory = client.directory();
    match command {
        AgencyCommand::Register {
            id,
            name,
            kind,
            native_name,
            native_language,
            state,
            request_id,
        } => {
            let agency = v1::Agency {
                id,
                name,
                native_name: native_name.map(|text| v1::LocalizedText {
                    text,
                    language: native_language.unwrap_or_default(),
                }),
                kind: parse_agency_kind(&kind)? as i32,
                state: state.map(|code| v1::StateInfo {
                    code,
                    ..v1::StateInfo::default()
                }),
                status: 0,
            };
            let registered = directory
                .register_agency(v1::RegisterAgencyRequest {
                    request_id: request_id.value(),
                    agency: Some(agency),
                })
                .await
                .map_err(failed)?
                .into_inner();
            print_agency(format, "registered", &registered.agency.unwrap_or_default());
        }
        AgencyCommand::Suspend {
            id,
            reason,
            request_id,
        } => {
            let response = directory
                .suspend_agency(v1::SuspendAgencyRequest {
                    request_id: request_id.value(),
                    agency_id: id,
                    reason,
                })
                .await
                .map_err(failed)?
                .into_inner();
            print_agency(format, "suspended", &response.agency.unwrap_or_default());
        }
        AgencyCommand::Reinstate {
            id,
            reason,
            request_id,
        } => {
            let response = directory
                .reinstate_agency(v1::ReinstateAgencyRequest {
                    request_id: request_id.value(),
                    agency_id: id,
                    reason,
                })
                .await
                .map_err(failed)?
                .into_inner();
            print_agency(format, "reinstated", &response.agency.unwrap_or_default());
        }
    }
    Ok(())
}

/// `admin certificate register | revoke`.
async fn certificate(
    client: &Client,
    format: OutputFormat,
    command: CertificateCommand,
) -> Result<(), Failure> {
    let failed = failed(client);
    let mut directory = client.directory();
    match command {
        CertificateCommand::Register {
            file,
            roles,
            request_id,
        } => {
            let certificate_pem = std::fs::read_to_string(&file)
                .map_err(|error| Failure::usage(format!("{}: {error}", file.display())))?;
            let response = directory
                .register_certificate(v1::RegisterCertificateRequest {
                    request_id: request_id.value(),
                    certificate_pem,
                    roles: parse_roles(&roles)?,
                })
                .await
                .map_err(failed)?
                .into_inner();
            let principal = response
                .principal
                .and_then(|principal| principal.r#ref)
                .unwrap_or_default();
            let kind = if principal.kind == v1::PrincipalKind::System as i32 {
                "system"
            } else {
                "person"
            };
            let name = format!("{}/{kind}/{}", principal.agency_id, principal.name);
            match format {
                OutputFormat::Json => print_json(&json!({
                    "principal": name, "certificate_sha256": response.certificate_sha256,
                })),
                OutputFormat::Table => crate::output::say!(
                    "registered certificate {} for {name}",
                    response.certificate_sha256
                ),
            }
        }
        CertificateCommand::Revoke {
            certificate,
            reason,
            request_id,
        } => {
            let certificate_sha256 = fingerprint(&certificate)?;
            directory
                .revoke_certificate(v1::RevokeCertificateRequest {
                    request_id: request_id.value(),
                    certificate_sha256: certificate_sha256.clone(),
                    reason,
                })
                .await
                .map_err(failed)?;
            match format {
                OutputFormat::Json => print_json(&json!({ "revoked": certificate_sha256 })),
                OutputFormat::Table => {
                    crate::output::say!("revoked certificate {certificate_sha256}")
                }
            }
        }
    }
    Ok(())
}

/// `admin group create | update | list`.
async fn group(
    client: &Client,
    format: OutputFormat,
    command: GroupCommand,
) -> Result<(), Failure> {
    let failed = failed(client);
    let mut directory = client.directory();
    match command {
        GroupCommand::Create {
            name,
            members,
            request_id,
        } => {
            let group = directory
                .create_sharing_group(v1::CreateSharingGroupRequest {
                    request_id: request_id.value(),
                    sharing_group: Some(v1::SharingGroup {
                        id: String::new(),
                        name,
                        member_agency_ids: members,
                    }),
                })
                .await
                .map_err(failed)?
                .into_inner();
            print_group(format, &group.sharing_group.unwrap_or_default());
        }
        GroupCommand::Update {
            id,
            name,
            members,
            request_id,
        } => {
            let group = directory
                .update_sharing_group(v1::UpdateSharingGroupRequest {
                    request_id: request_id.value(),
                    sharing_group: Some(v1::SharingGroup {
                        id,
                        name,
                        member_agency_ids: members,
                    }),
                })
                .await
                .map_err(failed)?
                .into_inner();
            print_group(format, &group.sharing_group.unwrap_or_default());
        }
        GroupCommand::Show { id } => {
            let group = directory
                .get_sharing_group(v1::GetSharingGroupRequest {
                    sharing_group_id: id,
                })
                .await
                .map_err(failed)?
                .into_inner();
            print_group(format, &group.sharing_group.unwrap_or_default());
        }
        GroupCommand::List => {
            let groups = directory
                .list_sharing_groups(v1::ListSharingGroupsRequest::default())
                .await
                .map_err(failed)?
                .into_inner();
            for group in &groups.sharing_groups {
                print_group(format, group);
            }
        }
    }
    Ok(())
}

/// `admin roles`: replaces a principal's roles.
async fn roles(client: &Client, format: OutputFormat, args: RolesArgs) -> Result<(), Failure> {
    let RolesArgs {
        principal,
        roles,
        request_id,
    } = args;
    client
        .directory()
        .assign_roles(v1::AssignRolesRequest {
            request_id: request_id.value(),
            principal: Some(parse_principal(&principal)?),
            roles: parse_roles(&roles)?,
        })
        .await
        .map_err(failed(client))?;
    let roles: Vec<String> = roles.iter().map(|role| role.to_ascii_lowercase()).collect();
    match format {
        OutputFormat::Json => print_json(&json!({ "principal": principal, "roles": roles })),
        OutputFormat::Table => crate::output::say!("{principal}: {}", roles.join(", ")),
    }
    Ok(())
}

/// `admin token-keys`: the JSON Web Key Set that verifies access tokens.
async fn token_keys(client: &Client) -> Result<(), Failure> {
    let keys = client
        .directory()
        .get_token_keys(v1::GetTokenKeysRequest {})
        .await
        .map_err(failed(client))?
        .into_inner();
    println!("{}", crate::output::safe::escape_json(&keys.jwks_json));
    Ok(())
}
