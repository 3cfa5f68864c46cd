//! `liaisonctl`: the thin admin client. Parses arguments, connects with mutual TLS, runs
//! one command, prints a table (or JSON with `--output json`), exits non-zero on failure.

mod admin;
mod audit;
mod cbm;
mod cli;
mod commands;
mod connect;
mod csv;
mod exchange;
mod file_rows;
mod mla;
mod output;
mod progress;
mod publish_file;
mod stix_convert;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("liaisonctl: {}", failure.message);
            ExitCode::from(failure.exit_code)
        }
    }
}
