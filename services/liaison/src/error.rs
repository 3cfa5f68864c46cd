//! Why a hub could not start or stopped: the one error type of `hub.rs` and `tls.rs`,
//! kept apart so that neither imports the other for it.

use std::{net::SocketAddr, path::PathBuf};

use liaison_store::StoreError;

/// Why a hub could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// A TLS file is missing or unusable.
    #[error("{path}: {reason}")]
    Tls {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The federation file is invalid.
    #[error("federation file: {0}")]
    Federation(#[from] liaison_core::FederationError),
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The audit signing key is missing or unusable.
    #[error("audit signing key {path}: {reason}")]
    AuditKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The receipt signing key is missing or unusable.
    #[error("receipt signing key {path}: {reason}")]
    ReceiptKey {
        /// The key file (the audit key's when no receipt key is set).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A token key is missing or unusable.
    #[error("token signing key {path}: {reason}")]
    TokenKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A witness of the federation file has an unusable key.
    #[error("federation file: witness {name}: {reason}")]
    WitnessKey {
        /// The witness.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A limit is out of range.
    #[error("limits: {0}")]
    Limits(String),
    /// The gRPC server failed.
    #[error("server: {0}")]
    Serve(#[from] tonic::transport::Error),
    /// The reflection service could not be built.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}
