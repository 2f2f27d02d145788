//! Request extractors: the authenticated caller, and error handlers that turn actix's own
//! parse failures into our error format.

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, error::JsonPayloadError, web};
use imo_oracle::{Oracle, OracleError, auth::Principal};

use crate::error::ApiError;

/// The caller, authenticated by `Authorization: Bearer imo_…` (or `X-Api-Key: imo_…`).
pub struct Caller(pub Principal);

/// The same, for `/v2` routes (errors in the protocol's shape), with the time authentication
/// took (for the `Server-Timing` of inference responses).
pub struct V2Caller(pub Principal, pub std::time::Duration);

type Auth = Pin<Box<dyn Future<Output = Result<Principal, ApiError>>>>;

fn authenticate(req: &HttpRequest) -> Auth {
    let oracle = req.app_data::<web::Data<Oracle>>().cloned();
    let presented = presented_key(req);
    Box::pin(async move {
        let oracle = oracle.expect("Oracle is registered as app data");
        let key = presented.ok_or_else(|| {
            OracleError::Unauthenticated(
                "missing API key: send `Authorization: Bearer <key>`".into(),
            )
        })?;
        let principal = oracle.auth.authenticate(&key).await?;
        tracing::Span::current().record("caller", tracing::field::display(&principal.address));
        Ok(principal)
    })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = authenticate(req);
        Box::pin(async move { fut.await.map(Caller) })
    }
}

impl FromRequest for V2Caller {
    type Error = crate::error::V2Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let started = std::time::Instant::now();
        let fut = authenticate(req);
        Box::pin(async move {
            fut.await
                .map(|p| V2Caller(p, started.elapsed()))
                .map_err(Into::into)
        })
    }
}

fn presented_key(req: &HttpRequest) -> Option<String> {
    let h = req.headers();
    let header = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    key_of(header("authorization"), header("x-api-key"))
}

/// The API key a request presents: `Authorization` (`Bearer <key>`, or the bare key) before
/// `X-Api-Key`; HTTP and gRPC (its metadata) alike.
pub(crate) fn key_of(authorization: Option<&str>, x_api_key: Option<&str>) -> Option<String> {
    if let Some(v) = authorization {
        let v = v.trim();
        return Some(
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
                .trim()
                .to_owned(),
        );
    }
    x_api_key.map(|v| v.trim().to_owned())
}

pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    match err {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::TooLarge(limit as u64).into(),
        JsonPayloadError::ContentType => {
            ApiError::UnsupportedMediaType("expected `Content-Type: application/json`".into())
                .into()
        }
        JsonPayloadError::Deserialize(e) => {
            ApiError::BadRequest(format!("malformed JSON body: {e}")).into()
        }
        JsonPayloadError::Payload(e) => ApiError::body(e).into(),
        other => ApiError::BadRequest(format!("unreadable JSON body: {other}")).into(),
    }
}

pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    ApiError::BadRequest(format!("bad query string: {err}")).into()
}

pub fn path_error(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(format!("bad path: {err}")).into()
}

/// A JSON request body that must be a JSON object, deserialized into `T`. (serde would also
/// read a struct from an array of its fields, `[…]`, which no client means and the OpenAPI
/// document does not allow.) Errors as `web::Json`'s, through the same error handler.
pub struct JsonBody<T>(pub T);

impl<T> std::ops::Deref for JsonBody<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let fut =
            web::Json::<serde_json::Map<String, serde_json::Value>>::from_request(req, payload);
        Box::pin(async move {
            let map = fut.await?.into_inner();
            // A field the schema refuses (type, pattern, range, missing): `bad_request`, like
            // malformed JSON; `invalid_input` is for values the schema allows and the domain
            // refuses.
            serde_json::from_value(serde_json::Value::Object(map))
                .map(JsonBody)
                .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")).into())
        })
    }
}
