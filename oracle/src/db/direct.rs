//! The ledger writer's own SQLite connection.
//!
//! Through sqlx every statement of a transaction is a round trip to the connection's worker
//! thread and back (`BEGIN`, each `INSERT`, `COMMIT`): on the 2-core machine `make bench` runs on,
//! a one-receipt batch waited ≈ 450 µs for its commit, of which SQLite itself needs ≈ 20 µs. The
//! ledger writer (one task, the only writer of receipts and balances) therefore commits its
//! batches on a connection of its own, in one synchronous call: the statements are the ones
//! sea-orm builds for the pool ([`sea_orm::QueryTrait::build`]), so both paths write the same
//! rows, and the durability is the pool's (WAL, `synchronous=NORMAL`, see
//! [`super::sqlite_pragmas`]): the call returns once the commit is in the log.
//!
//! The call blocks the writer task for the length of one commit (tens of microseconds; a WAL
//! checkpoint, every ~1,000 pages, takes longer). Other writers (the pool's connections) wait for
//! the write lock like any two SQLite connections do (`busy_timeout`).

use std::path::Path;

use rusqlite::{
    Connection, TransactionBehavior,
    types::{ToSqlOutput, Value as Sql},
};
use sea_orm::{DatabaseConnection, DbBackend, Statement, Value};

use crate::{OracleError, error::Result};

/// How long a commit waits for another connection's write lock (as the pool's `busy_timeout`).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A SQLite connection that runs a batch of statements as one transaction, synchronously.
#[derive(Debug)]
pub struct DirectSqlite {
    conn: Connection,
}

impl DirectSqlite {
    /// Opens a second connection to the SQLite database file behind `db`, with the pool's
    /// pragmas. `None` for PostgreSQL, and for a database that is not a file (in memory), which
    /// another connection could not see.
    pub fn beside(db: &DatabaseConnection) -> Result<Option<Self>> {
        if db.get_database_backend() != DbBackend::Sqlite {
            return Ok(None);
        }
        let path = db
            .get_sqlite_connection_pool()
            .connect_options()
            .get_filename()
            .to_path_buf();
        if !path.is_file() {
            return Ok(None);
        }
        Self::open(&path).map(Some)
    }

    fn open(path: &Path) -> Result<Self> {
        let fail = |e: rusqlite::Error| {
            OracleError::Database(format!(
                "cannot open the ledger's connection to {}: {e}",
                path.display()
            ))
        };
        let conn = Connection::open(path).map_err(fail)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        // The pool's pragmas (`super::sqlite_pragmas`); `journal_mode` is the file's, already
        // WAL, and is read back to be sure.
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(fail)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(fail)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(OracleError::Database(format!(
                "{} is not in WAL mode (journal_mode={mode})",
                path.display()
            )));
        }
        Ok(Self { conn })
    }

    /// Runs `statements` (built for SQLite) in one `BEGIN IMMEDIATE … COMMIT`; on any error
    /// nothing of them is kept.
    pub fn commit(&mut self, statements: &[Statement]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        for s in statements {
            let values = s.values.as_ref().map_or(&[][..], |v| &v.0[..]);
            let params = values.iter().map(sql_value).collect::<Result<Vec<_>>>()?;
            tx.prepare_cached(&s.sql)
                .and_then(|mut st| st.execute(rusqlite::params_from_iter(params)))
                .map_err(db_error)?;
        }
        tx.commit().map_err(db_error)
    }

    /// A pragma's value on this connection (tests read the durability settings back).
    #[cfg(test)]
    pub(crate) fn pragma(&self, name: &str) -> Result<String> {
        self.conn
            .query_row(&format!("PRAGMA {name}"), [], |r| {
                r.get::<_, Sql>(0).map(|v| match v {
                    Sql::Integer(i) => i.to_string(),
                    Sql::Text(t) => t,
                    other => format!("{other:?}"),
                })
            })
            .map_err(db_error)
    }
}

fn db_error(e: rusqlite::Error) -> OracleError {
    OracleError::Database(e.to_string())
}

/// A bound value as sqlx-sqlite binds it (booleans and integers as integers, text as text).
fn sql_value(v: &Value) -> Result<ToSqlOutput<'_>> {
    let owned = |o: Option<Sql>| ToSqlOutput::Owned(o.unwrap_or(Sql::Null));
    Ok(match v {
        Value::Bool(b) => owned(b.map(|b| Sql::Integer(b.into()))),
        Value::TinyInt(i) => owned(i.map(|i| Sql::Integer(i.into()))),
        Value::SmallInt(i) => owned(i.map(|i| Sql::Integer(i.into()))),
        Value::Int(i) => owned(i.map(|i| Sql::Integer(i.into()))),
        Value::BigInt(i) => owned(i.map(Sql::Integer)),
        Value::TinyUnsigned(i) => owned(i.map(|i| Sql::Integer(i.into()))),
        Value::SmallUnsigned(i) => owned(i.map(|i| Sql::Integer(i.into()))),
        Value::Unsigned(i) => owned(i.map(|i| Sql::Integer(i.into()))),
        Value::Float(f) => owned(f.map(|f| Sql::Real(f.into()))),
        Value::Double(f) => owned(f.map(Sql::Real)),
        Value::String(Some(s)) => {
            ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(s.as_bytes()))
        }
        Value::String(None) | Value::Char(None) | Value::Bytes(None) => owned(None),
        Value::Char(Some(c)) => owned(Some(Sql::Text(c.to_string()))),
        Value::Bytes(Some(b)) => ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Blob(b)),
        other => {
            return Err(OracleError::Database(format!(
                "a value of this kind cannot be written by the ledger's SQLite connection: {other:?}"
            )));
        }
    })
}
