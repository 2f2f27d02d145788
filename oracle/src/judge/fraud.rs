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

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../.tools/models")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn variants_keep_the_signature_and_change_the_graph() {
        let kinds = [
            ServedFraud::WrongModel,
            ServedFraud::SkippedLayer,
            ServedFraud::TamperedWeights,
        ];
        for file in ["quant_mlp.onnx", "quant_cnn.onnx"] {
            let bytes = model(file);
            let original = ModelProto::decode(bytes.as_slice()).unwrap();
            let g0 = original.graph.as_ref().unwrap();
            for kind in kinds {
                assert_eq!(
                    ServedFraud::parse(&format!("serve:{}", kind.as_str())),
                    Some(kind)
                );
                let v = ModelProto::decode(variant(&bytes, kind).unwrap().as_slice()).unwrap();
                let g = v.graph.as_ref().unwrap();
                assert_eq!(
                    (&g.input, &g.output),
                    (&g0.input, &g0.output),
                    "{file} {kind:?}"
                );
                assert_eq!(g.node.len(), g0.node.len());
                assert_ne!(v, original, "{file} {kind:?} changes the model");
                let changed_nodes = g.node.iter().zip(&g0.node).filter(|(a, b)| a != b).count();
                let changed_tensors = g
                    .initializer
                    .iter()
                    .zip(&g0.initializer)
                    .filter(|(a, b)| a != b)
                    .count();
                match kind {
                    ServedFraud::SkippedLayer => {
                        assert_eq!((changed_nodes, changed_tensors), (1, 0))
                    }
                    ServedFraud::TamperedWeights => {
                        assert_eq!((changed_nodes, changed_tensors), (0, 1))
                    }
                    ServedFraud::WrongModel => {
                        assert_eq!(changed_nodes, 0);
                        assert_eq!(changed_tensors, 3, "{file}: its three int8 weight tensors");
                    }
                }
            }
        }
        assert!(ServedFraud::parse("serve:nothing").is_none());
        assert!(ServedFraud::parse("corrupt-output").is_none());
        assert!(variant(b"not a model", ServedFraud::WrongModel).is_err());
    }
}
