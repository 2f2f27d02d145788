//! Bodies of the metadata endpoints and of errors, as the protocol spells them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The `platform` of every model served: ONNX through ONNX Runtime, as Triton names it.
pub const PLATFORM: &str = "onnxruntime_onnx";

/// `GET /v2`: server metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServerMetadata {
    pub name: String,
    pub version: String,
    /// Protocol extensions supported: `binary_tensor_data`.
    pub extensions: Vec<String>,
}

impl ServerMetadata {
    /// Metadata with the extensions this codec implements.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            extensions: vec!["binary_tensor_data".into()],
        }
    }
}

/// `GET /v2/models/{model}[/versions/{version}]`: model metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModelMetadata {
    pub name: String,
    pub versions: Vec<String>,
    /// Always [`PLATFORM`].
    pub platform: String,
    pub inputs: Vec<TensorMetadata>,
    pub outputs: Vec<TensorMetadata>,
}

/// One input or output of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TensorMetadata {
    pub name: String,
    /// Protocol datatype: `BOOL`, `INT8`, …, `FP32`, `BYTES`.
    pub datatype: String,
    /// Dimensions; `-1` for a dynamic one.
    pub shape: Vec<i64>,
}

/// The body of every `/v2` error: `{"error": "<message>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorResponse {
    pub error: String,
}
