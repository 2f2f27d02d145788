//! Prepaid balances and durable receipts.
//!
//! Every call first *reserves* its price against the caller's balance (in memory, under one
//! lock, so concurrent calls never overspend: with a balance for exactly K calls, exactly K
//! reservations succeed and the rest get `InsufficientBalance` before any inference runs).
//! After inference, the receipt is *committed*: a single writer task takes all pending
//! receipts and credits, writes them and the new balances in one database transaction (group
//! commit, one fsync for many calls), and only then answers each caller. A receipt is
//! therefore durable before its response is sent, and the debit is in the same transaction.
//! A call that fails releases its reservation: failed inferences are not charged.
//!
//! All writes to balances go through this writer, so one process is the single writer of
//! balances (run one metering replica per database; see docs/ARCHITECTURE.md). With
//! `cluster.enabled` that process is the holder of the cluster lease ([`Ledger::set_fence`]):
//! other replicas refuse metered calls and balance writes (`not_leader`), and every batch's
//! transaction first checks, in the database, that the lease term it was served under is still
//! current (and keeps the lease row locked until it commits), so a deposed leader writes nothing.

use std::{collections::HashMap, sync::Arc};

use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
    sea_query::OnConflict,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, instrument};

use crate::{
    clock::SharedClock,
    db::{balances, chain_events, credits, receipts, vault_accounts},
    error::{OracleError, Result},
    receipts::ReceiptRecord,
    types::{Address, Wei},
};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Account {
    /// Committed balance (as in the database).
    balance: u128,
    /// Reserved by calls in flight.
    reserved: u128,
    spent: u128,
    credited: u128,
    /// A pending withdrawal request (chain mode): not served against.
    held: u128,
    /// The highest signed spending cap, cumulative over the client's lifetime (chain mode).
    cap: u128,
}

/// A caller's balance as reported by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BalanceView {
    pub balance_wei: Wei,
    pub reserved_wei: Wei,
    pub spent_wei: Wei,
    pub credited_wei: Wei,
    /// Held for a pending withdrawal request (chain mode).
    pub held_wei: Wei,
    /// The client's signed lifetime spending cap (chain mode; 0 when none was signed).
    pub cap_wei: Wei,
    /// What the next calls may spend: the balance less reservations and holds, and, in chain
    /// mode, no more than the cap leaves.
    pub available_wei: Wei,
}

/// A vault event as the indexer applies it to a client's account (chain mode), recorded in
/// `chain_events` in the same transaction, so that re-reading a range applies nothing twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEvent {
    /// `<tx hash>:<log index>`.
    pub id: String,
    pub block_number: u64,
    pub block_hash: String,
    pub tx_hash: String,
    /// `Deposited`, `WithdrawalRequested`, `WithdrawalCancelled`, `Withdrawn`, `SpendingCapSet`.
    pub event: String,
    pub account: Address,
    pub amount: u128,
    pub effect: ChainEffect,
}

/// What a vault event does to the off-chain account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainEffect {
    /// A deposit: the balance grows.
    Credit(u128),
    /// A withdrawal paid out: the balance shrinks (never below zero) and the hold ends.
    Withdrawn(u128),
    /// A withdrawal request (replacing any earlier one): this much is no longer served against.
    Hold(u128),
    /// The cap on-chain is now this (the vault only ever raises it).
    Cap(u128),
    /// A deposit of more than 2^128 − 1 wei: recorded as refused, never applied.
    Unrepresentable,
}

enum Write {
    Receipt(ReceiptRecord),
    Credit {
        id: String,
        address: Address,
        amount: u128,
        source: String,
    },
    Chain(ChainEvent),
    /// A client's signed acknowledgement (acknowledged billing, `crate::acks`): durable before
    /// it counts.
    Ack(crate::acks::SignedAck),
    /// A barrier: every receipt committed before it is durable when it answers, and no receipt
    /// of an epoch up to this one commits after it.
    Freeze(u64),
    /// Commit what is queued, answer, and stop: later writes fail (ordered shutdown).
    Stop,
}

struct Job {
    write: Write,
    done: oneshot::Sender<Result<()>>,
}

/// Money reserved for one call. Dropping it without `commit` releases the reservation.
pub struct Reservation {
    ledger: Ledger,
    address: Address,
    amount: u128,
    live: bool,
}

impl Reservation {
    pub fn amount(&self) -> Wei {
        Wei(self.amount)
    }

    /// Writes the receipt and the debit durably; returns once they are committed.
    pub async fn commit(mut self, receipt: ReceiptRecord) -> Result<()> {
        debug_assert_eq!(receipt.price_wei.0, self.amount);
        self.live = false;
        let (done, rx) = oneshot::channel();
        let sent = self
            .ledger
            .inner
            .tx
            .send(Job {
                write: Write::Receipt(receipt),
                done,
            })
            .await;
        if sent.is_err() {
            self.ledger.release(self.address, self.amount);
            return Err(OracleError::Database(
                "the receipt writer has stopped".into(),
            ));
        }
        rx.await.unwrap_or_else(|_| {
            Err(OracleError::Database(
                "the receipt writer has stopped".into(),
            ))
        })
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.live {
            self.ledger.release(self.address, self.amount);
        }
    }
}

struct Inner {
    db: DatabaseConnection,
    clock: SharedClock,
    accounts: std::sync::Mutex<HashMap<Address, Account>>,
    tx: mpsc::Sender<Job>,
    /// Chain mode: spending needs a cap, balances come from deposits only.
    chain_mode: bool,
    /// Cluster mode: the lease term balance writes need (see [`Ledger::set_fence`]).
    fence: crate::cluster::lease::FenceCell,
}

#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

impl Inner {
    /// The accounts map. No code panics while holding it (all arithmetic is checked), but a
    /// poisoned lock must still never stop every caller: take the data as it is.
    fn accounts(&self) -> std::sync::MutexGuard<'_, HashMap<Address, Account>> {
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn parse_wei(s: &str) -> Result<u128> {
    s.parse::<u128>()
        .map_err(|_| OracleError::Database(format!("corrupt amount `{s}` in balances")))
}

impl Ledger {
    /// Starts the ledger and its writer task (on the current tokio runtime).
    ///
    /// In `chain_mode` balances come from vault events only ([`Ledger::apply_chain_event`]),
    /// admin credits are refused, and every call must also fit under the client's signed cap.
    pub fn start(
        db: DatabaseConnection,
        max_batch: usize,
        chain_mode: bool,
        clock: SharedClock,
    ) -> Self {
        let (tx, rx) = mpsc::channel(max_batch.max(1) * 4);
        let inner = Arc::new(Inner {
            db,
            clock,
            accounts: Default::default(),
            tx,
            chain_mode,
            fence: Default::default(),
        });
        let ledger = Self { inner };
        tokio::spawn(writer(ledger.clone(), rx, max_batch.max(1)));
        ledger
    }

    /// Cluster mode: balance writes need the lease term `fence` (`None`: refused with
    /// `not_leader`). The cached accounts without reservations are forgotten, so a new leader
    /// serves from what the database holds, not from what it read while it followed.
    pub fn set_fence(&self, fence: Option<crate::cluster::Fence>) {
        self.inner.fence.set(fence);
        self.inner.accounts().retain(|_, a| a.reserved > 0);
    }

    async fn load(&self, address: Address) -> Result<()> {
        if matches!(
            self.inner.fence.get(),
            crate::cluster::lease::FenceState::Fenced(None)
        ) {
            // A follower: another replica writes balances, so never serve a cached copy.
            self.inner.accounts().remove(&address);
        }
        if self.inner.accounts().contains_key(&address) {
            return Ok(());
        }
        let row = balances::Entity::find_by_id(address.storage_key())
            .one(&self.inner.db)
            .await?;
        let mut account = match row {
            Some(r) => Account {
                balance: parse_wei(&r.balance_wei)?,
                reserved: 0,
                spent: parse_wei(&r.spent_wei)?,
                credited: parse_wei(&r.credited_wei)?,
                held: 0,
                cap: 0,
            },
            None => Account::default(),
        };
        if let Some(v) = vault_accounts::Entity::find_by_id(address.storage_key())
            .one(&self.inner.db)
            .await?
        {
            account.held = parse_wei(&v.held_wei)?;
            account.cap = parse_wei(&v.cap_wei)?;
        }
        // Another task may have loaded it meanwhile; the first load wins (it may carry reservations).
        self.inner.accounts().entry(address).or_insert(account);
        Ok(())
    }

    /// Reserves `price` of `address`'s balance, or fails with `InsufficientBalance`.
    pub async fn reserve(&self, address: Address, price: Wei) -> Result<Reservation> {
        self.inner.fence.require(METERING)?;
        self.load(address).await?;
        let mut accounts = self.inner.accounts();
        let acct = accounts.entry(address).or_default();
        let available = acct
            .balance
            .saturating_sub(acct.reserved.saturating_add(acct.held));
        if available < price.0 {
            return Err(OracleError::InsufficientBalance {
                needed: price,
                available: Wei(available),
            });
        }
        if self.inner.chain_mode {
            let room = acct
                .cap
                .saturating_sub(acct.spent.saturating_add(acct.reserved));
            if room < price.0 {
                return Err(OracleError::SpendingCapExceeded {
                    needed: price,
                    available: Wei(room),
                });
            }
        }
        // reserved + price <= balance: cannot overflow.
        acct.reserved += price.0;
        Ok(Reservation {
            ledger: self.clone(),
            address,
            amount: price.0,
            live: true,
        })
    }

    fn release(&self, address: Address, amount: u128) {
        if let Some(acct) = self.inner.accounts().get_mut(&address) {
            acct.reserved = acct.reserved.saturating_sub(amount);
        }
    }

    /// An admin's credit to `address` (the source names the admin's key).
    pub async fn credit_by(
        &self,
        by: &crate::auth::Principal,
        address: Address,
        amount: Wei,
    ) -> Result<BalanceView> {
        if !by.is_admin() {
            return Err(OracleError::Forbidden(
                "only admin keys may credit balances".into(),
            ));
        }
        self.credit(address, amount, &format!("admin:{}", by.key_id))
            .await
    }

    /// Adds `amount` to `address`'s balance, durably, recording its source.
    #[instrument(skip(self), fields(address = %address, amount = %amount))]
    pub async fn credit(&self, address: Address, amount: Wei, source: &str) -> Result<BalanceView> {
        if amount.0 == 0 {
            return Err(OracleError::InvalidInput(
                "the amount must be positive".into(),
            ));
        }
        if self.inner.chain_mode {
            return Err(OracleError::Conflict(
                "the chain loop is on (chain.enabled): balances come only from deposits to the PaymentVault".into(),
            ));
        }
        self.inner.fence.require(METERING)?;
        self.load(address).await?;
        if let Some(a) = self.inner.accounts().get(&address)
            && (a.balance.checked_add(amount.0).is_none()
                || a.credited.checked_add(amount.0).is_none())
        {
            return Err(overflow(address, amount.0));
        }
        let id = format!("cr_{}", ulid::Ulid::new().to_string().to_lowercase());
        let (done, rx) = oneshot::channel();
        let write = Write::Credit {
            id,
            address,
            amount: amount.0,
            source: source.to_owned(),
        };
        self.inner
            .tx
            .send(Job { write, done })
            .await
            .map_err(|_| OracleError::Database("the ledger writer has stopped".into()))?;
        rx.await.unwrap_or_else(|_| {
            Err(OracleError::Database(
                "the ledger writer has stopped".into(),
            ))
        })?;
        self.balance(address).await
    }

    pub async fn balance(&self, address: Address) -> Result<BalanceView> {
        self.load(address).await?;
        let a = self
            .inner
            .accounts()
            .get(&address)
            .copied()
            .unwrap_or_default();
        let mut available = a.balance.saturating_sub(a.reserved.saturating_add(a.held));
        if self.inner.chain_mode {
            available = available.min(a.cap.saturating_sub(a.spent.saturating_add(a.reserved)));
        }
        Ok(BalanceView {
            balance_wei: Wei(a.balance),
            reserved_wei: Wei(a.reserved),
            spent_wei: Wei(a.spent),
            credited_wei: Wei(a.credited),
            held_wei: Wei(a.held),
            cap_wei: Wei(a.cap),
            available_wei: Wei(available),
        })
    }

    /// Applies a vault event (chain mode), durably and exactly once: an event whose id is
    /// already recorded is skipped (`Ok(false)`).
    pub async fn apply_chain_event(&self, event: ChainEvent) -> Result<bool> {
        self.inner.fence.require(METERING)?;
        if chain_events::Entity::find_by_id(event.id.clone())
            .one(&self.inner.db)
            .await?
            .is_some()
        {
            return Ok(false);
        }
        self.load(event.account).await?;
        self.submit(Write::Chain(event)).await?;
        Ok(true)
    }

    /// Commits every write queued so far, then stops the writer: when this returns, every
    /// receipt whose response was sent is durable, and later writes fail. Idempotent.
    pub async fn shutdown(&self) {
        let (done, rx) = oneshot::channel();
        if self
            .inner
            .tx
            .send(Job {
                write: Write::Stop,
                done,
            })
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// Writes a client's verified acknowledgement durably (in the writer's next transaction,
    /// with the receipts around it); it counts once this returns.
    pub(crate) async fn record_ack(&self, ack: crate::acks::SignedAck) -> Result<()> {
        self.submit(Write::Ack(ack)).await
    }

    /// Closes the ledger to receipts of `epoch` and earlier: when this returns, every such
    /// receipt is committed, and any that arrives later fails with `EpochClosed` (uncharged).
    pub async fn freeze(&self, epoch: u64) -> Result<()> {
        self.submit(Write::Freeze(epoch)).await
    }

    async fn submit(&self, write: Write) -> Result<()> {
        let (done, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Job { write, done })
            .await
            .map_err(|_| OracleError::Database("the ledger writer has stopped".into()))?;
        rx.await.unwrap_or_else(|_| {
            Err(OracleError::Database(
                "the ledger writer has stopped".into(),
            ))
        })
    }
}

/// The single writer: drains up to `max_batch` jobs, commits them in one transaction, answers.
async fn writer(ledger: Ledger, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut incoming = Vec::with_capacity(max_batch);
    let mut batch = Vec::with_capacity(max_batch);
    // Receipts of epochs up to this one are refused (their epoch is closed).
    let mut frozen: Option<u64> = None;
    let mut stop: Option<Job> = None;
    while stop.is_none() && rx.recv_many(&mut incoming, max_batch).await > 0 {
        for job in incoming.drain(..) {
            if stop.is_some() {
                let _ = job.done.send(Err(stopped()));
                continue;
            }
            match job.write {
                Write::Stop => stop = Some(job),
                Write::Freeze(epoch) => {
                    // Everything before the barrier commits first.
                    commit_batch(&ledger, &mut batch).await;
                    frozen = Some(frozen.map_or(epoch, |f| f.max(epoch)));
                    let _ = job.done.send(Ok(()));
                }
                // An acknowledgement of a closed epoch would change nothing settled: refused.
                Write::Ack(ref a) if frozen.is_some_and(|f| a.epoch <= f) => {
                    let _ = job.done.send(Err(crate::acks::closed(a.epoch)));
                }
                Write::Receipt(ref r) if frozen.is_some_and(|f| r.epoch <= f) => {
                    ledger.release(r.client, r.price_wei.0);
                    metrics::counter!("imo_receipts_epoch_closed_total").increment(1);
                    let _ = job.done.send(Err(OracleError::EpochClosed(r.epoch)));
                }
                _ => batch.push(job),
            }
        }
        commit_batch(&ledger, &mut batch).await;
    }
    // Stopped: nothing more is accepted; whatever raced in is refused, uncharged.
    rx.close();
    while let Some(job) = rx.recv().await {
        if let Write::Receipt(r) = &job.write {
            ledger.release(r.client, r.price_wei.0);
        }
        let _ = job.done.send(Err(stopped()));
    }
    if let Some(job) = stop {
        tracing::info!("ledger writer drained and stopped");
        let _ = job.done.send(Ok(()));
    }
}

/// What only the lease holder does (cluster mode), for `not_leader` errors.
const METERING: &str = "metered calls and balance writes";

fn stopped() -> OracleError {
    OracleError::Database("the ledger writer has stopped (the service is shutting down)".into())
}

fn overflow(address: Address, amount: u128) -> OracleError {
    OracleError::InvalidInput(format!(
        "crediting {amount} wei to {address} would take its balance past 2^128 - 1 wei; nothing was credited"
    ))
}

async fn commit_batch(ledger: &Ledger, batch: &mut Vec<Job>) {
    if batch.is_empty() {
        return;
    }
    let (next, refused) = plan(ledger, batch);
    // Jobs whose effect would overflow are answered now and left out of the transaction.
    let mut kept = Vec::with_capacity(batch.len());
    for (job, verdict) in batch.drain(..).zip(refused) {
        match verdict {
            Verdict::Apply | Verdict::RecordOnly => kept.push((job, verdict)),
            Verdict::Reject(e) => {
                if let Write::Receipt(r) = &job.write {
                    ledger.release(r.client, r.price_wei.0);
                }
                metrics::counter!("imo_ledger_writes_refused_total").increment(1);
                error!(error = %e, "ledger write refused");
                let _ = job.done.send(Err(e));
            }
        }
    }
    if kept.is_empty() {
        return;
    }
    let result = write_batch(ledger, &kept, &next).await;
    metrics::histogram!("imo_ledger_batch_size").record(kept.len() as f64);
    if let Err(e) = &result {
        error!(error = %e, jobs = kept.len(), "ledger batch failed; nothing was charged");
    }
    for (job, _) in kept {
        let outcome = match &result {
            Ok(()) => Ok(()),
            Err(OracleError::NotLeader(m)) => Err(OracleError::NotLeader(m.clone())),
            Err(e) => Err(OracleError::Database(e.to_string())),
        };
        if let (Err(_), Write::Receipt(r)) = (&outcome, &job.write) {
            // Not durable, so not charged: give the reservation back.
            ledger.release(r.client, r.price_wei.0);
        }
        let _ = job.done.send(outcome);
    }
}

/// What the writer does with one job.
enum Verdict {
    Apply,
    /// A chain event whose effect cannot be applied (the balance would pass 2^128 − 1): it is
    /// recorded as refused, so the indexer moves on and applies it never.
    RecordOnly,
    Reject(OracleError),
}

/// The new account states the batch leads to, computed with checked arithmetic from the
/// committed ones; a job that would overflow is refused on its own and changes nothing.
fn plan(ledger: &Ledger, batch: &[Job]) -> (HashMap<Address, Account>, Vec<Verdict>) {
    let mut next: HashMap<Address, Account> = HashMap::new();
    let mut verdicts = Vec::with_capacity(batch.len());
    let accounts = ledger.inner.accounts();
    for job in batch {
        let addr = match &job.write {
            Write::Receipt(r) => r.client,
            Write::Credit { address, .. } => *address,
            Write::Chain(e) => e.account,
            Write::Ack(_) | Write::Freeze(_) | Write::Stop => {
                verdicts.push(Verdict::Apply);
                continue;
            }
        };
        let a = next
            .entry(addr)
            .or_insert_with(|| accounts.get(&addr).copied().unwrap_or_default());
        let mut b = *a;
        let verdict = match &job.write {
            Write::Receipt(r) => match (
                b.balance.checked_sub(r.price_wei.0),
                b.spent.checked_add(r.price_wei.0),
            ) {
                (Some(balance), Some(spent)) => {
                    b.balance = balance;
                    b.spent = spent;
                    Verdict::Apply
                }
                _ => Verdict::Reject(OracleError::InvalidInput(format!(
                    "charging {} wei to {addr} would leave its account out of range; not charged",
                    r.price_wei
                ))),
            },
            Write::Credit { amount, .. } => {
                match (
                    b.balance.checked_add(*amount),
                    b.credited.checked_add(*amount),
                ) {
                    (Some(balance), Some(credited)) => {
                        b.balance = balance;
                        b.credited = credited;
                        Verdict::Apply
                    }
                    _ => Verdict::Reject(overflow(addr, *amount)),
                }
            }
            Write::Chain(e) => match e.effect {
                ChainEffect::Credit(x) => {
                    match (b.balance.checked_add(x), b.credited.checked_add(x)) {
                        (Some(balance), Some(credited)) => {
                            b.balance = balance;
                            b.credited = credited;
                            Verdict::Apply
                        }
                        _ => Verdict::RecordOnly,
                    }
                }
                ChainEffect::Unrepresentable => Verdict::RecordOnly,
                ChainEffect::Withdrawn(x) => {
                    b.balance = b.balance.saturating_sub(x);
                    b.held = 0;
                    Verdict::Apply
                }
                ChainEffect::Hold(x) => {
                    b.held = x;
                    Verdict::Apply
                }
                ChainEffect::Cap(x) => {
                    b.cap = b.cap.max(x);
                    Verdict::Apply
                }
            },
            Write::Ack(_) | Write::Freeze(_) | Write::Stop => Verdict::Apply,
        };
        if matches!(verdict, Verdict::Apply) {
            *a = b;
        }
        if let (Verdict::RecordOnly, Write::Chain(e)) = (&verdict, &job.write) {
            metrics::counter!("imo_chain_events_refused_total").increment(1);
            error!(event = %e.id, account = %e.account, amount = %e.amount, "vault event refused: the off-chain balance would pass 2^128 - 1 wei; recorded, not applied");
        }
        verdicts.push(verdict);
    }
    (next, verdicts)
}

async fn write_batch(
    ledger: &Ledger,
    batch: &[(Job, Verdict)],
    next: &HashMap<Address, Account>,
) -> Result<()> {
    let now = ledger.inner.clock.now_ms();
    let txn = ledger.inner.db.begin().await?;
    if let Some(fence) = ledger.inner.fence.require(METERING)? {
        crate::cluster::lease::hold_in(&txn, &fence).await?;
    }
    let receipt_rows: Vec<receipts::ActiveModel> = batch
        .iter()
        .filter_map(|(j, _)| match &j.write {
            Write::Receipt(r) => Some(receipt_row(r)),
            _ => None,
        })
        .collect();
    // 13 columns x 1000 rows stays under PostgreSQL's 65535 bind parameters.
    for chunk in receipt_rows.chunks(1000) {
        receipts::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    let credit_rows: Vec<credits::ActiveModel> = batch
        .iter()
        .filter_map(|(j, _)| match &j.write {
            Write::Credit {
                id,
                address,
                amount,
                source,
            } => Some(credits::ActiveModel {
                id: Set(id.clone()),
                address: Set(address.storage_key()),
                amount_wei: Set(amount.to_string()),
                source: Set(source.clone()),
                created_at_ms: Set(now),
            }),
            _ => None,
        })
        .collect();
    if !credit_rows.is_empty() {
        credits::Entity::insert_many(credit_rows)
            .exec_without_returning(&txn)
            .await?;
    }
    let event_rows: Vec<chain_events::ActiveModel> = batch
        .iter()
        .filter_map(|(j, verdict)| match &j.write {
            Write::Chain(e) => Some(chain_events::ActiveModel {
                id: Set(e.id.clone()),
                block_number: Set(e.block_number as i64),
                block_hash: Set(e.block_hash.clone()),
                tx_hash: Set(e.tx_hash.clone()),
                event: Set(match verdict {
                    Verdict::RecordOnly => format!("{}:refused", e.event),
                    _ => e.event.clone(),
                }),
                account: Set(e.account.storage_key()),
                amount_wei: Set(e.amount.to_string()),
                created_at_ms: Set(now),
            }),
            _ => None,
        })
        .collect();
    if !event_rows.is_empty() {
        let vault_rows: Vec<vault_accounts::ActiveModel> = batch
            .iter()
            .filter_map(|(j, _)| match &j.write {
                Write::Chain(e) => Some(e.account),
                _ => None,
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|addr| {
                let a = &next[&addr];
                vault_accounts::ActiveModel {
                    address: Set(addr.storage_key()),
                    held_wei: Set(a.held.to_string()),
                    cap_wei: Set(a.cap.to_string()),
                    updated_at_ms: Set(now),
                }
            })
            .collect();
        chain_events::Entity::insert_many(event_rows)
            .exec_without_returning(&txn)
            .await?;
        vault_accounts::Entity::insert_many(vault_rows)
            .on_conflict(
                OnConflict::column(vault_accounts::Column::Address)
                    .update_columns([
                        vault_accounts::Column::HeldWei,
                        vault_accounts::Column::CapWei,
                        vault_accounts::Column::UpdatedAtMs,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    let ack_rows: Vec<_> = batch
        .iter()
        .filter_map(|(j, _)| match &j.write {
            Write::Ack(a) => Some(a.row(now)),
            _ => None,
        })
        .collect();
    for row in ack_rows {
        crate::acks::upsert(&txn, row).await?;
    }
    let balance_rows: Vec<balances::ActiveModel> = next
        .iter()
        .map(|(addr, a)| balances::ActiveModel {
            address: Set(addr.storage_key()),
            balance_wei: Set(a.balance.to_string()),
            spent_wei: Set(a.spent.to_string()),
            credited_wei: Set(a.credited.to_string()),
            updated_at_ms: Set(now),
        })
        .collect();
    if !balance_rows.is_empty() {
        balances::Entity::insert_many(balance_rows)
            .on_conflict(
                OnConflict::column(balances::Column::Address)
                    .update_columns([
                        balances::Column::BalanceWei,
                        balances::Column::SpentWei,
                        balances::Column::CreditedWei,
                        balances::Column::UpdatedAtMs,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;

    let mut accounts = ledger.inner.accounts();
    for (job, _) in batch {
        if let Write::Receipt(r) = &job.write
            && let Some(a) = accounts.get_mut(&r.client)
        {
            a.reserved = a.reserved.saturating_sub(r.price_wei.0);
        }
    }
    for (addr, n) in next {
        let a = accounts.entry(*addr).or_default();
        a.balance = n.balance;
        a.spent = n.spent;
        a.credited = n.credited;
        a.held = n.held;
        a.cap = n.cap;
    }
    metrics::counter!("imo_receipts_committed_total").increment(
        batch
            .iter()
            .filter(|(j, _)| matches!(j.write, Write::Receipt(_)))
            .count() as u64,
    );
    Ok(())
}

fn receipt_row(r: &ReceiptRecord) -> receipts::ActiveModel {
    receipts::ActiveModel {
        id: Set(r.id.clone()),
        epoch: Set(r.epoch as i64),
        model_id: Set(r.model_id.clone()),
        model_name: Set(r.model_name.clone()),
        weights_root: Set(r.weights_root.clone()),
        client: Set(r.client.storage_key()),
        price_wei: Set(r.price_wei.to_string()),
        input_hash: Set(r.input_hash.clone()),
        output_hash: Set(r.output_hash.clone()),
        fingerprint: Set(r.fingerprint.clone()),
        fingerprint_hash: Set(r.fingerprint_hash.clone()),
        timestamp_ms: Set(r.timestamp_ms as i64),
        signature: Set(r.signature.clone()),
    }
}

/// Reads a stored receipt back into the domain type.
pub fn receipt_from_row(m: receipts::Model) -> Result<ReceiptRecord> {
    Ok(ReceiptRecord {
        client: m.client.parse()?,
        price_wei: m.price_wei.parse()?,
        epoch: m.epoch as u64,
        timestamp_ms: m.timestamp_ms as u64,
        id: m.id,
        model_id: m.model_id,
        model_name: m.model_name,
        weights_root: m.weights_root,
        input_hash: m.input_hash,
        output_hash: m.output_hash,
        fingerprint: m.fingerprint,
        fingerprint_hash: m.fingerprint_hash,
        signature: m.signature,
    })
}

/// Receipt queries for clients and publishers.
#[derive(Clone)]
pub struct ReceiptQueries {
    db: DatabaseConnection,
    clock: SharedClock,
}

/// The usage report's default window: the last 30 days.
pub const USAGE_DEFAULT_WINDOW_MS: i64 = 30 * 86_400_000;

/// Usage of one model on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DailyUsage {
    pub model_id: String,
    pub model_name: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub calls: u64,
    pub revenue_wei: Wei,
}

fn utc_day(ms: u64) -> String {
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = (ms / 86_400_000) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

impl ReceiptQueries {
    pub fn new(db: DatabaseConnection, clock: SharedClock) -> Self {
        Self { db, clock }
    }

    /// Receipt `id`, for its client or an admin (anyone else: `not_found`, so that receipt ids
    /// reveal nothing).
    pub async fn get_for(&self, by: &crate::auth::Principal, id: &str) -> Result<ReceiptRecord> {
        let r = self.get(id).await?;
        if r.client != by.address && !by.is_admin() {
            return Err(OracleError::not_found(format!("receipt {id}")));
        }
        Ok(r)
    }

    /// Calls and revenue per model and UTC day, for a publisher's own models (admins: every
    /// model), one model or all; the window defaults to the last 30 days up to now.
    pub async fn usage_report(
        &self,
        by: &crate::auth::Principal,
        registry: &crate::registry::Registry,
        model: Option<&str>,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> Result<Vec<DailyUsage>> {
        use crate::types::Role;
        if !matches!(by.role, Role::Publisher | Role::Admin) {
            return Err(OracleError::Forbidden(
                "usage reports are for publishers".into(),
            ));
        }
        let models = match model {
            Some(m) => {
                let m = registry.get(m).await?;
                if m.publisher != by.address && !by.is_admin() {
                    return Err(OracleError::Forbidden(format!(
                        "model {} belongs to another publisher",
                        m.id
                    )));
                }
                vec![m.id]
            }
            None => {
                let filter = crate::registry::ModelFilter {
                    publisher: (!by.is_admin()).then_some(by.address),
                    include_inactive: true,
                    limit: 500,
                    after: None,
                };
                registry
                    .list(&filter)
                    .await?
                    .into_iter()
                    .map(|m| m.id)
                    .collect()
            }
        };
        let now = self.clock.now_ms();
        let from = from_ms.unwrap_or(now - USAGE_DEFAULT_WINDOW_MS);
        let to = to_ms.unwrap_or(now + 1);
        self.daily_usage(&models, from, to).await
    }

    pub async fn get(&self, id: &str) -> Result<ReceiptRecord> {
        let row = receipts::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| OracleError::not_found(format!("receipt {id}")))?;
        receipt_from_row(row)
    }

    /// A client's receipts in id order, after the cursor.
    pub async fn for_client(
        &self,
        client: Address,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<ReceiptRecord>> {
        use sea_orm::{QueryOrder, QuerySelect};
        let mut q =
            receipts::Entity::find().filter(receipts::Column::Client.eq(client.storage_key()));
        if let Some(a) = after {
            q = q.filter(receipts::Column::Id.gt(a));
        }
        q.order_by_asc(receipts::Column::Id)
            .limit(limit.clamp(1, 1000))
            .all(&self.db)
            .await?
            .into_iter()
            .map(receipt_from_row)
            .collect()
    }

    /// Calls and revenue per model and UTC day for the given models, between two times (ms).
    pub async fn daily_usage(
        &self,
        model_ids: &[String],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<DailyUsage>> {
        use sea_orm::{QueryOrder, QuerySelect};
        let rows: Vec<(String, String, String, i64)> = receipts::Entity::find()
            .select_only()
            .columns([
                receipts::Column::ModelId,
                receipts::Column::ModelName,
                receipts::Column::PriceWei,
                receipts::Column::TimestampMs,
            ])
            .filter(receipts::Column::ModelId.is_in(model_ids.iter().cloned()))
            .filter(receipts::Column::TimestampMs.gte(from_ms))
            .filter(receipts::Column::TimestampMs.lt(to_ms))
            .order_by_asc(receipts::Column::ModelId)
            .order_by_asc(receipts::Column::TimestampMs)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut out: Vec<DailyUsage> = vec![];
        for (model_id, model_name, price, ts) in rows {
            let day = utc_day(ts as u64);
            let price = parse_wei(&price)?;
            match out.last_mut() {
                Some(u) if u.model_id == model_id && u.day == day => {
                    u.calls += 1;
                    u.revenue_wei.0 += price;
                }
                _ => out.push(DailyUsage {
                    model_id,
                    model_name,
                    day,
                    calls: 1,
                    revenue_wei: Wei(price),
                }),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_days() {
        assert_eq!(super::utc_day(0), "1970-01-01");
        assert_eq!(super::utc_day(951_782_400_000), "2000-02-29");
        assert_eq!(super::utc_day(1_795_305_600_000), "2026-11-22");
    }
}
