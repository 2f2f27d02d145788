//! The web dashboard (issue 18): its assets served from the binary at `/app/`; the epochs
//! timeline it polls (`GET /v1/epochs`, on both backends); and the dashboard itself in a real
//! browser — Debian's Chromium driven by Playwright (`web/tests/dashboard.mjs`) against the
//! real service with its scheduled chain loop on a real anvil, after one whole royalty cycle:
//! the holder claims with one `claimBatch` and its ETH rises by exactly its claimable amount
//! minus gas, the client deposits, authorises and withdraws from its wallet, receipts are
//! verified in the page against the chain, and the timeline moves without a reload.
//! Screenshots of every view go to `target/dashboard-screenshots/`.

use std::{path::PathBuf, time::Duration};

use alloy::{
    primitives::{Address as EthAddress, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use imo_client::dto::TimelineResponse;
use imo_oracle::chain::bindings::ModelToken;
use reqwest::{StatusCode, header};

use crate::{both_backends, cycle::World, helpers::*};

const PRICE: u128 = 1_000_000_000_000_000;
const ETH: u128 = 1_000_000_000_000_000_000;

/// anvil's dev accounts 1-3 (public keys of the local chain): the browser's wallets sign with
/// these, as a person's wallet pointed at `make run`'s chain would.
const ANVIL_KEY_1: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const ANVIL_KEY_2: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const ANVIL_KEY_3: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";

/// The receipt of the mined transaction `tx_hash` (as the dashboard shows it).
async fn mined_tx(anvil: &Anvil, tx_hash: Option<&str>) -> alloy::rpc::types::TransactionReceipt {
    anvil
        .tx_receipt(tx_hash.expect("a transaction hash").parse().unwrap())
        .await
        .expect("mined")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn web_dir() -> PathBuf {
    repo_root().join("web")
}

/// The target folder of this build (`CARGO_TARGET_DIR` or `target/`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test>
    exe.parent()
        .and_then(|d| d.parent())
        .and_then(|d| d.parent())
        .expect("target dir")
        .to_owned()
}

fn assert_dashboard_built() {
    assert!(
        imo_api::routes::app::built(),
        "this build embeds no dashboard (web/dist was missing when imo-api was compiled): \
         run `make build` (or scripts/build-web.sh) and test again"
    );
}

/// `/app/`: the embedded single-page app with its headers, revalidation, compression, and
/// clear errors for what is not there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_is_served_from_the_binary() {
    assert_dashboard_built();
    let srv = TestServer::start(Backend::Sqlite).await;
    let c = http();
    let url = |p: &str| format!("{}{p}", srv.url);

    for path in ["/", "/app"] {
        let r = c.get(url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT, "{path}");
        assert_eq!(r.headers()[header::LOCATION], "/app/");
    }

    let r = c.get(url("/app/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    let etag = h[header::ETAG].to_str().unwrap().to_owned();
    let html = r.text().await.unwrap();
    assert!(
        html == std::fs::read_to_string(web_dir().join("dist/index.html")).unwrap(),
        "the binary serves the build in web/dist (rebuild it after `make web`): {html}"
    );
    // Everything the page loads is a file of this origin (the CSP allows nothing else).
    assert!(!html.contains("<script>"), "no inline script");
    let assets: Vec<String> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("./assets/"))
        .map(|s| s.trim_start_matches("./").to_owned())
        .collect();
    assert_eq!(assets.len(), 2, "one script and one stylesheet: {assets:?}");

    // Revalidation: the same ETag answers 304 without a body.
    let r = c
        .get(url("/app/"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert!(r.bytes().await.unwrap().is_empty());
    // HEAD: the headers, the length, no body.
    let r = c.head(url("/app/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()[header::CONTENT_LENGTH].to_str().unwrap(),
        html.len().to_string()
    );
    assert!(r.bytes().await.unwrap().is_empty());

    for a in &assets {
        let get = |encoding: &'static str| {
            c.get(url(&format!("/app/{a}")))
                .header(header::ACCEPT_ENCODING, encoding)
                .send()
        };
        let r = get("identity").await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{a}");
        assert_eq!(
            r.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable",
            "hashed assets are cached for good"
        );
        let ct = r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        if a.ends_with(".js") {
            assert!(ct.contains("javascript"), "{ct}");
        } else {
            assert!(ct.starts_with("text/css"), "{ct}");
        }
        let body = r.bytes().await.unwrap();
        assert!(
            body.as_ref() == std::fs::read(web_dir().join("dist").join(a)).unwrap(),
            "{a} is the file in web/dist"
        );
        // Compressed for clients that ask.
        let r = get("gzip").await.unwrap();
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip", "{a}");
        assert!(r.bytes().await.unwrap().len() < body.len());
    }

    // What is not there: 404 in the API's error shape; other methods: 405.
    for path in [
        "/app/assets/missing.js",
        "/app/.gitkeep",
        "/app/%2e%2e/Cargo.toml",
        "/app/assets/",
    ] {
        let r = c.get(url(path)).send().await.unwrap();
        assert_error(r, StatusCode::NOT_FOUND, "not_found", path).await;
    }
    for path in ["/app/", "/app", "/"] {
        let r = c.post(url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(r.headers()[header::ALLOW], "GET, HEAD");
    }
    srv.finish().await;
}

async fn timeline_page(c: &reqwest::Client, url: &str, query: &str) -> TimelineResponse {
    let r = c
        .get(format!("{url}/v1/epochs{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{query}");
    r.json().await.unwrap()
}

/// `GET /v1/epochs` follows a royalty cycle: each epoch's state, its attest and finalize
/// transactions as mined on the chain, each model's calls, attested total and payout; pages;
/// refuses bad paging with 400 and writes nothing; 409 without the chain loop.
async fn timeline_follows_the_cycle(b: Backend) {
    // Without the chain loop there is no timeline.
    let plain = TestServer::start(b).await;
    let r = http()
        .get(format!("{}/v1/epochs", plain.url))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::CONFLICT, "chain_disabled", "").await;
    plain.finish().await;

    let w = World::start(b, |_| {}).await;
    let c = http();
    let url = w.srv.url.clone();
    let empty = timeline_page(&c, &url, "").await;
    assert!(empty.epochs.is_empty() && empty.next.is_none());
    assert_eq!(empty.epoch_secs, 2);
    assert_eq!(empty.challenge_window_secs, w.chain.challenge_window());

    // Bad paging is refused and changes nothing.
    for q in [
        "?limit=0",
        "?limit=101",
        "?limit=abc",
        "?before=-1",
        "?before=x",
        "?before=18446744073709551616",
    ] {
        let r = c.get(format!("{url}/v1/epochs{q}")).send().await.unwrap();
        assert_error(r, StatusCode::BAD_REQUEST, "bad_request", q).await;
    }
    let r = c.post(format!("{url}/v1/epochs")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(w.srv.row_count("epochs").await, 0);

    let (_model_id, token) = w.tokenized_model().await;
    w.fund_client(ETH, ETH).await;
    // Calls in two epochs.
    let mut receipts = w.calls(2).await;
    let first = receipts.last().unwrap().epoch;
    w.until_closable(first);
    receipts.extend(w.calls(2).await);
    let mut epochs: Vec<u64> = receipts.iter().map(|r| r.epoch).collect();
    epochs.dedup();
    assert!(epochs.len() >= 2, "{epochs:?}");
    w.until_epochs(&receipts, "attested", 30).await;

    let oracle = w.chain.deployment().oracle.0;
    let operator = w.chain.txm().sender();
    let t = timeline_page(&c, &url, "").await;
    assert_eq!(
        t.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        epochs.iter().rev().copied().collect::<Vec<_>>(),
        "newest first"
    );
    for e in &t.epochs {
        assert_eq!(e.state, "attested");
        let n = receipts.iter().filter(|r| r.epoch == e.epoch).count() as u64;
        assert_eq!(e.count, n);
        assert_eq!(e.clients, 1);
        assert_eq!(e.models.len(), 1);
        let m = &e.models[0];
        assert_eq!(m.model_name, "tiny-mlp");
        assert_eq!(m.calls, n);
        assert_eq!(m.total_wei, (n as u128 * PRICE).to_string());
        assert!(m.paid_wei.is_none() && m.snapshot_id.is_none());
        assert!(e.finalize.is_none());
        let a = e.attest.as_ref().expect("attest transaction");
        assert_eq!(a.state, "final");
        let r = mined_tx(&w.anvil, a.tx_hash.as_deref()).await;
        assert!(r.status());
        assert_eq!(r.to, Some(oracle), "attest goes to the UsageOracle");
        assert_eq!(r.from, operator);
        assert_eq!(a.block_number, r.block_number);
        let on_chain = w.oracle().getAttestation(e.epoch).call().await.unwrap();
        assert_eq!(e.root, format!("{:#x}", on_chain.root));
        assert_eq!(e.posted_at, Some(on_chain.postedAt));
        assert_eq!(
            e.finalizable_at,
            Some(on_chain.postedAt + w.chain.challenge_window())
        );
        assert_eq!(e.ends_at_ms - e.starts_at_ms, 2000);
        assert_eq!(e.starts_at_ms, e.epoch * 2000);
    }

    w.anvil.time_travel(w.chain.challenge_window() + 1).await;
    w.until_epochs(&receipts, "finalized", 30).await;
    let t = timeline_page(&c, &url, "").await;
    let fee_bps = w.chain.config().fee_bps as u128;
    for e in &t.epochs {
        assert_eq!(e.state, "finalized");
        let f = e.finalize.as_ref().expect("finalize transaction");
        assert_eq!(f.state, "final");
        let r = mined_tx(&w.anvil, f.tx_hash.as_deref()).await;
        assert_eq!(r.to, Some(oracle), "finalize goes to the UsageOracle");
        let m = &e.models[0];
        let gross = m.calls as u128 * PRICE;
        assert_eq!(
            m.paid_wei.as_deref(),
            Some((gross - gross * fee_bps / 10_000).to_string().as_str())
        );
        assert_eq!(m.token_address.as_deref(), Some(token.to_string().as_str()));
        // The payout's snapshot is the one the ModelPaid event named.
        let paid = r
            .inner
            .logs()
            .iter()
            .find_map(|l| {
                imo_oracle::chain::bindings::UsageOracle::ModelPaid::decode_log(&l.inner).ok()
            })
            .expect("ModelPaid");
        assert_eq!(m.snapshot_id, Some(paid.snapshotId.to::<u64>()));
    }

    // Paging: one at a time, down to the last page.
    let mut seen = vec![];
    let mut query = "?limit=1".to_owned();
    loop {
        let p = timeline_page(&c, &url, &query).await;
        assert!(p.epochs.len() <= 1);
        seen.extend(p.epochs.iter().map(|e| e.epoch));
        match p.next {
            Some(n) => query = format!("?limit=1&before={n}"),
            None => break,
        }
    }
    assert_eq!(seen, epochs.iter().rev().copied().collect::<Vec<_>>());
    w.finish().await;
}

both_backends!(timeline_follows_the_cycle);

fn dev_key(key: &str) -> PrivateKeySigner {
    key.parse().unwrap()
}

/// The dashboard in Debian's Chromium against the real service: see the module doc and
/// web/tests/dashboard.mjs for every check. Here: the world, the run, and the claim checked
/// again from the chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_real_browser() {
    assert_dashboard_built();
    let chromium = std::env::var("IMO_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: `scripts/install-tools.sh chromium` installs Debian's chromium (make test does)"
    );
    assert!(
        web_dir().join("node_modules/playwright-core").is_dir(),
        "web/node_modules is missing: run `make build` (scripts/build-web.sh runs npm ci)"
    );
    let started = std::time::Instant::now();
    let mut w = World::start(Backend::Sqlite, |cfg| {
        // The service's own scheduler drives the chain loop once the browser is on.
        cfg.chain.jobs = imo_oracle::chain::jobs::JOBS
            .iter()
            .map(|j| j.to_string())
            .collect();
        cfg.chain.index_schedule = "* * * * * *".into();
        cfg.chain.transactions_schedule = "* * * * * *".into();
        cfg.chain.epochs_schedule = "* * * * * *".into();
    })
    .await;
    w.publisher = dev_key(ANVIL_KEY_3);
    w.publisher_api = w.srv.key(&w.publisher, "publisher").await;
    w.client = dev_key(ANVIL_KEY_1);
    w.client_api = w.srv.key(&w.client, "client").await;
    w.holder = dev_key(ANVIL_KEY_2);
    let publisher_key = w.srv.key_secret(&w.publisher, "publisher", "browser").await;
    let client_key = w.srv.key_secret(&w.client, "client", "browser").await;

    // One whole royalty cycle, as in cycle.rs: tokenize, 30 % to the holder, deposit and cap,
    // calls, attest, window, finalize.
    let (_model_id, token) = w.tokenized_model().await;
    let supply = U256::from(1_000_000u64) * U256::from(ETH);
    let r = mined(ModelToken::new(token, w.wallet(&w.publisher)).transfer(
        w.holder.address(),
        supply * U256::from(3u8) / U256::from(10u8),
    ))
    .await;
    assert!(r.status());
    w.fund_client(ETH, ETH).await;
    let receipts = w.calls(5).await;
    w.until_epochs(&receipts, "attested", 30).await;
    w.anvil.time_travel(w.chain.challenge_window() + 1).await;
    w.until_epochs(&receipts, "finalized", 30).await;
    let setup = started.elapsed();

    // From here on the service runs its jobs itself, as `imo serve` does, and its clock
    // follows the wall clock (the page watches new epochs close as they would live).
    let scheduler = imo_oracle::chain::jobs::start(w.chain.clone())
        .await
        .expect("scheduler");
    let wall = {
        let clock = w.srv.clock.clone();
        let (base, start) = (
            imo_oracle::clock::Clock::now_ms(clock.as_ref()),
            std::time::Instant::now(),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                clock.set_at_least(base + start.elapsed().as_millis() as i64);
            }
        })
    };
    let shots = target_dir().join("dashboard-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let result_file = w.srv.dir.path().join("dashboard-result.json");
    let browser_started = std::time::Instant::now();
    let run = tokio::process::Command::new("node")
        .arg("tests/dashboard.mjs")
        .current_dir(web_dir())
        .env("IMO_URL", &w.srv.url)
        .env("IMO_RPC_URL", &w.anvil.url)
        .env("IMO_CHAIN_ID", CHAIN_ID.to_string())
        .env("IMO_CHROMIUM", &chromium)
        .env("IMO_PUBLISHER_API_KEY", &publisher_key)
        .env("IMO_CLIENT_API_KEY", &client_key)
        .env("IMO_HOLDER_PRIVATE_KEY", ANVIL_KEY_2)
        .env("IMO_CLIENT_PRIVATE_KEY", ANVIL_KEY_1)
        .env("IMO_MODEL", "tiny-mlp")
        .env("IMO_UPLOAD_MODEL", model("silero_vad.onnx"))
        .env("IMO_BAD_UPLOAD", model("not_a_model.pb"))
        .env("IMO_WINDOW_SECS", w.chain.challenge_window().to_string())
        .env(
            "IMO_WITHDRAWAL_DELAY_SECS",
            w.chain.config().withdrawal_delay_secs.to_string(),
        )
        .env("IMO_SCREENSHOTS", &shots)
        .env("IMO_RESULT", &result_file)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(420), run)
        .await
        .expect("the browser test finishes within 7 minutes")
        .expect("node runs (Node.js >= 20 on PATH)");
    let browser_time = browser_started.elapsed();
    wall.abort();
    scheduler.shutdown().await;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the browser test failed ({}); screenshots in {}:\n{log}",
        out.status,
        shots.display()
    );

    // The claim again, from the chain: one claimBatch from the holder to the token, whose
    // RevenueClaimed events pay exactly the reported amount, and the holder's balance before
    // and after its block differ by that amount less the gas.
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&result_file).unwrap()).unwrap();
    let claim = &result["claim"];
    let provider = w.anvil.provider();
    let receipt = provider
        .get_transaction_receipt(claim["tx"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.from, w.holder.address());
    assert_eq!(receipt.to, Some(token));
    let claimed: u128 = receipt
        .inner
        .logs()
        .iter()
        .filter_map(|l| ModelToken::RevenueClaimed::decode_log(&l.inner).ok())
        .map(|e| e.amount.to::<u128>())
        .sum();
    assert_eq!(claimed.to_string(), claim["claimable"].as_str().unwrap());
    assert!(claimed > 0);
    let block = receipt.block_number.unwrap();
    let before = provider
        .get_balance(w.holder.address())
        .block_id((block - 1).into())
        .await
        .unwrap()
        .to::<u128>();
    let after = provider
        .get_balance(w.holder.address())
        .block_id(block.into())
        .await
        .unwrap()
        .to::<u128>();
    let gas = receipt.gas_used as u128 * receipt.effective_gas_price;
    assert_eq!(after, before - gas + claimed, "exact to the wei");
    let left = ModelToken::new(token, provider.clone())
        .claimableRevenue(w.holder.address(), U256::from(1u8))
        .call()
        .await
        .unwrap();
    assert_eq!(left, U256::ZERO);
    let holder: EthAddress = claim["holder"].as_str().unwrap().parse().unwrap();
    assert_eq!(holder, w.holder.address());
    for name in [
        "overview",
        "publisher",
        "publisher-upload-progress",
        "model",
        "holder",
        "client",
        "client-verify",
        "overview-live",
    ] {
        let p = shots.join(format!("{name}.png"));
        assert!(
            std::fs::metadata(&p).is_ok_and(|m| m.len() > 10_000),
            "{} was written",
            p.display()
        );
    }
    println!("{log}");
    println!(
        "dashboard: world and royalty cycle {:.1} s, browser {:.1} s; screenshots in {}",
        setup.as_secs_f64(),
        browser_time.as_secs_f64(),
        shots.display()
    );
    w.finish().await;
}
