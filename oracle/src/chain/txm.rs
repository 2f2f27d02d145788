//! The persistent transaction manager: every on-chain action is first written to the
//! `tx_intents` table as an *intent* under a unique key (`attest:42:1`, `finalize:42:1`…) and
//! then driven through a state machine by [`TxManager::pump`]:
//!
//! ```text
//! pending ──simulate (eth_call) ok──► sent ──receipt──► mined ──buried under `confirmations`──► final
//!    │                                 ▲  │                │
//!    └──simulation reverts──► failed   │  └─status 0──► failed (nonce consumed)
//!                                      └──reorg drops or moves the block (rebroadcast)
//! ```
//!
//! Guarantees (a restart at any point never sends an action twice and never forgets one):
//!
//! - Nonces come from one counter, re-synced on the first pass and after any nonce problem to
//!   `max(highest nonce in tx_intents + 1, eth_getTransactionCount(sender, latest))`. A nonce is
//!   written together with the signed raw transaction and its hash in one update (state `sent`)
//!   *before* broadcasting: a crash after the write rebroadcasts the same signed transaction (the
//!   same nonce: it can execute at most once), a crash before it leaves the intent `pending`
//!   (nothing was sent).
//! - A sent transaction is looked up by every hash ever signed for the intent (fee bumps re-sign
//!   the same nonce, and the original may be the one mined). Not mined after `fee_bump_blocks`
//!   blocks, both EIP-1559 fees are raised by `fee_bump_percent` (at least 10 %), never above
//!   `max_fee_per_gas_wei`; otherwise the stored transaction is rebroadcast each pass (harmless:
//!   the node answers "already known" or "nonce too low", and the receipt lookup decides).
//! - A mined intent becomes final once `head - block + 1 >= confirmations` and the block at its
//!   height is still the recorded one; a reorg that drops or moves it puts it back to `sent` and
//!   rebroadcasts it.
//! - A `sent` intent whose nonce was consumed by another transaction (sent with the same key
//!   outside the manager), with none of its hashes mined, goes back to `pending` once that is
//!   buried under `confirmations`, and is sent again with a fresh nonce.
//!
//! - With `cluster.enabled` (several replicas on one database) only the holder of the `chain`
//!   lease pumps: [`TxManager::set_fence`] hands the manager its lease term, a pass without one
//!   is refused (`not_leader`), the nonce counter is re-synced at each new term, and the two
//!   writes that record a nonce and a signed transaction (a first send, a fee bump) carry the
//!   term's fencing condition in their own `WHERE` (`cluster::lease::fence_condition`): once the
//!   term is over the database refuses them, so a deposed leader never broadcasts a transaction.
//!
//! The table records no sender: one database serves one operator key.

use std::{fmt, str::FromStr, sync::Arc};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::{BlockId, BlockNumberOrTag, Encodable2718},
    network::{TransactionBuilder, TxSignerSync},
    primitives::{Address as EthAddress, B256, Bytes, TxKind, U256},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolInterface},
    transports::{RpcError, TransportError},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr,
};
use serde::Serialize;
use tracing::{info, instrument, warn};

use super::{
    bindings::{ModelRegistry, ModelToken, PaymentVault, UsageOracle},
    intent_entity as intents,
};
use crate::{
    clock::SharedClock,
    cluster::{
        Fence, Lease,
        lease::{FenceCell, fence_condition},
    },
    config::ChainConfig,
    error::{OracleError, Result},
};

/// Longest intent key and kind (the column sizes).
const MAX_KEY_LEN: usize = 160;
const MAX_KIND_LEN: usize = 32;
/// Nodes refuse a replacement that raises the fees by less than this.
const MIN_BUMP_PERCENT: u64 = 10;

/// Where an intent is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IntentState {
    /// Recorded, not yet signed: no nonce.
    Pending,
    /// Signed with a nonce and broadcast (or about to be), not yet in a block.
    Sent,
    /// In a block, not yet buried under `chain.confirmations`.
    Mined,
    /// Buried under `chain.confirmations` blocks: done.
    Final,
    /// The simulation reverted (no nonce consumed) or the mined transaction reverted.
    Failed,
}

impl IntentState {
    /// The `tx_intents.state` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Mined => "mined",
            Self::Final => "final",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for IntentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IntentState {
    type Err = OracleError;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => Self::Pending,
            "sent" => Self::Sent,
            "mined" => Self::Mined,
            "final" => Self::Final,
            "failed" => Self::Failed,
            other => {
                return Err(OracleError::InvalidInput(format!(
                    "unknown intent state `{other}` (pending, sent, mined, final, failed)"
                )));
            }
        })
    }
}

/// One on-chain action and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Intent {
    pub key: String,
    pub kind: String,
    pub to: EthAddress,
    pub data: Bytes,
    pub value: U256,
    pub state: IntentState,
    pub nonce: Option<u64>,
    /// The latest signed hash while `sent`; the mined one once `mined`/`final` (or reverted).
    pub tx_hash: Option<B256>,
    pub block_number: Option<u64>,
    pub gas_used: Option<u64>,
    /// Transactions signed for the current attempt (1 + fee bumps).
    pub attempts: u32,
    pub error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// Where an intent stands for the component that recorded it: the transaction manager owns
/// the states in between (pending, sent, mined), its callers only need to know whether the
/// action is still on its way, done, or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded and not final yet (pending, sent or mined).
    InFlight,
    /// Final on-chain (buried under `chain.confirmations`).
    Final(Intent),
    /// The simulation or the mined transaction reverted: `Intent::error` says why.
    Failed(Intent),
}

/// What one [`TxManager::pump`] pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PumpReport {
    /// Pending intents signed, recorded and broadcast.
    pub sent: usize,
    /// Intents found in a block (or in another block after a reorg).
    pub mined: usize,
    pub finalized: usize,
    /// Simulations that reverted and mined transactions that reverted.
    pub failed: usize,
    /// Transactions re-signed with higher fees.
    pub bumped: usize,
    /// Mined transactions dropped by a reorg and broadcast again.
    pub rebroadcast: usize,
}

/// The persistent transaction manager (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct TxManager {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    clock: SharedClock,
    provider: DynProvider,
    signer: PrivateKeySigner,
    sender: EthAddress,
    chain_id: u64,
    confirmations: u64,
    fee_bump_blocks: u64,
    fee_bump_percent: u64,
    max_fee_per_gas: u128,
    rpc_url: String,
    /// `chain.tx_timeout_secs`: the longest one pass may take.
    pass_timeout: std::time::Duration,
    /// `kill-after-send:<prefix>` (test-only fault injection).
    #[cfg(feature = "fault-injection")]
    kill_after_send: Option<String>,
    /// Serialises passes; holds the nonce counter.
    pass: tokio::sync::Mutex<PassState>,
    /// Who may send (cluster mode): see [`TxManager::set_fence`].
    fence: FenceCell,
}

#[derive(Default)]
struct PassState {
    /// The next nonce to give out; `None` until re-synced.
    next_nonce: Option<u64>,
    /// The RPC's chain id has been checked against `chain.chain_id`.
    chain_checked: bool,
    /// The lease term the counter was synced in (cluster mode): a new term re-syncs it.
    term: Option<i64>,
}

impl fmt::Debug for TxManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxManager")
            .field("sender", &self.inner.sender)
            .field("rpc_url", &self.inner.rpc_url)
            .field("chain_id", &self.inner.chain_id)
            .finish_non_exhaustive()
    }
}

/// An RPC error: the node's JSON-RPC error response (it answered), or anything else (transport,
/// decoding: the node may not have answered).
enum Rpc {
    Node {
        message: String,
        revert: Option<Bytes>,
    },
    Down(OracleError),
}

impl TxManager {
    /// `provider`: a plain HTTP provider WITHOUT a wallet (the manager signs itself with
    /// `signer`). Nothing is contacted until the first [`pump`](Self::pump).
    pub fn new(
        db: DatabaseConnection,
        provider: DynProvider,
        signer: PrivateKeySigner,
        cfg: &ChainConfig,
        clock: SharedClock,
    ) -> Self {
        #[cfg(feature = "fault-injection")]
        let kill_after_send = cfg
            .fault_injection
            .as_deref()
            .and_then(|f| f.strip_prefix("kill-after-send:"))
            .map(str::to_owned);
        #[cfg(feature = "fault-injection")]
        if let Some(prefix) = &kill_after_send {
            warn!(
                prefix,
                "fault injection: SIGKILL after the first broadcast of a matching intent"
            );
        }
        let sender = signer.address();
        Self {
            inner: Arc::new(Inner {
                db,
                clock,
                provider,
                signer,
                sender,
                chain_id: cfg.chain_id,
                confirmations: cfg.confirmations.max(1),
                fee_bump_blocks: cfg.fee_bump_blocks,
                fee_bump_percent: cfg.fee_bump_percent.max(MIN_BUMP_PERCENT),
                max_fee_per_gas: cfg.max_fee_per_gas_wei,
                rpc_url: cfg.redacted_rpc_url(),
                pass_timeout: std::time::Duration::from_secs(cfg.tx_timeout_secs.max(1)),
                #[cfg(feature = "fault-injection")]
                kill_after_send,
                pass: tokio::sync::Mutex::new(PassState::default()),
                fence: FenceCell::default(),
            }),
        }
    }

    /// Cluster mode: from now on only a replica holding the `chain` lease sends. `Some(term)`:
    /// this replica's current term (its fencing token goes into every write that records a
    /// signed transaction); `None`: not the leader, passes are refused (`not_leader`) and so is
    /// any send already under way. Recording intents ([`submit`](Self::submit)) is not fenced.
    pub fn set_fence(&self, fence: Option<Fence>) {
        self.inner.fence.set(fence);
    }

    /// The address every intent is sent from.
    pub fn sender(&self) -> EthAddress {
        self.inner.sender
    }

    /// [`submit`](Self::submit) of a contract call that sends no ether.
    pub async fn submit_call(
        &self,
        key: &str,
        kind: &str,
        to: EthAddress,
        call: &impl SolCall,
    ) -> Result<Intent> {
        self.submit(key, kind, to, Bytes::from(call.abi_encode()), U256::ZERO)
            .await
    }

    /// Records an intent; idempotent by key: an existing intent with the same key is returned
    /// unchanged (`Conflict` if it exists with a different kind/to/data/value). Sends nothing.
    #[instrument(skip(self, data), fields(to = %to, value = %value))]
    pub async fn submit(
        &self,
        key: &str,
        kind: &str,
        to: EthAddress,
        data: Bytes,
        value: U256,
    ) -> Result<Intent> {
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(OracleError::InvalidInput(format!(
                "an intent key has 1 to {MAX_KEY_LEN} bytes"
            )));
        }
        if kind.is_empty() || kind.len() > MAX_KIND_LEN {
            return Err(OracleError::InvalidInput(format!(
                "an intent kind has 1 to {MAX_KIND_LEN} bytes"
            )));
        }
        let same = |i: &Intent| i.kind == kind && i.to == to && i.data == data && i.value == value;
        let conflict = |i: &Intent| {
            OracleError::Conflict(format!(
                "intent `{key}` exists with another action (kind {}, to {}, value {})",
                i.kind, i.to, i.value
            ))
        };
        if let Some(existing) = self.get(key).await? {
            return if same(&existing) {
                Ok(existing)
            } else {
                Err(conflict(&existing))
            };
        }
        let now = self.inner.clock.now_ms();
        let row = intents::ActiveModel {
            key: Set(key.to_owned()),
            kind: Set(kind.to_owned()),
            to_address: Set(format!("{to:#x}")),
            calldata: Set(data.to_string()),
            value_wei: Set(value.to_string()),
            created_at_ms: Set(now),
            ..fresh_attempt(now)
        };
        let inserted = match intents::Entity::insert(row)
            .exec_without_returning(&self.inner.db)
            .await
        {
            Ok(_) => true,
            // Submitted concurrently under the same key: the first one stands.
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => false,
            Err(e) => return Err(e.into()),
        };
        let stored = self
            .get(key)
            .await?
            .ok_or_else(|| OracleError::Database(format!("intent `{key}` vanished")))?;
        if !same(&stored) {
            return Err(conflict(&stored));
        }
        if inserted {
            info!(key, kind, "intent recorded");
            count_outcome(kind, "submitted");
        }
        Ok(stored)
    }

    /// The intent recorded under `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Intent>> {
        intents::Entity::find_by_id(key.to_owned())
            .one(&self.inner.db)
            .await?
            .map(|r| intent(&r))
            .transpose()
    }

    /// Waits for a pass in progress to end (ordered shutdown).
    pub async fn quiesce(&self) {
        drop(self.inner.pass.lock().await);
    }

    /// Whether the action under `key` is in flight, final or failed (`None`: never recorded).
    pub async fn outcome(&self, key: &str) -> Result<Option<Outcome>> {
        Ok(self.get(key).await?.map(|i| match i.state {
            IntentState::Final => Outcome::Final(i),
            IntentState::Failed => Outcome::Failed(i),
            _ => Outcome::InFlight,
        }))
    }

    /// Whether any intent whose key starts with `prefix` is in flight.
    pub async fn any_in_flight(&self, prefix: &str) -> Result<bool> {
        Ok(intents::Entity::find()
            .filter(intents::Column::Key.starts_with(prefix))
            .filter(intents::Column::State.is_in([
                IntentState::Pending.as_str(),
                IntentState::Sent.as_str(),
                IntentState::Mined.as_str(),
            ]))
            .one(&self.inner.db)
            .await?
            .is_some())
    }

    /// The intents whose key starts with `prefix` (e.g. every finalize batch of a round),
    /// oldest first.
    pub async fn with_prefix(&self, prefix: &str) -> Result<Vec<Intent>> {
        self.fetch(
            intents::Entity::find()
                .filter(intents::Column::Key.starts_with(prefix))
                .order_by_asc(intents::Column::CreatedAtMs),
        )
        .await
    }

    /// The intents a query selects, in its order.
    async fn fetch(&self, query: sea_orm::Select<intents::Entity>) -> Result<Vec<Intent>> {
        query
            .all(&self.inner.db)
            .await?
            .iter()
            .map(intent)
            .collect()
    }

    /// Intents (of one state, or all), for an admin.
    pub async fn list_for(
        &self,
        by: &crate::auth::Principal,
        state: Option<IntentState>,
    ) -> Result<Vec<Intent>> {
        if !by.is_admin() {
            return Err(OracleError::Forbidden(
                "only admin keys may list the operator's transactions".into(),
            ));
        }
        self.list(state).await
    }

    /// Intents (of one state, or all), oldest first.
    pub async fn list(&self, state: Option<IntentState>) -> Result<Vec<Intent>> {
        let mut q = intents::Entity::find();
        if let Some(s) = state {
            q = q.filter(intents::Column::State.eq(s.as_str()));
        }
        self.fetch(
            q.order_by_asc(intents::Column::CreatedAtMs)
                .order_by_asc(intents::Column::Key),
        )
        .await
    }

    /// A failed intent back to pending (a new attempt, with a new nonce when sent); `Conflict`
    /// unless it is failed, `NotFound` if there is none.
    #[instrument(skip(self))]
    pub async fn retry(&self, key: &str) -> Result<Intent> {
        let Some(current) = self.get(key).await? else {
            return Err(OracleError::not_found(format!("intent `{key}`")));
        };
        if current.state != IntentState::Failed {
            return Err(OracleError::Conflict(format!(
                "intent `{key}` is {}: only a failed intent can be retried",
                current.state
            )));
        }
        // The old attempt's nonce (if any) was consumed on chain: the counter's re-sync reads it
        // from the chain, so the row lets go of it, its hashes and its block.
        let row = fresh_attempt(self.inner.clock.now_ms());
        if !self.transition(key, IntentState::Failed, row).await? {
            return Err(OracleError::Conflict(format!(
                "intent `{key}` changed while being retried"
            )));
        }
        info!(key, "failed intent back to pending");
        count_outcome(&current.kind, "retried");
        self.get(key)
            .await?
            .ok_or_else(|| OracleError::Database(format!("intent `{key}` vanished")))
    }

    /// The receipt of the intent's mined transaction (for callers that read its logs); `None`
    /// unless it is mined or final (or the node no longer has it).
    pub async fn receipt(&self, key: &str) -> Result<Option<TransactionReceipt>> {
        let Some(i) = self.get(key).await? else {
            return Ok(None);
        };
        let (IntentState::Mined | IntentState::Final, Some(hash)) = (i.state, i.tx_hash) else {
            return Ok(None);
        };
        self.inner
            .provider
            .get_transaction_receipt(hash)
            .await
            .map_err(|e| self.chain_err("reading a receipt", e))
    }

    /// One pass of the state machine, serialised by an internal mutex (safe to call from a job
    /// every second). `Err(OracleError::Chain)` when the RPC is unreachable or the pass takes
    /// longer than `chain.tx_timeout_secs`: nothing is lost, the next pass continues.
    #[instrument(skip(self), fields(sender = %self.inner.sender))]
    pub async fn pump(&self) -> Result<PumpReport> {
        let mut st = self.inner.pass.lock().await;
        let mut report = PumpReport::default();
        if let Some(f) = self.inner.fence.require(SENDS)?
            && st.term != Some(f.token)
        {
            // Another leader may have sent since this replica last counted.
            st.next_nonce = None;
            st.term = Some(f.token);
        }
        // Every step is idempotent given the table, so a pass cut short (a hung RPC) is safe;
        // the nonce counter is re-synced in case a write's outcome is unknown.
        let limit = self.inner.pass_timeout;
        let outcome = match tokio::time::timeout(limit, self.pass(&mut st, &mut report)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                st.next_nonce = None;
                Err(OracleError::Chain(format!(
                    "a transaction pass took longer than {} s at {}",
                    limit.as_secs(),
                    self.inner.rpc_url
                )))
            }
        };
        if let Err(e) = self.record_gauges().await {
            warn!(error = %e, "cannot count the unfinished intents");
        }
        if let Err(e) = &outcome {
            warn!(error = %e, code = e.code(), ?report, "transaction pass stopped");
        }
        outcome.map(|()| report)
    }
}

// The pass.
impl TxManager {
    async fn pass(&self, st: &mut PassState, report: &mut PumpReport) -> Result<()> {
        let p = &self.inner.provider;
        if !st.chain_checked {
            let id = p
                .get_chain_id()
                .await
                .map_err(|e| self.chain_err("reading the chain id", e))?;
            if id != self.inner.chain_id {
                return Err(OracleError::Chain(format!(
                    "the RPC at {} serves chain id {id}, but chain.chain_id is {}",
                    self.inner.rpc_url, self.inner.chain_id
                )));
            }
            st.chain_checked = true;
        }
        if st.next_nonce.is_none() {
            self.resync(st).await?;
        }
        let head = p
            .get_block_number()
            .await
            .map_err(|e| self.chain_err("reading the block number", e))?;

        let in_flight = intents::Entity::find()
            .filter(
                intents::Column::State
                    .is_in([IntentState::Sent.as_str(), IntentState::Mined.as_str()]),
            )
            .order_by_asc(intents::Column::Nonce)
            .all(&self.inner.db)
            .await?;
        if !in_flight.is_empty() {
            // Nonces below this are used by transactions buried under `confirmations`.
            let buried = head
                .saturating_add(1)
                .saturating_sub(self.inner.confirmations);
            let used = p
                .get_transaction_count(self.inner.sender)
                .number(buried)
                .await
                .map_err(|e| self.chain_err("reading the sender's nonce", e))?;
            for row in &in_flight {
                self.track(st, row, head, used, report).await?;
            }
        }

        let pending = intents::Entity::find()
            .filter(intents::Column::State.eq(IntentState::Pending.as_str()))
            .order_by_asc(intents::Column::CreatedAtMs)
            .order_by_asc(intents::Column::Key)
            .all(&self.inner.db)
            .await?;
        for row in &pending {
            if st.next_nonce.is_none() {
                self.resync(st).await?;
            }
            self.send_new(st, row, head, report).await?;
        }
        Ok(())
    }

    /// next nonce = max(highest recorded nonce + 1, the sender's mined transaction count).
    async fn resync(&self, st: &mut PassState) -> Result<()> {
        let recorded = intents::Entity::find()
            .select_only()
            .column(intents::Column::Nonce)
            .filter(intents::Column::Nonce.is_not_null())
            .order_by_desc(intents::Column::Nonce)
            .limit(1)
            .into_tuple::<Option<i64>>()
            .one(&self.inner.db)
            .await?
            .flatten()
            .map(|n| n as u64 + 1)
            .unwrap_or(0);
        let chain = self
            .inner
            .provider
            .get_transaction_count(self.inner.sender)
            .latest()
            .await
            .map_err(|e| self.chain_err("reading the sender's nonce", e))?;
        let next = recorded.max(chain);
        info!(sender = %self.inner.sender, recorded, chain, next, "nonce counter re-synced");
        st.next_nonce = Some(next);
        Ok(())
    }

    /// A `sent` or `mined` intent: look for its receipt, finalise, bump, rebroadcast.
    async fn track(
        &self,
        st: &mut PassState,
        row: &intents::Model,
        head: u64,
        buried_nonce: u64,
        report: &mut PumpReport,
    ) -> Result<()> {
        let i = intent(row)?;
        let state = i.state;
        let hashes = parse_hashes(&row.hashes)?;
        // The recorded hash first (the mined one, or the latest signed), then newest first.
        let mut order: Vec<B256> = i.tx_hash.into_iter().collect();
        order.extend(hashes.iter().rev().filter(|h| Some(**h) != i.tx_hash));
        let mut found = None;
        for h in order {
            if let Some(r) = self
                .inner
                .provider
                .get_transaction_receipt(h)
                .await
                .map_err(|e| self.chain_err("reading a receipt", e))?
            {
                found = Some(r);
                break;
            }
        }

        let Some(r) = found else {
            if state == IntentState::Mined {
                return self.reorged(&i, row, head, report).await;
            }
            let nonce = i
                .nonce
                .ok_or_else(|| corrupt(&i.key, "sent without a nonce"))?;
            if nonce < buried_nonce {
                return self.nonce_taken(st, &i, nonce).await;
            }
            let sent_block = row.sent_block.unwrap_or_default() as u64;
            if self.inner.fee_bump_blocks > 0
                && head >= sent_block.saturating_add(self.inner.fee_bump_blocks)
            {
                return self.bump(&i, row, head, report).await;
            }
            return self.rebroadcast(&i, row).await.map(|_| ());
        };

        let (Some(block), Some(block_hash)) = (r.block_number, r.block_hash) else {
            // A receipt of a pending transaction (some nodes): not in a block yet.
            return Ok(());
        };
        let hash = r.transaction_hash;
        let nonce = i.nonce.unwrap_or_default();
        if !r.status() {
            let reason = self.onchain_revert_reason(&i, block).await;
            let error =
                format!("reverted on chain in block {block} (transaction {hash}): {reason}");
            let upd = included(
                IntentState::Failed,
                &r,
                block,
                block_hash,
                Some(error.clone()),
                self.inner.clock.now_ms(),
            );
            if self.transition(&i.key, state, upd).await? {
                warn!(key = %i.key, nonce, %hash, block, gas_used = r.gas_used, error, "intent failed: its transaction reverted");
                count_outcome(&i.kind, "failed");
                report.failed += 1;
            }
            return Ok(());
        }

        let known = state == IntentState::Mined
            && i.tx_hash == Some(hash)
            && row.block_hash.as_deref() == Some(block_hash.to_string().as_str())
            && i.block_number == Some(block);
        if !known {
            let upd = included(
                IntentState::Mined,
                &r,
                block,
                block_hash,
                None,
                self.inner.clock.now_ms(),
            );
            if !self.transition(&i.key, state, upd).await? {
                return Ok(());
            }
            if state == IntentState::Mined {
                warn!(key = %i.key, nonce, %hash, block, "intent re-mined in another block after a reorg");
            } else {
                info!(key = %i.key, nonce, %hash, block, gas_used = r.gas_used, "intent mined");
            }
            count_outcome(&i.kind, "mined");
            report.mined += 1;
        }

        if head.saturating_add(1) >= block.saturating_add(self.inner.confirmations) {
            let canonical = self
                .inner
                .provider
                .get_block_by_number(BlockNumberOrTag::Number(block))
                .await
                .map_err(|e| self.chain_err("reading a block", e))?
                .map(|b| b.header.hash);
            if canonical != Some(block_hash) {
                // The block is being replaced: the next pass sees where the transaction went.
                return Ok(());
            }
            let upd = intents::ActiveModel {
                state: Set(IntentState::Final.as_str().to_owned()),
                updated_at_ms: Set(self.inner.clock.now_ms()),
                ..Default::default()
            };
            if self.transition(&i.key, IntentState::Mined, upd).await? {
                info!(key = %i.key, nonce, %hash, block, gas_used = r.gas_used, confirmations = self.inner.confirmations, "intent final");
                count_outcome(&i.kind, "final");
                report.finalized += 1;
            }
        }
        Ok(())
    }

    /// A mined intent whose transaction is no longer in any block: back to `sent`, broadcast.
    async fn reorged(
        &self,
        i: &Intent,
        row: &intents::Model,
        head: u64,
        report: &mut PumpReport,
    ) -> Result<()> {
        let upd = intents::ActiveModel {
            state: Set(IntentState::Sent.as_str().to_owned()),
            block_number: Set(None),
            block_hash: Set(None),
            gas_used: Set(None),
            sent_block: Set(Some(head as i64)),
            updated_at_ms: Set(self.inner.clock.now_ms()),
            ..Default::default()
        };
        if !self.transition(&i.key, IntentState::Mined, upd).await? {
            return Ok(());
        }
        warn!(key = %i.key, nonce = i.nonce, hash = ?i.tx_hash, block = i.block_number, "a reorg dropped the intent's transaction: rebroadcasting");
        self.rebroadcast(i, row).await?;
        count_outcome(&i.kind, "rebroadcast");
        report.rebroadcast += 1;
        Ok(())
    }

    /// The intent's nonce was consumed (and buried) by a transaction that is none of its own:
    /// the action did not happen; it goes back to `pending` for a fresh nonce.
    async fn nonce_taken(&self, st: &mut PassState, i: &Intent, nonce: u64) -> Result<()> {
        let error = format!(
            "nonce {nonce} was used by another transaction of {}; sent again with a new nonce",
            self.inner.sender
        );
        let upd = intents::ActiveModel {
            error: Set(Some(error.clone())),
            ..fresh_attempt(self.inner.clock.now_ms())
        };
        if self.transition(&i.key, IntentState::Sent, upd).await? {
            warn!(key = %i.key, nonce, error, "intent re-queued");
            count_outcome(&i.kind, "requeued");
        }
        st.next_nonce = None;
        Ok(())
    }

    /// Re-signs the intent's nonce with both fees raised; at the cap, rebroadcasts instead.
    async fn bump(
        &self,
        i: &Intent,
        row: &intents::Model,
        head: u64,
        report: &mut PumpReport,
    ) -> Result<()> {
        let nonce = i
            .nonce
            .ok_or_else(|| corrupt(&i.key, "sent without a nonce"))?;
        let gas_limit =
            row.gas_limit
                .ok_or_else(|| corrupt(&i.key, "sent without a gas limit"))? as u64;
        let old_max = parse_u128(&i.key, row.max_fee_per_gas.as_deref())?;
        let old_tip = parse_u128(&i.key, row.max_priority_fee_per_gas.as_deref())?;
        let fees = self
            .inner
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(|e| self.chain_err("estimating fees", e))?;
        let pct = u128::from(self.inner.fee_bump_percent);
        let raise = |x: u128| (x.saturating_mul(100 + pct) / 100).max(x.saturating_add(1));
        let cap = self.inner.max_fee_per_gas;
        let max_fee = raise(old_max).max(fees.max_fee_per_gas).min(cap);
        let tip = raise(old_tip)
            .max(fees.max_priority_fee_per_gas)
            .min(max_fee);
        if max_fee <= old_max {
            // At the cap: the same transaction again.
            return self.rebroadcast(i, row).await.map(|_| ());
        }
        let (hash, raw) = self.sign(nonce, gas_limit, max_fee, tip, i)?;
        let mut hashes = row.hashes.clone();
        if !hashes.is_empty() {
            hashes.push(',');
        }
        hashes.push_str(&hash.to_string());
        let upd = intents::ActiveModel {
            tx_hash: Set(Some(hash.to_string())),
            hashes: Set(hashes),
            raw_tx: Set(Some(raw.to_string())),
            max_fee_per_gas: Set(Some(max_fee.to_string())),
            max_priority_fee_per_gas: Set(Some(tip.to_string())),
            sent_block: Set(Some(head as i64)),
            attempts: Set(row.attempts + 1),
            updated_at_ms: Set(self.inner.clock.now_ms()),
            ..Default::default()
        };
        if !self
            .transition_fenced(&i.key, IntentState::Sent, upd)
            .await?
        {
            return Ok(());
        }
        info!(key = %i.key, nonce, %hash, old_max_fee = old_max, max_fee, tip, attempts = row.attempts + 1, "fees bumped");
        count_outcome(&i.kind, "bumped");
        report.bumped += 1;
        match self.broadcast(&raw).await {
            Ok(()) => {}
            Err(Rpc::Node { message, .. }) => {
                warn!(key = %i.key, nonce, %hash, message, "the node refused the bumped transaction")
            }
            Err(Rpc::Down(e)) => return Err(e),
        }
        Ok(())
    }

    /// Broadcasts the stored signed transaction again; node refusals ("already known", "nonce
    /// too low"…) are expected and left to the receipt lookup. `true` if the node accepted it.
    async fn rebroadcast(&self, i: &Intent, row: &intents::Model) -> Result<bool> {
        let raw = row
            .raw_tx
            .as_deref()
            .ok_or_else(|| corrupt(&i.key, "sent without a signed transaction"))?;
        let raw = Bytes::from_str(raw).map_err(|_| corrupt(&i.key, "bad raw_tx"))?;
        match self.broadcast(&raw).await {
            Ok(()) => Ok(true),
            Err(Rpc::Node { message, .. }) => {
                tracing::debug!(key = %i.key, message, "rebroadcast refused");
                Ok(false)
            }
            Err(Rpc::Down(e)) => Err(e),
        }
    }

    /// A pending intent: simulate, estimate, sign, record as `sent`, broadcast.
    async fn send_new(
        &self,
        st: &mut PassState,
        row: &intents::Model,
        head: u64,
        report: &mut PumpReport,
    ) -> Result<()> {
        let i = intent(row)?;
        let p = &self.inner.provider;
        let req = TransactionRequest::default()
            .with_from(self.inner.sender)
            .with_to(i.to)
            .with_input(i.data.clone())
            .with_value(i.value);
        let simulated = p.call(req.clone()).block(BlockId::latest()).await;
        let estimated = match simulated {
            Ok(_) => p.estimate_gas(req).block(BlockId::latest()).await,
            Err(e) => Err(e),
        };
        let gas = match estimated.map_err(|e| self.classify("simulating the intent", e)) {
            Ok(gas) => gas,
            Err(Rpc::Node { message, revert }) => {
                let reason = revert
                    .as_ref()
                    .and_then(|d| decode_revert(d))
                    .unwrap_or(message);
                let upd = intents::ActiveModel {
                    state: Set(IntentState::Failed.as_str().to_owned()),
                    error: Set(Some(reason.clone())),
                    updated_at_ms: Set(self.inner.clock.now_ms()),
                    ..Default::default()
                };
                if self.transition(&i.key, IntentState::Pending, upd).await? {
                    warn!(key = %i.key, kind = %i.kind, reason, "intent failed: the simulation reverted (no nonce used)");
                    count_outcome(&i.kind, "failed");
                    report.failed += 1;
                }
                return Ok(());
            }
            Err(Rpc::Down(e)) => return Err(e),
        };
        let gas_limit = gas.saturating_mul(12) / 10 + 10_000;
        let fees = p
            .estimate_eip1559_fees()
            .await
            .map_err(|e| self.chain_err("estimating fees", e))?;
        let cap = self.inner.max_fee_per_gas;
        if fees.max_fee_per_gas > cap {
            warn!(key = %i.key, estimate = fees.max_fee_per_gas, cap, "fee estimate above chain.max_fee_per_gas_wei: sending at the cap");
        }
        let max_fee = fees.max_fee_per_gas.min(cap);
        let tip = fees.max_priority_fee_per_gas.min(max_fee);
        let Some(nonce) = st.next_nonce else {
            return Err(OracleError::Chain("the nonce counter is not synced".into()));
        };
        let (hash, raw) = self.sign(nonce, gas_limit, max_fee, tip, &i)?;

        // The nonce, the signed transaction and its hash, in one write, before broadcasting.
        let upd = intents::ActiveModel {
            state: Set(IntentState::Sent.as_str().to_owned()),
            nonce: Set(Some(nonce as i64)),
            tx_hash: Set(Some(hash.to_string())),
            hashes: Set(hash.to_string()),
            raw_tx: Set(Some(raw.to_string())),
            gas_limit: Set(Some(gas_limit as i64)),
            max_fee_per_gas: Set(Some(max_fee.to_string())),
            max_priority_fee_per_gas: Set(Some(tip.to_string())),
            sent_block: Set(Some(head as i64)),
            block_number: Set(None),
            block_hash: Set(None),
            gas_used: Set(None),
            attempts: Set(1),
            error: Set(None),
            updated_at_ms: Set(self.inner.clock.now_ms()),
            ..Default::default()
        };
        match self
            .transition_fenced(&i.key, IntentState::Pending, upd)
            .await
        {
            Ok(true) => st.next_nonce = Some(nonce + 1),
            Ok(false) => return Ok(()),
            Err(e) => {
                // Perhaps written after all (a lost reply), perhaps a nonce clash: re-sync.
                st.next_nonce = None;
                return Err(e);
            }
        }
        report.sent += 1;
        count_outcome(&i.kind, "sent");
        match self.broadcast(&raw).await {
            Ok(()) => {
                info!(key = %i.key, kind = %i.kind, nonce, %hash, gas_limit, max_fee, tip, "intent sent");
                #[cfg(feature = "fault-injection")]
                if let Some(prefix) = &self.inner.kill_after_send
                    && i.key.starts_with(prefix.as_str())
                {
                    kill_self(&i.key);
                }
            }
            Err(Rpc::Node { message, .. }) => {
                warn!(key = %i.key, nonce, %hash, message, "the node refused the transaction: it is recorded and will be rebroadcast or bumped");
                if message.to_ascii_lowercase().contains("nonce") {
                    st.next_nonce = None;
                }
            }
            Err(Rpc::Down(e)) => return Err(e),
        }
        Ok(())
    }

    fn sign(
        &self,
        nonce: u64,
        gas_limit: u64,
        max_fee: u128,
        tip: u128,
        i: &Intent,
    ) -> Result<(B256, Bytes)> {
        let mut tx = TxEip1559 {
            chain_id: self.inner.chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(i.to),
            value: i.value,
            access_list: Default::default(),
            input: i.data.clone(),
        };
        let sig = self
            .inner
            .signer
            .sign_transaction_sync(&mut tx)
            .map_err(|e| OracleError::Chain(format!("signing intent `{}`: {e}", i.key)))?;
        let signed = tx.into_signed(sig);
        let hash = *signed.hash();
        let raw = TxEnvelope::from(signed).encoded_2718();
        Ok((hash, raw.into()))
    }

    async fn broadcast(&self, raw: &[u8]) -> std::result::Result<(), Rpc> {
        self.inner
            .provider
            .send_raw_transaction(raw)
            .await
            .map(|_| ())
            .map_err(|e| self.classify("broadcasting a transaction", e))
    }

    /// Why a mined transaction reverted: the call replayed on the state before its block, then
    /// after it (the exact state between is not available over plain JSON-RPC).
    async fn onchain_revert_reason(&self, i: &Intent, block: u64) -> String {
        let req = TransactionRequest::default()
            .with_from(self.inner.sender)
            .with_to(i.to)
            .with_input(i.data.clone())
            .with_value(i.value);
        for at in [block.saturating_sub(1), block] {
            if let Err(RpcError::ErrorResp(p)) = self
                .inner
                .provider
                .call(req.clone())
                .block(BlockId::number(at))
                .await
            {
                return p
                    .as_revert_data()
                    .and_then(|d| decode_revert(&d))
                    .unwrap_or_else(|| p.message.to_string());
            }
        }
        "no reason (the replayed call succeeds; out of gas?)".into()
    }

    /// Moves `key` from `from` with the changes in `upd`; false if it was not in `from`.
    async fn transition(
        &self,
        key: &str,
        from: IntentState,
        upd: intents::ActiveModel,
    ) -> Result<bool> {
        Ok(self.update_intent(key, from, upd, None).await? == 1)
    }

    /// The update behind [`transition`](Self::transition), under `fence` when given: the rows
    /// it changed.
    async fn update_intent(
        &self,
        key: &str,
        from: IntentState,
        upd: intents::ActiveModel,
        fence: Option<&Fence>,
    ) -> Result<u64> {
        let mut update = intents::Entity::update_many()
            .set(upd)
            .filter(intents::Column::Key.eq(key))
            .filter(intents::Column::State.eq(from.as_str()));
        if let Some(fence) = fence {
            let backend = sea_orm::ConnectionTrait::get_database_backend(&self.inner.db);
            update = update.filter(fence_condition(backend, fence));
        }
        let res = update
            .exec(&self.inner.db)
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => OracleError::Conflict(format!(
                    "intent `{key}`: its nonce is already recorded for another intent"
                )),
                _ => e.into(),
            })?;
        Ok(res.rows_affected)
    }

    /// [`transition`](Self::transition) for the writes that record a nonce and a signed
    /// transaction: in cluster mode the same statement requires this replica's lease term to be
    /// current, and `NotLeader` is returned when the database refused it for that reason.
    async fn transition_fenced(
        &self,
        key: &str,
        from: IntentState,
        upd: intents::ActiveModel,
    ) -> Result<bool> {
        let Some(fence) = self.inner.fence.require(SENDS)? else {
            return self.transition(key, from, upd).await;
        };
        if self.update_intent(key, from, upd, Some(&fence)).await? == 1 {
            return Ok(true);
        }
        if !Lease::holds(&self.inner.db, &fence).await? {
            metrics::counter!("imo_cluster_fenced_writes_total").increment(1);
            warn!(
                key,
                token = fence.token,
                "a send was fenced off: this replica's lease term is over"
            );
            return Err(OracleError::NotLeader(format!(
                "the `{}` lease term {} of {} is over; the write was refused",
                fence.name, fence.token, fence.holder
            )));
        }
        Ok(false)
    }

    async fn record_gauges(&self) -> Result<()> {
        let states: Vec<String> = intents::Entity::find()
            .select_only()
            .column(intents::Column::State)
            .filter(intents::Column::State.is_in([
                IntentState::Pending.as_str(),
                IntentState::Sent.as_str(),
                IntentState::Mined.as_str(),
            ]))
            .into_tuple()
            .all(&self.inner.db)
            .await?;
        for s in [IntentState::Pending, IntentState::Sent, IntentState::Mined] {
            let n = states.iter().filter(|x| x.as_str() == s.as_str()).count();
            metrics::gauge!("imo_chain_tx_intents", "state" => s.as_str()).set(n as f64);
        }
        Ok(())
    }

    fn chain_err(&self, what: &str, e: impl fmt::Display) -> OracleError {
        OracleError::Chain(format!("{what} at {}: {e}", self.inner.rpc_url))
    }

    fn classify(&self, what: &str, e: TransportError) -> Rpc {
        match e {
            RpcError::ErrorResp(p) => Rpc::Node {
                revert: p.as_revert_data(),
                message: p.message.to_string(),
            },
            other => Rpc::Down(self.chain_err(what, other)),
        }
    }
}

/// The columns of a pending intent with no attempt: no nonce, hashes, fees or block (what a new
/// intent, a retry and a re-queue after a lost nonce all start from).
fn fresh_attempt(now: i64) -> intents::ActiveModel {
    intents::ActiveModel {
        state: Set(IntentState::Pending.as_str().to_owned()),
        nonce: Set(None),
        tx_hash: Set(None),
        hashes: Set(String::new()),
        raw_tx: Set(None),
        gas_limit: Set(None),
        max_fee_per_gas: Set(None),
        max_priority_fee_per_gas: Set(None),
        sent_block: Set(None),
        block_number: Set(None),
        block_hash: Set(None),
        gas_used: Set(None),
        attempts: Set(0),
        error: Set(None),
        updated_at_ms: Set(now),
        ..Default::default()
    }
}

/// The columns of an intent whose transaction (`r`) is in block `block` with hash `block_hash`.
fn included(
    state: IntentState,
    r: &TransactionReceipt,
    block: u64,
    block_hash: B256,
    error: Option<String>,
    now_ms: i64,
) -> intents::ActiveModel {
    intents::ActiveModel {
        state: Set(state.as_str().to_owned()),
        tx_hash: Set(Some(r.transaction_hash.to_string())),
        block_number: Set(Some(block as i64)),
        block_hash: Set(Some(block_hash.to_string())),
        gas_used: Set(Some(r.gas_used as i64)),
        error: Set(error),
        updated_at_ms: Set(now_ms),
        ..Default::default()
    }
}

/// What only the leader does, for `not_leader` errors.
const SENDS: &str = "operator transactions are sent";

fn count_outcome(kind: &str, outcome: &'static str) {
    metrics::counter!("imo_chain_tx_total", "kind" => kind.to_owned(), "outcome" => outcome)
        .increment(1);
}

/// `kill-after-send`: the process dies as a crash would, right after a broadcast.
#[cfg(feature = "fault-injection")]
fn kill_self(key: &str) -> ! {
    warn!(key, "fault injection: SIGKILL after broadcasting");
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &std::process::id().to_string()])
        .status();
    loop {
        std::thread::park();
    }
}

/// Revert data decoded with the four contracts' error enums (`AlreadyAttested { epoch: 3, .. }`
/// style), or a standard `Error(string)`/`Panic(uint256)`.
fn decode_revert(data: &[u8]) -> Option<String> {
    fn unwrap_variant(debug: String) -> String {
        // `Variant(Variant { .. })` → `Variant { .. }`
        match (debug.find('('), debug.ends_with(')')) {
            (Some(open), true) => debug[open + 1..debug.len() - 1].to_owned(),
            _ => debug,
        }
    }
    if let Ok(e) = UsageOracle::UsageOracleErrors::abi_decode(data) {
        return Some(unwrap_variant(format!("{e:?}")));
    }
    if let Ok(e) = PaymentVault::PaymentVaultErrors::abi_decode(data) {
        return Some(unwrap_variant(format!("{e:?}")));
    }
    if let Ok(e) = ModelRegistry::ModelRegistryErrors::abi_decode(data) {
        return Some(unwrap_variant(format!("{e:?}")));
    }
    if let Ok(e) = ModelToken::ModelTokenErrors::abi_decode(data) {
        return Some(unwrap_variant(format!("{e:?}")));
    }
    alloy::sol_types::decode_revert_reason(data)
}

fn corrupt(key: &str, what: &str) -> OracleError {
    OracleError::Database(format!("corrupt intent `{key}`: {what}"))
}

fn parse_u128(key: &str, s: Option<&str>) -> Result<u128> {
    s.and_then(|s| s.parse().ok())
        .ok_or_else(|| corrupt(key, "bad fee"))
}

fn parse_hashes(s: &str) -> Result<Vec<B256>> {
    s.split(',')
        .filter(|h| !h.is_empty())
        .map(|h| {
            h.parse()
                .map_err(|_| OracleError::Database(format!("corrupt intent hash `{h}`")))
        })
        .collect()
}

fn intent(r: &intents::Model) -> Result<Intent> {
    let bad = |what: &str| corrupt(&r.key, what);
    Ok(Intent {
        key: r.key.clone(),
        kind: r.kind.clone(),
        to: r.to_address.parse().map_err(|_| bad("to_address"))?,
        data: r.calldata.parse().map_err(|_| bad("calldata"))?,
        value: U256::from_str_radix(&r.value_wei, 10).map_err(|_| bad("value_wei"))?,
        state: r.state.parse().map_err(|_| bad("state"))?,
        nonce: r.nonce.map(|n| n as u64),
        tx_hash: r
            .tx_hash
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|_| bad("tx_hash"))?,
        block_number: r.block_number.map(|n| n as u64),
        gas_used: r.gas_used.map(|n| n as u64),
        attempts: r.attempts.max(0) as u32,
        error: r.error.clone(),
        created_at_ms: r.created_at_ms,
        updated_at_ms: r.updated_at_ms,
    })
}
