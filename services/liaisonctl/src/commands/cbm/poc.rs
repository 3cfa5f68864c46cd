//! `liaisonctl cbm poc …`: points of contact — list them, and set one of your agency's.

use clap::{Args, Subcommand};
use liaison_client::Client;
use liaison_proto::v1;
use serde_json::json;

use crate::{
    call::request_id,
    failure::{Failure, failed},
    output::{self, OutputFormat, print_json},
    parse::enum_value,
};

#[derive(Debug, Subcommand)]
pub enum PocCommand {
    /// Points of contact of one agency, or of all.
    List(ListArgs),
    /// Create (or with --id replace and confirm) one of your agency's points of contact.
    Set(Box<PocArgs>),
    /// Delete one of your agency's points of contact.
    Delete {
        /// The contact (poc_…).
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct PocArgs {
    /// The contact to replace (poc_…); omit to create one.
    #[arg(long)]
    pub id: Option<String>,
    /// policy or technical.
    #[arg(long)]
    pub level: String,
    /// Function or office, e.g. "24/7 cybercrime duty officer".
    #[arg(long)]
    pub function: String,
    /// A channel KIND=ADDRESS (repeatable): phone, email, liaison, other.
    #[arg(long = "channel", value_name = "KIND=ADDRESS")]
    pub channels: Vec<String>,
    /// A language spoken, BCP 47 (repeatable).
    #[arg(long = "language")]
    pub languages: Vec<String>,
    /// Hours of availability with time zone.
    #[arg(long, default_value = "")]
    pub hours: String,
    /// Reachable around the clock.
    #[arg(long)]
    pub around_the_clock: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this agency.
    #[arg(long)]
    pub agency: Option<String>,
}

/// Runs a `cbm poc` subcommand.
pub async fn run(
    client: &Client,
    format: OutputFormat,
    command: PocCommand,
) -> Result<(), Failure> {
    match command {
        PocCommand::List(args) => list(client, format, args).await,
        PocCommand::Set(args) => set(client, format, *args).await,
        PocCommand::Delete { id } => {
            client
                .directory()
                .delete_point_of_contact(v1::DeletePointOfContactRequest {
                    request_id: request_id(),
                    point_of_contact_id: id.clone(),
                })
                .await
                .map_err(failed(client))?;
            match format {
                OutputFormat::Json => print_json(&json!({ "deleted": id })),
                OutputFormat::Table => crate::output::say!("deleted {id}"),
            }
            Ok(())
        }
    }
}

/// `cbm poc list`.
async fn list(client: &Client, format: OutputFormat, args: ListArgs) -> Result<(), Failure> {
    let failed = failed(client);
    let ListArgs { agency } = args;
    let listed = client
        .directory()
        .list_points_of_contact(v1::ListPointsOfContactRequest {
            agency_id: agency.unwrap_or_default(),
            ..v1::ListPointsOfContactRequest::default()
        })
        .await
        .map_err(failed)?
        .into_inner()
        .points_of_contact;
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|poc| {
            vec![
                poc.id.clone(),
                poc.agency_id.clone(),
                poc.function.clone(),
                poc.channels
                    .iter()
                    .map(|c| c.address.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
                if poc.around_the_clock {
                    "24/7".into()
                } else {
                    poc.hours.clone()
                },
                if poc.stale {
                    "stale".into()
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    match format {
        OutputFormat::Json => print_json(&json!(rows)),
        OutputFormat::Table => print!(
            "{}",
            output::table(
                &["ID", "AGENCY", "FUNCTION", "CHANNELS", "HOURS", "STALE"],
                &rows
            )
        ),
    }
    Ok(())
}

/// `cbm poc set`.
async fn set(client: &Client, format: OutputFormat, args: PocArgs) -> Result<(), Failure> {
    let failed = failed(client);
    let channels = args
        .channels
        .iter()
        .map(|channel| {
            let (kind, address) = channel.split_once('=').ok_or_else(|| {
                Failure::usage(format!("--channel {channel:?}: expected KIND=ADDRESS"))
            })?;
            Ok(v1::ContactChannel {
                kind: enum_value("KIND_", kind, |name| {
                    v1::contact_channel::Kind::from_str_name(name).map(|k| k as i32)
                })?,
                address: address.to_owned(),
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let poc = client
        .directory()
        .set_point_of_contact(v1::SetPointOfContactRequest {
            request_id: request_id(),
            point_of_contact: Some(v1::PointOfContact {
                id: args.id.clone().unwrap_or_default(),
                level: enum_value("LEVEL_", &args.level, |name| {
                    v1::point_of_contact::Level::from_str_name(name).map(|l| l as i32)
                })?,
                function: args.function.clone(),
                channels,
                languages: args.languages.clone(),
                hours: args.hours.clone(),
                around_the_clock: args.around_the_clock,
                ..v1::PointOfContact::default()
            }),
        })
        .await
        .map_err(failed)?
        .into_inner()
        .point_of_contact
        .unwrap_or_default();
    match format {
        OutputFormat::Json => print_json(&json!({"id": poc.id})),
        OutputFormat::Table => crate::output::say!("{}", poc.id),
    }
    Ok(())
}
