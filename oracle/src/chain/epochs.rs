//! The epoch machine (the `epochs` job): close ended epochs, attest them with the bond (and the
//! cover of any shortfall), finalize them in batches after the window, answer challenges,
//! unwind a voided attestation and attest the corrected tree in the next round.
//!
//! States ([`EpochState`]) and their transitions, all in [`EpochMachine::step`]:
//!
//! | from | on | to |
//! |---|---|---|
//! | — | the epoch ended `epoch_grace_secs` ago and has receipts | `closed` (round 1) |
//! | `closed` | the attestation is final | `attested` |
//! | `closed` | the attestation failed: the cover fell short | `closed` (next attempt) |
//! | `closed` | the attestation failed otherwise | `attest_failed` |
//! | `attested` | the chain says voided (this round) | `voided` |
//! | `attested` | the chain says finalized and no finalize batch of ours is in flight | `finalized` |
//! | `voided` | the unwind is final (or the chain shows it done) | `closed` (round + 1, every receipt) |
//!
//! What is in flight (an attestation, a finalize batch, an unwind) is an intent of the
//! transaction manager under a deterministic key (`attest:<epoch>:<round>[:<attempt>]`,
//! `finalize:<epoch>:<round>:<from>`, `unwind:<epoch>:<round>`), asked for with
//! [`TxManager::outcome`](super::txm::TxManager::outcome); the API's phase (`attesting`,
//! `finalizing`, `unwinding`) is derived from it ([`EpochPhase`]).
//!
//! Challenges ([`ChallengeState`], in [`EpochMachine::answer`]): `open` → `answered` or
//! `failed` (the `respond:<id>` intent's outcome), `moot` (another round), `unanswerable`.
//! Challenges and payouts come from the log follower (confirmed blocks only).

use std::{collections::HashMap, sync::Arc};

use alloy::{
    primitives::{B256, Bytes, U256},
    rpc::types::Log,
    sol_types::{SolCall, SolEvent},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Query,
};
use serde::Serialize;
use tracing::{error, info, instrument, warn};

use super::{
    bindings::{AckReferee, UsageOracle},
    follower::Stream,
    service::ChainContext,
    state::{AttestationStatus, ChallengeState, EpochPhase, EpochState},
    tree::{ClientTotal, LeafData, ModelTotal, ReceiptTree, models_chain_hash, receipt_hash},
    txm::Outcome,
};
use crate::{
    db::{challenges, epochs, payouts, receipts},
    error::{OracleError, Result},
    ledger::{Ledger, receipt_from_row},
    receipts::ReceiptRecord,
    types::Address,
};

/// The cursor of challenge events.
pub const CHALLENGES_STREAM: &str = "oracle";
/// The cursor of `AckReferee` challenge events.
pub const ACK_CHALLENGES_STREAM: &str = "ack-challenges";
/// The cursor of `ModelPaid` events.
pub const PAYOUTS_STREAM: &str = "payouts";

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
    pub payouts_recorded: usize,
}

/// A closed epoch as the domain keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochRecord {
    pub epoch: u64,
    pub round: u32,
    pub state: EpochState,
    pub root: B256,
    pub count: u64,
    pub total: U256,
    pub fee_bps: u16,
    pub posted_at: Option<u64>,
    /// What the attestation could not escrow from its clients (the operator covered it).
    pub shortfall: U256,
    pub models: Vec<ModelTotal>,
    pub clients: Vec<ClientTotal>,
    attempt: u32,
    omitted: u32,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> OracleError {
    OracleError::Database(format!("corrupt {what}: {e}"))
}

impl TryFrom<&epochs::Model> for EpochRecord {
    type Error = OracleError;
    fn try_from(row: &epochs::Model) -> Result<Self> {
        Ok(Self {
            epoch: row.epoch as u64,
            round: row.round as u32,
            state: row.state.parse()?,
            root: row.root.parse().map_err(|e| corrupt("epoch root", e))?,
            count: row.count as u64,
            total: row
                .total_wei
                .parse()
                .map_err(|e| corrupt("epoch total", e))?,
            fee_bps: row.fee_bps as u16,
            posted_at: row.posted_at.map(|p| p as u64),
            shortfall: row
                .shortfall_wei
                .parse()
                .map_err(|e| corrupt("epoch shortfall", e))?,
            models: serde_json::from_str(&row.models_json)
                .map_err(|e| corrupt("models list", e))?,
            clients: serde_json::from_str(&row.clients_json)
                .map_err(|e| corrupt("clients list", e))?,
            attempt: row.attempt.max(1) as u32,
            omitted: row.omitted as u32,
        })
    }
}

impl EpochRecord {
    /// The key of this round's attestation (attempt 1 keeps the historical form).
    pub fn attest_key(&self) -> String {
        match self.attempt {
            1 => format!("attest:{}:{}", self.epoch, self.round),
            n => format!("attest:{}:{}:{n}", self.epoch, self.round),
        }
    }

    pub fn unwind_key(&self) -> String {
        format!("unwind:{}:{}", self.epoch, self.round)
    }

    pub fn finalize_key(&self, from: u64) -> String {
        format!("finalize:{}:{}:{from}", self.epoch, self.round)
    }
}

/// A change of an epoch's row, decided by [`EpochMachine::step`].
enum Transition {
    To(EpochState),
    Attested { posted_at: u64, shortfall: U256 },
    NextAttempt,
    NextRound(Box<ReceiptTree>),
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
    crate::receipts::receipt_as!(UsageOracle::Receipt, r)
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

/// The epoch machine (see the module docs).
pub struct EpochMachine {
    ctx: Arc<ChainContext>,
    ledger: Ledger,
    /// Recently used trees (epoch → tree of its current round).
    trees: std::sync::Mutex<HashMap<u64, Arc<ReceiptTree>>>,
    /// One pass at a time.
    pass: tokio::sync::Mutex<()>,
}

impl EpochMachine {
    pub fn new(ctx: Arc<ChainContext>, ledger: Ledger) -> Self {
        Self {
            ctx,
            ledger,
            trees: Default::default(),
            pass: tokio::sync::Mutex::new(()),
        }
    }

    fn omit_last_receipt(&self) -> bool {
        self.fault_is("omit-last-receipt")
    }

    /// Test-only fault (`bill-unacknowledged`): the first round of an epoch bills every
    /// receipt, ignoring acknowledgements (an operator charging beyond them).
    fn bill_unacknowledged(&self) -> bool {
        self.fault_is("bill-unacknowledged")
    }

    fn fault_is(&self, _fault: &str) -> bool {
        #[cfg(feature = "fault-injection")]
        {
            self.ctx.cfg.fault_injection.as_deref() == Some(_fault)
        }
        #[cfg(not(feature = "fault-injection"))]
        {
            false
        }
    }

    /// Waits for a pass in progress to end (ordered shutdown).
    pub async fn quiesce(&self) {
        drop(self.pass.lock().await);
    }

    /// One pass of the `epochs` job.
    #[instrument(skip_all)]
    pub async fn pass(&self) -> Result<EpochReport> {
        let _pass = self.pass.lock().await;
        let mut report = EpochReport::default();
        // Closing needs only the database (receipts are frozen even while the RPC is down).
        self.close_due(&mut report).await?;
        self.follow_challenges(&mut report).await?;
        self.answer_ack_challenges().await?;
        self.follow_payouts(&mut report).await?;
        let rows = epochs::Entity::find()
            .filter(epochs::Column::State.is_in([
                EpochState::Closed.as_str(),
                EpochState::Attested.as_str(),
                EpochState::Voided.as_str(),
            ]))
            .order_by_asc(epochs::Column::Epoch)
            .all(&self.ctx.db)
            .await?;
        for row in rows {
            let rec = EpochRecord::try_from(&row)?;
            if let Some(t) = self.step(&rec, &mut report).await? {
                self.apply(&row, &rec, t).await?;
            }
        }
        self.answer(&mut report).await?;
        Ok(report)
    }

    /// The receipts of `epoch` since the deployment, in id order (the tree's leaf order).
    async fn epoch_receipts(&self, epoch: u64) -> Result<Vec<ReceiptRecord>> {
        receipts::Entity::find()
            .filter(receipts::Column::Epoch.eq(epoch as i64))
            .filter(receipts::Column::TimestampMs.gte(self.ctx.deployment.created_at_ms))
            .order_by_asc(receipts::Column::Id)
            .all(&self.ctx.db)
            .await?
            .into_iter()
            .map(receipt_from_row)
            .collect()
    }

    /// The tree of `epoch` over its receipts (without the last one when `omit_last`).
    async fn build_tree(&self, epoch: u64, fault: bool) -> Result<(ReceiptTree, u32)> {
        let omit_last = fault && self.omit_last_receipt();
        let bill_all = fault && self.bill_unacknowledged();
        // Acknowledged billing: an `ack` client is billed what it acknowledged.
        let all = self.epoch_receipts(epoch).await?;
        let (records, left_out) = if bill_all {
            (all, vec![])
        } else {
            crate::acks::settle(&self.ctx.db, epoch, all).await?
        };
        for (client, wei) in left_out {
            warn!(epoch, %client, unbilled_wei = %wei, "unacknowledged receipts left out of the epoch's tree (the operator's loss)");
        }
        let mut typed = records
            .iter()
            .map(ReceiptRecord::typed)
            .collect::<Result<Vec<_>>>()?;
        let mut omitted = 0;
        if omit_last && typed.len() > 1 {
            typed.pop();
            omitted = 1;
        }
        if bill_all {
            omitted = 1; // marks the fault, so that rebuilds of this round repeat it
        }
        Ok((ReceiptTree::build(typed)?, omitted))
    }

    /// The tree of a closed epoch (cached), checked against its stored root.
    pub async fn tree(&self, rec: &EpochRecord) -> Result<Arc<ReceiptTree>> {
        if let Some(t) = self.cached(rec.epoch)
            && t.root() == rec.root
        {
            return Ok(t);
        }
        let (tree, _) = self.build_tree(rec.epoch, rec.omitted > 0).await?;
        if tree.root() != rec.root {
            return Err(OracleError::Database(format!(
                "the receipts of epoch {} no longer give the root {} that was closed",
                rec.epoch, rec.root
            )));
        }
        let tree = Arc::new(tree);
        self.cache(rec.epoch, tree.clone());
        Ok(tree)
    }

    fn cached(&self, epoch: u64) -> Option<Arc<ReceiptTree>> {
        self.trees
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&epoch)
            .cloned()
    }

    fn cache(&self, epoch: u64, tree: Arc<ReceiptTree>) {
        let mut cache = self.trees.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= 8
            && !cache.contains_key(&epoch)
            && let Some(oldest) = cache.keys().min().copied()
        {
            cache.remove(&oldest);
        }
        cache.insert(epoch, tree);
    }

    /// Closes every epoch that ended more than `epoch_grace_secs` ago and has receipts.
    async fn close_due(&self, report: &mut EpochReport) -> Result<()> {
        let now = self.ctx.clock.now_ms();
        let Some(last) = self
            .ctx
            .epochs
            .last_closable(now, self.ctx.cfg.epoch_grace_secs)
        else {
            return Ok(());
        };
        // Cluster mode: only epochs every live replica has sealed (all its receipts committed).
        let last = if self.ledger.clustered() {
            let txn = sea_orm::TransactionTrait::begin(&self.ctx.db).await?;
            let sealed = crate::cluster::balance::sealed_through(&txn).await?;
            txn.commit().await?;
            match sealed {
                Some(s) => last.min(s),
                None => return Ok(()),
            }
        } else {
            last
        };
        let due: Vec<i64> = receipts::Entity::find()
            .select_only()
            .column(receipts::Column::Epoch)
            .distinct()
            .filter(receipts::Column::Epoch.lte(last as i64))
            // Receipts from before the deployment (another EIP-712 domain) are not settled here.
            .filter(receipts::Column::TimestampMs.gte(self.ctx.deployment.created_at_ms))
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
            .all(&self.ctx.db)
            .await?;
        for epoch in due {
            let epoch = epoch as u64;
            self.ledger.freeze(epoch).await?;
            let (billed, _) =
                crate::acks::settle(&self.ctx.db, epoch, self.epoch_receipts(epoch).await?).await?;
            if billed.is_empty() {
                // Only `ack` clients that acknowledged nothing: nothing to attest, and nothing
                // else waits for this epoch.
                info!(
                    epoch,
                    "epoch has no billed receipt (nothing acknowledged): not attested"
                );
                continue;
            }
            let (tree, omitted) = self
                .build_tree(
                    epoch,
                    self.omit_last_receipt() || self.bill_unacknowledged(),
                )
                .await?;
            epochs::ActiveModel {
                epoch: Set(epoch as i64),
                round: Set(1),
                state: Set(EpochState::Closed.as_str().into()),
                root: Set(format!("{:#x}", tree.root())),
                count: Set(tree.len() as i64),
                total_wei: Set(tree.total().to_string()),
                fee_bps: Set(self.ctx.cfg.fee_bps as i32),
                models_json: Set(serde_json::to_string(tree.models()).expect("serialisable")),
                clients_json: Set(serde_json::to_string(tree.clients()).expect("serialisable")),
                omitted: Set(omitted as i32),
                posted_at: Set(None),
                attempt: Set(1),
                shortfall_wei: Set("0".into()),
                created_at_ms: Set(now),
                updated_at_ms: Set(now),
            }
            .insert(&self.ctx.db)
            .await?;
            if omitted > 0 {
                warn!(
                    epoch,
                    "TEST-ONLY FAULT: the epoch's tree is wrong on purpose (last receipt left out, or unacknowledged receipts billed)"
                );
            }
            info!(epoch, root = %tree.root(), receipts = tree.len(), total_wei = %tree.total(), models = tree.models().len(), clients = tree.clients().len(), "epoch closed");
            self.cache(epoch, Arc::new(tree));
            report.closed.push(epoch);
        }
        Ok(())
    }

    async fn queue(&self, key: &str, kind: &str, call: impl SolCall, value: U256) -> Result<()> {
        self.ctx
            .txm
            .submit(
                key,
                kind,
                self.ctx.deployment.oracle.0,
                Bytes::from(call.abi_encode()),
                value,
            )
            .await
            .map(|_| ())
    }

    async fn attestation(&self, epoch: u64) -> Result<UsageOracle::Attestation> {
        self.ctx
            .oracle()
            .getAttestation(epoch)
            .call()
            .await
            .map_err(|e| self.ctx.err("reading UsageOracle.getAttestation", e))
    }

    /// The state machine: what to do for `rec` now, and the transition it leads to (if any).
    async fn step(
        &self,
        rec: &EpochRecord,
        report: &mut EpochReport,
    ) -> Result<Option<Transition>> {
        let txm = &self.ctx.txm;
        let (epoch, round) = (rec.epoch, rec.round);
        match rec.state {
            EpochState::Closed => {
                let key = rec.attest_key();
                match txm.outcome(&key).await? {
                    None => {
                        let models = to_sol_models(&rec.models);
                        let clients = to_sol_clients(&rec.clients);
                        // Whatever clients can no longer pay beyond the fee, the operator puts
                        // in with the bond (refunded if the attestation is voided).
                        let cover = self
                            .ctx
                            .oracle()
                            .coverFor(rec.fee_bps, models.clone(), clients.clone())
                            .call()
                            .await
                            .map_err(|e| self.ctx.err("reading UsageOracle.coverFor", e))?;
                        let call = UsageOracle::attestCall {
                            epoch,
                            root: rec.root,
                            count: rec.count,
                            feeBps: rec.fee_bps,
                            models,
                            clients,
                        };
                        let value = self.ctx.attest_bond + cover.cover;
                        self.queue(&key, "attest", call, value).await?;
                        info!(epoch, round, key, bond_wei = %self.ctx.attest_bond, cover_wei = %cover.cover, shortfall_wei = %cover.shortfall, "attestation queued");
                        report.attest_sent.push(epoch);
                        Ok(None)
                    }
                    Some(Outcome::InFlight) => Ok(None),
                    Some(Outcome::Final(intent)) => {
                        let a = self.attestation(epoch).await?;
                        info!(epoch, round, tx = ?intent.tx_hash, gas = ?intent.gas_used, posted_at = a.postedAt, shortfall_wei = %a.shortfall, "epoch attested");
                        report.attested.push(epoch);
                        Ok(Some(Transition::Attested {
                            posted_at: a.postedAt,
                            shortfall: U256::from(a.shortfall),
                        }))
                    }
                    Some(Outcome::Failed(intent)) => {
                        let why = intent.error.unwrap_or_default();
                        if why.contains("ShortfallNotCovered") {
                            warn!(epoch, round, error = %why, "the cover fell short (balances moved); attesting again with a fresh cover");
                            Ok(Some(Transition::NextAttempt))
                        } else {
                            error!(epoch, round, error = %why, "attestation failed: the epoch needs an operator");
                            Ok(Some(Transition::To(EpochState::AttestFailed)))
                        }
                    }
                }
            }
            EpochState::Attested => {
                let a = self.attestation(epoch).await?;
                let status = AttestationStatus::try_from(a.status)?;
                if a.round != round {
                    return Ok(None);
                }
                match status {
                    AttestationStatus::Voided => {
                        warn!(epoch, round, "attestation voided by a challenge");
                        report.voided.push(epoch);
                        Ok(Some(Transition::To(EpochState::Voided)))
                    }
                    AttestationStatus::Finalized => {
                        // Our own last batch counts once it has its confirmations (a reorg
                        // could still undo a finalize that the latest block shows).
                        if txm
                            .any_in_flight(&format!("finalize:{epoch}:{round}:"))
                            .await?
                        {
                            return Ok(None);
                        }
                        report.finalized.push(epoch);
                        info!(epoch, round, "epoch finalized");
                        Ok(Some(Transition::To(EpochState::Finalized)))
                    }
                    AttestationStatus::Posted | AttestationStatus::Finalizing => {
                        let (_, chain_time) = self.ctx.head().await?;
                        if chain_time < a.postedAt + self.ctx.challenge_window
                            || a.openChallenges != 0
                        {
                            return Ok(None);
                        }
                        self.finalize_batch(rec, a.paidModels as u64, report)
                            .await?;
                        Ok(None)
                    }
                    AttestationStatus::None => Ok(None),
                }
            }
            EpochState::Voided => {
                let key = rec.unwind_key();
                let done = match txm.outcome(&key).await? {
                    None => {
                        let call = UsageOracle::unwindCall {
                            epoch,
                            clients: to_sol_clients(&rec.clients),
                        };
                        self.queue(&key, "unwind", call, U256::ZERO).await?;
                        false
                    }
                    Some(Outcome::InFlight) => false,
                    Some(Outcome::Final(_)) => true,
                    // Someone else unwound it: the chain shows the slot free again.
                    Some(Outcome::Failed(_)) => {
                        let a = self.attestation(epoch).await?;
                        let free =
                            AttestationStatus::try_from(a.status)? == AttestationStatus::None;
                        if !free {
                            txm.retry(&key).await?;
                        }
                        free
                    }
                };
                if !done {
                    return Ok(None);
                }
                // A corrected attestation, next round: the tree of every receipt.
                let (tree, _) = self.build_tree(epoch, false).await?;
                info!(
                    epoch,
                    round = round + 1,
                    "voided attestation unwound; re-attesting the corrected tree"
                );
                report.reopened.push(epoch);
                Ok(Some(Transition::NextRound(Box::new(tree))))
            }
            EpochState::Finalized | EpochState::AttestFailed => Ok(None),
        }
    }

    /// Sends the next finalize batch (from `paid`, the models the chain has paid so far).
    async fn finalize_batch(
        &self,
        rec: &EpochRecord,
        paid: u64,
        report: &mut EpochReport,
    ) -> Result<()> {
        let txm = &self.ctx.txm;
        let from = paid.min(rec.models.len() as u64);
        let key = rec.finalize_key(from);
        match txm.outcome(&key).await? {
            None => {
                let n = self.ctx.cfg.finalize_batch_models.max(1);
                let end = (from as usize + n).min(rec.models.len());
                let batch = &rec.models[from as usize..end];
                let rest = models_chain_hash(&rec.models[end..], B256::ZERO);
                let call = UsageOracle::finalizeCall {
                    epoch: rec.epoch,
                    from,
                    models: to_sol_models(batch),
                    rest,
                };
                self.queue(&key, "finalize", call, U256::ZERO).await?;
                info!(
                    epoch = rec.epoch,
                    round = rec.round,
                    from,
                    models = batch.len(),
                    key,
                    "finalize batch queued"
                );
                report.finalize_sent.push(rec.epoch);
            }
            // The batch lands and the chain's `paidModels` moves on: the next pass goes on.
            Some(Outcome::InFlight) | Some(Outcome::Final(_)) => {}
            Some(Outcome::Failed(intent)) => {
                // Someone else paid this batch (the chain moved on), a challenge opened, or
                // the epoch was voided: the next pass reads the chain again. Otherwise retry.
                warn!(epoch = rec.epoch, from, error = ?intent.error, "finalize batch failed; trying it again");
                txm.retry(&key).await?;
            }
        }
        Ok(())
    }

    /// Writes a transition of `row`.
    async fn apply(&self, row: &epochs::Model, rec: &EpochRecord, t: Transition) -> Result<()> {
        let mut am: epochs::ActiveModel = row.clone().into();
        am.updated_at_ms = Set(self.ctx.clock.now_ms());
        match t {
            Transition::To(state) => am.state = Set(state.as_str().into()),
            Transition::Attested {
                posted_at,
                shortfall,
            } => {
                am.state = Set(EpochState::Attested.as_str().into());
                am.posted_at = Set(Some(posted_at as i64));
                am.shortfall_wei = Set(shortfall.to_string());
            }
            Transition::NextAttempt => am.attempt = Set(rec.attempt as i32 + 1),
            Transition::NextRound(tree) => {
                am.state = Set(EpochState::Closed.as_str().into());
                am.round = Set(rec.round as i32 + 1);
                am.root = Set(format!("{:#x}", tree.root()));
                am.count = Set(tree.len() as i64);
                am.total_wei = Set(tree.total().to_string());
                am.models_json = Set(serde_json::to_string(tree.models()).expect("serialisable"));
                am.clients_json = Set(serde_json::to_string(tree.clients()).expect("serialisable"));
                am.omitted = Set(0);
                am.attempt = Set(1);
                am.posted_at = Set(None);
                am.shortfall_wei = Set("0".into());
                self.cache(rec.epoch, Arc::new(*tree));
            }
        }
        am.update(&self.ctx.db).await?;
        Ok(())
    }

    /// Records `ReceiptChallenged` / `LeafChallenged` of confirmed blocks as open challenges.
    async fn follow_challenges(&self, report: &mut EpochReport) -> Result<()> {
        let stream = Stream {
            name: CHALLENGES_STREAM,
            address: self.ctx.deployment.oracle.0,
            events: vec![
                UsageOracle::ReceiptChallenged::SIGNATURE_HASH,
                UsageOracle::LeafChallenged::SIGNATURE_HASH,
            ],
            start_block: self.ctx.deployment.block_number(),
        };
        let db = &self.ctx.db;
        let now = self.ctx.clock.now_ms();
        let seen = std::sync::Mutex::new(Vec::new());
        self.ctx
            .follower
            .catch_up(&stream, |log: Log| {
                let seen = &seen;
                async move {
                    let row = challenge_row(&log, now);
                    let Some(row) = row else { return Ok(false) };
                    let id = *row.id.as_ref();
                    let inserted = crate::db::insert_new(db, row, challenges::Column::Id).await?;
                    if inserted {
                        warn!(challenge = id, "challenge opened against an attestation");
                        seen.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(id as u64);
                    }
                    Ok(inserted)
                }
            })
            .await?;
        report
            .challenges_seen
            .extend(seen.into_inner().unwrap_or_else(|e| e.into_inner()));
        Ok(())
    }

    /// Answers every acknowledgement challenge (`AckReferee.AcknowledgementChallenged` of
    /// confirmed blocks) with the client's stored acknowledgement of that epoch when it covers
    /// the attested total (`respond`, an intent keyed by the challenge); one that no stored
    /// acknowledgement covers cannot be answered and is logged (it will be upheld).
    async fn answer_ack_challenges(&self) -> Result<()> {
        let Some(referee) = self.ctx.deployment.ack_referee else {
            return Ok(());
        };
        let stream = Stream {
            name: ACK_CHALLENGES_STREAM,
            address: referee.0,
            events: vec![AckReferee::AcknowledgementChallenged::SIGNATURE_HASH],
            start_block: self.ctx.deployment.block_number(),
        };
        let (db, txm) = (&self.ctx.db, &self.ctx.txm);
        self.ctx
            .follower
            .catch_up(&stream, |log: Log| async move {
                let Ok(e) = AckReferee::AcknowledgementChallenged::decode_log(&log.inner) else {
                    return Ok(false);
                };
                let client = Address(e.client);
                warn!(challenge = %e.challengeId, epoch = e.epoch, %client, total = %e.total, "acknowledgement challenge opened");
                let stored = crate::db::acknowledgements::Entity::find_by_id(format!(
                    "{}:{}",
                    client.storage_key(),
                    e.epoch
                ))
                .one(db)
                .await?;
                let Some(ack) = stored.filter(|a| {
                    a.amount_wei
                        .parse::<U256>()
                        .is_ok_and(|amount| amount >= e.total)
                }) else {
                    error!(challenge = %e.challengeId, epoch = e.epoch, %client, "no stored acknowledgement covers the attested total: the challenge cannot be answered");
                    return Ok(true);
                };
                let call = AckReferee::respondCall {
                    id: e.challengeId,
                    amount: ack.amount_wei.parse::<U256>().expect("checked"),
                    calls: ack.calls as u64,
                    signature: Bytes::from(
                        hex::decode(ack.signature.trim_start_matches("0x")).map_err(|_| {
                            OracleError::Database("corrupt acknowledgement signature".into())
                        })?,
                    ),
                };
                txm.submit_call(
                    &format!("ack-respond:{}", e.challengeId),
                    "ack-respond",
                    referee.0,
                    &call,
                )
                .await?;
                Ok(true)
            })
            .await?;
        Ok(())
    }

    /// Records what finalize paid each model's token (`ModelPaid` of confirmed blocks).
    async fn follow_payouts(&self, report: &mut EpochReport) -> Result<()> {
        let stream = Stream {
            name: PAYOUTS_STREAM,
            address: self.ctx.deployment.oracle.0,
            events: vec![UsageOracle::ModelPaid::SIGNATURE_HASH],
            start_block: self.ctx.deployment.block_number(),
        };
        let db = &self.ctx.db;
        let now = self.ctx.clock.now_ms();
        let r = self
            .ctx
            .follower
            .catch_up(&stream, |log: Log| async move {
                let Ok(e) = UsageOracle::ModelPaid::decode_log(&log.inner) else {
                    return Ok(false);
                };
                let root = format!("{:#x}", e.model);
                let round = epochs::Entity::find_by_id(e.epoch as i64)
                    .one(db)
                    .await?
                    .map_or(1, |r| r.round);
                let row = payouts::ActiveModel {
                    id: Set(format!("{}:{root}", e.epoch)),
                    epoch: Set(e.epoch as i64),
                    round: Set(round),
                    weights_root: Set(root.trim_start_matches("0x").to_owned()),
                    token: Set(Address(e.token).storage_key()),
                    amount_wei: Set(e.amount.to_string()),
                    snapshot_id: Set(u64::try_from(e.snapshotId).unwrap_or(u64::MAX) as i64),
                    tx_hash: Set(log
                        .transaction_hash
                        .map(|h| format!("{h:#x}"))
                        .unwrap_or_default()),
                    block_number: Set(log.block_number.unwrap_or_default() as i64),
                    created_at_ms: Set(now),
                };
                let inserted = crate::db::insert_new(db, row, payouts::Column::Id).await?;
                if inserted {
                    info!(epoch = e.epoch, model = %e.model, token = %e.token, amount_wei = %e.amount, snapshot = %e.snapshotId, "model paid");
                }
                Ok(inserted)
            })
            .await?;
        report.payouts_recorded += r.applied;
        Ok(())
    }

    /// The challenge machine: answers each open challenge with its leaf's proof.
    async fn answer(&self, report: &mut EpochReport) -> Result<()> {
        let db = &self.ctx.db;
        let open = challenges::Entity::find()
            .filter(challenges::Column::State.eq(ChallengeState::Open.as_str()))
            .order_by_asc(challenges::Column::Id)
            .all(db)
            .await?;
        for c in open {
            let id = c.id as u64;
            let key = format!("respond:{id}");
            let next = match self.ctx.txm.outcome(&key).await? {
                Some(Outcome::InFlight) => None,
                Some(Outcome::Final(_)) => {
                    info!(challenge = id, "challenge answered with an inclusion proof");
                    report.challenges_answered.push(id);
                    Some(ChallengeState::Answered)
                }
                Some(Outcome::Failed(i)) => {
                    warn!(challenge = id, error = ?i.error, "the answer to a challenge failed");
                    Some(ChallengeState::Failed)
                }
                None => self.respond(&c, &key).await?,
            };
            if let Some(state) = next {
                let mut am: challenges::ActiveModel = c.into();
                am.state = Set(state.as_str().into());
                am.updated_at_ms = Set(self.ctx.clock.now_ms());
                am.update(db).await?;
            }
        }
        Ok(())
    }

    /// Queues the answer to challenge `c` (`None`: stays open), or says why there is none.
    async fn respond(&self, c: &challenges::Model, key: &str) -> Result<Option<ChallengeState>> {
        let id = c.id as u64;
        let row = epochs::Entity::find_by_id(c.epoch)
            .one(&self.ctx.db)
            .await?;
        let Some(row) = row.filter(|e| e.round == c.round) else {
            return Ok(Some(ChallengeState::Moot));
        };
        let rec = EpochRecord::try_from(&row)?;
        let tree = self.tree(&rec).await?;
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
            return Ok(Some(ChallengeState::Unanswerable));
        };
        let call = UsageOracle::respondCall {
            challengeId: U256::from(id),
            p: leaf_proof(&tree, index),
        };
        self.queue(key, "respond", call, U256::ZERO).await?;
        info!(challenge = id, index, "answering a challenge");
        Ok(None)
    }

    /// How `rec` looks from outside: its state refined by the action in flight.
    pub async fn phase(&self, rec: &EpochRecord) -> Result<EpochPhase> {
        let txm = &self.ctx.txm;
        let in_flight = match rec.state {
            EpochState::Closed => matches!(
                txm.outcome(&rec.attest_key()).await?,
                Some(Outcome::InFlight)
            ),
            EpochState::Attested => {
                txm.any_in_flight(&format!("finalize:{}:{}:", rec.epoch, rec.round))
                    .await?
            }
            EpochState::Voided => matches!(
                txm.outcome(&rec.unwind_key()).await?,
                Some(Outcome::InFlight)
            ),
            EpochState::Finalized | EpochState::AttestFailed => false,
        };
        Ok(EpochPhase::of(rec.state, in_flight))
    }

    /// A closed epoch.
    pub async fn record(&self, epoch: u64) -> Result<Option<EpochRecord>> {
        epochs::Entity::find_by_id(epoch as i64)
            .one(&self.ctx.db)
            .await?
            .as_ref()
            .map(EpochRecord::try_from)
            .transpose()
    }
}

/// The row of a `ReceiptChallenged` or `LeafChallenged` log (`None` for any other log).
fn challenge_row(log: &Log, now: i64) -> Option<challenges::ActiveModel> {
    let open = ChallengeState::Open.as_str().to_owned();
    if let Ok(e) = UsageOracle::ReceiptChallenged::decode_log(&log.inner) {
        Some(challenges::ActiveModel {
            id: Set(u64::try_from(e.challengeId).unwrap_or(u64::MAX) as i64),
            epoch: Set(e.epoch as i64),
            round: Set(e.round as i32),
            by_index: Set(false),
            leaf_index: Set(None),
            receipt_hash: Set(Some(format!("{:#x}", e.receiptHash))),
            challenger: Set(Address(e.challenger).storage_key()),
            deadline: Set(e.deadline as i64),
            state: Set(open),
            created_at_ms: Set(now),
            updated_at_ms: Set(now),
        })
    } else if let Ok(e) = UsageOracle::LeafChallenged::decode_log(&log.inner) {
        Some(challenges::ActiveModel {
            id: Set(u64::try_from(e.challengeId).unwrap_or(u64::MAX) as i64),
            epoch: Set(e.epoch as i64),
            round: Set(e.round as i32),
            by_index: Set(true),
            leaf_index: Set(Some(e.index as i64)),
            receipt_hash: Set(None),
            challenger: Set(Address(e.challenger).storage_key()),
            deadline: Set(e.deadline as i64),
            state: Set(open),
            created_at_ms: Set(now),
            updated_at_ms: Set(now),
        })
    } else {
        None
    }
}
