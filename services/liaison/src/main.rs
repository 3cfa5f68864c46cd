//! `liaison`: the hub binary. Argument parsing, configuration, wiring, shutdown.

mod cli;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Serve(args) => {
            let format = args.log_format.into();
            let config = match cli::serve_config(args) {
                Ok(config) => config,
                Err(message) => {
                    eprintln!("liaison: configuration error: {message}");
                    return ExitCode::from(cli::EX_USAGE);
                }
            };
            // Traces and metrics go to OTEL_EXPORTER_OTLP_ENDPOINT when it is set, and to
            // the admin port's /metrics when that is on.
            let telemetry = liaison_telemetry::init_with(
                format,
                "info",
                liaison_telemetry::Export::from_env()
                    .with_prometheus(config.admin_listen.is_some()),
            );
            let hub = match liaison::Hub::bind(config).await {
                Ok(hub) => hub,
                Err(error) => {
                    eprintln!("liaison: cannot start: {error}");
                    return ExitCode::FAILURE;
                }
            };
            eprintln!(
                "liaison: listening on {} (mutual TLS, TLS 1.3)",
                hub.local_addr()
            );
            let served = hub.serve(cli::shutdown_signal()).await;
            telemetry.shutdown();
            match served {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("liaison: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        cli::Command::Dev(cli::DevCommand::Issue(args)) => {
            report("dev issue", cli::dev_issue(args))
        }
        cli::Command::Dev(cli::DevCommand::Revoke(args)) => {
            report("dev revoke", cli::dev_revoke(args))
        }
        cli::Command::Dev(cli::DevCommand::Init(args)) => match cli::dev_init(args) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("liaison: dev init: {message}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Prints a development command's summary, or its error.
fn report(command: &str, result: Result<String, String>) -> ExitCode {
    match result {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("liaison: {command}: {message}");
            ExitCode::FAILURE
        }
    }
}
