//! A participant's own wallet against the deployed contracts: what a client does with the
//! vault (deposit, sign a spending cap, request and execute a withdrawal) and what a token
//! holder does with a model's ERC-7641 token (transfer, claim, burn). The service never holds
//! these keys; `imo wallet …` and the tests use this module, and any other wallet can do the
//! same with the contracts' ABI (docs/CONTRACTS.md).

use alloy::{
    network::EthereumWallet,
    primitives::{Address as EthAddress, B256, U256},
    providers::{DynProvider, PendingTransactionBuilder, Provider, ProviderBuilder},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::SolStruct,
};
use serde::Serialize;

use imo_oracle::{
    chain::{
        bindings::{ModelToken, PaymentVault},
        vault::{SpendingCap, vault_domain},
    },
    config::ChainConfig,
    error::{OracleError, Result},
    types::Address,
};

/// A mined transaction of a wallet, with what it cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sent {
    pub tx_hash: B256,
    pub block_number: u64,
    pub gas_used: u64,
    /// `gas_used × effective gas price`, in wei.
    pub fee_wei: u128,
}

/// What a claim paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claimed {
    pub snapshot_ids: Vec<u64>,
    pub amount_wei: U256,
    pub tx: Sent,
}

/// A signed `SpendingCap`, ready for `POST /v1/spending-caps` or `PaymentVault.submitCap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedCap {
    pub client: Address,
    pub cap_wei: U256,
    pub deadline: u64,
    /// 65 bytes `r || s || v`, 0x-hex.
    pub signature: String,
}

/// Signs `SpendingCap(client, cap, deadline)` under the vault's EIP-712 domain.
pub fn sign_spending_cap(
    key: &PrivateKeySigner,
    chain_id: u64,
    vault: EthAddress,
    cap_wei: U256,
    deadline: u64,
) -> Result<SignedCap> {
    let typed = SpendingCap {
        client: key.address(),
        cap: cap_wei,
        deadline: U256::from(deadline),
    };
    let digest = typed.eip712_signing_hash(&vault_domain(chain_id, vault));
    let sig = key
        .sign_hash_sync(&digest)
        .map_err(|e| OracleError::InvalidInput(format!("signing the spending cap: {e}")))?;
    Ok(SignedCap {
        client: Address(key.address()),
        cap_wei,
        deadline,
        signature: format!("0x{}", hex::encode(sig.as_bytes())),
    })
}

/// One key on the configured chain.
#[derive(Clone)]
pub struct Wallet {
    provider: DynProvider,
    address: EthAddress,
    cfg: ChainConfig,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet")
            .field("address", &self.address)
            .field("rpc_url", &self.cfg.redacted_rpc_url())
            .finish_non_exhaustive()
    }
}

impl Wallet {
    /// `key` signs; `cfg.rpc_url` (with its timeout) carries the transactions.
    pub fn new(cfg: &ChainConfig, key: PrivateKeySigner) -> Result<Self> {
        let address = key.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(key))
            .connect_client(imo_oracle::chain::rpc_client(cfg)?)
            .erased();
        Ok(Self {
            provider,
            address,
            cfg: cfg.clone(),
        })
    }

    pub fn address(&self) -> Address {
        Address(self.address)
    }

    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    fn err(&self, what: &str, e: impl std::fmt::Display) -> OracleError {
        OracleError::Chain(format!("{what} at {}: {e}", self.cfg.redacted_rpc_url()))
    }

    /// The wallet's ETH, in wei.
    pub async fn eth(&self) -> Result<U256> {
        self.provider
            .get_balance(self.address)
            .await
            .map_err(|e| self.err("reading the balance", e))
    }

    /// Waits for one confirmation of a sent transaction and checks that it succeeded.
    async fn mined(
        &self,
        what: &str,
        pending: std::result::Result<
            PendingTransactionBuilder<alloy::network::Ethereum>,
            alloy::contract::Error,
        >,
    ) -> Result<Sent> {
        let pending = pending.map_err(|e| self.err(&format!("{what}: sending failed"), e))?;
        let r = imo_oracle::chain::confirm(&self.cfg, 1, what, pending).await?;
        Ok(Sent {
            tx_hash: r.transaction_hash,
            block_number: r.block_number.unwrap_or_default(),
            gas_used: r.gas_used,
            fee_wei: u128::from(r.gas_used) * r.effective_gas_price,
        })
    }

    /// The latest block's timestamp (deadlines are checked against the chain's clock).
    pub async fn chain_time(&self) -> Result<u64> {
        Ok(imo_oracle::chain::latest_block(&self.provider, &self.cfg)
            .await?
            .1)
    }

    /// `PaymentVault.deposit()` of `amount` wei.
    pub async fn deposit(&self, vault: EthAddress, amount: U256) -> Result<Sent> {
        let v = PaymentVault::new(vault, &self.provider);
        let pending = v.deposit().value(amount).send().await;
        self.mined("deposit", pending).await
    }

    /// `PaymentVault.requestWithdrawal(amount)`; the funds can be taken after the vault's
    /// withdrawal delay, and the service stops serving against them once it sees the request.
    pub async fn request_withdrawal(&self, vault: EthAddress, amount: U256) -> Result<Sent> {
        let v = PaymentVault::new(vault, &self.provider);
        let pending = v.requestWithdrawal(amount).send().await;
        self.mined("requestWithdrawal", pending).await
    }

    /// `PaymentVault.withdraw()`: pays min(requested, balance).
    pub async fn withdraw(&self, vault: EthAddress) -> Result<Sent> {
        let v = PaymentVault::new(vault, &self.provider);
        let pending = v.withdraw().send().await;
        self.mined("withdraw", pending).await
    }

    /// The wallet's vault account: (balance, spent, cap, requested withdrawal, ready at).
    pub async fn vault_account(&self, vault: EthAddress) -> Result<VaultAccount> {
        let v = PaymentVault::new(vault, &self.provider);
        let read = |what: &'static str| move |e| self.err(what, e);
        let w = v
            .withdrawalOf(self.address)
            .call()
            .await
            .map_err(read("reading PaymentVault.withdrawalOf"))?;
        Ok(VaultAccount {
            balance_wei: v
                .balanceOf(self.address)
                .call()
                .await
                .map_err(read("reading PaymentVault.balanceOf"))?,
            spent_wei: v
                .spentOf(self.address)
                .call()
                .await
                .map_err(read("reading PaymentVault.spentOf"))?,
            cap_wei: v
                .capOf(self.address)
                .call()
                .await
                .map_err(read("reading PaymentVault.capOf"))?,
            withdrawal_wei: U256::from(w.amount),
            withdrawal_ready_at: w.readyAt,
        })
    }

    /// `ModelToken.transfer(to, amount)` (base units).
    pub async fn transfer_tokens(
        &self,
        token: EthAddress,
        to: EthAddress,
        amount: U256,
    ) -> Result<Sent> {
        let t = ModelToken::new(token, &self.provider);
        let pending = t.transfer(to, amount).send().await;
        self.mined("transfer", pending).await
    }

    /// Claims every snapshot of `token` with something for this wallet (`claimBatch`);
    /// `None` when there is nothing to claim.
    pub async fn claim(&self, token: EthAddress) -> Result<Option<Claimed>> {
        let snapshots =
            imo_oracle::chain::tokens::claimable_snapshots(&self.provider, token, self.address)
                .await
                .map_err(|e| self.err("reading ModelToken.claimableRevenue", e))?;
        let ids: Vec<u64> = snapshots.iter().map(|(s, _)| *s).collect();
        let total = snapshots.iter().map(|(_, c)| *c).sum();
        if ids.is_empty() {
            return Ok(None);
        }
        let pending = ModelToken::new(token, &self.provider)
            .claimBatch(ids.iter().map(|s| U256::from(*s)).collect())
            .send()
            .await;
        let tx = self.mined("claimBatch", pending).await?;
        Ok(Some(Claimed {
            snapshot_ids: ids,
            amount_wei: total,
            tx,
        }))
    }

    /// `ModelToken.burn(amount)`: redeems `redeemableOnBurn(amount)` from the redeem pool.
    pub async fn burn(&self, token: EthAddress, amount: U256) -> Result<(U256, Sent)> {
        let t = ModelToken::new(token, &self.provider);
        let pays = t
            .redeemableOnBurn(amount)
            .call()
            .await
            .map_err(|e| self.err("reading ModelToken.redeemableOnBurn", e))?;
        let pending = t.burn(amount).send().await;
        Ok((pays, self.mined("burn", pending).await?))
    }

    /// The wallet's balance of `token` (base units).
    pub async fn token_balance(&self, token: EthAddress) -> Result<U256> {
        ModelToken::new(token, &self.provider)
            .balanceOf(self.address)
            .call()
            .await
            .map_err(|e| self.err("reading ModelToken.balanceOf", e))
    }
}

/// A client's account in the vault, read from the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaultAccount {
    pub balance_wei: U256,
    pub spent_wei: U256,
    pub cap_wei: U256,
    pub withdrawal_wei: U256,
    pub withdrawal_ready_at: u64,
}
