//! The Liaison directory service: who is in the federation, who the caller is, tokens,
//! and the operator's changes (agencies, certificates, roles, sharing groups).
//!
//! Points of contact (contacts.rs) are kept by each agency's officers; every change is
//! announced to all members by a CBM POC-update notification in the same transaction.
//!
//! Every operator write is validated field by field, then committed with its idempotency
//! key and audit record in one transaction (`liaison_store::access`). Suspensions and
//! revocations take effect at once for new calls and, through the directory's change
//! notice, for open streams.

mod contacts;
mod convert;
mod operator;

/// Entry points for the fuzz harness (`tests/fuzz`): not a stable interface.
#[doc(hidden)]
pub mod fuzzing {
    use liaison_core::{Violations, cbm::PocContent};
    use liaison_proto::v1;

    /// What SetPointOfContact checks of a point-of-contact message.
    pub fn validate_point_of_contact(poc: &v1::PointOfContact) -> Result<PocContent, Violations> {
        PocContent::validate(crate::contacts::draft_from_proto(poc), "point_of_contact")
    }
}

use std::{fmt, sync::Arc};

use sha2::Digest;

use liaison_audit::{Access, ObjectAccess};
use liaison_auth::{Caller, PeerIdentity};
use liaison_core::{AgencyId, GroupId, Timestamp, Violations};
use liaison_proto::{
    domain::{ProtoEnum, principal_ref},
    methods,
    v1::{self, directory_service_server},
};
use liaison_rpc::{
    AccessControl, AuditContext, Authenticator, Call, ServiceError, page_size, to_timestamp,
};
use liaison_store::{AgencyRecord, DirectoryChange, DirectoryWrite, SharingGroupRecord, Store};
use tonic::{Request, Response, Status};

/// Checks that a DER certificate was issued by the hub CA (chain and validity), as the
/// TLS layer would at a handshake.
pub type CertificateCheck = Arc<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>;

/// The directory service.
#[derive(Clone)]
pub struct DirectoryService {
    store: Store,
    auth: Authenticator,
    trust_domain: String,
    check_certificate: CertificateCheck,
    /// The deadline clock: when contacts were confirmed, and when they go stale.
    clock: liaison_rpc::Clock,
}

impl fmt::Debug for DirectoryService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectoryService")
            .field("trust_domain", &self.trust_domain)
            .finish_non_exhaustive()
    }
}

impl DirectoryService {
    /// A directory service over `store` for the federation `trust_domain`;
    /// `check_certificate` vets certificates the operator registers.
    pub fn new(
        store: Store,
        access: AccessControl,
        trust_domain: &str,
        check_certificate: CertificateCheck,
    ) -> Self {
        Self {
            auth: Authenticator::new(store.clone(), access),
            store,
            trust_domain: trust_domain.to_owned(),
            check_certificate,
            clock: liaison_rpc::Clock::system(),
        }
    }

    /// The same service with `clock` for point-of-contact confirmations and staleness.
    pub fn with_clock(mut self, clock: liaison_rpc::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The change record of an operator write on `object_id`, owned by `owner`.
    fn change<'a, T>(
        request: &Request<T>,
        caller: &'a Caller,
        request_id: &'a str,
        method: &'static str,
        object_id: &str,
        owner: Option<&AgencyId>,
    ) -> DirectoryChange<'a> {
        let audit = AuditContext::of(request);
        DirectoryChange {
            actor: caller.principal(),
            request_id,
            method,
            object_id: object_id.to_owned(),
            audit_record: audit.write_record(ObjectAccess {
                id: object_id.to_owned(),
                access: Access::Write,
                owner_agency: owner.map(ToString::to_string),
                anonymous: false,
            }),
            now: now(),
        }
    }

    /// Maps a write's outcome; on success marks the call recorded.
    fn written<T>(request: &Request<T>, outcome: DirectoryWrite) -> Result<(), ServiceError> {
        match outcome {
            DirectoryWrite::Done | DirectoryWrite::Repeated => {
                AuditContext::of(request).mark_recorded();
                Ok(())
            }
            DirectoryWrite::Missing(what) => Err(ServiceError::NotFound(what)),
            DirectoryWrite::Exists(what) => Err(ServiceError::AlreadyExists(what)),
        }
    }

    async fn agency_record(&self, id: &AgencyId) -> Result<AgencyRecord, ServiceError> {
        self.store
            .get_agency(id)
            .await?
            .ok_or(ServiceError::NotFound("agency"))
    }

    /// Suspends or reinstates an agency (never the hub itself).
    async fn set_suspended<T>(
        &self,
        request: &Request<T>,
        request_id_value: &str,
        agency_id: &str,
        reason: &str,
        suspended: bool,
    ) -> Result<v1::Agency, ServiceError> {
        let caller = self.auth.caller(request).await?;
        let mut violations = operator::violations_with_request_id(request_id_value);
        let id = operator::agency_id(&mut violations, "agency_id", agency_id);
        operator::text(&mut violations, "reason", reason);
        violations.into_result(|| ())?;
        let Some(id) = id else {
            return Err(ServiceError::invalid("agency_id", "required"));
        };
        let agency = self.agency_record(&id).await?;
        if agency.kind == liaison_core::federation::AgencyKind::Hub {
            return Err(ServiceError::FailedPrecondition(
                "the hub agency cannot be suspended".into(),
            ));
        }
        let method = if suspended {
            methods::DIRECTORY_SUSPEND_AGENCY
        } else {
            methods::DIRECTORY_REINSTATE_AGENCY
        };
        let change = Self::change(
            request,
            &caller,
            request_id_value,
            method,
            id.as_str(),
            Some(&id),
        );
        let outcome = self
            .store
            .set_agency_suspended(&change, &id, suspended)
            .await?;
        Self::written(request, outcome)?;
        tracing::warn!(agency = %id, suspended, operator = %caller.principal(), "agency status changed");
        Ok(convert::agency(self.agency_record(&id).await?))
    }

    async fn group_members_exist(&self, members: &[AgencyId]) -> Result<(), ServiceError> {
        let mut violations = Violations::new();
        for (index, member) in members.iter().enumerate() {
            match self.store.get_agency(member).await? {
                None => violations.add(
                    format!("sharing_group.member_agency_ids[{index}]"),
                    "no such agency",
                ),
                Some(agency) if agency.kind == liaison_core::federation::AgencyKind::Hub => {
                    violations.add(
                        format!("sharing_group.member_agency_ids[{index}]"),
                        "the hub exchanges no traffic",
                    )
                }
                Some(_) => {}
            }
        }
        violations.into_result(|| ()).map_err(ServiceError::from)
    }

    async fn put_group<T>(
        &self,
        request: &Request<T>,
        request_id_value: &str,
        group: Option<&v1::SharingGroup>,
        create: bool,
    ) -> Result<v1::SharingGroup, ServiceError> {
        let caller = self.auth.caller(request).await?;
        let mut violations = operator::violations_with_request_id(request_id_value);
        // A created group's id is the server's, derived from the request so that a retry
        // names the same group.
        let made_id = create.then(|| {
            let digest = hex::encode(sha2::Sha256::digest(
                format!("{}\n{request_id_value}", caller.principal()).as_bytes(),
            ));
            GroupId::parse(&format!("grp_{}", &digest[..26]))
        });
        let made_id = match made_id {
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => return Err(ServiceError::invalid("request_id", "unusable")),
            None => None,
        };
        let parsed = operator::group(&mut violations, group, made_id);
        violations.into_result(|| ())?;
        let Some((id, name, members)) = parsed else {
            return Err(ServiceError::invalid("sharing_group", "required"));
        };
        self.group_members_exist(&members).await?;
        let record = SharingGroupRecord { id, name, members };
        let method = if create {
            methods::DIRECTORY_CREATE_SHARING_GROUP
        } else {
            methods::DIRECTORY_UPDATE_SHARING_GROUP
        };
        let change = Self::change(
            request,
            &caller,
            request_id_value,
            method,
            record.id.as_str(),
            None,
        );
        let outcome = self
            .store
            .put_sharing_group(&change, &record, create)
            .await?;
        Self::written(request, outcome)?;
        let stored = self
            .store
            .get_sharing_group(&record.id)
            .await?
            .ok_or(ServiceError::NotFound("sharing group"))?;
        Ok(convert::group(stored))
    }

    /// Loads an agency and commits the audit record of reading it.
    async fn read_agency<T>(
        &self,
        request: &Request<T>,
        id: &AgencyId,
    ) -> Result<AgencyRecord, ServiceError> {
        let agency = self
            .store
            .get_agency(id)
            .await?
            .ok_or(ServiceError::NotFound("agency"))?;
        let audit = AuditContext::of(request);
        audit.touch(agency.id.as_str(), Access::Read, Some(&agency.id));
        audit.commit_read(&self.store).await?;
        Ok(agency)
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> directory_service_server::DirectoryServiceServer<Self> {
        directory_service_server::DirectoryServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl directory_service_server::DirectoryService for DirectoryService {
    async fn who_am_i(
        &self,
        request: Request<v1::WhoAmIRequest>,
    ) -> Result<Response<v1::WhoAmIResponse>, Status> {
        let caller = self.auth.caller(&request).await?;
        let agency = self.read_agency(&request, caller.agency()).await?;
        Ok(Response::new(v1::WhoAmIResponse {
            principal: Some(v1::Principal {
                r#ref: Some(principal_ref(caller.principal())),
                roles: caller.roles().iter().map(|role| role.to_proto()).collect(),
            }),
            agency: Some(convert::agency(agency)),
            certificate_sha256: caller.identity().certificate_sha256().to_owned(),
            certificate_not_after: Some(to_timestamp(caller.identity().not_after())),
        }))
    }

    async fn list_agencies(
        &self,
        request: Request<v1::ListAgenciesRequest>,
    ) -> Result<Response<v1::ListAgenciesResponse>, Status> {
        let audit = Call::begin(&self.auth, &request).await?.audit;
        let request = request.into_inner();
        let limit = page_size(request.page_size, 100, 500)?;
        let after = if request.page_token.is_empty() {
            None
        } else {
            let id = AgencyId::parse(&request.page_token).map_err(|_| {
                ServiceError::invalid("page_token", "page_token is not one this hub issued")
            })?;
            Some(id)
        };
        let page = self
            .store
            .list_agencies(after.as_ref().map(AgencyId::as_str), limit)
            .await
            .map_err(ServiceError::from)?;
        for agency in &page.items {
            audit.touch(agency.id.as_str(), Access::Read, Some(&agency.id));
        }
        audit.commit_read(&self.store).await?;
        Ok(Response::new(v1::ListAgenciesResponse {
            agencies: page.items.into_iter().map(convert::agency).collect(),
            next_page_token: page.next.unwrap_or_default(),
        }))
    }

    async fn get_agency(
        &self,
        request: Request<v1::GetAgencyRequest>,
    ) -> Result<Response<v1::GetAgencyResponse>, Status> {
        self.auth.caller(&request).await?;
        let id = AgencyId::parse(&request.get_ref().agency_id)
            .map_err(|error| ServiceError::invalid("agency_id", error.to_string()))?;
        let agency = self.read_agency(&request, &id).await?;
        Ok(Response::new(v1::GetAgencyResponse {
            agency: Some(convert::agency(agency)),
        }))
    }

    async fn list_points_of_contact(
        &self,
        request: Request<v1::ListPointsOfContactRequest>,
    ) -> Result<Response<v1::ListPointsOfContactResponse>, Status> {
        Ok(Response::new(
            self.list_points_of_contact_call(request).await?,
        ))
    }

    async fn set_point_of_contact(
        &self,
        request: Request<v1::SetPointOfContactRequest>,
    ) -> Result<Response<v1::SetPointOfContactResponse>, Status> {
        Ok(Response::new(
            self.set_point_of_contact_call(request).await?,
        ))
    }

    async fn delete_point_of_contact(
        &self,
        request: Request<v1::DeletePointOfContactRequest>,
    ) -> Result<Response<v1::DeletePointOfContactResponse>, Status> {
        Ok(Response::new(
            self.delete_point_of_contact_call(request).await?,
        ))
    }

    async fn list_sharing_groups(
        &self,
        request: Request<v1::ListSharingGroupsRequest>,
    ) -> Result<Response<v1::ListSharingGroupsResponse>, Status> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        // The hub's principals see every group; members the groups they belong to.
        let member = (!caller.is_hub()).then(|| caller.agency().clone());
        let groups = self
            .store
            .list_sharing_groups(member.as_ref())
            .await
            .map_err(ServiceError::from)?;
        for group in &groups {
            audit.touch(group.id.as_str(), Access::Read, None);
        }
        audit.commit_read(&self.store).await?;
        Ok(Response::new(v1::ListSharingGroupsResponse {
            sharing_groups: groups.into_iter().map(convert::group).collect(),
            next_page_token: String::new(),
        }))
    }

    async fn get_sharing_group(
        &self,
        request: Request<v1::GetSharingGroupRequest>,
    ) -> Result<Response<v1::GetSharingGroupResponse>, Status> {
        let caller = self.auth.caller(&request).await?;
        let id = GroupId::parse(&request.get_ref().sharing_group_id)
            .map_err(|error| ServiceError::invalid("sharing_group_id", error.to_string()))?;
        // A group the caller's agency is not in answers as if it did not exist.
        let group = self
            .store
            .get_sharing_group(&id)
            .await
            .map_err(ServiceError::from)?
            .filter(|group| caller.is_hub() || group.members.contains(caller.agency()))
            .ok_or(ServiceError::NotFound("sharing group"))?;
        let audit = AuditContext::of(&request);
        audit.touch(group.id.as_str(), Access::Read, None);
        audit.commit_read(&self.store).await?;
        Ok(Response::new(v1::GetSharingGroupResponse {
            sharing_group: Some(convert::group(group)),
        }))
    }

    async fn create_sharing_group(
        &self,
        request: Request<v1::CreateSharingGroupRequest>,
    ) -> Result<Response<v1::CreateSharingGroupResponse>, Status> {
        let message = request.get_ref().clone();
        let group = self
            .put_group(
                &request,
                &message.request_id,
                message.sharing_group.as_ref(),
                true,
            )
            .await?;
        Ok(Response::new(v1::CreateSharingGroupResponse {
            sharing_group: Some(group),
        }))
    }

    async fn update_sharing_group(
        &self,
        request: Request<v1::UpdateSharingGroupRequest>,
    ) -> Result<Response<v1::UpdateSharingGroupResponse>, Status> {
        let message = request.get_ref().clone();
        let group = self
            .put_group(
                &request,
                &message.request_id,
                message.sharing_group.as_ref(),
                false,
            )
            .await?;
        Ok(Response::new(v1::UpdateSharingGroupResponse {
            sharing_group: Some(group),
        }))
    }

    async fn issue_token(
        &self,
        request: Request<v1::IssueTokenRequest>,
    ) -> Result<Response<v1::IssueTokenResponse>, Status> {
        // The roles a token carries are the directory's, whatever the call presented.
        let caller = self.auth.certificate_caller(&request).await?;
        let Some(tokens) = self.auth.tokens() else {
            return Err(ServiceError::FailedPrecondition(
                "this hub issues no tokens (no token key is configured)".into(),
            )
            .into());
        };
        let audience = &request.get_ref().audience;
        if !audience.is_empty() && audience != tokens.audience() {
            return Err(ServiceError::invalid(
                "audience",
                format!(
                    "tokens are issued for {} only; leave it empty",
                    tokens.audience()
                ),
            )
            .into());
        }
        let identity: &PeerIdentity = caller.identity();
        let (token, claims) = tokens
            .issue(
                caller.principal(),
                caller.roles(),
                identity.certificate_sha256(),
                now(),
            )
            .map_err(|error| ServiceError::Unauthenticated(error.to_string()))?;
        let audit = AuditContext::of(&request);
        audit.set_token_id(&claims.jti);
        audit.touch(
            &format!("token:{}", claims.jti),
            Access::Write,
            Some(caller.agency()),
        );
        audit.commit_read(&self.store).await?;
        let expire = i64::try_from(claims.exp).unwrap_or(i64::MAX);
        Ok(Response::new(v1::IssueTokenResponse {
            token,
            expire_time: Some(prost_types::Timestamp {
                seconds: expire,
                nanos: 0,
            }),
        }))
    }

    async fn get_token_keys(
        &self,
        request: Request<v1::GetTokenKeysRequest>,
    ) -> Result<Response<v1::GetTokenKeysResponse>, Status> {
        self.auth.caller(&request).await?;
        let jwks_json = match self.auth.tokens() {
            Some(tokens) => tokens.jwks_json(),
            None => r#"{"keys":[]}"#.to_owned(),
        };
        AuditContext::of(&request).commit_read(&self.store).await?;
        Ok(Response::new(v1::GetTokenKeysResponse { jwks_json }))
    }

    async fn register_agency(
        &self,
        request: Request<v1::RegisterAgencyRequest>,
    ) -> Result<Response<v1::RegisterAgencyResponse>, Status> {
        let caller = self.auth.caller(&request).await?;
        let message = request.get_ref();
        let mut violations = operator::violations_with_request_id(&message.request_id);
        let known_state = match message
            .agency
            .as_ref()
            .and_then(|agency| agency.state.as_ref())
        {
            Some(state) => self
                .store
                .get_state(&state.code)
                .await
                .map_err(ServiceError::from)?,
            None => None,
        };
        let agency = operator::new_agency(&mut violations, message.agency.as_ref(), known_state);
        violations.into_result(|| ()).map_err(ServiceError::from)?;
        let Some(agency) = agency else {
            return Err(ServiceError::invalid("agency", "required").into());
        };
        let change = Self::change(
            &request,
            &caller,
            &message.request_id,
            methods::DIRECTORY_REGISTER_AGENCY,
            agency.id.as_str(),
            Some(&agency.id),
        );
        let outcome = self
            .store
            .register_agency(&change, &agency)
            .await
            .map_err(ServiceError::from)?;
        Self::written(&request, outcome)?;
        tracing::info!(agency = %agency.id, operator = %caller.principal(), "agency registered");
        let stored = self.agency_record(&agency.id).await?;
        Ok(Response::new(v1::RegisterAgencyResponse {
            agency: Some(convert::agency(stored)),
        }))
    }

    async fn suspend_agency(
        &self,
        request: Request<v1::SuspendAgencyRequest>,
    ) -> Result<Response<v1::SuspendAgencyResponse>, Status> {
        let message = request.get_ref().clone();
        let agency = self
            .set_suspended(
                &request,
                &message.request_id,
                &message.agency_id,
                &message.reason,
                true,
            )
            .await?;
        Ok(Response::new(v1::SuspendAgencyResponse {
            agency: Some(agency),
        }))
    }

    async fn reinstate_agency(
        &self,
        request: Request<v1::ReinstateAgencyRequest>,
    ) -> Result<Response<v1::ReinstateAgencyResponse>, Status> {
        let message = request.get_ref().clone();
        let agency = self
            .set_suspended(
                &request,
                &message.request_id,
                &message.agency_id,
                &message.reason,
                false,
            )
            .await?;
        Ok(Response::new(v1::ReinstateAgencyResponse {
            agency: Some(agency),
        }))
    }

    async fn register_certificate(
        &self,
        request: Request<v1::RegisterCertificateRequest>,
    ) -> Result<Response<v1::RegisterCertificateResponse>, Status> {
        let caller = self.auth.caller(&request).await?;
        let message = request.get_ref();
        let mut violations = operator::violations_with_request_id(&message.request_id);
        let der = pem_certificate(&message.certificate_pem);
        let identity = match &der {
            None => {
                violations.add("certificate_pem", "one PEM CERTIFICATE block is required");
                None
            }
            Some(der) => match (self.check_certificate)(der) {
                Err(reason) => {
                    violations.add(
                        "certificate_pem",
                        format!("not a valid certificate of the hub CA: {reason}"),
                    );
                    None
                }
                Ok(()) => violations.check(
                    "certificate_pem",
                    PeerIdentity::from_certificate(der, &self.trust_domain),
                ),
            },
        };
        let agency = match &identity {
            Some(identity) => self
                .store
                .get_agency(identity.principal().agency())
                .await
                .map_err(ServiceError::from)?,
            None => None,
        };
        if identity.is_some() && agency.is_none() {
            violations.add(
                "certificate_pem",
                "the certificate names an agency the directory does not know; register it first",
            );
        }
        let is_hub = agency
            .as_ref()
            .is_some_and(|agency| agency.kind == liaison_core::federation::AgencyKind::Hub);
        let roles = operator::roles(
            &mut violations,
            "roles",
            &message.roles,
            identity
                .as_ref()
                .map(|identity| (identity.principal(), is_hub)),
        );
        violations.into_result(|| ()).map_err(ServiceError::from)?;
        let Some(identity) = identity else {
            return Err(ServiceError::invalid("certificate_pem", "required").into());
        };
        if self
            .store
            .is_certificate_revoked(identity.certificate_sha256())
            .await
            .map_err(ServiceError::from)?
        {
            return Err(ServiceError::FailedPrecondition(
                "this certificate is revoked and cannot be registered".into(),
            )
            .into());
        }
        let principal = identity.principal();
        let change = Self::change(
            &request,
            &caller,
            &message.request_id,
            methods::DIRECTORY_REGISTER_CERTIFICATE,
            &format!("certificate:{}", identity.certificate_sha256()),
            Some(principal.agency()),
        );
        let outcome = self
            .store
            .register_certificate(
                &change,
                principal,
                &roles,
                identity.certificate_sha256(),
                identity.not_after(),
            )
            .await
            .map_err(ServiceError::from)?;
        Self::written(&request, outcome)?;
        tracing::info!(principal = %principal, certificate = identity.certificate_sha256(), operator = %caller.principal(), "certificate registered");
        Ok(Response::new(v1::RegisterCertificateResponse {
            principal: Some(v1::Principal {
                r#ref: Some(principal_ref(principal)),
                roles: roles.iter().map(|role| role.to_proto()).collect(),
            }),
            certificate_sha256: identity.certificate_sha256().to_owned(),
        }))
    }

    async fn revoke_certificate(
        &self,
        request: Request<v1::RevokeCertificateRequest>,
    ) -> Result<Response<v1::RevokeCertificateResponse>, Status> {
        let caller = self.auth.caller(&request).await?;
        let message = request.get_ref();
        let mut violations = operator::violations_with_request_id(&message.request_id);
        let fingerprint = operator::fingerprint(
            &mut violations,
            "certificate_sha256",
            &message.certificate_sha256,
        );
        let reason = operator::text(&mut violations, "reason", &message.reason);
        violations.into_result(|| ()).map_err(ServiceError::from)?;
        if fingerprint == caller.identity().certificate_sha256() {
            return Err(ServiceError::FailedPrecondition(
                "an operator cannot revoke the certificate it is calling with".into(),
            )
            .into());
        }
        let change = Self::change(
            &request,
            &caller,
            &message.request_id,
            methods::DIRECTORY_REVOKE_CERTIFICATE,
            &format!("certificate:{fingerprint}"),
            None,
        );
        let outcome = self
            .store
            .revoke_certificate(&change, &fingerprint, &reason)
            .await
            .map_err(ServiceError::from)?;
        Self::written(&request, outcome)?;
        // This node stops the certificate at once; others within their refresh interval.
        self.auth.revocations().revoke_fingerprint(&fingerprint);
        tracing::warn!(certificate = %fingerprint, operator = %caller.principal(), "certificate revoked");
        Ok(Response::new(v1::RevokeCertificateResponse {}))
    }

    async fn assign_roles(
        &self,
        request: Request<v1::AssignRolesRequest>,
    ) -> Result<Response<v1::AssignRolesResponse>, Status> {
        let caller = self.auth.caller(&request).await?;
        let message = request.get_ref();
        let mut violations = operator::violations_with_request_id(&message.request_id);
        let principal =
            operator::principal(&mut violations, "principal", message.principal.as_ref());
        let agency = match &principal {
            Some(principal) => self
                .store
                .get_agency(principal.agency())
                .await
                .map_err(ServiceError::from)?,
            None => None,
        };
        let is_hub = agency
            .as_ref()
            .is_some_and(|agency| agency.kind == liaison_core::federation::AgencyKind::Hub);
        let roles = operator::roles(
            &mut violations,
            "roles",
            &message.roles,
            principal.as_ref().map(|principal| (principal, is_hub)),
        );
        violations.into_result(|| ()).map_err(ServiceError::from)?;
        let Some(principal) = principal else {
            return Err(ServiceError::invalid("principal", "required").into());
        };
        if &principal == caller.principal() && !roles.contains(&liaison_core::Role::Operator) {
            return Err(ServiceError::FailedPrecondition(
                "an operator cannot withdraw its own operator role".into(),
            )
            .into());
        }
        let change = Self::change(
            &request,
            &caller,
            &message.request_id,
            methods::DIRECTORY_ASSIGN_ROLES,
            &format!("principal:{principal}"),
            Some(principal.agency()),
        );
        let outcome = self
            .store
            .assign_roles(&change, &principal, &roles)
            .await
            .map_err(ServiceError::from)?;
        Self::written(&request, outcome)?;
        tracing::info!(principal = %principal, operator = %caller.principal(), "roles assigned");
        Ok(Response::new(v1::AssignRolesResponse {
            principal: Some(v1::Principal {
                r#ref: Some(principal_ref(&principal)),
                roles: roles.iter().map(|role| role.to_proto()).collect(),
            }),
        }))
    }
}

/// The DER of the single PEM certificate in `pem`.
fn pem_certificate(pem: &str) -> Option<Vec<u8>> {
    let mut blocks = liaison_auth::pem_certificates(pem);
    let first = blocks.next()?;
    blocks.next().is_none().then_some(first)
}

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}
