//! Tests of the judge against ONNX Runtime and of the game data.

use std::path::PathBuf;

use super::*;
use crate::{config::EngineConfig, engine::Engine};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn model(name: &str) -> PathBuf {
    let p = repo_root().join(".tools/models").join(name);
    assert!(p.exists(), "{} is missing: run `scripts/install-tools.sh models`", p.display());
    p
}

fn engine() -> Engine {
    let lib = std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools/onnxruntime/libonnxruntime.so"));
    Engine::init(&EngineConfig {
        ort_library: lib,
        ..Default::default()
    })
    .expect("ONNX Runtime loads")
}

#[test]
fn compiles_the_quantized_models() {
    let p = Program::from_file(&model("quant_mlp.onnx")).unwrap();
    let ops: Vec<&str> = p.nodes.iter().map(|n| n.op.name()).collect();
    assert_eq!(ops.len(), 14);
    assert_eq!(ops[0], "QuantizeLinear");
    let p = Program::from_file(&model("quant_cnn.onnx")).unwrap();
    assert_eq!(p.node_count(), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quantized_models_are_disputable() {
    let e = engine();
    for m in ["quant_mlp.onnx", "quant_cnn.onnx"] {
        let d = assess(&model(m), &e, &[]).await.unwrap();
        assert!(d.disputable, "{m}: {:?}", d.blocked_by);
        assert_eq!(d.samples, DEFAULT_SAMPLES);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn float_matmul_is_not_disputable() {
    let d = assess(&model("tiny_mlp.onnx"), &engine(), &[]).await.unwrap();
    assert!(!d.disputable);
    let b = d.blocked_by.unwrap();
    assert_eq!(b.node.as_deref(), Some("matmul"));
    assert_eq!(b.op.as_deref(), Some("MatMul"));
}
