//! Response and request bodies of the `/v1` API. Request types end at the handler: each is
//! parsed into the domain's validated newtypes there.

use imo_oracle::{
    auth::IssuedKey,
    engine::TensorSpec,
    registry::{ModelRecord, WeightProof, WeightTensorInfo},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::schema::{AddressField, Limit, ModelNameField, RoleField, Text, WeiField};

/// A registered model.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelView {
    /// Stable id, `mdl_…` (sortable by creation time).
    pub id: String,
    /// Unique name; the model name on the inference API.
    pub name: String,
    pub description: String,
    pub version: String,
    /// Price per call, in wei, as a decimal string.
    #[schema(example = "1000000000000")]
    pub price_wei: String,
    /// EIP-55 address of the publisher.
    pub publisher: String,
    /// SHA-256 of the uploaded file, hex.
    pub file_sha256: String,
    /// Merkle root (RFC 6962, SHA-256) over the model's weight tensors, hex: the commitment
    /// that is tokenized on-chain. See docs/PROTOCOL.md.
    pub weights_root: String,
    pub file_size: u64,
    pub ir_version: i64,
    pub opsets: Vec<OpsetView>,
    pub producer: String,
    pub inputs: Vec<TensorSpecView>,
    pub outputs: Vec<TensorSpecView>,
    /// Number of weight tensors under `weights_root`.
    pub tensor_count: u64,
    /// `registered`, or `tokenized` once the commitment is on-chain.
    pub state: String,
    /// False once deactivated: the model can no longer be served.
    pub active: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OpsetView {
    pub domain: String,
    pub version: i64,
}

/// An input or output: name, Open Inference Protocol datatype, shape (-1 = dynamic).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TensorSpecView {
    pub name: String,
    #[schema(example = "FP32")]
    pub datatype: String,
    pub shape: Vec<i64>,
}

impl From<&TensorSpec> for TensorSpecView {
    fn from(t: &TensorSpec) -> Self {
        Self {
            name: t.name.clone(),
            datatype: t.datatype.clone(),
            shape: t.shape.clone(),
        }
    }
}

impl From<ModelRecord> for ModelView {
    fn from(m: ModelRecord) -> Self {
        Self {
            price_wei: m.price_wei.to_string(),
            publisher: m.publisher.to_string(),
            opsets: m
                .opsets
                .into_iter()
                .map(|o| OpsetView {
                    domain: o.domain,
                    version: o.version,
                })
                .collect(),
            inputs: m.inputs.iter().map(Into::into).collect(),
            outputs: m.outputs.iter().map(Into::into).collect(),
            state: serde_json::to_value(m.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            id: m.id,
            name: m.name,
            description: m.description,
            version: m.version,
            file_sha256: m.file_sha256,
            weights_root: m.weights_root,
            file_size: m.file_size,
            ir_version: m.ir_version,
            producer: m.producer,
            tensor_count: m.tensor_count,
            active: m.active,
            created_at_ms: m.created_at_ms,
            updated_at_ms: m.updated_at_ms,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelView>,
    /// Pass as `after` to fetch the next page; absent on the last page.
    pub next: Option<String>,
}

/// Metadata of an upload, in the query string (the body is the ONNX file).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// Unique model name (1-64 of `a-z A-Z 0-9 . _ -`).
    #[param(inline)]
    pub name: ModelNameField,
    /// Price per call in wei (decimal string). Default 0.
    #[param(inline)]
    pub price_wei: Option<WeiField>,
    /// Free text, up to 2000 characters.
    #[param(inline)]
    pub description: Option<Text<2000>>,
    /// Publisher's version label, up to 64 characters. Default `1`.
    #[param(inline)]
    pub version: Option<Text<64>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only models of this publisher.
    #[param(inline)]
    pub publisher: Option<AddressField>,
    /// Include deactivated models.
    #[serde(default)]
    pub include_inactive: bool,
    /// Page cursor: the `next` of the previous page.
    pub after: Option<String>,
    /// Page size, 1-500 (default 100); larger values are refused.
    #[param(inline)]
    pub limit: Option<Limit<500>>,
}

/// A change to a model. Absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelPatchRequest {
    /// New price per call in wei (decimal string).
    pub price_wei: Option<WeiField>,
    pub description: Option<Text<2000>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WeightTensorView {
    pub index: usize,
    pub name: String,
    /// ONNX `TensorProto.DataType` number.
    pub data_type: i32,
    pub dims: Vec<i64>,
    pub byte_len: u64,
    pub data_sha256: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WeightList {
    pub weights_root: String,
    pub tensors: Vec<WeightTensorView>,
}

impl WeightTensorView {
    pub fn new(index: usize, t: WeightTensorInfo) -> Self {
        Self {
            index,
            name: t.name,
            data_type: t.data_type,
            dims: t.dims,
            byte_len: t.byte_len,
            data_sha256: t.data_sha256,
        }
    }
}

/// A tensor's RFC 6962 inclusion proof against `weights_root`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WeightProofView {
    pub index: usize,
    pub count: usize,
    pub tensor: WeightTensorView,
    /// Leaf hash (see docs/PROTOCOL.md), hex.
    pub leaf: String,
    /// Audit path, leaf to root, hex.
    pub proof: Vec<String>,
    pub weights_root: String,
}

impl From<WeightProof> for WeightProofView {
    fn from(p: WeightProof) -> Self {
        Self {
            tensor: WeightTensorView::new(p.index, p.tensor),
            index: p.index,
            count: p.count,
            leaf: p.leaf,
            proof: p.proof,
            weights_root: p.weights_root,
        }
    }
}

/// A newly issued API key. `key` is shown once and never again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IssuedKeyView {
    pub id: String,
    /// The secret. Send it as `Authorization: Bearer <key>`.
    pub key: String,
    pub prefix: String,
    pub address: String,
    pub role: String,
    pub label: String,
    pub created_at_ms: i64,
}

impl From<IssuedKey> for IssuedKeyView {
    fn from(k: IssuedKey) -> Self {
        Self {
            id: k.id,
            key: k.secret,
            prefix: k.prefix,
            address: k.address.to_string(),
            role: k.role.to_string(),
            label: k.label,
            created_at_ms: k.created_at_ms,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub address: AddressField,
    /// `publisher`, `client` or `admin`.
    pub role: RoleField,
    #[serde(default)]
    pub label: Option<Text<200>>,
}

/// Query of `POST /v1/auth/nonce`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NonceParams {
    /// The address that will sign the message (optional): binds the nonce to it.
    #[param(inline)]
    pub address: Option<AddressField>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NonceView {
    /// Put this in the `Nonce:` line of the EIP-4361 message.
    pub nonce: String,
    pub expires_at_ms: i64,
    /// The `domain` the message must name.
    pub domain: String,
    /// The `Chain ID` the message must name.
    pub chain_id: u64,
}

/// An EIP-4361 (Sign-In with Ethereum) message and its EIP-191 `personal_sign` signature.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub message: String,
    /// 65-byte signature, hex (0x-prefixed or not).
    #[schema(pattern = "^(0x)?[0-9a-fA-F]{130}$")]
    pub signature: String,
    /// Role of the key to issue: `publisher` or `client` (`admin` only for configured addresses).
    pub role: RoleField,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    pub key_id: String,
    pub address: String,
    pub role: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}
