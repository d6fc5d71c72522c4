//! Fresh databases on both backends, for the tests of every crate.
//!
//! PostgreSQL is taken from `SALLYPORT_TEST_PG` or `postgres://postgres@127.0.0.1:5432/test`;
//! each call gets its own schema, so tests run in parallel without seeing each
//! other. Schemas whose creating test process has exited (on this host) are dropped by
//! the next test process that finds them, so a developer's database does not fill up.
//! Under `CI=true` an unreachable PostgreSQL is a test failure (panic); elsewhere the
//! PostgreSQL half is skipped with a loud message on stderr.

use crate::Store;

/// A fresh, migrated, empty store. Keeps its temporary directory alive.
pub struct TestDb {
    pub name: &'static str,
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
}

/// The default PostgreSQL URL for tests.
pub fn postgres_url() -> String {
    std::env::var("SALLYPORT_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// A fresh SQLite database in a temporary directory.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = Store::open(&url).await.expect("open SQLite test database");
    TestDb { name: "sqlite", store, _dir: Some(dir) }
}

/// A fresh PostgreSQL schema, or `None` (loudly) when the server is unreachable outside CI.
pub async fn postgres() -> Option<TestDb> {
    use sqlx::Connection;
    let base = postgres_url();
    let schema = format!("sp_test_{}_{:016x}", std::process::id(), rand::random::<u64>());
    let created = async {
        let mut conn = sqlx::PgConnection::connect(&base).await?;
        drop_stale_schemas(&mut conn).await;
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await?;
        conn.close().await
    }
    .await;
    if let Err(e) = created {
        if in_ci() {
            panic!("PostgreSQL at {base} is unreachable under CI=true (not skipping): {e}");
        }
        eprintln!("\n*** SKIPPED the PostgreSQL half of this test: {base} unreachable ({e}). Set SALLYPORT_TEST_PG. ***\n");
        return None;
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let store = Store::open(&url).await.expect("open PostgreSQL test schema");
    Some(TestDb { name: "postgres", store, _dir: None })
}

/// Drops `sp_test_<pid>_*` schemas whose process no longer runs on this host, once per
/// test process. One test process at a time does it (an advisory lock; the others skip); failures are ignored,
/// since a left-over schema harms nothing but space.
async fn drop_stale_schemas(conn: &mut sqlx::PgConnection) {
    const LOCK: i64 = 0x5350_5445_5354; // "SPTEST"
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return; // once per test process: what exited before it started is gone by now
    }
    if !std::path::Path::new("/proc/self").exists() {
        return; // no way to tell which processes are alive
    }
    let Ok(true) = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)").bind(LOCK).fetch_one(&mut *conn).await else {
        return;
    };
    let names: Vec<String> = sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'sp\\_test\\_%'")
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
    for name in names {
        let Some(pid) = name.strip_prefix("sp_test_").and_then(|r| r.split('_').next()).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let valid = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid && pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(&mut *conn).await;
        }
    }
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)").bind(LOCK).execute(&mut *conn).await;
}

/// Both backends: SQLite always, PostgreSQL when reachable (always under CI).
pub async fn backends() -> Vec<TestDb> {
    let mut v = vec![sqlite().await];
    v.extend(postgres().await);
    v
}

/// Defines every test twice, as `sqlite::NAME` and `postgres::NAME`, so that the
/// test runner's output shows each backend ran (or, outside CI, that the
/// PostgreSQL one returned early after its loud skip message). Each body gets a
/// fresh [`TestDb`] bound to the given name.
///
/// ```ignore
/// sallyport_store::backend_tests! {
///     async fn loads(db) { db.store.status().await.unwrap(); }
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($( $(#[$meta:meta])* async fn $name:ident($db:ident) $body:block )*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $( $(#[$meta])* #[tokio::test] async fn $name() {
                let $db = $crate::testing::sqlite().await;
                $body
            } )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $( $(#[$meta])* #[tokio::test] async fn $name() {
                let Some($db) = $crate::testing::postgres().await else { return };
                $body
            } )*
        }
    };
}
