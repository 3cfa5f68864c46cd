//! The handler toolkit every service uses:
//!
//! - [`ConnectionInfo`]: what the TLS layer learnt of a connection (peer address, the
//!   identity from the client certificate), attached to every request;
//! - [`Authenticator`]: turns that identity into a [`Caller`](liaison_auth::Caller) with
//!   roles and memberships from the directory;
//! - [`ServiceError`]: the one table from error kind to gRPC code, with field violations
//!   for bad input and safe messages;
//! - [`Call`]: the caller and audit context every handler starts from;
//! - [`AuditLayer`] and [`AuditContext`]: every call leaves an audit record;
//! - [`EventStream`]: the one delivery loop of the streams that page the `events` table;
//! - [`ActivityLayer`]: counts the calls open on each connection, for the hub's idle
//!   timeout;
//! - [`RateLimitLayer`] and [`DeadlineLayer`]: the per-principal rate limit, the caps on
//!   open streams per principal and per agency ([`StreamCaps`]), and the cap on how long
//!   a call may take to answer;
//! - paging and request-id checks every service needs (enum and timestamp conversions
//!   are in `liaison_proto::domain`).

mod activity;
mod audit;
mod call;
mod caller;
mod clock;
mod convert;
mod error;
mod revocation;
mod stream;
mod streams;

pub use activity::{ActivityLayer, ActivityMiddleware, CallGuard, ConnectionActivity};
pub use audit::{AuditContext, AuditLayer, AuditMiddleware, PURPOSE_HEADER, percent_decode};
pub use call::Call;
pub use caller::{AUTHORIZATION_HEADER, AccessControl, AccessWatch, Authenticator, ConnectionInfo};
pub use clock::Clock;
pub use convert::{check_request_id, page_offset, page_size, request_id};
pub use error::ServiceError;
/// The timestamp conversions, from their home in `liaison_proto::domain`.
pub use liaison_proto::domain::{from_timestamp, to_timestamp};
pub use revocation::Revocations;
pub use stream::{BACKSTOP, CHANNEL, Delivery, EventFeed, EventStream, PAGE, delivered};
pub use streams::{StreamCaps, audited_method, is_known_method, is_server_streaming};

mod shutdown;
pub use shutdown::Shutdown;

mod limits;
pub use limits::{
    DeadlineLayer, DeadlineMiddleware, RateLimit, RateLimitLayer, RateLimitMiddleware,
    grpc_timeout, next_within,
};
