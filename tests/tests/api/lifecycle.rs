//! The application's lifecycle on the real binary: SIGTERM while 32 callers keep calling. The
//! ordered shutdown (docs/ARCHITECTURE.md, "The application") promises that every response a
//! caller received with 200 has its receipt committed, and that balances add up: checked after
//! a restart on the same database, through the API.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use serde_json::json;

use crate::{both_backends, helpers::*};

const PRICE: u128 = 1_000_000_000_000;
const CREDIT: u128 = 1_000_000 * PRICE;
const CALLERS: usize = 32;
const CLIENTS: u8 = 4;

/// What the callers saw, per client address.
#[derive(Default)]
struct Seen {
    ok: BTreeMap<String, BTreeSet<String>>,
    /// Statuses other than 200 (none expected: a caller either gets its answer or cannot connect).
    other: Vec<(u16, String)>,
}

async fn sigterm_under_load(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (db_url, pg_db) = fresh_database(b, dir.path()).await;
    let env = binary_env(dir.path(), &db_url);
    let key = |n: u8, role: &str| cli_key(&env, &signer(n), role);
    let publisher_key = key(1, "publisher");
    let admin_key = key(200, "admin");
    let client_keys: Vec<(String, String)> = (0..CLIENTS)
        .map(|i| {
            let s = signer(10 + i);
            (s.address().to_string(), key(10 + i, "client"))
        })
        .collect();

    let mut server = ImoProcess::serve(&env, &[]).await;
    let base = imo_client::Client::new(&server.url);
    tiny_and_credits(
        &base,
        publisher_key,
        &admin_key,
        client_keys.iter().map(|(address, _)| address.clone()),
        PRICE,
        CREDIT,
    )
    .await;

    // 32 callers over 4 client keys, each calling until the service stops answering.
    let seen = Arc::new(std::sync::Mutex::new(Seen::default()));
    let (count_tx, mut count_rx) = tokio::sync::watch::channel(0usize);
    let count_tx = Arc::new(count_tx);
    let body = json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]});
    let mut callers = Vec::new();
    for i in 0..CALLERS {
        let (address, key) = client_keys[i % CLIENTS as usize].clone();
        let api = base.with_key(key);
        let (seen, count_tx, body) = (seen.clone(), count_tx.clone(), body.clone());
        callers.push(tokio::spawn(async move {
            loop {
                match api.infer_json("tiny", &body).await {
                    Ok((status, v)) if status.as_u16() == 200 => {
                        let r: imo_oracle::receipts::ReceiptRecord =
                            serde_json::from_str(v["parameters"]["imo_receipt"].as_str().unwrap())
                                .unwrap();
                        assert_eq!(r.client.to_string(), address);
                        seen.lock()
                            .unwrap()
                            .ok
                            .entry(address.clone())
                            .or_default()
                            .insert(r.id);
                        count_tx.send_modify(|n| *n += 1);
                    }
                    Ok((status, v)) => {
                        seen.lock()
                            .unwrap()
                            .other
                            .push((status.as_u16(), v.to_string()));
                        return;
                    }
                    // Refused or reset: the service has stopped accepting.
                    Err(_) => return,
                }
            }
        }));
    }
    // Under load (at least 4 answered calls per caller on average), SIGTERM.
    tokio::time::timeout(
        Duration::from_secs(120),
        count_rx.wait_for(|n| *n >= 4 * CALLERS),
    )
    .await
    .expect("the callers get answers")
    .unwrap();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tokio::time::timeout(Duration::from_secs(30), server.wait())
        .await
        .expect("the service stops within 30 s of SIGTERM")
        .unwrap();
    assert!(
        status.success(),
        "clean exit after SIGTERM: {status}\n{}",
        server.log_tail()
    );
    for c in callers {
        tokio::time::timeout(Duration::from_secs(30), c)
            .await
            .expect("every caller ends once the service is gone")
            .unwrap();
    }
    let log = server.log_tail();
    for step in ["HTTP drained", "domain stopped", "\"stopped\""] {
        assert!(log.contains(step), "the shutdown logs {step}:\n{log}");
    }
    let seen = Arc::try_unwrap(seen)
        .ok()
        .expect("callers ended")
        .into_inner()
        .unwrap();
    assert!(
        seen.other.is_empty(),
        "callers got answers other than 200: {:?}",
        seen.other
    );
    let answered: usize = seen.ok.values().map(BTreeSet::len).sum();
    assert!(answered >= 4 * CALLERS, "{answered}");

    // Restarted on the same database: every 200 has its receipt, and only those; each
    // balance is its credit less what its receipts charged; nothing is left reserved.
    let server = ImoProcess::serve(&env, &[]).await;
    let base = imo_client::Client::new(&server.url);
    for (address, key) in &client_keys {
        let api = base.with_key(key.clone());
        let mut stored = BTreeSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = vec![("limit", "1000".to_owned())];
            if let Some(c) = &cursor {
                q.push(("after", c.clone()));
            }
            let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let page = api.receipts(&q).await.unwrap();
            stored.extend(page.receipts.iter().map(|r| r.id.clone()));
            match page.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let empty = BTreeSet::new();
        let ok = seen.ok.get(address).unwrap_or(&empty);
        assert_eq!(&stored, ok, "receipts of {address} == the 200s it saw");
        let bal = api.balance().await.unwrap();
        assert_eq!(
            bal.balance_wei,
            (CREDIT - ok.len() as u128 * PRICE).to_string(),
            "{address}: {bal:?}"
        );
        assert_eq!(bal.spent_wei, (ok.len() as u128 * PRICE).to_string());
        assert_eq!(bal.reserved_wei, "0", "{address}: {bal:?}");
    }
    server.stop().await;
    if let Some(name) = pg_db {
        drop_database(&name).await;
    }
}

both_backends!(sigterm_under_load);
