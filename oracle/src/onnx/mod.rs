//! ONNX model inspection and weight commitments.
//!
//! [`scan_model`] walks an ONNX file with a hand-written, bounded-memory protobuf reader (never
//! holding a whole tensor in memory), hashes every constant tensor baked into the model into a
//! canonical form, and commits to all of them with an RFC 6962 Merkle tree. The exact
//! commitment is specified in `docs/WEIGHTS.md`; keep the two in sync.

mod merkle;
mod scan;
mod wire;

#[cfg(test)]
mod tests;

use std::io::{BufRead, BufReader, Seek};
use std::path::Path;

use sha2::{Digest, Sha256};

pub use merkle::{inclusion_proof, merkle_root, verify_inclusion};

/// One constant tensor of the model, identified by its canonical name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightTensor {
    /// Canonical name: a top-level initializer's own name, otherwise a path (`docs/WEIGHTS.md`).
    pub name: String,
    /// ONNX `TensorProto.DataType` value (1 = FLOAT, 7 = INT64, ...).
    pub data_type: i32,
    pub dims: Vec<i64>,
    /// SHA-256 of the canonical data bytes (packed little-endian elements of `data_type`).
    pub data_sha256: [u8; 32],
    /// Length of the canonical data bytes.
    pub byte_len: u64,
}

/// What one pass over a model file yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelScan {
    pub ir_version: i64,
    /// `(domain, version)` per `opset_import`, in file order; the default domain is `""`.
    pub opsets: Vec<(String, i64)>,
    pub producer: String,
    pub producer_version: String,
    /// All weight tensors, sorted by canonical name (bytewise): the Merkle leaf order.
    pub tensors: Vec<WeightTensor>,
    /// RFC 6962 Merkle root over [`leaf_hash`] of `tensors`, in order.
    pub weights_root: [u8; 32],
}

impl ModelScan {
    /// The Merkle leaves, in tree order (for [`inclusion_proof`]).
    pub fn leaves(&self) -> Vec<[u8; 32]> {
        self.tensors.iter().map(leaf_hash).collect()
    }

    /// Index of the tensor with this canonical name.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.tensors
            .binary_search_by(|t| t.name.as_bytes().cmp(name.as_bytes()))
            .ok()
    }

    /// Sum of the canonical byte lengths of all weight tensors.
    pub fn total_weight_bytes(&self) -> u64 {
        self.tensors.iter().map(|t| t.byte_len).sum()
    }
}

/// Why a file could not be scanned. The messages are meant for API users.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("could not read the model file: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "the model file is truncated: the protobuf value starting at byte {offset} runs past the end of the file"
    )]
    Truncated { offset: u64 },
    #[error("the model file is not a well-formed ONNX protobuf (at byte {offset}): {reason}")]
    Malformed { offset: u64, reason: String },
    #[error("the file is not an ONNX model: {0}")]
    NotAModel(String),
    #[error(
        "tensor '{tensor}' keeps its data in an external file ('{location}'); only self-contained \
         single-file models are accepted: re-save the model with its weights inline \
         (e.g. onnx.save_model(model, path, save_as_external_data=False), models up to 2 GiB)"
    )]
    ExternalData { tensor: String, location: String },
    #[error("the model uses a feature the weight scanner does not support: {0}")]
    Unsupported(String),
}

/// Scans the ONNX model at `path` (see the module docs). Memory use is bounded independently
/// of the file and tensor sizes (apart from per-tensor metadata).
pub fn scan_model(path: &Path) -> Result<ModelScan, ScanError> {
    let file = std::fs::File::open(path)?;
    scan_reader(BufReader::with_capacity(256 * 1024, file))
}

/// [`scan_model`] over any seekable buffered reader (a `Cursor<Vec<u8>>` in tests).
pub fn scan_reader<R: BufRead + Seek>(reader: R) -> Result<ModelScan, ScanError> {
    scan::scan(reader)
}

/// The Merkle leaf of one tensor: SHA-256(0x00 || u32 BE len(name) || name || i32 BE data_type
/// || u32 BE ndims || each dim as i64 BE || data_sha256).
pub fn leaf_hash(t: &WeightTensor) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update((t.name.len() as u32).to_be_bytes());
    h.update(t.name.as_bytes());
    h.update(t.data_type.to_be_bytes());
    h.update((t.dims.len() as u32).to_be_bytes());
    for d in &t.dims {
        h.update(d.to_be_bytes());
    }
    h.update(t.data_sha256);
    h.finalize().into()
}

/// Human-readable name of an ONNX `TensorProto.DataType` value.
pub fn data_type_name(data_type: i32) -> &'static str {
    match data_type {
        1 => "FLOAT",
        2 => "UINT8",
        3 => "INT8",
        4 => "UINT16",
        5 => "INT16",
        6 => "INT32",
        7 => "INT64",
        8 => "STRING",
        9 => "BOOL",
        10 => "FLOAT16",
        11 => "DOUBLE",
        12 => "UINT32",
        13 => "UINT64",
        14 => "COMPLEX64",
        15 => "COMPLEX128",
        16 => "BFLOAT16",
        17 => "FLOAT8E4M3FN",
        18 => "FLOAT8E4M3FNUZ",
        19 => "FLOAT8E5M2",
        20 => "FLOAT8E5M2FNUZ",
        21 => "UINT4",
        22 => "INT4",
        23 => "FLOAT4E2M1",
        24 => "FLOAT8E8M0",
        25 => "UINT2",
        26 => "INT2",
        27 => "FLOAT6E2M3",
        28 => "FLOAT6E3M2",
        0 => "UNDEFINED",
        _ => "unknown",
    }
}
