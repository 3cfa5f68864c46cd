//! `liaisonctl` as a library: the commands the binary (`main.rs`) runs, and the readers of
//! `indicators publish --file`, which the fuzz harness (`tests/fuzz`) feeds.

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

pub use cli::Cli;
pub use commands::{Failure, run};

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
        let crate::cli::Command::Indicators(crate::cli::IndicatorsCommand::Publish(args)) =
            cli.command
        else {
            return Err("not indicators publish".into());
        };
        let rows = crate::publish_file::read_rows(std::path::Path::new(path), text, &args)
            .map_err(|failure| failure.message)?;
        Ok(rows.into_iter().map(|row| (row.label, row.item)).collect())
    }
}
