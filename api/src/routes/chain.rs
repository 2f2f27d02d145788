//! `/v1` chain loop: tokenization, spending caps, receipt proofs, epochs, revenue and
//! claimable revenue. Every route answers `409 chain_disabled` when `chain.enabled` is off.

use actix_web::{HttpResponse, get, post, web};
use imo_oracle::{
    Oracle, OracleError,
    chain::{
        ChainLoop,
        epochs::{Claimable, EpochView, ReceiptProof, Revenue},
        indexer::CapView,
        tokens::{TokenParams, TokenView},
        txm::Intent,
    },
    types::{Address, Wei},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{ApiResult, ErrorBody},
    extract::Caller,
};

fn chain(oracle: &Oracle) -> Result<&ChainLoop, OracleError> {
    oracle.chain.as_ref().ok_or(OracleError::ChainDisabled)
}

/// An on-chain action as the transaction manager tracks it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TransactionView {
    /// Unique key, e.g. `register:0x…`, `attest:42:1`.
    pub key: String,
    pub kind: String,
    /// `pending`, `sent`, `mined`, `final` or `failed`.
    pub state: String,
    pub nonce: Option<u64>,
    pub tx_hash: Option<String>,
    pub block_number: Option<u64>,
    pub gas_used: Option<u64>,
    pub attempts: u32,
    pub error: Option<String>,
}

impl From<Intent> for TransactionView {
    fn from(i: Intent) -> Self {
        Self {
            key: i.key,
            kind: i.kind,
            state: i.state.as_str().to_owned(),
            nonce: i.nonce,
            tx_hash: i.tx_hash.map(|h| format!("{h:#x}")),
            block_number: i.block_number,
            gas_used: i.gas_used,
            attempts: i.attempts,
            error: i.error,
        }
    }
}

/// Where the contracts are and how this operator settles on them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ContractsResponse {
    pub chain_id: u64,
    pub model_registry: String,
    /// The `ModelToken` implementation every model's token clones.
    pub model_token_implementation: String,
    /// Deposit here; sign spending caps under its EIP-712 domain ("IMO Oracle Vault", "1").
    pub payment_vault: String,
    /// Verifies receipts (their EIP-712 domain: "IMO Oracle", "1") and takes attestations.
    pub usage_oracle: String,
    /// The block from which the suite is complete.
    pub deployed_at_block: u64,
    /// The operator, which signs receipts and sends attestations.
    pub operator: String,
    pub attest_bond_wei: String,
    pub challenge_window_secs: u64,
    /// The operator's fee, declared in each attestation.
    pub fee_bps: u16,
    pub epoch_secs: u64,
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
        deployed_at_block: d.block_number(),
        operator: oracle.inference.signer().operator().to_string(),
        attest_bond_wei: chain.attest_bond().to_string(),
        challenge_window_secs: chain.challenge_window(),
        fee_bps: chain.config().fee_bps,
        epoch_secs: oracle.config.metering.epoch_secs,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TransactionsQuery {
    /// Only intents in this state.
    #[param(pattern = "^(pending|sent|mined|final|failed)$")]
    pub state: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransactionsResponse {
    pub transactions: Vec<TransactionView>,
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
    if !caller.0.is_admin() {
        return Err(OracleError::Forbidden(
            "only admin keys may list the operator's transactions".into(),
        )
        .into());
    }
    let state = q.state.as_deref().map(str::parse).transpose()?;
    let list = chain.txm().list(state).await?;
    Ok(web::Json(TransactionsResponse {
        transactions: list.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenizeRequest {
    /// Token name, 1-64 characters, no control characters, not blank at either end.
    pub name: crate::schema::TokenNameField,
    /// Token symbol, 1-11 characters of A-Z, 0-9 and -.
    pub symbol: crate::schema::SymbolField,
    /// Supply in whole tokens (18 decimals), decimal string; all minted to the publisher.
    pub supply_tokens: crate::schema::SupplyField,
    /// The holders' claimable share of revenue in basis points (8000 = 80 %); the rest is
    /// redeemable by burning tokens.
    #[serde(deserialize_with = "crate::schema::integral")]
    #[schema(minimum = 0, maximum = 10000)]
    pub holders_bps: u32,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub model_id: String,
    pub weights_root: String,
    /// `tokenizing` (registration in flight), `tokenized` (final on-chain) or `failed`.
    pub state: String,
    pub name: String,
    pub symbol: String,
    /// Base units (18 decimals).
    pub supply: String,
    pub holders_bps: u16,
    pub publisher: String,
    pub token_address: Option<String>,
    pub transaction: Option<TransactionView>,
    pub error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl From<TokenView> for TokenResponse {
    fn from(t: TokenView) -> Self {
        Self {
            model_id: t.model_id,
            weights_root: t.weights_root,
            state: t.state,
            name: t.name,
            symbol: t.symbol,
            supply: t.supply,
            holders_bps: t.holders_bps,
            publisher: t.publisher,
            token_address: t.token_address,
            transaction: t.transaction.map(Into::into),
            error: t.error,
            created_at_ms: t.created_at_ms,
            updated_at_ms: t.updated_at_ms,
        }
    }
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
    body: crate::extract::JsonBody<TokenizeRequest>,
) -> ApiResult<HttpResponse> {
    let chain = chain(&oracle)?;
    let params = TokenParams::parse(
        &body.name.0,
        &body.symbol.0,
        &body.supply_tokens.0,
        body.holders_bps,
    )?;
    let model = oracle.registry.get(&id).await?;
    let view = chain.tokenize(&caller.0, &model, params).await?;
    Ok(HttpResponse::Accepted().json(TokenResponse::from(view)))
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
    let view = chain.token(&model.id).await?.ok_or(OracleError::NotFound {
        what: format!("token of model {}", model.id),
    })?;
    Ok(web::Json(view.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendingCapRequest {
    /// The client (the signer).
    pub client: crate::schema::AddressField,
    /// New lifetime cap in wei (decimal string), above the current one.
    pub cap_wei: crate::schema::WeiField,
    /// Last unix time (seconds) at which the signature may be submitted.
    #[serde(deserialize_with = "crate::schema::integral")]
    pub deadline: u64,
    /// 65-byte EIP-712 signature (0x-hex) of `SpendingCap(client, cap, deadline)` under the
    /// vault's domain ("IMO Oracle Vault", "1", chain id, PaymentVault).
    #[schema(pattern = "^0x[0-9a-fA-F]{130}$")]
    pub signature: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SpendingCapResponse {
    pub client: String,
    pub cap_wei: String,
    pub deadline: u64,
    /// The `submitCap` transaction; the cap counts once its event is indexed.
    pub transaction: Option<TransactionView>,
}

impl From<CapView> for SpendingCapResponse {
    fn from(c: CapView) -> Self {
        Self {
            client: c.client.to_string(),
            cap_wei: c.cap_wei.to_string(),
            deadline: c.deadline,
            transaction: c.transaction.map(Into::into),
        }
    }
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
    body: crate::extract::JsonBody<SpendingCapRequest>,
) -> ApiResult<HttpResponse> {
    let chain = chain(&oracle)?;
    let client: Address = body.client.0;
    if client != caller.0.address && !caller.0.is_admin() {
        return Err(OracleError::Forbidden(
            "a spending cap is submitted with the client's own key".into(),
        )
        .into());
    }
    let cap: Wei = body.cap_wei.0;
    let view = chain
        .submit_cap(client, cap, body.deadline, &body.signature)
        .await?;
    Ok(HttpResponse::Accepted().json(SpendingCapResponse::from(view)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReceiptProofResponse {
    pub receipt: super::metering::ReceiptView,
    pub epoch: u64,
    pub round: u32,
    pub state: String,
    pub index: u64,
    pub count: u64,
    pub root: String,
    pub receipt_hash: String,
    pub model_prev: u64,
    pub model_cum: String,
    pub client_prev: u64,
    pub client_cum: String,
    pub leaf_hash: String,
    /// Sibling hashes, bottom-up (`UsageOracle.computeRoot(leaf_hash, index, proof) == root`).
    pub proof: Vec<String>,
}

impl From<ReceiptProof> for ReceiptProofResponse {
    fn from(p: ReceiptProof) -> Self {
        Self {
            receipt: p.receipt.into(),
            epoch: p.epoch,
            round: p.round,
            state: p.state,
            index: p.index,
            count: p.count,
            root: format!("{:#x}", p.root),
            receipt_hash: format!("{:#x}", p.receipt_hash),
            model_prev: p.model_prev,
            model_cum: p.model_cum.to_string(),
            client_prev: p.client_prev,
            client_cum: p.client_cum.to_string(),
            leaf_hash: format!("{:#x}", p.leaf_hash),
            proof: p.proof.iter().map(|h| format!("{h:#x}")).collect(),
        }
    }
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
    if r.client != caller.0.address && !caller.0.is_admin() {
        return Err(OracleError::NotFound {
            what: format!("receipt {id}"),
        }
        .into());
    }
    Ok(web::Json(chain.receipt_proof(r).await?.into()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TotalView {
    /// Model weights root (bytes32) or client address.
    pub key: String,
    pub total_wei: String,
    /// 1 + index of the last leaf of this key.
    pub last: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EpochResponse {
    pub epoch: u64,
    pub round: u32,
    /// `closed`, `attesting`, `attested`, `finalizing`, `finalized`, `voided`, `unwinding`,
    /// `attest_failed`.
    pub state: String,
    pub root: String,
    pub count: u64,
    pub total_wei: String,
    pub fee_bps: u16,
    pub posted_at: Option<u64>,
    pub models: Vec<TotalView>,
    pub clients: Vec<TotalView>,
}

impl From<EpochView> for EpochResponse {
    fn from(e: EpochView) -> Self {
        Self {
            epoch: e.epoch,
            round: e.round,
            state: e.state,
            root: e.root,
            count: e.count,
            total_wei: e.total_wei,
            fee_bps: e.fee_bps,
            posted_at: e.posted_at,
            models: e
                .models
                .iter()
                .map(|m| TotalView {
                    key: format!("{:#x}", m.model),
                    total_wei: m.total.to_string(),
                    last: m.last,
                })
                .collect(),
            clients: e
                .clients
                .iter()
                .map(|c| TotalView {
                    key: c.client.to_string(),
                    total_wei: c.total.to_string(),
                    last: c.last,
                })
                .collect(),
        }
    }
}

/// A closed epoch: its receipt tree's root and totals, and where its attestation stands.
#[utoipa::path(get, path = "/v1/epochs/{epoch}", tag = "chain", params(("epoch" = u64, Path)),
    responses((status = 200, body = EpochResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[get("/v1/epochs/{epoch}")]
pub async fn epoch(
    oracle: web::Data<Oracle>,
    n: web::Path<u64>,
) -> ApiResult<web::Json<EpochResponse>> {
    Ok(web::Json(chain(&oracle)?.epoch(*n).await?.into()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PayoutView {
    pub epoch: u64,
    pub round: u32,
    /// Paid to the token (after the operator's fee).
    pub amount_wei: String,
    /// The token snapshot that holds this revenue for its holders.
    pub snapshot_id: u64,
    pub tx_hash: String,
    pub block_number: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingView {
    pub epoch: u64,
    pub state: String,
    /// Before the operator's fee.
    pub gross_wei: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevenueResponse {
    pub model_id: String,
    pub weights_root: String,
    pub token_address: Option<String>,
    pub paid: Vec<PayoutView>,
    pub total_paid_wei: String,
    /// Closed epochs not yet finalized.
    pub pending: Vec<PendingView>,
}

impl From<Revenue> for RevenueResponse {
    fn from(r: Revenue) -> Self {
        Self {
            model_id: r.model_id,
            weights_root: r.weights_root,
            token_address: r.token_address,
            paid: r
                .paid
                .into_iter()
                .map(|p| PayoutView {
                    epoch: p.epoch,
                    round: p.round,
                    amount_wei: p.amount_wei,
                    snapshot_id: p.snapshot_id,
                    tx_hash: p.tx_hash,
                    block_number: p.block_number,
                })
                .collect(),
            total_paid_wei: r.total_paid_wei,
            pending: r
                .pending
                .into_iter()
                .map(|p| PendingView {
                    epoch: p.epoch,
                    state: p.state,
                    gross_wei: p.gross_wei,
                })
                .collect(),
        }
    }
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
    Ok(web::Json(chain.revenue(&model).await?.into()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SnapshotClaim {
    pub snapshot_id: u64,
    pub claimable_wei: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenClaimView {
    pub model_id: String,
    pub symbol: String,
    pub token_address: String,
    /// Token balance (base units).
    pub balance: String,
    pub snapshots: Vec<SnapshotClaim>,
    /// Claim with `claim(snapshotId)` or `claimBatch(ids)` on the token, from the holder's wallet.
    pub claimable_wei: String,
    pub redeemable_on_burn_wei: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClaimableResponse {
    pub holder: String,
    pub tokens: Vec<TokenClaimView>,
    pub total_claimable_wei: String,
}

impl From<Claimable> for ClaimableResponse {
    fn from(c: Claimable) -> Self {
        Self {
            holder: c.holder.to_string(),
            tokens: c
                .tokens
                .into_iter()
                .map(|t| TokenClaimView {
                    model_id: t.model_id,
                    symbol: t.symbol,
                    token_address: t.token_address,
                    balance: t.balance,
                    snapshots: t
                        .snapshots
                        .into_iter()
                        .map(|(snapshot_id, claimable_wei)| SnapshotClaim {
                            snapshot_id,
                            claimable_wei,
                        })
                        .collect(),
                    claimable_wei: t.claimable_wei,
                    redeemable_on_burn_wei: t.redeemable_on_burn_wei,
                })
                .collect(),
            total_claimable_wei: c.total_claimable_wei,
        }
    }
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
    Ok(web::Json(chain.claimable(holder).await?.into()))
}
