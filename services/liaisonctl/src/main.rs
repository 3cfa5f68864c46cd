//! `liaisonctl`: the thin admin client. Parses arguments, connects with mutual TLS, runs
//! one command, prints a table (or JSON with `--output json`), exits non-zero on failure.
//! The commands themselves are the library (`lib.rs`).

use std::process::ExitCode;

use clap::Parser;
use liaisonctl::{Cli, run};

/// Exit code when whoever reads the output stops reading (`liaisonctl … | head`): what a
/// shell reports for a program killed by SIGPIPE (128 + 13).
const EXIT_OUTPUT_CLOSED: i32 = 141;

/// Rust ignores SIGPIPE, so a print to a closed pipe panics. That is no failure of the
/// command: end quietly, as tools killed by SIGPIPE do, rather than with a backtrace.
fn exit_quietly_when_output_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload_as_str().unwrap_or_default();
        // std's message: "failed printing to stdout: Broken pipe (os error 32)".
        if message.starts_with("failed printing to stdout")
            && message.to_ascii_lowercase().contains("broken pipe")
        {
            std::process::exit(EXIT_OUTPUT_CLOSED);
        }
        default(info);
    }));
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    exit_quietly_when_output_closes();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("liaisonctl: {}", failure.message);
            ExitCode::from(failure.exit_code)
        }
    }
}
