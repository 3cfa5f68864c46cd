//! Store errors.

/// What went wrong in the store. Messages are for logs: handlers map them to safe statuses.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        /// Migration number.
        version: i64,
        /// Migration name.
        name: &'static str,
        /// The cause.
        source: sqlx::Error,
    },
    /// The database holds a migration this build does not know: it was written by a newer
    /// version of Liaison.
    #[error("the database is at schema version {0}, newer than this build knows; upgrade Liaison")]
    NewerSchema(i64),
    /// A row that does not decode into a domain value: changed outside the hub.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A request_id reused for a different call.
    #[error("request_id was already used for {0}")]
    RequestIdReused(String),
    /// The URL names no supported database.
    #[error("database URL must start with postgres://, postgresql:// or sqlite://")]
    UnsupportedUrl,
}

impl StoreError {
    /// A stored `value` that does not decode as `what`: the row was changed outside the hub.
    pub(crate) fn corrupt(what: &str, value: &str) -> Self {
        StoreError::Corrupt(format!("{what} {value:?}"))
    }

    /// True when the database could not be reached or timed out: the caller may retry.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Tls(_)
            )
        )
    }

    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(error)) if error.is_unique_violation())
    }
}
