//! `liaisonctl` as a library: the commands the binary (`main.rs`) runs, and the readers of
//! `indicators publish --file`, which the fuzz harness (`tests/fuzz`) feeds.
//!
//! Layers, each using only those below it: `dispatch` (the top-level match) → `connect`
//! → `cli` (arguments) → `commands/*` (one file per command group, none using another)
//! → the leaves `call`, `parse`, `output`, `progress` → `failure`.

mod call;
mod cli;
mod commands;
mod connect;
pub mod coverage;
mod dispatch;
mod failure;
mod generate;
mod output;
mod parse;
mod profile;
mod progress;

pub use cli::Cli;
pub use dispatch::run;
pub use failure::Failure;

/// Entry points for the fuzz harness (`liaison-fuzz`): not a stable interface.
#[doc(hidden)]
pub mod fuzzing {
    use liaison_proto::v1;

    /// Each item of a file: where it is, and its message or why it cannot be one.
    pub type Rows = Vec<(String, Result<v1::Indicator, String>)>;

    /// The items `indicators publish --file <path>` reads from a file with `text`, each
    /// with where it is in the file, with the flags' defaults; or why the file as a whole
    /// cannot be read. `format`: "json", "csv", "stix" or `None` (detected, as the
    /// command does, from the content and `path`'s extension).
    pub fn publish_file_rows(path: &str, text: &str, format: Option<&str>) -> Result<Rows, String> {
        use clap::Parser;
        let mut argv = vec!["liaisonctl", "indicators", "publish", "--file", path];
        if let Some(format) = format {
            argv.extend(["--format", format]);
        }
        let cli = crate::Cli::try_parse_from(argv).map_err(|error| error.to_string())?;
        let crate::cli::Command::Indicators(
            crate::commands::indicators::IndicatorsCommand::Publish(args),
        ) = cli.command
        else {
            return Err("not indicators publish".into());
        };
        let rows = crate::commands::indicators::read_rows(std::path::Path::new(path), text, &args)
            .map_err(|failure| failure.message)?;
        Ok(rows.into_iter().map(|row| (row.label, row.item)).collect())
    }
}
