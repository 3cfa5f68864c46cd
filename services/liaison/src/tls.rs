//! The mutual-TLS listener: TLS 1.3 only, a client certificate verified against the hub CA
//! on every connection, and the principal read from it once, here.
//!
//! tonic's own `ServerTlsConfig` cannot restrict the protocol version, so TLS is
//! terminated with tokio-rustls and the accepted streams are handed to tonic.

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    hash::Hash,
    io,
    net::{IpAddr, Ipv6Addr, SocketAddr},
    path::{Path, PathBuf},
    pin::Pin,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use liaison_auth::{IdentityError, PeerIdentity};
use liaison_rpc::{ConnectionActivity, ConnectionInfo, Revocations, Shutdown};
use rustls::{
    DistinguishedName, RootCertStore, ServerConfig,
    client::danger::HandshakeSignatureValid,
    server::{
        WebPkiClientVerifier,
        danger::{ClientCertVerified, ClientCertVerifier},
    },
};
use rustls_pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, pem::PemObject,
};
use sha2::{Digest, Sha256};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, mpsc},
};
use tokio_rustls::{LazyConfigAcceptor, server::TlsStream};
use tonic::transport::server::Connected;
use x509_parser::prelude::FromDer;

use crate::{TlsFiles, error::HubError};

/// The client-certificate verifier of every handshake: the hub CA's chain and CRL (rebuilt
/// when the CRL file changes, without a restart), then the operator's revocations by
/// fingerprint.
#[derive(Debug)]
pub(crate) struct HubClientVerifier {
    roots: Arc<RootCertStore>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    hints: Vec<DistinguishedName>,
    inner: RwLock<Arc<dyn ClientCertVerifier>>,
    revocations: Revocations,
}

impl HubClientVerifier {
    fn build(
        roots: &Arc<RootCertStore>,
        provider: &Arc<rustls::crypto::CryptoProvider>,
        crls: Vec<CertificateRevocationListDer<'static>>,
    ) -> Result<Arc<dyn ClientCertVerifier>, String> {
        let mut builder =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
        if !crls.is_empty() {
            // The CA issues end-entity certificates directly; its own status is not in
            // its CRL.
            builder = builder.with_crls(crls).only_check_end_entity_revocation();
        }
        builder.build().map_err(|error| error.to_string())
    }

    /// Replaces the CRLs (an empty list: none).
    pub(crate) fn set_crls(
        &self,
        crls: Vec<CertificateRevocationListDer<'static>>,
    ) -> Result<(), String> {
        let verifier = Self::build(&self.roots, &self.provider, crls)?;
        *self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = verifier;
        Ok(())
    }

    fn current(&self) -> Arc<dyn ClientCertVerifier> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Checks a DER certificate as a handshake would (for certificates the operator
    /// registers).
    pub(crate) fn check(&self, der: &[u8]) -> Result<(), String> {
        let certificate = CertificateDer::from(der.to_vec());
        self.verify_client_cert(&certificate, &[], rustls_pki_types::UnixTime::now())
            .map(|_| ())
            .map_err(|error| error.to_string())
    }
}

impl ClientCertVerifier for HubClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls_pki_types::UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.current()
            .verify_client_cert(end_entity, intermediates, now)?;
        let fingerprint = hex::encode(Sha256::digest(end_entity.as_ref()));
        if self.revocations.is_fingerprint_revoked(&fingerprint) {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Revoked,
            ));
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.current().supported_verify_schemes()
    }
}

/// (issuer DER, serial number) of each certificate a CRL revokes.
type CrlEntries = HashSet<(Vec<u8>, Vec<u8>)>;

/// Reads a CRL file (PEM blocks, or one DER CRL) and the (issuer, serial) entries it
/// revokes.
pub(crate) fn read_crl(
    path: &Path,
) -> Result<(Vec<CertificateRevocationListDer<'static>>, CrlEntries), String> {
    let bytes = std::fs::read(path).map_err(|error| format!("cannot read: {error}"))?;
    let ders: Vec<CertificateRevocationListDer<'static>> = if bytes.starts_with(b"-----") {
        CertificateRevocationListDer::pem_slice_iter(&bytes)
            .collect::<Result<_, _>>()
            .map_err(|error| format!("not PEM CRLs: {error}"))?
    } else {
        vec![CertificateRevocationListDer::from(bytes)]
    };
    if ders.is_empty() {
        return Err("the file holds no CRL".into());
    }
    let mut entries = HashSet::new();
    for der in &ders {
        let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(der)
            .map_err(|error| format!("not a CRL: {error}"))?;
        let issuer = crl.issuer().as_raw().to_vec();
        for revoked in crl.iter_revoked_certificates() {
            entries.insert((issuer.clone(), revoked.raw_serial().to_vec()));
        }
    }
    Ok((ders, entries))
}

/// Builds the rustls server configuration from PEM files, with the verifier that checks
/// the CRL (when one is configured) and `revocations`.
pub(crate) fn server_config(
    files: &TlsFiles,
    crl: Option<&Path>,
    revocations: Revocations,
) -> Result<(Arc<ServerConfig>, Arc<HubClientVerifier>), HubError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca_certs = read_certificates(&files.ca_cert)?;
    let mut roots = RootCertStore::empty();
    for cert in ca_certs {
        roots.add(cert).map_err(|error| HubError::Tls {
            path: files.ca_cert.clone(),
            reason: format!("not a usable CA certificate: {error}"),
        })?;
    }
    let roots = Arc::new(roots);
    let crls = match crl {
        Some(path) => {
            let (ders, entries) = read_crl(path).map_err(|reason| HubError::Tls {
                path: path.to_owned(),
                reason,
            })?;
            revocations.set_crl_entries(entries);
            ders
        }
        None => Vec::new(),
    };
    let inner =
        HubClientVerifier::build(&roots, &provider, crls).map_err(|reason| HubError::Tls {
            path: crl.map_or_else(|| files.ca_cert.clone(), Path::to_owned),
            reason,
        })?;
    let verifier = Arc::new(HubClientVerifier {
        hints: inner.root_hint_subjects().to_vec(),
        roots,
        provider: provider.clone(),
        inner: RwLock::new(inner),
        revocations,
    });
    let chain = read_certificates(&files.server_cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.server_key).map_err(|error| HubError::Tls {
        path: files.server_key.clone(),
        reason: format!("no private key could be read: {error}"),
    })?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|error| HubError::Tls {
            path: files.server_cert.clone(),
            reason: error.to_string(),
        })?
        .with_client_cert_verifier(verifier.clone())
        .with_single_cert(chain, key)
        .map_err(|error| HubError::Tls {
            path: files.server_key.clone(),
            reason: format!("the key does not match the certificate: {error}"),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    // No session resumption: a resumed TLS 1.3 session skips the client-certificate
    // verification (validity window, CRL) that a full handshake makes (review M6).
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok((Arc::new(config), verifier))
}

/// Watches the CRL file: when its contents change, the new CRL applies to the next
/// handshake, and open connections' calls and streams are re-checked against it. A file
/// that does not parse is logged and ignored: the last good CRL stays in force.
pub(crate) async fn watch_crl(
    path: PathBuf,
    verifier: Arc<HubClientVerifier>,
    revocations: Revocations,
    every: Duration,
    mut stop: Shutdown,
) {
    let mut last = std::fs::read(&path).ok();
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.wait() => return,
        }
        let current = std::fs::read(&path).ok();
        if current == last || current.is_none() {
            continue;
        }
        last = current;
        match read_crl(&path) {
            Ok((ders, entries)) => match verifier.set_crls(ders) {
                Ok(()) => {
                    let count = entries.len();
                    revocations.set_crl_entries(entries);
                    tracing::info!(path = %path.display(), revoked = count, "CRL reloaded");
                }
                Err(error) => {
                    tracing::error!(path = %path.display(), %error, "CRL refused; keeping the previous one")
                }
            },
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "CRL unreadable; keeping the previous one")
            }
        }
    }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, HubError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|error| HubError::Tls {
            path: path.to_owned(),
            reason: format!("cannot read PEM certificates: {error}"),
        })?;
    if certs.is_empty() {
        return Err(HubError::Tls {
            path: path.to_owned(),
            reason: "the file holds no PEM certificate".into(),
        });
    }
    Ok(certs)
}

/// The connection limits [`accept_loop`] enforces (see [`crate::Limits`]).
#[derive(Debug, Clone)]
pub(crate) struct AcceptLimits {
    /// How long a new connection has to send its whole ClientHello.
    pub client_hello_timeout: Duration,
    /// How long the rest of the handshake may take.
    pub handshake_timeout: Duration,
    /// Handshakes in progress at once.
    pub max_handshakes: usize,
    /// Handshakes in progress at once from one address.
    pub max_handshakes_per_address: usize,
    /// Verified connections open at once.
    pub max_connections: usize,
    /// Verified connections open at once per principal.
    pub max_connections_per_principal: usize,
    /// Verified connections open at once per address.
    pub max_connections_per_address: usize,
    /// How long a verified connection may go without a call.
    pub idle_timeout: Duration,
}

/// What a per-address limit counts a peer by: an IPv4 address (or an IPv4-mapped IPv6
/// one) itself, an IPv6 address by its /64 prefix, since one host commonly holds a whole
/// /64.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(Ipv6Addr::from(segments))
            }
        },
    }
}

/// Counts per key up to a limit; each count is held by a [`Held`] and given back when it
/// is dropped.
#[derive(Debug)]
struct Counts<K> {
    limit: usize,
    counts: Mutex<HashMap<K, usize>>,
}

impl<K: Eq + Hash + Clone> Counts<K> {
    fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            counts: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, usize>> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One more for `key`, or `None` when it already holds `limit`.
    fn try_take(self: &Arc<Self>, key: K) -> Option<Held<K>> {
        let mut counts = self.lock();
        let count = counts.entry(key.clone()).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(Held {
            counts: self.clone(),
            key,
        })
    }
}

/// One count of a key in [`Counts`].
#[derive(Debug)]
struct Held<K: Eq + Hash + Clone> {
    counts: Arc<Counts<K>>,
    key: K,
}

impl<K: Eq + Hash + Clone> Drop for Held<K> {
    fn drop(&mut self) {
        let mut counts = self.counts.lock();
        if let Some(count) = counts.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// Refusals of one kind: all are counted, and at most one a second is logged (with the
/// count so far), so that a flood cannot flood the log too.
#[derive(Debug, Default)]
struct Refusals {
    total: AtomicU64,
    last_logged: Mutex<Option<std::time::Instant>>,
}

impl Refusals {
    /// Counts a refusal; `Some(total so far)` when this one is to be logged.
    fn count(&self) -> Option<u64> {
        liaison_telemetry::metrics::refused("connection");
        let total = self.total.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self
            .last_logged
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = std::time::Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < Duration::from_secs(1)) {
            return None;
        }
        *last = Some(now);
        Some(total)
    }
}

/// A handshake's slots: the overall one and its address's. Held until the connection is
/// verified and admitted, or refused.
#[derive(Debug)]
struct HandshakeSlot {
    _overall: OwnedSemaphorePermit,
    _address: Held<IpAddr>,
}

/// A verified connection's slots: the overall one, its principal's and its address's.
#[derive(Debug)]
struct ConnectionSlot {
    _overall: OwnedSemaphorePermit,
    _principal: Held<String>,
    _address: Held<IpAddr>,
}

/// The state of the listener: the limits, the slots they guard and the refusal counts.
#[derive(Debug)]
struct Gate {
    limits: AcceptLimits,
    config: Arc<ServerConfig>,
    trust_domain: Arc<str>,
    handshakes: Arc<Semaphore>,
    handshakes_per_address: Arc<Counts<IpAddr>>,
    connections: Arc<Semaphore>,
    connections_per_principal: Arc<Counts<String>>,
    connections_per_address: Arc<Counts<IpAddr>>,
    refused_handshakes: Refusals,
    refused_handshakes_per_address: Refusals,
    client_hello_timeouts: Refusals,
    handshake_timeouts: Refusals,
    refused_connections: Refusals,
    refused_per_principal: Refusals,
    refused_per_address: Refusals,
}

/// The principal a connection counts against: the certificate's, or one shared key for
/// hub-signed certificates that name no usable principal (they can do nothing, so they
/// share one principal's allowance).
const NO_PRINCIPAL: &str = "(no usable principal)";

/// How long a refused connection is given to read the hub's GOAWAY before it is dropped.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

impl Gate {
    /// A handshake slot for a connection just accepted from `peer`, or `None` (logged and
    /// counted) when the overall or the address's handshake budget is spent.
    fn handshake_slot(&self, peer: SocketAddr) -> Option<HandshakeSlot> {
        let Ok(overall) = self.handshakes.clone().try_acquire_owned() else {
            if let Some(total) = self.refused_handshakes.count() {
                tracing::warn!(
                    %peer,
                    max_handshakes = self.limits.max_handshakes,
                    refused_total = total,
                    "handshake limit reached: closing new connections when accepted"
                );
            }
            return None;
        };
        let Some(address) = self.handshakes_per_address.try_take(address_key(peer.ip())) else {
            if let Some(total) = self.refused_handshakes_per_address.count() {
                tracing::warn!(
                    %peer,
                    max_handshakes_per_address = self.limits.max_handshakes_per_address,
                    refused_total = total,
                    "per-address handshake limit reached: closing this address's new connections when accepted"
                );
            }
            return None;
        };
        Some(HandshakeSlot {
            _overall: overall,
            _address: address,
        })
    }

    /// Reads the ClientHello within its timeout, completes the handshake within the
    /// handshake timeout, then admits the verified connection or refuses it (with a
    /// GOAWAY) when one of the connection limits is reached.
    async fn handshake(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        slot: HandshakeSlot,
    ) -> Option<TlsConnection> {
        let hello = tokio::time::timeout(
            self.limits.client_hello_timeout,
            LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp),
        )
        .await;
        let start = match hello {
            Ok(Ok(start)) => start,
            Ok(Err(error)) => {
                tracing::info!(%peer, %error, "TLS handshake refused");
                return None;
            }
            Err(_) => {
                if let Some(total) = self.client_hello_timeouts.count() {
                    tracing::info!(
                        %peer,
                        timeout_ms = self.limits.client_hello_timeout.as_millis(),
                        timed_out_total = total,
                        "no complete ClientHello in time: connection closed"
                    );
                }
                return None;
            }
        };
        let accepted = tokio::time::timeout(
            self.limits.handshake_timeout,
            start.into_stream(self.config.clone()),
        )
        .await;
        let stream = match accepted {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::info!(%peer, %error, "TLS handshake refused");
                return None;
            }
            Err(_) => {
                if let Some(total) = self.handshake_timeouts.count() {
                    tracing::info!(%peer, timed_out_total = total, "TLS handshake timed out");
                }
                return None;
            }
        };
        let info = connection_info(&stream, peer, &self.trust_domain);
        match self.admit(&info, peer) {
            Ok(admitted) => {
                drop(slot);
                Some(TlsConnection {
                    stream,
                    idle: IdleTimer::new(info.activity.clone(), self.limits.idle_timeout),
                    info,
                    _slot: admitted,
                })
            }
            Err(reason) => {
                // The handshake slot stays held while the refusal is delivered, so that
                // refusals too are bounded by the handshake budgets.
                refuse(stream, reason).await;
                drop(slot);
                None
            }
        }
    }

    /// The verified connection's slots, or why it is refused (logged and counted).
    fn admit(&self, info: &ConnectionInfo, peer: SocketAddr) -> Result<ConnectionSlot, &str> {
        let principal = match info.identity.as_ref() {
            Ok(identity) => identity.principal().to_string(),
            Err(_) => NO_PRINCIPAL.to_owned(),
        };
        let Some(by_principal) = self.connections_per_principal.try_take(principal.clone()) else {
            if let Some(total) = self.refused_per_principal.count() {
                tracing::warn!(
                    %peer,
                    %principal,
                    max_connections_per_principal = self.limits.max_connections_per_principal,
                    refused_total = total,
                    "per-principal connection limit reached: connection refused after the handshake"
                );
            }
            return Err("too many connections for this principal");
        };
        let Some(by_address) = self
            .connections_per_address
            .try_take(address_key(peer.ip()))
        else {
            if let Some(total) = self.refused_per_address.count() {
                tracing::warn!(
                    %peer,
                    %principal,
                    max_connections_per_address = self.limits.max_connections_per_address,
                    refused_total = total,
                    "per-address connection limit reached: connection refused after the handshake"
                );
            }
            return Err("too many connections from this address");
        };
        let Ok(overall) = self.connections.clone().try_acquire_owned() else {
            if let Some(total) = self.refused_connections.count() {
                tracing::warn!(
                    %peer,
                    %principal,
                    max_connections = self.limits.max_connections,
                    refused_total = total,
                    "connection limit reached: connections refused after the handshake until one ends"
                );
            }
            return Err("the hub is at its connection limit");
        };
        Ok(ConnectionSlot {
            _overall: overall,
            _principal: by_principal,
            _address: by_address,
        })
    }
}

/// Closes a verified connection that is over a limit cleanly: the HTTP/2 server preface
/// (an empty SETTINGS frame); then, once the client's first request has arrived (or after
/// [`REFUSAL_LINGER`]), a GOAWAY that accepts no stream (ENHANCE_YOUR_CALM, with `reason`
/// as its debug data), so that the client's call fails with the reason rather than with a
/// bare "connection closed"; then, when the client has closed its side (or after the
/// linger), TLS close_notify. What the client sends meanwhile is read and dropped, so that
/// closing with unread data (a TCP reset) does not destroy the GOAWAY before the client
/// reads it. All of it within twice [`REFUSAL_LINGER`].
async fn refuse(mut stream: TlsStream<TcpStream>, reason: &str) {
    const SETTINGS: u8 = 0x4;
    const GOAWAY: u8 = 0x7;
    const ENHANCE_YOUR_CALM: u32 = 0xb;
    let debug = reason.as_bytes();
    let mut goaway = Vec::with_capacity(17 + debug.len());
    let length = u32::try_from(8 + debug.len()).unwrap_or(8).to_be_bytes();
    goaway.extend_from_slice(&length[1..]);
    goaway.extend_from_slice(&[GOAWAY, 0, 0, 0, 0, 0]);
    goaway.extend_from_slice(&0u32.to_be_bytes());
    goaway.extend_from_slice(&ENHANCE_YOUR_CALM.to_be_bytes());
    goaway.extend_from_slice(debug);
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream
            .write_all(&[0, 0, 0, SETTINGS, 0, 0, 0, 0, 0])
            .await?;
        stream.flush().await?;
        let _ = tokio::time::timeout(REFUSAL_LINGER / 2, first_request(&mut stream)).await;
        stream.write_all(&goaway).await?;
        stream.flush().await?;
        // The client closes once it has read the GOAWAY and has no call left.
        let mut discard = [0u8; 4096];
        while stream.read(&mut discard).await? > 0 {}
        io::Result::Ok(())
    })
    .await;
    let _ = tokio::time::timeout(REFUSAL_LINGER, stream.shutdown()).await;
}

/// Reads the client's connection preface and frames up to its first HEADERS frame (the
/// start of its first request); `Ok(false)` if the stream ended first.
async fn first_request(stream: &mut TlsStream<TcpStream>) -> io::Result<bool> {
    const PREFACE: usize = 24;
    const HEADERS: u8 = 0x1;
    let mut preface = [0u8; PREFACE];
    stream.read_exact(&mut preface).await?;
    let mut header = [0u8; 9];
    let mut discard = [0u8; 4096];
    loop {
        stream.read_exact(&mut header).await?;
        if header[3] == HEADERS {
            return Ok(true);
        }
        let mut length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        while length > 0 {
            let chunk = length.min(discard.len());
            stream.read_exact(&mut discard[..chunk]).await?;
            length -= chunk;
        }
    }
}

/// Closes a connection that has had no open call for `timeout` (HTTP/2 PINGs are no
/// calls): it reads as ended, and hyper closes it.
#[derive(Debug)]
struct IdleTimer {
    activity: Arc<ConnectionActivity>,
    timeout: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: bool,
}

impl IdleTimer {
    fn new(activity: Arc<ConnectionActivity>, timeout: Duration) -> Self {
        Self {
            activity,
            timeout,
            sleep: Box::pin(tokio::time::sleep(timeout)),
            expired: false,
        }
    }

    /// Whether the connection has been idle too long; otherwise the timer is set to wake
    /// `cx` when it may be.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.expired {
            return true;
        }
        while self.sleep.as_mut().poll(cx).is_ready() {
            let now = tokio::time::Instant::now();
            match self.activity.idle_since() {
                Some(since) if now.duration_since(since) >= self.timeout => {
                    tracing::debug!(
                        timeout_seconds = self.timeout.as_secs(),
                        "closing a connection without calls"
                    );
                    self.expired = true;
                    return true;
                }
                Some(since) => self.sleep.as_mut().reset(since + self.timeout),
                None => self.sleep.as_mut().reset(now + self.timeout),
            }
        }
        false
    }
}

/// An accepted, verified TLS connection with what was learnt of its peer.
#[derive(Debug)]
pub(crate) struct TlsConnection {
    stream: TlsStream<TcpStream>,
    info: ConnectionInfo,
    idle: IdleTimer,
    /// Its slots of the connection limits, freed when the connection is dropped.
    _slot: ConnectionSlot,
}

impl Connected for TlsConnection {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.info.clone()
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.idle.poll_expired(cx) {
            // The end of the stream: hyper closes the connection.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Accepts TCP connections and completes TLS handshakes, each in its own task so that a
/// slow or silent client cannot hold up the others. Verified connections go to `sink`;
/// failed handshakes are logged and dropped.
///
/// A new connection first needs a handshake slot: at most `max_handshakes` handshakes are
/// in progress at once, `max_handshakes_per_address` from one address; over either it is
/// closed when accepted. It must send its ClientHello within `client_hello_timeout`, and
/// finish the handshake within `handshake_timeout`. Only then, with its client
/// certificate verified, does it take a connection slot: at most `max_connections` in
/// all, `max_connections_per_principal` per principal and `max_connections_per_address`
/// per address; over any of them it is closed with a GOAWAY. Refusals are counted and
/// logged at most once a second per kind.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    trust_domain: String,
    limits: AcceptLimits,
    sink: mpsc::Sender<Result<TlsConnection, io::Error>>,
) {
    let gate = Arc::new(Gate {
        config,
        trust_domain: trust_domain.into(),
        handshakes: Arc::new(Semaphore::new(limits.max_handshakes)),
        handshakes_per_address: Counts::new(limits.max_handshakes_per_address),
        connections: Arc::new(Semaphore::new(limits.max_connections)),
        connections_per_principal: Counts::new(limits.max_connections_per_principal),
        connections_per_address: Counts::new(limits.max_connections_per_address),
        refused_handshakes: Refusals::default(),
        refused_handshakes_per_address: Refusals::default(),
        client_hello_timeouts: Refusals::default(),
        handshake_timeouts: Refusals::default(),
        refused_connections: Refusals::default(),
        refused_per_principal: Refusals::default(),
        refused_per_address: Refusals::default(),
        limits,
    });
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if sink.is_closed() {
            return;
        }
        let Some(slot) = gate.handshake_slot(peer) else {
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let gate = gate.clone();
        let sink = sink.clone();
        tokio::spawn(async move {
            if let Some(connection) = gate.handshake(tcp, peer, slot).await {
                let _ = sink.send(Ok(connection)).await;
            }
        });
    }
}

fn connection_info(
    stream: &TlsStream<TcpStream>,
    remote_addr: SocketAddr,
    trust_domain: &str,
) -> ConnectionInfo {
    let (_, session) = stream.get_ref();
    let identity = match session.peer_certificates().and_then(|chain| chain.first()) {
        Some(certificate) => PeerIdentity::from_certificate(certificate, trust_domain),
        None => Err(IdentityError::NoCertificate),
    };
    if let Err(error) = &identity {
        tracing::info!(peer = %remote_addr, %error, "client certificate names no usable principal");
    }
    ConnectionInfo {
        remote_addr: Some(remote_addr),
        identity: Arc::new(identity),
        activity: Arc::new(ConnectionActivity::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_count_by_host_and_ipv6_by_its_64_prefix() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(address_key(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), v4);
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(one), address_key(other));
        assert_ne!(address_key(one), address_key(elsewhere));
    }

    #[test]
    fn counts_are_bounded_per_key_and_given_back() {
        let counts = Counts::new(2);
        let first = counts.try_take("a").unwrap();
        let _second = counts.try_take("a").unwrap();
        assert!(counts.try_take("a").is_none());
        let _other = counts.try_take("b").unwrap();
        drop(first);
        let _third = counts.try_take("a").unwrap();
        assert!(counts.try_take("a").is_none());
    }

    #[test]
    fn refusals_are_all_counted_and_logged_at_most_once_a_second() {
        let refusals = Refusals::default();
        assert_eq!(refusals.count(), Some(1));
        assert_eq!(refusals.count(), None);
        assert_eq!(refusals.total.load(Ordering::Relaxed), 2);
    }
}
