//! Assembles every service into one gRPC server behind the mutual-TLS listener.
//!
//! The stack a call passes through, outermost first:
//! 1. TCP accept and TLS 1.3 handshake with a verified client certificate (`tls.rs`);
//!    the principal is read from the certificate once per connection.
//!    Handshakes come from a small budget per source address (`max_handshakes_per_address`,
//!    overall `max_handshakes`) and must send their ClientHello within
//!    `client_hello_timeout`; only a verified connection takes one of `max_connections`
//!    slots, at most `max_connections_per_principal` per principal and
//!    `max_connections_per_address` per address. A connection without calls for
//!    `idle_timeout` is closed; one older than `max_connection_age` is sent a GOAWAY.
//! 2. HTTP/2 with keep-alive, stream, header and frame limits (tonic's server builder
//!    below).
//! 3. The per-principal rate limit (`liaison_rpc::RateLimitLayer`): calls over it are
//!    answered RESOURCE_EXHAUSTED before anything is recorded or looked up.
//! 4. The audit layer: opens the call's audit record and writes it when the call ends,
//!    unless the handler already committed it with the data it touched.
//! 5. The deadline (`liaison_rpc::DeadlineLayer`): a call that has not answered within
//!    `max_call_duration` ends DEADLINE_EXCEEDED.
//! 6. Message decoding, with the size limits, gzip and prost's recursion limit.
//! 7. The service's handler, which asks `liaison-rpc`'s `Authenticator` for the caller
//!    (roles and memberships from the directory) and `liaison-auth`'s policy for a decision.
//! 8. The store, in one transaction with the outbox row that feeds the streams.

use std::{future::Future, net::SocketAddr, path::PathBuf, sync::Arc};

use liaison_audit::SigningKey;
use liaison_audit_service::AuditServiceImpl;
use liaison_auth::{TokenAuthority, TokenKey};
use liaison_cbm::CbmServiceImpl;
use liaison_core::Federation;
use liaison_core::mla::DeadlinePolicy;
use liaison_directory::{CertificateCheck, DirectoryService};
use liaison_indicators::IndicatorService;
use liaison_mla::{MlaServiceImpl, MlaSettings};
use liaison_proto::v1;
use liaison_rpc::{
    AccessControl, ActivityLayer, AuditLayer, DeadlineLayer, RateLimit, RateLimitLayer,
    Revocations, Shutdown, StreamCaps,
};
use liaison_store::Store;
use tokio::{net::TcpListener, sync::mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{codec::CompressionEncoding, transport::Server};

use crate::{DatabaseConfig, HubConfig, error::HubError, tls};

/// Starts hubs.
#[derive(Debug)]
pub struct Hub;

impl Hub {
    /// Validates the configuration, opens and migrates the database, loads the federation
    /// into the directory and binds the listener. Nothing is served until
    /// [`BoundHub::serve`].
    pub async fn bind(config: HubConfig) -> Result<BoundHub, HubError> {
        config.limits.validate().map_err(HubError::Limits)?;
        let federation = Federation::from_toml(&config.federation_toml)?;
        let witnesses = witness_peers(&federation)?;
        let revocations = Revocations::new();
        let (tls_config, verifier) = tls::server_config(
            &config.tls,
            config.access.crl.as_deref(),
            revocations.clone(),
        )?;
        let load_token_key = |path: &PathBuf| {
            std::fs::read(path)
                .map_err(|error| error.to_string())
                .and_then(|pkcs8| TokenKey::from_pkcs8(&pkcs8).map_err(|error| error.to_string()))
                .map_err(|reason| HubError::TokenKey {
                    path: path.clone(),
                    reason,
                })
        };
        let signing = load_token_key(&config.access.token_key)?;
        let previous = config
            .access
            .previous_token_keys
            .iter()
            .map(load_token_key)
            .collect::<Result<Vec<_>, _>>()?;
        let tokens = Arc::new(TokenAuthority::new(
            federation.trust_domain(),
            signing,
            previous,
            config.access.token_lifetime,
        ));
        let access = AccessControl {
            tokens: Some(tokens),
            revocations,
            recheck_every: config.access.reload_interval,
        };
        let audit_origin = format!("{}/audit", federation.trust_domain());
        let audit_key = std::fs::read(&config.audit_key)
            .map_err(|error| error.to_string())
            .and_then(|pkcs8| {
                SigningKey::from_pkcs8(&audit_origin, &pkcs8).map_err(|error| error.to_string())
            })
            .map_err(|reason| HubError::AuditKey {
                path: config.audit_key.clone(),
                reason,
            })?;
        // Receipts are signed with their own key or, by default, with the audit key's
        // material under their own name (and so their own key id); their statements are
        // protobuf, never a signed note.
        let receipt_name = format!("{}/mla-receipts", federation.trust_domain());
        let load_receipt_key = |path: &PathBuf| {
            std::fs::read(path)
                .map_err(|error| error.to_string())
                .and_then(|pkcs8| {
                    SigningKey::from_pkcs8(&receipt_name, &pkcs8).map_err(|error| error.to_string())
                })
                .map_err(|reason| HubError::ReceiptKey {
                    path: path.clone(),
                    reason,
                })
        };
        let receipt_key =
            load_receipt_key(config.receipt_key.as_ref().unwrap_or(&config.audit_key))?;
        // With a key of their own, receipts signed before it (by the audit key's material)
        // must still verify: that key is published as retired, no later than now.
        let mut retired_receipt_keys = Vec::new();
        if config.receipt_key.is_some() {
            let default_key = load_receipt_key(&config.audit_key)?;
            if default_key.key_id() != receipt_key.key_id() {
                retired_receipt_keys.push((Arc::new(default_key), config.clock.now()));
            }
        }
        let store = match &config.database {
            DatabaseConfig::Sqlite(path) => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|source| HubError::DataDir {
                        path: parent.to_owned(),
                        source,
                    })?;
                }
                Store::open_sqlite(path).await?
            }
            DatabaseConfig::Postgres(url) => Store::connect_postgres(url.expose()).await?,
        };
        store.migrate().await?;
        // The file seeds the directory: it adds what is missing and never overwrites what
        // the operator manages (roles, sharing groups); each change is audited.
        let seeded = store
            .load_federation(
                &federation,
                liaison_core::Timestamp::from_system_time(std::time::SystemTime::now()),
            )
            .await?;
        if seeded > 0 {
            tracing::info!(
                changes = seeded,
                "directory seeded from the federation file"
            );
        }
        store.refresh_high_water().await?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| HubError::Bind {
                address: config.listen,
                source,
            })?;
        let admin = match config.admin_listen {
            Some(address) => Some(
                crate::admin::bind(address)
                    .await
                    .map_err(|source| HubError::Bind { address, source })?,
            ),
            None => None,
        };
        Ok(BoundHub {
            local_addr: listener.local_addr().map_err(|source| HubError::Bind {
                address: config.listen,
                source,
            })?,
            listener,
            tls_config,
            verifier,
            access,
            trust_domain: federation.trust_domain().to_owned(),
            mla_deadlines: federation.mla_deadline_policy().clone(),
            audit_key: Arc::new(audit_key),
            receipt_key: Arc::new(receipt_key),
            retired_receipt_keys,
            audit_origin,
            witnesses,
            admin_addr: admin
                .as_ref()
                .and_then(|listener| listener.local_addr().ok()),
            admin,
            store,
            config,
        })
    }
}

/// The federation's witnesses, with their keys checked.
fn witness_peers(
    federation: &Federation,
) -> Result<Vec<liaison_audit_service::WitnessPeer>, HubError> {
    federation
        .witnesses()
        .iter()
        .map(|entry| {
            let key = liaison_audit::CosignerKey::parse(&entry.key).map_err(|error| {
                HubError::WitnessKey {
                    name: entry.name().to_owned(),
                    reason: error.to_string(),
                }
            })?;
            Ok(liaison_audit_service::WitnessPeer {
                agency: entry.agency.to_string(),
                key,
                endpoint: entry.endpoint.clone(),
            })
        })
        .collect()
}

/// A hub that is bound and ready to serve.
#[derive(Debug)]
pub struct BoundHub {
    config: HubConfig,
    listener: TcpListener,
    local_addr: SocketAddr,
    tls_config: Arc<rustls::ServerConfig>,
    verifier: Arc<tls::HubClientVerifier>,
    access: AccessControl,
    trust_domain: String,
    /// The federation's MLA deadline policy (`[mla_deadlines]`).
    mla_deadlines: DeadlinePolicy,
    audit_key: Arc<SigningKey>,
    receipt_key: Arc<SigningKey>,
    retired_receipt_keys: Vec<(Arc<SigningKey>, liaison_core::Timestamp)>,
    audit_origin: String,
    /// The federation's witnesses of the audit log.
    witnesses: Vec<liaison_audit_service::WitnessPeer>,
    /// The admin listener, when configured.
    admin: Option<TcpListener>,
    admin_addr: Option<SocketAddr>,
    store: Store,
}

impl BoundHub {
    /// The address the hub listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The admin listener's address (with the real port when bound to port 0).
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The hub's store, for tests that inspect what was written.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until `shutdown` completes, then stops accepting, ends open streams, lets
    /// in-flight calls finish for up to the configured grace period, and closes the database.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), HubError> {
        let (stop_sender, stop) = Shutdown::new();
        let sequencer = self.store.spawn_sequencer({
            let mut stop = stop.clone();
            async move { stop.wait().await }
        });

        let signer = liaison_audit_service::spawn_signer(
            self.store.clone(),
            self.audit_key.clone(),
            self.audit_origin.clone(),
            stop.clone(),
        );
        let audit_service = AuditServiceImpl::new(
            self.store.clone(),
            self.access.clone(),
            &self.audit_key,
            stop.clone(),
        );
        let gauges = crate::gauges::spawn_gauges(self.store.clone(), stop.clone());
        let admin = self
            .admin
            .map(|listener| crate::admin::spawn(listener, self.store.clone(), stop.clone()));
        let witnessing = liaison_audit_service::spawn_witnessing(
            audit_service.clone(),
            self.witnesses.clone(),
            stop.clone(),
        );
        let mla_deadlines = liaison_mla::spawn_deadline_scanner(
            self.store.clone(),
            self.config.clock.clone(),
            self.mla_deadlines.clone(),
            stop.clone(),
        );
        // Escalates overdue CBM acknowledgements, by the deadline clock.
        let escalator = liaison_cbm::spawn_escalator(
            self.store.clone(),
            self.config.clock.clone(),
            stop.clone(),
        );
        let check_schedule = self.config.check_schedule.map(|schedule| {
            liaison_cbm::spawn_check_schedule(
                self.store.clone(),
                self.config.clock.clone(),
                schedule,
                stop.clone(),
            )
        });
        let revocation_refresh = self
            .access
            .revocations
            .spawn_refresh(
                self.store.clone(),
                self.config.access.reload_interval,
                stop.clone(),
            )
            .await?;
        let crl_watch = self.config.access.crl.clone().map(|path| {
            tokio::spawn(tls::watch_crl(
                path,
                self.verifier.clone(),
                self.access.revocations.clone(),
                self.config.access.reload_interval,
                stop.clone(),
            ))
        });
        let check_certificate: CertificateCheck = {
            let verifier = self.verifier.clone();
            Arc::new(move |der: &[u8]| verifier.check(der))
        };
        let (connections, incoming) = mpsc::channel(128);
        let accept = tokio::spawn(tls::accept_loop(
            self.listener,
            self.tls_config,
            self.trust_domain.clone(),
            tls::AcceptLimits {
                client_hello_timeout: self.config.limits.client_hello_timeout,
                handshake_timeout: self.config.handshake_timeout,
                max_handshakes: self.config.limits.max_handshakes,
                max_handshakes_per_address: self.config.limits.max_handshakes_per_address,
                max_connections: self.config.limits.max_connections,
                max_connections_per_principal: self.config.limits.max_connections_per_principal,
                max_connections_per_address: self.config.limits.max_connections_per_address,
                idle_timeout: self.config.limits.idle_timeout,
            },
            connections,
        ));

        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_serving::<v1::directory_service_server::DirectoryServiceServer<DirectoryService>>()
            .await;
        health
            .set_serving::<v1::indicator_service_server::IndicatorServiceServer<IndicatorService>>()
            .await;
        health
            .set_serving::<v1::mla_service_server::MlaServiceServer<MlaServiceImpl>>()
            .await;
        health
            .set_serving::<v1::cbm_service_server::CbmServiceServer<CbmServiceImpl>>()
            .await;
        health
            .set_serving::<v1::audit_service_server::AuditServiceServer<AuditServiceImpl>>()
            .await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(liaison_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;

        let limits = &self.config.limits;
        // Per service: the size limits and gzip-compressed requests. tonic (0.14,
        // `codec/decode.rs`, `StreamingInner::decode_chunk`) checks the length prefix
        // against `max_decoding_message_size` before buffering a message, and inflates a
        // compressed one into a buffer limited to that same size (`codec/compression.rs`,
        // `decompress`), answering RESOURCE_EXHAUSTED when it would grow past it: the limit
        // applies to the decompressed size, so a gzip bomb is refused after at most that
        // many bytes. prost's recursion limit (100 nested messages or groups) is left on:
        // no crate enables its `no-recursion-limit` feature.
        macro_rules! limited {
            ($server:expr) => {
                $server
                    .max_decoding_message_size(limits.max_decoded_message_bytes)
                    .max_encoding_message_size(limits.max_encoded_message_bytes)
                    .accept_compressed(CompressionEncoding::Gzip)
            };
        }

        let router = Server::builder()
            // Counts each call as open on its connection, for the idle timeout (tls.rs).
            .layer(ActivityLayer)
            // One span per call, started by the hub (an incoming traceparent is linked);
            // the audit layer names the caller and the outcome on it.
            .layer(liaison_telemetry::RpcTraceLayer::new(
                liaison_rpc::is_known_method,
            ))
            // Outermost of the call's limits: the per-principal rate limit, before anything is recorded or
            // looked up, so that a flood costs no database writes (see liaison_rpc::limits).
            // It also caps the streams open per principal and per agency: each writes audit
            // records for as long as it lives.
            .layer(
                RateLimitLayer::new(Some(RateLimit {
                    per_second: limits.rate_limit_per_second,
                    burst: limits.rate_limit_burst,
                }))
                .with_stream_caps(StreamCaps {
                    per_principal: limits.max_streams_per_principal,
                    per_agency: limits.max_streams_per_agency,
                }),
            )
            // Every call leaves an audit record, allowed or denied (see liaison_rpc::audit).
            .layer(if self.config.audit_calls {
                AuditLayer::new(self.store.clone())
            } else {
                AuditLayer::disabled(self.store.clone())
            })
            // A call that does not answer in time ends DEADLINE_EXCEEDED, and is recorded.
            // (An evidence upload is paced instead: each message must come within the cap.)
            .layer(
                DeadlineLayer::new(limits.max_call_duration)
                    .paced_uploads(&[liaison_mla::UPLOAD_EVIDENCE_PATH]),
            )
            // Dead or stalled peers are found and their streams freed.
            .http2_keepalive_interval(Some(limits.keepalive_interval))
            .http2_keepalive_timeout(Some(limits.keepalive_timeout))
            // A connection is not kept forever: at its age it is sent a GOAWAY (open calls
            // and streams may finish; the client reconnects). Idle ones are closed sooner
            // (`idle_timeout`, tls.rs).
            .max_connection_age(limits.max_connection_age)
            // Bounded streams per connection; pending resets bounded (CVE-2023-44487).
            .max_concurrent_streams(Some(limits.max_concurrent_streams))
            .http2_max_pending_accept_reset_streams(Some(limits.max_pending_reset_streams))
            .http2_max_header_list_size(Some(limits.max_header_list_bytes))
            .max_frame_size(Some(limits.max_frame_bytes))
            .add_service(limited!(health_service))
            .add_service(limited!(reflection))
            .add_service(limited!(
                DirectoryService::new(
                    self.store.clone(),
                    self.access.clone(),
                    &self.trust_domain,
                    check_certificate,
                )
                .with_clock(self.config.clock.clone())
                .into_server()
            ))
            .add_service(limited!(
                IndicatorService::new(self.store.clone(), self.access.clone(), stop.clone())
                    .into_server()
            ))
            .add_service(limited!(
                MlaServiceImpl::new(
                    self.store.clone(),
                    self.access.clone(),
                    MlaSettings {
                        clock: self.config.clock.clone(),
                        receipt_key: self.receipt_key.clone(),
                        retired_receipt_keys: self.retired_receipt_keys.clone(),
                        policy: self.mla_deadlines.clone(),
                        shutdown: stop.clone(),
                        evidence_dir: self.config.evidence_dir.clone(),
                        upload_idle: limits.max_call_duration,
                        evidence_quota: liaison_mla::EvidenceQuota {
                            per_request: limits.max_evidence_bytes_per_request,
                            per_agency: limits.max_evidence_bytes_per_agency,
                            free_reserve: limits.min_evidence_free_bytes,
                        },
                    },
                )
                .into_server()
            ))
            .add_service(limited!(
                CbmServiceImpl::new(
                    self.store.clone(),
                    self.access.clone(),
                    self.config.clock.clone(),
                    stop.clone(),
                )
                .into_server()
            ))
            .add_service(limited!(audit_service.clone().into_server()));

        tracing::info!(address = %self.local_addr, "hub serving");
        let signal = async move {
            shutdown.await;
            tracing::info!(
                "shutting down: no new calls; open streams end; in-flight calls may finish"
            );
            let _ = stop_sender.send(true);
        };
        let server = router.serve_with_incoming_shutdown(ReceiverStream::new(incoming), signal);
        let grace = self.config.shutdown_grace;
        let mut stopping = stop.clone();
        let result = tokio::select! {
            result = server => result.map_err(HubError::from),
            () = async move { stopping.wait().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(grace_seconds = grace.as_secs(), "calls still running after the grace period; stopping anyway");
                Ok(())
            }
        };
        accept.abort();
        revocation_refresh.abort();
        if let Some(crl_watch) = crl_watch {
            crl_watch.abort();
        }
        let _ = signer.await;
        let _ = witnessing.await;
        let _ = gauges.await;
        if let Some(admin) = admin {
            let _ = admin.await;
        }
        let _ = mla_deadlines.await;
        let _ = escalator.await;
        if let Some(check_schedule) = check_schedule {
            let _ = check_schedule.await;
        }
        let _ = sequencer.await;
        self.store.close().await;
        tracing::info!("hub stopped");
        result
    }
}
