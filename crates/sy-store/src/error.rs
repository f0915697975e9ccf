//! The crate's one error type, with a low-cardinality label for metrics.
//!
//! No variant's text includes the database URL (which may hold a password):
//! URLs are reduced to their scheme before they reach an error.

/// What went wrong talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no backend this crate speaks (`sqlite:`, `postgres:`, `postgresql:`).
    #[error("unsupported storage URL scheme {scheme:?}: expected sqlite://, postgres:// or postgresql://")]
    UnsupportedUrl {
        /// The scheme only (the text before the first `:`), never the rest.
        scheme: String,
    },
    /// The database could not be reached within the connect timeout.
    #[error("{backend} database not reachable within {seconds} s")]
    ConnectTimeout {
        /// `"sqlite"` or `"postgres"`.
        backend: &'static str,
        /// The bound that elapsed.
        seconds: u64,
    },
    /// Applying the schema migrations failed.
    #[error("schema migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A query, connection or pool error from the driver.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// An argument the store refuses to write (it would corrupt usage or the row).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A stored generation record is not valid JSON.
    #[error("stored generation record {id:?} is not valid JSON: {source}")]
    Corrupt {
        /// The generation id.
        id: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

impl StoreError {
    /// A bounded label for metrics and logs (never a key, id or URL).
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            StoreError::UnsupportedUrl { .. } => "unsupported_url",
            StoreError::ConnectTimeout { .. } => "connect_timeout",
            StoreError::Migrate(_) => "migrate",
            StoreError::Database(e) if is_unavailable(e) => "unavailable",
            StoreError::Database(_) => "database",
            StoreError::Invalid { .. } => "invalid",
            StoreError::Corrupt { .. } => "corrupt",
        }
    }

    /// True when the database could not be reached at all (as opposed to
    /// answering with an error): the caller may retry later.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::ConnectTimeout { .. } => true,
            StoreError::Database(e)
            | StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => is_unavailable(e),
            _ => false,
        }
    }
}

fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    )
}

/// The scheme of a URL (text before the first `:`), safe to show anywhere.
pub(crate) fn scheme_of(url: &str) -> String {
    let scheme = url.split(':').next().unwrap_or_default();
    // A URL without a colon is not a URL: show nothing of it.
    if scheme.len() == url.len() || scheme.len() > 16 {
        String::new()
    } else {
        scheme.to_owned()
    }
}
