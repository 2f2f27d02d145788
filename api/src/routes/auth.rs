//! `/v1/auth` and `/v1/keys`: Sign-In with Ethereum and API keys.

use actix_web::{HttpResponse, delete, get, post, web};
use imo_client::dto::*;
use imo_oracle::{Oracle, types::BoundedText};

use crate::{
    error::{ApiResult, ErrorBody},
    extract::{Caller, JsonBody},
    map::IntoDto,
};

/// Get a single-use nonce for a Sign-In with Ethereum message.
///
/// Build an EIP-4361 message with this nonce, the returned `domain` and `chain_id`, sign it
/// with `personal_sign` (EIP-191) and send both to `POST /v1/auth/siwe`. With `address`, the
/// nonce is bound to it (only that address can sign in with it). Rate-limited per peer and per
/// address (`auth.nonces_per_minute_per_peer`, `auth.nonces_per_minute_per_address`): 429 with
/// `Retry-After`.
#[utoipa::path(
    post, path = "/v1/auth/nonce", tag = "auth", params(NonceParams),
    responses(
        (status = 201, body = NonceView),
        (status = 400, description = "bad address", body = ErrorBody),
        (status = 429, description = "too many nonces for this peer or address", body = ErrorBody,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, body = ErrorBody)
    )
)]
#[post("/v1/auth/nonce")]
pub async fn nonce(
    oracle: web::Data<Oracle>,
    req: actix_web::HttpRequest,
    q: web::Query<NonceParams>,
) -> ApiResult<HttpResponse> {
    let address = q.address.map(|a| a.0);
    let peer = req.peer_addr().map(|a| a.ip());
    let n = oracle.auth.issue_nonce(peer, address).await?;
    Ok(HttpResponse::Created().json(NonceView {
        nonce: n.nonce,
        expires_at_ms: n.expires_at_ms,
        domain: oracle.config.auth.siwe_domain.clone(),
        chain_id: oracle.config.auth.chain_id,
    }))
}

/// Exchange a signed EIP-4361 message for an API key bound to the signing address.
///
/// The nonce is consumed: a replayed message is rejected.
#[utoipa::path(
    post, path = "/v1/auth/siwe", tag = "auth", request_body = SignInRequest,
    responses(
        (status = 201, description = "key issued; `key` is shown only now", body = IssuedKeyView),
        (status = 400, body = ErrorBody), (status = 401, description = "message, signature or nonce rejected", body = ErrorBody),
        (status = 403, body = ErrorBody)
    )
)]
#[post("/v1/auth/siwe")]
#[tracing::instrument(skip_all)]
pub async fn siwe(
    oracle: web::Data<Oracle>,
    body: JsonBody<SignInRequest>,
) -> ApiResult<HttpResponse> {
    let key = oracle
        .auth
        .sign_in(&body.message, &body.signature, body.role.0)
        .await?;
    Ok(HttpResponse::Created().json(key.into_dto()))
}

/// Create an API key for any address (admin only).
#[utoipa::path(
    post, path = "/v1/keys", tag = "auth", request_body = CreateKeyRequest,
    responses(
        (status = 201, body = IssuedKeyView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
#[post("/v1/keys")]
#[tracing::instrument(skip_all, fields(caller))]
pub async fn create_key(
    oracle: web::Data<Oracle>,
    caller: Caller,
    body: JsonBody<CreateKeyRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let label = match body.label {
        Some(l) => l.0,
        None => BoundedText::parse("label", "", 200)?,
    };
    let key = oracle
        .auth
        .create_key_by(&caller.0, body.address.0, body.role.0, label)
        .await?;
    Ok(HttpResponse::Created().json(key.into_dto()))
}

/// Revoke a key: your own, or any key as an admin.
#[utoipa::path(
    delete, path = "/v1/keys/{id}", tag = "auth",
    params(("id" = String, Path, description = "key id (`key_…`)")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
#[delete("/v1/keys/{id}")]
pub async fn revoke_key(
    oracle: web::Data<Oracle>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    oracle.auth.revoke(&caller.0, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who the presented key belongs to.
#[utoipa::path(
    get, path = "/v1/whoami", tag = "auth",
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)),
    security(("api_key" = []))
)]
#[get("/v1/whoami")]
pub async fn whoami(caller: Caller) -> web::Json<WhoAmI> {
    web::Json(WhoAmI {
        key_id: caller.0.key_id,
        address: caller.0.address.to_string(),
        role: caller.0.role.to_string(),
    })
}
