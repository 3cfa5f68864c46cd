//! `liaisonctl completions SHELL` and `liaisonctl man --out DIR`: shell completions and
//! man pages generated from the command definitions themselves (`clap_complete`,
//! `clap_mangen`), so they never fall behind the commands.

use std::path::Path;

use clap::CommandFactory;

use crate::{
    cli::{Cli, Shell},
    failure::{EXIT_CALL_FAILED, Failure},
};

/// Writes the completion script for `shell` to standard output (through `print!`, so a
/// reader that stops early ends the program as for any command).
pub fn completions(shell: Shell) -> Result<(), Failure> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "liaisonctl", &mut out);
    print!("{}", String::from_utf8_lossy(&out));
    Ok(())
}

/// Writes `liaisonctl.1` and one page per subcommand (`liaisonctl-mla-preservation.1`, …)
/// into `dir`, or the top page to standard output without one.
pub fn man(dir: Option<&Path>) -> Result<(), Failure> {
    let failed = |error: std::io::Error| Failure::new(EXIT_CALL_FAILED, format!("man: {error}"));
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(failed)?;
            clap_mangen::generate_to(Cli::command(), dir).map_err(failed)?;
            eprintln!("wrote the man pages to {}", dir.display());
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(failed)?;
            print!("{}", String::from_utf8_lossy(&out));
        }
    }
    Ok(())
}
