//! The epochs timeline (`GET /v1/epochs`, the dashboard's live view of the royalty cycle): the
//! newest closed epochs, each with where its attestation stands, the operator's attest and
//! finalize transactions of its current round, what its finalize paid each model's token, and
//! the calls and attested revenue of each model in it. Read from the database only (no RPC),
//! so it is cheap enough to poll.

use std::collections::HashMap;

use alloy::primitives::U256;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use tracing::instrument;

use super::{
    epochs::{EpochView, epoch_view},
    service::ChainLoop,
    txm::Intent,
};
use crate::{
    db::{epochs, payouts, receipts},
    error::{OracleError, Result},
    types::{Address, now_ms},
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EpochModel {
    pub model_id: String,
    pub model_name: String,
    pub weights_root: String,
    /// Receipts of this model in the epoch's tree.
    pub calls: u64,
    /// Attested revenue, before the operator's fee (the model's total in the attestation).
    pub total_wei: U256,
    /// What finalize paid the model's token (after the fee), once finalized.
    pub paid_wei: Option<U256>,
    /// The token snapshot holding the paid revenue for its holders.
    pub snapshot_id: Option<u64>,
    pub token: Option<String>,
}

/// One closed epoch on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    pub finalize: Option<Intent>,
    /// Per model, in the attestation's order (by weights root).
    pub models: Vec<EpochModel>,
}

/// A page of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

impl ChainLoop {
    /// A page of the epochs timeline, newest first.
    #[instrument(skip(self))]
    pub async fn timeline(&self, q: TimelineQuery) -> Result<Timeline> {
        let db = &self.inner.db;
        let epoch_secs = self.inner.epoch_secs;
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
                .filter(receipts::Column::TimestampMs.gte(self.inner.deployment.created_at_ms))
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

        let window = self.inner.challenge_window;
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let view = epoch_view(row)?;
            let mut models = Vec::with_capacity(view.models.len());
            for m in &view.models {
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
                    total_wei: m.total,
                    paid_wei: payout
                        .map(|p| p.amount_wei.parse::<U256>())
                        .transpose()
                        .map_err(|e| OracleError::Database(format!("corrupt payout: {e}")))?,
                    snapshot_id: payout.map(|p| p.snapshot_id.max(0) as u64),
                    token: payout
                        .map(|p| {
                            p.token
                                .parse::<Address>()
                                .map(|a| a.to_string())
                                .map_err(|e| {
                                    OracleError::Database(format!("corrupt payout token: {e}"))
                                })
                        })
                        .transpose()?,
                });
            }
            let attest = match &row.attest_key {
                Some(k) => self.inner.txm.get(k).await?,
                None => None,
            };
            let finalize = match &row.finalize_key {
                Some(k) => self.inner.txm.get(k).await?,
                None => None,
            };
            let starts_at_ms = view.epoch * epoch_secs * 1000;
            entries.push(TimelineEntry {
                finalizable_at: view.posted_at.map(|p| p + window),
                starts_at_ms,
                ends_at_ms: starts_at_ms + epoch_secs * 1000,
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
            current_epoch: now_ms().max(0) as u64 / 1000 / epoch_secs,
            challenge_window_secs: window,
            entries,
            next,
        })
    }
}
