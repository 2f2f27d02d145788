//! Storage: connection, migrations and the sea-orm entities (hand-written, mirroring
//! `migrations/`). The same schema runs on SQLite (embedded default) and PostgreSQL.

pub mod acknowledgements;
pub mod api_keys;
pub mod balances;
pub mod billing_modes;
pub mod chain_cursors;
pub mod chain_events;
pub mod challenges;
pub mod credits;
pub mod direct;
pub mod disputes;
pub mod epochs;
pub mod model_tensors;
pub mod model_tokens;
pub mod models;
pub mod payouts;
pub mod receipts;
pub mod siwe_nonces;
pub mod spending_caps;
pub mod vault_accounts;

use std::time::Duration;

use imo_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    DbErr, EntityTrait, QueryTrait, Statement, sea_query::OnConflict,
};
use tracing::info;

use crate::{OracleError, config::DatabaseConfig, error::Result};

/// Connects to the configured database (creating the SQLite file's directory if needed).
#[tracing::instrument(skip_all, fields(url = %cfg.redacted_url()))]
pub async fn connect(cfg: &DatabaseConfig) -> Result<DatabaseConnection> {
    let sqlite_dir = sqlite_path(&cfg.url)
        .and_then(|p| {
            std::path::Path::new(&p)
                .parent()
                .map(std::path::Path::to_path_buf)
        })
        .filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = sqlite_dir {
        std::fs::create_dir_all(&dir)
            .map_err(|e| OracleError::Database(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut opts = ConnectOptions::new(cfg.url.clone());
    let is_sqlite = cfg.url.starts_with("sqlite:");
    opts.max_connections(if is_sqlite {
        cfg.max_connections.min(8)
    } else {
        cfg.max_connections
    })
    .min_connections(1)
    .connect_timeout(Duration::from_secs(cfg.connect_timeout_secs))
    .acquire_timeout(Duration::from_secs(cfg.connect_timeout_secs))
    .sqlx_logging(false);
    if is_sqlite {
        opts.map_sqlx_sqlite_opts(sqlite_pragmas);
    } else {
        // Every connection is opened here, at start, and kept: a network connection belongs to
        // the async runtime that opened it, and the HTTP server's workers each run their own,
        // which end one by one at shutdown. Opened by a request, a connection would die with its
        // worker while another worker's request (or the ledger writer) still needs it. (SQLite
        // connections run on threads of their own and are not affected.)
        opts.min_connections(cfg.max_connections)
            .idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>);
    }
    let db = Database::connect(opts).await.map_err(|e| {
        OracleError::Database(format!("cannot connect to {}: {e}", cfg.redacted_url()))
    })?;
    Ok(db)
}

/// The pragmas every SQLite connection of the pool opens with (sqlx runs them on each new
/// connection, so no pooled connection misses one). WAL lets readers run beside the writer;
/// `synchronous=NORMAL` in WAL mode syncs the log at checkpoints, not at every commit (a commit
/// survives a crash of the process; a power loss may lose the last commits before a checkpoint);
/// busy_timeout waits out short write locks instead of failing; foreign keys are off by
/// default in SQLite.
pub fn sqlite_pragmas(
    opts: sea_orm::sqlx::sqlite::SqliteConnectOptions,
) -> sea_orm::sqlx::sqlite::SqliteConnectOptions {
    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    opts.journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true)
        .synchronous(SqliteSynchronous::Normal)
}

/// Applies every pending migration.
#[tracing::instrument(skip_all)]
pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    let pending = Migrator::get_pending_migrations(db).await?.len();
    Migrator::up(db, None).await?;
    info!(applied = pending, "database schema up to date");
    Ok(())
}

/// Inserts `row` unless a row with the same `key` exists (events read from the chain are applied
/// exactly once this way). Returns whether the row was inserted.
pub(crate) async fn insert_new<A, C>(
    db: &C,
    row: A,
    key: <A::Entity as EntityTrait>::Column,
) -> std::result::Result<bool, DbErr>
where
    A: ActiveModelTrait,
    C: ConnectionTrait,
{
    let inserted = A::Entity::insert(row)
        .on_conflict(OnConflict::column(key).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(inserted > 0)
}

/// Inserts `rows`; where a row with the same `key` exists, its `update` columns take the new
/// values. Nothing is sent for no rows.
pub(crate) async fn upsert_all<A, C>(
    db: &C,
    rows: Vec<A>,
    key: <A::Entity as EntityTrait>::Column,
    update: impl IntoIterator<Item = <A::Entity as EntityTrait>::Column>,
) -> std::result::Result<(), DbErr>
where
    A: ActiveModelTrait,
    C: ConnectionTrait,
{
    if let Some(statement) = upsert_statement(rows, key, update, db.get_database_backend()) {
        db.execute_raw(statement).await?;
    }
    Ok(())
}

/// The statement [`upsert_all`] runs, built for `backend`; `None` for no rows.
pub(crate) fn upsert_statement<A>(
    rows: Vec<A>,
    key: <A::Entity as EntityTrait>::Column,
    update: impl IntoIterator<Item = <A::Entity as EntityTrait>::Column>,
    backend: DbBackend,
) -> Option<Statement>
where
    A: ActiveModelTrait,
{
    (!rows.is_empty()).then(|| {
        A::Entity::insert_many(rows)
            .on_conflict(OnConflict::column(key).update_columns(update).to_owned())
            .build(backend)
    })
}

/// Cheap liveness query used by `/readyz`.
pub async fn ping(db: &DatabaseConnection) -> Result<()> {
    db.ping().await.map_err(Into::into)
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use sea_orm::sqlx::Row;

    use super::*;

    /// Every connection the pool hands out carries the pragmas, not only the first one: all
    /// connections are held at once (so the pool opens each of them) and each is read back.
    #[tokio::test]
    async fn every_pooled_sqlite_connection_has_the_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DatabaseConfig {
            url: format!("sqlite://{}/p.db?mode=rwc", dir.path().display()),
            max_connections: 8,
            connect_timeout_secs: 5,
        };
        let db = connect(&cfg).await.unwrap();
        let pool = db.get_sqlite_connection_pool();
        let mut held = Vec::new();
        for _ in 0..cfg.max_connections {
            held.push(pool.acquire().await.unwrap());
        }
        assert_eq!(pool.size(), cfg.max_connections, "all connections are open");
        for (i, conn) in held.iter_mut().enumerate() {
            let mut read = async |pragma: &'static str| -> String {
                let row = sea_orm::sqlx::query(pragma)
                    .fetch_one(&mut **conn)
                    .await
                    .unwrap();
                row.try_get::<String, _>(0)
                    .or_else(|_| row.try_get::<i64, _>(0).map(|v| v.to_string()))
                    .unwrap()
            };
            assert_eq!(read("PRAGMA journal_mode").await, "wal", "connection {i}");
            // 1 = NORMAL (2 would be FULL: one fsync per commit).
            assert_eq!(read("PRAGMA synchronous").await, "1", "connection {i}");
            assert_eq!(read("PRAGMA foreign_keys").await, "1", "connection {i}");
            assert_eq!(read("PRAGMA busy_timeout").await, "5000", "connection {i}");
        }
    }
}
