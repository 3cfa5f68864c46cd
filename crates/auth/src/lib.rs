//! Who is calling, and may they do this.
//!
//! - [`identity`]: the principal named by the peer's client certificate. The TLS layer
//!   calls [`PeerIdentity::from_certificate`] once per connection; handlers receive it.
//! - [`policy`]: the access rules as pure functions of a [`Caller`] and the stored record
//!   (never of ids or copies sent in the request). Every service asks here.

pub mod authorize;
pub mod identity;
pub mod policy;
pub mod token;

pub use authorize::{Action, agency_may_receive, authorize, check_gate};
pub use identity::{IdentityError, PeerIdentity, pem_certificates};
pub use policy::{Caller, Denied};
pub use token::{TokenAuthority, TokenError, TokenKey, VerifiedToken};
