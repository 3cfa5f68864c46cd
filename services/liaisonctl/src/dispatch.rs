//! The thin dispatcher: the few commands that need no hub run offline; every other one
//! connects and hands the client to its group's `run`.

use crate::{
    cli::{Cli, Command},
    commands::{admin, audit, cbm, directory, indicators, mla},
    connect::connect,
    failure::Failure,
};

/// Runs the command the arguments name.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let format = cli.output;
    let purpose = cli.purpose.as_deref();
    let command = match cli.command {
        // Verifying an exported file needs no hub.
        Command::Audit(audit::AuditCommand::Verify(args)) if args.file.is_some() => {
            return audit::verify(None, &cli.connection.endpoint, format, args).await;
        }
        // Verifying a saved receipt against a saved key needs no hub either.
        Command::Mla(mla::MlaCommand::VerifyReceipt(args)) if args.keys.is_some() => {
            return mla::verify_receipt_offline(format, &args);
        }
        command => command,
    };
    let client = connect(&cli.connection).await?;
    match command {
        Command::Whoami => directory::whoami(&client, format).await,
        Command::Agencies(command) => directory::run(&client, format, command).await,
        Command::Indicators(command) => indicators::run(&client, format, purpose, command).await,
        Command::Audit(command) => {
            audit::run(&client, &cli.connection.endpoint, format, command).await
        }
        Command::Admin(command) => admin::run(&client, format, command).await,
        Command::Mla(command) => mla::run(&client, format, purpose, command).await,
        Command::Cbm(command) => cbm::run(&client, format, command).await,
    }
}
