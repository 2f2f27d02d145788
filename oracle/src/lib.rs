//! imo-oracle: the domain and engine library. Knows nothing of HTTP.
//!
//! [`Oracle`] wires the services together; the HTTP layer (`imo-api`) and scheduled jobs call
//! the same service functions.

pub mod auth;
pub mod config;
pub mod db;
pub mod engine;
pub mod error;
pub mod onnx;
pub mod registry;
pub mod storage;
pub mod types;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

pub use crate::error::{OracleError, Result};
use crate::{auth::Auth, config::Config, engine::Engine, registry::Registry, storage::ModelStore};

/// The running domain: database, engine and services.
#[derive(Clone)]
pub struct Oracle {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub engine: Arc<Engine>,
    pub auth: Auth,
    pub registry: Registry,
}

impl Oracle {
    /// Loads ONNX Runtime, connects to the database, applies migrations and opens the model store.
    pub async fn start(config: Config) -> Result<Self> {
        let engine = Arc::new(Engine::init(&config.engine)?);
        let db = db::connect(&config.database).await?;
        db::migrate(&db).await?;
        let store = ModelStore::open(&config.storage.models_dir)?;
        Ok(Self {
            auth: Auth::new(db.clone(), config.auth.clone()),
            registry: Registry::new(db.clone(), store, engine.clone()),
            config: Arc::new(config),
            db,
            engine,
        })
    }
}
