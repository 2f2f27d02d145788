//! `/v1` acknowledged billing: the caller's billing mode and its acknowledgements
//! (docs/PROTOCOL.md §4.1). Acknowledgements may also ride on an inference call in the
//! `imo-acknowledgement` header (`routes::v2`).

use actix_web::{get, post, web};
use imo_client::dto::*;
use imo_oracle::{
    Oracle,
    acks::{BillingMode, BillingStatus, SignedAck},
};

use crate::{
    error::{ApiResult, ErrorBody},
    extract::{Caller, JsonBody},
};

fn view(oracle: &Oracle, s: BillingStatus) -> BillingView {
    let m = &oracle.config.metering;
    BillingView {
        client: s.client.to_string(),
        mode: s.mode.as_str().into(),
        from_epoch: match s.mode {
            BillingMode::Ack { from_epoch } => Some(from_epoch),
            BillingMode::Cap => None,
        },
        credit_window_wei: s.credit_window_wei.to_string(),
        outstanding_wei: s.outstanding_wei.to_string(),
        epochs: s
            .epochs
            .into_iter()
            .map(|e| EpochBillingView {
                epoch: e.epoch,
                served_wei: e.served_wei.to_string(),
                served_calls: e.served_calls,
                acked_wei: e.acked_wei.to_string(),
                acked_calls: e.acked_calls,
            })
            .collect(),
        chain_id: m.chain_id,
        vault: m.vault_contract.clone(),
        current_epoch: oracle.epochs.epoch_of(oracle.clock.now_ms()),
    }
}

/// The caller's billing: mode, credit window, and per epoch what was served and acknowledged.
#[utoipa::path(get, path = "/v1/billing", tag = "metering",
    responses((status = 200, body = BillingView), (status = 401, body = ErrorBody)), security(("api_key" = [])))]
#[get("/v1/billing")]
pub async fn billing(
    oracle: web::Data<Oracle>,
    caller: Caller,
) -> ApiResult<web::Json<BillingView>> {
    let s = oracle.billing.status(caller.0.address).await?;
    Ok(web::Json(view(&oracle, s)))
}

/// Choose acknowledged billing (`ack`) from an epoch on, with the caller's signed `AckMode`
/// (one-way). From then on the caller is served at most the credit window beyond its
/// acknowledgements.
#[utoipa::path(post, path = "/v1/billing-mode", tag = "metering", request_body = BillingModeRequest,
    responses((status = 200, body = BillingView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, description = "the caller is in ack mode already", body = ErrorBody)),
    security(("api_key" = [])))]
#[post("/v1/billing-mode")]
#[tracing::instrument(skip_all, fields(caller))]
pub async fn billing_mode(
    oracle: web::Data<Oracle>,
    caller: Caller,
    body: JsonBody<BillingModeRequest>,
) -> ApiResult<web::Json<BillingView>> {
    let mode = oracle
        .billing
        .choose_ack(&caller.0, body.from_epoch, body.deadline, &body.signature)
        .await?;
    // Chain mode: the operator registers the client's choice on the vault (an intent: sent,
    // rebroadcast and confirmed by the transactions job).
    if let Some(chain) = &oracle.chain {
        chain.vault.register_ack_mode(&mode).await?;
    }
    let s = oracle.billing.status(caller.0.address).await?;
    Ok(web::Json(view(&oracle, s)))
}

/// Send a signed acknowledgement: verified, then stored durably before the answer (and before
/// it counts). An exact repeat of the stored one is accepted unchanged; an older one is refused.
#[utoipa::path(post, path = "/v1/acknowledgements", tag = "metering", request_body = AcknowledgementRequest,
    responses((status = 200, body = BillingView),
        (status = 400, description = "bad signature (not the caller's, another domain), or more than was served", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 409, description = "cap mode in that epoch, or older than the stored acknowledgement (`acknowledgement_stale`)", body = ErrorBody)),
    security(("api_key" = [])))]
#[post("/v1/acknowledgements")]
#[tracing::instrument(skip_all, fields(caller))]
pub async fn acknowledge(
    oracle: web::Data<Oracle>,
    caller: Caller,
    body: JsonBody<AcknowledgementRequest>,
) -> ApiResult<web::Json<BillingView>> {
    let ack = SignedAck {
        client: caller.0.address,
        epoch: body.epoch,
        amount: body.amount_wei.0,
        calls: body.calls,
        signature: body.signature.clone(),
    };
    let s = oracle.billing.acknowledge(&caller.0, ack).await?;
    Ok(web::Json(view(&oracle, s)))
}
