//! Access tokens, obtained and refreshed by the client itself.
//!
//! [`AuthChannel`] wraps the mutual-TLS channel: before a call it makes sure it holds a
//! token from `DirectoryService.IssueToken` (bound by the hub to this connection's client
//! certificate) with at least a quarter of its lifetime left, and sends it as
//! `authorization: Bearer …`. The refresh time is reckoned from the token's own lifetime
//! (`exp - iat`) on the local clock, so a skewed clock does not matter. When the hub issues
//! no token (an old hub, or a refused certificate), the call goes out on the certificate
//! alone and the hub's answer says what is wrong; the attempt is retried after a pause.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use liaison_proto::v1::{IssueTokenRequest, directory_service_client::DirectoryServiceClient};
use tokio::sync::Mutex;
use tonic::{body::Body, transport::Channel};

/// How long to go without a token after IssueToken failed, before trying again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// A channel that adds the caller's access token to every request.
#[derive(Debug, Clone)]
pub struct AuthChannel {
    inner: Channel,
    tokens: Arc<Mutex<TokenState>>,
}

#[derive(Debug, Default)]
enum TokenState {
    #[default]
    None,
    Valid {
        header: http::HeaderValue,
        refresh_at: Instant,
    },
    Failed {
        retry_at: Instant,
    },
}

impl AuthChannel {
    /// Wraps `channel`; the first call fetches a token.
    pub fn new(channel: Channel) -> Self {
        Self {
            inner: channel,
            tokens: Arc::default(),
        }
    }

    /// The current token's header value, fetching or refreshing it when due.
    async fn header(channel: Channel, tokens: &Mutex<TokenState>) -> Option<http::HeaderValue> {
        let mut state = tokens.lock().await;
        let now = Instant::now();
        match &*state {
            TokenState::Valid { header, refresh_at } if *refresh_at > now => {
                return Some(header.clone());
            }
            TokenState::Failed { retry_at } if *retry_at > now => return None,
            _ => {}
        }
        match DirectoryServiceClient::new(channel)
            .issue_token(IssueTokenRequest::default())
            .await
        {
            Ok(response) => {
                let token = response.into_inner().token;
                let lifetime = token_lifetime(&token).unwrap_or(Duration::from_secs(60));
                let header = http::HeaderValue::try_from(format!("Bearer {token}")).ok()?;
                *state = TokenState::Valid {
                    header: header.clone(),
                    refresh_at: now + lifetime.mul_f64(0.75),
                };
                Some(header)
            }
            Err(_) => {
                *state = TokenState::Failed {
                    retry_at: now + RETRY_AFTER_FAILURE,
                };
                None
            }
        }
    }

    /// Forgets the token, so that the next call fetches a new one.
    pub async fn forget_token(&self) {
        *self.tokens.lock().await = TokenState::None;
    }
}

/// `exp - iat` of a JWT, read without verifying it (the hub verifies; this only schedules
/// the refresh).
fn token_lifetime(token: &str) -> Option<Duration> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let lifetime = claims
        .get("exp")?
        .as_u64()?
        .checked_sub(claims.get("iat")?.as_u64()?)?;
    Some(Duration::from_secs(lifetime))
}

impl tower::Service<http::Request<Body>> for AuthChannel {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The clone is not ready; keep it and send on the one that is.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let issuer = self.inner.clone();
        let tokens = self.tokens.clone();
        Box::pin(async move {
            if !request.headers().contains_key(http::header::AUTHORIZATION)
                && let Some(header) = Self::header(issuer, &tokens).await
            {
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, header);
            }
            // A W3C traceparent of the client's own, which the hub links to its span of
            // the call (it never adopts it), so the two sides' traces can be matched.
            if !request.headers().contains_key("traceparent")
                && let Ok(value) = http::HeaderValue::from_str(&traceparent())
            {
                request.headers_mut().insert("traceparent", value);
            }
            tower::Service::call(&mut ready, request).await
        })
    }
}

/// A fresh `traceparent` (version 00, sampled): a trace id and a span id of the client's.
pub fn traceparent() -> String {
    // Uniqueness, not secrecy, is what a trace id needs: the time, a per-process counter
    // and the process id.
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |elapsed| elapsed.as_nanos() as u64);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let trace =
        (u128::from(nanos) << 64) | u128::from(count) << 32 | u128::from(std::process::id());
    format!("00-{trace:032x}-{:016x}-01", count.max(1))
}
