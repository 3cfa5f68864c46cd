//! The admin listener: plain HTTP for orchestrators and scrapers, off by default.
//!
//! - `GET /healthz`: the process answers (liveness).
//! - `GET /readyz`: the database answers within two seconds, holds every migration of this
//!   build, and the sequencer is less than [`MAX_SEQUENCER_LAG`] behind (readiness).
//! - `GET /metrics`: the hub's meters in Prometheus text.
//!
//! It serves no agency's data: the metrics carry methods, codes, services and refusal
//! kinds, never a principal or an agency. Still, bind it to localhost or the pod address:
//! it has no TLS and no authentication. Requests are bounded like the witness's: small
//! bodies, few connections, short time.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use liaison_rpc::Shutdown;
use liaison_store::Store;
use tokio::{net::TcpListener, sync::Semaphore, task::JoinHandle};

/// The sequencer lag past which the hub is not ready.
pub const MAX_SEQUENCER_LAG: Duration = Duration::from_secs(30);
/// How long the database may take to answer a readiness check.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections served at once.
const MAX_CONNECTIONS: usize = 16;

/// Binds the admin listener.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address).await
}

/// Serves the admin listener until `shutdown`.
pub fn spawn(listener: TcpListener, store: Store, mut shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let permit = tokio::select! {
                () = shutdown.wait() => return,
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
            };
            let stream = tokio::select! {
                () = shutdown.wait() => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        tracing::warn!(%error, "admin listener: accept failed");
                        continue;
                    }
                },
            };
            let store = store.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let service = hyper::service::service_fn(move |request| {
                    let store = store.clone();
                    async move { Ok::<_, Infallible>(answer(&store, request).await) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(5))
                    .serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(Duration::from_secs(30), connection).await;
            });
        }
    })
}

async fn answer(store: &Store, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n", "text/plain");
    }
    match request.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n", "text/plain"),
        "/readyz" => match readiness(store).await {
            Ok(()) => text(StatusCode::OK, "ready\n", "text/plain"),
            Err(reason) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("not ready: {reason}\n"),
                "text/plain",
            ),
        },
        "/metrics" => text(
            StatusCode::OK,
            &liaison_telemetry::prometheus::prometheus_text().unwrap_or_default(),
            "text/plain; version=0.0.4",
        ),
        _ => text(StatusCode::NOT_FOUND, "not found\n", "text/plain"),
    }
}

/// Why the hub is not ready, if it is not.
async fn readiness(store: &Store) -> Result<(), String> {
    let checked = tokio::time::timeout(DATABASE_TIMEOUT, async {
        let current = store.schema_is_current().await?;
        let gauges = store.gauges().await?;
        Ok::<_, liaison_store::StoreError>((current, gauges))
    })
    .await
    .map_err(|_| "the database did not answer in time".to_owned())?
    .map_err(|_| "the database is unreachable".to_owned())?;
    let (current, gauges) = checked;
    if !current {
        return Err("the database schema is not this build's".into());
    }
    let now_us =
        liaison_core::Timestamp::from_system_time(std::time::SystemTime::now()).as_micros();
    let lag = gauges
        .oldest_outbox_us
        .map_or(0, |oldest| now_us.saturating_sub(oldest));
    if u64::try_from(lag).unwrap_or(0) > MAX_SEQUENCER_LAG.as_micros() as u64 {
        return Err(format!("the sequencer is {} s behind", lag / 1_000_000));
    }
    Ok(())
}

fn text(status: StatusCode, body: &str, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}
