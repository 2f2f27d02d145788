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
//! Without `cluster.enabled`, all writes to balances go through this writer, so one process is
//! the single writer of balances (one metering process per database).
//!
//! With `cluster.enabled` every replica meters ([`Ledger::enable_cluster`]; docs/DEPLOY.md): a
//! replica serves a client from a *balance lease*, a slice of the client's balance it took in
//! the database ([`crate::cluster::balance`]), reserving from it in memory as above; when the
//! lease runs low one transaction refills it (about `cluster.balance_lease_calls` calls' worth,
//! at most half of what no replica holds, at least the call at hand). When nothing is free but
//! other replicas hold leases, the call fails `503 balance_leased` (uncharged, retry) and those
//! replicas are asked to hand back what they do not need. Leases belong to the replica's
//! membership term ([`Ledger::set_member`]): each batch's transaction holds that term, then
//! locks the batch's `balances` rows and charges from the locked values, so a replica whose
//! membership lapsed writes nothing, and what a crashed replica leased counts again once its
//! membership lapses. Vault events are applied only by the holder of the `chain` lease
//! ([`Ledger::set_fence`]), fenced by its term in the same transaction.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryTrait, Statement, TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, instrument};

use crate::{
    clock::SharedClock,
    db::{balances, chain_events, credits, direct::DirectSqlite, receipts, vault_accounts},
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
    /// Cluster mode: this replica's balance lease (leased, not yet charged; reservations are
    /// served from it) and the membership term it belongs to.
    lease: u128,
    term: i64,
}

impl Account {
    /// Takes what the database holds of the client (cluster mode), keeping what is in flight
    /// here.
    fn set_held(&mut self, h: &crate::cluster::balance::Held) {
        self.balance = h.balance;
        self.spent = h.spent;
        self.credited = h.credited;
        self.held = h.held;
        self.cap = h.cap;
    }
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
    /// Cluster mode: leased to the other serving replicas (spent through them; what a crashed
    /// replica held comes back once its membership lapses, `cluster.lease_secs`).
    pub leased_wei: Wei,
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
    fn new(ledger: &Ledger, address: Address, amount: u128) -> Self {
        ledger.inner.in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            ledger: ledger.clone(),
            address,
            amount,
            live: true,
        }
    }

    pub fn amount(&self) -> Wei {
        Wei(self.amount)
    }

    /// Writes the receipt and the debit durably; returns once they are committed.
    ///
    /// On a SQLite file, when this is the only call in flight and no commit is under way, the
    /// caller commits its receipt itself on the ledger's connection (tens of microseconds),
    /// sparing two hand-offs to the writer task and back. With other calls in flight the receipt
    /// joins the writer's next batch, so concurrent receipts still share a transaction (group
    /// commit).
    pub async fn commit(mut self, receipt: ReceiptRecord) -> Result<()> {
        debug_assert_eq!(receipt.price_wei.0, self.amount);
        self.live = false;
        if self.ledger.inner.in_flight.load(Ordering::Relaxed) == 1
            && let Some(mut direct) = self.ledger.inner.direct.as_ref().and_then(try_lock)
        {
            return commit_inline(&self.ledger, &mut direct, receipt);
        }
        self.ledger.submit(Write::Receipt(receipt)).await
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.ledger.inner.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.live {
            self.ledger.release(self.address, self.amount);
        }
    }
}

/// Where the writer stands: what it refuses from now on.
#[derive(Default)]
struct Barrier {
    /// Receipts (and acknowledgements) of epochs up to this one are refused: their epoch is
    /// closed ([`Ledger::freeze`]).
    frozen: Option<u64>,
    /// The writer stopped ([`Ledger::shutdown`]): every write is refused.
    stopped: bool,
}

impl Barrier {
    fn closes(&self, epoch: u64) -> bool {
        self.frozen.is_some_and(|f| epoch <= f)
    }
}

struct Inner {
    db: DatabaseConnection,
    clock: SharedClock,
    /// SQLite file: the ledger's own connection ([`DirectSqlite`]), on which the writer task and
    /// callers committing inline take turns. Moving the barrier takes it too, so no commit
    /// slips past a barrier being raised.
    direct: Option<std::sync::Mutex<DirectSqlite>>,
    barrier: std::sync::Mutex<Barrier>,
    /// Reservations alive: calls between `reserve` and the end of their commit.
    in_flight: AtomicUsize,
    accounts: std::sync::Mutex<HashMap<Address, Account>>,
    tx: mpsc::Sender<Job>,
    /// Chain mode: spending needs a cap, balances come from deposits only.
    chain_mode: bool,
    /// Cluster mode: the `chain` lease term that applying vault events needs (see
    /// [`Ledger::set_fence`]).
    fence: crate::cluster::lease::FenceCell,
    /// Cluster mode: this replica's membership term, which metering needs ([`Ledger::set_member`]).
    member: crate::cluster::lease::FenceCell,
    /// Cluster mode (`cluster.balance_lease_calls`): set once by [`Ledger::enable_cluster`].
    cluster: std::sync::OnceLock<u64>,
    /// One refill at a time per client.
    gates: std::sync::Mutex<HashMap<Address, Arc<tokio::sync::Mutex<()>>>>,
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

    fn barrier(&self) -> std::sync::MutexGuard<'_, Barrier> {
        self.barrier
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Moves the barrier while holding the ledger's connection (if any): a caller committing
    /// inline checks the barrier and commits under that lock, so it commits either before the
    /// barrier moves or not at all.
    fn raise(&self, change: impl FnOnce(&mut Barrier)) {
        let _direct = self.direct.as_ref().map(lock);
        change(&mut self.barrier());
    }
}

/// The ledger's connection, waiting for a commit under way (none panics while holding it; a
/// poisoned lock is taken as it is).
fn lock(m: &std::sync::Mutex<DirectSqlite>) -> std::sync::MutexGuard<'_, DirectSqlite> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The ledger's connection if no commit is under way.
fn try_lock(m: &std::sync::Mutex<DirectSqlite>) -> Option<std::sync::MutexGuard<'_, DirectSqlite>> {
    match m.try_lock() {
        Ok(g) => Some(g),
        Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

/// Commits one receipt on the caller's thread (see [`Reservation::commit`]), under the lock of
/// the ledger's connection `direct`.
fn commit_inline(ledger: &Ledger, direct: &mut DirectSqlite, receipt: ReceiptRecord) -> Result<()> {
    let (done, mut rx) = oneshot::channel();
    let job = Job {
        write: Write::Receipt(receipt),
        done,
    };
    let admitted = admit(ledger, &ledger.inner.barrier(), job);
    if let Some(job) = admitted {
        commit_direct(ledger, &mut vec![job], direct);
    }
    rx.try_recv().unwrap_or_else(|_| Err(stopped()))
}

/// Refuses a write (a receipt's reservation is given back).
fn refuse(ledger: &Ledger, job: Job, e: OracleError) {
    if let Write::Receipt(r) = &job.write {
        ledger.release(r.client, r.price_wei.0);
    }
    let _ = job.done.send(Err(e));
}

/// The job, unless the barrier refuses it (it is then answered).
fn admit(ledger: &Ledger, barrier: &Barrier, job: Job) -> Option<Job> {
    match &job.write {
        _ if barrier.stopped => {
            refuse(ledger, job, stopped());
            None
        }
        // An acknowledgement of a closed epoch would change nothing settled: refused.
        Write::Ack(a) if barrier.closes(a.epoch) => {
            let e = crate::acks::closed(a.epoch);
            let _ = job.done.send(Err(e));
            None
        }
        Write::Receipt(r) if barrier.closes(r.epoch) => {
            metrics::counter!("imo_receipts_epoch_closed_total").increment(1);
            let e = OracleError::EpochClosed(r.epoch);
            refuse(ledger, job, e);
            None
        }
        _ => Some(job),
    }
}

fn parse_wei(s: &str) -> Result<u128> {
    s.parse::<u128>()
        .map_err(|_| OracleError::Database(format!("corrupt amount `{s}` in balances")))
}

impl Ledger {
    /// Starts the ledger and its writer task (on the current tokio runtime). On a SQLite file the
    /// writer commits on a connection of its own ([`DirectSqlite`]), opened here.
    ///
    /// In `chain_mode` balances come from vault events only ([`Ledger::apply_chain_event`]),
    /// admin credits are refused, and every call must also fit under the client's signed cap.
    pub fn start(
        db: DatabaseConnection,
        max_batch: usize,
        chain_mode: bool,
        clock: SharedClock,
    ) -> Result<Self> {
        let direct = DirectSqlite::beside(&db)?;
        let (tx, rx) = mpsc::channel(max_batch.max(1) * 4);
        let inner = Arc::new(Inner {
            db,
            clock,
            direct: direct.map(std::sync::Mutex::new),
            barrier: Default::default(),
            in_flight: AtomicUsize::new(0),
            accounts: Default::default(),
            tx,
            chain_mode,
            fence: Default::default(),
            member: Default::default(),
            cluster: Default::default(),
            gates: Default::default(),
        });
        let ledger = Self { inner };
        tokio::spawn(writer(ledger.clone(), rx, max_batch.max(1)));
        Ok(ledger)
    }

    /// Cluster mode: every replica meters from balance leases (see the module docs), taking
    /// about `lease_calls` calls' worth at a time. Call once, before serving; metering waits for
    /// the first membership term ([`Ledger::set_member`]).
    pub fn enable_cluster(&self, lease_calls: u64) {
        let _ = self.inner.cluster.set(lease_calls.max(1));
        self.inner.member.set(None);
    }

    /// Whether this ledger meters from balance leases (cluster mode).
    pub fn clustered(&self) -> bool {
        self.inner.cluster.get().is_some()
    }

    /// Cluster mode: applying vault events needs the `chain` lease term `fence` (`None`:
    /// refused with `not_leader`).
    pub fn set_fence(&self, fence: Option<crate::cluster::Fence>) {
        self.inner.fence.set(fence);
    }

    /// Cluster mode: metering and balance writes need this replica's membership term (`None`:
    /// refused with `not_member`). Leases of an earlier term count for nothing any more.
    pub fn set_member(&self, term: Option<crate::cluster::Fence>) {
        let token = term.as_ref().map(|f| f.token);
        self.inner.member.set(term);
        for a in self.inner.accounts().values_mut() {
            if Some(a.term) != token {
                a.lease = 0;
            }
        }
    }

    fn member(&self) -> Result<crate::cluster::Fence> {
        match self.inner.member.get() {
            crate::cluster::lease::FenceState::Fenced(Some(f)) => Ok(f),
            _ => Err(OracleError::NotMember(
                "this replica holds no live membership in the cluster (starting, or its membership lapsed); nothing was charged".into(),
            )),
        }
    }

    async fn load(&self, address: Address) -> Result<()> {
        if !self.clustered()
            && matches!(
                self.inner.fence.get(),
                crate::cluster::lease::FenceState::Fenced(None)
            )
        {
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
                ..Account::default()
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
        if let Some(&calls) = self.inner.cluster.get() {
            return self.reserve_leased(address, price.0, calls).await;
        }
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
        Ok(Reservation::new(self, address, price.0))
    }

    /// Cluster mode: reserves from this replica's balance lease, refilling it when short.
    async fn reserve_leased(
        &self,
        address: Address,
        price: u128,
        calls: u64,
    ) -> Result<Reservation> {
        let me = self.member()?;
        if let Some(r) = self.take_from_lease(address, price, &me) {
            return Ok(r);
        }
        let gate = self
            .inner
            .gates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(address)
            .or_default()
            .clone();
        let _one_refill = gate.lock().await;
        // Another call may have refilled meanwhile, and calls that need no refill may take
        // what a refill brought before this one does: try a few times.
        for _ in 0..3 {
            if let Some(r) = self.take_from_lease(address, price, &me) {
                return Ok(r);
            }
            self.refill(address, price, calls, &me).await?;
        }
        self.take_from_lease(address, price, &me)
            .ok_or(OracleError::BalanceLeased {
                needed: Wei(price),
                leased: Wei(0),
            })
    }

    fn take_from_lease(
        &self,
        address: Address,
        price: u128,
        me: &crate::cluster::Fence,
    ) -> Option<Reservation> {
        let mut accounts = self.inner.accounts();
        let acct = accounts.entry(address).or_default();
        if acct.term != me.token {
            return None;
        }
        if acct.lease.saturating_sub(acct.reserved) < price {
            return None;
        }
        acct.reserved += price;
        Some(Reservation::new(self, address, price))
    }

    /// One transaction: hold the membership term, lock the client's balance row, and lease
    /// what the call needs and more (see the module docs), or fail with what is available.
    #[instrument(skip(self, me), fields(address = %address))]
    async fn refill(
        &self,
        address: Address,
        price: u128,
        calls: u64,
        me: &crate::cluster::Fence,
    ) -> Result<()> {
        use crate::cluster::balance;
        let chain_mode = self.inner.chain_mode;
        let (txn, held) = self.lock_one(address, me).await?;
        let in_flight = self
            .inner
            .accounts()
            .get(&address)
            .filter(|a| a.term == me.token)
            .map_or(0, |a| a.reserved);
        // What of the lease is not reserved yet, as the database holds it.
        let spare = held.own.saturating_sub(in_flight);
        let need = price.saturating_sub(spare);
        let free = held.free(chain_mode);
        metrics::counter!("imo_balance_lease_refills_total").increment(1);
        if free < need {
            let available = spare.saturating_add(free);
            let result = if held.others > 0 {
                balance::recall(&txn, me, address).await?;
                Err(OracleError::BalanceLeased {
                    needed: Wei(price),
                    leased: Wei(held.others),
                })
            } else if chain_mode
                && held.cap.saturating_sub(held.spent) < held.balance.saturating_sub(held.held)
            {
                Err(OracleError::SpendingCapExceeded {
                    needed: Wei(price),
                    available: Wei(available),
                })
            } else {
                Err(OracleError::InsufficientBalance {
                    needed: Wei(price),
                    available: Wei(available),
                })
            };
            txn.commit().await?;
            self.remember(address, &held, held.own, me.token);
            return result;
        }
        let want = price.saturating_mul(u128::from(calls)).max(need);
        let grant = want.min((free / 2).max(need));
        let lease = held.own.saturating_add(grant);
        balance::set_own(&txn, me, address, lease, self.inner.clock.now_ms()).await?;
        txn.commit().await?;
        self.remember(address, &held, lease, me.token);
        Ok(())
    }

    /// Cluster mode: a transaction that holds this replica's membership term `me` and has
    /// locked `address`'s balance row, and what the database holds of the client.
    async fn lock_one(
        &self,
        address: Address,
        me: &crate::cluster::Fence,
    ) -> Result<(sea_orm::DatabaseTransaction, crate::cluster::balance::Held)> {
        let txn = self.inner.db.begin().await?;
        hold_member(&txn, me).await?;
        let one: std::collections::BTreeSet<Address> = [address].into();
        let held = crate::cluster::balance::read(&txn, &one, me, true)
            .await?
            .remove(&address)
            .unwrap_or_default();
        Ok((txn, held))
    }

    /// Keeps what the database said of a client (cluster mode) and this replica's lease.
    fn remember(
        &self,
        address: Address,
        held: &crate::cluster::balance::Held,
        lease: u128,
        term: i64,
    ) {
        let mut accounts = self.inner.accounts();
        let a = accounts.entry(address).or_default();
        a.set_held(held);
        a.lease = lease;
        a.term = term;
    }

    /// Cluster mode: hands back, of each lease another replica recalled, what is not reserved
    /// by a call in flight. Run by the membership task at every renewal.
    pub async fn hand_back_recalled(&self) -> Result<usize> {
        use crate::cluster::balance;
        let Ok(me) = self.member() else {
            return Ok(0);
        };
        let addrs = balance::recalled(&self.inner.db, &me).await?;
        for address in &addrs {
            let (txn, held) = self.lock_one(*address, &me).await?;
            // Under the accounts lock: new reservations see the smaller lease at once.
            let keep = {
                let mut accounts = self.inner.accounts();
                let a = accounts.entry(*address).or_default();
                let keep = if a.term == me.token {
                    a.reserved.min(held.own)
                } else {
                    0
                };
                a.lease = a.lease.min(keep);
                keep
            };
            balance::set_own(&txn, &me, *address, keep, self.inner.clock.now_ms()).await?;
            txn.commit().await?;
            metrics::counter!("imo_balance_leases_handed_back_total").increment(1);
            tracing::debug!(address = %address, kept = %keep, "balance lease recalled: handed back what is not in flight");
        }
        Ok(addrs.len())
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
        if self.clustered() {
            self.member()?;
        } else {
            self.inner.fence.require(METERING)?;
        }
        self.load(address).await?;
        if let Some(a) = self.inner.accounts().get(&address)
            && (a.balance.checked_add(amount.0).is_none()
                || a.credited.checked_add(amount.0).is_none())
        {
            return Err(overflow(address, amount.0));
        }
        let id = format!("cr_{}", ulid::Ulid::new().to_string().to_lowercase());
        self.submit(Write::Credit {
            id,
            address,
            amount: amount.0,
            source: source.to_owned(),
        })
        .await?;
        self.balance(address).await
    }

    pub async fn balance(&self, address: Address) -> Result<BalanceView> {
        if self.clustered() {
            return self.balance_clustered(address).await;
        }
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
            leased_wei: Wei(0),
            available_wei: Wei(available),
        })
    }

    /// Cluster mode: the account as the database holds it now, with this replica's calls in
    /// flight; what other replicas leased is not available here.
    async fn balance_clustered(&self, address: Address) -> Result<BalanceView> {
        let me = self.member()?;
        let one: std::collections::BTreeSet<Address> = [address].into();
        let held = crate::cluster::balance::read(&self.inner.db, &one, &me, false)
            .await?
            .remove(&address)
            .unwrap_or_default();
        let reserved = self
            .inner
            .accounts()
            .get(&address)
            .filter(|a| a.term == me.token)
            .map_or(0, |a| a.reserved);
        let available = held
            .limit(self.inner.chain_mode)
            .saturating_sub(held.others.saturating_add(reserved));
        Ok(BalanceView {
            balance_wei: Wei(held.balance),
            reserved_wei: Wei(reserved),
            spent_wei: Wei(held.spent),
            credited_wei: Wei(held.credited),
            held_wei: Wei(held.held),
            cap_wei: Wei(held.cap),
            leased_wei: Wei(held.others),
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

    /// Hands `write` to the writer and waits for its answer. Once the writer has stopped the
    /// write is refused (a receipt's reservation given back).
    async fn submit(&self, write: Write) -> Result<()> {
        let (done, rx) = oneshot::channel();
        if let Err(mpsc::error::SendError(job)) = self.inner.tx.send(Job { write, done }).await {
            refuse(self, job, stopped());
        }
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }
}

/// The single writer: drains up to `max_batch` jobs, commits them in one transaction, answers.
async fn writer(ledger: Ledger, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut incoming = Vec::with_capacity(max_batch);
    let mut batch = Vec::with_capacity(max_batch);
    let mut stop: Option<Job> = None;
    while stop.is_none() && rx.recv_many(&mut incoming, max_batch).await > 0 {
        for job in incoming.drain(..) {
            if stop.is_some() {
                refuse(&ledger, job, stopped());
                continue;
            }
            match job.write {
                Write::Stop => stop = Some(job),
                Write::Freeze(epoch) => {
                    // Everything before the barrier commits first.
                    commit_batch(&ledger, &mut batch).await;
                    ledger
                        .inner
                        .raise(|b| b.frozen = Some(b.frozen.map_or(epoch, |f| f.max(epoch))));
                    let _ = job.done.send(Ok(()));
                }
                _ => {
                    let admitted = admit(&ledger, &ledger.inner.barrier(), job);
                    batch.extend(admitted);
                }
            }
        }
        commit_batch(&ledger, &mut batch).await;
    }
    // Stopped: nothing more is accepted; whatever raced in is refused, uncharged.
    ledger.inner.raise(|b| b.stopped = true);
    rx.close();
    while let Some(job) = rx.recv().await {
        refuse(&ledger, job, stopped());
    }
    if let Some(job) = stop {
        tracing::info!("ledger writer drained and stopped");
        let _ = job.done.send(Ok(()));
    }
}

/// What only the `chain` lease holder does (cluster mode), for `not_leader` errors.
const METERING: &str = "vault events";

/// Holds this replica's membership term `me` in a transaction (see
/// [`crate::cluster::lease::hold_in`]): `not_member` when it is over.
async fn hold_member<C: sea_orm::ConnectionTrait>(
    txn: &C,
    me: &crate::cluster::Fence,
) -> Result<()> {
    crate::cluster::lease::hold_in(txn, me)
        .await
        .map_err(|e| match e {
            OracleError::NotLeader(m) => OracleError::NotMember(m),
            e => e,
        })
}

fn stopped() -> OracleError {
    OracleError::Database("the ledger writer has stopped (the service is shutting down)".into())
}

fn overflow(address: Address, amount: u128) -> OracleError {
    OracleError::InvalidInput(format!(
        "crediting {amount} wei to {address} would take its balance past 2^128 - 1 wei; nothing was credited"
    ))
}

/// The account of `address` a write is planned from.
fn address_of(write: &Write) -> Option<Address> {
    match write {
        Write::Receipt(r) => Some(r.client),
        Write::Credit { address, .. } => Some(*address),
        Write::Chain(e) => Some(e.account),
        Write::Ack(_) | Write::Freeze(_) | Write::Stop => None,
    }
}

/// Cluster mode: what a batch's transaction read and locked before planning.
struct Locked {
    txn: sea_orm::DatabaseTransaction,
    me: crate::cluster::Fence,
    held: HashMap<Address, crate::cluster::balance::Held>,
}

/// Cluster mode: opens the batch's transaction, holds the membership term (and the `chain`
/// term when the batch applies vault events), creates missing balance rows and locks them.
async fn lock_batch(ledger: &Ledger, batch: &[Job]) -> Result<Locked> {
    use crate::cluster::balance;
    let me = ledger.member()?;
    let chain_fence = if batch.iter().any(|j| matches!(j.write, Write::Chain(_))) {
        ledger.inner.fence.require(METERING)?
    } else {
        None
    };
    let addrs: std::collections::BTreeSet<Address> =
        batch.iter().filter_map(|j| address_of(&j.write)).collect();
    let fresh: std::collections::BTreeSet<Address> = batch
        .iter()
        .filter(|j| matches!(j.write, Write::Credit { .. } | Write::Chain(_)))
        .filter_map(|j| address_of(&j.write))
        .collect();
    let txn = ledger.inner.db.begin().await?;
    hold_member(&txn, &me).await?;
    if let Some(f) = chain_fence {
        crate::cluster::lease::hold_in(&txn, &f).await?;
    }
    balance::ensure_rows(&txn, &fresh, ledger.inner.clock.now_ms()).await?;
    let held = balance::read(&txn, &addrs, &me, true).await?;
    Ok(Locked { txn, me, held })
}

async fn commit_batch(ledger: &Ledger, batch: &mut Vec<Job>) {
    if batch.is_empty() {
        return;
    }
    if let Some(direct) = &ledger.inner.direct {
        // Waits at most for one inline commit (tens of microseconds).
        commit_direct(ledger, batch, &mut lock(direct));
        return;
    }
    let mut locked = None;
    if ledger.clustered() {
        match lock_batch(ledger, batch).await {
            Ok(l) => locked = Some(l),
            Err(e) => {
                error!(error = %e, jobs = batch.len(), "ledger batch failed; nothing was charged");
                answer(ledger, batch.drain(..), &Err(e));
                return;
            }
        }
    }
    let (kept, next) = plan_batch(ledger, batch, locked.as_ref());
    if kept.is_empty() {
        if let Some(l) = locked {
            let _ = l.txn.rollback().await;
        }
        return;
    }
    let result = write_batch(ledger, &kept, &next, locked).await;
    finish(ledger, kept, &result);
}

/// Commits a batch on the ledger's own SQLite connection, synchronously (see `db::direct`).
fn commit_direct(ledger: &Ledger, batch: &mut Vec<Job>, direct: &mut DirectSqlite) {
    let (kept, next) = plan_batch(ledger, batch, None);
    if kept.is_empty() {
        return;
    }
    let now = ledger.inner.clock.now_ms();
    let result = direct.commit(&batch_statements(&kept, &next, now, DbBackend::Sqlite));
    if result.is_ok() {
        apply_committed(ledger, &kept, &next, None);
    }
    finish(ledger, kept, &result);
}

/// Plans `batch` (drained): the jobs to write with their verdicts, and the accounts they lead
/// to. Jobs whose effect would overflow are answered now and left out.
fn plan_batch(
    ledger: &Ledger,
    batch: &mut Vec<Job>,
    locked: Option<&Locked>,
) -> (Vec<(Job, Verdict)>, HashMap<Address, Account>) {
    let (next, verdicts) = plan(ledger, batch, locked);
    let mut kept = Vec::with_capacity(batch.len());
    for (job, verdict) in batch.drain(..).zip(verdicts) {
        match verdict {
            Verdict::Apply | Verdict::RecordOnly => kept.push((job, verdict)),
            Verdict::Reject(e) => {
                metrics::counter!("imo_ledger_writes_refused_total").increment(1);
                error!(error = %e, "ledger write refused");
                refuse(ledger, job, e);
            }
        }
    }
    (kept, next)
}

/// Answers a written batch's jobs with its `result`.
fn finish(ledger: &Ledger, kept: Vec<(Job, Verdict)>, result: &Result<()>) {
    metrics::histogram!("imo_ledger_batch_size").record(kept.len() as f64);
    if let Err(e) = result {
        error!(error = %e, jobs = kept.len(), "ledger batch failed; nothing was charged");
    }
    answer(ledger, kept.into_iter().map(|(job, _)| job), result);
}

/// Answers every job of a batch with the batch's `result`: a fencing error as it is (the caller
/// retries on another replica), any other failure as a database error. A receipt that was not
/// made durable is not charged: its reservation is given back.
fn answer(ledger: &Ledger, jobs: impl IntoIterator<Item = Job>, result: &Result<()>) {
    for job in jobs {
        let outcome = result.as_ref().map(|_| ()).map_err(|e| match e {
            OracleError::NotLeader(m) => OracleError::NotLeader(m.clone()),
            OracleError::NotMember(m) => OracleError::NotMember(m.clone()),
            e => OracleError::Database(e.to_string()),
        });
        if let (Err(_), Write::Receipt(r)) = (&outcome, &job.write) {
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
/// committed ones (in cluster mode: the rows the batch's transaction locked); a job that would
/// overflow is refused on its own and changes nothing. In cluster mode a receipt must also be
/// covered by this replica's live lease and what no replica holds: a call served from a lease
/// that lapsed meanwhile (the replica stalled) is refused, uncharged.
fn plan(
    ledger: &Ledger,
    batch: &[Job],
    locked: Option<&Locked>,
) -> (HashMap<Address, Account>, Vec<Verdict>) {
    let mut next: HashMap<Address, Account> = HashMap::new();
    let mut verdicts = Vec::with_capacity(batch.len());
    let accounts = ledger.inner.accounts();
    let base = |addr: Address| match locked {
        Some(l) => {
            let mut a = Account::default();
            a.set_held(&l.held.get(&addr).copied().unwrap_or_default());
            a
        }
        None => accounts.get(&addr).copied().unwrap_or_default(),
    };
    // Cluster mode: what each client's receipts may still take (lease + free).
    let mut cover: HashMap<Address, u128> = HashMap::new();
    for job in batch {
        let Some(addr) = address_of(&job.write) else {
            verdicts.push(Verdict::Apply);
            continue;
        };
        let a = next.entry(addr).or_insert_with(|| base(addr));
        let mut b = *a;
        let verdict = match &job.write {
            Write::Receipt(r) => match (
                b.balance.checked_sub(r.price_wei.0),
                b.spent.checked_add(r.price_wei.0),
                locked.map(|l| {
                    // What the client may spend less what other replicas hold: this replica's
                    // lease and what is free, and never more than the limit now allows (a
                    // withdrawal request may have lowered it below what was leased).
                    let left = cover.entry(addr).or_insert_with(|| {
                        let h = l.held.get(&addr).copied().unwrap_or_default();
                        h.limit(ledger.inner.chain_mode).saturating_sub(h.others)
                    });
                    let fits = *left >= r.price_wei.0;
                    if fits {
                        *left -= r.price_wei.0;
                    }
                    fits
                }),
            ) {
                (_, _, Some(false)) => Verdict::Reject(OracleError::NotMember(format!(
                    "the balance lease this call was served from is no longer this replica's (its membership lapsed while the call ran); {} wei were not charged: retry",
                    r.price_wei
                ))),
                (Some(balance), Some(spent), _) => {
                    b.balance = balance;
                    b.spent = spent;
                    Verdict::Apply
                }
                (_, _, _) => Verdict::Reject(OracleError::InvalidInput(format!(
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

/// The statements that write a batch: its rows, and the new state of every account it touches.
fn batch_statements(
    batch: &[(Job, Verdict)],
    next: &HashMap<Address, Account>,
    now: i64,
    backend: DbBackend,
) -> Vec<Statement> {
    let mut statements = vec![];
    let receipt_rows: Vec<receipts::ActiveModel> = batch
        .iter()
        .filter_map(|(j, _)| match &j.write {
            Write::Receipt(r) => Some(receipt_row(r)),
            _ => None,
        })
        .collect();
    // 13 columns x 1000 rows stays under PostgreSQL's 65535 bind parameters.
    for chunk in receipt_rows.chunks(1000) {
        statements.push(receipts::Entity::insert_many(chunk.to_vec()).build(backend));
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
        statements.push(credits::Entity::insert_many(credit_rows).build(backend));
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
        statements.push(chain_events::Entity::insert_many(event_rows).build(backend));
        statements.extend(crate::db::upsert_statement(
            vault_rows,
            vault_accounts::Column::Address,
            [
                vault_accounts::Column::HeldWei,
                vault_accounts::Column::CapWei,
                vault_accounts::Column::UpdatedAtMs,
            ],
            backend,
        ));
    }
    // One statement per acknowledgement: a batch may replace the same one twice, which one
    // upsert of both rows could not.
    statements.extend(batch.iter().filter_map(|(j, _)| match &j.write {
        Write::Ack(a) => crate::acks::upsert_statement(a.row(now), backend),
        _ => None,
    }));
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
    statements.extend(crate::db::upsert_statement(
        balance_rows,
        balances::Column::Address,
        [
            balances::Column::BalanceWei,
            balances::Column::SpentWei,
            balances::Column::CreditedWei,
            balances::Column::UpdatedAtMs,
        ],
        backend,
    ));
    statements
}

async fn write_batch(
    ledger: &Ledger,
    batch: &[(Job, Verdict)],
    next: &HashMap<Address, Account>,
    locked: Option<Locked>,
) -> Result<()> {
    let now = ledger.inner.clock.now_ms();
    let statements = batch_statements(batch, next, now, ledger.inner.db.get_database_backend());
    let leases = match locked {
        // Cluster mode: the receipts are charged to this replica's leases first (then to what
        // no replica held); a recalled lease keeps only what calls in flight still need.
        Some(Locked { txn, me, held }) => {
            for s in statements {
                txn.execute_raw(s).await?;
            }
            let mut new_leases: Vec<(Address, u128)> = vec![];
            let mut charged: HashMap<Address, u128> = HashMap::new();
            for (j, _) in batch {
                if let Write::Receipt(r) = &j.write {
                    *charged.entry(r.client).or_default() += r.price_wei.0;
                }
            }
            for (addr, amount) in charged {
                let h = held.get(&addr).copied().unwrap_or_default();
                let mut lease = h.own.saturating_sub(amount);
                if h.recalled {
                    let in_flight = ledger
                        .inner
                        .accounts()
                        .get(&addr)
                        .map_or(0, |a| a.reserved.saturating_sub(amount));
                    lease = lease.min(in_flight);
                }
                if lease != h.own || h.recalled {
                    crate::cluster::balance::set_own(&txn, &me, addr, lease, now).await?;
                }
                new_leases.push((addr, lease));
            }
            txn.commit().await?;
            Some((me.token, new_leases))
        }
        None => {
            let txn = ledger.inner.db.begin().await?;
            for s in statements {
                txn.execute_raw(s).await?;
            }
            txn.commit().await?;
            None
        }
    };
    apply_committed(ledger, batch, next, leases);
    Ok(())
}

/// Takes a committed batch into the in-memory accounts: reservations become charges, the
/// accounts their new state, and (cluster mode) the leases what the transaction left of them
/// under membership term `leases.0`.
fn apply_committed(
    ledger: &Ledger,
    batch: &[(Job, Verdict)],
    next: &HashMap<Address, Account>,
    leases: Option<(i64, Vec<(Address, u128)>)>,
) {
    let mut accounts = ledger.inner.accounts();
    if let Some((term, leases)) = leases {
        for (addr, lease) in leases {
            let a = accounts.entry(addr).or_default();
            a.lease = lease;
            a.term = term;
        }
    }
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
    use super::*;

    async fn sqlite(dir: &std::path::Path, name: &str) -> DatabaseConnection {
        let db = crate::db::connect(&crate::config::DatabaseConfig {
            url: format!("sqlite://{}/{name}.db?mode=rwc", dir.display()),
            max_connections: 2,
            connect_timeout_secs: 5,
        })
        .await
        .unwrap();
        crate::db::migrate(&db).await.unwrap();
        db
    }

    fn job(write: Write) -> (Job, Verdict) {
        (
            Job {
                write,
                done: oneshot::channel().0,
            },
            Verdict::Apply,
        )
    }

    /// A batch of every kind the hot path and the chain follower write: two receipts, a credit,
    /// a deposit and a refused deposit (vault rows), and the accounts they lead to.
    fn mixed_batch() -> (Vec<(Job, Verdict)>, HashMap<Address, Account>) {
        let client: Address = "0x00000000000000000000000000000000000000c1"
            .parse()
            .unwrap();
        let receipt = |id: &str| ReceiptRecord {
            id: id.into(),
            epoch: 7,
            model_id: "m1".into(),
            model_name: "it's \"quoted\"".into(),
            weights_root: format!("0x{}", "ab".repeat(32)),
            client,
            price_wei: Wei(u128::MAX / 3),
            input_hash: format!("0x{}", "01".repeat(32)),
            output_hash: format!("0x{}", "02".repeat(32)),
            fingerprint: "ort-1.22|cpu".into(),
            fingerprint_hash: format!("0x{}", "03".repeat(32)),
            timestamp_ms: 1_795_305_600_123,
            signature: format!("0x{}", "04".repeat(65)),
        };
        let event = |id: &str, effect| ChainEvent {
            id: id.into(),
            block_number: 12,
            block_hash: format!("0x{}", "05".repeat(32)),
            tx_hash: format!("0x{}", "06".repeat(32)),
            event: "Deposited".into(),
            account: client,
            amount: 5,
            effect,
        };
        let mut batch = vec![
            job(Write::Receipt(receipt("01JDQ0000000000000000000A1"))),
            job(Write::Receipt(receipt("01JDQ0000000000000000000A2"))),
            job(Write::Credit {
                id: "c1".into(),
                address: client,
                amount: 9,
                source: "admin".into(),
            }),
            job(Write::Chain(event("e1", ChainEffect::Credit(5)))),
        ];
        let mut refused = job(Write::Chain(event("e2", ChainEffect::Unrepresentable)));
        refused.1 = Verdict::RecordOnly;
        batch.push(refused);
        let account = Account {
            balance: u128::MAX - 1,
            spent: 42,
            credited: 7,
            held: 3,
            cap: 11,
            ..Default::default()
        };
        (batch, HashMap::from([(client, account)]))
    }

    async fn tables(db: &DatabaseConnection) -> String {
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            receipts::Entity::find().all(db).await.unwrap(),
            credits::Entity::find().all(db).await.unwrap(),
            chain_events::Entity::find().all(db).await.unwrap(),
            vault_accounts::Entity::find().all(db).await.unwrap(),
            balances::Entity::find().all(db).await.unwrap(),
        )
    }

    /// The writer's own SQLite connection and the pool write the same rows for the same batch:
    /// the statements are the same, and every bound value (text, integers, a quote in a name,
    /// amounts past 2^64) arrives as sqlx would bind it.
    #[tokio::test]
    async fn direct_and_pooled_commits_write_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let (batch, next) = mixed_batch();
        let statements = batch_statements(&batch, &next, 1_000, DbBackend::Sqlite);

        let direct_db = sqlite(dir.path(), "direct").await;
        let mut direct = DirectSqlite::beside(&direct_db)
            .unwrap()
            .expect("a SQLite file");
        direct.commit(&statements).unwrap();

        let pooled_db = sqlite(dir.path(), "pooled").await;
        let txn = pooled_db.begin().await.unwrap();
        for s in statements {
            txn.execute_raw(s).await.unwrap();
        }
        txn.commit().await.unwrap();

        let written = tables(&direct_db).await;
        assert!(written.contains("01JDQ0000000000000000000A2"), "{written}");
        assert!(written.contains("Deposited:refused"), "{written}");
        assert!(written.contains(&(u128::MAX - 1).to_string()), "{written}");
        assert_eq!(written, tables(&pooled_db).await);
    }

    /// A batch that fails part-way keeps nothing: a receipt id written twice fails the second
    /// insert, and the first insert and the balance are rolled back with it.
    #[tokio::test]
    async fn a_failed_direct_commit_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite(dir.path(), "failed").await;
        let mut direct = DirectSqlite::beside(&db).unwrap().expect("a SQLite file");
        let (batch, next) = mixed_batch();
        let mut statements = batch_statements(&batch, &next, 1_000, DbBackend::Sqlite);
        statements.push(statements[0].clone());
        let err = direct.commit(&statements).unwrap_err();
        assert!(err.to_string().contains("UNIQUE"), "{err}");
        assert_eq!(tables(&db).await, "[]\n[]\n[]\n[]\n[]");
        // The connection is usable afterwards (the transaction was rolled back, not left open).
        statements.pop();
        direct.commit(&statements).unwrap();
        assert!(tables(&db).await.contains("01JDQ0000000000000000000A1"));
    }

    /// A receipt committed on the caller's thread (SQLite: no other commit under way) is charged
    /// once and durable; the barriers hold for it as for the writer's batches: a receipt of a
    /// frozen epoch, or after shutdown, is refused and its reservation given back.
    #[tokio::test]
    async fn inline_commits_respect_the_barriers() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite(dir.path(), "inline").await;
        let ledger =
            Ledger::start(db.clone(), 64, false, Arc::new(crate::clock::SystemClock)).unwrap();
        assert!(
            ledger.inner.direct.is_some(),
            "a SQLite file has its own connection"
        );
        let (batch, _) = mixed_batch();
        let Write::Receipt(template) = &batch[0].0.write else {
            unreachable!()
        };
        let client = template.client;
        ledger.credit(client, Wei(20), "test").await.unwrap();
        let receipt = |id: &str, epoch| ReceiptRecord {
            id: id.into(),
            epoch,
            price_wei: Wei(3),
            ..template.clone()
        };
        // One call alone: reserve, then commit its receipt.
        let call = async |id: &str, epoch| {
            let reservation = ledger.reserve(client, Wei(3)).await.unwrap();
            reservation.commit(receipt(id, epoch)).await
        };

        call("01JDQ0000000000000000000B1", 5).await.unwrap();
        let view = ledger.balance(client).await.unwrap();
        assert_eq!(
            (view.balance_wei, view.reserved_wei, view.spent_wei),
            (Wei(17), Wei(0), Wei(3))
        );
        assert_eq!(receipts::Entity::find().all(&db).await.unwrap().len(), 1);

        ledger.freeze(5).await.unwrap();
        let err = call("01JDQ0000000000000000000B2", 5).await.unwrap_err();
        assert!(matches!(err, OracleError::EpochClosed(5)), "{err}");
        call("01JDQ0000000000000000000B3", 6).await.unwrap();

        // Two calls in flight: the first receipt goes to the writer (to be batched with others),
        // the second, alone by then, commits inline.
        let (a, b) = (
            ledger.reserve(client, Wei(3)).await.unwrap(),
            ledger.reserve(client, Wei(3)).await.unwrap(),
        );
        assert_eq!(ledger.inner.in_flight.load(Ordering::Relaxed), 2);
        a.commit(receipt("01JDQ0000000000000000000C1", 6))
            .await
            .unwrap();
        b.commit(receipt("01JDQ0000000000000000000C2", 6))
            .await
            .unwrap();
        assert_eq!(ledger.inner.in_flight.load(Ordering::Relaxed), 0);

        ledger.shutdown().await;
        let err = call("01JDQ0000000000000000000B4", 6).await.unwrap_err();
        assert!(err.to_string().contains("stopped"), "{err}");
        let view = ledger.balance(client).await.unwrap();
        assert_eq!(
            (view.balance_wei, view.reserved_wei, view.spent_wei),
            (Wei(8), Wei(0), Wei(12))
        );
        assert_eq!(
            ledger.inner.in_flight.load(Ordering::Relaxed),
            0,
            "no reservation leaks"
        );
        let ids: Vec<String> = receipts::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(
            ids,
            [
                "01JDQ0000000000000000000B1",
                "01JDQ0000000000000000000B3",
                "01JDQ0000000000000000000C1",
                "01JDQ0000000000000000000C2"
            ]
        );
    }

    /// The writer's connection commits with the pool's durability; in-memory databases and
    /// PostgreSQL have none (the pool writes).
    #[tokio::test]
    async fn the_direct_connection_has_the_pool_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite(dir.path(), "pragmas").await;
        let direct = DirectSqlite::beside(&db).unwrap().expect("a SQLite file");
        assert_eq!(direct.pragma("journal_mode").unwrap(), "wal");
        // 1 = NORMAL, as every pooled connection (`db::tests`).
        assert_eq!(direct.pragma("synchronous").unwrap(), "1");
        assert_eq!(direct.pragma("foreign_keys").unwrap(), "1");
        assert_eq!(direct.pragma("busy_timeout").unwrap(), "5000");
        let memory = crate::db::connect(&crate::config::DatabaseConfig {
            url: "sqlite::memory:".into(),
            max_connections: 1,
            connect_timeout_secs: 5,
        })
        .await
        .unwrap();
        assert!(DirectSqlite::beside(&memory).unwrap().is_none());
    }

    #[test]
    fn utc_days() {
        assert_eq!(super::utc_day(0), "1970-01-01");
        assert_eq!(super::utc_day(951_782_400_000), "2000-02-29");
        assert_eq!(super::utc_day(1_795_305_600_000), "2026-11-22");
    }
}
