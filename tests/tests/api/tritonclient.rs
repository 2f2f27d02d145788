//! The unmodified Python `tritonclient[http]` against the real server, in both binary modes,
//! and the unmodified `tritonclient[grpc]` against its gRPC port, each output compared bit for
//! bit with Python onnxruntime 1.31.1 (tests/python/).

use crate::{both_backends, helpers::*};

const PRICE: u128 = 7;

async fn unmodified_tritonclient_works_in_both_modes(b: Backend) {
    let srv = TestServer::start(b).await;
    let publisher = srv.key(&signer(1), "publisher").await;
    srv.register(&publisher, "tiny_mlp.onnx", "tiny-mlp", PRICE)
        .await;
    srv.register(&publisher, "silero_vad.onnx", "silero-vad", PRICE)
        .await;
    srv.register(&publisher, "dtypes.onnx", "dtypes", PRICE)
        .await;
    let key = srv.key_secret(&signer(3), "client", "tritonclient").await;
    srv.credit(&signer(3), 1_000 * PRICE).await;
    let python = repo_root().join(".tools/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `scripts/install-tools.sh py`",
        python.display()
    );

    let grpc = srv.grpc_addr();
    for (protocol, url, binary) in [
        ("http", srv.url.as_str(), "1"),
        ("http", srv.url.as_str(), "0"),
        ("grpc", grpc.as_str(), "1"),
    ] {
        let mut check = tokio::process::Command::new(&python);
        check
            .arg(repo_root().join("tests/python/tritonclient_check.py"))
            .args(["--protocol", protocol, "--url", url, "--key", &key])
            .args(["--binary", binary])
            .arg("--models-dir")
            .arg(repo_root().join(".tools/models"));
        let stdout = python_check(
            check,
            &format!("tritonclient check ({protocol}, binary={binary})"),
        )
        .await;
        if protocol == "grpc" {
            assert!(stdout.contains("auth [grpc]: ok"), "{stdout}");
        }
        for model in ["tiny-mlp", "silero-vad", "dtypes"] {
            assert!(
                stdout.contains(&format!("{model} [")) && !stdout.contains("FAIL"),
                "{protocol}, binary={binary}: no summary line for {model}:\n{stdout}"
            );
        }
    }
    // Every call the client made was metered exactly once (the call without a key was not).
    let receipts = srv.row_count("receipts").await;
    assert!(
        receipts >= 9,
        "at least one call per model and mode, got {receipts}"
    );
    let balance = srv.client().with_key(&key).balance().await.unwrap();
    assert_eq!(balance.spent_wei, (receipts as u128 * PRICE).to_string());
    srv.finish().await;
}

both_backends!(unmodified_tritonclient_works_in_both_modes);
