//! The vault indexer (the `index` job) and spending caps.
//!
//! The indexer follows the PaymentVault's events through the log follower (confirmed blocks
//! only; a reorg deeper than the confirmations stops it) and applies each to the client's
//! off-chain account through the ledger ([`crate::ledger::Ledger::apply_chain_event`]):
//! `Deposited` credits, `WithdrawalRequested` holds the requested amount (it is no longer
//! served against), `WithdrawalCancelled` releases the hold, `Withdrawn` debits and releases,
//! `SpendingCapSet` raises the cap. Events are keyed `<tx hash>:<log index>` in `chain_events`
//! (written with the balance change), so re-reading a range applies nothing twice.

use std::sync::Arc;

use alloy::{
    primitives::{Bytes, U256},
    rpc::types::Log,
    sol_types::{Eip712Domain, SolEvent, SolStruct, eip712_domain},
};
use sea_orm::ActiveValue::Set;
use tracing::{info, instrument};

use super::{
    bindings::PaymentVault,
    follower::{FollowReport, Stream},
    service::ChainContext,
    txm::Intent,
};
use crate::{
    auth::Principal,
    db::spending_caps,
    error::{OracleError, Result},
    ledger::{ChainEffect, ChainEvent, Ledger},
    types::{Address, Wei},
};

/// The cursor of vault events.
pub const VAULT_STREAM: &str = "vault";

alloy::sol! {
    /// EIP-712 `SpendingCap` of the PaymentVault (docs/CONTRACTS.md).
    #[derive(Debug)]
    struct SpendingCap {
        address client;
        uint256 cap;
        uint256 deadline;
    }
}

/// The vault's EIP-712 domain: ("IMO Oracle Vault", "1", chain id, PaymentVault).
pub fn vault_domain(chain_id: u64, vault: alloy::primitives::Address) -> Eip712Domain {
    eip712_domain! {
        name: "IMO Oracle Vault",
        version: "1",
        chain_id: chain_id,
        verifying_contract: vault,
    }
}

impl VaultIndexer {
    /// Registers a client's accepted `AckMode` on-chain (`PaymentVault.submitAckMode`, which only
    /// an operator may send) through the transaction manager; returns the intent's key. The
    /// signature was verified by `acks::Billing::choose_ack`.
    pub async fn register_ack_mode(
        &self,
        mode: &crate::db::billing_modes::Model,
    ) -> Result<String> {
        let client: alloy::primitives::Address = mode
            .client
            .parse()
            .map_err(|_| OracleError::Database(format!("corrupt client `{}`", mode.client)))?;
        let sig = hex::decode(mode.signature.trim_start_matches("0x"))
            .map_err(|_| OracleError::InvalidInput("the signature is not hex".into()))?;
        let key = format!("ack-mode:{}", mode.client);
        let call = PaymentVault::submitAckModeCall {
            client,
            fromEpoch: mode.from_epoch as u64,
            deadline: U256::from(mode.deadline as u64),
            signature: Bytes::from(sig),
        };
        self.ctx
            .txm
            .submit_call(&key, "ack-mode", self.ctx.deployment.vault.0, &call)
            .await?;
        info!(client = %mode.client, from_epoch = mode.from_epoch, "ack mode queued on-chain");
        Ok(key)
    }
}

/// What one indexer pass did.
pub type IndexReport = FollowReport;

/// A signed spending cap as accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapView {
    pub client: Address,
    pub cap_wei: Wei,
    pub deadline: u64,
    /// The `submitCap` transaction; the cap counts once its `SpendingCapSet` event is indexed.
    pub transaction: Option<Intent>,
}

fn event_effect(
    log: &alloy::rpc::types::Log,
) -> Option<(&'static str, Address, u128, ChainEffect)> {
    let amount = |v: U256| u128::try_from(v).unwrap_or(u128::MAX);
    match log.topic0().copied()? {
        PaymentVault::Deposited::SIGNATURE_HASH => {
            let e = PaymentVault::Deposited::decode_log(&log.inner).ok()?;
            // Holds and caps saturate harmlessly; a credit must be exact or refused.
            let effect = u128::try_from(e.amount)
                .map(ChainEffect::Credit)
                .unwrap_or(ChainEffect::Unrepresentable);
            Some(("Deposited", Address(e.client), amount(e.amount), effect))
        }
        PaymentVault::WithdrawalRequested::SIGNATURE_HASH => {
            let e = PaymentVault::WithdrawalRequested::decode_log(&log.inner).ok()?;
            let a = amount(e.amount);
            Some((
                "WithdrawalRequested",
                Address(e.client),
                a,
                ChainEffect::Hold(a),
            ))
        }
        PaymentVault::WithdrawalCancelled::SIGNATURE_HASH => {
            let e = PaymentVault::WithdrawalCancelled::decode_log(&log.inner).ok()?;
            Some((
                "WithdrawalCancelled",
                Address(e.client),
                0,
                ChainEffect::Hold(0),
            ))
        }
        PaymentVault::Withdrawn::SIGNATURE_HASH => {
            let e = PaymentVault::Withdrawn::decode_log(&log.inner).ok()?;
            let a = amount(e.amount);
            Some(("Withdrawn", Address(e.client), a, ChainEffect::Withdrawn(a)))
        }
        PaymentVault::SpendingCapSet::SIGNATURE_HASH => {
            let e = PaymentVault::SpendingCapSet::decode_log(&log.inner).ok()?;
            let a = amount(e.cap);
            Some(("SpendingCapSet", Address(e.client), a, ChainEffect::Cap(a)))
        }
        _ => None,
    }
}

/// The vault indexer and the spending caps (see the module docs).
pub struct VaultIndexer {
    ctx: Arc<ChainContext>,
    ledger: Ledger,
    /// One pass at a time.
    pass: tokio::sync::Mutex<()>,
}

impl VaultIndexer {
    pub fn new(ctx: Arc<ChainContext>, ledger: Ledger) -> Self {
        Self {
            ctx,
            ledger,
            pass: tokio::sync::Mutex::new(()),
        }
    }

    /// Waits for a pass in progress to end (ordered shutdown).
    pub async fn quiesce(&self) {
        drop(self.pass.lock().await);
    }

    /// One pass of the vault indexer: applies the confirmed vault events after the cursor (one
    /// bounded range).
    #[instrument(skip_all)]
    pub async fn pass(&self) -> Result<IndexReport> {
        let _pass = self.pass.lock().await;
        let stream = Stream {
            name: VAULT_STREAM,
            address: self.ctx.deployment.vault.0,
            events: vec![],
            start_block: self.ctx.deployment.block_number(),
        };
        let ledger = &self.ledger;
        self.ctx
            .follower
            .follow(&stream, |log: Log| async move {
                let Some((event, account, amount, effect)) = event_effect(&log) else {
                    return Ok(false);
                };
                let (Some(tx), Some(index), Some(block), Some(hash)) = (
                    log.transaction_hash,
                    log.log_index,
                    log.block_number,
                    log.block_hash,
                ) else {
                    return Ok(false);
                };
                let applied = ledger
                    .apply_chain_event(ChainEvent {
                        id: format!("{tx:#x}:{index}"),
                        block_number: block,
                        block_hash: format!("{hash:#x}"),
                        tx_hash: format!("{tx:#x}"),
                        event: event.into(),
                        account,
                        amount,
                        effect,
                    })
                    .await?;
                if applied {
                    info!(event, %account, amount, block, tx = %tx, "vault event applied");
                    metrics::counter!("imo_chain_vault_events_total", "event" => event)
                        .increment(1);
                }
                Ok(applied)
            })
            .await
    }

    /// Accepts a client's EIP-712 `SpendingCap` signature (ECDSA; contract wallets submit
    /// theirs to the vault directly) and submits it to the vault. The cap counts for metering
    /// once the vault's `SpendingCapSet` event is indexed.
    /// Only the client itself (or an admin) may hand in its cap.
    #[instrument(skip_all, fields(client = %client))]
    pub async fn submit_cap(
        &self,
        by: &Principal,
        client: Address,
        cap: Wei,
        deadline: u64,
        signature: &str,
    ) -> Result<CapView> {
        if client != by.address && !by.is_admin() {
            return Err(OracleError::Forbidden(
                "a spending cap is submitted with the client's own key".into(),
            ));
        }
        let sig_bytes = hex::decode(signature.trim_start_matches("0x"))
            .map_err(|_| OracleError::InvalidInput("signature is not hex".into()))?;
        let sig = alloy::primitives::Signature::from_raw(&sig_bytes).map_err(|e| {
            OracleError::InvalidInput(format!("signature is not a 65-byte signature: {e}"))
        })?;
        let typed = SpendingCap {
            client: client.0,
            cap: U256::from(cap.0),
            deadline: U256::from(deadline),
        };
        let domain = vault_domain(self.ctx.cfg.chain_id, self.ctx.deployment.vault.0);
        let digest = typed.eip712_signing_hash(&domain);
        let signer = sig
            .recover_address_from_prehash(&digest)
            .map_err(|e| OracleError::InvalidInput(format!("signature does not recover: {e}")))?;
        if signer != client.0 {
            return Err(OracleError::InvalidInput(format!(
                "the SpendingCap is signed by {signer}, not by the client {client}"
            )));
        }
        let (_, chain_time) = self.ctx.head().await?;
        if deadline < chain_time + 60 {
            return Err(OracleError::InvalidInput(format!(
                "deadline {deadline} is past or less than a minute ahead of the chain's time {chain_time}"
            )));
        }
        let current = self.ledger.balance(client).await?.cap_wei;
        if cap.0 <= current.0 {
            return Err(OracleError::Conflict(format!(
                "the cap must exceed the current cap of {current} wei (caps are cumulative over the client's lifetime)"
            )));
        }
        let key = format!("cap:{}:{}", client.storage_key(), cap.0);
        let call = PaymentVault::submitCapCall {
            client: client.0,
            cap: U256::from(cap.0),
            deadline: U256::from(deadline),
            signature: Bytes::from(sig_bytes),
        };
        let intent = self
            .ctx
            .txm
            .submit_call(&key, "cap", self.ctx.deployment.vault.0, &call)
            .await?;
        let row = spending_caps::ActiveModel {
            id: Set(format!("{}:{}", client.storage_key(), cap.0)),
            client: Set(client.storage_key()),
            cap_wei: Set(cap.0.to_string()),
            deadline: Set(deadline as i64),
            signature: Set(signature.to_owned()),
            intent_key: Set(key),
            created_at_ms: Set(self.ctx.clock.now_ms()),
        };
        crate::db::insert_new(&self.ctx.db, row, spending_caps::Column::Id).await?;
        info!(cap = cap.0, deadline, "spending cap accepted");
        Ok(CapView {
            client,
            cap_wei: cap,
            deadline,
            transaction: Some(intent),
        })
    }
}
