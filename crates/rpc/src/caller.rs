//! From a connection's certificate to a caller with roles.

use std::{net::SocketAddr, sync::Arc};

use liaison_auth::{Caller, IdentityError, PeerIdentity};
use liaison_core::federation::AgencyKind;
use liaison_store::Store;

use crate::ServiceError;

/// What the TLS layer learnt of one connection. Attached to every request on it (as a
/// request extension); computed once per connection.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The peer's address.
    pub remote_addr: Option<SocketAddr>,
    /// The identity the client certificate proves, or why it proves none.
    pub identity: Arc<Result<PeerIdentity, IdentityError>>,
}

/// Resolves callers against the directory.
#[derive(Debug, Clone)]
pub struct Authenticator {
    store: Store,
}

impl Authenticator {
    /// An authenticator reading the directory in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The caller of `request`: its certificate's principal, which the directory must
    /// know, with its roles and its agency's memberships. UNAUTHENTICATED without a usable
    /// certificate or for a principal the directory does not know; PERMISSION_DENIED for a
    /// suspended agency.
    pub async fn caller<T>(&self, request: &tonic::Request<T>) -> Result<Caller, ServiceError> {
        let info =
            request
                .extensions()
                .get::<ConnectionInfo>()
                .ok_or(ServiceError::Unauthenticated(
                    IdentityError::NoCertificate.to_string(),
                ))?;
        let identity = info.identity.as_ref().clone()?;
        let principal = identity.principal();
        let roles = self
            .store
            .principal_roles(principal)
            .await?
            .ok_or_else(|| {
                ServiceError::Unauthenticated(
                    "the client certificate names a principal this hub does not know".into(),
                )
            })?;
        let agency = self
            .store
            .get_agency(principal.agency())
            .await?
            .ok_or_else(|| {
                ServiceError::Unauthenticated(
                    "the client certificate names an agency this hub does not know".into(),
                )
            })?;
        let groups = self.store.groups_of(principal.agency()).await?;
        if let Some(audit) = request.extensions().get::<crate::AuditContext>() {
            audit.set_roles(&roles);
        }
        let caller = Caller::new(
            identity,
            roles,
            agency.kind == AgencyKind::Hub,
            agency.suspended,
            groups,
        );
        caller.may_call()?;
        Ok(caller)
    }
}
