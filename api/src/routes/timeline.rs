//! `GET /v1/epochs`: the epochs timeline (the dashboard polls it for live updates). Answers
//! `409 chain_disabled` when the chain loop is off, like the other chain routes.

use actix_web::{get, web};
use imo_oracle::{
    Oracle, OracleError,
    chain::timeline::{EpochModel, Timeline, TimelineEntry, TimelineQuery},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{error::ApiResult, routes::chain::TransactionView};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineParams {
    /// Only epochs below this one (the previous page's `next`).
    #[param(minimum = 0)]
    pub before: Option<u64>,
    /// 1-100, default 20; larger values are refused.
    #[param(inline)]
    pub limit: Option<crate::schema::Limit<100>>,
}

/// One model's part of an epoch.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EpochModelView {
    pub model_id: String,
    pub model_name: String,
    pub weights_root: String,
    /// Receipts of the model in the epoch's tree.
    pub calls: u64,
    /// Attested revenue before the operator's fee, wei.
    pub total_wei: String,
    /// Paid to the model's token by finalize (after the fee), wei; absent until finalized.
    pub paid_wei: Option<String>,
    /// The token snapshot holding the paid revenue.
    pub snapshot_id: Option<u64>,
    pub token_address: Option<String>,
}

impl From<EpochModel> for EpochModelView {
    fn from(m: EpochModel) -> Self {
        Self {
            model_id: m.model_id,
            model_name: m.model_name,
            weights_root: m.weights_root,
            calls: m.calls,
            total_wei: m.total_wei.to_string(),
            paid_wei: m.paid_wei.map(|w| w.to_string()),
            snapshot_id: m.snapshot_id,
            token_address: m.token,
        }
    }
}

/// A closed epoch with its transactions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntryView {
    pub epoch: u64,
    pub round: u32,
    /// `closed`, `attesting`, `attested`, `finalizing`, `finalized`, `voided`, `unwinding`,
    /// `attest_failed`.
    pub state: String,
    pub root: String,
    /// Receipts in the epoch's tree.
    pub count: u64,
    /// Attested total before the fee, wei.
    pub total_wei: String,
    pub fee_bps: u16,
    /// Chain time (unix s) of the attestation.
    pub posted_at: Option<u64>,
    /// Chain time (unix s) from which it can be finalized.
    pub finalizable_at: Option<u64>,
    /// Receipts signed in `[starts_at_ms, ends_at_ms)` belong to the epoch.
    pub starts_at_ms: u64,
    pub ends_at_ms: u64,
    /// Number of paying clients.
    pub clients: u64,
    /// The attestation of the current round.
    pub attest: Option<TransactionView>,
    pub finalize: Option<TransactionView>,
    pub models: Vec<EpochModelView>,
}

impl From<TimelineEntry> for TimelineEntryView {
    fn from(t: TimelineEntry) -> Self {
        let e = t.epoch;
        Self {
            epoch: e.epoch,
            round: e.round,
            state: e.state,
            root: e.root,
            count: e.count,
            total_wei: e.total_wei,
            fee_bps: e.fee_bps,
            posted_at: e.posted_at,
            finalizable_at: t.finalizable_at,
            starts_at_ms: t.starts_at_ms,
            ends_at_ms: t.ends_at_ms,
            clients: e.clients.len() as u64,
            attest: t.attest.map(Into::into),
            finalize: t.finalize.map(Into::into),
            models: t.models.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimelineResponse {
    pub epoch_secs: u64,
    /// The open epoch receipts are signed into now.
    pub current_epoch: u64,
    pub challenge_window_secs: u64,
    /// Closed epochs, newest first.
    pub epochs: Vec<TimelineEntryView>,
    /// `before` for the next page; absent on the last page.
    pub next: Option<u64>,
}

impl From<Timeline> for TimelineResponse {
    fn from(t: Timeline) -> Self {
        Self {
            epoch_secs: t.epoch_secs,
            current_epoch: t.current_epoch,
            challenge_window_secs: t.challenge_window_secs,
            epochs: t.entries.into_iter().map(Into::into).collect(),
            next: t.next,
        }
    }
}

/// The closed epochs, newest first: state, receipt count and totals, the operator's attest and
/// finalize transactions, and each model's calls, attested revenue and payout (public, read
/// from the database: cheap to poll).
#[utoipa::path(get, path = "/v1/epochs", tag = "chain", params(TimelineParams),
    responses((status = 200, body = TimelineResponse),
        (status = 400, body = crate::error::ErrorBody),
        (status = 409, description = "the chain loop is off", body = crate::error::ErrorBody)))]
#[get("/v1/epochs")]
pub async fn epochs(
    oracle: web::Data<Oracle>,
    q: web::Query<TimelineParams>,
) -> ApiResult<web::Json<TimelineResponse>> {
    let chain = oracle.chain.as_ref().ok_or(OracleError::ChainDisabled)?;
    let q = TimelineQuery::new(q.before, q.limit.map_or(20, |l| l.0))?;
    Ok(web::Json(chain.timeline(q).await?.into()))
}
