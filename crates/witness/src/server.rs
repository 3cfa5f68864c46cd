//! The witness's HTTP door: `POST /add-checkpoint` and nothing else.
//!
//! It is open to anyone, as the protocol intends — a request counts only if the log's key
//! signed its checkpoint — so what it must resist is load: bodies are capped at
//! [`MAX_BODY_BYTES`], connections at [`MAX_CONNECTIONS`] (others wait in the kernel's
//! backlog), headers must arrive within [`HEADER_TIMEOUT`] and a whole connection ends
//! after [`CONNECTION_TIMEOUT`]. Decisions are taken one at a time, so a flood of valid
//! requests costs signature checks, never a wrong state.

use std::{convert::Infallible, future::Future, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use liaison_audit::WitnessRefusal;
use tokio::{net::TcpListener, sync::Semaphore};

use crate::{Refusal, Witness};

/// The largest request body: a checkpoint with its signatures and 63 proof lines fits
/// many times over.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Time to send the request headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a connection lives.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves the witness on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    witness: Arc<Witness>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => return Ok(()),
            permit = slots.clone().acquire_owned() => permit.map_err(std::io::Error::other)?,
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
        };
        let witness = witness.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |request| {
                let witness = witness.clone();
                async move { Ok::<_, Infallible>(answer(&witness, request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_TIMEOUT, connection).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!(%peer, %error, "connection ended"),
                Err(_) => tracing::debug!(%peer, "connection timed out"),
            }
        });
    }
}

async fn answer(witness: &Witness, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    if !path.ends_with("/add-checkpoint") {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    if request.method() != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "POST only\n");
    }
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n"),
    };
    let Ok(body) = std::str::from_utf8(&body) else {
        return text(StatusCode::BAD_REQUEST, "request body is not UTF-8\n");
    };
    match witness.add_checkpoint(body, crate::now()).await {
        Ok(cosignature) => text(StatusCode::OK, &cosignature),
        Err(Refusal::Protocol(WitnessRefusal::SizeConflict(size))) => {
            let mut response = text(StatusCode::CONFLICT, &format!("{size}\n"));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/x.tlog.size"),
            );
            response
        }
        Err(Refusal::Protocol(refusal)) => {
            let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
            text(status, &format!("{refusal}\n"))
        }
        Err(Refusal::Storage(error)) => {
            tracing::error!(%error, "witness state");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "witness state unavailable\n",
            )
        }
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
