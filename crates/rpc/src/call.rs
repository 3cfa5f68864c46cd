//! The opening every handler shares: resolve the caller (past the method's gate) and pick
//! up the audit context the audit layer opened for the call.

use liaison_auth::Caller;

use crate::{AuditContext, Authenticator, ServiceError};

/// The caller of a call and its audit context.
#[derive(Debug, Clone)]
pub struct Call {
    /// Who calls, with roles and memberships from the directory.
    pub caller: Caller,
    /// The audit record being built for the call.
    pub audit: AuditContext,
}

impl Call {
    /// The caller of `request` and the call's audit context; fails, with the status the
    /// caller gets, when the caller is unknown, suspended or revoked.
    pub async fn begin<T>(
        auth: &Authenticator,
        request: &tonic::Request<T>,
    ) -> Result<Self, ServiceError> {
        let caller = auth.caller(request).await?;
        Ok(Self {
            caller,
            audit: AuditContext::of(request),
        })
    }

    /// The same caller with an audit context of its own, for one item of the call (a page
    /// of a stream): see [`AuditContext::fork`].
    pub fn fork(&self) -> Self {
        Self {
            caller: self.caller.clone(),
            audit: self.audit.fork(),
        }
    }
}
