//! `liaisonctl config …`: hub profiles in the XDG config directory — set one from the
//! connection flags given with it, list, show, pick the default, remove.

use clap::{Args, Subcommand};
use serde_json::json;

use crate::{
    failure::{EXIT_CONFIG, Failure},
    output::{self, OutputFormat, print_json},
    profile::{Config, Profile, SERVICES, config_path},
};

/// `liaisonctl config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Save the connection flags given with it as profile NAME (values not given are
    /// kept), e.g. `liaisonctl config set ua --endpoint https://hub.example:50051 --ca
    /// ca.pem --cert officer.pem --key officer.key --output table --default`.
    Set(SetArgs),
    /// List the profiles; `*` marks the default.
    List,
    /// Show one profile.
    Show {
        /// The profile.
        name: String,
    },
    /// Make a profile the default.
    Use {
        /// The profile.
        name: String,
    },
    /// Remove a profile.
    Remove {
        /// The profile.
        name: String,
    },
    /// Print where the configuration file is.
    Path,
}

/// `config set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The profile's name.
    pub name: String,
    /// An endpoint of one service, SERVICE=URL (repeatable); services: directory,
    /// indicators, mla, cbm, audit.
    #[arg(long = "service-endpoint", value_name = "SERVICE=URL")]
    pub service_endpoints: Vec<String>,
    /// Also make it the default profile.
    #[arg(long)]
    pub default: bool,
}

fn path() -> Result<std::path::PathBuf, Failure> {
    config_path().ok_or_else(|| {
        Failure::new(
            EXIT_CONFIG,
            "no configuration directory: set XDG_CONFIG_HOME or HOME",
        )
    })
}

/// Runs a `config` subcommand; `given` holds the connection flags of the command line.
pub fn run(format: OutputFormat, command: ConfigCommand, given: Profile) -> Result<(), Failure> {
    let path = path()?;
    let mut config = Config::load(&path)?;
    let missing = |name: &str| {
        Failure::new(
            EXIT_CONFIG,
            format!("{}: no profile {name:?}", path.display()),
        )
    };
    match command {
        ConfigCommand::Set(args) => {
            let profile = config.profiles.entry(args.name.clone()).or_default();
            merge(profile, given, &args.service_endpoints)?;
            if args.default || config.default.is_none() {
                config.default = Some(args.name.clone());
            }
            config.save(&path)?;
            println!("saved profile {} in {}", args.name, path.display());
        }
        ConfigCommand::List => list(format, &config),
        ConfigCommand::Show { name } => {
            let profile = config.profiles.get(&name).ok_or_else(|| missing(&name))?;
            match format {
                OutputFormat::Json => print_json(&json!(profile)),
                OutputFormat::Table => {
                    print!("{}", toml::to_string_pretty(profile).unwrap_or_default())
                }
            }
        }
        ConfigCommand::Use { name } => {
            config.profiles.get(&name).ok_or_else(|| missing(&name))?;
            config.default = Some(name.clone());
            config.save(&path)?;
            println!("default profile: {name}");
        }
        ConfigCommand::Remove { name } => {
            config
                .profiles
                .remove(&name)
                .ok_or_else(|| missing(&name))?;
            if config.default.as_deref() == Some(name.as_str()) {
                config.default = None;
            }
            config.save(&path)?;
            println!("removed profile {name}");
        }
        ConfigCommand::Path => println!("{}", path.display()),
    }
    Ok(())
}

/// Puts the values given into `profile`, file paths made absolute.
fn merge(profile: &mut Profile, given: Profile, endpoints: &[String]) -> Result<(), Failure> {
    let absolute = |path: Option<std::path::PathBuf>| {
        path.map(|path| std::path::absolute(&path).unwrap_or(path))
    };
    for pair in endpoints {
        let (service, url) = pair.split_once('=').ok_or_else(|| {
            Failure::usage(format!("--service-endpoint {pair:?}: expected SERVICE=URL"))
        })?;
        if !SERVICES.contains(&service) {
            return Err(Failure::usage(format!(
                "--service-endpoint: unknown service {service:?}: {}",
                SERVICES.join(", ")
            )));
        }
        profile.endpoints.insert(service.to_owned(), url.to_owned());
    }
    macro_rules! keep_given {
        ($($field:ident),*) => { $( if given.$field.is_some() { profile.$field = given.$field; } )* };
    }
    keep_given!(endpoint, output, as_principal);
    if let Some(path) = absolute(given.ca) {
        profile.ca = Some(path);
    }
    if let Some(path) = absolute(given.cert) {
        profile.cert = Some(path);
    }
    if let Some(path) = absolute(given.key) {
        profile.key = Some(path);
    }
    if let Some(path) = absolute(given.data_dir) {
        profile.data_dir = Some(path);
    }
    profile.dev |= given.dev;
    Ok(())
}

fn list(format: OutputFormat, config: &Config) {
    let rows: Vec<Vec<String>> = config
        .profiles
        .iter()
        .map(|(name, profile)| {
            let marker = if config.default.as_deref() == Some(name.as_str()) {
                "*"
            } else {
                ""
            };
            let identity = match (&profile.as_principal, &profile.cert) {
                (Some(principal), _) if profile.dev => format!("dev {principal}"),
                (_, Some(cert)) => cert.display().to_string(),
                _ => "-".into(),
            };
            vec![
                format!("{marker}{name}"),
                profile.endpoint.clone().unwrap_or_else(|| "-".into()),
                identity,
            ]
        })
        .collect();
    match format {
        OutputFormat::Json => print_json(&json!(config.profiles)),
        OutputFormat::Table => print!(
            "{}",
            output::table(&["PROFILE", "ENDPOINT", "IDENTITY"], &rows)
        ),
    }
}
