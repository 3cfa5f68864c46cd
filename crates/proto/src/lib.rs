//! The Liaison v1 gRPC API, generated from `proto/liaison/v1/` at build time.
//!
//! Prost types stop at the service handlers: `liaison-core` and `liaison-store` know
//! nothing of this crate. [`domain`] holds every conversion between the generated enums
//! and the domain's (this crate depends on `liaison-core`, never the reverse).

/// Package `liaison.v1`.
#[allow(
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic
)]
pub mod v1 {
    tonic::include_proto!("liaison.v1");
}

/// The encoded `FileDescriptorSet` of the whole API, for the gRPC reflection service.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/liaison_v1_descriptor.bin"));

pub mod domain;

/// The method path of every RPC without its leading slash (`liaison.v1.CbmService/Notify`
/// is [`methods::CBM_NOTIFY`]), generated from the descriptor set: the one spelling that
/// authorization rules, handlers and audit share.
pub mod methods {
    include!(concat!(env!("OUT_DIR"), "/methods.rs"));
}
