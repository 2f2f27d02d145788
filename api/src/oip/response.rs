//! Inference response encoding: the JSON header and, for binary outputs, the raw bytes after it.

use imo_oracle::tensor::{DataType, Tensor, TensorData};
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use serde_json::{Map, Value};

/// An inference response ready to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct InferResponse {
    pub model_name: String,
    pub model_version: Option<String>,
    pub id: Option<String>,
    /// Response-level `parameters` (omitted when empty).
    pub parameters: Map<String, Value>,
    /// The outputs in response order, each with whether the caller wants it binary
    /// (see [`super::wants_binary`]).
    pub outputs: Vec<(Tensor, bool)>,
}

/// Whether a tensor must go binary because JSON cannot carry it losslessly: a float tensor with
/// a NaN or an infinity, or a BYTES tensor with an element that is not valid UTF-8.
pub fn needs_binary(t: &Tensor) -> bool {
    match t.data() {
        TensorData::Bytes(items) => items.iter().any(|i| std::str::from_utf8(i).is_err()),
        TensorData::Fixed(b) => match t.datatype() {
            DataType::Fp16 => b
                .chunks_exact(2)
                .any(|c| !half::f16::from_le_bytes([c[0], c[1]]).is_finite()),
            DataType::Fp32 => b
                .chunks_exact(4)
                .any(|c| !f32::from_le_bytes(c.try_into().expect("4 bytes")).is_finite()),
            DataType::Fp64 => b
                .chunks_exact(8)
                .any(|c| !f64::from_le_bytes(c.try_into().expect("8 bytes")).is_finite()),
            _ => false,
        },
    }
}

#[derive(Serialize)]
struct ResponseJson<'a> {
    model_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    parameters: &'a Map<String, Value>,
    outputs: Vec<OutputJson<'a>>,
}

#[derive(Serialize)]
struct OutputJson<'a> {
    name: &'a str,
    datatype: &'static str,
    shape: &'a [u64],
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<BinaryParams>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<JsonData<'a>>,
}

#[derive(Serialize)]
struct BinaryParams {
    binary_data_size: usize,
}

/// A tensor's elements as a flat JSON array. Floats are written as the `f64` they widen to, so
/// that parsing as `f64` and narrowing gives back the same bits; callers ensure they are finite.
struct JsonData<'a>(&'a Tensor);

impl Serialize for JsonData<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut seq = s.serialize_seq(Some(t.element_count() as usize))?;
        match t.data() {
            TensorData::Bytes(items) => {
                for i in items {
                    // needs_binary() sent non-UTF-8 tensors binary; lossy is a never-taken fallback.
                    seq.serialize_element(&String::from_utf8_lossy(i))?;
                }
            }
            TensorData::Fixed(b) => {
                macro_rules! each {
                    ($n:literal, |$c:ident| $e:expr) => {
                        for $c in b.chunks_exact($n) {
                            let $c: [u8; $n] = $c.try_into().expect("chunk");
                            seq.serialize_element(&$e)?;
                        }
                    };
                }
                match t.datatype() {
                    DataType::Bool => each!(1, |c| c[0] != 0),
                    DataType::Int8 => each!(1, |c| i8::from_le_bytes(c)),
                    DataType::Uint8 => each!(1, |c| c[0]),
                    DataType::Int16 => each!(2, |c| i16::from_le_bytes(c)),
                    DataType::Uint16 => each!(2, |c| u16::from_le_bytes(c)),
                    DataType::Int32 => each!(4, |c| i32::from_le_bytes(c)),
                    DataType::Uint32 => each!(4, |c| u32::from_le_bytes(c)),
                    DataType::Int64 => each!(8, |c| i64::from_le_bytes(c)),
                    DataType::Uint64 => each!(8, |c| u64::from_le_bytes(c)),
                    DataType::Fp16 => each!(2, |c| half::f16::from_le_bytes(c).to_f64()),
                    DataType::Fp32 => each!(4, |c| f32::from_le_bytes(c) as f64),
                    DataType::Fp64 => each!(8, |c| f64::from_le_bytes(c)),
                    DataType::Bytes => unreachable!("BYTES data is TensorData::Bytes"),
                }
            }
        }
        seq.end()
    }
}

/// Appends Triton's binary layout of a tensor (fixed-size types as their little-endian bytes,
/// BYTES as a 4-byte little-endian length before each element, back to back); returns its size.
pub fn append_binary(t: &Tensor, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    match t.data() {
        TensorData::Fixed(b) => out.extend_from_slice(b),
        TensorData::Bytes(items) => {
            for i in items {
                out.extend_from_slice(&(i.len() as u32).to_le_bytes());
                out.extend_from_slice(i);
            }
        }
    }
    out.len() - start
}

/// Encodes a response. Returns the body and, when any output is binary, the length of the JSON
/// part (the `Inference-Header-Content-Length` header; the body's content type is then
/// `application/octet-stream`). An output goes binary when its flag says so or when
/// [`needs_binary`] (NaN/Infinity floats, non-UTF-8 BYTES): JSON cannot carry it losslessly.
pub fn encode_infer_response(r: &InferResponse) -> (Vec<u8>, Option<usize>) {
    let mut binary = Vec::new();
    let mut any_binary = false;
    let outputs = r
        .outputs
        .iter()
        .map(|(t, want)| {
            if *want || needs_binary(t) {
                any_binary = true;
                let size = append_binary(t, &mut binary);
                OutputJson {
                    name: t.name(),
                    datatype: t.datatype().as_str(),
                    shape: t.shape(),
                    parameters: Some(BinaryParams {
                        binary_data_size: size,
                    }),
                    data: None,
                }
            } else {
                OutputJson {
                    name: t.name(),
                    datatype: t.datatype().as_str(),
                    shape: t.shape(),
                    parameters: None,
                    data: Some(JsonData(t)),
                }
            }
        })
        .collect();
    let json = ResponseJson {
        model_name: &r.model_name,
        model_version: r.model_version.as_deref(),
        id: r.id.as_deref(),
        parameters: &r.parameters,
        outputs,
    };
    let mut body =
        serde_json::to_vec(&json).expect("response JSON serializes (string keys, finite numbers)");
    if any_binary {
        let len = body.len();
        body.extend_from_slice(&binary);
        (body, Some(len))
    } else {
        (body, None)
    }
}
