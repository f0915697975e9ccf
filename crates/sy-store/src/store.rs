//! The [`Store`] handle: URL → pool for the right backend, lazy migrations,
//! ping and close.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::OnceCell;

use crate::error::{scheme_of, StoreError};
use crate::migrate;

/// How long `connect` (and each pool acquire) may take before giving up.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an SQLite connection waits for another writer's lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const SQLITE_MAX_CONNECTIONS: u32 = 8;
const POSTGRES_MAX_CONNECTIONS: u32 = 16;

/// One of the two backends' pools. Queries are written once and expanded for
/// each arm by [`with_pool!`](crate::store::with_pool).
#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of either backend.
/// The SQL must be valid in both dialects (`$1` placeholders work in both).
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.inner.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// The database of keys, usage and generation records. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: Pool,
    /// Set once the migrations have run on this pool.
    migrated: OnceCell<()>,
}

impl std::fmt::Debug for Store {
    // The pool's options hold the password: show only the backend.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to `url` and runs the migrations, all within 5 s.
    ///
    /// `sqlite://switchyard.db` (relative to the working directory; the file
    /// is created if missing; WAL, 5 s busy timeout), `sqlite::memory:` (one
    /// connection, gone when the store is dropped; for tests), or
    /// `postgres://user:pass@host/db` / `postgresql://...`.
    ///
    /// # Errors
    /// [`StoreError::UnsupportedUrl`] for another scheme, a driver error for a
    /// malformed URL or refused connection, [`StoreError::ConnectTimeout`],
    /// [`StoreError::Migrate`].
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let store = Store::connect_lazy(url)?;
        match tokio::time::timeout(CONNECT_TIMEOUT, store.ready()).await {
            Ok(Ok(())) => Ok(store),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StoreError::ConnectTimeout {
                backend: store.backend(),
                seconds: CONNECT_TIMEOUT.as_secs(),
            }),
        }
    }

    /// Like [`Store::connect`] but touches no database: connections are made
    /// and migrations run on first use, so a gateway can start (and queue
    /// records in a [`Writer`](crate::Writer)) while the database is down.
    ///
    /// # Errors
    /// [`StoreError::UnsupportedUrl`], or a driver error for a malformed URL.
    pub fn connect_lazy(url: &str) -> Result<Store, StoreError> {
        let pool = match backend_of(url) {
            Some("sqlite") => {
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT);
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                let pool_options = SqlitePoolOptions::new().acquire_timeout(CONNECT_TIMEOUT);
                let pool_options = if in_memory {
                    // An in-memory database lives as long as its connection.
                    pool_options
                        .max_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None)
                } else {
                    pool_options.max_connections(SQLITE_MAX_CONNECTIONS)
                };
                Pool::Sqlite(pool_options.connect_lazy_with(options))
            }
            Some(_) => {
                let options = PgConnectOptions::from_str(url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(POSTGRES_MAX_CONNECTIONS)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_lazy_with(options);
                Pool::Postgres(pool)
            }
            None => {
                return Err(StoreError::UnsupportedUrl {
                    scheme: scheme_of(url),
                })
            }
        };
        Ok(Store {
            inner: Arc::new(Inner {
                pool,
                migrated: OnceCell::new(),
            }),
        })
    }

    /// `"sqlite"` or `"postgres"`.
    #[must_use]
    pub fn backend(&self) -> &'static str {
        match self.inner.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Checks the database answers (running pending migrations first), for `/ready`.
    ///
    /// # Errors
    /// The driver's error when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.ready().await?;
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Closes every connection, waiting for checked-out ones to return.
    /// Later calls on any clone fail with a pool-closed error.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await);
    }

    /// Runs the migrations once per store; every operation calls this first.
    pub(crate) async fn ready(&self) -> Result<(), StoreError> {
        self.inner
            .migrated
            .get_or_try_init(|| migrate::run(&self.inner.pool))
            .await?;
        Ok(())
    }
}

/// The backend a URL names, from its scheme alone.
fn backend_of(url: &str) -> Option<&'static str> {
    let scheme = url.split(':').next().unwrap_or_default();
    if url.len() == scheme.len() {
        return None;
    }
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => Some("sqlite"),
        "postgres" | "postgresql" => Some("postgres"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::backend_of;

    #[test]
    fn backend_from_scheme() {
        for (url, want) in [
            ("sqlite://switchyard.db", Some("sqlite")),
            ("sqlite::memory:", Some("sqlite")),
            ("postgres://u@h/db", Some("postgres")),
            ("postgresql://u:p@h:5432/db", Some("postgres")),
            ("mysql://u@h/db", None),
            ("switchyard.db", None),
            ("", None),
        ] {
            assert_eq!(backend_of(url), want, "{url}");
        }
    }
}
