//! The directory: states, agencies, principals with their roles, certificates and sharing
//! groups. The federation file seeds it at start (`federation.rs`); the operator changes it
//! through the API (`write.rs`); access control and the services read it (`read.rs`).

pub(crate) mod federation;
pub(crate) mod read;
pub(crate) mod write;
