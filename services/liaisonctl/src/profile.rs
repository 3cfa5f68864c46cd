//! Hub profiles: named connection settings kept in `$XDG_CONFIG_HOME/liaisonctl/config.toml`
//! (`~/.config/liaisonctl/config.toml` without it), so that an officer types
//! `liaisonctl mla list` and not four flags. `--profile NAME` or `LIAISON_PROFILE` picks
//! one, else the file's `default`. Flags and `LIAISON_*` variables win over the profile.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::failure::{EXIT_CONFIG, Failure};

/// The file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The profile used when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One hub and one identity on it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The hub's endpoint, for every service without one of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// One endpoint per service (`directory`, `indicators`, `mla`, `cbm`, `audit`), for a
    /// hub whose services run apart (`liaison serve --services …`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, String>,
    /// The hub CA certificate (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// The client certificate (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// The client private key (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// The default output format: `table` or `json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Use the development PKI of `data_dir` as `as`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dev: bool,
    /// With `dev`: the principal, AGENCY-ID/name.
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub as_principal: Option<String>,
    /// With `dev`: the hub's data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

/// The services a profile may give an endpoint of its own.
pub const SERVICES: [&str; 5] = ["directory", "indicators", "mla", "cbm", "audit"];

/// Where the file is: `$XDG_CONFIG_HOME/liaisonctl/config.toml`, else
/// `$HOME/.config/liaisonctl/config.toml`.
pub fn config_path() -> Option<PathBuf> {
    let dir = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(dir.join("liaisonctl").join("config.toml"))
}

fn bad(path: &Path, why: impl std::fmt::Display) -> Failure {
    Failure::new(EXIT_CONFIG, format!("{}: {why}", path.display()))
}

impl Config {
    /// The file at `path`; an absent file is an empty configuration.
    pub fn load(path: &Path) -> Result<Self, Failure> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|error| bad(path, error)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(bad(path, error)),
        }
    }

    /// Writes the file, creating its directory; readable by its owner only, as it names
    /// the key file.
    pub fn save(&self, path: &Path) -> Result<(), Failure> {
        let text = toml::to_string_pretty(self).map_err(|error| bad(path, error))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|error| bad(dir, error))?;
        }
        std::fs::write(path, text).map_err(|error| bad(path, error))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|error| bad(path, error))?;
        }
        Ok(())
    }

    /// The profile `name` names, or the default one; `None` when neither is set. A named
    /// profile that does not exist is a configuration failure.
    pub fn pick(&self, name: Option<&str>, path: &Path) -> Result<Option<Profile>, Failure> {
        let Some(name) = name.or(self.default.as_deref()) else {
            return Ok(None);
        };
        self.profiles.get(name).cloned().map(Some).ok_or_else(|| {
            let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            bad(
                path,
                format!(
                    "no profile {name:?} (profiles: {}); see `liaisonctl config --help`",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })
    }
}

impl Profile {
    /// The endpoint for `service`: its own, else the profile's.
    pub fn endpoint_for(&self, service: &str) -> Option<&str> {
        self.endpoints
            .get(service)
            .or(self.endpoint.as_ref())
            .map(String::as_str)
    }
}
