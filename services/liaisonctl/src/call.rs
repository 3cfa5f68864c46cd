//! What every call builds: an idempotency key, a request carrying the caller's purpose,
//! localized text, and the next message of a followed stream (until Ctrl-C).

use liaison_client::{Client, with_purpose};
use liaison_proto::v1;

use crate::failure::Failure;

/// A fresh idempotency key: a retry with the same key stores nothing twice.
pub fn request_id() -> String {
    format!(
        "liaisonctl-{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    )
}

/// A request with the caller's purpose, when one was given.
pub fn request<T>(message: T, purpose: Option<&str>) -> tonic::Request<T> {
    match purpose {
        Some(purpose) => with_purpose(message, purpose),
        None => tonic::Request::new(message),
    }
}

/// The purpose a command needs (reading personal data), or the usage failure naming it.
pub fn required_purpose<'a>(purpose: Option<&'a str>, what: &str) -> Result<&'a str, Failure> {
    purpose
        .ok_or_else(|| Failure::usage(format!("{what} needs --purpose TEXT (or LIAISON_PURPOSE)")))
}

/// Text in a language (BCP 47).
pub fn text(text: &str, language: &str) -> Option<v1::LocalizedText> {
    Some(v1::LocalizedText {
        text: text.to_owned(),
        language: language.to_owned(),
    })
}

/// The next message of a followed stream; `None` when the user pressed Ctrl-C or the hub
/// ended the stream cleanly.
pub async fn next_followed<T>(
    client: &Client,
    stream: &mut tonic::Streaming<T>,
) -> Result<Option<T>, Failure> {
    tokio::select! {
        message = stream.message() => message.map_err(|status| Failure::from_status(client, &status)),
        _ = tokio::signal::ctrl_c() => Ok(None),
    }
}
