//! Health, readiness, metrics, OpenAPI, a database outage, and the real `imo` binary:
//! bounded memory on a 1 GiB upload and graceful shutdown on SIGTERM.

use reqwest::StatusCode;

use crate::{both_backends, helpers::*};

async fn health_metrics_and_docs(b: Backend) {
    let srv = TestServer::start(b).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", srv.url)).send();

    assert_eq!(
        get("/healthz")
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()["status"],
        "ok"
    );
    assert_eq!(srv.client().ready().await.unwrap().status, "ready");

    let spec: serde_json::Value = get("/openapi.json").await.unwrap().json().await.unwrap();
    assert_eq!(
        spec["openapi"].as_str().map(|v| v.starts_with("3.")),
        Some(true)
    );
    assert!(spec["paths"]["/v1/models"]["post"].is_object());
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("api/openapi.json")).unwrap(),
    )
    .unwrap();
    assert!(
        spec == committed,
        "the served spec differs from api/openapi.json: run `make openapi`"
    );
    let docs = get("/docs/").await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "browsable UI"
    );

    let resp = get("/no/such/route").await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "not_found"
    );

    // One metered call, so that the latency and batch histograms have samples.
    let publisher = srv.key(&signer(1), "publisher").await;
    srv.register(&publisher, "tiny_mlp.onnx", "tiny", 1).await;
    let client = srv.key(&signer(2), "client").await;
    srv.credit(&signer(2), 10).await;
    let (status, v) = client
        .infer_json(
            "tiny",
            &serde_json::json!({"inputs": [
                {"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");

    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(metrics.contains("imo_http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/healthz\""), "{metrics}");
    // Latency histograms start at 10 µs (an overhead p50 below 0.5 ms is readable); the batch
    // size histogram counts receipts, from 1.
    for series in [
        "imo_inference_overhead_seconds_bucket{model=\"tiny\",le=\"0.00001\"}",
        "imo_inference_run_seconds_bucket{model=\"tiny\",le=\"0.0001\"}",
        "imo_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.00005\"}",
        "imo_ledger_batch_size_bucket{le=\"1\"}",
    ] {
        assert!(metrics.contains(series), "{series} in:\n{metrics}");
    }
    assert!(
        !metrics.contains("imo_ledger_batch_size_bucket{le=\"0.0005\"}"),
        "the batch size has count buckets, not seconds"
    );
    srv.finish().await;
}

/// PostgreSQL goes away under a running server: readiness and writes answer 503, and the
/// failed upload leaves no file behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_and_loses_nothing() {
    let mut srv = TestServer::start(Backend::Postgres).await;
    let p = srv.key(&signer(1), "publisher").await;
    assert_eq!(srv.client().ready().await.unwrap().status, "ready");
    drop_database(srv.pg_db.as_deref().expect("a PostgreSQL test database")).await;

    let err = srv.client().ready().await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (
            Some(StatusCode::SERVICE_UNAVAILABLE),
            Some("database_unavailable")
        )
    );
    let err = refused_upload(&p).await;
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE), "{err}");
    assert!(srv.stored_files().is_empty(), "{:?}", srv.stored_files());
    if let Some(app) = srv.app.take() {
        app.shutdown().await;
    }
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The real binary: `imo keys create`, `imo serve` on port 0, a streamed 1 GiB upload with the
/// server's peak RSS under 200 MB, and a graceful stop on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_streams_a_1gib_upload_in_bounded_memory_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let env = sqlite_env(dir.path());
    let key = cli_key(&env, &signer(1), "publisher");
    let server = ImoProcess::serve(&env, &[]).await;
    let pid = server.pid();
    let client = imo_client::Client::new(&server.url).with_key(key);

    const GIB: usize = 1 << 30;
    const CHUNK: usize = 1 << 20;
    let chunks = futures_util::stream::iter(
        (0..GIB / CHUNK).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![0xFFu8; CHUNK]))),
    );
    let err = client
        .upload_model(
            &imo_client::Upload::named("huge"),
            reqwest::Body::wrap_stream(chunks),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.status(),
        Some(StatusCode::UNPROCESSABLE_ENTITY),
        "1 GiB of 0xFF is not a model: {err}"
    );
    let peak_mb = vm_hwm_kib(pid) / 1024;
    assert!(
        peak_mb < 200,
        "server peak RSS {peak_mb} MB while receiving 1 GiB"
    );
    assert!(
        std::fs::read_dir(dir.path().join("models/tmp"))
            .unwrap()
            .next()
            .is_none(),
        "staging file removed"
    );

    server.stop().await;
}

both_backends!(health_metrics_and_docs);
