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

/// The JSON part of an inference request, as the OpenAPI document describes it. Parsing goes
/// through [`super::parse_infer_request`] (which also reads Triton's binary tensor data after the
/// JSON); this type only documents the shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InferRequestDoc {
    /// Echoed in the response.
    pub id: Option<String>,
    /// `binary_data_output` (boolean): outputs as binary data unless an output says otherwise.
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
    /// The model's inputs, each named once.
    #[schema(min_items = 1)]
    pub inputs: Vec<InferInputDoc>,
    /// The outputs to return (all when absent).
    pub outputs: Option<Vec<InferOutputDoc>>,
}

/// One input tensor of an inference request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InferInputDoc {
    pub name: String,
    /// Dimensions (each ≥ 0); must fit the model's declared shape.
    pub shape: Vec<u64>,
    #[schema(
        pattern = "^(BOOL|INT8|INT16|INT32|INT64|UINT8|UINT16|UINT32|UINT64|FP16|FP32|FP64|BYTES)$"
    )]
    pub datatype: String,
    /// `binary_data_size` (integer) when the data follows the JSON as binary.
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
    /// The elements, row-major, flat or nested (at most 64 deep); absent with binary data.
    pub data: Option<Vec<serde_json::Value>>,
}

/// One requested output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InferOutputDoc {
    pub name: String,
    /// `binary_data` (boolean).
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The JSON part of an inference response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InferResponseDoc {
    pub model_name: String,
    pub model_version: Option<String>,
    pub id: Option<String>,
    /// `imo_receipt_id`, `imo_receipt` (the receipt as JSON text), `imo_receipt_signature`.
    pub parameters: serde_json::Map<String, serde_json::Value>,
    pub outputs: Vec<InferOutputTensorDoc>,
}

/// One output tensor of an inference response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InferOutputTensorDoc {
    pub name: String,
    pub shape: Vec<u64>,
    pub datatype: String,
    /// `binary_data_size` when the data follows the JSON as binary.
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
    /// The elements, flat, row-major (absent when sent binary).
    pub data: Option<Vec<serde_json::Value>>,
}
