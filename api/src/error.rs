//! The one place where errors become HTTP responses: `{"error": {"code", "message"}}` with a
//! stable code and the matching status.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
pub use imo_client::dto::{ErrorBody, ErrorDetail, V2ErrorBody};
use imo_oracle::OracleError;

/// Errors of the HTTP layer: domain errors plus what only HTTP can get wrong.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] OracleError),
    /// The body could not be parsed (malformed JSON, bad query string, wrong field types).
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than the endpoint accepts.
    #[error("request body exceeds the limit of {0} bytes")]
    TooLarge(u64),
    /// The Content-Type is not one the endpoint accepts.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request body did not arrive in time (`server.body_idle_timeout_secs`,
    /// `server.body_timeout_secs`, `storage.upload_timeout_secs`).
    #[error("{0}")]
    RequestTimeout(String),
    /// The path exists, with other methods.
    #[error("method {method} is not allowed here; use {}", allowed.join(", "))]
    MethodNotAllowed {
        method: String,
        allowed: Vec<&'static str>,
    },
}

impl ApiError {
    /// A failure reading the request body: a deadline (408) or a broken body (400).
    pub fn body(e: actix_web::error::PayloadError) -> Self {
        if crate::limits::is_body_timeout(&e) {
            Self::RequestTimeout(format!("{e}; send the body without pausing"))
        } else {
            Self::BadRequest(format!("request body unreadable: {e}"))
        }
    }
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Domain(e) => e.code(),
            Self::BadRequest(_) => "bad_request",
            Self::TooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RequestTimeout(_) => "request_timeout",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Domain(e) => match e {
                OracleError::InvalidInput(_) | OracleError::InferenceRejected(_) => {
                    StatusCode::BAD_REQUEST
                }
                OracleError::Unauthenticated(_) | OracleError::SignIn(_) => {
                    StatusCode::UNAUTHORIZED
                }
                OracleError::Forbidden(_) => StatusCode::FORBIDDEN,
                OracleError::NotFound { .. } => StatusCode::NOT_FOUND,
                OracleError::Conflict(_)
                | OracleError::ChainDisabled
                | OracleError::AcknowledgementStale { .. } => StatusCode::CONFLICT,
                OracleError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                OracleError::InvalidModel(_) | OracleError::ResourceLimit(_) => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                OracleError::Database(_)
                | OracleError::Engine(_)
                | OracleError::Chain(_)
                | OracleError::EpochClosed(_)
                | OracleError::NotLeader(_)
                | OracleError::NotMember(_)
                | OracleError::BalanceLeased { .. } => StatusCode::SERVICE_UNAVAILABLE,
                OracleError::Storage(_) | OracleError::Inference(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                OracleError::InsufficientBalance { .. }
                | OracleError::SpendingCapExceeded { .. }
                | OracleError::AcknowledgementRequired { .. } => StatusCode::PAYMENT_REQUIRED,
                OracleError::ModelUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                OracleError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                OracleError::ModelDeactivated(_) => StatusCode::GONE,
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(code = self.code(), error = %self, "request failed");
        } else {
            tracing::debug!(code = self.code(), error = %self, "request rejected");
        }
        let mut resp = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            resp.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let Self::MethodNotAllowed { allowed, .. } = self {
            resp.insert_header(("Allow", allowed.join(", ")));
        }
        if let Self::Domain(OracleError::RateLimited {
            retry_after_secs, ..
        }) = self
        {
            resp.insert_header(("Retry-After", retry_after_secs.to_string()));
        }
        if let Self::Domain(OracleError::BalanceLeased { .. }) = self {
            resp.insert_header(("Retry-After", "1"));
        }
        ack_headers(self, &mut resp);
        resp.json(ErrorBody {
            error: ErrorDetail {
                code: self.code().into(),
                message: self.to_string(),
            },
        })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The same errors in the Open Inference Protocol's shape, `{"error": "<message>"}`, used on
/// every `/v2` route so that protocol clients (tritonclient, KServe SDKs) understand them. The
/// stable code travels in the `imo-error-code` header.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct V2Error(#[from] pub ApiError);

impl From<OracleError> for V2Error {
    fn from(e: OracleError) -> Self {
        Self(ApiError::Domain(e))
    }
}

impl ResponseError for V2Error {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(code = self.0.code(), error = %self, "inference request failed");
        }
        let mut resp = HttpResponse::build(status);
        resp.insert_header(("imo-error-code", self.0.code()));
        ack_headers(&self.0, &mut resp);
        resp.json(V2ErrorBody {
            error: self.to_string(),
        })
    }
}

/// A 402 `acknowledgement_required` names what to acknowledge in headers too (`imo-ack-epoch`,
/// `imo-ack-amount`, `imo-ack-calls`), for clients that see only the protocol's error string.
fn ack_headers(e: &ApiError, resp: &mut actix_web::HttpResponseBuilder) {
    if let ApiError::Domain(OracleError::AcknowledgementRequired {
        epoch,
        amount,
        calls,
        ..
    }) = e
    {
        resp.insert_header(("imo-ack-epoch", epoch.to_string()))
            .insert_header(("imo-ack-amount", amount.0.to_string()))
            .insert_header(("imo-ack-calls", calls.to_string()));
    }
}

/// The same errors over gRPC (the Open Inference Protocol's `GRPCInferenceService`): the HTTP
/// status decided above becomes the matching gRPC code, the message is the same, and the
/// stable code travels in the `imo-error-code` metadata.
pub fn grpc_status(err: ApiError) -> tonic::Status {
    use tonic::Code;
    let status = err.status_code();
    let code = match status {
        StatusCode::BAD_REQUEST => Code::InvalidArgument,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::REQUEST_TIMEOUT => Code::DeadlineExceeded,
        // Insufficient balance or spending cap; not tokenized or no price; deactivated.
        StatusCode::PAYMENT_REQUIRED | StatusCode::CONFLICT | StatusCode::GONE => {
            Code::FailedPrecondition
        }
        StatusCode::PAYLOAD_TOO_LARGE
        | StatusCode::UNPROCESSABLE_ENTITY
        | StatusCode::TOO_MANY_REQUESTS => Code::ResourceExhausted,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        StatusCode::INTERNAL_SERVER_ERROR => Code::Internal,
        _ => Code::Unknown,
    };
    if status.is_server_error() {
        tracing::error!(code = err.code(), error = %err, "gRPC request failed");
    } else {
        tracing::debug!(code = err.code(), error = %err, "gRPC request rejected");
    }
    let mut s = tonic::Status::new(code, err.to_string());
    s.metadata_mut().insert(
        "imo-error-code",
        tonic::metadata::MetadataValue::from_static(err.code()),
    );
    s
}
