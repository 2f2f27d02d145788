//! Every bad upload gets a clear error and leaves nothing behind: no file, no row.

use imo_client::{Client, ClientError, Upload};
use reqwest::StatusCode;

use crate::{both_backends, helpers::*};

async fn assert_clean(srv: &TestServer) {
    assert_eq!(srv.row_count("models").await, 0, "no orphan model row");
    assert_eq!(
        srv.row_count("model_tensors").await,
        0,
        "no orphan tensor rows"
    );
    assert!(
        srv.stored_files().is_empty(),
        "no orphan files: {:?}",
        srv.stored_files()
    );
}

async fn expect(
    client: &Client,
    name: &str,
    body: Vec<u8>,
    status: StatusCode,
    code: &str,
) -> ClientError {
    let err = client
        .upload_model(&Upload::named(name), body)
        .await
        .expect_err("upload must fail");
    assert_eq!(err.status(), Some(status), "{name}: {err}");
    assert_eq!(err.code(), Some(code), "{name}: {err}");
    err
}

async fn invalid_models_are_rejected(b: Backend) {
    let srv = TestServer::start(b).await;
    let p = srv.key(&signer(1), "publisher").await;
    let valid = model_bytes("tiny_mlp.onnx");
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;

    let mut noise = vec![0u8; 4096];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut noise);
    expect(&p, "noise", noise, unprocessable, "invalid_model").await;
    for cut in [1, 10, valid.len() / 2, valid.len() - 1] {
        let err = expect(
            &p,
            "truncated",
            valid[..cut].to_vec(),
            unprocessable,
            "invalid_model",
        )
        .await;
        assert!(err.to_string().contains("invalid ONNX model"), "{err}");
    }
    let err = expect(
        &p,
        "tensor",
        model_bytes("not_a_model.pb"),
        unprocessable,
        "invalid_model",
    )
    .await;
    assert!(err.to_string().to_lowercase().contains("model"), "{err}");
    let err = expect(
        &p,
        "external",
        model_bytes("external_data.onnx"),
        unprocessable,
        "invalid_model",
    )
    .await;
    assert!(
        err.to_string().contains("external"),
        "names the missing external data: {err}"
    );
    expect(&p, "empty", vec![], unprocessable, "invalid_model").await;

    // Metadata errors are 400 and are found before anything is stored (a value outside its
    // declared pattern is refused as the query is parsed: `bad_request`).
    expect(
        &p,
        "bad name!",
        valid.clone(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let bad_price = Upload {
        name: "ok".into(),
        price_wei: Some("1.5".into()),
        ..Default::default()
    };
    let err = p.upload_model(&bad_price, valid.clone()).await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));

    // Wrong content type: 415; missing name: 400; both in our error format.
    for (path, content_type, status, code) in [
        (
            "/v1/models?name=json",
            "application/json",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "/v1/models",
            "application/octet-stream",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ] {
        let resp = p
            .request(reqwest::Method::POST, path)
            .header("content-type", content_type)
            .body(valid.clone())
            .send()
            .await
            .unwrap();
        assert_error(resp, status, code, path).await;
    }

    assert_clean(&srv).await;
    assert_eq!(
        std::fs::read_dir(srv.dir.path().join("models/tmp"))
            .unwrap()
            .count(),
        0,
        "no staging leftovers"
    );
    srv.finish().await;
}

async fn oversized_uploads_are_refused(b: Backend) {
    let srv = TestServer::start_with(b, |c| c.storage.max_upload_bytes = 64 * 1024).await;
    let p = srv.key(&signer(1), "publisher").await;
    // Declared length over the limit: refused before reading.
    expect(
        &p,
        "big",
        vec![0u8; 200 * 1024],
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    // Chunked (no Content-Length): refused while streaming.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..20)
        .map(|_| Ok(bytes::Bytes::from(vec![7u8; 16 * 1024])))
        .collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let err = p
        .upload_model(&Upload::named("chunked"), body)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::PAYLOAD_TOO_LARGE), "{err}");
    assert_clean(&srv).await;
    // A model under the limit still works.
    let (status, _) = p
        .upload_model(&Upload::named("small"), model_bytes("tiny_mlp.onnx"))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED);
    srv.finish().await;
}

async fn malformed_requests(b: Backend) {
    let srv = TestServer::start_with(b, |c| c.server.max_json_bytes = 1024).await;
    let p = srv.key(&signer(1), "publisher").await;
    let (_, m) = p
        .upload_model(&Upload::named("m"), model_bytes("tiny_mlp.onnx"))
        .await
        .unwrap();
    let patch = |body: Vec<u8>, ct: &'static str| {
        p.request(reqwest::Method::PATCH, &format!("/v1/models/{}", m.id))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let cases: Vec<(Vec<u8>, &str, StatusCode, &str)> = vec![
        (
            b"{\"price_wei\": ".to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            b"{\"price_wei\": 5}".to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            b"{\"nope\": \"5\"}".to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            b"{}".to_vec(),
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            format!("{{\"description\": \"{}\"}}", "x".repeat(4096)).into_bytes(),
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (body, ct, status, code) in cases {
        let resp = patch(body, ct).await.unwrap();
        assert_eq!(resp.status(), status);
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
    }
    assert_eq!(
        srv.client().get_model(&m.id).await.unwrap().price_wei,
        "0",
        "nothing changed"
    );
    let err = srv.client().get_model("no-such-model").await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(StatusCode::NOT_FOUND), Some("not_found"))
    );
    srv.finish().await;
}

both_backends!(
    invalid_models_are_rejected,
    oversized_uploads_are_refused,
    malformed_requests
);
