//! Open Inference Protocol (KServe v2 / Triton HTTP REST) codec: inference request parsing
//! (JSON and Triton's binary tensor extension), response encoding, and the bodies of the
//! metadata endpoints. Pure functions over bytes and [`Tensor`]s; the `/v2` handlers own HTTP.
//!
//! Decisions where the protocol leaves room:
//! - Numbers in JSON `data` are parsed from their literal text (not through an intermediate
//!   `f64`), so FP64 values round-trip bit for bit and 64-bit integers keep full range.
//!   Integers must be written as integers (`1.5`, `1.0` or `1e3` into INT32 are errors), floats
//!   that overflow the type (`1e39` into FP32, `70000` into FP16) are errors.
//! - Nested and flat `data` are both accepted; nesting is flattened row-major and only the total
//!   element count is checked against the shape (as Triton does).
//! - Response floats are written as the exact decimal of the value widened to `f64` (an FP32
//!   `0.1` is written `0.10000000149011612`), which every correct JSON parser reads back to the
//!   same bits (parse as `f64`, narrow to the type).
//! - An output that JSON cannot carry losslessly is sent binary even when JSON was asked for:
//!   a float tensor holding NaN or ±Infinity (JSON has no such numbers, and a string would
//!   lose NaN payloads), or a BYTES tensor with an element that is not valid UTF-8. Triton
//!   clients read binary outputs whatever they asked for (the JSON says `binary_data_size`).

mod metadata;
mod request;
mod response;
#[cfg(test)]
mod tests;

use actix_web::{HttpResponse, ResponseError, http::StatusCode};

pub use metadata::{
    ErrorResponse, InferInputDoc, InferOutputDoc, InferOutputTensorDoc, InferRequestDoc,
    InferResponseDoc, ModelMetadata, PLATFORM, ServerMetadata, TensorMetadata,
};
pub use request::{
    InferRequest, MAX_DATA_DEPTH, RequestedOutput, decode_binary, input_datatype,
    parse_infer_request, quote_non_finite, wants_binary,
};
pub use response::{InferResponse, append_binary, encode_infer_response, needs_binary};

/// The header that carries the JSON length of a request or response with binary tensor data.
pub const INFERENCE_HEADER_CONTENT_LENGTH: &str = "Inference-Header-Content-Length";

/// Errors of the Open Inference Protocol layer. The body the protocol requires is
/// `{"error": "<message>"}` ([`ErrorResponse`]), which the [`ResponseError`] impl answers.
#[derive(Debug, thiserror::Error)]
pub enum OipError {
    /// The request could not be parsed or is inconsistent (400).
    #[error("{0}")]
    BadRequest(String),
    /// Any other failure with its status (for handlers that answer in the protocol's shape).
    #[error("{message}")]
    Status { status: StatusCode, message: String },
}

impl OipError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    pub fn message(&self) -> String {
        self.to_string()
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Status { status, .. } => *status,
        }
    }

    pub fn body(&self) -> ErrorResponse {
        ErrorResponse {
            error: self.message(),
        }
    }
}

impl ResponseError for OipError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status()).json(self.body())
    }
}
