//! The Liaison audit service. Its API is defined in `proto/liaison/v1/audit.proto`; every RPC
//! answers UNIMPLEMENTED until its issue lands, so clients can be written against it now.

use liaison_proto::v1::{self, audit_service_server};
use liaison_rpc::ServiceError;
use tonic::{Status, codegen::BoxStream};

/// The AuditService implementation.
#[derive(Debug, Clone, Default)]
pub struct AuditServiceImpl;

impl AuditServiceImpl {
    /// The tonic server for this service.
    pub fn into_server(self) -> audit_service_server::AuditServiceServer<Self> {
        audit_service_server::AuditServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl audit_service_server::AuditService for AuditServiceImpl {
    async fn query_records(
        &self,
        _request: tonic::Request<v1::QueryRecordsRequest>,
    ) -> Result<tonic::Response<v1::QueryRecordsResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.AuditService/QueryRecords").into())
    }
    type ExportRecordsStream = BoxStream<v1::ExportRecordsResponse>;
    async fn export_records(
        &self,
        _request: tonic::Request<v1::ExportRecordsRequest>,
    ) -> Result<tonic::Response<Self::ExportRecordsStream>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.AuditService/ExportRecords").into())
    }
    async fn get_checkpoint(
        &self,
        _request: tonic::Request<v1::GetCheckpointRequest>,
    ) -> Result<tonic::Response<v1::GetCheckpointResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.AuditService/GetCheckpoint").into())
    }
    async fn get_inclusion_proof(
        &self,
        _request: tonic::Request<v1::GetInclusionProofRequest>,
    ) -> Result<tonic::Response<v1::GetInclusionProofResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.AuditService/GetInclusionProof").into())
    }
    async fn get_consistency_proof(
        &self,
        _request: tonic::Request<v1::GetConsistencyProofRequest>,
    ) -> Result<tonic::Response<v1::GetConsistencyProofResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.AuditService/GetConsistencyProof").into())
    }
    async fn get_log_keys(
        &self,
        _request: tonic::Request<v1::GetLogKeysRequest>,
    ) -> Result<tonic::Response<v1::GetLogKeysResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.AuditService/GetLogKeys").into())
    }
}
