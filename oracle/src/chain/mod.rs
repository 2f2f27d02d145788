//! The chain side: alloy bindings of the four contracts ([`bindings`]), deployment of the suite
//! exactly as `contracts/script/Deploy.s.sol` does it, and the record of deployments in the
//! database (`deployments` table).
//!
//! Order (docs/CONTRACTS.md, "Deployment and roles"): `ModelRegistry(admin, operator, guardian)`
//! (deploys the `ModelToken` implementation itself), `PaymentVault(admin, guardian, treasury,
//! withdrawalDelay)`, `UsageOracle(admin, operator, guardian, registry, vault, attestBond,
//! challengeBond, challengeWindow, responseWindow, maxFeeBps)`, then the one-shot wiring
//! `registry.setUsageOracle(oracle)` and `vault.setOracle(oracle)`. The deployer is the admin;
//! guardian and treasury default to it; the operator is the receipt-signing key.

pub mod bindings;
pub mod challenger;
pub mod dispute;
pub mod disputes;
pub mod entity;
pub mod epochs;
pub mod follower;
pub mod game;
pub mod intent_entity;
pub mod jobs;
pub mod reads;
pub mod service;
pub mod state;
pub mod timeline;
pub mod tokens;
pub mod tree;
pub mod txm;
pub mod vault;

pub use service::{ChainContext, ChainLoop};

use std::{fmt::Display, path::Path, time::Duration};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address as EthAddress, B256, U256},
    providers::{DynProvider, PendingTransactionBuilder, Provider, ProviderBuilder},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde::Serialize;

use self::bindings::{ModelRegistry, PaymentVault, UsageOracle};
use crate::{
    config::ChainConfig,
    error::{OracleError, Result},
    types::Address,
};

/// Contract names as recorded in the `deployments` table.
pub const MODEL_REGISTRY: &str = "ModelRegistry";
pub const MODEL_TOKEN: &str = "ModelToken";
pub const PAYMENT_VAULT: &str = "PaymentVault";
pub const USAGE_ORACLE: &str = "UsageOracle";
pub const SET_USAGE_ORACLE: &str = "ModelRegistry.setUsageOracle";
pub const SET_ORACLE: &str = "PaymentVault.setOracle";
pub const JUDGE_VM: &str = "JudgeVM";
pub const INFERENCE_DISPUTE: &str = "InferenceDispute";
pub const ACK_REFEREE: &str = "AckReferee";
pub const GRANT_REFEREE: &str = "UsageOracle.grantRole(REFEREE_ROLE)";

/// One transaction of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentTx {
    /// A contract name, or `Contract.method` for a wiring call.
    pub contract: String,
    /// The contract deployed (or called, for a wiring call).
    pub address: Address,
    pub tx_hash: String,
    pub block_number: u64,
    pub gas_used: u64,
}

/// A deployed, wired suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    /// ULID shared by the rows of this deployment.
    pub id: String,
    pub chain_id: u64,
    pub registry: Address,
    /// The `ModelToken` implementation the registry clones (deployed by its constructor).
    pub token_implementation: Address,
    pub vault: Address,
    pub oracle: Address,
    /// The dispute game's one-step interpreter and the game (docs/PROTOCOL.md §9); `None` in a
    /// deployment recorded before the game was deployed with the suite.
    pub judge: Option<Address>,
    pub dispute: Option<Address>,
    /// The acknowledgement referee (issue 15); absent in deployments made before it.
    pub ack_referee: Option<Address>,
    /// In the order they were sent.
    pub transactions: Vec<DeploymentTx>,
    pub created_at_ms: i64,
}

impl Deployment {
    /// The block of the last transaction: the suite is complete from this block on.
    pub fn block_number(&self) -> u64 {
        self.transactions
            .iter()
            .map(|t| t.block_number)
            .max()
            .unwrap_or_default()
    }

    /// Total gas of the deployment (each transaction once: the `ModelToken` row shares the
    /// registry's transaction).
    pub fn gas_used(&self) -> u64 {
        let mut seen = std::collections::HashSet::new();
        self.transactions
            .iter()
            .filter(|t| seen.insert(t.tx_hash.as_str()))
            .map(|t| t.gas_used)
            .sum()
    }
}

/// ETH sent to the operator so that it can pay gas and bonds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Funding {
    pub to: Address,
    pub amount_wei: u128,
    pub tx_hash: String,
    pub gas_used: u64,
}

/// A JSON-RPC client for `chain.rpc_url` whose every request times out after
/// `chain.rpc_timeout_secs` (alloy's default HTTP client waits forever on a hung node).
pub fn rpc_client(cfg: &ChainConfig) -> Result<alloy::rpc::client::RpcClient> {
    use alloy::transports::http::reqwest;
    let url: reqwest::Url = cfg.rpc_url.parse().map_err(|e| {
        OracleError::InvalidInput(format!(
            "chain.rpc_url `{}` is not a URL: {e}",
            cfg.redacted_rpc_url()
        ))
    })?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(cfg.rpc_timeout_secs.max(1)))
        .connect_timeout(Duration::from_secs(cfg.rpc_timeout_secs.clamp(1, 5)))
        .build()
        .map_err(|e| OracleError::Chain(format!("cannot build the RPC HTTP client: {e}")))?;
    Ok(alloy::rpc::client::RpcClient::new_http_with_client(
        http, url,
    ))
}

/// A plain provider (no wallet) for `chain.rpc_url`, with the request timeout of
/// [`rpc_client`].
pub fn provider_for(cfg: &ChainConfig) -> Result<DynProvider> {
    Ok(ProviderBuilder::new()
        .connect_client(rpc_client(cfg)?)
        .erased())
}

/// Waits until a sent transaction has `confirmations` (at least 1), at most
/// `chain.tx_timeout_secs`, and checks that it succeeded.
pub async fn confirm(
    cfg: &ChainConfig,
    confirmations: u64,
    what: &str,
    pending: PendingTransactionBuilder<alloy::network::Ethereum>,
) -> Result<TransactionReceipt> {
    let err = |m: String, e: &dyn Display| {
        OracleError::Chain(format!("{what}: {m} at {}: {e}", cfg.redacted_rpc_url()))
    };
    let hash = *pending.tx_hash();
    let receipt = pending
        .with_required_confirmations(confirmations.max(1))
        .with_timeout(Some(Duration::from_secs(cfg.tx_timeout_secs.max(1))))
        .get_receipt()
        .await
        .map_err(|e| err(format!("transaction {hash} not confirmed"), &e))?;
    if !receipt.status() {
        return Err(err(
            format!("transaction {hash} reverted"),
            &format!("block {:?}", receipt.block_number),
        ));
    }
    Ok(receipt)
}

/// The latest block's number and timestamp.
pub async fn latest_block(provider: &DynProvider, cfg: &ChainConfig) -> Result<(u64, u64)> {
    let err = |e: &dyn Display| {
        OracleError::Chain(format!(
            "reading the latest block at {}: {e}",
            cfg.redacted_rpc_url()
        ))
    };
    let block = provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .map_err(|e| err(&e))?
        .ok_or_else(|| err(&"none returned"))?;
    Ok((block.header.number, block.header.timestamp))
}

/// A connection to the configured chain with the deployer's key as the sending wallet.
#[derive(Clone)]
pub struct Chain {
    provider: DynProvider,
    deployer: EthAddress,
    cfg: ChainConfig,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("rpc_url", &self.cfg.redacted_rpc_url())
            .field("deployer", &self.deployer)
            .finish()
    }
}

/// Reads a hex secp256k1 key from `path` (`what` names it in errors).
pub fn read_key(path: &Path, what: &str) -> Result<PrivateKeySigner> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        OracleError::InvalidInput(format!(
            "cannot read {what} key file {}: {e}",
            path.display()
        ))
    })?;
    text.trim().parse().map_err(|_| {
        OracleError::InvalidInput(format!(
            "the {what} key in {} is not a 32-byte hex secp256k1 key",
            path.display()
        ))
    })
}

fn optional_address(value: &Option<String>, what: &str, default: EthAddress) -> Result<EthAddress> {
    match value {
        Some(s) => s
            .parse::<Address>()
            .map(|a| a.0)
            .map_err(|e| OracleError::InvalidInput(format!("chain.{what}: {e}"))),
        None => Ok(default),
    }
}

impl Chain {
    /// Loads `chain.deployer_key_file`, connects to `chain.rpc_url` and checks that the RPC
    /// serves `chain.chain_id`.
    pub async fn connect(cfg: &ChainConfig) -> Result<Self> {
        let Some(key_file) = &cfg.deployer_key_file else {
            return Err(OracleError::InvalidInput(
                "no deployer key: set chain.deployer_key_file (or IMO_CHAIN_DEPLOYER_KEY_FILE)"
                    .into(),
            ));
        };
        let signer = read_key(key_file, "deployer")?;
        let deployer = signer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_client(rpc_client(cfg)?)
            .erased();
        let chain = Self {
            provider,
            deployer,
            cfg: cfg.clone(),
        };
        let id = chain
            .provider
            .get_chain_id()
            .await
            .map_err(|e| chain.err("cannot reach the chain RPC", e))?;
        if id != cfg.chain_id {
            return Err(OracleError::Chain(format!(
                "the RPC at {} serves chain id {id}, but chain.chain_id is {}",
                cfg.redacted_rpc_url(),
                cfg.chain_id
            )));
        }
        Ok(chain)
    }

    fn err(&self, what: &str, e: impl Display) -> OracleError {
        OracleError::Chain(format!("{what} at {}: {e}", self.cfg.redacted_rpc_url()))
    }

    /// The provider (with the deployer as wallet), for calls and reads.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The deployer (admin) address.
    pub fn deployer(&self) -> Address {
        Address(self.deployer)
    }

    /// Waits for `chain.confirmations` and checks that the transaction succeeded.
    async fn confirm(
        &self,
        what: &str,
        pending: PendingTransactionBuilder<alloy::network::Ethereum>,
    ) -> Result<TransactionReceipt> {
        confirm(&self.cfg, self.cfg.confirmations, what, pending).await
    }

    fn tx(contract: &str, address: EthAddress, r: &TransactionReceipt) -> DeploymentTx {
        DeploymentTx {
            contract: contract.into(),
            address: Address(address),
            tx_hash: r.transaction_hash.to_string(),
            block_number: r.block_number.unwrap_or_default(),
            gas_used: r.gas_used,
        }
    }

    fn created(&self, what: &str, r: &TransactionReceipt) -> Result<EthAddress> {
        r.contract_address.ok_or_else(|| {
            self.err(
                &format!("{what}: no contract address in the receipt of"),
                r.transaction_hash,
            )
        })
    }

    /// Deploys and wires the suite (see the module docs) with `operator` as OPERATOR_ROLE on
    /// the registry and the oracle. Each transaction is confirmed before the next is sent.
    /// Deploys and wires the suite; the deployment is recorded at `now_ms` (the time the
    /// service's clock says: receipts from before it belong to another domain).
    pub async fn deploy(&self, operator: Address, now_ms: i64) -> Result<Deployment> {
        let cfg = &self.cfg;
        let admin = self.deployer;
        let guardian = optional_address(&cfg.guardian, "guardian", admin)?;
        let treasury = optional_address(&cfg.treasury, "treasury", admin)?;
        let p = &self.provider;
        let mut txs = Vec::with_capacity(8);

        let send = |what: &'static str, e: alloy::contract::Error| {
            self.err(&format!("{what}: sending the transaction failed"), e)
        };

        let pending = ModelRegistry::deploy_builder(p, admin, operator.0, guardian)
            .send()
            .await
            .map_err(|e| send(MODEL_REGISTRY, e))?;
        let r = self.confirm(MODEL_REGISTRY, pending).await?;
        let registry = self.created(MODEL_REGISTRY, &r)?;
        txs.push(Self::tx(MODEL_REGISTRY, registry, &r));
        let token_implementation = ModelRegistry::new(registry, p)
            .tokenImplementation()
            .call()
            .await
            .map_err(|e| self.err("reading ModelRegistry.tokenImplementation", e))?;
        txs.push(Self::tx(MODEL_TOKEN, token_implementation, &r));

        let pending = PaymentVault::deploy_builder(
            p,
            admin,
            guardian,
            treasury,
            U256::from(cfg.withdrawal_delay_secs),
        )
        .send()
        .await
        .map_err(|e| send(PAYMENT_VAULT, e))?;
        let r = self.confirm(PAYMENT_VAULT, pending).await?;
        let vault = self.created(PAYMENT_VAULT, &r)?;
        txs.push(Self::tx(PAYMENT_VAULT, vault, &r));

        let pending = UsageOracle::deploy_builder(
            p,
            admin,
            operator.0,
            guardian,
            registry,
            vault,
            U256::from(cfg.attest_bond_wei),
            U256::from(cfg.challenge_bond_wei),
            cfg.challenge_window_secs,
            cfg.response_window_secs,
            cfg.max_fee_bps,
        )
        .send()
        .await
        .map_err(|e| send(USAGE_ORACLE, e))?;
        let r = self.confirm(USAGE_ORACLE, pending).await?;
        let oracle = self.created(USAGE_ORACLE, &r)?;
        txs.push(Self::tx(USAGE_ORACLE, oracle, &r));

        let pending = ModelRegistry::new(registry, p)
            .setUsageOracle(oracle)
            .send()
            .await
            .map_err(|e| send(SET_USAGE_ORACLE, e))?;
        let r = self.confirm(SET_USAGE_ORACLE, pending).await?;
        txs.push(Self::tx(SET_USAGE_ORACLE, registry, &r));

        let pending = PaymentVault::new(vault, p)
            .setOracle(oracle)
            .send()
            .await
            .map_err(|e| send(SET_ORACLE, e))?;
        let r = self.confirm(SET_ORACLE, pending).await?;
        txs.push(Self::tx(SET_ORACLE, vault, &r));

        // The dispute game (Deploy.s.sol's order): JudgeVM, then InferenceDispute reading
        // receipt signatures through the UsageOracle.
        let pending = dispute::JudgeVM::deploy_builder(p)
            .send()
            .await
            .map_err(|e| send(JUDGE_VM, e))?;
        let r = self.confirm(JUDGE_VM, pending).await?;
        let judge = self.created(JUDGE_VM, &r)?;
        txs.push(Self::tx(JUDGE_VM, judge, &r));
        let unstake_delay = cfg.dispute_unstake_delay_secs.unwrap_or(
            cfg.dispute_window_secs
                .saturating_add(cfg.dispute_clock_secs.saturating_mul(2)),
        );
        let pending = dispute::InferenceDispute::deploy_builder(
            p,
            oracle,
            judge,
            U256::from(cfg.dispute_challenger_bond_wei),
            U256::from(cfg.dispute_operator_bond_wei),
            cfg.dispute_clock_secs,
            cfg.dispute_window_secs,
            unstake_delay,
        )
        .send()
        .await
        .map_err(|e| send(INFERENCE_DISPUTE, e))?;
        let r = self.confirm(INFERENCE_DISPUTE, pending).await?;
        let game = self.created(INFERENCE_DISPUTE, &r)?;
        txs.push(Self::tx(INFERENCE_DISPUTE, game, &r));
        // The referee of client acknowledgements, with the oracle's challenge bond and
        // response window, granted REFEREE_ROLE by the admin (docs/CONTRACTS.md).
        let pending = bindings::AckReferee::deploy_builder(
            p,
            oracle,
            U256::from(cfg.challenge_bond_wei),
            cfg.response_window_secs,
        )
        .send()
        .await
        .map_err(|e| send(ACK_REFEREE, e))?;
        let r = self.confirm(ACK_REFEREE, pending).await?;
        let referee = self.created(ACK_REFEREE, &r)?;
        txs.push(Self::tx(ACK_REFEREE, referee, &r));
        let role = UsageOracle::new(oracle, p)
            .REFEREE_ROLE()
            .call()
            .await
            .map_err(|e| self.err("reading UsageOracle.REFEREE_ROLE", e))?;
        let pending = UsageOracle::new(oracle, p)
            .grantRole(role, referee)
            .send()
            .await
            .map_err(|e| send(GRANT_REFEREE, e))?;
        let r = self.confirm(GRANT_REFEREE, pending).await?;
        txs.push(Self::tx(GRANT_REFEREE, oracle, &r));

        Ok(Deployment {
            id: ulid::Ulid::new().to_string(),
            chain_id: cfg.chain_id,
            registry: Address(registry),
            token_implementation: Address(token_implementation),
            vault: Address(vault),
            oracle: Address(oracle),
            judge: Some(Address(judge)),
            dispute: Some(Address(game)),
            ack_referee: Some(Address(referee)),
            transactions: txs,
            created_at_ms: now_ms,
        })
    }

    /// The ETH balance of `account`, in wei.
    pub async fn balance(&self, account: Address) -> Result<U256> {
        self.provider
            .get_balance(account.0)
            .await
            .map_err(|e| self.err("reading a balance", e))
    }

    /// Sends `amount_wei` from the deployer to `account` if `account` holds no ETH; returns the
    /// transfer, or `None` when nothing was sent (the account has ETH, or the amount is 0).
    pub async fn fund_if_empty(
        &self,
        account: Address,
        amount_wei: u128,
    ) -> Result<Option<Funding>> {
        if amount_wei == 0 || !self.balance(account).await?.is_zero() {
            return Ok(None);
        }
        let tx = TransactionRequest::default()
            .with_to(account.0)
            .with_value(U256::from(amount_wei));
        let pending = self
            .provider
            .send_transaction(tx)
            .await
            .map_err(|e| self.err("funding the operator: sending the transfer failed", e))?;
        let r = self.confirm("funding the operator", pending).await?;
        Ok(Some(Funding {
            to: account,
            amount_wei,
            tx_hash: r.transaction_hash.to_string(),
            gas_used: r.gas_used,
        }))
    }
}

/// Connects with `cfg`, deploys the suite with `operator` as OPERATOR_ROLE and records it.
pub async fn deploy(
    cfg: &ChainConfig,
    operator: Address,
    db: &DatabaseConnection,
    clock: &dyn crate::clock::Clock,
) -> Result<Deployment> {
    let chain = Chain::connect(cfg).await?;
    let deployment = chain.deploy(operator, clock.now_ms()).await?;
    record(db, &deployment).await?;
    Ok(deployment)
}

/// Writes a deployment's rows in one database transaction.
pub async fn record(db: &DatabaseConnection, d: &Deployment) -> Result<()> {
    // `<deployment id>-<index>`: the rows read back in the order the transactions were sent.
    let rows = d
        .transactions
        .iter()
        .enumerate()
        .map(|(i, t)| entity::ActiveModel {
            id: Set(format!("{}-{i:02}", d.id)),
            deployment_id: Set(d.id.clone()),
            chain_id: Set(d.chain_id as i64),
            contract: Set(t.contract.clone()),
            address: Set(t.address.storage_key()),
            tx_hash: Set(t.tx_hash.clone()),
            block_number: Set(t.block_number as i64),
            gas_used: Set(t.gas_used as i64),
            created_at_ms: Set(d.created_at_ms),
        });
    let txn = db.begin().await?;
    entity::Entity::insert_many(rows).exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// The latest recorded deployment on `chain_id`, if any.
pub async fn deployment(db: &DatabaseConnection, chain_id: u64) -> Result<Option<Deployment>> {
    let Some(latest) = entity::Entity::find()
        .filter(entity::Column::ChainId.eq(chain_id as i64))
        .order_by_desc(entity::Column::CreatedAtMs)
        .order_by_desc(entity::Column::DeploymentId)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let rows = entity::Entity::find()
        .filter(entity::Column::DeploymentId.eq(latest.deployment_id.clone()))
        .order_by_asc(entity::Column::Id)
        .all(db)
        .await?;
    let corrupt = |what: &str| OracleError::Database(format!("corrupt deployment row: {what}"));
    let mut transactions = Vec::with_capacity(rows.len());
    for r in &rows {
        transactions.push(DeploymentTx {
            contract: r.contract.clone(),
            address: r.address.parse().map_err(|_| corrupt(&r.address))?,
            tx_hash: r
                .tx_hash
                .parse::<B256>()
                .map_err(|_| corrupt(&r.tx_hash))?
                .to_string(),
            block_number: r.block_number as u64,
            gas_used: r.gas_used as u64,
        });
    }
    let find = |name: &str| {
        transactions
            .iter()
            .find(|t| t.contract == name)
            .map(|t| t.address)
            .ok_or_else(|| {
                corrupt(&format!(
                    "deployment {} has no {name}",
                    latest.deployment_id
                ))
            })
    };
    Ok(Some(Deployment {
        id: latest.deployment_id.clone(),
        chain_id,
        registry: find(MODEL_REGISTRY)?,
        token_implementation: find(MODEL_TOKEN)?,
        vault: find(PAYMENT_VAULT)?,
        oracle: find(USAGE_ORACLE)?,
        judge: find(JUDGE_VM).ok(),
        dispute: find(INFERENCE_DISPUTE).ok(),
        ack_referee: transactions
            .iter()
            .find(|t| t.contract == ACK_REFEREE)
            .map(|t| t.address),
        created_at_ms: latest.created_at_ms,
        transactions,
    }))
}
