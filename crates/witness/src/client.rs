//! One `add-checkpoint` submission, as the hub makes it to each witness of the federation.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::TokioIo;
use liaison_audit::AddCheckpoint;

use crate::server::MAX_BODY_BYTES;

/// Why a witness gave no cosignature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The endpoint is not an `http://host:port[/prefix]` URL.
    #[error("witness endpoint {0:?} is not http://HOST:PORT[/PREFIX]")]
    Endpoint(String),
    /// No answer in time, or the connection failed.
    #[error("witness unreachable: {0}")]
    Unreachable(String),
    /// The witness holds another size: submit again from it.
    #[error("the witness holds size {0}")]
    Conflict(u64),
    /// The witness refused the checkpoint.
    #[error("the witness refused the checkpoint ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The witness's message, cut to 200 characters.
        message: String,
    },
}

/// Submits `request` to the witness at `endpoint` and returns its cosignature lines.
pub async fn add_checkpoint(
    endpoint: &str,
    request: &AddCheckpoint,
    timeout: Duration,
) -> Result<String, SubmitError> {
    let uri: Uri = endpoint
        .parse()
        .ok()
        .filter(|uri: &Uri| uri.scheme_str() == Some("http") && uri.authority().is_some())
        .ok_or_else(|| SubmitError::Endpoint(endpoint.to_owned()))?;
    let authority = uri.authority().map(ToString::to_string).unwrap_or_default();
    let path = format!("{}/add-checkpoint", uri.path().trim_end_matches('/'));
    tokio::time::timeout(timeout, submit(&authority, &path, request.body()))
        .await
        .map_err(|_| SubmitError::Unreachable(format!("no answer within {timeout:?}")))?
}

async fn submit(authority: &str, path: &str, body: String) -> Result<String, SubmitError> {
    let unreachable = |error: &dyn std::fmt::Display| SubmitError::Unreachable(error.to_string());
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| unreachable(&e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(&e))?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, authority)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| unreachable(&e))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| unreachable(&e))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| unreachable(&e))?
        .to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    match status {
        StatusCode::OK => Ok(text),
        StatusCode::CONFLICT => match text.trim_end().parse() {
            Ok(size) => Err(SubmitError::Conflict(size)),
            Err(_) => Err(refused(status, &text)),
        },
        _ => Err(refused(status, &text)),
    }
}

fn refused(status: StatusCode, text: &str) -> SubmitError {
    SubmitError::Refused {
        status: status.as_u16(),
        message: text.trim_end().chars().take(200).collect(),
    }
}
