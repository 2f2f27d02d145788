//! imo-oracle: the domain and engine library. Knows nothing of HTTP.
//!
//! [`Oracle`] wires the services together; the HTTP layer (`imo-api`) and scheduled jobs call
//! the same service functions.

pub mod acks;
pub mod auth;
pub mod chain;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod db;
pub mod engine;
pub mod error;
pub mod inference;
pub mod judge;
pub mod ledger;
pub mod onnx;
pub mod receipts;
pub mod registry;
pub mod retention;
pub mod sandbox;
pub mod serving;
mod splitmix;
pub mod storage;
pub mod tensor;
pub mod types;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

pub use crate::error::{OracleError, Result};
use crate::{
    auth::Auth,
    clock::{EpochRule, SharedClock},
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
    pub clock: SharedClock,
    /// The epoch rule of `metering.epoch_secs`.
    pub epochs: EpochRule,
    pub db: DatabaseConnection,
    pub engine: Arc<Engine>,
    pub auth: Auth,
    pub registry: Registry,
    pub inference: Inference,
    /// Billing modes and client acknowledgements.
    pub billing: acks::Billing,
    pub receipts: ReceiptQueries,
    /// The chain loop, when `chain.enabled`.
    pub chain: Option<chain::ChainLoop>,
}

impl Oracle {
    /// Loads ONNX Runtime and the operator key, connects to the database, applies migrations,
    /// opens the model store and starts the ledger's writer (on the current tokio runtime).
    ///
    /// With `chain.enabled`, receipts are signed for the UsageOracle of the latest deployment
    /// recorded for `chain.chain_id` (`imo contracts deploy`) and the chain loop is started
    /// (its scheduled jobs are started separately, see [`chain::jobs::start`]).
    pub async fn start(mut config: Config, clock: SharedClock) -> Result<Self> {
        let engine = Arc::new(Engine::init(&config.engine)?);
        let db = db::connect(&config.database).await?;
        db::migrate(&db).await?;
        let deployment = if config.chain.enabled {
            let d = chain::deployment(&db, config.chain.chain_id)
                .await?
                .ok_or_else(|| {
                    OracleError::InvalidInput(format!(
                        "chain.enabled but no deployment is recorded for chain {}: run `imo contracts deploy` first",
                        config.chain.chain_id
                    ))
                })?;
            config.metering.chain_id = config.chain.chain_id;
            config.metering.verifying_contract = d.oracle.to_string();
            config.metering.vault_contract = d.vault.to_string();
            Some(d)
        } else {
            None
        };
        let signer = ReceiptSigner::from_config(&config.metering)?;
        let store = ModelStore::open(&config.storage.models_dir)?;
        let sandbox = sandbox::Sandbox::new(&config.engine)?;
        let registry = Registry::new(
            db.clone(),
            store.clone(),
            engine.clone(),
            sandbox,
            &config.engine,
            clock.clone(),
        );
        #[cfg(feature = "fault-injection")]
        let registry = registry.with_served_fraud(
            config
                .chain
                .fault_injection
                .as_deref()
                .and_then(judge::fraud::ServedFraud::parse),
        );
        let ledger = Ledger::start(
            db.clone(),
            config.metering.max_batch,
            config.chain.enabled,
            clock.clone(),
        )?;
        if config.cluster.enabled {
            ledger.enable_cluster(config.cluster.balance_lease_calls);
        }
        let epochs = EpochRule::new(config.metering.epoch_secs);
        if config.engine.preload {
            let n = registry.preload().await?;
            tracing::info!(models = n, "preloaded active models");
        }
        tracing::info!(operator = %signer.operator(), fingerprint = %engine.fingerprint("cpu"), "metering ready");
        let billing = acks::Billing::new(
            db.clone(),
            ledger.clone(),
            clock.clone(),
            epochs,
            acks::Billing::domain_for(config.metering.chain_id, &config.metering.vault_contract)?,
            types::Wei(config.metering.credit_window_wei),
        );
        let mut inference = Inference::new(
            registry.clone(),
            ledger.clone(),
            signer.clone(),
            epochs,
            clock.clone(),
            billing.clone(),
        );
        let chain = match deployment {
            Some(d) => {
                let c = chain::ChainLoop::start(
                    db.clone(),
                    config.chain.clone(),
                    epochs,
                    clock.clone(),
                    d,
                    signer.key().clone(),
                    ledger,
                    store,
                )
                .await?;
                tracing::info!(oracle = %c.deployment().oracle, vault = %c.deployment().vault, registry = %c.deployment().registry, "chain loop ready");
                inference = inference.with_tokenized(c.tokens.tokenized_models());
                if c.deployment().dispute.is_some() {
                    inference = inference.with_retention(c.disputes.retention().clone());
                }
                #[cfg(feature = "fault-injection")]
                {
                    inference = inference.with_corrupt_output(
                        config.chain.fault_injection.as_deref() == Some("corrupt-output"),
                    );
                }
                Some(c)
            }
            None => None,
        };
        Ok(Self {
            chain,
            auth: Auth::new(db.clone(), config.auth.clone(), clock.clone()),
            receipts: ReceiptQueries::new(db.clone(), clock.clone()),
            clock,
            epochs,
            inference,
            billing,
            registry,
            config: Arc::new(config),
            db,
            engine,
        })
    }

    /// The domain's part of an ordered shutdown, once no request is in flight and the chain
    /// jobs have stopped: the ledger writer commits what is queued and stops (every receipt of
    /// a response already sent is durable), model workers end, the database pool closes.
    pub async fn shutdown(self) {
        self.inference.ledger().shutdown().await;
        self.registry.unload_all();
        if let Err(e) = self.db.close().await {
            tracing::warn!(error = %e, "closing the database pool");
        }
        tracing::info!("domain stopped");
    }
}
