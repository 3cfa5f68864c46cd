//! Liaison's domain: identifiers, handling markings, the federation model and the rules
//! that need no I/O. Everything here is a value that is valid once it exists ("parse,
//! don't validate"): the parsers return typed errors, the types keep their fields private.
//!
//! Nothing in this crate knows of gRPC, SQL, certificates or the clock; callers pass
//! times in.

pub mod cbm;
pub mod federation;
pub mod id;
pub mod indicator;
pub mod mla;
pub mod observable;
pub mod principal;
pub mod scope;
pub mod stix;
pub mod time;
pub mod tlp;
pub mod violation;
mod wallet;

pub use federation::{Federation, FederationError, WitnessEntry};
pub use id::{AgencyId, IdError, ObjectId, PrincipalName};
pub use indicator::{
    Evaluation, FraudCategory, FraudMethod, FraudMethodDraft, Indicator, IndicatorDraft,
    NewIndicator, ScopeDraft,
};
pub use observable::{Observable, ObservableType};
pub use principal::{PrincipalId, PrincipalKind, Role};
pub use scope::{GroupId, Scope};
pub use time::Timestamp;
pub use tlp::Tlp;
pub use violation::{FieldViolation, Violations};
