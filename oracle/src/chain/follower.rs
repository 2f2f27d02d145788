//! The one log follower: every stream of contract events the service acts on (vault events,
//! challenges, payouts, and any later stream) is read the same way.
//!
//! * A stream has a name (its cursor in `chain_cursors`), a contract and the events it wants.
//! * Only blocks with `chain.confirmations` confirmations are read: a log from a block that a
//!   shallower reorg removes is never seen, let alone acted on.
//! * Before reading on, the block under the cursor must still have the hash it had when it was
//!   read; if it does not, the chain reorganised deeper than the confirmation depth and the
//!   follower stops with an error (raise `chain.confirmations`; nothing is guessed).
//! * Ranges are bounded (`chain.index_batch_blocks`), logs are handed over in chain order, and
//!   the cursor moves only after every log of the range was applied. A handler must therefore be
//!   idempotent by the log's identity (`<tx hash>:<log index>`, or a key the event carries): a
//!   crash between applying and moving the cursor re-reads the range, and applies nothing twice.

use std::future::Future;

use alloy::{
    primitives::{Address as EthAddress, B256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
};
use sea_orm::{DatabaseConnection, EntityTrait};
use serde::Serialize;
use tracing::{error, instrument};

use crate::{
    config::ChainConfig,
    db::chain_cursors,
    error::{OracleError, Result},
};

/// One stream of events of one contract.
#[derive(Debug, Clone)]
pub struct Stream {
    /// The cursor's name (`vault`, `oracle`, `payouts`, …).
    pub name: &'static str,
    pub address: EthAddress,
    /// The event signatures (topic 0) it wants; empty: every event of the contract.
    pub events: Vec<B256>,
    /// Where to start when the stream has no cursor yet (the deployment's block).
    pub start_block: u64,
}

/// What one [`LogFollower::follow`] pass read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FollowReport {
    pub from_block: u64,
    pub to_block: u64,
    /// Logs the handler applied (`true`).
    pub applied: usize,
    /// Logs the handler had applied already, or ignores (`false`).
    pub skipped: usize,
}

/// Reads streams of contract events up to the confirmed head.
#[derive(Clone)]
pub struct LogFollower {
    db: DatabaseConnection,
    clock: crate::clock::SharedClock,
    provider: DynProvider,
    cfg: ChainConfig,
}

impl std::fmt::Debug for LogFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogFollower")
            .field("rpc_url", &self.cfg.redacted_rpc_url())
            .field("confirmations", &self.cfg.confirmations)
            .finish()
    }
}

impl LogFollower {
    pub fn new(
        db: DatabaseConnection,
        provider: DynProvider,
        cfg: ChainConfig,
        clock: crate::clock::SharedClock,
    ) -> Self {
        Self {
            db,
            clock,
            provider,
            cfg,
        }
    }

    fn err(&self, what: &str, e: impl std::fmt::Display) -> OracleError {
        OracleError::Chain(format!("{what} at {}: {e}", self.cfg.redacted_rpc_url()))
    }

    async fn block_hash(&self, number: u64) -> Result<Option<B256>> {
        Ok(self
            .provider
            .get_block_by_number(number.into())
            .await
            .map_err(|e| self.err("reading a block", e))?
            .map(|b| b.header.hash))
    }

    /// The newest block with `chain.confirmations` confirmations, if any.
    pub async fn confirmed_head(&self) -> Result<Option<u64>> {
        let head = self
            .provider
            .get_block_number()
            .await
            .map_err(|e| self.err("reading the block number", e))?;
        Ok((head + 1).checked_sub(self.cfg.confirmations.max(1)))
    }

    /// Reads the next confirmed range of `stream` and hands each log to `apply`, in chain order;
    /// `apply` answers whether it changed anything. Moves the cursor once every log is applied.
    #[instrument(skip_all, fields(stream = stream.name))]
    pub async fn follow<F, Fut>(&self, stream: &Stream, mut apply: F) -> Result<FollowReport>
    where
        F: FnMut(Log) -> Fut,
        Fut: Future<Output = Result<bool>>,
    {
        let cursor = chain_cursors::Entity::find_by_id(stream.name.to_owned())
            .one(&self.db)
            .await?;
        let Some(safe) = self.confirmed_head().await? else {
            return Ok(FollowReport::default());
        };
        let from = match &cursor {
            Some(c) => {
                let at = c.block_number as u64;
                let now = self.block_hash(at).await?;
                if now.map(|h| format!("{h:#x}")) != Some(c.block_hash.clone()) {
                    error!(
                        stream = stream.name,
                        block = at,
                        "the chain reorganised below the confirmation depth; the follower stops"
                    );
                    metrics::counter!("imo_chain_deep_reorgs_total", "stream" => stream.name)
                        .increment(1);
                    return Err(OracleError::Chain(format!(
                        "block {at} changed after the `{}` stream read it with {} confirmations: \
                         a reorg deeper than chain.confirmations; raise it and re-index",
                        stream.name, self.cfg.confirmations
                    )));
                }
                at + 1
            }
            None => stream.start_block,
        };
        let mut report = FollowReport {
            from_block: from,
            to_block: safe,
            ..Default::default()
        };
        if from > safe {
            return Ok(report);
        }
        let to = safe.min(from + self.cfg.index_batch_blocks.max(1) - 1);
        report.to_block = to;
        let mut filter = Filter::new()
            .address(stream.address)
            .from_block(from)
            .to_block(to);
        if !stream.events.is_empty() {
            filter = filter.event_signature(stream.events.clone());
        }
        let mut logs = self
            .provider
            .get_logs(&filter)
            .await
            .map_err(|e| self.err(&format!("reading `{}` logs", stream.name), e))?;
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        for log in logs {
            if apply(log).await? {
                report.applied += 1;
            } else {
                report.skipped += 1;
            }
        }
        let hash = self
            .block_hash(to)
            .await?
            .ok_or_else(|| self.err("reading a block hash", format!("block {to} missing")))?;
        chain_cursors::save(&self.db, stream.name, to, hash, self.clock.now_ms()).await?;
        metrics::gauge!("imo_chain_indexed_block", "stream" => stream.name).set(to as f64);
        Ok(report)
    }

    /// Follows `stream` until it has read the confirmed head (several bounded ranges).
    pub async fn catch_up<F, Fut>(&self, stream: &Stream, mut apply: F) -> Result<FollowReport>
    where
        F: FnMut(Log) -> Fut,
        Fut: Future<Output = Result<bool>>,
    {
        let mut total = FollowReport::default();
        loop {
            let r = self.follow(stream, &mut apply).await?;
            if total.from_block == 0 {
                total.from_block = r.from_block;
            }
            total.to_block = r.to_block;
            total.applied += r.applied;
            total.skipped += r.skipped;
            if r.from_block > r.to_block || r.to_block >= self.confirmed_head().await?.unwrap_or(0)
            {
                return Ok(total);
            }
        }
    }
}

/// A log's identity: `<tx hash>:<log index>`.
pub fn log_id(log: &Log) -> Option<String> {
    Some(format!("{:#x}:{}", log.transaction_hash?, log.log_index?))
}
