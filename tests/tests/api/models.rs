//! Upload → get → list, dedupe, ownership, deactivation, weight proofs.

use imo_client::Upload;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::{both_backends, helpers::*};

fn upload(name: &str) -> Upload {
    Upload {
        name: name.into(),
        price_wei: Some("1000".into()),
        description: Some("test".into()),
        version: Some("1.0".into()),
    }
}

/// A server on `b`, a publisher (signer 1), tiny_mlp's bytes, and tiny_mlp uploaded by the
/// publisher as `name` (created).
async fn first_upload(
    b: Backend,
    name: &str,
) -> (
    TestServer,
    imo_client::Client,
    Vec<u8>,
    imo_client::dto::ModelView,
) {
    let srv = TestServer::start(b).await;
    let publisher = srv.key(&signer(1), "publisher").await;
    let bytes = model_bytes("tiny_mlp.onnx");
    let (status, m) = publisher
        .upload_model(&upload(name), bytes.clone())
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED);
    (srv, publisher, bytes, m)
}

async fn upload_get_list(b: Backend) {
    let (srv, publisher, bytes, m) = first_upload(b, "tiny-mlp").await;
    assert!(m.id.starts_with("mdl_"));
    assert_eq!(m.name, "tiny-mlp");
    assert_eq!(m.price_wei, "1000");
    assert_eq!(m.version, "1.0");
    assert_eq!(m.publisher, signer(1).address().to_string());
    assert_eq!(m.file_sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(m.file_size, bytes.len() as u64);
    assert_eq!(m.state, "registered");
    assert!(m.active);
    assert_eq!(m.tensor_count, 2);
    assert_eq!(m.weights_root.len(), 64);
    assert_eq!(m.inputs.len(), 1);
    assert_eq!(
        (m.inputs[0].name.as_str(), m.inputs[0].datatype.as_str()),
        ("x", "FP32")
    );
    assert_eq!(m.inputs[0].shape, vec![-1, 4]);
    assert_eq!(
        (m.outputs[0].name.as_str(), m.outputs[0].datatype.as_str()),
        ("y", "FP32")
    );
    assert!(
        m.opsets
            .iter()
            .any(|o| o.domain.is_empty() && o.version == 17),
        "{:?}",
        m.opsets
    );

    // Readable by anyone, by id and by name.
    let anon = srv.client();
    assert_eq!(
        anon.get_model(&m.id).await.unwrap().weights_root,
        m.weights_root
    );
    assert_eq!(anon.get_model("tiny-mlp").await.unwrap().id, m.id);
    let list = anon.list_models(&[]).await.unwrap();
    assert_eq!(
        list.models
            .iter()
            .map(|x| x.id.as_str())
            .collect::<Vec<_>>(),
        vec![m.id.as_str()]
    );

    // A real model from a PyPI package: silero VAD.
    let (status, vad) = publisher
        .upload_model(&upload("silero-vad"), model_bytes("silero_vad.onnx"))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED);
    let names: Vec<_> = vad
        .inputs
        .iter()
        .map(|t| (t.name.as_str(), t.datatype.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![("input", "FP32"), ("state", "FP32"), ("sr", "INT64")]
    );
    assert!(
        vad.tensor_count > 10,
        "silero has many weight tensors, got {}",
        vad.tensor_count
    );

    // Pagination and publisher filter.
    let page = anon.list_models(&[("limit", "1")]).await.unwrap();
    assert_eq!(page.models.len(), 1);
    let next = page.next.expect("a second page");
    let page2 = anon
        .list_models(&[("limit", "1"), ("after", &next)])
        .await
        .unwrap();
    assert_eq!(page2.models[0].id, vad.id);
    let other = signer(2).address().to_string();
    assert!(
        anon.list_models(&[("publisher", &other)])
            .await
            .unwrap()
            .models
            .is_empty()
    );

    // Every weight tensor proves into weights_root.
    let weights = anon.weights(&m.id).await.unwrap();
    assert_eq!(weights.tensors.len(), 2);
    let root: [u8; 32] = hex::decode(&m.weights_root).unwrap().try_into().unwrap();
    for t in &weights.tensors {
        let p = anon.weight_proof(&m.id, t.index).await.unwrap();
        assert_eq!(p.tensor.name, t.name);
        let leaf: [u8; 32] = hex::decode(&p.leaf).unwrap().try_into().unwrap();
        let path: Vec<[u8; 32]> = p
            .proof
            .iter()
            .map(|h| hex::decode(h).unwrap().try_into().unwrap())
            .collect();
        assert!(imo_oracle::onnx::verify_inclusion(
            leaf, p.index, p.count, &path, root
        ));
        assert!(!imo_oracle::onnx::verify_inclusion(
            leaf,
            p.index ^ 1,
            p.count,
            &path,
            root
        ));
    }
    let err = anon.weight_proof(&m.id, 99).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    srv.finish().await;
}

async fn dedupe(b: Backend) {
    let (srv, a, bytes, m1) = first_upload(b, "first").await;
    // Same weights, same publisher: the existing model, unchanged.
    let (s2, m2) = a
        .upload_model(&upload("second-name"), bytes.clone())
        .await
        .unwrap();
    assert_eq!(s2, StatusCode::OK);
    assert_eq!(m2.id, m1.id);
    assert_eq!(m2.name, "first");
    assert_eq!(srv.row_count("models").await, 1);
    assert_eq!(srv.stored_files().len(), 1, "{:?}", srv.stored_files());
    // Same weights, another publisher: conflict, nothing stored.
    let b2 = srv.key(&signer(2), "publisher").await;
    let err = b2
        .upload_model(&upload("thief"), bytes.clone())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(StatusCode::CONFLICT), Some("conflict"))
    );
    // A taken name with different weights: conflict.
    let err = a
        .upload_model(&upload("first"), model_bytes("with_subgraph.onnx"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::CONFLICT));
    assert!(err.to_string().contains("name"), "{err}");
    assert_eq!(srv.row_count("models").await, 1);
    assert_eq!(srv.stored_files().len(), 1);
    srv.finish().await;
}

async fn ownership(b: Backend) {
    let srv = TestServer::start(b).await;
    let a = srv.key(&signer(1), "publisher").await;
    let other = srv.key(&signer(2), "publisher").await;
    let client = srv.key(&signer(3), "client").await;
    let admin = srv.key(&admin_signer(), "admin").await;
    let (_, m) = a
        .upload_model(&upload("owned"), model_bytes("tiny_mlp.onnx"))
        .await
        .unwrap();

    let patch = serde_json::json!({ "price_wei": "5" });
    for intruder in [&other, &client] {
        let err = intruder.update_model(&m.id, &patch).await.unwrap_err();
        assert_eq!(
            (err.status(), err.code()),
            (Some(StatusCode::FORBIDDEN), Some("forbidden"))
        );
        let err = intruder.deactivate_model(&m.id).await.unwrap_err();
        assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
    }
    let err = client
        .upload_model(&upload("by-client"), model_bytes("with_subgraph.onnx"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
    assert_eq!(
        srv.client().get_model(&m.id).await.unwrap().price_wei,
        "1000"
    );

    let updated = a
        .update_model(
            &m.id,
            &serde_json::json!({ "price_wei": "2500", "description": "new" }),
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.price_wei.as_str(), updated.description.as_str()),
        ("2500", "new")
    );
    assert!(updated.updated_at_ms >= m.updated_at_ms);
    let by_admin = admin
        .update_model(&m.id, &serde_json::json!({ "price_wei": "7" }))
        .await
        .unwrap();
    assert_eq!(by_admin.price_wei, "7");
    let err = a
        .update_model(&m.id, &serde_json::json!({ "price_wei": "-1" }))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    let err = a.update_model("mdl_nope", &patch).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));

    let off = a.deactivate_model(&m.id).await.unwrap();
    assert!(!off.active);
    assert!(
        a.deactivate_model(&m.id).await.unwrap().active.eq(&false),
        "idempotent"
    );
    assert!(
        srv.client()
            .list_models(&[])
            .await
            .unwrap()
            .models
            .is_empty()
    );
    let all = srv
        .client()
        .list_models(&[("include_inactive", "true")])
        .await
        .unwrap();
    assert_eq!(all.models.len(), 1);
    srv.finish().await;
}

/// Issue 13, point 1: at registration the service runs sample inputs through ONNX Runtime and
/// the reference interpreter and marks the model disputable only where they agree bit for bit;
/// otherwise the API names the op that blocked it. A model first served under another
/// execution fingerprint is assessed again.
async fn disputability(b: Backend) {
    use imo_client::dto::DisputeStatus;
    use sea_orm::ConnectionTrait;
    let srv = TestServer::start(b).await;
    let publisher = srv.key(&signer(1), "publisher").await;

    let q = srv
        .register(&publisher, "quant_mlp.onnx", "quant-mlp", 0)
        .await;
    assert_eq!(
        q.dispute.status,
        DisputeStatus::Disputable,
        "{:?}",
        q.dispute
    );
    let program = q.dispute.program_id.clone().expect("a program id");
    assert!(
        program.starts_with("0x") && program.len() == 66,
        "{program}"
    );
    let fingerprint = q.dispute.fingerprint.clone().expect("a fingerprint");
    assert!(fingerprint.starts_with("ort="), "{fingerprint}");
    assert!(q.dispute.blocked_by.is_none());

    // Float MatMul is outside the judge's op set: blocked, and the node and op are named.
    let t = srv
        .register(&publisher, "tiny_mlp.onnx", "tiny-mlp", 0)
        .await;
    assert_eq!(t.dispute.status, DisputeStatus::Blocked, "{:?}", t.dispute);
    let blocker = t.dispute.blocked_by.clone().expect("what blocked it");
    assert_eq!(blocker.op.as_deref(), Some("MatMul"), "{blocker:?}");
    assert!(
        blocker.node.is_some() && !blocker.reason.is_empty(),
        "{blocker:?}"
    );
    assert!(t.dispute.program_id.is_none());

    // As if the verdict had been reached under another ONNX Runtime build: the first load
    // under this process's fingerprint assesses again and stores the new verdict.
    let db = &srv.oracle.db;
    db.execute_unprepared(&format!(
        "UPDATE models SET dispute_fingerprint = 'ort=0.0.0;ep=cpu' WHERE id = '{}'",
        q.id
    ))
    .await
    .unwrap();
    let stale = srv.client().get_model(&q.id).await.unwrap();
    assert_eq!(
        stale.dispute.fingerprint.as_deref(),
        Some("ort=0.0.0;ep=cpu")
    );
    let client = srv.key(&signer(2), "client").await;
    let body = serde_json::json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 16], "data": vec![0.5f32; 16]}]});
    let (status, v) = client.infer_json("quant-mlp", &body).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    let m = eventually(
        "the model re-assessed under this fingerprint",
        std::time::Duration::from_secs(60),
        || async {
            let m = srv.client().get_model(&q.id).await.unwrap();
            (m.dispute.fingerprint.as_deref() == Some(fingerprint.as_str())).then_some(m)
        },
    )
    .await;
    assert_eq!(m.dispute.status, DisputeStatus::Disputable);
    assert_eq!(m.dispute.program_id.as_deref(), Some(program.as_str()));
    srv.finish().await;
}

both_backends!(upload_get_list, dedupe, ownership, disputability);
