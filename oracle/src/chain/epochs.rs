//! Epochs (the `epochs` job): close, attest with bond, answer challenges, unwind and
//! re-attest a voided attestation, finalize after the window; plus the receipt proofs and
//! revenue reads built on them.
//!
//! An epoch's state in the `epochs` table moves `closed` → `attesting` → `attested` →
//! `finalizing` → `finalized`; a voided attestation goes `voided` → `unwinding` → `closed`
//! (next round, tree rebuilt). `attest_failed` is terminal and needs an operator (the intent's
//! error says why: e.g. a client withdrew before its spend was attested). Every transition is
//! re-derived on each pass from the database, the transaction manager's intents and the
//! contract's `getAttestation`, so a pass may stop anywhere and the next one goes on.

use std::sync::Arc;

use alloy::{
    primitives::{Address as EthAddress, B256, Bytes, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::{SolCall, SolEvent},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Query,
};
use serde::Serialize;
use tracing::{error, info, instrument, warn};

use super::{
    bindings::UsageOracle,
    service::ChainLoop,
    tree::{ClientTotal, LeafData, ModelTotal, ReceiptTree, receipt_hash},
    txm::IntentState,
};
use crate::{
    db::{challenges, epochs, model_tokens, payouts, receipts},
    error::{OracleError, Result},
    ledger::receipt_from_row,
    receipts::ReceiptRecord,
    registry::ModelRecord,
    types::{Address, now_ms},
};

const ORACLE_CURSOR: &str = "oracle";

/// What one pass of the `epochs` job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EpochReport {
    pub closed: Vec<u64>,
    pub attest_sent: Vec<u64>,
    pub attested: Vec<u64>,
    pub finalize_sent: Vec<u64>,
    pub finalized: Vec<u64>,
    pub voided: Vec<u64>,
    pub reopened: Vec<u64>,
    pub challenges_seen: Vec<u64>,
    pub challenges_answered: Vec<u64>,
}

/// An epoch as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EpochView {
    pub epoch: u64,
    pub round: u32,
    pub state: String,
    pub root: String,
    pub count: u64,
    pub total_wei: String,
    pub fee_bps: u16,
    pub posted_at: Option<u64>,
    pub models: Vec<ModelTotal>,
    pub clients: Vec<ClientTotal>,
}

/// What a client needs to check its receipt on-chain (`UsageOracle.computeRoot(leafHash(leaf),
/// index, proof) == root`), or to answer or raise a challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptProof {
    pub receipt: ReceiptRecord,
    pub epoch: u64,
    pub round: u32,
    /// The epoch's state (`closed` … `finalized`).
    pub state: String,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payout {
    pub epoch: u64,
    pub round: u32,
    pub amount_wei: String,
    pub snapshot_id: u64,
    pub tx_hash: String,
    pub block_number: u64,
}

/// Revenue attested but not yet paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingRevenue {
    pub epoch: u64,
    pub state: String,
    /// Before the operator's fee.
    pub gross_wei: String,
}

/// A model's revenue: what each finalized epoch paid its token, and what is pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revenue {
    pub model_id: String,
    pub weights_root: String,
    pub token_address: Option<String>,
    pub paid: Vec<Payout>,
    pub total_paid_wei: String,
    pub pending: Vec<PendingRevenue>,
}

/// A holder's claimable revenue in one model's token, read from the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenClaim {
    pub model_id: String,
    pub symbol: String,
    pub token_address: String,
    pub balance: String,
    /// Snapshot ids with something to claim, and how much.
    pub snapshots: Vec<(u64, String)>,
    pub claimable_wei: String,
    /// What burning the whole balance would pay from the redeem pool.
    pub redeemable_on_burn_wei: String,
}

/// A holder's claimable revenue over every tokenized model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claimable {
    pub holder: Address,
    pub tokens: Vec<TokenClaim>,
    pub total_claimable_wei: String,
}

fn to_sol_models(m: &[ModelTotal]) -> Vec<UsageOracle::ModelTotal> {
    m.iter()
        .map(|m| UsageOracle::ModelTotal {
            model: m.model,
            total: m.total,
            last: m.last,
        })
        .collect()
}

fn to_sol_clients(c: &[ClientTotal]) -> Vec<UsageOracle::ClientTotal> {
    c.iter()
        .map(|c| UsageOracle::ClientTotal {
            client: c.client,
            total: c.total,
            last: c.last,
        })
        .collect()
}

/// A receipt as the UsageOracle's ABI takes it (the same struct, generated from the ABI).
pub fn sol_receipt(r: &crate::receipts::Receipt) -> UsageOracle::Receipt {
    UsageOracle::Receipt {
        id: r.id,
        epoch: r.epoch,
        model: r.model,
        client: r.client,
        price: r.price,
        inputHash: r.inputHash,
        outputHash: r.outputHash,
        fingerprint: r.fingerprint,
        timestamp: r.timestamp,
    }
}

/// The contract's `LeafProof` for leaf `index` of `tree`.
pub fn leaf_proof(tree: &ReceiptTree, index: usize) -> UsageOracle::LeafProof {
    let LeafData {
        receipt: r,
        model_prev,
        model_cum,
        client_prev,
        client_cum,
    } = tree.leaf(index).clone();
    UsageOracle::LeafProof {
        leaf: UsageOracle::Leaf {
            receipt: sol_receipt(&r),
            modelPrev: model_prev,
            modelCum: model_cum,
            clientPrev: client_prev,
            clientCum: client_cum,
        },
        index: index as u64,
        proof: tree.proof(index),
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> OracleError {
    OracleError::Database(format!("corrupt {what}: {e}"))
}

pub(super) fn epoch_view(row: &epochs::Model) -> Result<EpochView> {
    Ok(EpochView {
        epoch: row.epoch as u64,
        round: row.round as u32,
        state: row.state.clone(),
        root: row.root.clone(),
        count: row.count as u64,
        total_wei: row.total_wei.clone(),
        fee_bps: row.fee_bps as u16,
        posted_at: row.posted_at.map(|p| p as u64),
        models: serde_json::from_str(&row.models_json).map_err(|e| corrupt("models list", e))?,
        clients: serde_json::from_str(&row.clients_json).map_err(|e| corrupt("clients list", e))?,
    })
}

impl ChainLoop {
    /// One pass of the `epochs` job.
    #[instrument(skip_all)]
    pub async fn epochs(&self) -> Result<EpochReport> {
        let _pass = self.inner.epochs_lock.lock().await;
        let mut report = EpochReport::default();
        self.close_due(&mut report).await?;
        self.advance(&mut report).await?;
        self.answer_challenges(&mut report).await?;
        Ok(report)
    }

    /// The receipts of `epoch` since the deployment, in id order (the tree's leaf order), as
    /// signed.
    async fn epoch_receipts(&self, epoch: u64) -> Result<Vec<ReceiptRecord>> {
        receipts::Entity::find()
            .filter(receipts::Column::Epoch.eq(epoch as i64))
            .filter(receipts::Column::TimestampMs.gte(self.inner.deployment.created_at_ms))
            .order_by_asc(receipts::Column::Id)
            .all(&self.inner.db)
            .await?
            .into_iter()
            .map(receipt_from_row)
            .collect()
    }

    /// The tree of `epoch` as attested in `round` (round 1 omits the last receipt when the
    /// test-only `omit-last-receipt` fault is on).
    async fn build_tree(&self, epoch: u64, omit_last: bool) -> Result<(ReceiptTree, usize)> {
        let records = self.epoch_receipts(epoch).await?;
        let mut typed = records
            .iter()
            .map(ReceiptRecord::typed)
            .collect::<Result<Vec<_>>>()?;
        let mut omitted = 0;
        if omit_last && typed.len() > 1 {
            typed.pop();
            omitted = 1;
        }
        Ok((ReceiptTree::build(typed)?, omitted))
    }

    async fn tree_for(&self, row: &epochs::Model) -> Result<Arc<ReceiptTree>> {
        let epoch = row.epoch as u64;
        if let Some(t) = self.inner.trees.lock().expect("tree cache").get(&epoch)
            && format!("{:#x}", t.root()) == row.root
        {
            return Ok(t.clone());
        }
        let (tree, _) = self.build_tree(epoch, row.omitted > 0).await?;
        if format!("{:#x}", tree.root()) != row.root {
            return Err(OracleError::Database(format!(
                "the receipts of epoch {epoch} no longer give the root {} that was closed",
                row.root
            )));
        }
        let tree = Arc::new(tree);
        let mut cache = self.inner.trees.lock().expect("tree cache");
        if cache.len() >= 8
            && let Some(oldest) = cache.keys().min().copied()
        {
            cache.remove(&oldest);
        }
        cache.insert(epoch, tree.clone());
        Ok(tree)
    }

    /// Closes every epoch that ended more than `epoch_grace_secs` ago and has receipts.
    async fn close_due(&self, report: &mut EpochReport) -> Result<()> {
        let secs = self.inner.epoch_secs;
        let now_s = (now_ms() / 1000) as u64;
        let Some(last) =
            (now_s.saturating_sub(self.inner.cfg.epoch_grace_secs) / secs).checked_sub(1)
        else {
            return Ok(());
        };
        let due: Vec<i64> = receipts::Entity::find()
            .select_only()
            .column(receipts::Column::Epoch)
            .distinct()
            .filter(receipts::Column::Epoch.lte(last as i64))
            // Receipts from before the deployment (chain loop off, other domain) are not
            // settled on it.
            .filter(receipts::Column::TimestampMs.gte(self.inner.deployment.created_at_ms))
            .filter(
                receipts::Column::Epoch.not_in_subquery(
                    Query::select()
                        .column(epochs::Column::Epoch)
                        .from(epochs::Entity)
                        .to_owned(),
                ),
            )
            .order_by_asc(receipts::Column::Epoch)
            .into_tuple()
            .all(&self.inner.db)
            .await?;
        for epoch in due {
            let epoch = epoch as u64;
            self.inner.ledger.freeze(epoch).await?;
            let omit = self.inner.faults.omit_last_receipt;
            let (tree, omitted) = self.build_tree(epoch, omit).await?;
            let now = now_ms();
            epochs::ActiveModel {
                epoch: Set(epoch as i64),
                round: Set(1),
                state: Set("closed".into()),
                root: Set(format!("{:#x}", tree.root())),
                count: Set(tree.len() as i64),
                total_wei: Set(tree.total().to_string()),
                fee_bps: Set(self.inner.cfg.fee_bps as i32),
                models_json: Set(serde_json::to_string(tree.models()).expect("serialisable")),
                clients_json: Set(serde_json::to_string(tree.clients()).expect("serialisable")),
                omitted: Set(omitted as i32),
                attest_key: Set(None),
                posted_at: Set(None),
                finalize_key: Set(None),
                created_at_ms: Set(now),
                updated_at_ms: Set(now),
            }
            .insert(&self.inner.db)
            .await?;
            if omitted > 0 {
                warn!(
                    epoch,
                    "TEST-ONLY FAULT: the epoch's last receipt is left out of its tree"
                );
            }
            info!(epoch, root = %tree.root(), receipts = tree.len(), total_wei = %tree.total(), models = tree.models().len(), clients = tree.clients().len(), "epoch closed");
            self.inner
                .trees
                .lock()
                .expect("tree cache")
                .insert(epoch, Arc::new(tree));
            report.closed.push(epoch);
        }
        Ok(())
    }

    /// Records an intent to call the UsageOracle with `call` (and `value` wei) under `key`.
    async fn queue_oracle_call(
        &self,
        key: &str,
        kind: &str,
        call: impl SolCall,
        value: U256,
    ) -> Result<()> {
        self.inner
            .txm
            .submit(
                key,
                kind,
                self.inner.deployment.oracle.0,
                Bytes::from(call.abi_encode()),
                value,
            )
            .await
            .map(|_| ())
    }

    async fn set_state(
        &self,
        row: &epochs::Model,
        state: &str,
        f: impl FnOnce(&mut epochs::ActiveModel),
    ) -> Result<epochs::Model> {
        let mut am: epochs::ActiveModel = row.clone().into();
        am.state = Set(state.into());
        am.updated_at_ms = Set(now_ms());
        f(&mut am);
        Ok(am.update(&self.inner.db).await?)
    }

    async fn attestation(&self, epoch: u64) -> Result<UsageOracle::Attestation> {
        self.oracle()
            .getAttestation(epoch)
            .call()
            .await
            .map_err(|e| self.err("reading UsageOracle.getAttestation", e))
    }

    /// Moves every open epoch one step where it can.
    async fn advance(&self, report: &mut EpochReport) -> Result<()> {
        let rows = epochs::Entity::find()
            .filter(epochs::Column::State.is_in([
                "closed",
                "attesting",
                "attested",
                "finalizing",
                "voided",
                "unwinding",
            ]))
            .order_by_asc(epochs::Column::Epoch)
            .all(&self.inner.db)
            .await?;
        let txm = &self.inner.txm;
        for row in rows {
            let epoch = row.epoch as u64;
            let round = row.round as u32;
            let view = epoch_view(&row)?;
            match row.state.as_str() {
                "closed" => {
                    let key = format!("attest:{epoch}:{round}");
                    let call = UsageOracle::attestCall {
                        epoch,
                        root: row.root.parse().map_err(|e| corrupt("epoch root", e))?,
                        count: row.count as u64,
                        feeBps: row.fee_bps as u16,
                        models: to_sol_models(&view.models),
                        clients: to_sol_clients(&view.clients),
                    };
                    self.queue_oracle_call(&key, "attest", call, self.inner.attest_bond)
                        .await?;
                    self.set_state(&row, "attesting", |am| {
                        am.attest_key = Set(Some(key.clone()))
                    })
                    .await?;
                    info!(epoch, round, key, bond_wei = %self.inner.attest_bond, "attestation queued");
                    report.attest_sent.push(epoch);
                }
                "attesting" => {
                    let key = row.attest_key.clone().unwrap_or_default();
                    let Some(intent) = txm.get(&key).await? else {
                        continue;
                    };
                    match intent.state {
                        IntentState::Final => {
                            let a = self.attestation(epoch).await?;
                            self.set_state(&row, "attested", |am| {
                                am.posted_at = Set(Some(a.postedAt as i64));
                            })
                            .await?;
                            info!(epoch, round, tx = ?intent.tx_hash, gas = ?intent.gas_used, posted_at = a.postedAt, "epoch attested");
                            report.attested.push(epoch);
                        }
                        IntentState::Failed => {
                            error!(epoch, round, error = ?intent.error, "attestation failed: the epoch needs an operator");
                            self.set_state(&row, "attest_failed", |_| {}).await?;
                        }
                        _ => {}
                    }
                }
                "attested" => {
                    let a = self.attestation(epoch).await?;
                    match a.status {
                        // Voided
                        2 => {
                            warn!(epoch, round, "attestation voided by a challenge");
                            self.set_state(&row, "voided", |_| {}).await?;
                            report.voided.push(epoch);
                        }
                        // Finalized (by anyone)
                        3 => {
                            self.record_payouts(epoch, round).await?;
                            self.set_state(&row, "finalized", |_| {}).await?;
                            report.finalized.push(epoch);
                        }
                        1 if a.round == round => {
                            let (_, chain_time) = self.head().await?;
                            let ends = a.postedAt + self.inner.challenge_window;
                            if chain_time < ends || a.openChallenges != 0 {
                                continue;
                            }
                            let key = format!("finalize:{epoch}:{round}");
                            match txm.get(&key).await? {
                                Some(i) if i.state == IntentState::Failed => {
                                    txm.retry(&key).await?;
                                }
                                Some(_) => {}
                                None => {
                                    let call = UsageOracle::finalizeCall {
                                        epoch,
                                        models: to_sol_models(&view.models),
                                    };
                                    self.queue_oracle_call(&key, "finalize", call, U256::ZERO)
                                        .await?;
                                }
                            }
                            self.set_state(&row, "finalizing", |am| {
                                am.finalize_key = Set(Some(key.clone()))
                            })
                            .await?;
                            info!(epoch, round, key, "finalize queued");
                            report.finalize_sent.push(epoch);
                        }
                        _ => {}
                    }
                }
                "finalizing" => {
                    let key = row.finalize_key.clone().unwrap_or_default();
                    let Some(intent) = txm.get(&key).await? else {
                        continue;
                    };
                    match intent.state {
                        IntentState::Final => {
                            self.record_payouts(epoch, round).await?;
                            self.set_state(&row, "finalized", |_| {}).await?;
                            info!(epoch, round, tx = ?intent.tx_hash, gas = ?intent.gas_used, "epoch finalized");
                            report.finalized.push(epoch);
                        }
                        IntentState::Failed => {
                            // Someone else finalized, a challenge opened, or it was voided:
                            // look again from `attested`.
                            warn!(epoch, error = ?intent.error, "finalize failed; re-checking the attestation");
                            self.set_state(&row, "attested", |_| {}).await?;
                        }
                        _ => {}
                    }
                }
                "voided" => {
                    let key = format!("unwind:{epoch}:{round}");
                    let call = UsageOracle::unwindCall {
                        epoch,
                        clients: to_sol_clients(&view.clients),
                    };
                    self.queue_oracle_call(&key, "unwind", call, U256::ZERO)
                        .await?;
                    self.set_state(&row, "unwinding", |am| {
                        am.attest_key = Set(Some(key.clone()))
                    })
                    .await?;
                }
                "unwinding" => {
                    let key = format!("unwind:{epoch}:{round}");
                    let Some(intent) = txm.get(&key).await? else {
                        continue;
                    };
                    let unwound = match intent.state {
                        IntentState::Final => true,
                        IntentState::Failed => self.attestation(epoch).await?.status == 0,
                        _ => false,
                    };
                    if !unwound {
                        continue;
                    }
                    // A corrected attestation, next round: the tree of every receipt.
                    let (tree, _) = self.build_tree(epoch, false).await?;
                    self.set_state(&row, "closed", |am| {
                        am.round = Set(row.round + 1);
                        am.root = Set(format!("{:#x}", tree.root()));
                        am.count = Set(tree.len() as i64);
                        am.total_wei = Set(tree.total().to_string());
                        am.models_json =
                            Set(serde_json::to_string(tree.models()).expect("serialisable"));
                        am.clients_json =
                            Set(serde_json::to_string(tree.clients()).expect("serialisable"));
                        am.omitted = Set(0);
                        am.attest_key = Set(None);
                        am.posted_at = Set(None);
                        am.finalize_key = Set(None);
                    })
                    .await?;
                    self.inner
                        .trees
                        .lock()
                        .expect("tree cache")
                        .insert(epoch, Arc::new(tree));
                    info!(
                        epoch,
                        round = round + 1,
                        "voided attestation unwound; re-attesting the corrected tree"
                    );
                    report.reopened.push(epoch);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Records what `finalize` paid each model's token (`ModelPaid` logs of `epoch`).
    async fn record_payouts(&self, epoch: u64, round: u32) -> Result<()> {
        let filter = Filter::new()
            .address(self.inner.deployment.oracle.0)
            .event_signature(UsageOracle::ModelPaid::SIGNATURE_HASH)
            .topic1(U256::from(epoch))
            .from_block(self.inner.deployment.block_number());
        let logs = self
            .inner
            .provider
            .get_logs(&filter)
            .await
            .map_err(|e| self.err("reading ModelPaid logs", e))?;
        for log in logs {
            let Ok(e) = UsageOracle::ModelPaid::decode_log(&log.inner) else {
                continue;
            };
            let root = format!("{:#x}", e.model);
            let row = payouts::ActiveModel {
                id: Set(format!("{epoch}:{root}")),
                epoch: Set(epoch as i64),
                round: Set(round as i32),
                weights_root: Set(root.trim_start_matches("0x").to_owned()),
                token: Set(Address(e.token).storage_key()),
                amount_wei: Set(e.amount.to_string()),
                snapshot_id: Set(u64::try_from(e.snapshotId).unwrap_or(u64::MAX) as i64),
                tx_hash: Set(log
                    .transaction_hash
                    .map(|h| format!("{h:#x}"))
                    .unwrap_or_default()),
                block_number: Set(log.block_number.unwrap_or_default() as i64),
                created_at_ms: Set(now_ms()),
            };
            payouts::Entity::insert(row)
                .on_conflict(
                    sea_orm::sea_query::OnConflict::column(payouts::Column::Id)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&self.inner.db)
                .await?;
            info!(epoch, model = %e.model, token = %e.token, amount_wei = %e.amount, snapshot = %e.snapshotId, "model paid");
        }
        Ok(())
    }

    /// Reads new challenges against our attestations and answers each with its leaf's proof.
    async fn answer_challenges(&self, report: &mut EpochReport) -> Result<()> {
        use crate::db::chain_cursors;
        let db = &self.inner.db;
        let (head, _) = self.head().await?;
        let cursor = chain_cursors::Entity::find_by_id(ORACLE_CURSOR.to_owned())
            .one(db)
            .await?;
        let from = cursor.map_or(self.inner.deployment.block_number(), |c| {
            c.block_number as u64 + 1
        });
        if from <= head {
            let filter = Filter::new()
                .address(self.inner.deployment.oracle.0)
                .event_signature(vec![
                    UsageOracle::ReceiptChallenged::SIGNATURE_HASH,
                    UsageOracle::LeafChallenged::SIGNATURE_HASH,
                ])
                .from_block(from)
                .to_block(head);
            let logs = self
                .inner
                .provider
                .get_logs(&filter)
                .await
                .map_err(|e| self.err("reading challenge logs", e))?;
            for log in logs {
                let now = now_ms();
                let row = if let Ok(e) = UsageOracle::ReceiptChallenged::decode_log(&log.inner) {
                    challenges::ActiveModel {
                        id: Set(u64::try_from(e.challengeId).unwrap_or(u64::MAX) as i64),
                        epoch: Set(e.epoch as i64),
                        round: Set(e.round as i32),
                        by_index: Set(false),
                        leaf_index: Set(None),
                        receipt_hash: Set(Some(format!("{:#x}", e.receiptHash))),
                        challenger: Set(Address(e.challenger).storage_key()),
                        deadline: Set(e.deadline as i64),
                        state: Set("open".into()),
                        respond_key: Set(None),
                        created_at_ms: Set(now),
                        updated_at_ms: Set(now),
                    }
                } else if let Ok(e) = UsageOracle::LeafChallenged::decode_log(&log.inner) {
                    challenges::ActiveModel {
                        id: Set(u64::try_from(e.challengeId).unwrap_or(u64::MAX) as i64),
                        epoch: Set(e.epoch as i64),
                        round: Set(e.round as i32),
                        by_index: Set(true),
                        leaf_index: Set(Some(e.index as i64)),
                        receipt_hash: Set(None),
                        challenger: Set(Address(e.challenger).storage_key()),
                        deadline: Set(e.deadline as i64),
                        state: Set("open".into()),
                        respond_key: Set(None),
                        created_at_ms: Set(now),
                        updated_at_ms: Set(now),
                    }
                } else {
                    continue;
                };
                let id = *row.id.as_ref();
                let inserted = challenges::Entity::insert(row)
                    .on_conflict(
                        sea_orm::sea_query::OnConflict::column(challenges::Column::Id)
                            .do_nothing()
                            .to_owned(),
                    )
                    .exec_without_returning(db)
                    .await?;
                if inserted > 0 {
                    warn!(challenge = id, "challenge opened against an attestation");
                    report.challenges_seen.push(id as u64);
                }
            }
            let hash = self.block_hash(head).await?.unwrap_or_default();
            chain_cursors::save(db, ORACLE_CURSOR, head, hash).await?;
        }

        let open = challenges::Entity::find()
            .filter(challenges::Column::State.is_in(["open", "answering"]))
            .order_by_asc(challenges::Column::Id)
            .all(db)
            .await?;
        for c in open {
            let id = c.id as u64;
            let mut am: challenges::ActiveModel = c.clone().into();
            am.updated_at_ms = Set(now_ms());
            if c.state == "answering" {
                let key = c.respond_key.clone().unwrap_or_default();
                match self.inner.txm.get(&key).await?.map(|i| i.state) {
                    Some(IntentState::Final) => {
                        am.state = Set("answered".into());
                        info!(challenge = id, "challenge answered with an inclusion proof");
                        report.challenges_answered.push(id);
                    }
                    Some(IntentState::Failed) => am.state = Set("failed".into()),
                    _ => continue,
                }
                am.update(db).await?;
                continue;
            }
            let epoch_row = epochs::Entity::find_by_id(c.epoch).one(db).await?;
            let Some(epoch_row) = epoch_row.filter(|e| e.round == c.round) else {
                am.state = Set("moot".into());
                am.update(db).await?;
                continue;
            };
            let tree = self.tree_for(&epoch_row).await?;
            let index = if c.by_index {
                c.leaf_index.map(|i| i as usize).filter(|i| *i < tree.len())
            } else {
                let wanted: B256 = c
                    .receipt_hash
                    .as_deref()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|e| corrupt("challenge receipt hash", e))?;
                (0..tree.len()).find(|i| receipt_hash(&tree.leaf(*i).receipt) == wanted)
            };
            let Some(index) = index else {
                error!(
                    challenge = id,
                    epoch = c.epoch,
                    "challenged receipt is not in the attested tree: the challenge is right and will be upheld"
                );
                am.state = Set("unanswerable".into());
                am.update(db).await?;
                continue;
            };
            let key = format!("respond:{id}");
            let call = UsageOracle::respondCall {
                challengeId: U256::from(id),
                p: leaf_proof(&tree, index),
            };
            self.queue_oracle_call(&key, "respond", call, U256::ZERO)
                .await?;
            am.state = Set("answering".into());
            am.respond_key = Set(Some(key));
            am.update(db).await?;
            info!(challenge = id, index, "answering a challenge");
        }
        Ok(())
    }

    /// A closed epoch.
    pub async fn epoch(&self, epoch: u64) -> Result<EpochView> {
        let row = epochs::Entity::find_by_id(epoch as i64)
            .one(&self.inner.db)
            .await?
            .ok_or_else(|| OracleError::not_found(format!("closed epoch {epoch}")))?;
        epoch_view(&row)
    }

    /// The inclusion proof of `receipt` in its epoch's attested tree.
    pub async fn receipt_proof(&self, receipt: ReceiptRecord) -> Result<ReceiptProof> {
        let epoch = receipt.epoch;
        let Some(row) = epochs::Entity::find_by_id(epoch as i64)
            .one(&self.inner.db)
            .await?
        else {
            let ends = (epoch + 1) * self.inner.epoch_secs + self.inner.cfg.epoch_grace_secs;
            return Err(OracleError::Conflict(format!(
                "epoch {epoch} is not closed yet: it closes after unix time {ends}; ask again then"
            )));
        };
        let tree = self.tree_for(&row).await?;
        let typed = receipt.typed()?;
        let index = tree.index_of(typed.id).ok_or_else(|| {
            OracleError::not_found(format!(
                "receipt {} in the tree of epoch {epoch} round {} (it was left out: challenge the attestation with it)",
                receipt.id, row.round
            ))
        })?;
        let leaf = tree.leaf(index).clone();
        Ok(ReceiptProof {
            epoch,
            round: row.round as u32,
            state: row.state.clone(),
            index: index as u64,
            count: tree.len() as u64,
            root: tree.root(),
            receipt_hash: receipt_hash(&leaf.receipt),
            model_prev: leaf.model_prev,
            model_cum: leaf.model_cum,
            client_prev: leaf.client_prev,
            client_cum: leaf.client_cum,
            leaf_hash: tree.leaf_hash_at(index),
            proof: tree.proof(index),
            receipt,
        })
    }

    /// A model's revenue: finalized payouts and attested epochs still in their window.
    pub async fn revenue(&self, model: &ModelRecord) -> Result<Revenue> {
        let db = &self.inner.db;
        let token = model_tokens::Entity::find_by_id(model.id.clone())
            .one(db)
            .await?
            .and_then(|t| t.token_address);
        let rows = payouts::Entity::find()
            .filter(payouts::Column::WeightsRoot.eq(model.weights_root.clone()))
            .order_by_asc(payouts::Column::Epoch)
            .all(db)
            .await?;
        let mut total = U256::ZERO;
        let mut paid = Vec::with_capacity(rows.len());
        for r in rows {
            total += r
                .amount_wei
                .parse::<U256>()
                .map_err(|e| corrupt("payout", e))?;
            paid.push(Payout {
                epoch: r.epoch as u64,
                round: r.round as u32,
                amount_wei: r.amount_wei,
                snapshot_id: r.snapshot_id as u64,
                tx_hash: r.tx_hash,
                block_number: r.block_number as u64,
            });
        }
        let root: B256 = model
            .weights_root
            .parse()
            .map_err(|e| corrupt("weights root", e))?;
        let mut pending = vec![];
        for row in epochs::Entity::find()
            .filter(epochs::Column::State.ne("finalized"))
            .order_by_asc(epochs::Column::Epoch)
            .all(db)
            .await?
        {
            let view = epoch_view(&row)?;
            if let Some(m) = view.models.iter().find(|m| m.model == root) {
                pending.push(PendingRevenue {
                    epoch: view.epoch,
                    state: view.state,
                    gross_wei: m.total.to_string(),
                });
            }
        }
        Ok(Revenue {
            model_id: model.id.clone(),
            weights_root: model.weights_root.clone(),
            token_address: token,
            paid,
            total_paid_wei: total.to_string(),
            pending,
        })
    }

    /// What `holder` can claim in every tokenized model's token, read from the chain.
    pub async fn claimable(&self, holder: Address) -> Result<Claimable> {
        use super::bindings::ModelToken;
        let rows = model_tokens::Entity::find()
            .filter(model_tokens::Column::State.eq("tokenized"))
            .order_by_asc(model_tokens::Column::CreatedAtMs)
            .all(&self.inner.db)
            .await?;
        let p = &self.inner.provider;
        let mut tokens = vec![];
        let mut total = U256::ZERO;
        for row in rows {
            let Some(addr) = row.token_address.as_deref() else {
                continue;
            };
            let addr: EthAddress = addr.parse().map_err(|e| corrupt("token address", e))?;
            let token = ModelToken::new(addr, p);
            let read = |what: &'static str| move |e| self.err(what, e);
            let balance = token
                .balanceOf(holder.0)
                .call()
                .await
                .map_err(read("reading ModelToken.balanceOf"))?;
            let found = super::tokens::claimable_snapshots(p, addr, holder.0)
                .await
                .map_err(read("reading ModelToken.claimableRevenue"))?;
            let claimable: U256 = found.iter().map(|(_, c)| *c).sum();
            let snapshots = found.into_iter().map(|(s, c)| (s, c.to_string())).collect();
            let redeemable = if balance.is_zero() {
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
                token_address: row.token_address.unwrap_or_default(),
                balance: balance.to_string(),
                snapshots,
                claimable_wei: claimable.to_string(),
                redeemable_on_burn_wei: redeemable.to_string(),
            });
        }
        Ok(Claimable {
            holder,
            tokens,
            total_claimable_wei: total.to_string(),
        })
    }
}
