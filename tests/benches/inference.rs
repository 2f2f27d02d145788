//! `make bench`: the metered HTTP service against bare ONNX Runtime on the same inputs, and the
//! receipts per second the persistence layer sustains on SQLite and PostgreSQL.
//!
//! (a) bare: in-process `ort` session, one intra-op thread, the service's pinned options;
//! (b) service: `POST /v2/models/{m}/infer` over loopback HTTP with auth, validation,
//!     reservation, inference, EIP-712 signing and a durable receipt + debit, binary tensors.
//! Trials alternate a, b, a, b, …; each statistic is the median over trials. Server-side
//! overhead is `total - infer` from the service's `Server-Timing` header, which also gives the
//! p50 of every step (printed next to the floors measured in the same run: fdatasync, one
//! SQLite and one PostgreSQL commit, one secp256k1 signature, one SHA-256 of the tensors).
//! Concurrency: 8 concurrent HTTP clients against bare ORT with one session per core on as
//! many threads (the service runs one session per core too). Everything also goes to
//! `target/bench/summary.json`.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use imo_e2e::{BinaryInput, binary_request, f32_bytes, i64_bytes, split_binary, with_binary_body};
use imo_oracle::{Oracle, config::Config, ledger::Ledger, receipts::ReceiptRecord, types::Wei};
use sea_orm::{ConnectionTrait, Database};

const OPERATOR_KEY: &str = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6";
const TRIALS: usize = 5;

// The release `imo` next to this bench (`make bench` builds it): models run in its workers.
use imo_e2e::{bench_binary as imo_binary, repo_root as root};

fn model(name: &str) -> PathBuf {
    let p = root().join(".tools/models").join(name);
    assert!(
        p.exists(),
        "{} missing: run `scripts/install-tools.sh` (make bench does)",
        p.display()
    );
    p
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[derive(Default)]
struct Trials {
    calls_per_s: Vec<f64>,
    p50_us: Vec<f64>,
    p99_us: Vec<f64>,
    overhead_p50_us: Vec<f64>,
}

impl Trials {
    fn add(&mut self, mut lat_us: Vec<f64>, wall: Duration, mut overhead_us: Vec<f64>) {
        self.calls_per_s
            .push(lat_us.len() as f64 / wall.as_secs_f64());
        lat_us.sort_by(|a, b| a.partial_cmp(b).unwrap());
        self.p50_us.push(pct(&lat_us, 0.5));
        self.p99_us.push(pct(&lat_us, 0.99));
        if !overhead_us.is_empty() {
            overhead_us.sort_by(|a, b| a.partial_cmp(b).unwrap());
            self.overhead_p50_us.push(pct(&overhead_us, 0.5));
        }
    }
}

struct Case {
    name: &'static str,
    file: &'static str,
    calls: usize,
    inputs: Vec<BinaryInput<'static>>,
    outputs: Vec<&'static str>,
}

fn cases() -> Vec<Case> {
    let audio: Vec<f32> = (0..576).map(|i| ((i as f32) * 0.05).sin() * 0.3).collect();
    let ids: Vec<i64> = std::iter::once(101)
        .chain((0..30).map(|i| 1000 + (i * 37) % 20000))
        .chain(std::iter::once(102))
        .collect();
    vec![
        Case {
            name: "silero-vad",
            file: "silero_vad.onnx",
            calls: 2000,
            inputs: vec![
                ("input", "FP32", vec![1, 576], f32_bytes(&audio)),
                ("state", "FP32", vec![2, 1, 128], f32_bytes(&[0.0; 256])),
                ("sr", "INT64", vec![], i64_bytes(&[16_000])),
            ],
            outputs: vec!["output", "stateN"],
        },
        Case {
            name: "minilm-int8",
            file: "minilm_int8.onnx",
            calls: 150,
            inputs: vec![
                ("input_ids", "INT64", vec![1, 32], i64_bytes(&ids)),
                ("attention_mask", "INT64", vec![1, 32], i64_bytes(&[1; 32])),
                ("token_type_ids", "INT64", vec![1, 32], i64_bytes(&[0; 32])),
            ],
            outputs: vec!["last_hidden_state"],
        },
    ]
}

/// A tensor of `shape` from little-endian `bytes`, `N` bytes an element.
fn bare_tensor<T, const N: usize>(
    shape: Vec<i64>,
    bytes: &[u8],
    from_le_bytes: fn([u8; N]) -> T,
) -> ort::value::DynValue
where
    T: ort::value::PrimitiveTensorElementType + std::fmt::Debug + Clone + 'static,
{
    let data: Vec<T> = bytes
        .chunks_exact(N)
        .map(|c| from_le_bytes(c.try_into().unwrap()))
        .collect();
    ort::value::Tensor::from_array((shape, data))
        .unwrap()
        .into_dyn()
}

fn bare_inputs(case: &Case) -> Vec<(String, ort::session::SessionInputValue<'static>)> {
    case.inputs
        .iter()
        .map(|(name, dt, shape, bytes)| {
            let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
            let v = match *dt {
                "FP32" => bare_tensor(shape, bytes, f32::from_le_bytes),
                "INT64" => bare_tensor(shape, bytes, i64::from_le_bytes),
                other => panic!("bench inputs are FP32/INT64, not {other}"),
            };
            (name.to_string(), v.into())
        })
        .collect()
}

async fn start_service(dir: &Path, sessions: usize) -> (Oracle, imo_api::app::App) {
    let mut cfg = Config::default();
    cfg.server.bind = "127.0.0.1:0".parse().unwrap();
    cfg.server.grpc_bind = "127.0.0.1:0".parse().unwrap();
    cfg.server.workers = 1;
    cfg.database.url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    cfg.storage.models_dir = dir.join("models");
    cfg.engine.ort_library = root().join(".tools/onnxruntime/libonnxruntime.so");
    cfg.engine.sessions_per_model = sessions;
    cfg.engine.worker_binary = Some(imo_binary());
    cfg.metering.operator_key = Some(OPERATOR_KEY.into());
    cfg.log.filter = "warn".into();
    let app = imo_api::app::App::build(cfg, std::sync::Arc::new(imo_oracle::clock::SystemClock))
        .await
        .expect("service starts");
    (app.oracle.clone(), app)
}

/// A publisher key and a client key with an (effectively) unlimited balance.
async fn setup_keys(oracle: &Oracle) -> (String, String) {
    let signer = |n: u8| {
        let mut k = [0x11u8; 32];
        k[31] = n;
        alloy::signers::local::PrivateKeySigner::from_slice(&k).unwrap()
    };
    let (publisher, client) = (signer(1), signer(2));
    let key = move |who: &alloy::signers::local::PrivateKeySigner, role: &str| {
        oracle.auth.create_key(
            who.address().to_string().parse().unwrap(),
            role.parse().unwrap(),
            imo_oracle::types::BoundedText::parse("label", "bench", 10).unwrap(),
        )
    };
    let pkey = key(&publisher, "publisher").await.unwrap();
    let ckey = key(&client, "client").await.unwrap();
    oracle
        .inference
        .ledger()
        .credit(
            client.address().to_string().parse().unwrap(),
            Wei(u128::MAX / 4),
            "bench",
        )
        .await
        .unwrap();
    (pkey.secret, ckey.secret)
}

/// The p50 of each `Server-Timing` step over all calls, in µs, in the order the server sends them.
#[derive(Default)]
struct Steps(Vec<(String, Vec<f64>)>);

impl Steps {
    fn add(&mut self, header: &str) {
        for part in header.split(',') {
            let Some((k, v)) = part.trim().split_once(";dur=") else {
                continue;
            };
            let us = v.parse::<f64>().unwrap() * 1e3;
            match self.0.iter_mut().find(|(n, _)| n == k) {
                Some((_, vals)) => vals.push(us),
                None => self.0.push((k.to_owned(), vec![us])),
            }
        }
    }

    fn p50(&self) -> Vec<(String, f64)> {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), median(v.clone())))
            .collect()
    }
}

/// `clients` concurrent callers share `total` calls of `call`; calls/s.
async fn concurrent<F, Fut>(clients: usize, total: usize, call: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                for _ in 0..total / clients {
                    call().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (total / clients * clients) as f64 / t0.elapsed().as_secs_f64()
}

/// Bare ONNX Runtime with `sessions` sessions on as many threads sharing `total` calls; calls/s.
fn bare_concurrent(case: &Case, oracle: &Oracle, sessions: usize, total: usize) -> f64 {
    let mut pool: Vec<_> = (0..sessions)
        .map(|_| oracle.engine.session(&model(case.file)).unwrap().0)
        .collect();
    for s in &mut pool {
        drop(s.run(bare_inputs(case)).unwrap());
    }
    let t0 = Instant::now();
    std::thread::scope(|scope| {
        for s in &mut pool {
            scope.spawn(move || {
                for _ in 0..total / sessions {
                    std::hint::black_box(s.run(bare_inputs(case)).unwrap());
                }
            });
        }
    });
    (total / sessions * sessions) as f64 / t0.elapsed().as_secs_f64()
}

async fn http_vs_bare(oracle: &Oracle, url: &str) -> serde_json::Value {
    let mut summary = serde_json::Map::new();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (pkey, ckey) = setup_keys(oracle).await;
    let api = imo_client::Client::new(url);
    let http = reqwest::Client::new();

    println!(
        "\n## service (b) vs bare ONNX Runtime (a): closed loop, one call at a time, medians of {TRIALS} alternating trials\n"
    );
    println!(
        "| model | calls/trial | a calls/s | b calls/s | b/a | a p50 µs | b p50 µs | a p99 µs | b p99 µs | server overhead p50 µs | a calls/s, {cores} sessions on {cores} threads | b calls/s, 8 concurrent clients | b/a concurrent |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut step_rows = vec![];
    for case in cases() {
        let meta = imo_client::Upload {
            name: case.name.into(),
            price_wei: Some("1".into()),
            ..Default::default()
        };
        api.with_key(&pkey)
            .upload_model(&meta, std::fs::read(model(case.file)).unwrap())
            .await
            .unwrap();
        let (mut session, _) = oracle.engine.session(&model(case.file)).unwrap();
        let (body, header_len) = binary_request(&case.inputs, &case.outputs);
        let infer_url = format!("{url}/v2/models/{}/infer", case.name);
        let call = || {
            with_binary_body(
                http.post(&infer_url).bearer_auth(&ckey),
                body.clone(),
                header_len,
            )
            .send()
        };
        // Warm both paths (model load, first allocations) and check they agree bit for bit.
        let bare = session.run(bare_inputs(&case)).unwrap();
        let bare_first = f32_bytes(bare[case.outputs[0]].try_extract_tensor::<f32>().unwrap().1);
        drop(bare);
        let resp = call().await.unwrap();
        assert_eq!(resp.status(), 200);
        let hl = resp
            .headers()
            .get("inference-header-content-length")
            .map(|v| v.to_str().unwrap().parse().unwrap());
        let (_, raw) = split_binary(hl, &resp.bytes().await.unwrap());
        assert_eq!(
            raw[0], bare_first,
            "{}: service output differs from bare ORT",
            case.name
        );

        let (mut a, mut b) = (Trials::default(), Trials::default());
        let mut steps = Steps::default();
        for _ in 0..TRIALS {
            let mut lat = Vec::with_capacity(case.calls);
            let t0 = Instant::now();
            for _ in 0..case.calls {
                let t = Instant::now();
                let out = session.run(bare_inputs(&case)).unwrap();
                std::hint::black_box(&out);
                drop(out);
                lat.push(t.elapsed().as_secs_f64() * 1e6);
            }
            a.add(lat, t0.elapsed(), vec![]);

            let (mut lat, mut overhead) = (
                Vec::with_capacity(case.calls),
                Vec::with_capacity(case.calls),
            );
            let t0 = Instant::now();
            for _ in 0..case.calls {
                let t = Instant::now();
                let resp = call().await.unwrap();
                let timing = resp
                    .headers()
                    .get("server-timing")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                let bytes = resp.bytes().await.unwrap();
                std::hint::black_box(&bytes);
                lat.push(t.elapsed().as_secs_f64() * 1e6);
                steps.add(&timing);
                let dur = |k: &str| -> f64 {
                    timing
                        .split(',')
                        .find_map(|p| p.trim().strip_prefix(k))
                        .and_then(|r| r.strip_prefix(";dur="))
                        .unwrap()
                        .parse()
                        .unwrap()
                };
                overhead.push((dur("total") - dur("infer")) * 1e3);
            }
            b.add(lat, t0.elapsed(), overhead);
        }
        let (ar, br) = (median(a.calls_per_s.clone()), median(b.calls_per_s.clone()));
        // 8 concurrent clients against bare ORT with one session per core on as many threads.
        let (mut ca, mut cb) = (vec![], vec![]);
        for _ in 0..3 {
            ca.push(bare_concurrent(&case, oracle, cores, case.calls));
            let (http, infer_url, body, ckey) =
                (http.clone(), infer_url.clone(), body.clone(), ckey.clone());
            cb.push(
                concurrent(8, case.calls, move || {
                    let req = with_binary_body(
                        http.post(&infer_url).bearer_auth(&ckey),
                        body.clone(),
                        header_len,
                    );
                    async move {
                        let resp = req.send().await.unwrap();
                        assert_eq!(resp.status(), 200);
                        std::hint::black_box(resp.bytes().await.unwrap());
                    }
                })
                .await,
            );
        }
        let (car, cbr) = (median(ca), median(cb));
        let overhead = median(b.overhead_p50_us.clone());
        println!(
            "| {} | {} | {:.0} | {:.0} | **{:.3}** | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {car:.0} | {cbr:.0} | **{:.3}** |",
            case.name,
            case.calls,
            ar,
            br,
            br / ar,
            median(a.p50_us.clone()),
            median(b.p50_us.clone()),
            median(a.p99_us.clone()),
            median(b.p99_us.clone()),
            overhead,
            cbr / car
        );
        let steps = steps.p50();
        summary.insert(
            case.name.into(),
            serde_json::json!({
                "ratio_sequential": br / ar,
                "ratio_concurrent_8": cbr / car,
                "overhead_p50_us": overhead,
                "server_steps_p50_us": steps.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
                "bare_ort": {
                    "sequential": {"p50_us": median(a.p50_us), "p99_us": median(a.p99_us), "calls_per_s": ar},
                    "concurrent_8": {"calls_per_s": car, "sessions": cores},
                },
                "imo_http": {
                    "sequential": {"p50_us": median(b.p50_us), "p99_us": median(b.p99_us), "calls_per_s": br},
                    "concurrent_8": {"calls_per_s": cbr},
                },
            }),
        );
        step_rows.push((case.name, steps));
    }
    println!(
        "\nServer-side steps, p50 µs per call (`Server-Timing`; sequential calls above; `run` = the model's worker incl. ONNX Runtime, `total` = authentication to response):\n"
    );
    let names: Vec<String> = step_rows
        .first()
        .map(|(_, s)| s.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    println!("| model | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(names.len()));
    for (model, steps) in &step_rows {
        println!(
            "| {model} | {} |",
            steps
                .iter()
                .map(|(_, v)| format!("{v:.1}"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    serde_json::Value::Object(summary)
}

/// The floors of a metered call's steps, measured in this run: one fdatasync of the disk under
/// the database, one SQLite commit (one row, the service's pragmas), one PostgreSQL commit, one
/// secp256k1 EIP-712 receipt signature, one canonical SHA-256 of silero's input tensors.
async fn floors(oracle: &Oracle, dir: &Path) -> serde_json::Value {
    const N: usize = 300;
    let p50 = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        pct(&v, 0.5)
    };
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1e6
    };
    // fdatasync of a 4 KiB append.
    let mut file = std::fs::File::create(dir.join("fsync.bin")).unwrap();
    let fsync = p50((0..N)
        .map(|_| {
            time(&mut || {
                use std::io::Write;
                file.write_all(&[7u8; 4096]).unwrap();
                file.sync_data().unwrap();
            })
        })
        .collect());
    // One-row commits, into a table `floor` of the database at `url`.
    async fn floor_db(url: &str) -> sea_orm::DatabaseConnection {
        let db = imo_oracle::db::connect(&imo_oracle::config::DatabaseConfig {
            url: url.into(),
            ..Default::default()
        })
        .await
        .unwrap();
        db.execute_unprepared("CREATE TABLE IF NOT EXISTS floor (id BIGINT PRIMARY KEY, v TEXT)")
            .await
            .unwrap();
        db
    }
    async fn commits(url: &str) -> f64 {
        let db = floor_db(url).await;
        let mut lat = vec![];
        for i in 0..N {
            let t = Instant::now();
            let tx = sea_orm::TransactionTrait::begin(&db).await.unwrap();
            tx.execute_unprepared(&format!("INSERT INTO floor VALUES ({i}, 'x')"))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1e6);
        }
        db.close().await.ok();
        median(lat)
    }
    let sqlite = commits(&format!(
        "sqlite://{}?mode=rwc",
        dir.join("floor.db").display()
    ))
    .await;
    // The same commit on the ledger writer's own connection (`db::direct`).
    let sqlite_direct = {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.join("floor-direct.db").display()
        );
        let db = floor_db(&url).await;
        let mut direct = imo_oracle::db::direct::DirectSqlite::beside(&db)
            .unwrap()
            .expect("a SQLite file");
        p50((0..N)
            .map(|i| {
                let insert = sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Sqlite,
                    format!("INSERT INTO floor VALUES ({i}, 'x')"),
                );
                time(&mut || direct.commit(std::slice::from_ref(&insert)).unwrap())
            })
            .collect())
    };
    let postgres = match postgres_admin().await {
        Ok(admin) => {
            let conn = Database::connect(&admin).await.unwrap();
            let name = format!("imo_test_bench_floor_{}", std::process::id());
            let v = commits(&fresh_pg(&conn, &admin, &name).await).await;
            drop_pg(&conn, &name).await;
            Some(v)
        }
        Err(e) => {
            eprintln!("warning: {e}");
            None
        }
    };
    // One receipt signature, as the service signs.
    let mut receipt = bench_receipt(ulid::Ulid::new().to_string(), String::new());
    let signer = oracle.inference.signer();
    let sign = p50((0..N)
        .map(|_| time(&mut || signer.sign(&mut receipt).unwrap()))
        .collect());
    // The same signature through alloy's k256 signer (what receipts were signed with before).
    let k256: alloy::signers::local::PrivateKeySigner = OPERATOR_KEY.parse().unwrap();
    let hash = alloy::primitives::keccak256(b"receipt");
    let sign_k256 = p50((0..N)
        .map(|_| {
            time(&mut || {
                std::hint::black_box(
                    alloy::signers::SignerSync::sign_hash_sync(&k256, &hash).unwrap(),
                );
            })
        })
        .collect());
    // One canonical hash of silero's inputs.
    let silero = cases().into_iter().next().unwrap();
    let tensors: Vec<imo_oracle::tensor::Tensor> = silero
        .inputs
        .iter()
        .map(|(name, dt, shape, bytes)| {
            imo_oracle::tensor::Tensor::new(
                *name,
                imo_oracle::tensor::DataType::parse(dt).unwrap(),
                shape.to_vec(),
                imo_oracle::tensor::TensorData::Fixed(bytes.to_vec()),
            )
            .unwrap()
        })
        .collect();
    let sha = p50((0..N)
        .map(|_| {
            time(&mut || {
                std::hint::black_box(imo_oracle::tensor::canonical_hash(&tensors));
            })
        })
        .collect());
    println!("\nFloors measured in this run (p50 µs of {N}):\n");
    println!(
        "| fdatasync (4 KiB) | SQLite commit through sqlx (1 row, WAL, NORMAL) | the same on the ledger's own connection | PostgreSQL commit (1 row) | receipt signature (EIP-712 hash + libsecp256k1) | k256 signature of a hash (before) | SHA-256 of silero's inputs |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {fsync:.1} | {sqlite:.1} | {sqlite_direct:.1} | {} | {sign:.1} | {sign_k256:.1} | {sha:.1} |",
        postgres.map_or("n/a".into(), |p| format!("{p:.1}"))
    );
    serde_json::json!({
        "fdatasync_4k_us": fsync,
        "sqlite_commit_us": sqlite,
        "sqlite_direct_commit_us": sqlite_direct,
        "postgres_commit_us": postgres,
        "secp256k1_sign_us": sign,
        "k256_sign_us": sign_k256,
        "sha256_silero_inputs_us": sha,
    })
}

/// Why a session pool: two concurrent clients on one model, with one shared session (every
/// call serialised on it, as a single session behind a lock would be) and with one session per
/// core (the default), on MiniLM.
async fn concurrency() {
    const CALLS: usize = 60;
    println!(
        "\n## sessions per model: 2 concurrent clients x {CALLS} calls on minilm-int8, medians of 3 trials\n"
    );
    println!("| sessions per model | calls/s | vs 1 session |");
    println!("|---|---|---|");
    let case = cases()
        .into_iter()
        .find(|c| c.name == "minilm-int8")
        .unwrap();
    let (body, header_len) = binary_request(&case.inputs, &case.outputs);
    let mut base = 0.0;
    for sessions in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let (oracle, server) = start_service(dir.path(), sessions).await;
        let url = server.url();
        let (pkey, ckey) = setup_keys(&oracle).await;
        let meta = imo_client::Upload {
            name: case.name.into(),
            price_wei: Some("1".into()),
            ..Default::default()
        };
        imo_client::Client::new(&url)
            .with_key(&pkey)
            .upload_model(&meta, std::fs::read(model(case.file)).unwrap())
            .await
            .unwrap();
        let infer_url = format!("{url}/v2/models/{}/infer", case.name);
        let mut rates = vec![];
        for _ in 0..3 {
            let t0 = Instant::now();
            let clients: Vec<_> = (0..2)
                .map(|_| {
                    let (infer_url, body, ckey) = (infer_url.clone(), body.clone(), ckey.clone());
                    tokio::spawn(async move {
                        let http = reqwest::Client::new();
                        for _ in 0..CALLS {
                            let resp = with_binary_body(
                                http.post(&infer_url).bearer_auth(&ckey),
                                body.clone(),
                                header_len,
                            )
                            .send()
                            .await
                            .unwrap();
                            assert_eq!(resp.status(), 200);
                            std::hint::black_box(resp.bytes().await.unwrap());
                        }
                    })
                })
                .collect();
            for c in clients {
                c.await.unwrap();
            }
            rates.push((2 * CALLS) as f64 / t0.elapsed().as_secs_f64());
        }
        let rate = median(rates);
        if sessions == 1 {
            base = rate;
        }
        println!("| {sessions} | {rate:.1} | {:.2}x |", rate / base);
        server.shutdown().await;
    }
}

async fn postgres_admin() -> Result<String, String> {
    let admin = std::env::var("IMO_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    Database::connect(&admin)
        .await
        .map_err(|e| format!("PostgreSQL not reachable at {admin}: {e} (run `make postgres`)"))?;
    Ok(admin)
}

/// The client of the benches' receipts (anvil's dev account 1).
const BENCH_CLIENT: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

/// A receipt of [`BENCH_CLIENT`] for the model `bench` at 1 wei, with fixed hashes.
fn bench_receipt(id: String, signature: String) -> ReceiptRecord {
    ReceiptRecord {
        id,
        epoch: 1,
        model_id: "mdl_bench".into(),
        model_name: "bench".into(),
        weights_root: "11".repeat(32),
        client: BENCH_CLIENT.parse().unwrap(),
        price_wei: Wei(1),
        input_hash: "22".repeat(32),
        output_hash: "33".repeat(32),
        fingerprint: "ort=bench".into(),
        fingerprint_hash: "44".repeat(32),
        timestamp_ms: 1,
        signature,
    }
}

/// Receipts/s through the ledger: `tasks` concurrent callers each reserving and committing;
/// also the median latency of one reserve + durable commit.
async fn ledger_throughput(url: &str, max_batch: usize, total: usize, tasks: usize) -> (f64, f64) {
    let db = imo_oracle::db::connect(&imo_oracle::config::DatabaseConfig {
        url: url.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    imo_oracle::db::migrate(&db).await.unwrap();
    let ledger = Ledger::start(
        db,
        max_batch,
        false,
        std::sync::Arc::new(imo_oracle::clock::SystemClock),
    )
    .unwrap();
    let client: imo_oracle::types::Address = BENCH_CLIENT.parse().unwrap();
    ledger
        .credit(client, Wei(total as u128), "bench")
        .await
        .unwrap();
    let template = bench_receipt(String::new(), format!("0x{}", "55".repeat(65)));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (ledger, template) = (ledger.clone(), template.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(total / tasks);
                for _ in 0..total / tasks {
                    let t = Instant::now();
                    let r = ledger.reserve(client, Wei(1)).await.unwrap();
                    let mut receipt = template.clone();
                    receipt.id = ulid::Ulid::new().to_string();
                    r.commit(receipt).await.unwrap();
                    lat.push(t.elapsed().as_secs_f64() * 1e6);
                }
                lat
            })
        })
        .collect();
    let mut lat = vec![];
    for h in handles {
        lat.extend(h.await.unwrap());
    }
    let rate = (total / tasks * tasks) as f64 / t0.elapsed().as_secs_f64();
    assert_eq!(
        ledger.balance(client).await.unwrap().balance_wei,
        Wei((total - total / tasks * tasks) as u128)
    );
    (rate, median(lat))
}

async fn persistence() {
    println!(
        "\n## persistence: receipts/s (reserve + durable commit of receipt and debit), 64 concurrent callers; latency of one caller alone\n"
    );
    println!(
        "| backend | group commit (batch ≤ 512) | one transaction per receipt (batch = 1) | ratio | one caller: commit p50 µs |"
    );
    println!("|---|---|---|---|---|");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = |n: &str| format!("sqlite://{}?mode=rwc", dir.path().join(n).display());
    let (g, _) = ledger_throughput(&sqlite("g.db"), 512, 20_000, 64).await;
    let (one, _) = ledger_throughput(&sqlite("one.db"), 1, 2_000, 64).await;
    let (_, solo) = ledger_throughput(&sqlite("solo.db"), 512, 1_000, 1).await;
    println!(
        "| SQLite (WAL, synchronous=NORMAL) | {g:.0} | {one:.0} | {:.1}x | {solo:.0} |",
        g / one
    );
    let admin = match postgres_admin().await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let conn = Database::connect(&admin).await.unwrap();
    let mut urls = vec![];
    for suffix in ["g", "one", "solo"] {
        let name = format!("imo_test_bench_{suffix}_{}", std::process::id());
        let url = fresh_pg(&conn, &admin, &name).await;
        urls.push((name, url));
    }
    let (g, _) = ledger_throughput(&urls[0].1, 512, 20_000, 64).await;
    let (one, _) = ledger_throughput(&urls[1].1, 1, 2_000, 64).await;
    let (_, solo) = ledger_throughput(&urls[2].1, 512, 1_000, 1).await;
    println!(
        "| PostgreSQL 15 (fsync on) | {g:.0} | {one:.0} | {:.1}x | {solo:.0} |",
        g / one
    );
    for (name, _) in urls {
        drop_pg(&conn, &name).await;
    }
}

/// A new empty PostgreSQL database `name` (a leftover of that name dropped first) on the server
/// that `conn` is connected to at `admin`: its URL.
async fn fresh_pg(conn: &sea_orm::DatabaseConnection, admin: &str, name: &str) -> String {
    conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .unwrap();
    conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

/// Drops the database `name`, its connections too (errors ignored).
async fn drop_pg(conn: &sea_orm::DatabaseConnection, name: &str) {
    let _ = conn
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
}

/// The cost of model isolation per call: the same model and inputs through an in-process
/// session pool and through its worker process (`imo __model-worker`: frames over pipes),
/// one call at a time, trials alternating.
async fn isolation() {
    use imo_oracle::{
        engine::Engine,
        sandbox::{ModelWorker, Sandbox},
        serving::SessionPool,
        tensor::{DataType, Tensor, TensorData},
    };
    println!("\n## Model isolation: worker process vs in-process session (one call at a time)\n");
    println!(
        "| model | in-process p50 µs | worker p50 µs | cost per call µs | worker / in-process |"
    );
    println!("|---|---|---|---|---|");
    let mut cfg = Config::default();
    cfg.engine.ort_library = root().join(".tools/onnxruntime/libonnxruntime.so");
    cfg.engine.worker_binary = Some(imo_binary());
    let engine = Engine::init(&cfg.engine).unwrap();
    for case in cases() {
        let path = model(case.file);
        let pool = SessionPool::load(&engine, &path, 1).unwrap();
        let worker = ModelWorker::new(Sandbox::new(&cfg.engine).unwrap(), &path, case.name, 1);
        worker.start().await.unwrap();
        let inputs: Vec<Tensor> = case
            .inputs
            .iter()
            .map(|(name, dt, shape, bytes)| {
                Tensor::new(
                    *name,
                    DataType::parse(dt).unwrap(),
                    shape.to_vec(),
                    TensorData::Fixed(bytes.to_vec()),
                )
                .unwrap()
            })
            .collect();
        let calls = case.calls.min(1000);
        let (mut a, mut b) = (vec![], vec![]);
        for trial in 0..TRIALS * 2 {
            let mut lat = Vec::with_capacity(calls);
            for _ in 0..calls {
                let t = Instant::now();
                if trial % 2 == 0 {
                    pool.run(inputs.clone(), vec![]).await.unwrap();
                } else {
                    worker.run(inputs.clone(), vec![]).await.unwrap();
                }
                lat.push(t.elapsed().as_secs_f64() * 1e6);
            }
            lat.sort_by(|x, y| x.partial_cmp(y).unwrap());
            if trial % 2 == 0 {
                a.push(pct(&lat, 0.5))
            } else {
                b.push(pct(&lat, 0.5))
            }
        }
        let (a, b) = (median(a), median(b));
        println!(
            "| {} | {a:.0} | {b:.0} | {:.0} | {:.2}x |",
            case.name,
            b - a,
            b / a
        );
    }
}

fn main() {
    imo_e2e::block_on(async {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
            })
            .unwrap_or_default();
        println!(
            "# imo-oracle benchmark\n\nmachine: {} cores, {cpu}",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0)
        );
        let dir = tempfile::tempdir().unwrap();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (oracle, server) = start_service(dir.path(), cores).await;
        println!("fingerprint: {}", oracle.engine.fingerprint("cpu"));
        let models = http_vs_bare(&oracle, &server.url()).await;
        let floors = floors(&oracle, dir.path()).await;
        server.shutdown().await;
        imo_e2e::bench_summary::merge(
            "inference",
            serde_json::json!({
                "models": models,
                "floors_us": floors,
                "peers": "see the top-level `peers` section (tests/python/peers_bench.py, run next by make bench)",
                "cuda": "not measured: no GPU machine was lent to this run",
            }),
        );
        isolation().await;
        concurrency().await;
        persistence().await;
    });
}
