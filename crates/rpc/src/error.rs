//! One table from error kind to gRPC status.

use liaison_auth::{Denied, IdentityError};
use liaison_core::Violations;
use liaison_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// What a handler can fail with. Converting to [`Status`] logs the cause and gives the
/// client a message that names no other agency's data, no SQL and no path.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Bad input: every bad field with its reason.
    #[error("invalid request: {0}")]
    InvalidArgument(Violations),
    /// No usable client identity.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The caller may not do this.
    #[error("permission denied: {0}")]
    PermissionDenied(Denied),
    /// No such object, or one the caller may not know exists.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The object to create exists already.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// A state change that the object's current state forbids.
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// A concurrent change won: the object is not at the version the caller acted on
    /// (a stale etag, or another writer committed first).
    #[error("aborted: {0}")]
    Aborted(String),
    /// Over a limit (an evidence file larger than allowed, say).
    #[error("{0}")]
    ResourceExhausted(String),
    /// Data were corrupted: an upload whose digest is not the one announced, a stored file
    /// that no longer matches its digest.
    #[error("data loss: {0}")]
    DataLoss(String),
    /// Not built yet.
    #[error("{0} is not implemented yet")]
    Unimplemented(&'static str),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Violations> for ServiceError {
    fn from(violations: Violations) -> Self {
        ServiceError::InvalidArgument(violations)
    }
}

impl From<Denied> for ServiceError {
    fn from(denied: Denied) -> Self {
        ServiceError::PermissionDenied(denied)
    }
}

impl From<IdentityError> for ServiceError {
    fn from(error: IdentityError) -> Self {
        ServiceError::Unauthenticated(error.to_string())
    }
}

impl ServiceError {
    /// A single-field violation.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut violations = Violations::new();
        violations.add(field, description);
        ServiceError::InvalidArgument(violations)
    }

    /// The gRPC code of this error.
    pub fn code(&self) -> Code {
        match self {
            ServiceError::InvalidArgument(_) => Code::InvalidArgument,
            ServiceError::Unauthenticated(_) => Code::Unauthenticated,
            ServiceError::PermissionDenied(_) => Code::PermissionDenied,
            ServiceError::NotFound(_) => Code::NotFound,
            ServiceError::AlreadyExists(_) => Code::AlreadyExists,
            ServiceError::FailedPrecondition(_) => Code::FailedPrecondition,
            ServiceError::Aborted(_) => Code::Aborted,
            ServiceError::ResourceExhausted(_) => Code::ResourceExhausted,
            ServiceError::DataLoss(_) => Code::DataLoss,
            ServiceError::Unimplemented(_) => Code::Unimplemented,
            ServiceError::Store(StoreError::RequestIdReused(_)) => Code::InvalidArgument,
            ServiceError::Store(error) if error.is_unavailable() => Code::Unavailable,
            ServiceError::Store(_) => Code::Internal,
        }
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        let code = error.code();
        match error {
            ServiceError::InvalidArgument(violations) => {
                let message = format!("invalid request: {violations}");
                let mut details = ErrorDetails::new();
                for violation in violations {
                    details.add_bad_request_violation(violation.field, violation.description);
                }
                Status::with_error_details(code, message, details)
            }
            ServiceError::Store(StoreError::RequestIdReused(_)) => {
                let mut details = ErrorDetails::new();
                details.add_bad_request_violation(
                    "request_id",
                    "request_id was already used for a different call",
                );
                Status::with_error_details(
                    code,
                    "request_id was already used for a different call",
                    details,
                )
            }
            ServiceError::Store(store_error) => {
                tracing::error!(error = %store_error, "store failure");
                let message = if code == Code::Unavailable {
                    "the database is unavailable; retry later"
                } else {
                    "internal error"
                };
                Status::new(code, message)
            }
            other => Status::new(code, other.to_string()),
        }
    }
}
