//! The chain loop (issue 5; docs/PROTOCOL.md, "The chain loop"): one [`ChainLoop`] per process
//! joins the metering side to the contracts. Its parts are service functions that the HTTP
//! handlers and the scheduled jobs both call:
//!
//! * tokenization of models ([`ChainLoop::tokenize`], `tokens.rs`);
//! * the vault indexer: deposits, withdrawal requests, withdrawals and spending caps become
//!   balance changes after `chain.confirmations` ([`ChainLoop::index`], `indexer.rs`);
//! * signed spending caps accepted from clients and submitted on-chain
//!   ([`ChainLoop::submit_cap`]);
//! * epochs: close, attest, answer challenges, unwind and re-attest, finalize
//!   ([`ChainLoop::epochs`], `epochs.rs`), all through the persistent transaction manager
//!   ([`super::txm::TxManager`]);
//! * reads: receipt inclusion proofs, a model's revenue, a holder's claimable revenue.
//!
//! Every step is idempotent and restart-safe: state lives in the database (intents, epochs,
//! cursors), and each pass re-derives what to do from it and from the chain.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, RwLock},
};

use alloy::{
    primitives::{Address as EthAddress, B256, U256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use tokio::sync::Mutex;

use super::{
    Deployment,
    bindings::{ModelRegistry, UsageOracle},
    tree::ReceiptTree,
    txm::TxManager,
};
use crate::{
    config::ChainConfig,
    error::{OracleError, Result},
    ledger::Ledger,
};

/// Test-only faults (`chain.fault_injection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Faults {
    /// Attest round 1 of every epoch without its last receipt.
    pub omit_last_receipt: bool,
}

pub(crate) struct Inner {
    pub db: DatabaseConnection,
    pub cfg: ChainConfig,
    pub epoch_secs: u64,
    pub provider: DynProvider,
    pub deployment: Deployment,
    pub txm: TxManager,
    pub ledger: Ledger,
    pub operator: EthAddress,
    pub attest_bond: U256,
    pub challenge_window: u64,
    pub faults: Faults,
    /// Model ids that are tokenized (final on-chain): the only ones metered in chain mode.
    pub tokenized: Arc<RwLock<HashSet<String>>>,
    /// Recently used epoch trees (epoch → tree of its current round).
    pub trees: std::sync::Mutex<HashMap<u64, Arc<ReceiptTree>>>,
    /// One pass of each job at a time.
    pub index_lock: Mutex<()>,
    pub epochs_lock: Mutex<()>,
}

/// The chain loop of this process. Cheap to clone.
#[derive(Clone)]
pub struct ChainLoop {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for ChainLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainLoop")
            .field("rpc_url", &self.inner.cfg.redacted_rpc_url())
            .field("oracle", &self.inner.deployment.oracle)
            .field("operator", &self.inner.operator)
            .finish()
    }
}

impl ChainLoop {
    /// Starts the chain loop for `deployment` (read the latest with [`super::deployment`]),
    /// sending as `operator`. Reads the oracle's immutable parameters once; fails with
    /// `chain_unavailable` if the RPC cannot be reached.
    pub async fn start(
        db: DatabaseConnection,
        cfg: ChainConfig,
        epoch_secs: u64,
        deployment: Deployment,
        operator: PrivateKeySigner,
        ledger: Ledger,
    ) -> Result<Self> {
        let provider = super::provider_for(&cfg)?;
        let err = |what: &str, e: &dyn std::fmt::Display| {
            OracleError::Chain(format!("{what} at {}: {e}", cfg.redacted_rpc_url()))
        };
        let oracle = UsageOracle::new(deployment.oracle.0, &provider);
        let attest_bond = oracle
            .attestBond()
            .call()
            .await
            .map_err(|e| err("reading UsageOracle.attestBond", &e))?;
        let challenge_window = oracle
            .challengeWindow()
            .call()
            .await
            .map_err(|e| err("reading UsageOracle.challengeWindow", &e))?;
        let faults = Faults {
            omit_last_receipt: cfg.fault_injection.as_deref() == Some("omit-last-receipt"),
        };
        if cfg.fault_injection.is_some() {
            tracing::warn!(fault = ?cfg.fault_injection, "TEST-ONLY FAULT INJECTION IS ON");
        }
        let operator_address = operator.address();
        let txm = TxManager::new(db.clone(), provider.clone(), operator, &cfg);
        let chain = Self {
            inner: Arc::new(Inner {
                db,
                epoch_secs: epoch_secs.max(1),
                provider,
                deployment,
                txm,
                ledger,
                operator: operator_address,
                attest_bond,
                challenge_window,
                faults,
                tokenized: Default::default(),
                trees: Default::default(),
                index_lock: Mutex::new(()),
                epochs_lock: Mutex::new(()),
                cfg,
            }),
        };
        chain.load_tokenized().await?;
        // Closed epochs stay closed across restarts: no receipt of one commits any more.
        if let Some(last) = crate::db::epochs::Entity::find()
            .order_by_desc(crate::db::epochs::Column::Epoch)
            .one(&chain.inner.db)
            .await?
        {
            chain.inner.ledger.freeze(last.epoch as u64).await?;
        }
        Ok(chain)
    }

    pub fn config(&self) -> &ChainConfig {
        &self.inner.cfg
    }

    pub fn deployment(&self) -> &Deployment {
        &self.inner.deployment
    }

    /// The UsageOracle's bond per attestation, in wei.
    pub fn attest_bond(&self) -> U256 {
        self.inner.attest_bond
    }

    /// The UsageOracle's challenge window, in seconds.
    pub fn challenge_window(&self) -> u64 {
        self.inner.challenge_window
    }

    pub fn txm(&self) -> &TxManager {
        &self.inner.txm
    }

    pub fn provider(&self) -> &DynProvider {
        &self.inner.provider
    }

    /// The set of tokenized model ids, shared with the metering path.
    pub fn tokenized_models(&self) -> Arc<RwLock<HashSet<String>>> {
        self.inner.tokenized.clone()
    }

    pub(crate) fn registry(&self) -> ModelRegistry::ModelRegistryInstance<&DynProvider> {
        ModelRegistry::new(self.inner.deployment.registry.0, &self.inner.provider)
    }

    pub(crate) fn oracle(&self) -> UsageOracle::UsageOracleInstance<&DynProvider> {
        UsageOracle::new(self.inner.deployment.oracle.0, &self.inner.provider)
    }

    pub(crate) fn err(&self, what: &str, e: impl std::fmt::Display) -> OracleError {
        OracleError::Chain(format!(
            "{what} at {}: {e}",
            self.inner.cfg.redacted_rpc_url()
        ))
    }

    /// The latest block's number and timestamp.
    pub(crate) async fn head(&self) -> Result<(u64, u64)> {
        super::latest_block(&self.inner.provider, &self.inner.cfg).await
    }

    /// The hash of block `number`, if the chain has it.
    pub(crate) async fn block_hash(&self, number: u64) -> Result<Option<B256>> {
        Ok(self
            .inner
            .provider
            .get_block_by_number(number.into())
            .await
            .map_err(|e| self.err("reading a block", e))?
            .map(|b| b.header.hash))
    }

    /// The transaction manager's pass (the `transactions` job): sends, bumps, confirms.
    pub async fn pump(&self) -> Result<super::txm::PumpReport> {
        self.inner.txm.pump().await
    }
}
