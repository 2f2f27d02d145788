//! imo-oracle: the domain and engine library. Knows nothing of HTTP.
//!
//! [`Oracle`] wires the services together; the HTTP layer (`imo-api`) and scheduled jobs call
//! the same service functions.

pub mod auth;
pub mod chain;
pub mod config;
pub mod db;
pub mod engine;
pub mod error;
pub mod inference;
pub mod ledger;
pub mod onnx;
pub mod receipts;
pub mod registry;
pub mod serving;
pub mod storage;
pub mod tensor;
pub mod types;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

pub use crate::error::{OracleError, Result};
use crate::{
    auth::Auth,
    config::Config,
    engine::Engine,
    inference::Inference,
    ledger::{Ledger, ReceiptQueries},
    receipts::ReceiptSigner,
    registry::Registry,
    storage::ModelStore,
};

/// The running domain: database, engine and services.
#[derive(Clone)]
pub struct Oracle {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub engine: Arc<Engine>,
    pub auth: Auth,
    pub registry: Registry,
    pub inference: Inference,
    pub receipts: ReceiptQueries,
}

impl Oracle {
    /// Loads ONNX Runtime and the operator key, connects to the database, applies migrations,
    /// opens the model store and starts the ledger's writer (on the current tokio runtime).
    pub async fn start(config: Config) -> Result<Self> {
        let signer = ReceiptSigner::from_config(&config.metering)?;
        let engine = Arc::new(Engine::init(&config.engine)?);
        let db = db::connect(&config.database).await?;
        db::migrate(&db).await?;
        let store = ModelStore::open(&config.storage.models_dir)?;
        let registry = Registry::new(db.clone(), store, engine.clone(), &config.engine);
        let ledger = Ledger::start(db.clone(), config.metering.max_batch);
        if config.engine.preload {
            let n = registry.preload().await?;
            tracing::info!(models = n, "preloaded active models");
        }
        tracing::info!(operator = %signer.operator(), fingerprint = %engine.fingerprint("cpu"), "metering ready");
        Ok(Self {
            auth: Auth::new(db.clone(), config.auth.clone()),
            inference: Inference::new(registry.clone(), ledger, signer, config.metering.epoch_secs),
            receipts: ReceiptQueries::new(db.clone()),
            registry,
            config: Arc::new(config),
            db,
            engine,
        })
    }
}
