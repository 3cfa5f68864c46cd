//! The Liaison directory service: who is in the federation and who the caller is.
//!
//! Implemented: `WhoAmI`, `ListAgencies`, `GetAgency`. The operator, token, contact and
//! sharing-group RPCs answer UNIMPLEMENTED until their issues land.

mod convert;

use liaison_audit::Access;
use liaison_core::AgencyId;
use liaison_proto::v1::{self, directory_service_server};
use liaison_rpc::{AuditContext, Authenticator, ServiceError, page_size, to_timestamp};
use liaison_store::{AgencyRecord, Store};
use tonic::{Request, Response, Status};

/// The directory service.
#[derive(Debug, Clone)]
pub struct DirectoryService {
    store: Store,
    auth: Authenticator,
}

impl DirectoryService {
    /// A directory service over `store`.
    pub fn new(store: Store) -> Self {
        Self {
            auth: Authenticator::new(store.clone()),
            store,
        }
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
                r#ref: Some(convert::principal_ref(caller.principal())),
                roles: caller
                    .roles()
                    .iter()
                    .map(|role| convert::role(*role) as i32)
                    .collect(),
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
        self.auth.caller(&request).await?;
        let audit = AuditContext::of(&request);
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
        _request: tonic::Request<v1::ListPointsOfContactRequest>,
    ) -> Result<tonic::Response<v1::ListPointsOfContactResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/ListPointsOfContact").into())
    }
    async fn set_point_of_contact(
        &self,
        _request: tonic::Request<v1::SetPointOfContactRequest>,
    ) -> Result<tonic::Response<v1::SetPointOfContactResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/SetPointOfContact").into())
    }
    async fn delete_point_of_contact(
        &self,
        _request: tonic::Request<v1::DeletePointOfContactRequest>,
    ) -> Result<tonic::Response<v1::DeletePointOfContactResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/DeletePointOfContact").into())
    }
    async fn list_sharing_groups(
        &self,
        _request: tonic::Request<v1::ListSharingGroupsRequest>,
    ) -> Result<tonic::Response<v1::ListSharingGroupsResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/ListSharingGroups").into())
    }
    async fn get_sharing_group(
        &self,
        _request: tonic::Request<v1::GetSharingGroupRequest>,
    ) -> Result<tonic::Response<v1::GetSharingGroupResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/GetSharingGroup").into())
    }
    async fn create_sharing_group(
        &self,
        _request: tonic::Request<v1::CreateSharingGroupRequest>,
    ) -> Result<tonic::Response<v1::CreateSharingGroupResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/CreateSharingGroup").into())
    }
    async fn update_sharing_group(
        &self,
        _request: tonic::Request<v1::UpdateSharingGroupRequest>,
    ) -> Result<tonic::Response<v1::UpdateSharingGroupResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/UpdateSharingGroup").into())
    }
    async fn issue_token(
        &self,
        _request: tonic::Request<v1::IssueTokenRequest>,
    ) -> Result<tonic::Response<v1::IssueTokenResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/IssueToken").into())
    }
    async fn get_token_keys(
        &self,
        _request: tonic::Request<v1::GetTokenKeysRequest>,
    ) -> Result<tonic::Response<v1::GetTokenKeysResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/GetTokenKeys").into())
    }
    async fn register_agency(
        &self,
        _request: tonic::Request<v1::RegisterAgencyRequest>,
    ) -> Result<tonic::Response<v1::RegisterAgencyResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/RegisterAgency").into())
    }
    async fn suspend_agency(
        &self,
        _request: tonic::Request<v1::SuspendAgencyRequest>,
    ) -> Result<tonic::Response<v1::SuspendAgencyResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/SuspendAgency").into())
    }
    async fn reinstate_agency(
        &self,
        _request: tonic::Request<v1::ReinstateAgencyRequest>,
    ) -> Result<tonic::Response<v1::ReinstateAgencyResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/ReinstateAgency").into())
    }
    async fn register_certificate(
        &self,
        _request: tonic::Request<v1::RegisterCertificateRequest>,
    ) -> Result<tonic::Response<v1::RegisterCertificateResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/RegisterCertificate").into())
    }
    async fn revoke_certificate(
        &self,
        _request: tonic::Request<v1::RevokeCertificateRequest>,
    ) -> Result<tonic::Response<v1::RevokeCertificateResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/RevokeCertificate").into())
    }
    async fn assign_roles(
        &self,
        _request: tonic::Request<v1::AssignRolesRequest>,
    ) -> Result<tonic::Response<v1::AssignRolesResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.DirectoryService/AssignRoles").into())
    }
}
