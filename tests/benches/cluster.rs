//! `make bench` (cluster): metered calls per second and their median latency with 1, 2 and 3
//! `imo serve` replicas on one PostgreSQL database (`cluster.enabled`), 32 concurrent clients
//! spread round-robin over the replicas, every replica metering from balance leases (a 503 —
//! `balance_leased` — is retried on the next replica, as a load balancer's retry would); the
//! database transactions per 1,000 calls (`pg_stat_database.xact_commit + xact_rollback` of the
//! bench database from before the replicas start to after they exit: start-up, warm-up calls,
//! lease and membership renewals and shutdown included) and the balance-lease refills per 1,000
//! calls (`imo_balance_lease_refills_total` of every replica). Real processes (the release
//! `imo`, or `IMO_BENCH_BINARY`), real ONNX Runtime (tiny_mlp), real PostgreSQL.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::signers::local::PrivateKeySigner;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

const OPERATOR_KEY: &str = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6";
const CLIENTS: usize = 32;
const CALLS: usize = 3_000;
const WARMUP: usize = 100;

use imo_e2e::repo_root as root;

use imo_e2e::bench_binary as imo_binary;

fn signer(n: u8) -> PrivateKeySigner {
    let mut k = [0x22u8; 32];
    k[31] = n;
    PrivateKeySigner::from_slice(&k).unwrap()
}

fn env(dir: &Path, db_url: &str) -> Vec<(String, String)> {
    let mut env = imo_e2e::binary_env(dir, db_url, OPERATOR_KEY);
    env.extend(
        [
            ("IMO_SERVER_WORKERS", "1".to_owned()),
            ("IMO_ENGINE_SESSIONS_PER_MODEL", "1".into()),
            ("IMO_LOG_FILTER", "info,sqlx=warn,sea_orm=warn".into()),
            (
                "IMO_AUTH_ADMIN_ADDRESSES",
                format!("[\"{}\"]", signer(3).address()),
            ),
            ("IMO_CLUSTER_ENABLED", "true".into()),
            ("IMO_CLUSTER_LEASE_SECS", "10".into()),
            ("IMO_CLUSTER_RENEW_MS", "2000".into()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    env
}

fn key(env: &[(String, String)], who: &PrivateKeySigner, role: &str) -> String {
    imo_e2e::create_key(&imo_binary(), env, &who.address().to_string(), role)
}

struct Replica {
    child: tokio::process::Child,
    url: String,
}

async fn serve(env: &[(String, String)], id: usize) -> Replica {
    let replica = format!("r{id}");
    let (child, mut lines, url) = imo_e2e::serve_binary(
        &imo_binary(),
        env,
        &[("IMO_CLUSTER_REPLICA_ID", &replica)],
        &Default::default(),
    )
    .await;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Replica { child, url }
}

async fn xacts(db: &DatabaseConnection, name: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!(
                "SELECT CAST(xact_commit + xact_rollback AS BIGINT) AS n FROM pg_stat_database WHERE datname = '{name}'"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

/// One metered call, retried on the next replica while it answers 503 (not the leader);
/// the number of extra hops.
async fn call(
    http: &reqwest::Client,
    urls: &[String],
    start: usize,
    key: &str,
    body: &serde_json::Value,
) -> usize {
    for hop in 0..urls.len() * 4 {
        let url = &urls[(start + hop) % urls.len()];
        let r = http
            .post(format!("{url}/v2/models/tiny-mlp/infer"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => return hop,
            503 => continue,
            s => panic!("unexpected {s}: {}", r.text().await.unwrap_or_default()),
        }
    }
    panic!("no replica metered the call");
}

struct Row {
    replicas: usize,
    calls_per_s: f64,
    p50_ms: f64,
    xacts_per_1000: f64,
    hops_per_1000: f64,
    refills_per_1000: f64,
}

/// `imo_balance_lease_refills_total` summed over the replicas.
async fn refills(http: &reqwest::Client, urls: &[String]) -> f64 {
    let mut n = 0.0;
    for u in urls {
        n += imo_e2e::metrics(http, u)
            .await
            .lines()
            .filter(|l| l.starts_with("imo_balance_lease_refills_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    n
}

async fn run(admin: &str, replicas: usize) -> Row {
    let name = format!("imo_bench_{}", ulid::Ulid::new().to_string().to_lowercase());
    let admin_db = Database::connect(admin).await.unwrap();
    admin_db
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let dir = tempfile::tempdir().unwrap();
    let env = env(dir.path(), &url);
    imo_e2e::run_binary(&imo_binary(), &env, &["migrate"]);
    let (pkey, ckey, akey) = (
        key(&env, &signer(1), "publisher"),
        key(&env, &signer(2), "client"),
        key(&env, &signer(3), "admin"),
    );
    // PostgreSQL counts a backend's transactions when it reports them (at exit at the latest):
    // count from before the replicas start to after they exited, start-up, warm-up calls and
    // shutdown included.
    let bench_db = Database::connect(&url).await.unwrap();
    let before = xacts(&bench_db, &name).await;
    let mut procs = vec![];
    for i in 0..replicas {
        procs.push(serve(&env, i).await);
    }
    let urls: Vec<String> = procs.iter().map(|p| p.url.clone()).collect();
    // The leader is elected at start; metadata writes go to any replica.
    let publisher = imo_client::Client::new(&urls[0]).with_key(pkey);
    let meta = imo_client::Upload {
        name: "tiny-mlp".into(),
        price_wei: Some("1".into()),
        ..Default::default()
    };
    let bytes = std::fs::read(root().join(".tools/models/tiny_mlp.onnx")).unwrap();
    publisher.upload_model(&meta, bytes).await.unwrap();
    let client_addr = signer(2).address().to_string();
    let credited = async {
        for _ in 0..100 {
            for u in &urls {
                let a = imo_client::Client::new(u).with_key(akey.clone());
                if a.credit(&client_addr, &(u64::MAX as u128).to_string())
                    .await
                    .is_ok()
                {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(credited.await, "a leader credits the client");
    let body = serde_json::json!({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]});
    let http = reqwest::Client::new();
    for i in 0..WARMUP {
        call(&http, &urls, i, &ckey, &body).await;
    }
    let refills_before = refills(&http, &urls).await;
    let next = Arc::new(AtomicUsize::new(0));
    let hops = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (http, urls, ckey, body, next, hops) = (
                http.clone(),
                urls.clone(),
                ckey.clone(),
                body.clone(),
                next.clone(),
                hops.clone(),
            );
            tokio::spawn(async move {
                let mut lat = vec![];
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= CALLS {
                        return lat;
                    }
                    let t = Instant::now();
                    hops.fetch_add(call(&http, &urls, i, &ckey, &body).await, Ordering::Relaxed);
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            })
        })
        .collect();
    let mut lat = vec![];
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let wall = started.elapsed();
    let refilled = refills(&http, &urls).await - refills_before;
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    for mut p in procs {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &p.child.id().unwrap().to_string()])
            .status();
        let _ = tokio::time::timeout(Duration::from_secs(20), p.child.wait()).await;
    }
    let after = xacts(&bench_db, &name).await;
    bench_db.close().await.ok();
    let _ = admin_db
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    Row {
        replicas,
        calls_per_s: CALLS as f64 / wall.as_secs_f64(),
        p50_ms: lat[lat.len() / 2],
        xacts_per_1000: (after - before) as f64 * 1000.0 / (CALLS + WARMUP) as f64,
        hops_per_1000: hops.load(Ordering::Relaxed) as f64 * 1000.0 / CALLS as f64,
        refills_per_1000: refilled * 1000.0 / CALLS as f64,
    }
}

fn main() {
    imo_e2e::block_on(async {
        let admin = std::env::var("IMO_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        println!(
            "\n## Replicas on one PostgreSQL (cluster.enabled; {CLIENTS} clients, {CALLS} metered calls of tiny_mlp, round-robin, 503 retried on the next replica)\n"
        );
        println!(
            "| replicas | calls/s | p50 ms | DB transactions / 1,000 calls | lease refills / 1,000 calls | extra hops / 1,000 calls |"
        );
        println!("|---|---|---|---|---|---|");
        for n in [1, 2, 3] {
            let r = run(&admin, n).await;
            println!(
                "| {} | {:.0} | {:.2} | {:.0} | {:.1} | {:.0} |",
                r.replicas,
                r.calls_per_s,
                r.p50_ms,
                r.xacts_per_1000,
                r.refills_per_1000,
                r.hops_per_1000
            );
        }
    });
}
