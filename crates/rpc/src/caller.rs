//! From a connection's certificate (and the token sent with a call) to a caller with roles.
//!
//! The rules, in order:
//! 1. The connection's client certificate must name a principal (the TLS layer read it
//!    once) and must not be revoked, by the operator or by the CA's CRL.
//! 2. The principal and its agency must be in the directory; a suspended agency may do
//!    nothing.
//! 3. With a token (`authorization: Bearer …`), the token must verify against the hub's
//!    token keys and be bound to this very certificate (`cnf.x5t#S256`); the caller then
//!    holds the token's roles that the directory still grants (a role withdrawn after the
//!    token was issued is gone at once).
//! 4. Without a token the caller falls back to the certificate alone and holds at most the
//!    `system` role: integration feeds keep working over plain mutual TLS, while a person's
//!    officer, auditor and operator roles need a token, which the Rust client and
//!    `liaisonctl` obtain and refresh by themselves. Calls that need no role (WhoAmI,
//!    IssueToken, the directory's reads) work with the certificate alone.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use liaison_auth::{Caller, Denied, IdentityError, PeerIdentity, TokenAuthority, VerifiedToken};
use liaison_core::{Role, Timestamp, federation::AgencyKind};
use liaison_store::Store;
use tokio::sync::watch;

use crate::{Revocations, ServiceError};

/// The metadata key of the bearer token.
pub const AUTHORIZATION_HEADER: &str = "authorization";

/// What the TLS layer learnt of one connection. Attached to every request on it (as a
/// request extension); computed once per connection.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The peer's address.
    pub remote_addr: Option<SocketAddr>,
    /// The identity the client certificate proves, or why it proves none.
    pub identity: Arc<Result<PeerIdentity, IdentityError>>,
    /// The calls open on the connection ([`crate::ActivityLayer`] counts them), for the
    /// hub's idle timeout.
    pub activity: Arc<crate::ConnectionActivity>,
}

/// The hub-wide access machinery every service shares: token keys and revocations.
#[derive(Debug, Clone)]
pub struct AccessControl {
    /// Verifies (and, in the directory, issues) tokens. `None`: tokens are not offered and
    /// every caller is authenticated by certificate alone.
    pub tokens: Option<Arc<TokenAuthority>>,
    /// Revoked certificates.
    pub revocations: Revocations,
    /// How often open streams re-check their caller without a change notice: the bound on
    /// how long a change made on another node takes to close a stream here.
    pub recheck_every: Duration,
}

/// What the directory says of one principal: its roles, its agency's kind, whether the
/// agency is suspended, and its agency's sharing groups.
type DirectoryEntry = (Vec<Role>, AgencyKind, bool, Vec<liaison_core::GroupId>);

/// How long a principal's directory entry is reused across calls. A change made on this
/// node applies to the next call at once (the directory version moves); one made on
/// another node within this long, which is well inside the bound streams are re-checked
/// in (`AccessControl::recheck_every`).
const DIRECTORY_CACHE_FOR: Duration = Duration::from_secs(1);

/// Principals' directory entries, each with when it was read and the directory version
/// it was read at.
#[derive(Debug, Default)]
struct DirectoryCache {
    entries: std::collections::HashMap<
        liaison_core::PrincipalId,
        (std::time::Instant, u64, DirectoryEntry),
    >,
}

/// Resolves callers against the directory.
#[derive(Debug, Clone)]
pub struct Authenticator {
    store: Store,
    access: AccessControl,
    cache: Arc<std::sync::Mutex<DirectoryCache>>,
    version: tokio::sync::watch::Receiver<u64>,
}

impl Authenticator {
    /// An authenticator reading the directory in `store`.
    pub fn new(store: Store, access: AccessControl) -> Self {
        Self {
            version: store.watch_directory(),
            store,
            access,
            cache: Arc::default(),
        }
    }

    /// The directory entry of a calling principal: from the cache while it is fresh and
    /// the directory has not changed on this node, else read.
    async fn cached_directory_entry(
        &self,
        identity: &PeerIdentity,
    ) -> Result<DirectoryEntry, ServiceError> {
        let version = *self.version.borrow();
        let principal = identity.principal();
        if let Ok(cache) = self.cache.lock()
            && let Some((read, at, entry)) = cache.entries.get(principal)
            && *at == version
            && read.elapsed() < DIRECTORY_CACHE_FOR
        {
            return Ok(entry.clone());
        }
        let entry = self.directory_entry(identity).await?;
        if let Ok(mut cache) = self.cache.lock() {
            // Bounded: a hub has a few hundred principals; a flood of unknown ones never
            // gets here (an unknown principal is refused before).
            if cache.entries.len() > 10_000 {
                cache.entries.clear();
            }
            cache.entries.insert(
                principal.clone(),
                (std::time::Instant::now(), version, entry.clone()),
            );
        }
        Ok(entry)
    }

    /// The token authority, when tokens are on.
    pub fn tokens(&self) -> Option<&TokenAuthority> {
        self.access.tokens.as_deref()
    }

    /// The revoked certificates.
    pub fn revocations(&self) -> &Revocations {
        &self.access.revocations
    }

    /// The caller of `request`, by the rules in this module's documentation.
    /// UNAUTHENTICATED without a usable certificate, for a revoked one, for a refused token
    /// or for a principal the directory does not know; PERMISSION_DENIED for a suspended
    /// agency or a method whose gate the caller does not pass.
    pub async fn caller<T>(&self, request: &tonic::Request<T>) -> Result<Caller, ServiceError> {
        self.resolve(request, true).await
    }

    /// The caller with all its directory roles, whatever token the call presented: for
    /// `IssueToken`, which puts those roles into the token. Otherwise as
    /// [`Authenticator::caller`].
    pub async fn certificate_caller<T>(
        &self,
        request: &tonic::Request<T>,
    ) -> Result<Caller, ServiceError> {
        self.resolve(request, false).await
    }

    async fn resolve<T>(
        &self,
        request: &tonic::Request<T>,
        use_token: bool,
    ) -> Result<Caller, ServiceError> {
        let info =
            request
                .extensions()
                .get::<ConnectionInfo>()
                .ok_or(ServiceError::Unauthenticated(
                    IdentityError::NoCertificate.to_string(),
                ))?;
        let identity = info.identity.as_ref().clone()?;
        self.check_certificate(&identity)?;
        let audit = request.extensions().get::<crate::AuditContext>();
        // IssueToken reads the directory afresh: the token it signs carries these roles.
        let (directory_roles, agency_kind, suspended, groups) = if use_token {
            self.cached_directory_entry(&identity).await?
        } else {
            self.directory_entry(&identity).await?
        };
        let roles: Vec<Role> = if use_token {
            let token = self.token(request, &identity)?;
            if let (Some(audit), Some(token)) = (audit, &token) {
                audit.set_token_id(&token.claims.jti);
            }
            directory_roles
                .into_iter()
                .filter(|role| match &token {
                    Some(token) => token.roles.contains(role),
                    None => *role == Role::System,
                })
                .collect()
        } else {
            directory_roles
        };
        if let Some(audit) = audit {
            audit.set_roles(&roles);
        }
        let caller = Caller::new(
            identity,
            roles,
            agency_kind == AgencyKind::Hub,
            suspended,
            groups,
        );
        Self::check_gate(request, &caller)?;
        Ok(caller)
    }

    /// The method's gate (`liaison_auth::authorize`), for the method the audit layer saw.
    fn check_gate<T>(request: &tonic::Request<T>, caller: &Caller) -> Result<(), ServiceError> {
        let method = request
            .extensions()
            .get::<crate::AuditContext>()
            .map(crate::AuditContext::method)
            .unwrap_or_default();
        liaison_auth::check_gate(caller, &method)?;
        Ok(())
    }

    fn token<T>(
        &self,
        request: &tonic::Request<T>,
        identity: &PeerIdentity,
    ) -> Result<Option<VerifiedToken>, ServiceError> {
        let Some(value) = request.metadata().get(AUTHORIZATION_HEADER) else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ServiceError::Unauthenticated(
                    "the authorization metadata must be `Bearer <token>`".into(),
                )
            })?;
        let Some(authority) = self.access.tokens.as_deref() else {
            return Err(ServiceError::Unauthenticated(
                "this hub issues no tokens; call without one".into(),
            ));
        };
        authority
            .verify(
                token.trim(),
                identity.principal(),
                identity.certificate_sha256(),
                now(),
            )
            .map(Some)
            .map_err(|error| ServiceError::Unauthenticated(error.to_string()))
    }

    #[allow(clippy::type_complexity)]
    async fn directory_entry(
        &self,
        identity: &PeerIdentity,
    ) -> Result<DirectoryEntry, ServiceError> {
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
        Ok((roles, agency.kind, agency.suspended, groups))
    }

    /// The certificate of a call or an open stream: not revoked, and valid now. The TLS
    /// handshake checked its validity once; a connection (or a resumed session) may outlive
    /// it, so every call and every stream re-check looks again.
    fn check_certificate(&self, identity: &PeerIdentity) -> Result<(), ServiceError> {
        if self.access.revocations.is_revoked(identity) {
            return Err(ServiceError::Unauthenticated(
                "the client certificate has been revoked".into(),
            ));
        }
        if !identity.valid_at(now()) {
            return Err(ServiceError::Unauthenticated(
                "the client certificate is expired or not yet valid".into(),
            ));
        }
        Ok(())
    }

    /// Re-checks the caller of an open stream against the directory as it stands: the
    /// certificate is not revoked and still valid, the agency is not suspended, the
    /// directory still grants every role the stream was admitted with, and the agency's
    /// kind and sharing groups are those it was admitted with. On any change the stream
    /// ends (the client subscribes again and gets what its new standing allows). The entry
    /// comes from the per-principal cache, so many open streams of one principal cost one
    /// directory read per [`DIRECTORY_CACHE_FOR`] at most; a change made on this node
    /// moves the directory version and is seen at once.
    pub async fn recheck(&self, caller: &Caller) -> Result<(), ServiceError> {
        self.check_certificate(caller.identity())?;
        let (roles, kind, suspended, groups) =
            self.cached_directory_entry(caller.identity()).await?;
        if suspended {
            return Err(Denied("the caller's agency is suspended").into());
        }
        if !caller.roles().iter().all(|role| roles.contains(role)) {
            return Err(Denied("the caller's roles have changed; subscribe again").into());
        }
        let mut then: Vec<&liaison_core::GroupId> = caller.groups().iter().collect();
        let mut now: Vec<&liaison_core::GroupId> = groups.iter().collect();
        then.sort();
        now.sort();
        if then != now || (kind == AgencyKind::Hub) != caller.is_hub() {
            return Err(
                Denied("the caller agency's sharing groups have changed; subscribe again").into(),
            );
        }
        Ok(())
    }

    /// Before a stream decides what of a page it delivers: re-checks its caller if the
    /// directory or the revocations changed in this process since it last looked, so that
    /// a change made here applies to this very page, whichever wake-up came first.
    pub async fn recheck_if_changed(
        &self,
        access: &mut AccessWatch,
        caller: &Caller,
    ) -> Result<(), ServiceError> {
        if access.take_change() {
            self.recheck(caller).await
        } else {
            Ok(())
        }
    }

    /// A watch that wakes an open stream when it should re-check its caller.
    pub fn watch_access(&self) -> AccessWatch {
        let mut ticks = tokio::time::interval(self.access.recheck_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.reset();
        AccessWatch {
            directory: self.store.watch_directory(),
            revocations: self.access.revocations.watch(),
            ticks,
        }
    }
}

/// Wakes when the directory or the revocations changed in this process, or after the
/// re-check interval (for changes made on other nodes).
#[derive(Debug)]
pub struct AccessWatch {
    directory: watch::Receiver<u64>,
    revocations: watch::Receiver<u64>,
    ticks: tokio::time::Interval,
}

impl AccessWatch {
    /// True (once) when the directory or the revocations changed in this process since
    /// the last wake-up: a stream about to decide what to deliver re-checks its caller
    /// first, so a change made here applies to the very next page, whichever of the
    /// stream's wake-ups came first.
    pub fn take_change(&mut self) -> bool {
        let directory = self.directory.has_changed().unwrap_or(false);
        let revocations = self.revocations.has_changed().unwrap_or(false);
        if directory {
            self.directory.borrow_and_update();
        }
        if revocations {
            self.revocations.borrow_and_update();
        }
        directory || revocations
    }

    /// Resolves at the next reason to re-check. Cancel-safe.
    pub async fn changed(&mut self) {
        // A closed channel fails its pattern and disables its branch; the ticks remain.
        tokio::select! {
            Ok(()) = self.directory.changed() => {}
            Ok(()) = self.revocations.changed() => {}
            _ = self.ticks.tick() => {}
        }
    }
}

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}
