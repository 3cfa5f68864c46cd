//! What the listener refuses: no client certificate, a certificate from another CA, an
//! expired certificate, a plaintext HTTP/2 client, and a hub-signed certificate that
//! names no principal. After each refusal the hub still serves good clients.

use liaison_client::{Client, ClientConfig};
use liaison_pki::{CertificateAuthority, Validity};
use liaison_proto::v1::{self, directory_service_client::DirectoryServiceClient};
use liaison_testkit::{Backend, TestHub};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use liaison_testkit::both;

both!(
    no_client_certificate_is_refused,
    certificate_from_another_ca_is_refused,
    expired_certificate_is_refused,
    plaintext_http2_is_refused,
    certificate_without_principal_is_unauthenticated,
);

/// A WhoAmI call with the given settings; `Err` when the connection or the call fails.
async fn who_am_i(config: &ClientConfig) -> anyhow::Result<v1::WhoAmIResponse> {
    let client = Client::connect(config).await?;
    Ok(client
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await?
        .into_inner())
}

async fn still_serves(hub: &TestHub) -> anyhow::Result<()> {
    let answer = who_am_i(&hub.client_config("UA-CERT", "feed")?).await?;
    assert_eq!(
        answer
            .principal
            .and_then(|p| p.r#ref)
            .map(|r| r.agency_id)
            .as_deref(),
        Some("UA-CERT")
    );
    Ok(())
}

async fn no_client_certificate_is_refused(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let ca = std::fs::read_to_string(&hub.pki().ca_cert)?;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("127.0.0.1");
    let outcome = async {
        let channel: Channel = Endpoint::from_shared(hub.endpoint().to_owned())?
            .tls_config(tls)?
            .connect()
            .await?;
        let answer = DirectoryServiceClient::new(channel)
            .who_am_i(v1::WhoAmIRequest {})
            .await?;
        anyhow::Ok(answer)
    }
    .await;
    assert!(
        outcome.is_err(),
        "a client without a certificate was served: {outcome:?}"
    );
    still_serves(&hub).await?;
    hub.stop().await
}

async fn certificate_from_another_ca_is_refused(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let rogue_ca = CertificateAuthority::generate("rogue CA")?;
    let genuine = hub.client_config("UA-CERT", "feed")?;
    // Same principal URI as a real one, signed by a CA the hub does not trust.
    let principal_uri = "spiffe://liaison.example/agency/UA-CERT/system/feed";
    let forged = rogue_ca.issue_client_with_uris(&[principal_uri], Validity::days(1))?;
    let config = ClientConfig {
        cert_pem: forged.cert_pem,
        key_pem: forged.key_pem,
        ..genuine
    };
    let outcome = who_am_i(&config).await;
    assert!(
        outcome.is_err(),
        "a certificate from another CA was accepted"
    );
    still_serves(&hub).await?;
    hub.stop().await
}

async fn expired_certificate_is_refused(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let ca = hub.ca()?;
    let uris = ["spiffe://liaison.example/agency/UA-CERT/system/feed"];
    let expired = ca.issue_client_with_uris(&uris, Validity::expired())?;
    let outcome = who_am_i(&hub.client_config_with(&expired)?).await;
    assert!(outcome.is_err(), "an expired certificate was accepted");
    // The same principal with a valid certificate from the same CA is served.
    let valid = ca.issue_client_with_uris(&uris, Validity::days(1))?;
    who_am_i(&hub.client_config_with(&valid)?).await?;
    hub.stop().await
}

async fn plaintext_http2_is_refused(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let plain = hub.endpoint().replace("https://", "http://");
    let outcome = async {
        let channel = Endpoint::from_shared(plain)?.connect().await?;
        let answer = DirectoryServiceClient::new(channel)
            .who_am_i(v1::WhoAmIRequest {})
            .await?;
        anyhow::Ok(answer)
    }
    .await;
    assert!(outcome.is_err(), "a plaintext HTTP/2 client was served");
    still_serves(&hub).await?;
    hub.stop().await
}

async fn certificate_without_principal_is_unauthenticated(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let ca = hub.ca()?;
    let cases = [
        vec![],
        vec!["spiffe://elsewhere.example/agency/UA-CERT/system/feed"],
        vec!["spiffe://liaison.example/agency/UA-CERT/system/ghost"],
    ];
    for uris in cases {
        let issued = ca.issue_client_with_uris(&uris, Validity::days(1))?;
        let client = Client::connect(&hub.client_config_with(&issued)?).await?;
        let status = client
            .directory()
            .who_am_i(v1::WhoAmIRequest {})
            .await
            .expect_err("served a certificate naming no known principal");
        assert_eq!(
            status.code(),
            tonic::Code::Unauthenticated,
            "{uris:?}: {status:?}"
        );
    }
    hub.stop().await
}

both!(tls_1_2_is_refused);

/// A raw TLS handshake with a valid client certificate, offering only `version`.
async fn handshake(
    hub: &TestHub,
    version: &'static rustls::SupportedProtocolVersion,
) -> anyhow::Result<()> {
    use std::sync::Arc;

    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(&hub.pki().ca_cert)?)?;
    let (cert, key) = hub.pki().principal("UA-CERT", "feed");
    let chain = vec![CertificateDer::from_pem_file(cert)?];
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key)?)?;
    let address = hub.endpoint().trim_start_matches("https://").to_owned();
    let tcp = tokio::net::TcpStream::connect(address).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut stream = connector
        .connect(ServerName::try_from("127.0.0.1")?, tcp)
        .await?;
    // In TLS 1.3 the server's verdict on the client certificate arrives after the
    // handshake: write and flush once so that a refusal surfaces here.
    tokio::io::AsyncWriteExt::write_all(&mut stream, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await?;
    tokio::io::AsyncWriteExt::flush(&mut stream).await?;
    Ok(())
}

async fn tls_1_2_is_refused(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let outcome = handshake(&hub, &rustls::version::TLS12).await;
    assert!(outcome.is_err(), "a TLS 1.2 handshake succeeded");
    handshake(&hub, &rustls::version::TLS13).await?;
    hub.stop().await
}
