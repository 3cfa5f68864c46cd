//! Limits against abuse: oversized and gzip-inflated messages, deeply nested messages, an
//! HTTP/2 rapid-reset flood, streams that are never read, connections beyond the limit, a
//! flood of unfinished handshakes, a member hoarding connections, a silent peer, oversized headers, the per-principal rate limit and the deadline cap. In
//! every case the hub refuses the abuse and keeps serving everyone else.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use h2::client::{Connection, SendRequest};
use liaison_proto::v1;
use liaison_testkit::{Backend, Limits, TestHub, both};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client::TlsStream};
use tonic::{
    Code,
    codec::CompressionEncoding,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};
use tonic_types::StatusExt;

use crate::support::{
    PATIENCE, eventually, fraud_method, next_event, publish, publish_method, published, purposeful,
    subscribe_after,
};

both!(
    oversized_messages_are_refused_and_the_hub_keeps_serving,
    a_gzip_bomb_is_refused_after_inflating_to_the_limit,
    a_message_nested_200_levels_deep_is_refused,
    a_rapid_reset_flood_closes_only_the_attacking_connection,
    streams_that_are_never_read_hold_bounded_resources,
    connections_beyond_the_limit_are_closed,
    a_handshake_flood_from_one_address_does_not_lock_out_others,
    a_member_holding_many_connections_is_capped,
    idle_connections_are_closed_and_old_ones_sent_away,
    a_peer_that_stops_reading_is_disconnected,
    oversized_headers_are_refused,
    the_rate_limit_is_per_principal_and_refills,
    calls_that_do_not_answer_in_time_end_with_deadline_exceeded,
);

/// A WhoAmI call as `agency`'s feed on a new connection: the hub still serves.
async fn still_serves(hub: &TestHub, agency: &str) -> anyhow::Result<()> {
    let client = hub.client(agency, "feed").await?;
    let answer = tokio::time::timeout(PATIENCE, client.directory().who_am_i(v1::WhoAmIRequest {}))
        .await??
        .into_inner();
    let principal = answer.principal.and_then(|p| p.r#ref);
    assert_eq!(principal.map(|r| r.agency_id).as_deref(), Some(agency));
    Ok(())
}

/// A tonic channel for a principal, with endpoint settings of the test's choosing.
async fn channel_with(
    hub: &TestHub,
    agency: &str,
    name: &str,
    configure: impl FnOnce(Endpoint) -> Endpoint,
) -> anyhow::Result<Channel> {
    let config = hub.client_config(agency, name)?;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&config.ca_pem))
        .identity(Identity::from_pem(&config.cert_pem, &config.key_pem))
        .domain_name("127.0.0.1");
    let endpoint = Endpoint::from_shared(config.endpoint)?.tls_config(tls)?;
    Ok(configure(endpoint).connect().await?)
}

/// A raw HTTP/2 connection over mutual TLS as a principal, for what tonic will not send.
pub(crate) async fn h2_connect(
    hub: &TestHub,
    agency: &str,
    name: &str,
    builder: &h2::client::Builder,
) -> anyhow::Result<(SendRequest<Bytes>, Connection<TlsStream<TcpStream>, Bytes>)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(&hub.pki().ca_cert)?)?;
    let (cert, key) = hub.pki().principal(agency, name);
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_file(cert)?],
            PrivateKeyDer::from_pem_file(key)?,
        )?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(authority(hub)).await?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1")?, tcp)
        .await?;
    Ok(builder.handshake(tls).await?)
}

fn authority(hub: &TestHub) -> String {
    hub.endpoint().trim_start_matches("https://").to_owned()
}

/// A gRPC request head for `path` (`/liaison.v1.DirectoryService/WhoAmI`).
fn grpc_head(hub: &TestHub, path: &str) -> anyhow::Result<http::Request<()>> {
    Ok(http::Request::builder()
        .method("POST")
        .uri(format!("https://{}{path}", authority(hub)))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())?)
}

/// Sends one gRPC message (uncompressed) on a raw connection and returns the call's
/// grpc-status and grpc-message.
pub(crate) async fn raw_call(
    hub: &TestHub,
    sender: &SendRequest<Bytes>,
    path: &str,
    message: &[u8],
) -> anyhow::Result<(i32, String)> {
    let mut sender = sender.clone().ready().await?;
    let (response, mut body) = sender.send_request(grpc_head(hub, path)?, false)?;
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len())?.to_be_bytes());
    frame.extend_from_slice(message);
    body.send_data(Bytes::from(frame), true)?;
    let (head, mut received) = tokio::time::timeout(PATIENCE, response)
        .await??
        .into_parts();
    let trailers = match head.headers.get("grpc-status") {
        Some(_) => head.headers,
        None => {
            while let Some(chunk) = received.data().await {
                let chunk = chunk?;
                received.flow_control().release_capacity(chunk.len())?;
            }
            received
                .trailers()
                .await?
                .ok_or_else(|| anyhow::anyhow!("no trailers"))?
        }
    };
    let code = trailers
        .get("grpc-status")
        .ok_or_else(|| anyhow::anyhow!("no grpc-status"))?
        .to_str()?
        .parse()?;
    let message = trailers
        .get("grpc-message")
        .map(|value| percent_decode(value.as_bytes()))
        .unwrap_or_default();
    Ok((code, message))
}

fn percent_decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut index = 0;
    while index < raw.len() {
        let escaped = (raw[index] == b'%' && index + 2 < raw.len())
            .then(|| std::str::from_utf8(&raw[index + 1..index + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(raw[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every record of the audit log, once it holds one that `marker` matches.
async fn records_once(
    hub: &TestHub,
    marker: impl Fn(&Value) -> bool,
) -> anyhow::Result<Vec<Value>> {
    eventually("the audit log did not get the awaited record", || async {
        let records = hub
            .store()
            .audit_records(0, 100_000)
            .await?
            .into_iter()
            .map(|row| Ok(serde_json::from_str(&row.record)?))
            .collect::<anyhow::Result<Vec<Value>>>()?;
        anyhow::ensure!(records.iter().any(&marker), "not yet");
        Ok(records)
    })
    .await
}

fn by(record: &Value, agency: &str, name: &str) -> bool {
    record["actor"]["agency"] == agency && record["actor"]["name"] == name
}

/// A WhoAmI of `agency`'s officer, whose record marks a point in the audit log.
async fn mark(hub: &TestHub, agency: &str) -> anyhow::Result<()> {
    let client = hub.client(agency, "officer").await?;
    client.directory().who_am_i(v1::WhoAmIRequest {}).await?;
    Ok(())
}

fn is_mark(record: &Value, agency: &str) -> bool {
    by(record, agency, "officer") && record["method"] == "/liaison.v1.DirectoryService/WhoAmI"
}

async fn oversized_messages_are_refused_and_the_hub_keeps_serving(
    backend: Backend,
) -> anyhow::Result<()> {
    let limits = Limits {
        max_decoded_message_bytes: 64 * 1024,
        max_encoded_message_bytes: 16 * 1024,
        ..Limits::default()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    let mut publisher = hub.client("UA-CERT", "officer").await?.indicators();

    let mut huge = fraud_method("Too big to read");
    huge.fraud_method.as_mut().unwrap().description = "x".repeat(100 * 1024);
    let status = publisher
        .publish(publish(huge))
        .await
        .expect_err("a message over the decoding limit was accepted");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(
        status
            .message()
            .contains("decoded message length too large"),
        "{status:?}"
    );

    // Within the request limit, but the answer (which echoes the indicator) is over the
    // response limit.
    let mut large = fraud_method("Large answer");
    large.fraud_method.as_mut().unwrap().description = "y".repeat(18 * 1024);
    let status = publisher
        .publish(publish(large))
        .await
        .expect_err("a response over the encoding limit was sent");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(
        status
            .message()
            .contains("encoded message length too large"),
        "{status:?}"
    );

    // The same connection and others are served afterwards.
    publish_method(&mut publisher, "Ordinary size").await?;
    still_serves(&hub, "RS-MUP").await?;
    hub.stop().await
}

async fn a_gzip_bomb_is_refused_after_inflating_to_the_limit(
    backend: Backend,
) -> anyhow::Result<()> {
    let limits = Limits {
        max_decoded_message_bytes: 64 * 1024,
        ..Limits::default()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    let mut publisher = hub
        .client("UA-CERT", "officer")
        .await?
        .indicators()
        .send_compressed(CompressionEncoding::Gzip);

    // 8 MiB of zeros: a few kilobytes once compressed, far below the limit, 128 times
    // the limit once inflated.
    let mut bomb = fraud_method("Gzip bomb");
    bomb.fraud_method.as_mut().unwrap().description = "0".repeat(8 * 1024 * 1024);
    let status = publisher
        .publish(publish(bomb))
        .await
        .expect_err("a message inflating past the limit was accepted");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .contains("size limit, of 65536 bytes, exceeded while decompressing"),
        "{status:?}"
    );

    // A compressed message within the limit is decompressed and served: the refusal was
    // the size, not the compression.
    let stored = publish_method(&mut publisher, "Compressed and small").await?;
    assert_eq!(stored.fraud_method.unwrap().title, "Compressed and small");
    still_serves(&hub, "RS-MUP").await?;
    hub.stop().await
}

/// An empty WhoAmIRequest followed by an unknown field 1 holding `depth` nested groups
/// (wire type 3), which prost must skip — recursively.
fn nested_groups(depth: usize) -> Vec<u8> {
    const START_GROUP: u8 = (1 << 3) | 3;
    const END_GROUP: u8 = (1 << 3) | 4;
    let mut message = vec![START_GROUP; depth];
    message.extend(std::iter::repeat_n(END_GROUP, depth));
    message
}

async fn a_message_nested_200_levels_deep_is_refused(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let (sender, connection) =
        h2_connect(&hub, "UA-CERT", "feed", &h2::client::Builder::new()).await?;
    let connection = tokio::spawn(connection);
    const WHO_AM_I: &str = "/liaison.v1.DirectoryService/WhoAmI";

    // Within prost's recursion limit (100) the unknown groups are skipped and the call is
    // served: what refuses the deeper message is that limit, nothing else.
    let (code, message) = raw_call(&hub, &sender, WHO_AM_I, &nested_groups(50)).await?;
    assert_eq!(code, Code::Ok as i32, "{message}");

    let (code, message) = raw_call(&hub, &sender, WHO_AM_I, &nested_groups(200)).await?;
    assert_eq!(code, Code::Internal as i32, "{message}");
    assert!(message.contains("recursion limit reached"), "{message}");

    // The same connection goes on serving, and so does the hub.
    let (code, message) = raw_call(&hub, &sender, WHO_AM_I, &[]).await?;
    assert_eq!(code, Code::Ok as i32, "{message}");
    assert!(!connection.is_finished(), "the connection was closed");
    still_serves(&hub, "RS-MUP").await?;
    hub.stop().await
}

/// Waits until `counter` exceeds `seen` and returns its value.
async fn wait_for_more(counter: &AtomicUsize, seen: usize) -> anyhow::Result<usize> {
    eventually("the bystander was not served", || async {
        let now = counter.load(Ordering::Relaxed);
        anyhow::ensure!(now > seen, "not yet");
        Ok(now)
    })
    .await
}

/// Resets sent in a flood at most.
const FLOOD: usize = 10_000;

/// Opens a raw connection as `agency`'s feed and sends HEADERS then RST_STREAM at once,
/// again and again, up to [`FLOOD`] times or until the hub stops it. In batches, with a
/// pause for the connection to flush and read (a GOAWAY that arrives while the client is
/// still writing surfaces as a broken pipe instead). Returns how many were sent, the
/// sender and the connection's task.
async fn flood(
    hub: &TestHub,
    agency: &str,
) -> anyhow::Result<(
    usize,
    SendRequest<Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
)> {
    const BATCH: usize = 64;
    let (mut sender, connection) =
        h2_connect(hub, agency, "feed", &h2::client::Builder::new()).await?;
    let connection = tokio::spawn(connection);
    let mut sent = 0;
    'flood: while sent < FLOOD {
        for _ in 0..BATCH.min(FLOOD - sent) {
            let Ok(ready) = sender.clone().ready().await else {
                break 'flood;
            };
            sender = ready;
            let Ok((_, mut stream)) = sender.send_request(
                grpc_head(hub, "/liaison.v1.DirectoryService/WhoAmI")?,
                false,
            ) else {
                break 'flood;
            };
            stream.send_reset(h2::Reason::CANCEL);
            sent += 1;
        }
        // Paces the flood (wall-clock on purpose: a rate of resets is what is tested).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok((sent, sender, connection))
}

async fn a_rapid_reset_flood_closes_only_the_attacking_connection(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = Arc::new(TestHub::start(backend).await?);

    // A bystander keeps calling on its own connection during the flood.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let bystander = tokio::spawn({
        let (hub, stop, served) = (hub.clone(), stop.clone(), served.clone());
        async move {
            let mut directory = hub.client("HU-NNI", "feed").await?.directory();
            while !stop.load(Ordering::Relaxed) {
                tokio::time::timeout(PATIENCE, directory.who_am_i(v1::WhoAmIRequest {})).await??;
                served.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }
    });

    let served_before = wait_for_more(&served, 0).await?;
    let (sent, _sender, connection) = flood(&hub, "UA-CERT").await?;
    let ended = tokio::time::timeout(PATIENCE, connection)
        .await
        .map_err(|_| anyhow::anyhow!("the hub kept the flooding connection open"))??;
    let error = ended.expect_err("the connection ended without an error");
    assert!(sent < FLOOD, "all {FLOOD} resets were taken");
    // GOAWAY (ENHANCE_YOUR_CALM), or the hub's close while the client was still writing.
    let closed_by_the_hub = (error.is_go_away()
        && error.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM))
        || error.get_io().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            )
        });
    assert!(closed_by_the_hub, "after {sent} resets: {error:?}");

    // The bystander was served before, and is served after.
    wait_for_more(&served, served_before).await?;
    stop.store(true, Ordering::Relaxed);
    tokio::time::timeout(PATIENCE, bystander).await???;
    still_serves(&hub, "RS-MUP").await?;
    Arc::into_inner(hub)
        .ok_or_else(|| anyhow::anyhow!("the hub is still shared"))?
        .stop()
        .await?;

    // The control: with the pending-reset limit out of reach, the same flood is taken to
    // the end and the connection stays open — what closed it above is that limit.
    let limits = Limits {
        max_pending_reset_streams: FLOOD * 100,
        ..Limits::default()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    let (sent, sender, connection) = flood(&hub, "UA-CERT").await?;
    assert_eq!(sent, FLOOD);
    // Answered (perhaps refused by the rate limit, which the flood exhausted).
    let (code, message) =
        raw_call(&hub, &sender, "/liaison.v1.DirectoryService/WhoAmI", &[]).await?;
    assert!(
        code == Code::Ok as i32 || code == Code::ResourceExhausted as i32,
        "{code} {message}"
    );
    assert!(!connection.is_finished());
    hub.stop().await
}

async fn streams_that_are_never_read_hold_bounded_resources(
    backend: Backend,
) -> anyhow::Result<()> {
    const STREAMS: u32 = 4;
    const PUBLISHED: usize = 600;
    let limits = Limits {
        max_concurrent_streams: STREAMS,
        ..Limits::default()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;

    // Serbia's feed opens as many subscriptions as one connection may and never reads
    // them; its receive window is small, so the hub can send it almost nothing.
    let stalled = channel_with(&hub, "RS-MUP", "feed", |endpoint| {
        endpoint.initial_stream_window_size(1024)
    })
    .await?;
    let mut subscriptions = Vec::new();
    for _ in 0..STREAMS {
        let mut client = v1::indicator_service_client::IndicatorServiceClient::new(stalled.clone());
        let stream =
            tokio::time::timeout(PATIENCE, client.subscribe(purposeful(subscribe_after(0))))
                .await??
                .into_inner();
        subscriptions.push(stream);
    }
    // One more on the same connection is not accepted while those are open.
    let mut extra_client =
        v1::indicator_service_client::IndicatorServiceClient::new(stalled.clone());
    let extra = tokio::spawn(async move {
        extra_client
            .subscribe(purposeful(subscribe_after(0)))
            .await
            .map(tonic::Response::into_inner)
    });

    // Meanwhile another agency publishes a lot and a third reads it live.
    let mut reader = hub
        .client("HU-NNI", "feed")
        .await?
        .indicators()
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();
    let mut publisher = hub.client("UA-CERT", "officer").await?.indicators();
    let items: Vec<v1::PublishManyRequest> = (0..PUBLISHED)
        .map(|index| {
            let request = publish(fraud_method(&format!("Bulk {index}")));
            v1::PublishManyRequest {
                request_id: request.request_id,
                indicator: request.indicator,
            }
        })
        .collect();
    let outcome = tokio::time::timeout(PATIENCE * 3, async {
        let answers = publisher
            .publish_many(tokio_stream::iter(items))
            .await?
            .into_inner();
        liaison_client::collect_publish_results(answers, |_, _| ()).await
    })
    .await??;
    assert_eq!(outcome.accepted_count as usize, PUBLISHED);
    for index in 0..PUBLISHED {
        let event = next_event(&mut reader).await?;
        assert_eq!(
            published(&event)?.fraud_method.as_ref().unwrap().title,
            format!("Bulk {index}")
        );
    }
    still_serves(&hub, "EU-EUROPOL").await?;
    assert!(
        !extra.is_finished(),
        "a stream beyond max_concurrent_streams was accepted: {:?}",
        extra.await?
    );

    // Bounded: each stalled subscription's producer stopped at its bounded channel. A page
    // of a stream is recorded (and committed) before it is sent, so the audit log tells
    // how far each got: at most one page read from the store (256 events), the channel
    // (64 messages) and what the HTTP/2 layer took (one 32 KiB body chunk and the 1 KiB
    // window: under 100 of these messages) — far from everything.
    const BOUND: usize = 256 + 64 + 100;
    // Wall-clock on purpose: the producer gets time to fill whatever it could.
    tokio::time::sleep(Duration::from_secs(1)).await;
    mark(&hub, "EU-ENISA").await?;
    let records = records_once(&hub, |record| is_mark(record, "EU-ENISA")).await?;
    let mut delivered = std::collections::BTreeMap::<String, usize>::new();
    for record in records.iter().filter(|r| by(r, "RS-MUP", "feed")) {
        let deliveries = record["objects"]
            .as_array()
            .map(|objects| objects.iter().filter(|o| o["access"] == "deliver").count())
            .unwrap_or(0);
        *delivered
            .entry(record["trace_id"].as_str().unwrap_or_default().to_owned())
            .or_default() += deliveries;
    }
    assert_eq!(delivered.len(), STREAMS as usize, "{delivered:?}");
    for (trace, count) in &delivered {
        assert!(
            *count <= BOUND,
            "subscription {trace} was handed {count} of {PUBLISHED} events without reading"
        );
    }

    // Nothing is lost either: a stalled subscription read now delivers every event, in
    // order, and closing one lets the waiting stream in.
    let mut first = subscriptions.remove(0);
    for index in 0..PUBLISHED {
        let event = next_event(&mut first).await?;
        assert_eq!(
            published(&event)?.fraud_method.as_ref().unwrap().title,
            format!("Bulk {index}")
        );
    }
    drop(first);
    let mut extra = tokio::time::timeout(PATIENCE, extra).await???;
    next_event(&mut extra).await?;
    drop((subscriptions, extra, stalled));
    hub.stop().await
}

async fn connections_beyond_the_limit_are_closed(backend: Backend) -> anyhow::Result<()> {
    let limits = Limits {
        max_connections: 2,
        ..Limits::default()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    let first = hub.client("UA-CERT", "feed").await?;
    let second = hub.client("RS-MUP", "feed").await?;
    for client in [&first, &second] {
        client.directory().who_am_i(v1::WhoAmIRequest {}).await?;
    }
    let third = async {
        let client = hub.client("HU-NNI", "feed").await?;
        client.directory().who_am_i(v1::WhoAmIRequest {}).await?;
        anyhow::Ok(())
    }
    .await;
    assert!(third.is_err(), "a third connection was served");

    // When one connection ends, a new one is served.
    drop(first);
    eventually("no connection slot came free", || {
        still_serves(&hub, "HU-NNI")
    })
    .await?;
    second.directory().who_am_i(v1::WhoAmIRequest {}).await?;
    hub.stop().await
}

/// The start of a ClientHello: a TLS record header announcing 512 bytes, and the first
/// few of them. A flood client sends this and then nothing.
const HALF_CLIENT_HELLO: [u8; 16] = [
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
];

/// An outsider's flood from 127.0.0.2: new TCP connections, one after another, that send
/// nothing or half a ClientHello and are then left open; the last `keep` stay open.
/// Counts the connections opened in `opened`; stops when `stop` is set.
async fn handshake_flood(
    target: std::net::SocketAddr,
    keep: usize,
    opened: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut open = std::collections::VecDeque::new();
    let mut index = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind("127.0.0.2:0".parse()?)?;
        let Ok(mut stream) = socket.connect(target).await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if index % 2 == 1 {
            // The hub may already have closed it.
            let _ = stream.write_all(&HALF_CLIENT_HELLO).await;
        }
        index += 1;
        open.push_back(stream);
        if open.len() > keep {
            open.pop_front();
        }
        opened.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

async fn a_handshake_flood_from_one_address_does_not_lock_out_others(
    backend: Backend,
) -> anyhow::Result<()> {
    // Few connection slots, so that the flood is many times their number.
    let limits = Limits {
        max_connections: 16,
        ..Limits::default()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    let target: std::net::SocketAddr = authority(&hub).parse()?;
    let opened = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let flood = tokio::spawn(handshake_flood(target, 200, opened.clone(), stop.clone()));
    // The flood is well past the slot count before anyone else connects.
    eventually("the flood did not get going", || async {
        anyhow::ensure!(!flood.is_finished(), "the flood ended");
        anyhow::ensure!(opened.load(Ordering::SeqCst) >= 100, "not yet");
        Ok(())
    })
    .await?;
    // Clients from another address (127.0.0.1) are served while it goes on: each on a
    // new connection, with a full handshake.
    for agency in ["RS-MUP", "HU-NNI", "UA-CERT", "RS-MUP", "HU-NNI", "UA-CERT"] {
        still_serves(&hub, agency).await.map_err(|error| {
            anyhow::anyhow!(
                "{agency} was not served during a handshake flood of {} connections: {error}",
                opened.load(Ordering::SeqCst)
            )
        })?;
    }
    stop.store(true, Ordering::SeqCst);
    tokio::time::timeout(PATIENCE, flood).await???;
    hub.stop().await
}

async fn a_member_holding_many_connections_is_capped(backend: Backend) -> anyhow::Result<()> {
    // 40 connection slots; one principal may hold at most 32 of them (the default
    // max_connections_per_principal).
    const SLOTS: usize = 40;
    const PER_PRINCIPAL: usize = 32;
    let limits = Limits {
        max_connections: SLOTS,
        ..Limits::default()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    // A member opens more connections than there are slots and keeps them open, idle
    // (tonic answers the hub's PINGs).
    let mut held = Vec::new();
    let mut served = 0;
    let mut refusals = Vec::new();
    for _ in 0..SLOTS + 5 {
        let Ok(client) = hub.client("UA-CERT", "feed").await else {
            continue;
        };
        let call =
            tokio::time::timeout(PATIENCE, client.directory().who_am_i(v1::WhoAmIRequest {}))
                .await?;
        match call {
            Ok(_) => served += 1,
            Err(status) => refusals.push(liaison_client::explain_status(hub.endpoint(), &status).1),
        }
        held.push(client);
    }
    assert!(
        (1..=PER_PRINCIPAL).contains(&served),
        "one principal was served on {served} connections at once"
    );
    // The hub says why (an HTTP/2 GOAWAY naming the limit), and the client explains it
    // as a connection limit. (A call that tonic sends only after the connection has gone
    // sees just "connection closed", so not every refusal can name it.)
    assert!(
        refusals
            .iter()
            .any(|text| text.contains("too many connections for this principal")),
        "no refusal named the per-principal limit: {refusals:#?}"
    );
    // Everyone else still connects and calls while the member holds its connections.
    still_serves(&hub, "RS-MUP").await?;
    still_serves(&hub, "HU-NNI").await?;
    // The member's own connections that were admitted keep working.
    let first = held.first().expect("at least one connection");
    first.directory().who_am_i(v1::WhoAmIRequest {}).await?;
    drop(held);
    hub.stop().await
}

/// Drives a raw HTTP/2 connection (answering the hub's PINGs) until the hub ends it.
async fn until_the_hub_ends(
    connection: Connection<TlsStream<TcpStream>, Bytes>,
    what: &str,
) -> anyhow::Result<()> {
    tokio::time::timeout(PATIENCE, connection)
        .await
        .map_err(|_| anyhow::anyhow!("the hub kept {what} open"))?
        .ok();
    Ok(())
}

async fn idle_connections_are_closed_and_old_ones_sent_away(
    backend: Backend,
) -> anyhow::Result<()> {
    let limits = Limits {
        idle_timeout: Duration::from_secs(1),
        keepalive_interval: Duration::from_secs(1),
        ..Limits::default()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    // A subscription stays open for longer than the idle timeout: an open call is not idle.
    let mut subscriber = hub
        .client("HU-NNI", "feed")
        .await?
        .indicators()
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();
    // A connection with one call and then none, its PINGs answered, is closed.
    let (sender, mut connection) =
        h2_connect(&hub, "UA-CERT", "feed", &h2::client::Builder::new()).await?;
    let call = raw_call(&hub, &sender, "/liaison.v1.DirectoryService/WhoAmI", &[]);
    let (code, message) = tokio::select! {
        result = call => result?,
        ended = &mut connection => anyhow::bail!("the connection ended: {ended:?}"),
    };
    assert_eq!(code, Code::Ok as i32, "{message}");
    until_the_hub_ends(connection, "a connection without calls").await?;
    // The subscription outlived it and still delivers.
    let mut publisher = hub.client("UA-CERT", "officer").await?.indicators();
    publish_method(&mut publisher, "Still subscribed").await?;
    let event = next_event(&mut subscriber).await?;
    assert_eq!(
        published(&event)?
            .fraud_method
            .as_ref()
            .map(|m| m.title.as_str()),
        Some("Still subscribed")
    );
    hub.stop().await?;

    // A busy connection is sent away at its maximum age all the same.
    let limits = Limits {
        max_connection_age: Duration::from_secs(1),
        ..Limits::default()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    let (sender, connection) =
        h2_connect(&hub, "UA-CERT", "feed", &h2::client::Builder::new()).await?;
    let driven = tokio::spawn(until_the_hub_ends(connection, "a connection past its age"));
    // Calls keep the connection busy until one fails: the hub has sent it away.
    let sent_away = tokio::time::timeout(PATIENCE, async {
        while raw_call(&hub, &sender, "/liaison.v1.DirectoryService/WhoAmI", &[])
            .await
            .is_ok_and(|(code, _)| code == Code::Ok as i32)
        {
            // Paces the calls (wall-clock on purpose: the connection's age is tested).
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    anyhow::ensure!(
        sent_away.is_ok(),
        "calls kept being served on a connection past its maximum age"
    );
    driven.await??;
    still_serves(&hub, "UA-CERT").await?;
    hub.stop().await
}

async fn a_peer_that_stops_reading_is_disconnected(backend: Backend) -> anyhow::Result<()> {
    let limits = Limits {
        keepalive_interval: Duration::from_secs(1),
        keepalive_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    let (sender, mut connection) =
        h2_connect(&hub, "UA-CERT", "feed", &h2::client::Builder::new()).await?;
    // Served while the connection is driven (and the hub's pings are answered).
    let call = raw_call(&hub, &sender, "/liaison.v1.DirectoryService/WhoAmI", &[]);
    let (code, message) = tokio::select! {
        result = call => result?,
        ended = &mut connection => anyhow::bail!("the connection ended: {ended:?}"),
    };
    assert_eq!(code, Code::Ok as i32, "{message}");
    // Over twice ping interval plus timeout without reading anything (a stalled peer): the
    // hub's ping goes unanswered, and when the connection is next read it has ended
    // (wall-clock on purpose: keep-alive timing is what is tested).
    tokio::time::sleep(Duration::from_secs(6)).await;
    tokio::time::timeout(PATIENCE, connection)
        .await
        .map_err(|_| anyhow::anyhow!("the hub kept a silent connection open"))?
        .ok();
    still_serves(&hub, "RS-MUP").await?;
    hub.stop().await
}

async fn oversized_headers_are_refused(backend: Backend) -> anyhow::Result<()> {
    let limits = Limits {
        max_header_list_bytes: 8 * 1024,
        ..Limits::default()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    let with_purpose = |purpose: String| {
        let mut request = tonic::Request::new(v1::WhoAmIRequest {});
        request
            .metadata_mut()
            .insert("x-liaison-purpose", purpose.parse().unwrap());
        request
    };
    let client = hub.client("UA-CERT", "feed").await?;
    client
        .directory()
        .who_am_i(with_purpose("p".repeat(2 * 1024)))
        .await?;
    // 12 KiB passes hyper's default (16 KiB) but not the configured 8 KiB.
    let client = hub.client("UA-CERT", "feed").await?;
    let outcome = client
        .directory()
        .who_am_i(with_purpose("p".repeat(12 * 1024)))
        .await;
    assert!(outcome.is_err(), "a 12 KiB header block was accepted");
    still_serves(&hub, "RS-MUP").await?;
    hub.stop().await
}

async fn the_rate_limit_is_per_principal_and_refills(backend: Backend) -> anyhow::Result<()> {
    const BURST: u32 = 3;
    let limits = Limits {
        rate_limit_per_second: 1,
        rate_limit_burst: BURST,
        ..Limits::default()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    // Feeds call on their certificate alone here, so that no token fetch takes a share
    // of the burst.
    let mut ukraine = v1::directory_service_client::DirectoryServiceClient::new(
        hub.client("UA-CERT", "feed").await?.channel(),
    );
    let mut serbia = v1::directory_service_client::DirectoryServiceClient::new(
        hub.client("RS-MUP", "feed").await?.channel(),
    );

    // The burst is served; the call after it is refused with a hint when to retry.
    let mut admitted = 0;
    let refusal = loop {
        match ukraine.who_am_i(v1::WhoAmIRequest {}).await {
            Ok(_) => admitted += 1,
            Err(status) => break status,
        }
        anyhow::ensure!(admitted <= BURST + 2, "no call was refused");
    };
    assert!(
        admitted >= BURST,
        "only {admitted} calls of the burst served"
    );
    assert_eq!(refusal.code(), Code::ResourceExhausted, "{refusal:?}");
    assert!(
        refusal.message().contains("rate limit exceeded")
            && refusal.message().contains("UA-CERT/system/feed"),
        "{refusal:?}"
    );
    let retry = refusal
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .expect("a RetryInfo with a delay");
    assert!(
        retry > Duration::ZERO && retry <= Duration::from_secs(1),
        "{retry:?}"
    );
    // More calls straight away: refused too (a call may slip in as the bucket refills),
    // and only the first refusal of each run of refusals is recorded.
    let mut refused_calls = 1;
    let mut runs = 1;
    let mut previous_refused = true;
    for _ in 0..6 {
        let refused = match ukraine.who_am_i(v1::WhoAmIRequest {}).await {
            Ok(_) => false,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                true
            }
        };
        if refused {
            refused_calls += 1;
            if !previous_refused {
                runs += 1;
            }
        }
        previous_refused = refused;
    }
    assert!(
        refused_calls > runs,
        "no run of refusals: {refused_calls} refusals"
    );

    // Another principal has its own allowance.
    for _ in 0..BURST {
        serbia.who_am_i(v1::WhoAmIRequest {}).await?;
    }

    // Once the bucket has refilled, the first principal is served again. (A whole token's
    // time, not `retry`: a call above may have slipped in as the bucket refilled;
    // wall-clock on purpose: the bucket refills with time.)
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    ukraine.who_am_i(v1::WhoAmIRequest {}).await?;

    // The audit log holds the first refusal of each run only.
    let refused = |record: &Value| {
        by(record, "UA-CERT", "feed") && record["outcome"] == Code::ResourceExhausted as i32
    };
    records_once(&hub, refused).await?;
    mark(&hub, "EU-ENISA").await?;
    let records = records_once(&hub, |record| is_mark(record, "EU-ENISA")).await?;
    let recorded: Vec<&Value> = records.iter().filter(|r| refused(r)).collect();
    assert_eq!(recorded.len(), runs, "{recorded:?}");
    assert_eq!(
        recorded[0]["method"], "/liaison.v1.DirectoryService/WhoAmI",
        "{recorded:?}"
    );
    hub.stop().await
}

/// Holds the database's write lock (SQLite) or the idempotency-key table (PostgreSQL),
/// so that a Publish waits, until dropped.
enum DatabaseLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl DatabaseLock {
    async fn take(hub: &TestHub) -> anyhow::Result<Self> {
        use sqlx::Connection;
        Ok(match &hub.config().database {
            liaison_testkit::DatabaseConfig::Sqlite(path) => {
                let url = format!("sqlite://{}", path.display());
                let mut connection = sqlx::SqliteConnection::connect(&url).await?;
                sqlx::query("BEGIN IMMEDIATE")
                    .execute(&mut connection)
                    .await?;
                Self::Sqlite(connection)
            }
            liaison_testkit::DatabaseConfig::Postgres(url) => {
                let mut connection = sqlx::PgConnection::connect(url.expose()).await?;
                sqlx::query("BEGIN").execute(&mut connection).await?;
                sqlx::query("LOCK TABLE idempotency_keys IN ACCESS EXCLUSIVE MODE")
                    .execute(&mut connection)
                    .await?;
                Self::Postgres(connection)
            }
        })
    }

    async fn release(self) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(mut connection) => {
                sqlx::query("ROLLBACK").execute(&mut connection).await?;
            }
            Self::Postgres(mut connection) => {
                sqlx::query("ROLLBACK").execute(&mut connection).await?;
            }
        }
        Ok(())
    }
}

async fn calls_that_do_not_answer_in_time_end_with_deadline_exceeded(
    backend: Backend,
) -> anyhow::Result<()> {
    const CAP: Duration = Duration::from_secs(2);
    let limits = Limits {
        max_call_duration: CAP,
        ..Limits::default()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    let mut publisher = hub.client("UA-CERT", "officer").await?.indicators();

    // A stream is meant to stay open: the cap covers only the time until it starts.
    let mut watcher = hub
        .client("RS-MUP", "feed")
        .await?
        .indicators()
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();
    // Wall-clock on purpose: the call cap is what is tested.
    tokio::time::sleep(CAP + Duration::from_secs(1)).await;
    let sent = publish_method(&mut publisher, "After the cap").await?;
    assert_eq!(published(&next_event(&mut watcher).await?)?.id, sent.id);

    let lock = DatabaseLock::take(&hub).await?;
    // A Publish that cannot write ends at the hub's cap...
    let started = Instant::now();
    let status = publisher
        .publish(publish(fraud_method("Waits for the database")))
        .await
        .expect_err("a Publish answered while the database was locked");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("the hub's limit"), "{status:?}");
    assert!(started.elapsed() >= CAP);

    // ...or at the client's own deadline when that is shorter. tonic may answer it before
    // the hub's layer does, with CANCELLED "Timeout expired".
    let mut request = tonic::Request::new(publish(fraud_method("Waits with a client deadline")));
    request.set_timeout(Duration::from_millis(300));
    let status = publisher
        .publish(request)
        .await
        .expect_err("a Publish answered while the database was locked");
    match status.code() {
        Code::DeadlineExceeded => assert!(
            status.message().contains("the client's grpc-timeout"),
            "{status:?}"
        ),
        Code::Cancelled => assert!(status.message().contains("Timeout expired"), "{status:?}"),
        _ => panic!("not ended by the client's deadline: {status:?}"),
    }
    lock.release().await?;

    // Served again, and the call that ran out of time was recorded as such.
    publish_method(&mut publisher, "After the lock").await?;
    let timed_out = |record: &Value| {
        by(record, "UA-CERT", "officer")
            && record["method"] == "/liaison.v1.IndicatorService/Publish"
            && record["outcome"] == Code::DeadlineExceeded as i32
    };
    records_once(&hub, timed_out).await?;
    still_serves(&hub, "HU-NNI").await?;
    hub.stop().await
}
