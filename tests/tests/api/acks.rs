//! Client-acknowledged billing (issue 15) against the real server: the `ack` mode chosen by
//! the client's signature, the credit window and its 402, acknowledgements in the header of
//! the next call and by `POST /v1/acknowledgements` (verified, durable, replays and foreign
//! ones refused), the client's own receipt checks and verify report, and `cap` clients
//! unaffected.

use alloy::signers::local::PrivateKeySigner;
use imo_client::acks::{AckBook, SignedAcknowledgement, sign_ack_mode, sign_acknowledgement};
use imo_e2e::f32_bytes;
use imo_oracle::{
    chain::vault::vault_domain,
    clock::Clock,
    tensor::{DataType, Tensor, TensorData, canonical_hash},
    types::Wei,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::{both_backends, helpers::*, tests_in};

const PRICE: u128 = 1_000;
const X: [f32; 4] = [1.0, 2.0, 3.0, 4.0];

struct Call {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    json: serde_json::Value,
}

async fn infer(srv: &TestServer, key: &str, ack: Option<&SignedAcknowledgement>) -> Call {
    let body = json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": X}]});
    let mut req = reqwest::Client::new()
        .post(format!("{}/v2/models/tiny/infer", srv.url))
        .bearer_auth(key)
        .json(&body);
    if let Some(a) = ack {
        req = req.header("imo-acknowledgement", a.header());
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let json = resp.json().await.unwrap();
    Call {
        status,
        headers,
        json,
    }
}

fn tensor(name: &str, shape: Vec<u64>, data: &[f32]) -> Tensor {
    Tensor::new(
        name,
        DataType::Fp32,
        shape,
        TensorData::Fixed(f32_bytes(data)),
    )
    .unwrap()
}

/// Checks the receipt of a 200 with the client's book (the price of [`PRICE`]).
fn check(book: &mut AckBook, call: &Call) -> Result<(), imo_client::acks::ReceiptProblem> {
    check_priced(book, call, PRICE)
}

fn header<'a>(c: &'a Call, name: &str) -> &'a str {
    c.headers.get(name).unwrap().to_str().unwrap()
}

/// Asserts that `api` refuses `ack` with `status`.
async fn ack_refused(api: &imo_client::Client, ack: &SignedAcknowledgement, status: u16) {
    let e = api.acknowledge(ack).await.unwrap_err();
    assert_eq!(e.status().unwrap().as_u16(), status, "{e}");
}

/// A server on `b` with a credit window of `window` wei, tiny_mlp registered as `tiny`.
async fn tiny_server(b: Backend, window: u128) -> TestServer {
    let srv = TestServer::start_with(b, |c| c.metering.credit_window_wei = window).await;
    let publisher = srv.key(&signer(1), "publisher").await;
    srv.register(&publisher, "tiny_mlp.onnx", "tiny", PRICE)
        .await;
    srv
}

/// A client key of `who`, credited 100 calls' worth.
async fn key_of(srv: &TestServer, who: &PrivateKeySigner) -> String {
    let key = srv.key_secret(who, "client", "acks").await;
    srv.credit(who, 100 * PRICE).await;
    key
}

async fn ack_mode_window_and_acknowledgements(b: Backend) {
    let srv = tiny_server(b, 2 * PRICE).await;
    let (alice, bob) = (signer(3), signer(4)); // alice: ack mode; bob: cap mode
    let (ka, kb) = (key_of(&srv, &alice).await, key_of(&srv, &bob).await);
    let (ca, cb) = (srv.client().with_key(&ka), srv.client().with_key(&kb));

    // Everyone starts in cap mode: bob calls as any Open Inference Protocol client.
    let view = cb.billing().await.unwrap();
    assert_eq!((view.mode.as_str(), view.from_epoch), ("cap", None));
    for _ in 0..4 {
        assert_eq!(infer(&srv, &kb, None).await.status, StatusCode::OK);
    }

    // Alice chooses ack mode with her signature (never the operator).
    let domain = vault_domain(view.chain_id, view.vault.parse().unwrap());
    let epoch = srv.oracle.epochs.epoch_of(srv.clock.now_ms());
    let deadline = (srv.clock.now_ms() / 1000) as u64 + 600;
    let foreign = sign_ack_mode(&bob, &domain, epoch, deadline).unwrap();
    let e = ca
        .billing_mode(epoch, deadline, &foreign)
        .await
        .unwrap_err();
    assert_eq!(
        (e.status().unwrap().as_u16(), e.code()),
        (400, Some("invalid_input")),
        "{e}"
    );
    let past = sign_ack_mode(&alice, &domain, epoch - 1, deadline).unwrap();
    let e = ca
        .billing_mode(epoch - 1, deadline, &past)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("in the past"), "{e}");
    let sig = sign_ack_mode(&alice, &domain, epoch, deadline).unwrap();
    let view = ca.billing_mode(epoch, deadline, &sig).await.unwrap();
    assert_eq!((view.mode.as_str(), view.from_epoch), ("ack", Some(epoch)));
    assert_eq!(view.credit_window_wei, (2 * PRICE).to_string());
    let e = ca.billing_mode(epoch, deadline, &sig).await.unwrap_err();
    assert_eq!(e.status().unwrap().as_u16(), 409, "{e}");

    // The client's own book: it checks every receipt before acknowledging anything.
    let operator: PrivateKeySigner = OPERATOR_KEY.parse().unwrap();
    let mut book = AckBook::new(
        alice.clone(),
        imo_oracle::types::Address(operator.address()),
        srv.oracle.inference.signer().domain().clone(),
        view.chain_id,
        view.vault.parse().unwrap(),
    );

    // Served up to the credit window (2 calls) without acknowledging, then 402 with the amount.
    for _ in 0..2 {
        let c = infer(&srv, &ka, None).await;
        check(&mut book, &c).unwrap();
    }
    let refused = infer(&srv, &ka, None).await;
    assert_eq!(
        refused.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        refused.json
    );
    assert_eq!(
        header(&refused, "imo-error-code"),
        "acknowledgement_required"
    );
    assert_eq!(header(&refused, "imo-ack-epoch"), epoch.to_string());
    assert_eq!(header(&refused, "imo-ack-amount"), (2 * PRICE).to_string());
    assert_eq!(header(&refused, "imo-ack-calls"), "2");
    assert!(
        refused.json["error"]
            .as_str()
            .unwrap()
            .contains("acknowledgement required"),
        "{}",
        refused.json
    );
    assert_eq!(
        ca.balance().await.unwrap().spent_wei,
        (2 * PRICE).to_string(),
        "nothing ran"
    );

    // A tampered receipt (another price) fails the client's check and is never acknowledged.
    let mut c = infer(&srv, &kb, None).await; // bob's receipt: not alice's
    assert!(matches!(
        check(&mut book, &c),
        Err(imo_client::acks::ReceiptProblem::Client { .. })
    ));
    let mut r: serde_json::Value =
        serde_json::from_str(c.json["parameters"]["imo_receipt"].as_str().unwrap()).unwrap();
    r["price_wei"] = json!("1");
    c.json["parameters"]["imo_receipt"] = json!(r.to_string());
    assert!(matches!(
        check(&mut book, &c),
        Err(imo_client::acks::ReceiptProblem::Signer { .. })
    ));

    // The acknowledgement rides on the next call, and counts before it.
    let ack2 = book.acknowledgement(epoch).unwrap().unwrap();
    assert_eq!((ack2.amount_wei, ack2.calls), (2 * PRICE, 2));
    let c = infer(&srv, &ka, Some(&ack2)).await;
    check(&mut book, &c).unwrap();
    let c = infer(&srv, &ka, None).await;
    check(&mut book, &c).unwrap();
    let refused = infer(&srv, &ka, None).await;
    assert_eq!(refused.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(header(&refused, "imo-ack-amount"), (4 * PRICE).to_string());
    assert_eq!(header(&refused, "imo-ack-calls"), "4");

    // ... or by POST /v1/acknowledgements.
    let ack4 = book.acknowledgement(epoch).unwrap().unwrap();
    let view = ca.acknowledge(&ack4).await.unwrap();
    let row = view.epochs.iter().find(|e| e.epoch == epoch).unwrap();
    assert_eq!(
        (
            row.served_wei.as_str(),
            row.served_calls,
            row.acked_wei.as_str(),
            row.acked_calls
        ),
        ("4000", 4, "4000", 4)
    );
    assert_eq!(view.outstanding_wei, "0");
    // The same one again is accepted unchanged; an older one (a replay) is refused, in the
    // header too (and that call is not run).
    ca.acknowledge(&ack4).await.unwrap();
    let e = ca.acknowledge(&ack2).await.unwrap_err();
    assert_eq!(
        (e.status().unwrap().as_u16(), e.code()),
        (409, Some("acknowledgement_stale")),
        "{e}"
    );
    let c = infer(&srv, &ka, Some(&ack2)).await;
    assert_eq!(c.status, StatusCode::CONFLICT, "{}", c.json);
    assert_eq!(
        ca.balance().await.unwrap().spent_wei,
        (4 * PRICE).to_string()
    );
    // Foreign: bob signs for alice's calls, alice's signature sent with bob's key (bob is in
    // cap mode, and the signature is not his), another domain: all refused.
    let by_bob = sign_acknowledgement(&bob, &domain, epoch, 4 * PRICE, 4).unwrap();
    ack_refused(&ca, &by_bob, 400).await;
    ack_refused(&cb, &ack4, 400).await;
    let other_domain = vault_domain(view.chain_id + 1, view.vault.parse().unwrap());
    let wrong = sign_acknowledgement(&alice, &other_domain, epoch, 4 * PRICE, 4).unwrap();
    ack_refused(&ca, &wrong, 400).await;
    // More than was served, or an epoch with nothing served: refused.
    let more = sign_acknowledgement(&alice, &domain, epoch, 5 * PRICE, 5).unwrap();
    let e = ca.acknowledge(&more).await.unwrap_err();
    assert!(e.to_string().contains("were served"), "{e}");
    let later = sign_acknowledgement(&alice, &domain, epoch + 3, PRICE, 1).unwrap();
    ack_refused(&ca, &later, 400).await;
    let bobs = sign_acknowledgement(&bob, &domain, epoch, PRICE, 1).unwrap();
    let e = cb.acknowledge(&bobs).await.unwrap_err();
    assert_eq!(e.status().unwrap().as_u16(), 409, "cap mode: {e}");

    // Stored durably: the row, and a fresh read of the database, say 4 calls / 4000 wei.
    assert_eq!(srv.row_count("acknowledgements").await, 1);
    let stored = imo_oracle::db::acknowledgements::Entity::find_by_id(format!(
        "{:#x}:{epoch}",
        alice.address()
    ));
    use sea_orm::EntityTrait;
    let stored = stored.one(&srv.oracle.db).await.unwrap().unwrap();
    assert_eq!((stored.amount_wei.as_str(), stored.calls), ("4000", 4));

    // The client's verify report.
    let report = book.report();
    assert_eq!(
        (
            report.calls,
            report.receipts_checked,
            report.receipts_refused,
            report.amount_checked_wei,
            report.amount_acknowledged_wei
        ),
        (6, 4, 2, 4 * PRICE, 4 * PRICE)
    );
    // Costs per call (debug build): the client's signing, the service's verification (its
    // histogram at /metrics).
    let started = std::time::Instant::now();
    for i in 0..100 {
        sign_acknowledgement(&alice, &domain, epoch, PRICE * (i + 1), i as u64 + 1).unwrap();
    }
    let sign_us = started.elapsed().as_micros() / 100;
    let metrics = imo_e2e::metrics(&reqwest::Client::new(), &srv.url).await;
    let stat = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics"))
    };
    let verify_us = stat("imo_acknowledgement_verify_seconds_sum") * 1e6
        / stat("imo_acknowledgement_verify_seconds_count");
    eprintln!(
        "acknowledgements (debug build): Rust client signs in {sign_us} us, the service verifies in {verify_us:.0} us"
    );
    // Cap mode was never affected: bob's 5 calls all went through, no acknowledgement asked.
    let bal = cb.balance().await.unwrap();
    assert_eq!(bal.spent_wei, (5 * PRICE).to_string());
    assert_eq!(cb.billing().await.unwrap().mode, "cap");
    srv.finish().await;
}

both_backends!(ack_mode_window_and_acknowledgements);

/// The Python package (clients/python/imo_client) plugged into the unmodified
/// tritonclient.http: it chooses ack mode, checks every receipt and acknowledges as it goes;
/// once it stops signing it is cut off after the credit window.
async fn python_plugin_with_unmodified_tritonclient(b: Backend) {
    let srv = tiny_server(b, 3 * PRICE).await;
    let carol = signer(5);
    let key = key_of(&srv, &carol).await;
    let python = repo_root().join(".tools/venv/bin/python");
    let mut check = tokio::process::Command::new(&python);
    check
        .arg(repo_root().join("tests/python/ack_check.py"))
        .args(["--url", &srv.url, "--key", &key, "--calls", "10", "--stop"])
        .args(["--price", &PRICE.to_string()])
        .args([
            "--private-key",
            &format!("0x{}", hex::encode(carol.to_bytes())),
        ])
        .env("PYTHONPATH", repo_root().join("clients/python"));
    let stdout = python_check(check, "ack_check.py").await;
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let r = &v["report"];
    // 10 acknowledged calls, then 3 served unacknowledged (the window), then cut off.
    assert_eq!(v["unacked_calls"], 3, "{v}");
    assert_eq!(
        (
            r["calls"].as_u64(),
            r["receipts_checked"].as_u64(),
            r["receipts_refused"].as_u64()
        ),
        (Some(13), Some(13), Some(0)),
        "{v}"
    );
    assert_eq!(r["amount_acknowledged_wei"], (10 * PRICE).to_string());
    let view = srv.client().with_key(&key).billing().await.unwrap();
    assert_eq!(view.mode, "ack");
    let served: u128 = view
        .epochs
        .iter()
        .map(|e| e.served_wei.parse::<u128>().unwrap())
        .sum();
    let acked: u128 = view
        .epochs
        .iter()
        .map(|e| e.acked_wei.parse::<u128>().unwrap())
        .sum();
    assert_eq!((served, acked), (13 * PRICE, 10 * PRICE));
    assert_eq!(view.outstanding_wei, (3 * PRICE).to_string());
    let bal = srv.client().with_key(&key).balance().await.unwrap();
    assert_eq!(bal.spent_wei, (13 * PRICE).to_string());
    eprintln!(
        "acknowledged billing, per call: client signs in {} ms, verifies a receipt in {} ms (eth-account, median)",
        v["sign_ms"], v["verify_ms"]
    );
    srv.finish().await;
}

/// Alice (the world's client) chooses acknowledged billing from `epoch` on, and waits until the
/// operator has registered it on the vault: her address.
async fn choose_ack_mode(
    w: &crate::cycle::World,
    domain: &alloy::sol_types::Eip712Domain,
    epoch: u64,
) -> alloy::primitives::Address {
    let (_, now) = crate::cycle::chain_time(&w.anvil).await;
    let sig = sign_ack_mode(&w.client, domain, epoch, now + 3600).unwrap();
    w.client_api
        .billing_mode(epoch, now + 3600, &sig)
        .await
        .unwrap();
    let alice = w.client.address();
    w.until("alice's ack mode is registered on-chain", 30, || {
        let v = w.vault();
        async move { v.ackModeAt(alice, epoch).call().await.unwrap() }
    })
    .await;
    alice
}

/// `alice` challenges her attested total of `epoch` on the AckReferee, with its bond: whether
/// the challenge was mined and the total it challenges, the referee (her wallet) and the bond.
async fn challenge_total(
    w: &crate::cycle::World,
    epoch: u64,
    alice: alloy::primitives::Address,
) -> (
    (bool, alloy::primitives::U256),
    imo_oracle::chain::bindings::AckReferee::AckRefereeInstance<alloy::providers::DynProvider>,
    alloy::primitives::U256,
) {
    use alloy::primitives::U256;
    use imo_oracle::chain::bindings::AckReferee;
    let view = w.client_api.epoch(epoch).await.unwrap();
    let clients: Vec<AckReferee::ClientTotal> = view
        .clients
        .iter()
        .map(|c| AckReferee::ClientTotal {
            client: c.key.parse().unwrap(),
            total: c.total_wei.parse().unwrap(),
            last: c.last,
        })
        .collect();
    let entry = clients.iter().position(|c| c.client == alice).unwrap();
    let total = clients[entry].total;
    let referee_addr = w.chain.deployment().ack_referee.unwrap().0;
    let referee = AckReferee::new(referee_addr, w.wallet(&w.client));
    let bond = referee.bond().call().await.unwrap();
    let opened = mined(
        referee
            .challenge(epoch, clients, U256::from(entry))
            .value(bond),
    )
    .await
    .status();
    ((opened, total), referee, bond)
}

tests_in! {
    python::plugin_with_unmodified_tritonclient =>
        python_plugin_with_unmodified_tritonclient(crate::helpers::Backend::Sqlite);
}

/// Settlement on a real anvil: an `ack` client that acknowledged 5 of its 7 calls is billed
/// exactly the 5 (to the wei: attested, escrowed, finalized, paid to the model), the 2 it did
/// not acknowledge are the operator's loss, and a `cap` client in the same epoch is settled
/// in full alongside it.
async fn ack_client_settled_to_the_wei_on_anvil() {
    use alloy::primitives::U256;
    use imo_oracle::chain::bindings::{AckReferee, PaymentVault};
    const P: u128 = 1_000_000_000_000_000; // cycle.rs's price
    const ETH: u128 = 1_000_000_000_000_000_000;
    let w = crate::cycle::World::start(Backend::Sqlite, |c| {
        c.metering.credit_window_wei = 2 * P;
        c.metering.epoch_secs = 3600; // every call in one epoch
    })
    .await;
    let (model_id, _token) = w.tokenized_model().await;
    w.fund_client(ETH, ETH).await;

    // Dave, a cap-mode client, deposits and signs a cap too.
    let dave = signer(35);
    w.anvil
        .set_balance(dave.address(), U256::from(10 * ETH))
        .await;
    let dave_wallet = w.wallet(&dave);
    let vault_addr = w.chain.deployment().vault.0;
    let r = mined(
        PaymentVault::new(vault_addr, dave_wallet)
            .deposit()
            .value(U256::from(ETH)),
    )
    .await;
    assert!(r.status());
    let dave_api = w.srv.key(&dave, "client").await;
    let (_, now) = crate::cycle::chain_time(&w.anvil).await;
    let cap = imo_client::wallet::sign_spending_cap(
        &dave,
        CHAIN_ID,
        vault_addr,
        U256::from(ETH),
        now + 3600,
    )
    .unwrap();
    dave_api
        .spending_cap(
            &dave.address().to_string(),
            &ETH.to_string(),
            now + 3600,
            &cap.signature,
        )
        .await
        .unwrap();
    let api = dave_api.clone();
    w.until("dave's deposit and cap are indexed", 30, || {
        let api = api.clone();
        async move { api.balance().await.unwrap().cap_wei == ETH.to_string() }
    })
    .await;

    // Alice (the World's client) chooses ack mode for the current epoch.
    let view = w.client_api.billing().await.unwrap();
    assert_eq!(
        view.vault,
        w.chain.deployment().vault.to_string(),
        "the vault's domain"
    );
    let domain = vault_domain(CHAIN_ID, vault_addr);
    let epoch = view.current_epoch;
    // The operator registers her choice on the vault.
    let alice = choose_ack_mode(&w, &domain, epoch).await;
    assert!(!w.vault().ackModeAt(alice, epoch - 1).call().await.unwrap());
    let operator: PrivateKeySigner = OPERATOR_KEY.parse().unwrap();
    let mut book = AckBook::new(
        w.client.clone(),
        imo_oracle::types::Address(operator.address()),
        w.srv.oracle.inference.signer().domain().clone(),
        CHAIN_ID,
        vault_addr,
    );
    let call = |api: imo_client::Client| async move {
        let (status, json) = api.infer_json("tiny-mlp", &infer_body()).await.unwrap();
        Call {
            status,
            headers: Default::default(),
            json,
        }
    };
    // 5 calls, each checked and acknowledged; then 2 more she never acknowledges, and a third
    // is refused (window 2 calls).
    for _ in 0..5 {
        let c = call(w.client_api.clone()).await;
        check_priced(&mut book, &c, P).unwrap();
        let ack = book.acknowledgement(epoch).unwrap().unwrap();
        w.client_api.acknowledge(&ack).await.unwrap();
    }
    for _ in 0..2 {
        let c = call(w.client_api.clone()).await;
        check_priced(&mut book, &c, P).unwrap();
    }
    let c = call(w.client_api.clone()).await;
    assert_eq!(c.status, StatusCode::PAYMENT_REQUIRED, "{}", c.json);
    // Dave, in cap mode, is served all along.
    for _ in 0..3 {
        assert_eq!(call(dave_api.clone()).await.status, StatusCode::OK);
    }

    // The epoch closes on what was acknowledged: 5 of alice's calls and dave's 3.
    w.until_closable(epoch);
    for state in ["attested", "finalized"] {
        w.until(&format!("epoch {epoch} {state}"), 60, || {
            let api = w.client_api.clone();
            async move {
                api.epoch(epoch)
                    .await
                    .map(|e| e.state == state)
                    .unwrap_or(false)
            }
        })
        .await;
        if state == "attested" {
            // Alice challenges her attested total on the AckReferee; the service answers with
            // her stored acknowledgement (it covers the total), so the challenge is rejected.
            let (challenged, referee, _) = challenge_total(&w, epoch, alice).await;
            assert_eq!(challenged.1, U256::from(5 * P));
            assert!(challenged.0, "challenge opened");
            let ro = AckReferee::new(*referee.address(), w.anvil.provider());
            w.until(
                "the service answers the acknowledgement challenge",
                30,
                || {
                    let ro = ro.clone();
                    async move { ro.getChallenge(U256::ZERO).call().await.unwrap().status == 2 }
                },
            )
            .await;
            // anvil time-travels past the challenge window (cycle.rs's WINDOW).
            w.anvil.time_travel(101).await;
        }
    }
    // An acknowledgement of the closed epoch changes nothing any more.
    let late = sign_acknowledgement(&w.client, &domain, epoch, 7 * P, 7).unwrap();
    let e = w.client_api.acknowledge(&late).await.unwrap_err();
    assert_eq!(e.status().unwrap().as_u16(), 409, "{e}");
    let a = w.oracle().getAttestation(epoch).call().await.unwrap();
    assert_eq!(
        a.total,
        U256::from(8 * P),
        "5 acknowledged + 3 cap-mode calls"
    );
    assert_eq!(a.count, 8);
    let vault = w.vault();
    assert_eq!(
        vault.spentOf(w.client.address()).call().await.unwrap(),
        U256::from(5 * P)
    );
    assert_eq!(
        vault.balanceOf(w.client.address()).call().await.unwrap(),
        U256::from(ETH - 5 * P)
    );
    assert_eq!(
        vault.spentOf(dave.address()).call().await.unwrap(),
        U256::from(3 * P)
    );
    let fee = 8 * P * 500 / 10_000;
    let rev = w.publisher_api.revenue(&model_id).await.unwrap();
    assert_eq!(rev.total_paid_wei, (8 * P - fee).to_string());
    // The client's own report agrees: 7 checked, 5 acknowledged.
    let r = book.report();
    assert_eq!((r.receipts_checked, r.amount_acknowledged_wei), (7, 5 * P));
    w.finish().await;
}

/// Checks the receipt of a 200 with the client's book: the input hash against what was sent,
/// the output hash against what came back, the price against `price`.
fn check_priced(
    book: &mut AckBook,
    call: &Call,
    price: u128,
) -> Result<(), imo_client::acks::ReceiptProblem> {
    assert_eq!(call.status, StatusCode::OK, "{}", call.json);
    let receipt: imo_oracle::receipts::ReceiptRecord =
        serde_json::from_str(call.json["parameters"]["imo_receipt"].as_str().unwrap()).unwrap();
    let out = &call.json["outputs"][0];
    let shape: Vec<u64> = out["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect();
    let data: Vec<f32> = out["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let input = hex::encode(canonical_hash(&[tensor("x", vec![1, 4], &X)]));
    let output = hex::encode(canonical_hash(&[tensor(
        out["name"].as_str().unwrap(),
        shape,
        &data,
    )]));
    book.check(&receipt, &input, &output, Wei(price))
}

tests_in! {
    anvil::ack_client_settled_to_the_wei => ack_client_settled_to_the_wei_on_anvil();
}

/// The real binary SIGKILLed while clients call and acknowledge: after a restart on the same
/// database, every acknowledgement a client was answered 200 for is there.
async fn sigkill_loses_no_accepted_acknowledgement() {
    use std::sync::{Arc, Mutex};
    const CLIENTS: u8 = 4;
    let dir = tempfile::tempdir().unwrap();
    let env = sqlite_env(dir.path());
    let publisher_key = cli_key(&env, &signer(1), "publisher");
    let admin_key = cli_key(&env, &signer(200), "admin");
    let clients: Vec<(PrivateKeySigner, String)> = (0..CLIENTS)
        .map(|i| (signer(40 + i), cli_key(&env, &signer(40 + i), "client")))
        .collect();
    let window = [("IMO_METERING_CREDIT_WINDOW_WEI", "1000000000000000000000")];
    let mut server = ImoProcess::serve(&env, &window).await;
    let base = imo_client::Client::new(&server.url);
    tiny_and_credits(
        &base,
        publisher_key,
        &admin_key,
        clients.iter().map(|(s, _)| s.address().to_string()),
        PRICE,
        1_000_000 * PRICE,
    )
    .await;
    for (s, key) in &clients {
        let api = base.with_key(key.clone());
        let v = api.billing().await.unwrap();
        let domain = vault_domain(v.chain_id, v.vault.parse().unwrap());
        let sig = sign_ack_mode(s, &domain, v.current_epoch, u64::MAX / 2).unwrap();
        api.billing_mode(v.current_epoch, u64::MAX / 2, &sig)
            .await
            .unwrap();
    }
    // Each client: call, then acknowledge everything so far; remember what was accepted.
    let accepted: Arc<Mutex<Vec<(String, u64, u128)>>> = Default::default();
    let (count_tx, mut count_rx) = tokio::sync::watch::channel(0usize);
    let count_tx = Arc::new(count_tx);
    let body = json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": X}]});
    let mut tasks = vec![];
    for (s, key) in clients.clone() {
        let api = base.with_key(key);
        let (accepted, count_tx, body) = (accepted.clone(), count_tx.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let v = api.billing().await.unwrap();
            let domain = vault_domain(v.chain_id, v.vault.parse().unwrap());
            let mut served: std::collections::BTreeMap<u64, (u128, u64)> = Default::default();
            loop {
                let Ok((status, json)) = api.infer_json("tiny", &body).await else {
                    return;
                };
                if status != StatusCode::OK {
                    return;
                }
                let r: imo_oracle::receipts::ReceiptRecord =
                    serde_json::from_str(json["parameters"]["imo_receipt"].as_str().unwrap())
                        .unwrap();
                let e = served.entry(r.epoch).or_default();
                e.0 += r.price_wei.0;
                e.1 += 1;
                let ack = sign_acknowledgement(&s, &domain, r.epoch, e.0, e.1).unwrap();
                match api.acknowledge(&ack).await {
                    Ok(_) => {
                        accepted
                            .lock()
                            .unwrap()
                            .push((s.address().to_string(), r.epoch, e.0));
                        count_tx.send_modify(|n| *n += 1);
                    }
                    Err(_) => return, // the service is gone
                }
            }
        }));
    }
    count_rx.wait_for(|n| *n >= 40).await.unwrap();
    let kill = std::process::Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let _ = server.wait().await;
    for t in tasks {
        t.await.unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    assert!(accepted.len() >= 40);

    // Restarted on the same database: each client's stored acknowledgement is at least the
    // highest it was told was accepted (and the stored rows never exceed what was served).
    let server = ImoProcess::serve(&env, &window).await;
    let base = imo_client::Client::new(&server.url);
    for (s, key) in &clients {
        let view = base.with_key(key.clone()).billing().await.unwrap();
        let address = s.address().to_string();
        for row in &view.epochs {
            let told = accepted
                .iter()
                .filter(|(a, e, _)| a == &address && *e == row.epoch)
                .map(|(_, _, w)| *w)
                .max()
                .unwrap_or(0);
            let stored: u128 = row.acked_wei.parse().unwrap();
            assert!(
                stored >= told,
                "{address} epoch {}: told {told} accepted, {stored} stored",
                row.epoch
            );
            assert!(stored <= row.served_wei.parse::<u128>().unwrap());
        }
    }
    server.stop().await;
}

tests_in! {
    binary::sigkill_loses_no_accepted_acknowledgement => sigkill_loses_no_accepted_acknowledgement();
}

/// An operator that bills beyond the acknowledgements (fault injection: the first round bills
/// every receipt) cannot answer the client's challenge: the attestation is voided, the client
/// gets half the attest bond, and the corrected round bills what was acknowledged.
async fn overbilling_operator_loses_its_bond() {
    use alloy::primitives::U256;
    const P: u128 = 1_000_000_000_000_000;
    const ETH: u128 = 1_000_000_000_000_000_000;
    let w = crate::cycle::World::start(Backend::Sqlite, |c| {
        c.metering.credit_window_wei = 2 * P;
        c.metering.epoch_secs = 3600;
        c.chain.fault_injection = Some("bill-unacknowledged".into());
    })
    .await;
    w.tokenized_model().await;
    w.fund_client(ETH, ETH).await;
    let vault_addr = w.chain.deployment().vault.0;
    let domain = vault_domain(CHAIN_ID, vault_addr);
    let epoch = w.client_api.billing().await.unwrap().current_epoch;
    let alice = choose_ack_mode(&w, &domain, epoch).await;
    // 3 calls acknowledged, 2 not.
    let mut n = 0;
    for i in 0..5 {
        let (status, _) = w
            .client_api
            .infer_json("tiny-mlp", &infer_body())
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK);
        n += 1;
        if i < 3 {
            let ack = sign_acknowledgement(&w.client, &domain, epoch, n * P, n as u64).unwrap();
            w.client_api.acknowledge(&ack).await.unwrap();
        }
    }
    w.until_closable(epoch);
    let api = w.client_api.clone();
    w.until("the over-billed epoch is attested", 60, || {
        let api = api.clone();
        async move {
            api.epoch(epoch)
                .await
                .map(|e| e.state == "attested")
                .unwrap_or(false)
        }
    })
    .await;
    let a = w.oracle().getAttestation(epoch).call().await.unwrap();
    assert_eq!(a.total, U256::from(5 * P), "the fault billed every receipt");
    // Alice challenges; the service has no acknowledgement covering 5 x price.
    let ((opened, _), referee, bond) = challenge_total(&w, epoch, alice).await;
    assert!(opened);
    for _ in 0..3 {
        w.tick().await; // the service sees the challenge and cannot answer it
    }
    assert_eq!(
        referee
            .getChallenge(U256::ZERO)
            .call()
            .await
            .unwrap()
            .status,
        1,
        "still open"
    );
    w.anvil.time_travel(51).await;
    assert!(mined(referee.resolve(U256::ZERO)).await.status());
    let a = w.oracle().getAttestation(epoch).call().await.unwrap();
    assert_eq!(a.status, 2, "voided");
    let attest_bond = w.oracle().attestBond().call().await.unwrap();
    assert_eq!(
        w.oracle().credits(alice).call().await.unwrap(),
        attest_bond / U256::from(2),
        "half the operator's bond to the client"
    );
    assert_eq!(
        referee.credits(alice).call().await.unwrap(),
        bond,
        "her bond back"
    );
    // The service unwinds and re-attests what was acknowledged; it finalizes at 3 x price.
    w.until("the corrected round is attested", 60, || {
        let o = w.oracle();
        async move {
            let a = o.getAttestation(epoch).call().await.unwrap();
            a.status == 1 && a.round == 2
        }
    })
    .await;
    let a = w.oracle().getAttestation(epoch).call().await.unwrap();
    assert_eq!(a.total, U256::from(3 * P));
    w.anvil.time_travel(101).await;
    w.until("the corrected round is finalized", 60, || {
        let o = w.oracle();
        async move { o.getAttestation(epoch).call().await.unwrap().status == 3 }
    })
    .await;
    assert_eq!(
        w.vault().spentOf(alice).call().await.unwrap(),
        U256::from(3 * P)
    );
    w.finish().await;
}

tests_in! {
    fault::overbilling_operator_loses_its_bond => overbilling_operator_loses_its_bond();
}

/// The same from the command line (issue 15, point 3: "the same in the Rust `imo` client and
/// CLI"): `imo billing ack` chooses the mode with the client's key, `imo infer --record` keeps
/// each call with its response, the credit window cuts the client off, `imo acks --send` checks
/// every recorded receipt, prints the verify report and acknowledges, and the client is served
/// again; a recorded response that does not match its receipt is refused and never acknowledged.
mod cli {
    use super::*;

    /// Runs `imo` off the runtime's threads (the server under test runs on them); success and
    /// stdout + stderr.
    async fn imo(args: Vec<String>) -> (bool, String) {
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(imo_binary())
                .args(&args)
                .output()
                .unwrap();
            (
                out.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            )
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_cli_checks_records_and_acknowledges() {
        let srv = tiny_server(Backend::Sqlite, 2 * PRICE).await;
        let alice = signer(3);
        let key = key_of(&srv, &alice).await;
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("alice.key");
        std::fs::write(&key_file, hex::encode(alice.to_bytes())).unwrap();
        let body = dir.path().join("body.json");
        std::fs::write(
            &body,
            json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": X}]})
                .to_string(),
        )
        .unwrap();
        let record = dir.path().join("record");
        let s = |x: &std::path::Path| x.display().to_string();
        let server = vec![
            "--url".to_owned(),
            srv.url.clone(),
            "--key".into(),
            key.clone(),
        ];
        let with = |args: &[&str]| {
            args.iter()
                .map(|a| a.to_string())
                .chain(server.clone())
                .collect::<Vec<_>>()
        };
        let infer = with(&[
            "infer",
            "tiny",
            "--body",
            &s(&body),
            "--record",
            &s(&record),
        ]);
        let acks = |send: bool| {
            let mut a = with(&["acks", "--record", &s(&record), "--key-file", &s(&key_file)]);
            if send {
                a.push("--send".into());
            }
            a
        };

        let (ok, out) = imo(with(&["billing", "ack", "--key-file", &s(&key_file)])).await;
        assert!(ok && out.contains("mode ack"), "{out}");
        for _ in 0..2 {
            let (ok, out) = imo(infer.clone()).await;
            assert!(ok, "{out}");
        }
        let (ok, out) = imo(infer.clone()).await;
        assert!(
            !ok && out.contains("402"),
            "cut off after the window: {out}"
        );

        let (ok, out) = imo(acks(true)).await;
        assert!(ok, "{out}");
        assert!(
            out.contains(&format!(
                "calls 2  receipts checked 2  refused 0  amount checked {}",
                2 * PRICE
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!("acknowledged {} wei for 2 calls", 2 * PRICE)),
            "{out}"
        );
        let view = srv.client().with_key(&key).billing().await.unwrap();
        assert_eq!(view.epochs[0].acked_wei, (2 * PRICE).to_string());
        let (ok, out) = imo(infer.clone()).await;
        assert!(ok, "served again once acknowledged: {out}");

        // A recorded response whose output differs from what its receipt says is refused, and
        // nothing more is acknowledged.
        let file = std::fs::read_dir(&record)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .unwrap();
        let mut rec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let first = rec["response"]["outputs"][0]["data"][0].as_f64().unwrap();
        rec["response"]["outputs"][0]["data"][0] = json!(first + 1.0);
        std::fs::write(&file, rec.to_string()).unwrap();
        let (ok, out) = imo(acks(true)).await;
        assert!(!ok, "{out}");
        assert!(
            out.contains("REFUSED") && out.contains("refused 1"),
            "{out}"
        );
        let after = srv.client().with_key(&key).billing().await.unwrap();
        assert_eq!(after.epochs[0].acked_wei, (2 * PRICE).to_string(), "{out}");
        srv.finish().await;
    }
}
