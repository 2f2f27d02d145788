//! Metered inference over the Open Inference Protocol: bit-exact outputs against bare ONNX
//! Runtime, signed and durable receipts, exact balances under concurrency, and every bad input.

use imo_oracle::{receipts::recover_signer, tensor::canonical_hash};
use reqwest::StatusCode;
use serde_json::json;

use imo_e2e::{binary_request, f32_bytes, split_binary, with_binary_body};

use crate::{both_backends, helpers::*};

const PRICE: u128 = 1_000;

/// A server on `b` with `file` registered as `name` by a publisher (signer 1) and a client
/// (signer 3) credited `credit` wei: the server, the publisher and the client.
async fn serving(
    b: Backend,
    file: &str,
    name: &str,
    credit: u128,
) -> (TestServer, imo_client::Client, imo_client::Client) {
    let srv = TestServer::start(b).await;
    let publisher = srv.key(&signer(1), "publisher").await;
    let client = srv.key(&signer(3), "client").await;
    srv.register(&publisher, file, name, PRICE).await;
    srv.credit(&signer(3), credit).await;
    (srv, publisher, client)
}

async fn outputs_match_bare_onnx_runtime_bit_for_bit(b: Backend) {
    let (srv, publisher, client) = serving(b, "silero_vad.onnx", "silero-vad", 10 * PRICE).await;

    // Deterministic inputs: 576 samples (64 context + 512), zero state, 16 kHz.
    let audio: Vec<f32> = (0..576).map(|i| ((i as f32) * 0.05).sin() * 0.3).collect();
    let state = vec![0f32; 2 * 128];
    let sr: i64 = 16_000;

    // Bare ONNX Runtime, same library, same pinned options.
    let (mut session, _) = srv
        .oracle
        .engine
        .session(&model("silero_vad.onnx"))
        .unwrap();
    let bare = session
        .run(ort::inputs![
            "input" => ort::value::Tensor::from_array(([1usize, 576], audio.clone())).unwrap(),
            "state" => ort::value::Tensor::from_array(([2usize, 1, 128], state.clone())).unwrap(),
            "sr" => ort::value::Tensor::from_array(((), vec![sr])).unwrap(),
        ])
        .unwrap();
    let bare_out: Vec<u8> = f32_bytes(bare["output"].try_extract_tensor::<f32>().unwrap().1);
    let bare_state: Vec<u8> = f32_bytes(bare["stateN"].try_extract_tensor::<f32>().unwrap().1);

    let (body, len) = binary_request(
        &[
            ("input", "FP32", vec![1, 576], f32_bytes(&audio)),
            ("state", "FP32", vec![2, 1, 128], f32_bytes(&state)),
            ("sr", "INT64", vec![], sr.to_le_bytes().to_vec()),
        ],
        &["output", "stateN"],
    );
    let resp = with_binary_body(
        client.request(reqwest::Method::POST, "/v2/models/silero-vad/infer"),
        body,
        len,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let header_len = resp
        .headers()
        .get("inference-header-content-length")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let receipt_header = resp
        .headers()
        .get("imo-receipt-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = resp.bytes().await.unwrap();
    let (json, raw) = split_binary(header_len, &bytes);
    assert_eq!(json["model_name"], "silero-vad");
    let names: Vec<_> = json["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    let idx = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert_eq!(
        raw[idx("output")],
        bare_out,
        "speech probability is bit-identical to bare ORT"
    );
    assert_eq!(
        raw[idx("stateN")],
        bare_state,
        "recurrent state is bit-identical to bare ORT"
    );

    // The receipt: in the parameters and the header, signed by the operator, hashes as specified.
    let receipt: imo_oracle::receipts::ReceiptRecord =
        serde_json::from_str(json["parameters"]["imo_receipt"].as_str().unwrap()).unwrap();
    assert_eq!(receipt.id, receipt_header);
    assert_eq!(json["parameters"]["imo_receipt_id"], receipt.id.as_str());
    assert_eq!(
        json["parameters"]["imo_receipt_signature"],
        receipt.signature.as_str()
    );
    assert_eq!(receipt.price_wei.0, PRICE);
    assert_eq!(receipt.client.to_string(), signer(3).address().to_string());
    let operator = srv.client().operator().await.unwrap();
    let op_signer: alloy::signers::local::PrivateKeySigner = OPERATOR_KEY.parse().unwrap();
    assert_eq!(operator.operator, op_signer.address().to_string());
    assert_eq!(
        recover_signer(&receipt, srv.oracle.inference.signer().domain())
            .unwrap()
            .to_string(),
        operator.operator
    );
    let tensor = |n: &str, dt, shape: Vec<u64>, data: Vec<u8>| {
        imo_oracle::tensor::Tensor::new(n, dt, shape, imo_oracle::tensor::TensorData::Fixed(data))
            .unwrap()
    };
    use imo_oracle::tensor::DataType::{Fp32, Int64};
    let inputs = [
        tensor("input", Fp32, vec![1, 576], f32_bytes(&audio)),
        tensor("state", Fp32, vec![2, 1, 128], f32_bytes(&state)),
        tensor("sr", Int64, vec![], sr.to_le_bytes().to_vec()),
    ];
    assert_eq!(receipt.input_hash, hex::encode(canonical_hash(&inputs)));
    let out_shape = |n: &str| {
        json["outputs"][idx(n)]["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    let outputs = [
        tensor(
            "output",
            Fp32,
            out_shape("output"),
            raw[idx("output")].clone(),
        ),
        tensor(
            "stateN",
            Fp32,
            out_shape("stateN"),
            raw[idx("stateN")].clone(),
        ),
    ];
    assert_eq!(receipt.output_hash, hex::encode(canonical_hash(&outputs)));
    assert!(
        receipt.fingerprint.contains("ort=1.31.1"),
        "{}",
        receipt.fingerprint
    );

    // Durable and fetchable: by its client, not by others.
    let stored = client.receipt(&receipt.id).await.unwrap();
    assert_eq!(
        (stored.signature.as_str(), stored.price_wei.as_str()),
        (receipt.signature.as_str(), "1000")
    );
    let other = srv.key(&signer(4), "client").await;
    assert_eq!(
        other.receipt(&receipt.id).await.unwrap_err().status(),
        Some(StatusCode::NOT_FOUND)
    );
    assert_eq!(client.receipts(&[]).await.unwrap().receipts.len(), 1);
    let bal = client.balance().await.unwrap();
    assert_eq!(
        (
            bal.balance_wei.as_str(),
            bal.spent_wei.as_str(),
            bal.reserved_wei.as_str()
        ),
        ("9000", "1000", "0")
    );

    // JSON mode and a requested subset of outputs.
    let (status, v) = client
        .infer_json(
            "silero-vad",
            &json!({
                "id": "req-1",
                "inputs": [
                    {"name": "input", "datatype": "FP32", "shape": [1, 576], "data": audio},
                    {"name": "state", "datatype": "FP32", "shape": [2, 1, 128], "data": state},
                    {"name": "sr", "datatype": "INT64", "shape": [], "data": [sr]},
                ],
                "outputs": [{"name": "output"}],
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["id"], "req-1");
    assert_eq!(v["outputs"].as_array().unwrap().len(), 1);
    let prob = v["outputs"][0]["data"][0].as_f64().unwrap() as f32;
    assert_eq!(
        prob.to_le_bytes().to_vec(),
        bare_out,
        "JSON numbers round-trip the f32 exactly"
    );

    // The publisher sees the usage of its model per day.
    let usage = publisher.usage(&[]).await.unwrap();
    assert_eq!(usage.usage.len(), 1);
    assert_eq!(
        (usage.usage[0].calls, usage.usage[0].revenue_wei.as_str()),
        (2, "2000")
    );
    assert_eq!(
        client.usage(&[]).await.unwrap_err().status(),
        Some(StatusCode::FORBIDDEN)
    );
    srv.finish().await;
}

async fn exactly_k_of_n_concurrent_calls_succeed(b: Backend) {
    const K: usize = 12;
    const N: usize = 40;
    let (srv, _, client) = serving(b, "tiny_mlp.onnx", "tiny", K as u128 * PRICE).await;
    let body = json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1.0, 2.0, 3.0, 4.0]}]});
    let calls = (0..N).map(|_| {
        let (c, body) = (client.clone(), body.clone());
        tokio::spawn(async move { c.infer_json("tiny", &body).await.unwrap() })
    });
    let results = futures_util::future::join_all(calls).await;
    let ok = results
        .iter()
        .filter(|r| r.as_ref().unwrap().0 == StatusCode::OK)
        .count();
    let refused = results
        .iter()
        .filter(|r| r.as_ref().unwrap().0 == StatusCode::PAYMENT_REQUIRED)
        .count();
    assert_eq!(
        (ok, refused),
        (K, N - K),
        "exactly K calls succeed, the rest are refused"
    );
    assert_eq!(srv.row_count("receipts").await, K as i64);
    let bal = client.balance().await.unwrap();
    assert_eq!(
        (bal.balance_wei.as_str(), bal.reserved_wei.as_str()),
        ("0", "0")
    );
    assert_eq!(bal.spent_wei, (K as u128 * PRICE).to_string());
    let (_, v) = results
        .into_iter()
        .find(|r| r.as_ref().unwrap().0 == StatusCode::PAYMENT_REQUIRED)
        .unwrap()
        .unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("insufficient balance"),
        "{v}"
    );
    srv.finish().await;
}

async fn bad_inference_requests(b: Backend) {
    let (srv, publisher, client) = serving(b, "tiny_mlp.onnx", "tiny", 100 * PRICE).await;
    srv.register(&publisher, "reshape_fail.onnx", "reshaper", PRICE)
        .await;
    let x = |shape: serde_json::Value, data: serde_json::Value| json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": shape, "data": data}]});

    let cases = vec![
        (
            "tiny",
            x(json!([1, 3]), json!([1.0, 2.0, 3.0])),
            StatusCode::BAD_REQUEST,
            "shape",
        ),
        (
            "tiny",
            x(json!([1, 4]), json!([1.0, 2.0, 3.0])),
            StatusCode::BAD_REQUEST,
            "`x`",
        ),
        (
            "tiny",
            json!({"inputs": [{"name": "x", "datatype": "INT32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}),
            StatusCode::BAD_REQUEST,
            "datatype",
        ),
        (
            "tiny",
            json!({"inputs": []}),
            StatusCode::BAD_REQUEST,
            "missing input `x`",
        ),
        (
            "tiny",
            json!({"inputs": [{"name": "z", "datatype": "FP32", "shape": [1], "data": [1.0]}]}),
            StatusCode::BAD_REQUEST,
            "`z`",
        ),
        (
            "tiny",
            json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}], "outputs": [{"name": "nope"}]}),
            StatusCode::BAD_REQUEST,
            "`nope`",
        ),
        ("tiny", json!({"inputs": "x"}), StatusCode::BAD_REQUEST, ""),
        (
            "no-such-model",
            x(json!([1, 4]), json!([1, 2, 3, 4])),
            StatusCode::NOT_FOUND,
            "no-such-model",
        ),
        (
            "reshaper",
            json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [3], "data": [1, 2, 3]}]}),
            StatusCode::BAD_REQUEST,
            "The input tensor cannot be reshaped to the requested shape",
        ),
    ];
    for (model, body, status, needle) in cases {
        let (got, v) = client.infer_json(model, &body).await.unwrap();
        assert_eq!(got, status, "{model} {body}: {v}");
        let msg = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("protocol error shape: {v}"));
        assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
        // No internal paths: ONNX Runtime's sources, the model store, the staging area.
        assert!(
            !msg.contains(".cc:") && !msg.contains("onnxruntime_src"),
            "{msg}"
        );
        assert!(!msg.contains(&*srv.dir.path().to_string_lossy()), "{msg}");
    }
    // Malformed JSON and an oversized body.
    let raw = |body: Vec<u8>| {
        client
            .request(reqwest::Method::POST, "/v2/models/tiny/infer")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let resp = raw(b"{\"inputs\": [".to_vec()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.json::<serde_json::Value>().await.unwrap()["error"].is_string());
    let resp = raw(vec![b' '; 65 * 1024 * 1024]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Auth.
    let (status, v) = srv
        .client()
        .infer_json("tiny", &x(json!([1, 4]), json!([1, 2, 3, 4])))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    let (status, _) = srv
        .client()
        .with_key("imo_bad")
        .infer_json("tiny", &x(json!([1, 4]), json!([1, 2, 3, 4])))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // None of the failures was charged or left a receipt.
    assert_eq!(srv.row_count("receipts").await, 0);
    assert_eq!(
        client.balance().await.unwrap().balance_wei,
        (100 * PRICE).to_string()
    );

    // A broke client: 402, nothing runs, nothing is written.
    let broke = srv.key(&signer(5), "client").await;
    let (status, v) = broke
        .infer_json("tiny", &x(json!([1, 4]), json!([1, 2, 3, 4])))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{v}");
    // Versions: the registered one works, another is 404.
    for (version, status) in [(1, StatusCode::OK), (9, StatusCode::NOT_FOUND)] {
        let resp = client
            .request(
                reqwest::Method::POST,
                &format!("/v2/models/tiny/versions/{version}/infer"),
            )
            .json(&x(json!([1, 4]), json!([1, 2, 3, 4])))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "version {version}");
    }
    // Deactivated: 410 Gone, not charged.
    publisher.deactivate_model("tiny").await.unwrap();
    let (status, v) = client
        .infer_json("tiny", &x(json!([1, 4]), json!([1, 2, 3, 4])))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::GONE, "{v}");
    assert!(v["error"].as_str().unwrap().contains("deactivated"), "{v}");
    assert_eq!(srv.row_count("receipts").await, 1);
    assert_eq!(
        client.balance().await.unwrap().balance_wei,
        (99 * PRICE).to_string()
    );
    srv.finish().await;
}

async fn protocol_metadata_and_health(b: Backend) {
    let srv = TestServer::start(b).await;
    let publisher = srv.key(&signer(1), "publisher").await;
    srv.register(&publisher, "tiny_mlp.onnx", "tiny", PRICE)
        .await;
    let http = reqwest::Client::new();
    let get = |p: &str| http.get(format!("{}{p}", srv.url)).send();
    let status = |p: &str| {
        let sent = get(p);
        async move { sent.await.unwrap().status() }
    };
    assert_eq!(status("/v2/health/live").await, StatusCode::OK);
    assert_eq!(status("/v2/health/ready").await, StatusCode::OK);
    let server: serde_json::Value = get("/v2").await.unwrap().json().await.unwrap();
    assert!(
        server["extensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "binary_tensor_data"),
        "{server}"
    );
    let meta: serde_json::Value = get("/v2/models/tiny").await.unwrap().json().await.unwrap();
    assert_eq!(meta["name"], "tiny");
    assert_eq!(meta["inputs"][0]["name"], "x");
    assert_eq!(meta["inputs"][0]["datatype"], "FP32");
    assert_eq!(meta["inputs"][0]["shape"], json!([-1, 4]));
    assert_eq!(status("/v2/models/tiny/versions/1").await, StatusCode::OK);
    assert_eq!(status("/v2/models/tiny/ready").await, StatusCode::OK);
    let missing = get("/v2/models/nope").await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.json::<serde_json::Value>().await.unwrap()["error"].is_string());
    // A known path with another method: 405 with the allowed ones.
    let wrong = http
        .delete(format!("{}/v2/models/tiny/ready", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.headers()["allow"], "GET");
    publisher.deactivate_model("tiny").await.unwrap();
    assert_eq!(status("/v2/models/tiny/ready").await, StatusCode::GONE);
    srv.finish().await;
}

async fn admin_credits(b: Backend) {
    let srv = TestServer::start(b).await;
    let admin = srv.key(&admin_signer(), "admin").await;
    let client = srv.key(&signer(3), "client").await;
    let addr = signer(3).address().to_string();
    let b1 = admin.credit(&addr, "500").await.unwrap();
    assert_eq!(
        (b1.balance_wei.as_str(), b1.credited_wei.as_str()),
        ("500", "500")
    );
    admin.credit(&addr, "250").await.unwrap();
    assert_eq!(client.balance().await.unwrap().balance_wei, "750");
    assert_eq!(
        client.credit(&addr, "1").await.unwrap_err().status(),
        Some(StatusCode::FORBIDDEN)
    );
    for (a, amount) in [
        ("0x12", "1"),
        (addr.as_str(), "-5"),
        (addr.as_str(), "0"),
        (addr.as_str(), "1.5"),
    ] {
        assert_eq!(
            admin.credit(a, amount).await.unwrap_err().status(),
            Some(StatusCode::BAD_REQUEST),
            "{a} {amount}"
        );
    }
    assert_eq!(srv.row_count("credits").await, 2);
    srv.finish().await;
}

both_backends!(
    outputs_match_bare_onnx_runtime_bit_for_bit,
    exactly_k_of_n_concurrent_calls_succeed,
    bad_inference_requests,
    protocol_metadata_and_health,
    admin_credits,
);
