//! Test-only fraud (`fault-injection` feature): variants of a registered ONNX model that a
//! dishonest operator could serve through ONNX Runtime while its receipts still name the
//! registered weights root (docs/PROTOCOL.md §9.7, *Fraud injection*). Each keeps the model's
//! signature (names, types, shapes of inputs and outputs), so that clients see nothing but
//! different numbers.

use prost::Message;

use super::proto::{ModelProto, TensorProto};
use crate::error::{OracleError, Result};

/// What the operator serves instead of the registered model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServedFraud {
    /// Another model with the same signature: the registered graph with every int8 weight
    /// tensor reversed (same shapes and value distribution, different weights).
    WrongModel,
    /// One layer bypassed: the first `Add` of an initializer (a bias layer) replaced by an
    /// `Identity` of its other input (same output shape).
    SkippedLayer,
    /// One weight changed: element 0 of the first float initializer with more than one
    /// element (a bias) increased by 8.0.
    TamperedWeights,
}

impl ServedFraud {
    /// `chain.fault_injection` values: `serve:wrong-model`, `serve:skipped-layer`,
    /// `serve:tampered-weights`.
    pub fn parse(fault: &str) -> Option<Self> {
        match fault.strip_prefix("serve:")? {
            "wrong-model" => Some(Self::WrongModel),
            "skipped-layer" => Some(Self::SkippedLayer),
            "tampered-weights" => Some(Self::TamperedWeights),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WrongModel => "wrong-model",
            Self::SkippedLayer => "skipped-layer",
            Self::TamperedWeights => "tampered-weights",
        }
    }
}

const FLOAT: i32 = 1;
const INT8: i32 = 3;

fn bad(what: &str) -> OracleError {
    OracleError::InvalidModel(format!("fault injection: {what}"))
}

/// The variant of `model` (an ONNX file's bytes) that `fraud` serves.
pub fn variant(model: &[u8], fraud: ServedFraud) -> Result<Vec<u8>> {
    let mut m = ModelProto::decode(model).map_err(|e| bad(&format!("not an ONNX model: {e}")))?;
    let g = m.graph.as_mut().ok_or_else(|| bad("no graph"))?;
    match fraud {
        ServedFraud::WrongModel => {
            let mut n = 0;
            for t in g.initializer.iter_mut().filter(|t| t.data_type == INT8) {
                if let Some(raw) = t.raw_data.as_mut().filter(|r| r.len() > 1) {
                    raw.reverse();
                    n += 1;
                } else if t.int32_data.len() > 1 {
                    t.int32_data.reverse();
                    n += 1;
                }
            }
            if n == 0 {
                return Err(bad("no int8 weight tensor to replace"));
            }
        }
        ServedFraud::SkippedLayer => {
            let inits: Vec<String> = g.initializer.iter().map(|t| t.name.clone()).collect();
            let node = g
                .node
                .iter_mut()
                .find(|n| {
                    n.op_type == "Add"
                        && n.domain.is_empty()
                        && n.input.len() == 2
                        && inits.contains(&n.input[1])
                })
                .ok_or_else(|| bad("no bias Add to skip"))?;
            node.op_type = "Identity".into();
            node.input.truncate(1);
            node.attribute.clear();
        }
        ServedFraud::TamperedWeights => {
            let t: &mut TensorProto = g
                .initializer
                .iter_mut()
                .find(|t| t.data_type == FLOAT && t.dims.iter().product::<i64>() > 1)
                .ok_or_else(|| bad("no float weight tensor to tamper with"))?;
            if let Some(raw) = t.raw_data.as_mut().filter(|r| r.len() >= 4) {
                let v = f32::from_le_bytes(raw[..4].try_into().expect("4 bytes")) + 8.0;
                raw[..4].copy_from_slice(&v.to_le_bytes());
            } else if let Some(v) = t.float_data.first_mut() {
                *v += 8.0;
            } else {
                return Err(bad("an empty float tensor"));
            }
        }
    }
    Ok(m.encode_to_vec())
}
