//! Shared by the end-to-end tests (`tests/tests/api/`) and the benchmarks (`tests/benches/`):
//! running the `imo` binary, the client side of Triton's binary tensor extension, as
//! `tritonclient` speaks it, and a deterministic random source.

use std::path::{Path, PathBuf};

use serde_json::json;

/// The workspace root (where `.tools/` is).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// The environment of an `imo` binary under test: the database, a model store in `dir`, HTTP
/// and gRPC on free ports, JSON logs, ONNX Runtime from `.tools/`, the operator's key.
pub fn binary_env(dir: &Path, db_url: &str, operator_key: &str) -> Vec<(String, String)> {
    [
        ("IMO_DATABASE_URL", db_url.to_owned()),
        (
            "IMO_STORAGE_MODELS_DIR",
            dir.join("models").display().to_string(),
        ),
        ("IMO_SERVER_BIND", "127.0.0.1:0".into()),
        ("IMO_SERVER_GRPC_BIND", "127.0.0.1:0".into()),
        (
            "IMO_ENGINE_ORT_LIBRARY",
            repo_root()
                .join(".tools/onnxruntime/libonnxruntime.so")
                .display()
                .to_string(),
        ),
        ("IMO_LOG_FORMAT", "json".into()),
        ("IMO_METERING_OPERATOR_KEY", operator_key.to_owned()),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into()
}

/// Runs the `imo` binary `bin` with `args` to completion in `env`; its stdout (a failure
/// panics with its stderr).
pub fn run_binary(bin: &Path, env: &[(String, String)], args: &[&str]) -> String {
    let out = std::process::Command::new(bin)
        .args(args)
        .envs(env.iter().cloned())
        .output()
        .expect("imo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "imo {args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// `imo keys create --address <address> --role <role> --quiet` with `bin`: the new API key.
pub fn create_key(bin: &Path, env: &[(String, String)], address: &str, role: &str) -> String {
    let args = [
        "keys",
        "create",
        "--address",
        address,
        "--role",
        role,
        "--quiet",
    ];
    run_binary(bin, env, &args).trim().to_owned()
}

/// The rest of a served process's standard error (its JSON log), line by line.
pub type StderrLines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>;

/// `bin serve` (an `imo` binary) with `env` and `extra`, its stdout discarded, killed on drop;
/// returns once its log (stderr, every line of which goes to `log`) reports the address it
/// listens on: the child, the rest of its log (to be drained: a full pipe would block it) and
/// `http://<addr>`.
pub async fn serve_binary(
    bin: &Path,
    env: &[(String, String)],
    extra: &[(&str, &str)],
    log: &std::sync::Mutex<Vec<String>>,
) -> (tokio::process::Child, StderrLines, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(bin)
        .arg("serve")
        .envs(env.iter().cloned())
        .envs(extra.iter().copied())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut reader = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = reader.next_line().await.unwrap() {
            let addr = serde_json::from_str::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| v["addr"].as_str().map(str::to_owned));
            log.lock().unwrap().push(line);
            if let Some(addr) = addr {
                return addr;
            }
        }
        panic!(
            "the service exited before reporting its address:\n{}",
            log.lock().unwrap().join("\n")
        );
    })
    .await
    .expect("the service reports its address within 60 s");
    (child, reader, format!("http://{addr}"))
}

/// The Prometheus text of the service at `base_url` (`GET /metrics`).
pub async fn metrics(http: &reqwest::Client, base_url: &str) -> String {
    http.get(format!("{base_url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Runs a benchmark's `main`: `f` on a multi-thread tokio runtime with two workers.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The release `imo` next to a benchmark's executable (`make bench` builds it), or
/// `IMO_BENCH_BINARY`.
pub fn bench_binary() -> PathBuf {
    if let Some(b) = std::env::var_os("IMO_BENCH_BINARY") {
        return b.into();
    }
    let exe = std::env::current_exe().expect("bench path");
    let bin = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target dir")
        .join("imo");
    assert!(
        bin.exists(),
        "{} is missing: `make bench` builds it",
        bin.display()
    );
    bin
}

/// One input of a binary request: name, datatype, shape, raw little-endian bytes.
pub type BinaryInput<'a> = (&'a str, &'a str, Vec<u64>, Vec<u8>);

/// Builds a binary-extension request body: the JSON header (returned length goes in
/// `Inference-Header-Content-Length`), then every input's raw bytes; the named outputs are
/// requested as binary.
pub fn binary_request(inputs: &[BinaryInput<'_>], outputs: &[&str]) -> (Vec<u8>, usize) {
    let header = json!({
        "inputs": inputs.iter().map(|(n, dt, shape, data)| json!({
            "name": n, "datatype": dt, "shape": shape, "parameters": {"binary_data_size": data.len()}
        })).collect::<Vec<_>>(),
        "outputs": outputs.iter().map(|n| json!({"name": n, "parameters": {"binary_data": true}})).collect::<Vec<_>>(),
    });
    let mut body = serde_json::to_vec(&header).expect("JSON");
    let len = body.len();
    for (_, _, _, data) in inputs {
        body.extend_from_slice(data);
    }
    (body, len)
}

/// `req` with a binary-extension body from [`binary_request`]: its length header and content type.
pub fn with_binary_body(
    req: reqwest::RequestBuilder,
    body: Vec<u8>,
    header_len: usize,
) -> reqwest::RequestBuilder {
    req.header("Inference-Header-Content-Length", header_len.to_string())
        .header("content-type", "application/octet-stream")
        .body(body)
}

/// Splits a binary response into its JSON header and the raw bytes of each output, in order.
pub fn split_binary(header_len: Option<usize>, body: &[u8]) -> (serde_json::Value, Vec<Vec<u8>>) {
    let n = header_len.expect("binary response has Inference-Header-Content-Length");
    let v: serde_json::Value = serde_json::from_slice(&body[..n]).expect("JSON header");
    let mut rest = &body[n..];
    let mut out = vec![];
    for o in v["outputs"].as_array().expect("outputs") {
        let size = o["parameters"]["binary_data_size"]
            .as_u64()
            .expect("binary output") as usize;
        out.push(rest[..size].to_vec());
        rest = &rest[size..];
    }
    assert!(rest.is_empty(), "trailing bytes after the outputs");
    (v, out)
}

/// Little-endian bytes of a slice of f32.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Little-endian bytes of a slice of i64.
pub fn i64_bytes(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Deterministic pseudo-random numbers (splitmix64): the same seed, the same test data.
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// 32 random bytes.
    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut b = [0u8; 32];
        for chunk in b.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_be_bytes());
        }
        b
    }
}

/// `target/bench/summary.json`: every bench of `make bench` merges its section in, so that one
/// file holds the run's numbers and a regression shows as a diff.
pub mod bench_summary {
    use std::path::PathBuf;

    /// The summary file: `$CARGO_TARGET_DIR` (or the workspace's `target/`) `/bench/summary.json`.
    pub fn path() -> PathBuf {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
        target.join("bench").join("summary.json")
    }

    /// Replaces the section `key` of the summary with `value`, keeping the other sections.
    pub fn merge(key: &str, value: serde_json::Value) {
        let path = path();
        let mut doc = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::json!({}));
        doc[key] = value;
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create target/bench");
        std::fs::write(&path, serde_json::to_vec_pretty(&doc).expect("JSON"))
            .expect("write summary");
        println!("(results in {})", path.display());
    }
}
