//! The Liaison hub as a library: configuration, the mutual-TLS listener and the assembly of
//! every service into one gRPC server. The `liaison` binary and `liaison-testkit` both
//! start hubs through [`Hub::bind`].

mod admin;
pub mod config;
pub mod dev;
mod error;
mod gauges;
mod hub;
mod tls;

pub use config::{AccessConfig, DatabaseConfig, HubConfig, Limits, Secret, TlsFiles};
pub use error::HubError;
pub use hub::{BoundHub, Hub};

/// The example federation shipped in `deploy/federation.example.toml`, which `--dev` loads.
pub const EXAMPLE_FEDERATION: &str = include_str!("../../../deploy/federation.example.toml");
