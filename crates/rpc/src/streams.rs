//! Which methods exist, which of them stream, and how many streams a principal and an
//! agency may hold open at once (review finding H4).
//!
//! Every open server stream writes audit records for as long as it lives (one per page
//! delivered), so the number a member may hold open bounds what it can make the log
//! grow by. A stream takes a permit of its principal's and of its agency's allowance
//! when it opens and gives it back when its response body is dropped (the stream ended,
//! or the client went away).

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, OnceLock},
};

/// Methods the hub serves besides the Liaison API: health and reflection.
const OTHER_METHODS: &[&str] = &[
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

struct Methods {
    all: HashSet<String>,
    server_streaming: HashSet<String>,
}

fn methods() -> &'static Methods {
    static METHODS: OnceLock<Methods> = OnceLock::new();
    METHODS.get_or_init(|| {
        let path = |method: &str| format!("/{method}");
        let mut all: HashSet<String> = OTHER_METHODS.iter().map(|m| (*m).to_owned()).collect();
        all.extend(
            liaison_proto::methods::ALL
                .iter()
                .map(|method| path(method)),
        );
        let mut server_streaming: HashSet<String> = liaison_proto::methods::SERVER_STREAMING
            .iter()
            .map(|method| path(method))
            .collect();
        // Health watches and reflection streams are streams too: without a permit they
        // could be held open without bound on a certificate alone.
        for method in [
            "/grpc.health.v1.Health/Watch",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            server_streaming.insert(method.to_owned());
        }
        Methods {
            all,
            server_streaming,
        }
    })
}

/// The method as the audit log records it: a path the hub serves as it is, any other as a
/// fixed token with its length (an attacker-chosen path would otherwise be stored, up to
/// the header limit, in a record that is never deleted).
pub fn audited_method(path: &str) -> String {
    if methods().all.contains(path) {
        path.to_owned()
    } else {
        format!("(unknown method, {} bytes)", path.len())
    }
}

/// True for a method path the hub serves.
pub fn is_known_method(path: &str) -> bool {
    methods().all.contains(path)
}

/// True for a server-streaming method of the API (Subscribe, WatchInbox, …).
pub fn is_server_streaming(path: &str) -> bool {
    methods().server_streaming.contains(path)
}

/// How many server streams may be open at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamCaps {
    /// Per principal (the client certificate's).
    pub per_principal: usize,
    /// Per agency, over all its principals.
    pub per_agency: usize,
}

/// The open streams, per principal and per agency.
#[derive(Debug)]
pub(crate) struct StreamPermits {
    caps: StreamCaps,
    open: Mutex<HashMap<String, usize>>,
}

/// Why a stream was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamsFull {
    Principal(usize),
    Agency(usize),
}

impl StreamsFull {
    pub(crate) fn message(self) -> String {
        match self {
            StreamsFull::Principal(cap) => format!(
                "too many open streams: a principal may hold {cap} open at once; close one first"
            ),
            StreamsFull::Agency(cap) => format!(
                "too many open streams: an agency's principals may hold {cap} open at once; \
                 close one first"
            ),
        }
    }
}

impl StreamPermits {
    pub(crate) fn new(caps: StreamCaps) -> Arc<Self> {
        Arc::new(Self {
            caps,
            open: Mutex::default(),
        })
    }

    /// A permit for one more stream of `principal` of `agency`, if both allow one.
    pub(crate) fn take(
        self: &Arc<Self>,
        principal: &str,
        agency: &str,
        service: &str,
    ) -> Result<StreamPermit, StreamsFull> {
        let principal_key = format!("p {principal}");
        let agency_key = format!("a {agency}");
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if open.get(&principal_key).copied().unwrap_or(0) >= self.caps.per_principal {
            return Err(StreamsFull::Principal(self.caps.per_principal));
        }
        if open.get(&agency_key).copied().unwrap_or(0) >= self.caps.per_agency {
            return Err(StreamsFull::Agency(self.caps.per_agency));
        }
        *open.entry(principal_key.clone()).or_default() += 1;
        *open.entry(agency_key.clone()).or_default() += 1;
        liaison_telemetry::metrics::stream_changed(service, 1);
        Ok(StreamPermit {
            permits: self.clone(),
            keys: [principal_key, agency_key],
            service: service.to_owned(),
        })
    }
}

/// One open stream's share of its principal's and agency's allowance.
#[derive(Debug)]
pub(crate) struct StreamPermit {
    permits: Arc<StreamPermits>,
    keys: [String; 2],
    /// The service, for the open-streams gauge.
    service: String,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        liaison_telemetry::metrics::stream_changed(&self.service, -1);
        let mut open = self
            .permits
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for key in &self.keys {
            if let Some(count) = open.get_mut(key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_served_methods_are_recorded_by_name() {
        assert_eq!(
            audited_method("/liaison.v1.IndicatorService/Subscribe"),
            "/liaison.v1.IndicatorService/Subscribe"
        );
        assert_eq!(
            audited_method("/grpc.health.v1.Health/Check"),
            "/grpc.health.v1.Health/Check"
        );
        let long = format!("/liaison.v1.IndicatorService/{}", "x".repeat(16_000));
        assert_eq!(audited_method(&long), "(unknown method, 16029 bytes)");
    }

    #[test]
    fn the_streams_are_those_of_the_api() {
        for method in [
            "/liaison.v1.IndicatorService/Subscribe",
            "/liaison.v1.AuditService/ExportRecords",
        ] {
            assert!(is_server_streaming(method), "{method}");
        }
        assert!(is_server_streaming(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!is_server_streaming("/liaison.v1.IndicatorService/Publish"));
    }

    #[test]
    fn permits_are_capped_per_principal_and_agency_and_given_back() {
        let permits = StreamPermits::new(StreamCaps {
            per_principal: 2,
            per_agency: 3,
        });
        let a = permits
            .take("UA-CERT/system/feed", "UA-CERT", "IndicatorService")
            .unwrap();
        let _b = permits
            .take("UA-CERT/system/feed", "UA-CERT", "IndicatorService")
            .unwrap();
        assert_eq!(
            permits
                .take("UA-CERT/system/feed", "UA-CERT", "IndicatorService")
                .err(),
            Some(StreamsFull::Principal(2))
        );
        let _c = permits
            .take("UA-CERT/person/officer", "UA-CERT", "IndicatorService")
            .unwrap();
        assert_eq!(
            permits
                .take("UA-CERT/person/auditor", "UA-CERT", "IndicatorService")
                .err(),
            Some(StreamsFull::Agency(3))
        );
        assert!(
            permits
                .take("RS-MUP/system/feed", "RS-MUP", "IndicatorService")
                .is_ok()
        );
        drop(a);
        assert!(
            permits
                .take("UA-CERT/person/auditor", "UA-CERT", "IndicatorService")
                .is_ok()
        );
    }
}
