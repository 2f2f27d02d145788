//! Tensors as the judge sees them: an element type of the op set, a shape and the canonical
//! little-endian bytes (the same bytes the receipt's canonical encoding and the weights
//! commitment hash).

use crate::tensor::{DataType, Tensor, TensorData};

/// Maximum rank a committed tensor may have (the shape word holds six dimensions).
pub const MAX_RANK: usize = 6;

/// Element types of the judge's op set, numbered as ONNX `TensorProto.DataType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum JType {
    F32 = 1,
    U8 = 2,
    I8 = 3,
    I32 = 6,
    I64 = 7,
}

impl JType {
    /// From an ONNX `TensorProto.DataType` value.
    pub fn from_onnx(data_type: i32) -> Option<Self> {
        Some(match data_type {
            1 => Self::F32,
            2 => Self::U8,
            3 => Self::I8,
            6 => Self::I32,
            7 => Self::I64,
            _ => return None,
        })
    }

    /// From the judge code (the ONNX value), as committed on-chain.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::from_onnx(i32::from(code))
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::U8 | Self::I8 => 1,
            Self::F32 | Self::I32 => 4,
            Self::I64 => 8,
        }
    }

    /// The Open Inference Protocol name, as in the canonical encoding.
    pub fn protocol_name(self) -> &'static str {
        self.data_type().as_str()
    }

    pub fn data_type(self) -> DataType {
        match self {
            Self::F32 => DataType::Fp32,
            Self::U8 => DataType::Uint8,
            Self::I8 => DataType::Int8,
            Self::I32 => DataType::Int32,
            Self::I64 => DataType::Int64,
        }
    }

    pub fn from_data_type(dt: DataType) -> Option<Self> {
        Some(match dt {
            DataType::Fp32 => Self::F32,
            DataType::Uint8 => Self::U8,
            DataType::Int8 => Self::I8,
            DataType::Int32 => Self::I32,
            DataType::Int64 => Self::I64,
            _ => return None,
        })
    }

    /// The value range of an 8-bit quantized type.
    pub fn quant_range(self) -> Option<(i64, i64)> {
        match self {
            Self::U8 => Some((0, 255)),
            Self::I8 => Some((-128, 127)),
            _ => None,
        }
    }

    /// ONNX's name of the type.
    pub fn onnx_name(self) -> &'static str {
        match self {
            Self::F32 => "FLOAT",
            Self::U8 => "UINT8",
            Self::I8 => "INT8",
            Self::I32 => "INT32",
            Self::I64 => "INT64",
        }
    }
}

/// A dense tensor: element type, shape, canonical little-endian data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub dtype: JType,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

/// Number of elements of a shape (1 for a scalar); `None` on overflow.
pub fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

impl Value {
    /// A tensor whose data length matches its shape.
    pub fn new(dtype: JType, shape: Vec<usize>, data: Vec<u8>) -> Result<Self, String> {
        let n = numel(&shape).ok_or("shape overflows")?;
        if n.checked_mul(dtype.size()) != Some(data.len()) {
            return Err(format!(
                "shape {shape:?} of {} needs {} bytes, got {}",
                dtype.onnx_name(),
                n.saturating_mul(dtype.size()),
                data.len()
            ));
        }
        Ok(Self { dtype, shape, data })
    }

    pub fn numel(&self) -> usize {
        self.data.len() / self.dtype.size()
    }

    /// Element `i` as a signed integer (integer types).
    pub fn int(&self, i: usize) -> i64 {
        let s = self.dtype.size();
        let b = &self.data[i * s..(i + 1) * s];
        match self.dtype {
            JType::U8 => i64::from(b[0]),
            JType::I8 => i64::from(b[0] as i8),
            JType::I32 => i64::from(i32::from_le_bytes(b.try_into().expect("4 bytes"))),
            JType::I64 => i64::from_le_bytes(b.try_into().expect("8 bytes")),
            JType::F32 => panic!("int() of a FLOAT tensor"),
        }
    }

    /// Element `i` of a FLOAT tensor as its bit pattern.
    pub fn bits(&self, i: usize) -> u32 {
        u32::from_le_bytes(self.data[i * 4..i * 4 + 4].try_into().expect("4 bytes"))
    }

    /// Converts a request tensor (types outside the op set are refused).
    pub fn from_tensor(t: &Tensor) -> Result<Self, String> {
        let dtype = JType::from_data_type(t.datatype()).ok_or_else(|| {
            format!(
                "`{}` is {}, which the judge does not support",
                t.name(),
                t.datatype().as_str()
            )
        })?;
        let TensorData::Fixed(bytes) = t.data() else {
            return Err(format!("`{}` has no fixed-size data", t.name()));
        };
        let shape = t
            .shape()
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| format!("`{}` is too large", t.name())))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(dtype, shape, bytes.clone())
    }

    /// The named request/response tensor holding this value.
    pub fn to_tensor(&self, name: &str) -> Tensor {
        Tensor::new(
            name,
            self.dtype.data_type(),
            self.shape.iter().map(|&d| d as u64).collect(),
            TensorData::Fixed(self.data.clone()),
        )
        .expect("a judge value is a valid tensor")
    }
}
