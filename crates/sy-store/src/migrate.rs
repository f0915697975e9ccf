//! Schema migrations, embedded in the binary (one set per backend under
//! `migrations/{sqlite,postgres}`) and applied with sqlx's migrator, which
//! records them in `_sqlx_migrations` and, on PostgreSQL, holds an advisory
//! lock so instances starting together apply them once.
//!
//! A database may hold migrations this build does not know (a newer instance applied them):
//! they are ignored, so migrations must only ever add.
//!
//! The files are embedded with `include_str!` rather than `sqlx::migrate!`
//! so the build needs neither sqlx's proc macros nor a database. Adding a
//! migration: add the file to both folders and a line to both lists below.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use crate::error::StoreError;
use crate::store::Pool;

/// (version, description, SQL).
type Embedded = &'static [(i64, &'static str, &'static str)];

const SQLITE: Embedded = &[
    (
        1,
        "keys generations",
        include_str!("../migrations/sqlite/0001_keys_generations.sql"),
    ),
    (
        2,
        "key rpm",
        include_str!("../migrations/sqlite/0002_key_rpm.sql"),
    ),
    (
        3,
        "generation stored ms",
        include_str!("../migrations/sqlite/0003_generation_stored_ms.sql"),
    ),
    (
        4,
        "responses",
        include_str!("../migrations/sqlite/0004_responses.sql"),
    ),
    (
        5,
        "key guardrails",
        include_str!("../migrations/sqlite/0005_key_guardrails.sql"),
    ),
];

const POSTGRES: Embedded = &[
    (
        1,
        "keys generations",
        include_str!("../migrations/postgres/0001_keys_generations.sql"),
    ),
    (
        2,
        "key rpm",
        include_str!("../migrations/postgres/0002_key_rpm.sql"),
    ),
    (
        3,
        "generation stored ms",
        include_str!("../migrations/postgres/0003_generation_stored_ms.sql"),
    ),
    (
        4,
        "responses",
        include_str!("../migrations/postgres/0004_responses.sql"),
    ),
    (
        5,
        "key guardrails",
        include_str!("../migrations/postgres/0005_key_guardrails.sql"),
    ),
];

/// A [`MigrationSource`] over one backend's embedded files.
#[derive(Debug)]
struct Source(Embedded);

impl<'s> MigrationSource<'s> for Source {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// Applies the pending migrations of the pool's backend.
pub(crate) async fn run(pool: &Pool) -> Result<(), StoreError> {
    let files = match pool {
        Pool::Sqlite(_) => SQLITE,
        Pool::Postgres(_) => POSTGRES,
    };
    let mut migrator = Migrator::new(Source(files))
        .await
        .map_err(StoreError::Migrate)?;
    // A migration this build does not know may have been applied by a newer one: during a
    // rolling upgrade, instances of both versions share one database. Migrations only add
    // (tables, nullable columns, indexes), so an older build keeps working beside them.
    migrator.set_ignore_missing(true);
    match pool {
        Pool::Sqlite(pool) => migrator.run(pool).await,
        Pool::Postgres(pool) => migrator.run(pool).await,
    }
    .map_err(StoreError::Migrate)
}
