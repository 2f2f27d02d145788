//! `/v1` metering: receipts, balances, usage, credits, and the operator's signing identity.

use actix_web::{get, post, web};
use imo_oracle::{Oracle, OracleError, ledger::BalanceView, receipts::ReceiptRecord, types::Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{ApiResult, ErrorBody},
    extract::Caller,
};

/// A signed usage receipt. The signature is EIP-712 over the `Receipt` struct in
/// docs/PROTOCOL.md, by the operator address from `GET /v1/operator`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReceiptView {
    /// ULID; as a 128-bit integer it is the signed `id`.
    pub id: String,
    pub epoch: u64,
    pub model_id: String,
    pub model_name: String,
    pub weights_root: String,
    pub client: String,
    pub price_wei: String,
    pub input_hash: String,
    pub output_hash: String,
    pub fingerprint: String,
    pub fingerprint_hash: String,
    pub timestamp_ms: u64,
    pub signature: String,
}

impl From<ReceiptRecord> for ReceiptView {
    fn from(r: ReceiptRecord) -> Self {
        Self {
            client: r.client.to_string(),
            price_wei: r.price_wei.to_string(),
            id: r.id,
            epoch: r.epoch,
            model_id: r.model_id,
            model_name: r.model_name,
            weights_root: r.weights_root,
            input_hash: r.input_hash,
            output_hash: r.output_hash,
            fingerprint: r.fingerprint,
            fingerprint_hash: r.fingerprint_hash,
            timestamp_ms: r.timestamp_ms,
            signature: r.signature,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReceiptList {
    pub receipts: Vec<ReceiptView>,
    /// Cursor for the next page (`after`); absent on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    pub after: Option<String>,
    /// 1-1000, default 100; larger values are refused.
    #[param(inline)]
    pub limit: Option<crate::schema::Limit<1000>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BalanceResponse {
    pub address: String,
    /// Committed balance, wei.
    pub balance_wei: String,
    /// Held by calls in flight, wei.
    pub reserved_wei: String,
    pub spent_wei: String,
    pub credited_wei: String,
    /// Held for a pending withdrawal request (chain mode).
    pub held_wei: String,
    /// The signed lifetime spending cap (chain mode; 0 when none).
    pub cap_wei: String,
    /// What the next calls may spend.
    pub available_wei: String,
}

impl BalanceResponse {
    fn new(address: String, b: BalanceView) -> Self {
        Self {
            address,
            balance_wei: b.balance_wei.to_string(),
            reserved_wei: b.reserved_wei.to_string(),
            spent_wei: b.spent_wei.to_string(),
            credited_wei: b.credited_wei.to_string(),
            held_wei: b.held_wei.to_string(),
            cap_wei: b.cap_wei.to_string(),
            available_wei: b.available_wei.to_string(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditRequest {
    pub address: crate::schema::AddressField,
    /// Amount in wei (decimal string, above 0).
    pub amount_wei: crate::schema::PositiveWeiField,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DailyUsageView {
    pub model_id: String,
    pub model_name: String,
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub calls: u64,
    pub revenue_wei: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UsageResponse {
    pub usage: Vec<DailyUsageView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// Only this model (id or name).
    pub model: Option<String>,
    /// From this time (Unix ms, inclusive). Default: 30 days ago.
    pub from_ms: Option<i64>,
    /// Until this time (Unix ms, exclusive). Default: now.
    pub to_ms: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OperatorView {
    /// The address that signs receipts.
    pub operator: String,
    /// EIP-712 domain of receipts.
    pub eip712_name: String,
    pub eip712_version: String,
    pub chain_id: u64,
    pub verifying_contract: String,
    pub epoch_secs: u64,
}

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
    let r = oracle.receipts.get(&id).await?;
    if r.client != caller.0.address && !caller.0.is_admin() {
        return Err(OracleError::NotFound {
            what: format!("receipt {id}"),
        }
        .into());
    }
    Ok(web::Json(r.into()))
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
        receipts: list.into_iter().map(Into::into).collect(),
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
    Ok(web::Json(BalanceResponse::new(
        caller.0.address.to_string(),
        b,
    )))
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
    body: crate::extract::JsonBody<CreditRequest>,
) -> ApiResult<web::Json<BalanceResponse>> {
    if !caller.0.is_admin() {
        return Err(OracleError::Forbidden("only admin keys may credit balances".into()).into());
    }
    let (address, amount) = (body.address.0, body.amount_wei.0);
    let source = format!("admin:{}", caller.0.key_id);
    let b = oracle
        .inference
        .ledger()
        .credit(address, amount, &source)
        .await?;
    Ok(web::Json(BalanceResponse::new(address.to_string(), b)))
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
    let p = &caller.0;
    if !matches!(p.role, Role::Publisher | Role::Admin) {
        return Err(OracleError::Forbidden("usage reports are for publishers".into()).into());
    }
    let models = match &q.model {
        Some(m) => {
            let m = oracle.registry.get(m).await?;
            if m.publisher != p.address && !p.is_admin() {
                return Err(OracleError::Forbidden(format!(
                    "model {} belongs to another publisher",
                    m.id
                ))
                .into());
            }
            vec![m.id]
        }
        None => {
            let filter = imo_oracle::registry::ModelFilter {
                publisher: (!p.is_admin()).then_some(p.address),
                include_inactive: true,
                limit: 500,
                after: None,
            };
            oracle
                .registry
                .list(&filter)
                .await?
                .into_iter()
                .map(|m| m.id)
                .collect()
        }
    };
    let now = imo_oracle::types::now_ms();
    let from = q.from_ms.unwrap_or(now - 30 * 86_400_000);
    let to = q.to_ms.unwrap_or(now + 1);
    let usage = oracle.receipts.daily_usage(&models, from, to).await?;
    Ok(web::Json(UsageResponse {
        usage: usage
            .into_iter()
            .map(|u| DailyUsageView {
                model_id: u.model_id,
                model_name: u.model_name,
                day: u.day,
                calls: u.calls,
                revenue_wei: u.revenue_wei.to_string(),
            })
            .collect(),
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
