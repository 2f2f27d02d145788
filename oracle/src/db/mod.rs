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
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
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
    let db = Database::connect(opts).await.map_err(|e| {
        OracleError::Database(format!("cannot connect to {}: {e}", cfg.redacted_url()))
    })?;
    if is_sqlite {
        // WAL lets readers run beside the writer; busy_timeout waits out short write locks
        // instead of failing; foreign keys are off by default in SQLite.
        for pragma in [
            "PRAGMA journal_mode=WAL",
            "PRAGMA busy_timeout=5000",
            "PRAGMA foreign_keys=ON",
            "PRAGMA synchronous=NORMAL",
        ] {
            db.execute_unprepared(pragma).await?;
        }
    }
    Ok(db)
}

/// Applies every pending migration.
#[tracing::instrument(skip_all)]
pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    let pending = Migrator::get_pending_migrations(db).await?.len();
    Migrator::up(db, None).await?;
    info!(applied = pending, "database schema up to date");
    Ok(())
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
