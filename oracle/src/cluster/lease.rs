//! Leases in the database: `cluster_leases` (migration m20261202_000013), one row per name.
//!
//! Taking or renewing a lease is ONE statement (an upsert whose `WHERE` only lets the current
//! holder renew, or anyone take a lapsed lease) evaluated on the database's clock, so replicas'
//! clocks never matter. Each new term — the lease changed hands, or lapsed before its holder
//! renewed — raises the fencing token. A write that only the holder may make adds
//! [`fence_condition`] to its own `WHERE`: the database refuses it once the term is over,
//! however late the writer is.

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, Value,
    sea_query::{Alias, Expr, ExprTrait, Query, SimpleExpr},
};

use crate::error::{OracleError, Result};

/// A term of a lease: who held it with which fencing token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub name: String,
    pub holder: String,
    pub token: i64,
    /// The lease period (ms): the longest a transaction holding the lease row may stall.
    pub ttl_ms: i64,
}

/// The answer of a successful [`Lease::acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseTerm {
    pub fence: Fence,
    /// Database time (Unix ms) the lease runs until.
    pub expires_at_ms: i64,
    /// Database time (Unix ms) when the statement ran.
    pub db_now_ms: i64,
}

/// One lease as the table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub holder: String,
    pub token: i64,
    pub expires_at_ms: i64,
    pub acquired_at_ms: i64,
    /// The database's clock when read.
    pub db_now_ms: i64,
}

impl LeaseRow {
    pub fn is_live(&self) -> bool {
        self.expires_at_ms > self.db_now_ms
    }
}

/// The database's clock in Unix milliseconds, as SQL (one value per statement on PostgreSQL).
pub fn db_now_sql(backend: DatabaseBackend) -> &'static str {
    match backend {
        DatabaseBackend::Postgres => {
            "CAST(FLOOR(EXTRACT(EPOCH FROM statement_timestamp()) * 1000) AS BIGINT)"
        }
        DatabaseBackend::MySql => "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
        _ => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
    }
}

/// `EXISTS (the lease `fence.name` is held by `fence.holder` with `fence.token`, unexpired)`:
/// add it to the `WHERE` of a write only the holder of that term may make.
pub fn fence_condition(backend: DatabaseBackend, fence: &Fence) -> SimpleExpr {
    let col = |c: &str| Expr::col((Alias::new("cluster_leases"), Alias::new(c)));
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(Alias::new("cluster_leases"))
            .and_where(col("name").eq(fence.name.clone()))
            .and_where(col("holder").eq(fence.holder.clone()))
            .and_where(col("token").eq(fence.token))
            .and_where(col("expires_at_ms").gt(Expr::cust(db_now_sql(backend))))
            .to_owned(),
    )
}

/// A named lease as seen by one replica.
#[derive(Debug, Clone)]
pub struct Lease {
    db: DatabaseConnection,
    name: String,
    holder: String,
    ttl_ms: i64,
}

pub(crate) fn placeholders(backend: DatabaseBackend, sql: &str) -> String {
    if backend != DatabaseBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

impl Lease {
    pub fn new(db: DatabaseConnection, name: &str, holder: &str, ttl_ms: i64) -> Self {
        Self {
            db,
            name: name.to_owned(),
            holder: holder.to_owned(),
            ttl_ms: Ord::max(ttl_ms, 1),
        }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn stmt(&self, sql: &str, values: Vec<Value>) -> Statement {
        let backend = self.db.get_database_backend();
        let sql = sql.replace("{now}", db_now_sql(backend));
        Statement::from_sql_and_values(backend, placeholders(backend, &sql), values)
    }

    /// Takes the lease if it is free or lapsed, renews it if this replica holds it: one
    /// statement. `Some(term)` while this replica holds it (the token is new when the term is),
    /// `None` when another replica holds a live lease.
    pub async fn acquire(&self) -> Result<Option<LeaseTerm>> {
        // The SET expressions read the row as it was, so "same holder, still live" keeps the
        // term (and its token, and the epoch a member sealed in it) and anything else starts a
        // new one (having sealed nothing).
        let sql = "INSERT INTO cluster_leases (name, holder, token, expires_at_ms, acquired_at_ms) \
             VALUES (?, ?, 1, {now} + ?, {now}) \
             ON CONFLICT (name) DO UPDATE SET \
               token = CASE WHEN cluster_leases.holder = excluded.holder AND cluster_leases.expires_at_ms > {now} \
                            THEN cluster_leases.token ELSE cluster_leases.token + 1 END, \
               acquired_at_ms = CASE WHEN cluster_leases.holder = excluded.holder AND cluster_leases.expires_at_ms > {now} \
                            THEN cluster_leases.acquired_at_ms ELSE {now} END, \
               sealed_epoch = CASE WHEN cluster_leases.holder = excluded.holder AND cluster_leases.expires_at_ms > {now} \
                            THEN cluster_leases.sealed_epoch ELSE NULL END, \
               holder = excluded.holder, \
               expires_at_ms = excluded.expires_at_ms \
             WHERE cluster_leases.holder = excluded.holder OR cluster_leases.expires_at_ms <= {now} \
             RETURNING token, expires_at_ms, {now} AS db_now_ms";
        let row = self
            .db
            .query_one_raw(self.stmt(
                sql,
                vec![
                    self.name.clone().into(),
                    self.holder.clone().into(),
                    self.ttl_ms.into(),
                ],
            ))
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(LeaseTerm {
            fence: Fence {
                name: self.name.clone(),
                holder: self.holder.clone(),
                token: row.try_get("", "token")?,
                ttl_ms: self.ttl_ms,
            },
            expires_at_ms: row.try_get("", "expires_at_ms")?,
            db_now_ms: row.try_get("", "db_now_ms")?,
        }))
    }

    /// Hands the lease back (it lapses now) if `fence`'s term is still current, so that another
    /// replica takes it at its next try instead of after the lease period.
    pub async fn release(&self, fence: &Fence) -> Result<bool> {
        let sql = "UPDATE cluster_leases SET expires_at_ms = {now} \
                   WHERE name = ? AND holder = ? AND token = ? AND expires_at_ms > {now}";
        let res = self
            .db
            .execute_raw(self.stmt(
                sql,
                vec![
                    fence.name.clone().into(),
                    fence.holder.clone().into(),
                    fence.token.into(),
                ],
            ))
            .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Whether `fence`'s term is still current (held, unexpired, same token).
    pub async fn holds(db: &DatabaseConnection, fence: &Fence) -> Result<bool> {
        Ok(read(db, &fence.name)
            .await?
            .is_some_and(|r| r.is_live() && r.holder == fence.holder && r.token == fence.token))
    }
}

/// The lease `name` as the table holds it now.
pub async fn read(db: &DatabaseConnection, name: &str) -> Result<Option<LeaseRow>> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT holder, token, expires_at_ms, acquired_at_ms, {} AS db_now_ms FROM cluster_leases WHERE name = ?",
        db_now_sql(backend)
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            placeholders(backend, &sql),
            [Value::from(name.to_owned())],
        ))
        .await?;
    row.map(|r| {
        Ok(LeaseRow {
            holder: r.try_get("", "holder")?,
            token: r.try_get("", "token")?,
            expires_at_ms: r.try_get("", "expires_at_ms")?,
            acquired_at_ms: r.try_get("", "acquired_at_ms")?,
            db_now_ms: r.try_get("", "db_now_ms")?,
        })
    })
    .transpose()
    .map_err(|e: sea_orm::DbErr| OracleError::Database(e.to_string()))
}

/// Whether this replica's writes are fenced by a lease, and by which term: shared by the
/// components whose writes only the leader may make (the transaction manager, the ledger).
#[derive(Debug, Default)]
pub struct FenceCell(std::sync::RwLock<FenceState>);

/// See [`FenceCell`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FenceState {
    /// One process per database (`cluster.enabled` off): no lease is checked.
    #[default]
    Unfenced,
    /// Cluster mode: writes need this term of the lease; `None`: this replica is not the leader.
    Fenced(Option<Fence>),
}

impl FenceCell {
    /// From now on writes are fenced by `fence` (`None`: refused).
    pub fn set(&self, fence: Option<Fence>) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = FenceState::Fenced(fence);
    }

    pub fn get(&self) -> FenceState {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// `Ok(None)`: unfenced; `Ok(Some(term))`: fenced by this replica's current term;
    /// `Err(NotLeader)`: cluster mode and this replica does not hold the lease.
    pub fn require(&self, what: &str) -> Result<Option<Fence>> {
        match self.get() {
            FenceState::Unfenced => Ok(None),
            FenceState::Fenced(Some(f)) => Ok(Some(f)),
            FenceState::Fenced(None) => Err(OracleError::NotLeader(format!(
                "this replica does not hold the `{}` lease: {what} happen on the replica that does",
                super::CHAIN_LEASE
            ))),
        }
    }
}

/// Inside a writer's transaction: checks that `fence`'s term is current and locks the lease row
/// until the transaction ends (so the lease cannot change hands while it commits; on SQLite the
/// write lock does the same). `NotLeader` if the term is over. On PostgreSQL the transaction is
/// also limited to stalling (idle in transaction: a process paused, a lost client) for one lease
/// period: the server then ends the session, so a frozen leader holds up no failover for longer,
/// and its batch fails when it wakes.
pub async fn hold_in<C: ConnectionTrait>(txn: &C, fence: &Fence) -> Result<()> {
    let backend = txn.get_database_backend();
    if backend == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SET LOCAL idle_in_transaction_session_timeout = {}",
            Ord::max(fence.ttl_ms, 1)
        ))
        .await?;
    }
    let sql = format!(
        "UPDATE cluster_leases SET token = token \
         WHERE name = ? AND holder = ? AND token = ? AND expires_at_ms > {}",
        db_now_sql(backend)
    );
    let res = txn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            placeholders(backend, &sql),
            [
                Value::from(fence.name.clone()),
                Value::from(fence.holder.clone()),
                Value::from(fence.token),
            ],
        ))
        .await?;
    if res.rows_affected() != 1 {
        metrics::counter!("imo_cluster_fenced_writes_total").increment(1);
        return Err(OracleError::NotLeader(format!(
            "the `{}` lease term {} of {} is over; nothing was written",
            fence.name, fence.token, fence.holder
        )));
    }
    Ok(())
}
