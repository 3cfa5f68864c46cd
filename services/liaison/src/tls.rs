//! The mutual-TLS listener: TLS 1.3 only, a client certificate verified against the hub CA
//! on every connection, and the principal read from it once, here.
//!
//! tonic's own `ServerTlsConfig` cannot restrict the protocol version, so TLS is
//! terminated with tokio-rustls and the accepted streams are handed to tonic.

use std::{
    collections::HashSet,
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    pin::Pin,
    sync::{Arc, RwLock},
    task::{Context, Poll},
    time::Duration,
};

use liaison_auth::{IdentityError, PeerIdentity};
use liaison_rpc::{ConnectionInfo, Revocations, Shutdown};
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
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, mpsc},
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tonic::transport::server::Connected;
use x509_parser::prelude::FromDer;

use crate::{TlsFiles, hub::HubError};

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

/// An accepted, verified TLS connection with what was learnt of its peer.
#[derive(Debug)]
pub(crate) struct TlsConnection {
    stream: TlsStream<TcpStream>,
    info: ConnectionInfo,
    /// One of the `max_connections` slots, freed when the connection is dropped.
    _slot: OwnedSemaphorePermit,
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
/// failed handshakes are logged and dropped. At most `max_connections` connections
/// (handshakes included) are open at once: a further one is closed as soon as it is
/// accepted, and only the first of a run of such refusals is logged.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    trust_domain: String,
    handshake_timeout: Duration,
    max_connections: usize,
    sink: mpsc::Sender<Result<TlsConnection, io::Error>>,
) {
    let acceptor = TlsAcceptor::from(config);
    let trust_domain: Arc<str> = trust_domain.into();
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut refusing = false;
    loop {
        let (tcp, remote_addr) = match listener.accept().await {
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
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if !refusing {
                tracing::warn!(
                    peer = %remote_addr,
                    max_connections,
                    "connection limit reached: closing new connections until one ends"
                );
                refusing = true;
            }
            drop(tcp);
            continue;
        };
        refusing = false;
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let sink = sink.clone();
        let trust_domain = trust_domain.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let info = connection_info(&stream, remote_addr, &trust_domain);
                    let connection = TlsConnection {
                        stream,
                        info,
                        _slot: slot,
                    };
                    let _ = sink.send(Ok(connection)).await;
                }
                Ok(Err(error)) => {
                    tracing::info!(peer = %remote_addr, %error, "TLS handshake refused")
                }
                Err(_) => tracing::info!(peer = %remote_addr, "TLS handshake timed out"),
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
    }
}
