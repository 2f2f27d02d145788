//! The chain loop (docs/ARCHITECTURE.md, "The chain loop"), wired once: one component per
//! concern, each in its own file, sharing one [`ChainContext`] (database, RPC, deployment,
//! clock, transaction manager, log follower):
//!
//! * [`TxManager`] — every operator transaction (`txm.rs`);
//! * [`Tokenizer`] — models become ERC-7641 tokens (`tokens.rs`);
//! * [`VaultIndexer`] — vault events become balances; signed spending caps (`vault.rs`);
//! * [`EpochMachine`] — close, attest, finalize, answer challenges, unwind (`epochs.rs`);
//! * [`ChainReads`] — receipt proofs, epochs, revenue, claimable revenue (`reads.rs`);
//! * [`Defender`] — the operator's side of inference dispute games (`disputes.rs`).
//!
//! The scheduled jobs (`jobs.rs`) and the HTTP handlers call these components; every step is
//! idempotent and restart-safe (state lives in the database; each pass re-derives what to do).

use std::sync::Arc;

use alloy::{primitives::U256, providers::DynProvider, signers::local::PrivateKeySigner};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};

use super::{
    Deployment,
    bindings::{ModelRegistry, PaymentVault, UsageOracle},
    disputes::Defender,
    epochs::EpochMachine,
    follower::LogFollower,
    reads::ChainReads,
    tokens::Tokenizer,
    txm::TxManager,
    vault::VaultIndexer,
};
use crate::{
    clock::{EpochRule, SharedClock},
    config::ChainConfig,
    error::{OracleError, Result},
    ledger::Ledger,
};

/// What every component of the chain loop shares.
pub struct ChainContext {
    pub db: DatabaseConnection,
    pub cfg: ChainConfig,
    pub provider: DynProvider,
    pub deployment: Deployment,
    pub clock: SharedClock,
    pub epochs: EpochRule,
    pub txm: TxManager,
    pub follower: LogFollower,
    /// The UsageOracle's bond per attestation and challenge window (immutable; read once).
    pub attest_bond: U256,
    pub challenge_window: u64,
}

impl ChainContext {
    pub fn err(&self, what: &str, e: impl std::fmt::Display) -> OracleError {
        OracleError::Chain(format!("{what} at {}: {e}", self.cfg.redacted_rpc_url()))
    }

    pub fn oracle(&self) -> UsageOracle::UsageOracleInstance<&DynProvider> {
        UsageOracle::new(self.deployment.oracle.0, &self.provider)
    }

    pub fn registry(&self) -> ModelRegistry::ModelRegistryInstance<&DynProvider> {
        ModelRegistry::new(self.deployment.registry.0, &self.provider)
    }

    pub fn vault(&self) -> PaymentVault::PaymentVaultInstance<&DynProvider> {
        PaymentVault::new(self.deployment.vault.0, &self.provider)
    }

    /// The latest block's number and timestamp.
    pub async fn head(&self) -> Result<(u64, u64)> {
        super::latest_block(&self.provider, &self.cfg).await
    }
}

/// The chain loop of this process: its components, wired once. Cheap to clone.
#[derive(Clone)]
pub struct ChainLoop {
    pub ctx: Arc<ChainContext>,
    pub tokens: Arc<Tokenizer>,
    pub vault: Arc<VaultIndexer>,
    pub epochs: Arc<EpochMachine>,
    pub reads: Arc<ChainReads>,
    pub disputes: Arc<Defender>,
}

impl std::fmt::Debug for ChainLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainLoop")
            .field("rpc_url", &self.ctx.cfg.redacted_rpc_url())
            .field("oracle", &self.ctx.deployment.oracle)
            .field("operator", &self.ctx.txm.sender())
            .finish()
    }
}

impl ChainLoop {
    /// Starts the chain loop for `deployment` (read the latest with [`super::deployment`]),
    /// sending as `operator`. Reads the oracle's immutable parameters once (`chain_unavailable`
    /// if the RPC cannot be reached) and re-closes in the ledger the newest closed epoch.
    #[allow(clippy::too_many_arguments)] // each is one of the loop's distinct dependencies
    pub async fn start(
        db: DatabaseConnection,
        cfg: ChainConfig,
        epochs: EpochRule,
        clock: SharedClock,
        deployment: Deployment,
        operator: PrivateKeySigner,
        ledger: Ledger,
        store: crate::storage::ModelStore,
    ) -> Result<Self> {
        let provider = super::provider_for(&cfg)?;
        let oracle = UsageOracle::new(deployment.oracle.0, &provider);
        let err = |what: &str, e: &dyn std::fmt::Display| {
            OracleError::Chain(format!("{what} at {}: {e}", cfg.redacted_rpc_url()))
        };
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
        #[cfg(feature = "fault-injection")]
        if cfg.fault_injection.is_some() {
            tracing::warn!(fault = ?cfg.fault_injection, "TEST-ONLY FAULT INJECTION IS ON");
        }
        let txm = TxManager::new(db.clone(), provider.clone(), operator, &cfg, clock.clone());
        let follower = LogFollower::new(db.clone(), provider.clone(), cfg.clone(), clock.clone());
        let ctx = Arc::new(ChainContext {
            db: db.clone(),
            cfg,
            provider,
            deployment,
            clock,
            epochs,
            txm,
            follower,
            attest_bond,
            challenge_window,
        });
        let tokens = Arc::new(Tokenizer::new(ctx.clone()));
        tokens.load().await?;
        let chain = Self {
            vault: Arc::new(VaultIndexer::new(ctx.clone(), ledger.clone())),
            epochs: Arc::new(EpochMachine::new(ctx.clone(), ledger.clone())),
            reads: Arc::new(ChainReads::new(ctx.clone())),
            disputes: Arc::new(Defender::new(
                ctx.clone(),
                crate::retention::InputRetention::open(store.dir().join("inputs"))?,
                store,
            )),
            tokens,
            ctx,
        };
        // Closed epochs stay closed across restarts: no receipt of one commits any more.
        if let Some(last) = crate::db::epochs::Entity::find()
            .order_by_desc(crate::db::epochs::Column::Epoch)
            .one(&db)
            .await?
        {
            ledger.freeze(last.epoch as u64).await?;
        }
        Ok(chain)
    }

    pub fn config(&self) -> &ChainConfig {
        &self.ctx.cfg
    }

    pub fn deployment(&self) -> &Deployment {
        &self.ctx.deployment
    }

    pub fn txm(&self) -> &TxManager {
        &self.ctx.txm
    }

    pub fn provider(&self) -> &DynProvider {
        &self.ctx.provider
    }

    /// The UsageOracle's bond per attestation, in wei.
    pub fn attest_bond(&self) -> U256 {
        self.ctx.attest_bond
    }

    /// The UsageOracle's challenge window, in seconds.
    pub fn challenge_window(&self) -> u64 {
        self.ctx.challenge_window
    }
}
