//! Sallyport persistence: one API over SQLite (embedded default) and PostgreSQL.
//!
//! - [`Store`]: a pool over either backend (sqlx's `Any` driver), migrated on open.
//! - [`domain`]: the core tables (operation, agencies, sites, fleet, people).
//! - [`import`]: all-or-nothing CSV/JSON import and exact export.
//! - [`testing`]: fresh databases on both backends for every crate's tests.
//!
//! Invariants at this boundary:
//! - Every query is written once, in the SQL both backends accept (`$n`
//!   placeholders, BIGINT/REAL/TEXT/BLOB-class columns, `CAST(… AS BIGINT)` for
//!   aggregates); a backend-specific branch is explicit via [`Store::backend`].
//! - Schema constraints (CHECKs, foreign keys, single-valued custodian and site
//!   columns) make invalid states unstorable; every multi-row write runs in one
//!   transaction, so a failed write leaves the database as it was.
//! - On SQLite, people import bypasses `Any`: it opens a native connection with
//!   the pool's settings and steps a prepared INSERT per row through SQLite's C
//!   API (`src/sqlite_raw.rs`, the crate's only `unsafe`), still in one transaction
//!   with every schema constraint applied.
//! - Migrations live in `migrations/{sqlite,postgres}/NNNN_*.sql`, one version
//!   range per capability crate (core 0001–0999, threat 2000–, biometrics
//!   3000–, planner 4000–, ledger 5000–, access 6000–, server 7000–).

pub mod domain;
pub mod import;
mod sqlite_raw;
pub mod testing;

use std::str::FromStr;
use std::sync::Once;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AnyPool, Executor};

pub use domain::Status;
pub use sqlx;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database is behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// A multi-row `VALUES` list for `rows` × `cols` in this backend's cheapest
    /// placeholder style: anonymous `?` on SQLite (whose `$N` names are looked
    /// up by a linear scan on every bind, making wide statements quadratic),
    /// numbered `$N` on PostgreSQL.
    pub fn values(self, rows: usize, cols: usize) -> String {
        match self {
            Backend::Postgres => values_placeholders(rows, cols),
            Backend::Sqlite => {
                let row = format!("({})", vec!["?"; cols].join(","));
                vec![row.as_str(); rows].join(",")
            }
        }
    }

    /// How many rows of `cols` columns fit one statement: SQLite allows 32,766
    /// parameters, PostgreSQL 65,535; both stay well below.
    pub fn rows_per_statement(self, cols: usize) -> usize {
        let params = match self {
            Backend::Sqlite => 15_000,
            Backend::Postgres => 30_000,
        };
        (params / cols.max(1)).max(1)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is invalid ({what}): {why}")]
    Corrupt { what: String, why: String },
    #[error("{0}")]
    Conflict(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A connection pool to the Sallyport database, migrated to the latest schema.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// On SQLite, how to open a native connection to the same database with the
    /// pool's settings (bulk import steps SQLite's C API on it).
    sqlite: Option<SqliteConnectOptions>,
    /// On PostgreSQL, how to open a native connection to the same database
    /// (bulk import streams `COPY … FROM STDIN` on it).
    postgres: Option<PgConnectOptions>,
}

impl Store {
    /// Open `sqlite://PATH` (created if missing) or `postgres://…`, and migrate.
    pub async fn open(url: &str) -> Result<Store> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let (mut sqlite, mut postgres) = (None, None);
        let pool = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') { url.to_string() } else { format!("{url}?mode=rwc") };
                let opts = AnyConnectOptions::from_str(&url)?;
                // The same settings as the pool's `after_connect` below. (An
                // in-memory database is private to each connection: no native one.)
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                if !in_memory {
                    let native = SqliteConnectOptions::from_str(&url)?
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .foreign_keys(true)
                        .busy_timeout(std::time::Duration::from_secs(10));
                    sqlite = Some(native);
                }
                AnyPoolOptions::new()
                    .max_connections(4)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts)
                    .await?
            }
            Backend::Postgres => {
                postgres = Some(PgConnectOptions::from_str(url)?);
                AnyPoolOptions::new().max_connections(16).connect_with(AnyConnectOptions::from_str(url)?).await?
            }
        };
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Store { pool, backend, sqlite, postgres })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: the write
    /// lock is taken at the start, so a concurrent writer makes it wait (up to the busy
    /// timeout) instead of failing with "database is locked" when a transaction that has
    /// already read tries to write (SQLite cannot upgrade a deferred transaction's read
    /// lock while another connection writes). On PostgreSQL a plain `BEGIN`.
    pub async fn begin_write(&self) -> std::result::Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Close the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Build a multi-row `VALUES` list `($1,$2),($3,$4),…` for `rows` × `cols`.
pub fn values_placeholders(rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            s.push('$');
            s.push_str(&(r * cols + c + 1).to_string());
        }
        s.push(')');
    }
    s
}
