//! The epochs timeline (`GET /v1/epochs`, the dashboard's live view of the royalty cycle): the
//! newest closed epochs, each with where its attestation stands, the operator's attest and
//! finalize transactions of its current round, what its finalize paid each model's token, and
//! the calls and attested revenue of each model in it. Read from the database only (no RPC),
//! so it is cheap enough to poll.

use std::collections::HashMap;

use alloy::primitives::U256;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tracing::instrument;

use super::{
    epochs::{EpochMachine, EpochRecord},
    reads::{ChainReads, EpochView},
    txm::Intent,
};
use crate::{
    db::{epochs, payouts, receipts},
    error::{OracleError, Result},
    types::Address,
};

/// The most epochs one page holds.
pub const MAX_LIMIT: u64 = 100;

/// Which page of the timeline: epochs below `before` (all when `None`), newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineQuery {
    pub before: Option<u64>,
    /// 1..=[`MAX_LIMIT`].
    pub limit: u64,
}

impl TimelineQuery {
    /// Checks the page size (`invalid_input` outside 1..=[`MAX_LIMIT`]).
    pub fn new(before: Option<u64>, limit: u64) -> Result<Self> {
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(OracleError::InvalidInput(format!(
                "limit must be between 1 and {MAX_LIMIT}, got {limit}"
            )));
        }
        Ok(Self { before, limit })
    }
}

/// One model's part of an epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochModel {
    pub model_id: String,
    pub model_name: String,
    pub weights_root: String,
    /// Receipts of this model in the epoch's tree.
    pub calls: u64,
    /// Attested revenue, before the operator's fee (the model's total in the attestation).
    pub total: U256,
    /// What finalize paid the model's token (after the fee), once finalized.
    pub paid: Option<U256>,
    /// The token snapshot holding the paid revenue for its holders.
    pub snapshot_id: Option<u64>,
    pub token: Option<Address>,
}

/// One closed epoch on the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub epoch: EpochView,
    /// The epoch covers receipts signed in `[starts_at_ms, ends_at_ms)`.
    pub starts_at_ms: u64,
    pub ends_at_ms: u64,
    /// Chain time (unix seconds) from which it can be finalized: `posted_at` plus the
    /// challenge window, once attested.
    pub finalizable_at: Option<u64>,
    /// The attestation of the current round, as the transaction manager tracks it.
    pub attest: Option<Intent>,
    /// The latest finalize batch of the current round.
    pub finalize: Option<Intent>,
    /// Per model, in the attestation's order (by weights root).
    pub models: Vec<EpochModel>,
}

/// A page of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    pub epoch_secs: u64,
    /// The epoch receipts are signed into now (open: not on the timeline until it closes).
    pub current_epoch: u64,
    pub challenge_window_secs: u64,
    /// Newest first.
    pub entries: Vec<TimelineEntry>,
    /// `before` for the next page; `None` on the last one.
    pub next: Option<u64>,
}

/// A 32-byte hex value as a map key: `0x` and lower case, whichever way it was stored.
fn hex_key(s: &str) -> String {
    format!("0x{}", s.trim_start_matches("0x").to_ascii_lowercase())
}

/// The batch start of a `finalize:<epoch>:<round>:<from>` key.
fn batch_from(i: &Intent) -> u64 {
    i.key
        .rsplit(':')
        .next()
        .and_then(|f| f.parse().ok())
        .unwrap_or(0)
}

impl ChainReads {
    /// A page of the epochs timeline, newest first.
    #[instrument(skip(self, machine))]
    pub async fn timeline(&self, machine: &EpochMachine, q: TimelineQuery) -> Result<Timeline> {
        let ctx = self.ctx();
        let db = &ctx.db;
        let epoch_secs = ctx.epochs.secs();
        let mut find = epochs::Entity::find();
        if let Some(before) = q.before {
            find = find.filter(epochs::Column::Epoch.lt(i64::try_from(before).unwrap_or(i64::MAX)));
        }
        let rows = find
            .order_by_desc(epochs::Column::Epoch)
            .limit(q.limit)
            .all(db)
            .await?;
        let numbers: Vec<i64> = rows.iter().map(|r| r.epoch).collect();

        // Calls per (epoch, model), counted in SQL over the receipts the trees were built from
        // (signed since the deployment was recorded).
        let counts: Vec<(i64, String, String, String, i64)> = if numbers.is_empty() {
            vec![]
        } else {
            receipts::Entity::find()
                .select_only()
                .column(receipts::Column::Epoch)
                .column(receipts::Column::ModelId)
                .column(receipts::Column::ModelName)
                .column(receipts::Column::WeightsRoot)
                .column_as(receipts::Column::Id.count(), "calls")
                .filter(receipts::Column::Epoch.is_in(numbers.iter().copied()))
                .filter(receipts::Column::TimestampMs.gte(ctx.deployment.created_at_ms))
                .group_by(receipts::Column::Epoch)
                .group_by(receipts::Column::ModelId)
                .group_by(receipts::Column::ModelName)
                .group_by(receipts::Column::WeightsRoot)
                .into_tuple()
                .all(db)
                .await?
        };
        // (epoch, weights root) -> (model id, name, calls)
        let mut by_root: HashMap<(i64, String), (String, String, u64)> = HashMap::new();
        for (epoch, id, name, root, calls) in counts {
            let e = by_root
                .entry((epoch, hex_key(&root)))
                .or_insert((id, name, 0));
            e.2 += calls.max(0) as u64;
        }
        let paid: Vec<payouts::Model> = if numbers.is_empty() {
            vec![]
        } else {
            payouts::Entity::find()
                .filter(payouts::Column::Epoch.is_in(numbers.iter().copied()))
                .all(db)
                .await?
        };
        let paid: HashMap<(i64, String), payouts::Model> = paid
            .into_iter()
            .map(|p| ((p.epoch, hex_key(&p.weights_root)), p))
            .collect();

        let window = ctx.challenge_window;
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let rec = EpochRecord::try_from(row)?;
            let mut models = Vec::with_capacity(rec.models.len());
            for m in &rec.models {
                let root = format!("{:#x}", m.model);
                let (model_id, model_name, calls) = by_root
                    .get(&(row.epoch, root.clone()))
                    .cloned()
                    .unwrap_or_default();
                let payout = paid.get(&(row.epoch, root.clone()));
                models.push(EpochModel {
                    model_id,
                    model_name,
                    weights_root: root,
                    calls,
                    total: m.total,
                    paid: payout
                        .map(|p| p.amount_wei.parse::<U256>())
                        .transpose()
                        .map_err(|e| OracleError::Database(format!("corrupt payout: {e}")))?,
                    snapshot_id: payout.map(|p| p.snapshot_id.max(0) as u64),
                    token: payout.map(|p| p.token.parse::<Address>()).transpose()?,
                });
            }
            let attest = ctx.txm.get(&rec.attest_key()).await?;
            let finalize = ctx
                .txm
                .with_prefix(&format!("finalize:{}:{}:", rec.epoch, rec.round))
                .await?
                .into_iter()
                .max_by_key(batch_from);
            let starts_at_ms = rec.epoch * epoch_secs * 1000;
            let view = self.view(machine, rec).await?;
            entries.push(TimelineEntry {
                finalizable_at: view.posted_at.map(|p| p + window),
                starts_at_ms,
                ends_at_ms: ctx.epochs.end_secs(view.epoch) * 1000,
                attest,
                finalize,
                models,
                epoch: view,
            });
        }
        let next = (rows.len() as u64 == q.limit)
            .then(|| rows.last().map(|r| r.epoch as u64))
            .flatten()
            .filter(|&e| e > 0);
        Ok(Timeline {
            epoch_secs,
            current_epoch: ctx.epochs.epoch_of(ctx.clock.now_ms()),
            challenge_window_secs: window,
            entries,
            next,
        })
    }
}
