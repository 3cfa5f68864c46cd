//! Why a command failed, and the exit code that says so: one table from what went wrong
//! (a refused certificate, an unreachable hub, a denied call, a bad argument) to the code
//! the process exits with.

use liaison_client::{Client, FailureKind, explain_status};

/// Exit code: the hub refused or failed the call.
pub const EXIT_CALL_FAILED: u8 = 1;
/// Exit code: bad arguments, as clap uses.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: bad configuration (sysexits `EX_CONFIG` family; `EX_USAGE`).
pub const EXIT_CONFIG: u8 = 64;
/// Exit code: the hub cannot be reached (`EX_UNAVAILABLE`).
pub const EXIT_UNREACHABLE: u8 = 69;
/// Exit code: the hub does not accept this identity or denies the action (`EX_NOPERM`).
pub const EXIT_DENIED: u8 = 77;

/// Why a command failed, and the exit code that says so.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub exit_code: u8,
}

impl Failure {
    pub fn new(exit_code: u8, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code,
        }
    }

    /// A bad argument (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(EXIT_USAGE, message)
    }

    /// What a refused or failed call means for the user, with the field violations the
    /// hub named.
    pub fn from_status(client: &Client, status: &tonic::Status) -> Self {
        let (kind, mut message) = explain_status(client.endpoint(), status);
        let code = match (kind, status.code()) {
            (FailureKind::CertificateRefused, _) => EXIT_DENIED,
            (
                FailureKind::NotListening
                | FailureKind::HubBusy
                | FailureKind::ServerUntrusted
                | FailureKind::Transport,
                _,
            ) => EXIT_UNREACHABLE,
            (_, tonic::Code::Unauthenticated | tonic::Code::PermissionDenied) => EXIT_DENIED,
            (_, tonic::Code::Unavailable) => EXIT_UNREACHABLE,
            _ => EXIT_CALL_FAILED,
        };
        for (field, description) in field_violations(status) {
            message.push_str(&format!("\n  {field}: {description}"));
            if field == liaison_client::PURPOSE_HEADER {
                message.push_str("\n  (liaisonctl: pass --purpose TEXT or set LIAISON_PURPOSE)");
            }
        }
        Self::new(code, message)
    }
}

/// `map_err(failed(client))`: a refused or failed call as a [`Failure`].
pub fn failed(client: &Client) -> impl Fn(tonic::Status) -> Failure + '_ {
    move |status| Failure::from_status(client, &status)
}

/// Field violations of an INVALID_ARGUMENT status, from its `google.rpc.BadRequest`.
fn field_violations(status: &tonic::Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .into_iter()
                .map(|violation| (violation.field, violation.description))
                .collect()
        })
        .unwrap_or_default()
}
