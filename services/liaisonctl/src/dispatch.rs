//! The thin dispatcher: picks the profile, runs the few commands that need no hub
//! offline, and connects every other one to its service's endpoint, handing the client to
//! its group's `run`.

use crate::{
    cli::{Cli, Command, ConnectionArgs},
    commands::{admin, audit, cbm, config, directory, inbox, indicators, mla},
    connect::{Settings, connect},
    failure::Failure,
    generate,
    output::OutputFormat,
    profile::{Config, Profile, config_path},
};

/// Runs the command the arguments name.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let purpose = cli.purpose.as_deref();
    match cli.command {
        Command::Config(command) => {
            let format = cli.output.unwrap_or(OutputFormat::Table);
            return config::run(format, command, given(&cli.connection, cli.output));
        }
        Command::Completions { shell } => return generate::completions(shell),
        Command::Man { out } => return generate::man(out.as_deref()),
        _ => {}
    }
    let profile = match config_path() {
        Some(path) => Config::load(&path)?.pick(cli.connection.profile.as_deref(), &path)?,
        None => None,
    };
    let format =
        cli.output.unwrap_or_else(
            || match profile.as_ref().and_then(|p| p.output.as_deref()) {
                Some("json") => OutputFormat::Json,
                _ => OutputFormat::Table,
            },
        );
    let settings = Settings::resolve(&cli.connection, profile.as_ref(), service(&cli.command));
    let command = match cli.command {
        // Verifying an exported file needs no hub.
        Command::Audit(audit::AuditCommand::Verify(args)) if args.file.is_some() => {
            return audit::verify(None, &settings.endpoint, format, args).await;
        }
        // Verifying a saved receipt against a saved key needs no hub either.
        Command::Mla(mla::MlaCommand::VerifyReceipt(args)) if args.keys.is_some() => {
            return mla::verify_receipt_offline(format, &args);
        }
        command => command,
    };
    let client = connect(&settings).await?;
    match command {
        Command::Inbox(args) => inbox::run(&client, format, args).await,
        Command::Whoami => directory::whoami(&client, format).await,
        Command::Agencies(command) => directory::run(&client, format, command).await,
        Command::Indicators(command) => indicators::run(&client, format, purpose, command).await,
        Command::Audit(command) => audit::run(&client, &settings.endpoint, format, command).await,
        Command::Admin(command) => admin::run(&client, format, command).await,
        Command::Mla(command) => mla::run(&client, format, purpose, command).await,
        Command::Cbm(command) => cbm::run(&client, format, command).await,
        Command::Config(_) | Command::Completions { .. } | Command::Man { .. } => Ok(()),
    }
}

/// The service a command calls, for a profile with one endpoint per service.
fn service(command: &Command) -> &'static str {
    match command {
        Command::Indicators(_) => "indicators",
        Command::Mla(_) => "mla",
        Command::Cbm(cbm::CbmCommand::Poc(_)) => "directory",
        Command::Cbm(_) => "cbm",
        Command::Audit(_) => "audit",
        Command::Inbox(_)
        | Command::Whoami
        | Command::Agencies(_)
        | Command::Admin(_)
        | Command::Config(_)
        | Command::Completions { .. }
        | Command::Man { .. } => "directory",
    }
}

/// The connection flags of the command line, as `config set` saves them.
fn given(args: &ConnectionArgs, output: Option<OutputFormat>) -> Profile {
    Profile {
        endpoint: args.endpoint.clone(),
        ca: args.ca.clone(),
        cert: args.cert.clone(),
        key: args.key.clone(),
        output: output.map(|format| match format {
            OutputFormat::Json => "json".to_owned(),
            OutputFormat::Table => "table".to_owned(),
        }),
        dev: args.dev,
        as_principal: args.as_principal.clone(),
        data_dir: args.data_dir.clone(),
        ..Profile::default()
    }
}
