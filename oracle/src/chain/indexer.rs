//! The vault indexer (the `index` job) and spending caps.
//!
//! The indexer reads the PaymentVault's logs from a block cursor stored in `chain_cursors`,
//! only up to the block that has `chain.confirmations` confirmations, and applies each event to
//! the client's off-chain account through the ledger ([`crate::ledger::Ledger::apply_chain_event`]):
//! `Deposited` credits, `WithdrawalRequested` holds the requested amount (it is no longer
//! served against), `WithdrawalCancelled` releases the hold, `Withdrawn` debits and releases,
//! `SpendingCapSet` raises the cap. Events are keyed `<tx hash>:<log index>` in `chain_events`,
//! so re-reading a range applies nothing twice. Reorgs shallower than the confirmation depth
//! never reach the ledger; a deeper one (the block under the cursor changed) stops the indexer
//! with an error rather than guessing.

use alloy::{
    primitives::{Bytes, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::{Eip712Domain, SolCall, SolEvent, SolStruct, eip712_domain},
};
use sea_orm::{ActiveValue::Set, EntityTrait, sea_query::OnConflict};
use serde::Serialize;
use tracing::{error, info, instrument};

use super::{bindings::PaymentVault, service::ChainLoop, txm::Intent};
use crate::{
    db::{chain_cursors, spending_caps},
    error::{OracleError, Result},
    ledger::{ChainEffect, ChainEvent},
    types::{Address, Wei, now_ms},
};

const VAULT_CURSOR: &str = "vault";

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

/// What one indexer pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IndexReport {
    pub from_block: u64,
    pub to_block: u64,
    pub applied: usize,
    pub skipped: usize,
}

/// A signed spending cap as accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

impl ChainLoop {
    /// One pass of the vault indexer: applies the confirmed vault events after the cursor.
    #[instrument(skip_all)]
    pub async fn index(&self) -> Result<IndexReport> {
        let _pass = self.inner.index_lock.lock().await;
        let db = &self.inner.db;
        let cursor = chain_cursors::Entity::find_by_id(VAULT_CURSOR.to_owned())
            .one(db)
            .await?;
        let (head, _) = self.head().await?;
        let confirmations = self.inner.cfg.confirmations.max(1);
        let Some(safe) = (head + 1).checked_sub(confirmations) else {
            return Ok(IndexReport::default());
        };
        let from = match &cursor {
            Some(c) => {
                // The block under the cursor must still be the one we read.
                let at = c.block_number as u64;
                let now = self.block_hash(at).await?;
                if now.map(|h| format!("{h:#x}")) != Some(c.block_hash.clone()) {
                    error!(
                        block = at,
                        "the chain reorganised below the confirmation depth; the vault indexer stops"
                    );
                    metrics::counter!("imo_chain_deep_reorgs_total").increment(1);
                    return Err(OracleError::Chain(format!(
                        "block {at} changed after it was indexed with {confirmations} confirmations: \
                         a reorg deeper than chain.confirmations; raise it and re-index"
                    )));
                }
                at + 1
            }
            None => self.inner.deployment.block_number(),
        };
        if from > safe {
            return Ok(IndexReport {
                from_block: from,
                to_block: safe,
                ..Default::default()
            });
        }
        let to = safe.min(from + self.inner.cfg.index_batch_blocks.max(1) - 1);
        let filter = Filter::new()
            .address(self.inner.deployment.vault.0)
            .from_block(from)
            .to_block(to);
        let mut logs = self
            .inner
            .provider
            .get_logs(&filter)
            .await
            .map_err(|e| self.err("reading vault logs", e))?;
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        let mut report = IndexReport {
            from_block: from,
            to_block: to,
            ..Default::default()
        };
        for log in &logs {
            let Some((event, account, amount, effect)) = event_effect(log) else {
                continue;
            };
            let (Some(tx), Some(index), Some(block), Some(hash)) = (
                log.transaction_hash,
                log.log_index,
                log.block_number,
                log.block_hash,
            ) else {
                continue;
            };
            let applied = self
                .inner
                .ledger
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
                metrics::counter!("imo_chain_vault_events_total", "event" => event).increment(1);
                report.applied += 1;
            } else {
                report.skipped += 1;
            }
        }
        let to_hash = self
            .block_hash(to)
            .await?
            .ok_or_else(|| self.err("reading a block hash", format!("block {to} missing")))?;
        chain_cursors::save(db, VAULT_CURSOR, to, to_hash).await?;
        metrics::gauge!("imo_chain_indexed_block").set(to as f64);
        Ok(report)
    }

    /// Accepts a client's EIP-712 `SpendingCap` signature (ECDSA; contract wallets submit
    /// theirs to the vault directly) and submits it to the vault. The cap counts for metering
    /// once the vault's `SpendingCapSet` event is indexed.
    #[instrument(skip_all, fields(client = %client))]
    pub async fn submit_cap(
        &self,
        client: Address,
        cap: Wei,
        deadline: u64,
        signature: &str,
    ) -> Result<CapView> {
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
        let domain = vault_domain(self.inner.cfg.chain_id, self.inner.deployment.vault.0);
        let digest = typed.eip712_signing_hash(&domain);
        let signer = sig
            .recover_address_from_prehash(&digest)
            .map_err(|e| OracleError::InvalidInput(format!("signature does not recover: {e}")))?;
        if signer != client.0 {
            return Err(OracleError::InvalidInput(format!(
                "the SpendingCap is signed by {signer}, not by the client {client}"
            )));
        }
        let (_, chain_time) = self.head().await?;
        if deadline < chain_time + 60 {
            return Err(OracleError::InvalidInput(format!(
                "deadline {deadline} is past or less than a minute ahead of the chain's time {chain_time}"
            )));
        }
        let current = self.inner.ledger.balance(client).await?.cap_wei;
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
            .inner
            .txm
            .submit(
                &key,
                "cap",
                self.inner.deployment.vault.0,
                Bytes::from(call.abi_encode()),
                U256::ZERO,
            )
            .await?;
        spending_caps::Entity::insert(spending_caps::ActiveModel {
            id: Set(format!("{}:{}", client.storage_key(), cap.0)),
            client: Set(client.storage_key()),
            cap_wei: Set(cap.0.to_string()),
            deadline: Set(deadline as i64),
            signature: Set(signature.to_owned()),
            intent_key: Set(key),
            created_at_ms: Set(now_ms()),
        })
        .on_conflict(
            OnConflict::column(spending_caps::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.inner.db)
        .await?;
        info!(cap = cap.0, deadline, "spending cap accepted");
        Ok(CapView {
            client,
            cap_wei: cap,
            deadline,
            transaction: Some(intent),
        })
    }
}
