//! `/v1` chain loop: tokenization, spending caps, receipt proofs, epochs, revenue and
//! claimable revenue. Every route answers `409 chain_disabled` when `chain.enabled` is off.

use actix_web::{HttpResponse, get, post, web};
use imo_client::dto::*;
use imo_oracle::{
    Oracle, OracleError,
    chain::{ChainLoop, timeline::TimelineQuery, tokens::TokenParams},
    types::Address,
};

use crate::{
    error::{ApiResult, ErrorBody},
    extract::{Caller, JsonBody},
    map::IntoDto,
};

fn chain(oracle: &Oracle) -> Result<&ChainLoop, OracleError> {
    oracle.chain.as_ref().ok_or(OracleError::ChainDisabled)
}

/// The deployed contracts and the settlement parameters (clients need the vault address and
/// domain to deposit and authorise spending; holders find their tokens via the registry).
#[utoipa::path(get, path = "/v1/contracts", tag = "chain",
    responses((status = 200, body = ContractsResponse), (status = 409, body = ErrorBody)))]
#[get("/v1/contracts")]
pub async fn contracts(oracle: web::Data<Oracle>) -> ApiResult<web::Json<ContractsResponse>> {
    let chain = chain(&oracle)?;
    let d = chain.deployment();
    Ok(web::Json(ContractsResponse {
        chain_id: d.chain_id,
        model_registry: d.registry.to_string(),
        model_token_implementation: d.token_implementation.to_string(),
        payment_vault: d.vault.to_string(),
        usage_oracle: d.oracle.to_string(),
        inference_dispute: d.dispute.map(|a| a.to_string()),
        judge_vm: d.judge.map(|a| a.to_string()),
        deployed_at_block: d.block_number(),
        operator: oracle.inference.signer().operator().to_string(),
        attest_bond_wei: chain.attest_bond().to_string(),
        challenge_window_secs: chain.challenge_window(),
        fee_bps: chain.config().fee_bps,
        epoch_secs: oracle.config.metering.epoch_secs,
    }))
}

/// Every on-chain action of the operator, oldest first, as the transaction manager tracks it
/// (admin keys only).
#[utoipa::path(get, path = "/v1/admin/transactions", tag = "chain", params(TransactionsQuery),
    responses((status = 200, body = TransactionsResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
#[get("/v1/admin/transactions")]
pub async fn transactions(
    oracle: web::Data<Oracle>,
    caller: Caller,
    q: web::Query<TransactionsQuery>,
) -> ApiResult<web::Json<TransactionsResponse>> {
    let chain = chain(&oracle)?;
    let state = q.state.as_deref().map(str::parse).transpose()?;
    let list = chain.txm().list_for(&caller.0, state).await?;
    Ok(web::Json(TransactionsResponse {
        transactions: list.into_iter().map(IntoDto::into_dto).collect(),
    }))
}

/// Register the model on-chain as an ERC-7641 revenue-share token minted to its publisher
/// (the publisher or an admin). Answers at once with the token `tokenizing`; it becomes
/// `tokenized`, with its address, when the registration has `chain.confirmations`.
#[utoipa::path(post, path = "/v1/models/{id}/tokenize", tag = "chain",
    params(("id" = String, Path, description = "model id or name")),
    request_body = TokenizeRequest,
    responses(
        (status = 202, description = "tokenization in flight (or done: `state`)", body = TokenResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "not the model's publisher", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "already tokenized with other parameters, or the chain loop is off", body = ErrorBody),
        (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[post("/v1/models/{id}/tokenize")]
#[tracing::instrument(skip_all, fields(model = %id))]
pub async fn tokenize(
    oracle: web::Data<Oracle>,
    caller: Caller,
    id: web::Path<String>,
    body: JsonBody<TokenizeRequest>,
) -> ApiResult<HttpResponse> {
    let chain = chain(&oracle)?;
    let params = TokenParams::parse(
        &body.name.0,
        &body.symbol.0,
        &body.supply_tokens.0,
        u32::from(body.holders_bps.0),
    )?;
    let model = oracle.registry.get(&id).await?;
    let view = chain.tokens.tokenize(&caller.0, &model, params).await?;
    Ok(HttpResponse::Accepted().json(view.into_dto()))
}

/// The model's token (404 until tokenization is requested).
#[utoipa::path(get, path = "/v1/models/{id}/token", tag = "chain",
    params(("id" = String, Path, description = "model id or name")),
    responses((status = 200, body = TokenResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[get("/v1/models/{id}/token")]
pub async fn token(
    oracle: web::Data<Oracle>,
    id: web::Path<String>,
) -> ApiResult<web::Json<TokenResponse>> {
    let chain = chain(&oracle)?;
    let model = oracle.registry.get(&id).await?;
    let view = chain
        .tokens
        .token(&model.id)
        .await?
        .ok_or(OracleError::NotFound {
            what: format!("token of model {}", model.id),
        })?;
    Ok(web::Json(view.into_dto()))
}

/// Authorise spending: the client's signed `SpendingCap`, submitted to the vault by the
/// operator. Metering serves a client up to min(deposit − pending withdrawal, cap − spent).
#[utoipa::path(post, path = "/v1/spending-caps", tag = "chain", request_body = SpendingCapRequest,
    responses((status = 202, body = SpendingCapResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "the key is not the client's", body = ErrorBody),
        (status = 409, description = "not above the current cap, or the chain loop is off", body = ErrorBody),
        (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
#[post("/v1/spending-caps")]
#[tracing::instrument(skip_all)]
pub async fn spending_cap(
    oracle: web::Data<Oracle>,
    caller: Caller,
    body: JsonBody<SpendingCapRequest>,
) -> ApiResult<HttpResponse> {
    let chain = chain(&oracle)?;
    let view = chain
        .vault
        .submit_cap(
            &caller.0,
            body.client.0,
            body.cap_wei.0,
            body.deadline,
            &body.signature,
        )
        .await?;
    Ok(HttpResponse::Accepted().json(view.into_dto()))
}

/// The inclusion proof of one of the caller's receipts in its epoch's attested receipt tree
/// (409 until the epoch is closed; 404 if the tree left it out — then challenge with it).
#[utoipa::path(get, path = "/v1/receipts/{id}/proof", tag = "chain", params(("id" = String, Path)),
    responses((status = 200, body = ReceiptProofResponse), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = [])))]
#[get("/v1/receipts/{id}/proof")]
pub async fn receipt_proof(
    oracle: web::Data<Oracle>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<ReceiptProofResponse>> {
    let chain = chain(&oracle)?;
    let r = oracle.receipts.get(&id).await?;
    let proof = chain
        .reads
        .receipt_proof(&chain.epochs, &caller.0, r)
        .await?;
    Ok(web::Json(proof.into_dto()))
}

/// A closed epoch: its receipt tree's root and totals, and where its attestation stands.
#[utoipa::path(get, path = "/v1/epochs/{epoch}", tag = "chain", params(("epoch" = u64, Path)),
    responses((status = 200, body = EpochResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[get("/v1/epochs/{epoch}")]
pub async fn epoch(
    oracle: web::Data<Oracle>,
    n: web::Path<u64>,
) -> ApiResult<web::Json<EpochResponse>> {
    let chain = chain(&oracle)?;
    Ok(web::Json(
        chain.reads.epoch(&chain.epochs, *n).await?.into_dto(),
    ))
}

/// The closed epochs, newest first: state, receipt count and totals, the operator's attest and
/// finalize transactions, and each model's calls, attested revenue and payout (public, read
/// from the database: cheap to poll; the dashboard's live view).
#[utoipa::path(get, path = "/v1/epochs", tag = "chain", params(TimelineParams),
    responses((status = 200, body = TimelineResponse), (status = 409, body = ErrorBody)))]
#[get("/v1/epochs")]
pub async fn timeline(
    oracle: web::Data<Oracle>,
    q: web::Query<TimelineParams>,
) -> ApiResult<web::Json<TimelineResponse>> {
    let chain = chain(&oracle)?;
    let q = TimelineQuery::new(q.before, q.limit.map_or(20, |l| l.0))?;
    Ok(web::Json(
        chain.reads.timeline(&chain.epochs, q).await?.into_dto(),
    ))
}

/// What each finalized epoch paid the model's token (with the snapshot that holds it), and
/// what is attested but not yet paid.
#[utoipa::path(get, path = "/v1/models/{id}/revenue", tag = "chain",
    params(("id" = String, Path, description = "model id or name")),
    responses((status = 200, body = RevenueResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[get("/v1/models/{id}/revenue")]
pub async fn revenue(
    oracle: web::Data<Oracle>,
    id: web::Path<String>,
) -> ApiResult<web::Json<RevenueResponse>> {
    let chain = chain(&oracle)?;
    let model = oracle.registry.get(&id).await?;
    Ok(web::Json(
        chain.reads.revenue(&chain.epochs, &model).await?.into_dto(),
    ))
}

/// Revenue `address` can claim in every model token, read from the chain now.
#[utoipa::path(get, path = "/v1/holders/{address}/claimable", tag = "chain",
    params(("address" = String, Path)),
    responses((status = 200, body = ClaimableResponse), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[get("/v1/holders/{address}/claimable")]
pub async fn claimable(
    oracle: web::Data<Oracle>,
    address: web::Path<String>,
) -> ApiResult<web::Json<ClaimableResponse>> {
    let chain = chain(&oracle)?;
    let holder: Address = address.parse()?;
    Ok(web::Json(chain.reads.claimable(holder).await?.into_dto()))
}
