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
//! balances (run one metering replica per database; see docs/ARCHITECTURE.md).

use std::{collections::HashMap, sync::Arc};

use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
    sea_query::OnConflict,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, instrument};

use crate::{
    db::{balances, credits, receipts},
    error::{OracleError, Result},
    receipts::ReceiptRecord,
    types::{Address, Wei, now_ms},
};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Account {
    /// Committed balance (as in the database).
    balance: u128,
    /// Reserved by calls in flight.
    reserved: u128,
    spent: u128,
    credited: u128,
}

/// A caller's balance as reported by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BalanceView {
    pub balance_wei: Wei,
    pub reserved_wei: Wei,
    pub spent_wei: Wei,
    pub credited_wei: Wei,
}

enum Write {
    Receipt(ReceiptRecord),
    Credit {
        id: String,
        address: Address,
        amount: u128,
        source: String,
    },
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
    accounts: std::sync::Mutex<HashMap<Address, Account>>,
    tx: mpsc::Sender<Job>,
}

#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

fn parse_wei(s: &str) -> Result<u128> {
    s.parse::<u128>()
        .map_err(|_| OracleError::Database(format!("corrupt amount `{s}` in balances")))
}

impl Ledger {
    /// Starts the ledger and its writer task (on the current tokio runtime).
    pub fn start(db: DatabaseConnection, max_batch: usize) -> Self {
        let (tx, rx) = mpsc::channel(max_batch.max(1) * 4);
        let inner = Arc::new(Inner {
            db,
            accounts: Default::default(),
            tx,
        });
        let ledger = Self { inner };
        tokio::spawn(writer(ledger.clone(), rx, max_batch.max(1)));
        ledger
    }

    async fn load(&self, address: Address) -> Result<()> {
        if self
            .inner
            .accounts
            .lock()
            .expect("ledger lock")
            .contains_key(&address)
        {
            return Ok(());
        }
        let row = balances::Entity::find_by_id(address.storage_key())
            .one(&self.inner.db)
            .await?;
        let account = match row {
            Some(r) => Account {
                balance: parse_wei(&r.balance_wei)?,
                reserved: 0,
                spent: parse_wei(&r.spent_wei)?,
                credited: parse_wei(&r.credited_wei)?,
            },
            None => Account::default(),
        };
        // Another task may have loaded it meanwhile; the first load wins (it may carry reservations).
        self.inner
            .accounts
            .lock()
            .expect("ledger lock")
            .entry(address)
            .or_insert(account);
        Ok(())
    }

    /// Reserves `price` of `address`'s balance, or fails with `InsufficientBalance`.
    pub async fn reserve(&self, address: Address, price: Wei) -> Result<Reservation> {
        self.load(address).await?;
        let mut accounts = self.inner.accounts.lock().expect("ledger lock");
        let acct = accounts.get_mut(&address).expect("loaded above");
        let available = acct.balance - acct.reserved;
        if available < price.0 {
            return Err(OracleError::InsufficientBalance {
                needed: price,
                available: Wei(available),
            });
        }
        acct.reserved += price.0;
        Ok(Reservation {
            ledger: self.clone(),
            address,
            amount: price.0,
            live: true,
        })
    }

    fn release(&self, address: Address, amount: u128) {
        if let Some(acct) = self
            .inner
            .accounts
            .lock()
            .expect("ledger lock")
            .get_mut(&address)
        {
            acct.reserved -= amount;
        }
    }

    /// Adds `amount` to `address`'s balance, durably, recording its source.
    #[instrument(skip(self), fields(address = %address, amount = %amount))]
    pub async fn credit(&self, address: Address, amount: Wei, source: &str) -> Result<BalanceView> {
        if amount.0 == 0 {
            return Err(OracleError::InvalidInput(
                "the amount must be positive".into(),
            ));
        }
        self.load(address).await?;
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
        let a = *self
            .inner
            .accounts
            .lock()
            .expect("ledger lock")
            .get(&address)
            .expect("loaded");
        Ok(BalanceView {
            balance_wei: Wei(a.balance),
            reserved_wei: Wei(a.reserved),
            spent_wei: Wei(a.spent),
            credited_wei: Wei(a.credited),
        })
    }
}

/// The single writer: drains up to `max_batch` jobs, commits them in one transaction, answers.
async fn writer(ledger: Ledger, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        let result = write_batch(&ledger, &batch).await;
        metrics::histogram!("imo_ledger_batch_size").record(batch.len() as f64);
        if let Err(e) = &result {
            error!(error = %e, jobs = batch.len(), "ledger batch failed; nothing was charged");
        }
        for job in batch.drain(..) {
            let outcome = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(OracleError::Database(e.to_string())),
            };
            if let (Err(_), Write::Receipt(r)) = (&outcome, &job.write) {
                // Not durable, so not charged: give the reservation back.
                ledger.release(r.client, r.price_wei.0);
            }
            let _ = job.done.send(outcome);
        }
    }
}

async fn write_batch(ledger: &Ledger, batch: &[Job]) -> Result<()> {
    // New account states, computed from the committed ones; applied to memory only after commit.
    let mut next: HashMap<Address, Account> = HashMap::new();
    {
        let accounts = ledger.inner.accounts.lock().expect("ledger lock");
        for job in batch {
            let (addr, credit, debit) = match &job.write {
                Write::Receipt(r) => (r.client, 0, r.price_wei.0),
                Write::Credit {
                    address, amount, ..
                } => (*address, *amount, 0),
            };
            let a = next
                .entry(addr)
                .or_insert_with(|| accounts.get(&addr).copied().unwrap_or_default());
            a.balance = a.balance + credit - debit;
            a.credited += credit;
            a.spent += debit;
        }
    }
    let now = now_ms();
    let txn = ledger.inner.db.begin().await?;
    let receipt_rows: Vec<receipts::ActiveModel> = batch
        .iter()
        .filter_map(|j| match &j.write {
            Write::Receipt(r) => Some(receipt_row(r)),
            Write::Credit { .. } => None,
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
        .filter_map(|j| match &j.write {
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
            Write::Receipt(_) => None,
        })
        .collect();
    if !credit_rows.is_empty() {
        credits::Entity::insert_many(credit_rows)
            .exec_without_returning(&txn)
            .await?;
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
    txn.commit().await?;

    let mut accounts = ledger.inner.accounts.lock().expect("ledger lock");
    for job in batch {
        if let Write::Receipt(r) = &job.write
            && let Some(a) = accounts.get_mut(&r.client)
        {
            a.reserved -= r.price_wei.0;
        }
    }
    for (addr, n) in next {
        let a = accounts.entry(addr).or_default();
        a.balance = n.balance;
        a.spent = n.spent;
        a.credited = n.credited;
    }
    metrics::counter!("imo_receipts_committed_total").increment(
        batch
            .iter()
            .filter(|j| matches!(j.write, Write::Receipt(_)))
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
}

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
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
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
