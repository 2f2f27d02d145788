//! Balance leases in the database (cluster mode; table `balance_leases`, migration
//! m20261202_000021): the statements the ledger runs to meter on many replicas at once.
//!
//! The rule every statement keeps: for each client, the leases that count — rows whose
//! replica's membership term (`cluster_leases`, [`member_lease_name`]) is live with the row's
//! token — add up to no more than what the client may spend (its balance less a pending
//! withdrawal and, on-chain, no more than its cap leaves). Every change to a client's balance or
//! leases happens in a transaction that first holds the replica's own membership term
//! ([`super::lease::hold_in`]) and then locks the client's `balances` row, so two replicas never
//! grant the same wei, and a replica whose membership lapsed (crashed, frozen) writes nothing.

use std::collections::{BTreeSet, HashMap};

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};
use sha2::{Digest, Sha256};

use super::lease::{Fence, db_now_sql, placeholders};
use crate::{
    error::{OracleError, Result},
    types::Address,
};

/// The name of a replica's membership lease: `member:` and 24 hex digits of the SHA-256 of its
/// id (ids may be long; the name column holds 64 characters).
pub fn member_lease_name(replica: &str) -> String {
    let digest = Sha256::digest(replica.as_bytes());
    format!("member:{}", &hex::encode(digest)[..24])
}

/// One client's account as the database holds it, read in the replica's transaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    pub balance: u128,
    pub spent: u128,
    pub credited: u128,
    /// A pending withdrawal (chain mode).
    pub held: u128,
    /// The signed lifetime cap (chain mode).
    pub cap: u128,
    /// This replica's live lease (of its current term).
    pub own: u128,
    /// Another replica asked for what this replica's lease does not need.
    pub recalled: bool,
    /// The live leases of the other replicas, together.
    pub others: u128,
}

impl Held {
    /// What the client may spend at all: the balance less a pending withdrawal, and in chain
    /// mode no more than the cap leaves.
    pub fn limit(&self, chain_mode: bool) -> u128 {
        let by_balance = self.balance.saturating_sub(self.held);
        if chain_mode {
            by_balance.min(self.cap.saturating_sub(self.spent))
        } else {
            by_balance
        }
    }

    /// What no replica holds yet.
    pub fn free(&self, chain_mode: bool) -> u128 {
        self.limit(chain_mode)
            .saturating_sub(self.others.saturating_add(self.own))
    }
}

fn wei(s: &str, what: &str) -> Result<u128> {
    s.parse::<u128>()
        .map_err(|_| OracleError::Database(format!("corrupt amount `{s}` in {what}")))
}

fn stmt(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = sql.replace("{now}", db_now_sql(backend));
    Statement::from_sql_and_values(backend, placeholders(backend, &sql), values)
}

fn list(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Creates the `balances` rows that do not exist yet (zero), so that they can be locked: a
/// first credit on two replicas at once then adds up instead of one overwriting the other.
pub async fn ensure_rows<C: ConnectionTrait>(
    c: &C,
    addrs: &BTreeSet<Address>,
    now_ms: i64,
) -> Result<()> {
    if addrs.is_empty() {
        return Ok(());
    }
    let backend = c.get_database_backend();
    let rows = vec!["(?, '0', '0', '0', ?)"; addrs.len()].join(", ");
    let mut values = Vec::with_capacity(addrs.len() * 2);
    for a in addrs {
        values.push(a.storage_key().into());
        values.push(now_ms.into());
    }
    let sql = format!(
        "INSERT INTO balances (address, balance_wei, spent_wei, credited_wei, updated_at_ms) VALUES {rows} ON CONFLICT (address) DO NOTHING"
    );
    c.execute_raw(stmt(backend, &sql, values)).await?;
    Ok(())
}

/// Reads the accounts of `addrs` with this replica's view of the leases (`me`: its current
/// membership term). With `lock`, the `balances` rows are locked until the transaction ends
/// (in address order, so transactions never wait on each other in a circle).
pub async fn read<C: ConnectionTrait>(
    c: &C,
    addrs: &BTreeSet<Address>,
    me: &Fence,
    lock: bool,
) -> Result<HashMap<Address, Held>> {
    let mut out: HashMap<Address, Held> = addrs.iter().map(|a| (*a, Held::default())).collect();
    if addrs.is_empty() {
        return Ok(out);
    }
    let backend = c.get_database_backend();
    let keys: Vec<Value> = addrs.iter().map(|a| a.storage_key().into()).collect();
    let for_update = if lock && backend == DatabaseBackend::Postgres {
        " FOR UPDATE OF b"
    } else {
        ""
    };
    // One statement: the balance rows (locked) and the vault state beside them.
    let sql = format!(
        "SELECT b.address, b.balance_wei, b.spent_wei, b.credited_wei, v.held_wei, v.cap_wei \
         FROM balances b LEFT JOIN vault_accounts v ON v.address = b.address \
         WHERE b.address IN ({}) ORDER BY b.address{for_update}",
        list(addrs.len())
    );
    for row in c.query_all_raw(stmt(backend, &sql, keys.clone())).await? {
        let a: String = row.try_get("", "address")?;
        let h = out.entry(a.parse()?).or_default();
        let amount = |col: &str| -> Result<u128> {
            match row.try_get::<Option<String>>("", col)? {
                Some(v) => wei(&v, col),
                None => Ok(0),
            }
        };
        h.balance = amount("balance_wei")?;
        h.spent = amount("spent_wei")?;
        h.credited = amount("credited_wei")?;
        h.held = amount("held_wei")?;
        h.cap = amount("cap_wei")?;
    }
    // Only leases whose replica's membership term is live count.
    let sql = format!(
        "SELECT bl.address, bl.member, bl.token, bl.amount_wei, bl.recalled FROM balance_leases bl \
         JOIN cluster_leases cl ON cl.name = bl.member AND cl.token = bl.token AND cl.expires_at_ms > {{now}} \
         WHERE bl.address IN ({})",
        list(addrs.len())
    );
    for row in c.query_all_raw(stmt(backend, &sql, keys)).await? {
        let a: String = row.try_get("", "address")?;
        let member: String = row.try_get("", "member")?;
        let token: i64 = row.try_get("", "token")?;
        let amount = wei(&row.try_get::<String>("", "amount_wei")?, "balance_leases")?;
        let recalled: i32 = row.try_get("", "recalled")?;
        let h = out.entry(a.parse()?).or_default();
        if member == me.name && token == me.token {
            h.own = amount;
            h.recalled = recalled != 0;
        } else {
            h.others = h.others.saturating_add(amount);
        }
    }
    Ok(out)
}

/// Sets this replica's lease of `address` to `amount` (of its term `me`), clearing a recall.
pub async fn set_own<C: ConnectionTrait>(
    c: &C,
    me: &Fence,
    address: Address,
    amount: u128,
    now_ms: i64,
) -> Result<()> {
    let backend = c.get_database_backend();
    let sql = "INSERT INTO balance_leases (address, member, token, amount_wei, recalled, updated_at_ms) \
               VALUES (?, ?, ?, ?, 0, ?) \
               ON CONFLICT (address, member) DO UPDATE SET token = excluded.token, \
               amount_wei = excluded.amount_wei, recalled = 0, updated_at_ms = excluded.updated_at_ms";
    c.execute_raw(stmt(
        backend,
        sql,
        vec![
            address.storage_key().into(),
            me.name.clone().into(),
            me.token.into(),
            amount.to_string().into(),
            now_ms.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Asks the other replicas holding a lease of `address` to hand back what they do not need.
pub async fn recall<C: ConnectionTrait>(c: &C, me: &Fence, address: Address) -> Result<()> {
    let backend = c.get_database_backend();
    c.execute_raw(stmt(
        backend,
        "UPDATE balance_leases SET recalled = 1 WHERE address = ? AND member <> ? AND recalled = 0",
        vec![address.storage_key().into(), me.name.clone().into()],
    ))
    .await?;
    Ok(())
}

/// The clients whose lease (of term `me`) another replica recalled.
pub async fn recalled<C: ConnectionTrait>(c: &C, me: &Fence) -> Result<Vec<Address>> {
    let backend = c.get_database_backend();
    let rows = c
        .query_all_raw(stmt(
            backend,
            "SELECT address FROM balance_leases WHERE member = ? AND token = ? AND recalled <> 0",
            vec![me.name.clone().into(), me.token.into()],
        ))
        .await?;
    rows.into_iter()
        .map(|r| r.try_get::<String>("", "address")?.parse())
        .collect()
}

/// Hands back every lease of the replica whose membership lease is `member` (shutdown, after
/// the ledger writer drained): what was not charged is free for the other replicas at once.
pub async fn return_all<C: ConnectionTrait>(c: &C, member: &str) -> Result<u64> {
    let backend = c.get_database_backend();
    let res = c
        .execute_raw(stmt(
            backend,
            "DELETE FROM balance_leases WHERE member = ?",
            vec![member.to_owned().into()],
        ))
        .await?;
    Ok(res.rows_affected())
}

/// Records that this replica sealed `epoch` (its ledger refuses receipts of it and earlier, and
/// every one it committed is durable), on its membership row of term `me` while that term is
/// live (a new term starts having sealed nothing).
pub async fn seal<C: ConnectionTrait>(c: &C, me: &Fence, epoch: u64) -> Result<()> {
    let backend = c.get_database_backend();
    c.execute_raw(stmt(
        backend,
        "UPDATE cluster_leases SET sealed_epoch = ? \
         WHERE name = ? AND holder = ? AND token = ? AND expires_at_ms > {now}",
        vec![
            (epoch as i64).into(),
            me.name.clone().into(),
            me.holder.clone().into(),
            me.token.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The last epoch every live replica has sealed (`None`: some live replica sealed none yet, or
/// no replica is live). Run in a transaction of its own: it first locks every membership row,
/// so a replica's receipt transaction that is still open (a replica frozen mid-commit) ends —
/// committed or ended by the database — before the answer is read; a replica whose
/// membership lapsed writes nothing afterwards (its transactions must hold a live term).
pub async fn sealed_through<C: ConnectionTrait>(c: &C) -> Result<Option<u64>> {
    let backend = c.get_database_backend();
    c.execute_raw(stmt(
        backend,
        "UPDATE cluster_leases SET token = token WHERE name LIKE 'member:%'",
        vec![],
    ))
    .await?;
    let row = c
        .query_one_raw(stmt(
            backend,
            "SELECT COUNT(*) AS live, MIN(COALESCE(sealed_epoch, -1)) AS sealed FROM cluster_leases \
             WHERE name LIKE 'member:%' AND expires_at_ms > {now}",
            vec![],
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let live: i64 = row.try_get("", "live")?;
    let sealed: Option<i64> = row.try_get("", "sealed")?;
    Ok(match (live, sealed) {
        (0, _) | (_, None) => None,
        (_, Some(s)) if s < 0 => None,
        (_, Some(s)) => Some(s as u64),
    })
}
