//! What the chain loop lets clients, publishers and holders read: a closed epoch, a receipt's
//! inclusion proof, a model's revenue, a holder's claimable revenue (from the chain). Typed
//! records (amounts as `U256`); the HTTP layer maps them to its DTOs.

use std::sync::Arc;

use alloy::primitives::{Address as EthAddress, B256, U256};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{
    epochs::{EpochMachine, EpochRecord},
    service::ChainContext,
    state::{EpochPhase, EpochState, TokenState},
    tree::{ClientTotal, ModelTotal},
};
use crate::{
    auth::Principal,
    db::{epochs, model_tokens, payouts},
    error::{OracleError, Result},
    receipts::ReceiptRecord,
    registry::ModelRecord,
    types::Address,
};

/// A closed epoch as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochView {
    pub epoch: u64,
    pub round: u32,
    pub phase: EpochPhase,
    pub root: B256,
    pub count: u64,
    pub total: U256,
    pub fee_bps: u16,
    pub posted_at: Option<u64>,
    pub shortfall: U256,
    pub models: Vec<ModelTotal>,
    pub clients: Vec<ClientTotal>,
}

/// What a client needs to check its receipt on-chain (`UsageOracle.computeRoot(leafHash(leaf),
/// index, proof) == root`), or to answer or raise a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptProof {
    pub receipt: ReceiptRecord,
    pub epoch: u64,
    pub round: u32,
    pub phase: EpochPhase,
    pub index: u64,
    pub count: u64,
    pub root: B256,
    /// EIP-712 struct hash of the receipt (the leaf's first field).
    pub receipt_hash: B256,
    pub model_prev: u64,
    pub model_cum: U256,
    pub client_prev: u64,
    pub client_cum: U256,
    pub leaf_hash: B256,
    /// Sibling hashes, bottom-up.
    pub proof: Vec<B256>,
}

/// One finalized payment to a model's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub epoch: u64,
    pub round: u32,
    pub amount: U256,
    pub snapshot_id: u64,
    pub tx_hash: B256,
    pub block_number: u64,
}

/// Revenue attested but not yet paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRevenue {
    pub epoch: u64,
    pub phase: EpochPhase,
    /// Before the operator's fee.
    pub gross: U256,
}

/// A model's revenue: what each finalized epoch paid its token, and what is pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revenue {
    pub model_id: String,
    pub weights_root: String,
    pub token_address: Option<Address>,
    pub paid: Vec<Payout>,
    pub total_paid: U256,
    pub pending: Vec<PendingRevenue>,
}

/// A holder's claimable revenue in one model's token, read from the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaim {
    pub model_id: String,
    pub symbol: String,
    pub token_address: Address,
    pub balance: U256,
    /// Snapshot ids with something to claim, and how much.
    pub snapshots: Vec<(u64, U256)>,
    pub claimable: U256,
    /// What burning the whole balance would pay from the redeem pool.
    pub redeemable_on_burn: U256,
}

/// A holder's claimable revenue over every tokenized model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimable {
    pub holder: Address,
    pub tokens: Vec<TokenClaim>,
    pub total_claimable: U256,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> OracleError {
    OracleError::Database(format!("corrupt {what}: {e}"))
}

/// Reads over the chain loop's state and the chain.
pub struct ChainReads {
    ctx: Arc<ChainContext>,
}

impl ChainReads {
    pub fn new(ctx: Arc<ChainContext>) -> Self {
        Self { ctx }
    }

    pub(super) fn ctx(&self) -> &ChainContext {
        &self.ctx
    }

    /// A closed epoch (`not_found` before it closes).
    pub async fn epoch(&self, machine: &EpochMachine, epoch: u64) -> Result<EpochView> {
        let rec = machine
            .record(epoch)
            .await?
            .ok_or_else(|| OracleError::NotFound {
                what: format!("closed epoch {epoch}"),
            })?;
        self.view(machine, rec).await
    }

    /// How a closed epoch's record looks from outside.
    pub(super) async fn view(&self, machine: &EpochMachine, rec: EpochRecord) -> Result<EpochView> {
        Ok(EpochView {
            phase: machine.phase(&rec).await?,
            epoch: rec.epoch,
            round: rec.round,
            root: rec.root,
            count: rec.count,
            total: rec.total,
            fee_bps: rec.fee_bps,
            posted_at: rec.posted_at,
            shortfall: rec.shortfall,
            models: rec.models,
            clients: rec.clients,
        })
    }

    /// The inclusion proof of the caller's receipt `id` in its epoch's attested tree: only its
    /// client (or an admin) may ask.
    pub async fn receipt_proof(
        &self,
        machine: &EpochMachine,
        by: &Principal,
        receipt: ReceiptRecord,
    ) -> Result<ReceiptProof> {
        if receipt.client != by.address && !by.is_admin() {
            return Err(OracleError::NotFound {
                what: format!("receipt {}", receipt.id),
            });
        }
        let epoch = receipt.epoch;
        let Some(rec) = machine.record(epoch).await? else {
            let ends = self.ctx.epochs.end_secs(epoch) + self.ctx.cfg.epoch_grace_secs;
            return Err(OracleError::Conflict(format!(
                "epoch {epoch} is not closed yet: it closes after unix time {ends}; ask again then"
            )));
        };
        let tree = machine.tree(&rec).await?;
        let typed = receipt.typed()?;
        let index = tree.index_of(typed.id).ok_or_else(|| {
            OracleError::not_found(format!(
                "receipt {} in the tree of epoch {epoch} round {} (it was left out: challenge the attestation with it)",
                receipt.id, rec.round
            ))
        })?;
        let leaf = tree.leaf(index).clone();
        Ok(ReceiptProof {
            epoch,
            round: rec.round,
            phase: machine.phase(&rec).await?,
            index: index as u64,
            count: tree.len() as u64,
            root: tree.root(),
            receipt_hash: super::tree::receipt_hash(&leaf.receipt),
            model_prev: leaf.model_prev,
            model_cum: leaf.model_cum,
            client_prev: leaf.client_prev,
            client_cum: leaf.client_cum,
            leaf_hash: tree.leaf_hash_at(index),
            proof: tree.proof(index),
            receipt,
        })
    }

    /// A model's revenue: finalized payouts and attested epochs not finalized yet.
    pub async fn revenue(&self, machine: &EpochMachine, model: &ModelRecord) -> Result<Revenue> {
        let db = &self.ctx.db;
        let token = model_tokens::Entity::find_by_id(model.id.clone())
            .one(db)
            .await?
            .and_then(|t| t.token_address)
            .map(|a| a.parse::<Address>())
            .transpose()?;
        let rows = payouts::Entity::find()
            .filter(payouts::Column::WeightsRoot.eq(model.weights_root.clone()))
            .order_by_asc(payouts::Column::Epoch)
            .all(db)
            .await?;
        let mut total = U256::ZERO;
        let mut paid = Vec::with_capacity(rows.len());
        for r in rows {
            let amount: U256 = r.amount_wei.parse().map_err(|e| corrupt("payout", e))?;
            total = total
                .checked_add(amount)
                .ok_or_else(|| corrupt("payouts", "their sum overflows"))?;
            paid.push(Payout {
                epoch: r.epoch as u64,
                round: r.round as u32,
                amount,
                snapshot_id: r.snapshot_id as u64,
                tx_hash: r
                    .tx_hash
                    .parse()
                    .map_err(|e| corrupt("payout tx hash", e))?,
                block_number: r.block_number as u64,
            });
        }
        let root: B256 = model
            .weights_root
            .parse()
            .map_err(|e| corrupt("weights root", e))?;
        let mut pending = vec![];
        for row in epochs::Entity::find()
            .filter(epochs::Column::State.ne(EpochState::Finalized.as_str()))
            .order_by_asc(epochs::Column::Epoch)
            .all(db)
            .await?
        {
            let rec = EpochRecord::try_from(&row)?;
            if let Some(m) = rec.models.iter().find(|m| m.model == root) {
                pending.push(PendingRevenue {
                    epoch: rec.epoch,
                    gross: m.total,
                    phase: machine.phase(&rec).await?,
                });
            }
        }
        Ok(Revenue {
            model_id: model.id.clone(),
            weights_root: model.weights_root.clone(),
            token_address: token,
            paid,
            total_paid: total,
            pending,
        })
    }

    /// What `holder` can claim in every tokenized model's token, read from the chain.
    pub async fn claimable(&self, holder: Address) -> Result<Claimable> {
        use super::bindings::ModelToken;
        let rows = model_tokens::Entity::find()
            .filter(model_tokens::Column::State.eq(TokenState::Tokenized.as_str()))
            .order_by_asc(model_tokens::Column::CreatedAtMs)
            .all(&self.ctx.db)
            .await?;
        let p = &self.ctx.provider;
        let mut tokens = vec![];
        let mut total = U256::ZERO;
        for row in rows {
            let Some(addr) = row.token_address.as_deref() else {
                continue;
            };
            let addr: EthAddress = addr.parse().map_err(|e| corrupt("token address", e))?;
            let token = ModelToken::new(addr, p);
            let read = |what: &'static str| move |e| self.ctx.err(what, e);
            let balance = token
                .balanceOf(holder.0)
                .call()
                .await
                .map_err(read("reading ModelToken.balanceOf"))?;
            let snapshots = super::tokens::claimable_snapshots(p, addr, holder.0)
                .await
                .map_err(read("reading ModelToken.claimableRevenue"))?;
            let claimable: U256 = snapshots.iter().map(|(_, c)| *c).sum();
            let redeemable_on_burn = if balance.is_zero() {
                U256::ZERO
            } else {
                token
                    .redeemableOnBurn(balance)
                    .call()
                    .await
                    .map_err(read("reading ModelToken.redeemableOnBurn"))?
            };
            total += claimable;
            tokens.push(TokenClaim {
                model_id: row.model_id,
                symbol: row.symbol,
                token_address: Address(addr),
                balance,
                snapshots,
                claimable,
                redeemable_on_burn,
            });
        }
        Ok(Claimable {
            holder,
            tokens,
            total_claimable: total,
        })
    }
}
