//! The mutual-TLS listener: TLS 1.3 only, a client certificate verified against the hub CA
//! on every connection, and the principal read from it once, here.
//!
//! tonic's own `ServerTlsConfig` cannot restrict the protocol version, so TLS is
//! terminated with tokio-rustls and the accepted streams are handed to tonic.

use std::{
    io,
    net::SocketAddr,
    path::Path,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use liaison_auth::{IdentityError, PeerIdentity};
use liaison_rpc::ConnectionInfo;
use rustls::{RootCertStore, ServerConfig, server::WebPkiClientVerifier};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, mpsc},
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tonic::transport::server::Connected;

use crate::{TlsFiles, hub::HubError};

/// Builds the rustls server configuration from PEM files.
pub(crate) fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, HubError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca_certs = read_certificates(&files.ca_cert)?;
    let mut roots = RootCertStore::empty();
    for cert in ca_certs {
        roots.add(cert).map_err(|error| HubError::Tls {
            path: files.ca_cert.clone(),
            reason: format!("not a usable CA certificate: {error}"),
        })?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|error| HubError::Tls {
            path: files.ca_cert.clone(),
            reason: error.to_string(),
        })?;
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
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|error| HubError::Tls {
            path: files.server_key.clone(),
            reason: format!("the key does not match the certificate: {error}"),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
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
