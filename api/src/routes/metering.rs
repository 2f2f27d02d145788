//! `/v1` metering: receipts, balances, usage, credits, and the operator's signing identity.

use actix_web::{get, post, web};
use imo_client::dto::*;
use imo_oracle::Oracle;

use crate::{
    error::{ApiResult, ErrorBody},
    extract::{Caller, JsonBody},
    map::{self, IntoDto},
};

/// One receipt: readable by its client (and admins).
#[utoipa::path(get, path = "/v1/receipts/{id}", tag = "metering", params(("id" = String, Path)),
    responses((status = 200, body = ReceiptView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
#[get("/v1/receipts/{id}")]
pub async fn receipt(
    oracle: web::Data<Oracle>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<ReceiptView>> {
    Ok(web::Json(
        oracle.receipts.get_for(&caller.0, &id).await?.into_dto(),
    ))
}

/// The caller's receipts, oldest first.
#[utoipa::path(get, path = "/v1/receipts", tag = "metering", params(PageParams),
    responses((status = 200, body = ReceiptList), (status = 401, body = ErrorBody)), security(("api_key" = [])))]
#[get("/v1/receipts")]
pub async fn receipts(
    oracle: web::Data<Oracle>,
    caller: Caller,
    q: web::Query<PageParams>,
) -> ApiResult<web::Json<ReceiptList>> {
    let limit = q.limit.map_or(100, |l| l.0);
    let list = oracle
        .receipts
        .for_client(caller.0.address, q.after.as_deref(), limit)
        .await?;
    let next = (list.len() as u64 == limit)
        .then(|| list.last().map(|r| r.id.clone()))
        .flatten();
    Ok(web::Json(ReceiptList {
        receipts: list.into_iter().map(IntoDto::into_dto).collect(),
        next,
    }))
}

/// The caller's prepaid balance.
#[utoipa::path(get, path = "/v1/balance", tag = "metering",
    responses((status = 200, body = BalanceResponse), (status = 401, body = ErrorBody)), security(("api_key" = [])))]
#[get("/v1/balance")]
pub async fn balance(
    oracle: web::Data<Oracle>,
    caller: Caller,
) -> ApiResult<web::Json<BalanceResponse>> {
    let b = oracle.inference.ledger().balance(caller.0.address).await?;
    Ok(web::Json(map::balance(caller.0.address, b)))
}

/// Credit a client's balance (admin only; until on-chain deposits are indexed).
#[utoipa::path(post, path = "/v1/admin/credits", tag = "metering", request_body = CreditRequest,
    responses((status = 200, body = BalanceResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = [])))]
#[post("/v1/admin/credits")]
#[tracing::instrument(skip_all, fields(caller))]
pub async fn credit(
    oracle: web::Data<Oracle>,
    caller: Caller,
    body: JsonBody<CreditRequest>,
) -> ApiResult<web::Json<BalanceResponse>> {
    let address = body.address.0;
    let b = oracle
        .inference
        .ledger()
        .credit_by(&caller.0, address, body.amount_wei.0)
        .await?;
    Ok(web::Json(map::balance(address, b)))
}

/// Calls and revenue per model and UTC day, for the caller's models (admins: all models).
#[utoipa::path(get, path = "/v1/usage", tag = "metering", params(UsageParams),
    responses((status = 200, body = UsageResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
#[get("/v1/usage")]
pub async fn usage(
    oracle: web::Data<Oracle>,
    caller: Caller,
    q: web::Query<UsageParams>,
) -> ApiResult<web::Json<UsageResponse>> {
    let usage = oracle
        .receipts
        .usage_report(
            &caller.0,
            &oracle.registry,
            q.model.as_deref(),
            q.from_ms,
            q.to_ms,
        )
        .await?;
    Ok(web::Json(UsageResponse {
        usage: usage.into_iter().map(IntoDto::into_dto).collect(),
    }))
}

/// The operator address that signs receipts, and the EIP-712 domain to verify them under.
#[utoipa::path(get, path = "/v1/operator", tag = "metering", responses((status = 200, body = OperatorView)))]
#[get("/v1/operator")]
pub async fn operator(oracle: web::Data<Oracle>) -> web::Json<OperatorView> {
    let m = &oracle.config.metering;
    web::Json(OperatorView {
        operator: oracle.inference.signer().operator().to_string(),
        eip712_name: "IMO Oracle".into(),
        eip712_version: "1".into(),
        chain_id: m.chain_id,
        verifying_contract: m.verifying_contract.clone(),
        epoch_secs: m.epoch_secs,
    })
}
