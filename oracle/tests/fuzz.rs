//! Property-based fuzzing of the decoders and encoders that take untrusted bytes, on the stable
//! toolchain (proptest): the ONNX scanner, the model-worker frames, tensors and their canonical
//! hash, and the receipt tree. Generators produce deep nesting, huge declared lengths,
//! overflowing shapes and truncated buffers; every case is bounded (small inputs, a fixed number
//! of cases), and the property is always "a clear error or a correct value, never a panic".

use std::io::Cursor;

use imo_oracle::{
    onnx,
    sandbox::wire::{FromWorker, ToWorker, frame_len},
    tensor::{DataType, Tensor, TensorData, canonical_hash, element_count},
};
use proptest::prelude::*;

fn models_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools/models")
        .canonicalize()
        .expect(".tools/models: run scripts/install-tools.sh models (make test does)")
}

fn real_model(name: &str) -> Vec<u8> {
    std::fs::read(models_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Protobuf varint.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A length-delimited field `tag` wrapping `inner`.
fn field(tag: u64, inner: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    varint(tag << 3 | 2, &mut out);
    varint(inner.len() as u64, &mut out);
    out.extend_from_slice(inner);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_shrink_iters: 200, ..ProptestConfig::default() })]

    /// Any bytes: the scanner answers, never panics.
    #[test]
    fn scanner_survives_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = onnx::scan_reader(Cursor::new(bytes));
    }

    /// Real models cut short or with bytes flipped: an error or a scan, never a panic.
    #[test]
    fn scanner_survives_damaged_models(cut in 0.0f64..1.0, flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8)) {
        for name in ["tiny_mlp.onnx", "with_subgraph.onnx", "dtypes.onnx"] {
            let mut bytes = real_model(name);
            for (at, v) in &flips {
                let i = at.index(bytes.len());
                bytes[i] ^= v;
            }
            bytes.truncate((bytes.len() as f64 * cut) as usize);
            let _ = onnx::scan_reader(Cursor::new(bytes));
        }
    }

    /// Deeply nested graphs (an If whose branch holds an If …) and huge declared lengths.
    #[test]
    fn scanner_survives_nesting_and_huge_lengths(depth in 1usize..3000, huge in any::<u64>()) {
        // ModelProto.graph (7) → GraphProto.node (1) → NodeProto.attribute (5) → AttributeProto.g (6) → …
        let mut g = field(1, &[]);
        for _ in 0..depth {
            let attr = field(6, &g);
            let node = field(5, &attr);
            g = field(1, &node);
        }
        let model = field(7, &g);
        let _ = onnx::scan_reader(Cursor::new(model));
        // A field that declares more bytes than the file holds.
        let mut lie = vec![];
        varint(7 << 3 | 2, &mut lie);
        varint(huge, &mut lie);
        lie.extend_from_slice(&[0u8; 16]);
        prop_assert!(onnx::scan_reader(Cursor::new(lie)).is_err());
    }

    /// Worker frames: random bodies decode to an error or a message, never a panic or a huge
    /// allocation; every length prefix is checked.
    #[test]
    fn worker_frames_survive_random_bytes(body in proptest::collection::vec(any::<u8>(), 0..2048), header in any::<[u8; 4]>()) {
        let _ = ToWorker::decode(&body);
        let _ = FromWorker::decode(&body);
        let _ = frame_len(header);
    }

    /// Tensors: the shape decides the data length; overflowing shapes are refused; the
    /// canonical hash is independent of input order and binding on every field; frames round
    /// trip, and every truncation of a frame is an error.
    #[test]
    fn tensors_and_frames(dims in proptest::collection::vec(0u64..6, 0..4), dt in 0usize..13, big in proptest::collection::vec(any::<u64>(), 1..6), seed in any::<u8>()) {
        let dt = DataType::ALL[dt];
        let n = element_count(&dims).unwrap() as usize;
        let data = match dt.size() {
            Some(size) => TensorData::Fixed((0..n * size).map(|i| (i as u8).wrapping_mul(seed).min(if dt == DataType::Bool { 1 } else { 255 })).collect()),
            None => TensorData::Bytes((0..n).map(|i| vec![seed; i % 3]).collect()),
        };
        let t = Tensor::new("t", dt, dims.clone(), data).unwrap();
        let u = Tensor::new("u", DataType::Int8, vec![1], TensorData::Fixed(vec![seed])).unwrap();
        prop_assert_eq!(canonical_hash(&[t.clone(), u.clone()]), canonical_hash(&[u.clone(), t.clone()]));
        let frame = ToWorker::Run { id: 1, timeout_ms: 0, wanted: vec![], inputs: vec![t.clone(), u] }.encode();
        let body = &frame[4..];
        prop_assert_eq!(frame_len(frame[..4].try_into().unwrap()).unwrap(), body.len());
        let back = ToWorker::decode(body).unwrap();
        let ToWorker::Run { inputs, .. } = back else { panic!("not a run") };
        prop_assert_eq!(&inputs[0], &t);
        for cut in [0, body.len() / 3, body.len() / 2, body.len().saturating_sub(1)] {
            if cut < body.len() {
                prop_assert!(ToWorker::decode(&body[..cut]).is_err());
            }
        }
        // Shapes whose element count overflows u64 are an error, not a wrap.
        if element_count(&big).is_none() {
            prop_assert!(Tensor::new("b", DataType::Fp32, big, TensorData::Fixed(vec![])).is_err());
        }
    }
}
