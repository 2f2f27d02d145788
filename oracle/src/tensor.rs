//! Tensors as the domain sees them: a name, a shape and typed little-endian data, validated
//! (element count matches the shape) at construction. The HTTP layer's Open Inference Protocol
//! codec produces and consumes these; the engine converts them to and from ONNX Runtime values.
//! Their canonical encoding (docs/PROTOCOL.md, "Canonical tensor encoding") is what receipts hash.

use sha2::{Digest, Sha256};

use crate::error::{OracleError, Result};

/// Element type, named as in the Open Inference Protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Fp16,
    Fp32,
    Fp64,
    Bytes,
}

impl DataType {
    pub const ALL: [DataType; 13] = [
        Self::Bool,
        Self::Int8,
        Self::Int16,
        Self::Int32,
        Self::Int64,
        Self::Uint8,
        Self::Uint16,
        Self::Uint32,
        Self::Uint64,
        Self::Fp16,
        Self::Fp32,
        Self::Fp64,
        Self::Bytes,
    ];

    /// The protocol name: `BOOL`, `INT8`, …, `FP32`, `BYTES`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bool => "BOOL",
            Self::Int8 => "INT8",
            Self::Int16 => "INT16",
            Self::Int32 => "INT32",
            Self::Int64 => "INT64",
            Self::Uint8 => "UINT8",
            Self::Uint16 => "UINT16",
            Self::Uint32 => "UINT32",
            Self::Uint64 => "UINT64",
            Self::Fp16 => "FP16",
            Self::Fp32 => "FP32",
            Self::Fp64 => "FP64",
            Self::Bytes => "BYTES",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// Bytes per element; `None` for BYTES (variable length).
    pub fn size(self) -> Option<usize> {
        Some(match self {
            Self::Bool | Self::Int8 | Self::Uint8 => 1,
            Self::Int16 | Self::Uint16 | Self::Fp16 => 2,
            Self::Int32 | Self::Uint32 | Self::Fp32 => 4,
            Self::Int64 | Self::Uint64 | Self::Fp64 => 8,
            Self::Bytes => return None,
        })
    }
}

/// Tensor contents. Fixed-size types are kept as their little-endian bytes (exactly the Triton
/// binary layout and the canonical encoding); BYTES as one byte string per element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TensorData {
    /// `len == elements * size`, little-endian; BOOL is one byte, 0 or 1.
    Fixed(Vec<u8>),
    Bytes(Vec<Vec<u8>>),
}

/// A named, shaped, typed tensor whose data length matches its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor {
    name: String,
    datatype: DataType,
    shape: Vec<u64>,
    data: TensorData,
}

/// Number of elements of a shape; `None` on overflow.
pub fn element_count(shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
}

impl Tensor {
    /// Builds a tensor, checking that the data matches the shape and type.
    pub fn new(
        name: impl Into<String>,
        datatype: DataType,
        shape: Vec<u64>,
        data: TensorData,
    ) -> Result<Self> {
        let name = name.into();
        let count = element_count(&shape).ok_or_else(|| {
            OracleError::InvalidInput(format!("tensor `{name}`: shape {shape:?} is too large"))
        })?;
        match (&data, datatype.size()) {
            (TensorData::Fixed(bytes), Some(size)) => {
                let want = count.checked_mul(size as u64);
                if want != Some(bytes.len() as u64) {
                    return Err(OracleError::InvalidInput(format!(
                        "tensor `{name}`: shape {shape:?} of {} needs {count} elements ({} bytes), got {} bytes",
                        datatype.as_str(),
                        want.map(|w| w.to_string())
                            .unwrap_or_else(|| "too many".into()),
                        bytes.len()
                    )));
                }
                if datatype == DataType::Bool && bytes.iter().any(|&b| b > 1) {
                    return Err(OracleError::InvalidInput(format!(
                        "tensor `{name}`: BOOL elements must be 0 or 1"
                    )));
                }
            }
            (TensorData::Bytes(items), None) => {
                if items.len() as u64 != count {
                    return Err(OracleError::InvalidInput(format!(
                        "tensor `{name}`: shape {shape:?} needs {count} elements, got {}",
                        items.len()
                    )));
                }
            }
            _ => {
                return Err(OracleError::InvalidInput(format!(
                    "tensor `{name}`: data does not match datatype {}",
                    datatype.as_str()
                )));
            }
        }
        Ok(Self {
            name,
            datatype,
            shape,
            data,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn datatype(&self) -> DataType {
        self.datatype
    }
    pub fn shape(&self) -> &[u64] {
        &self.shape
    }
    pub fn data(&self) -> &TensorData {
        &self.data
    }
    pub fn into_parts(self) -> (String, DataType, Vec<u64>, TensorData) {
        (self.name, self.datatype, self.shape, self.data)
    }
    pub fn element_count(&self) -> u64 {
        element_count(&self.shape).expect("checked at construction")
    }

    /// Appends the canonical encoding (docs/PROTOCOL.md) of this tensor.
    fn hash_into(&self, h: &mut Sha256) {
        h.update((self.name.len() as u32).to_be_bytes());
        h.update(self.name.as_bytes());
        let dt = self.datatype.as_str();
        h.update((dt.len() as u32).to_be_bytes());
        h.update(dt.as_bytes());
        h.update((self.shape.len() as u32).to_be_bytes());
        for d in &self.shape {
            h.update(d.to_be_bytes());
        }
        match &self.data {
            TensorData::Fixed(bytes) => {
                h.update((bytes.len() as u64).to_be_bytes());
                h.update(bytes);
            }
            TensorData::Bytes(items) => {
                let total: u64 = items.iter().map(|i| 8 + i.len() as u64).sum();
                h.update(total.to_be_bytes());
                for i in items {
                    h.update((i.len() as u64).to_le_bytes());
                    h.update(i);
                }
            }
        }
    }
}

/// SHA-256 of the canonical encoding of a set of tensors, in name order (bytewise).
pub fn canonical_hash(tensors: &[Tensor]) -> [u8; 32] {
    let mut sorted: Vec<&Tensor> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut h = Sha256::new();
    h.update((sorted.len() as u32).to_be_bytes());
    for t in sorted {
        t.hash_into(&mut h);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(v: &[f32]) -> TensorData {
        TensorData::Fixed(v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    #[test]
    fn shape_must_match_data() {
        assert!(Tensor::new("x", DataType::Fp32, vec![2, 2], f32s(&[1.0, 2.0, 3.0, 4.0])).is_ok());
        let e = Tensor::new("x", DataType::Fp32, vec![2, 3], f32s(&[1.0; 4])).unwrap_err();
        assert!(e.to_string().contains("`x`"), "{e}");
        assert!(Tensor::new("b", DataType::Bool, vec![1], TensorData::Fixed(vec![2])).is_err());
        assert!(
            Tensor::new(
                "s",
                DataType::Bytes,
                vec![2],
                TensorData::Bytes(vec![b"a".to_vec()])
            )
            .is_err()
        );
        assert!(Tensor::new("s", DataType::Bytes, vec![1], TensorData::Fixed(vec![1])).is_err());
        assert!(Tensor::new("x", DataType::Fp32, vec![u64::MAX, 2], f32s(&[])).is_err());
        assert!(Tensor::new("e", DataType::Fp32, vec![0, 4], f32s(&[])).is_ok());
    }

    #[test]
    fn canonical_hash_is_order_independent_and_binding() {
        let a = Tensor::new("a", DataType::Fp32, vec![1], f32s(&[1.0])).unwrap();
        let b = Tensor::new("b", DataType::Int8, vec![2], TensorData::Fixed(vec![1, 2])).unwrap();
        assert_eq!(
            canonical_hash(&[a.clone(), b.clone()]),
            canonical_hash(&[b.clone(), a.clone()])
        );
        let b2 = Tensor::new("b", DataType::Uint8, vec![2], TensorData::Fixed(vec![1, 2])).unwrap();
        assert_ne!(
            canonical_hash(&[a.clone(), b.clone()]),
            canonical_hash(&[a.clone(), b2])
        );
        let b3 = Tensor::new(
            "b",
            DataType::Int8,
            vec![2, 1],
            TensorData::Fixed(vec![1, 2]),
        )
        .unwrap();
        assert_ne!(canonical_hash(&[a.clone(), b]), canonical_hash(&[a, b3]));
        // Pinned vector: one FP32 tensor `x` = [1.0], shape [1] (docs/PROTOCOL.md).
        let x = Tensor::new("x", DataType::Fp32, vec![1], f32s(&[1.0])).unwrap();
        assert_eq!(hex::encode(canonical_hash(&[x])), {
            let mut v = vec![0, 0, 0, 1, 0, 0, 0, 1, b'x', 0, 0, 0, 4];
            v.extend_from_slice(b"FP32");
            v.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4]);
            v.extend_from_slice(&1.0f32.to_le_bytes());
            hex::encode(Sha256::digest(&v))
        });
        // ... and the digest itself, as the docs quote it.
        let x = Tensor::new("x", DataType::Fp32, vec![1], f32s(&[1.0])).unwrap();
        assert_eq!(
            hex::encode(canonical_hash(&[x])),
            "63f27479b03821edadd58c25ac0da2ee8dedb0b24c7b7ea99a04389178c3568e"
        );
    }
}
