//! Several `imo serve` replicas on one database (`cluster.enabled`; docs/DEPLOY.md).
//!
//! * `lease_terms_and_fencing`: the lease table itself — one holder at a time among racing
//!   replicas, renewals keep the term, a lapsed lease goes to another replica with a new fencing
//!   token, and a write fenced by an old term is refused by the database.
//! * `member_seals`: the epoch-close barrier's read — the last epoch every live member sealed.
//! * `leader_failover` (PostgreSQL, real processes, anvil): three replicas elect one leader; the
//!   leader is SIGKILLed right after broadcasting a transaction (mid-broadcast), and again
//!   mid-epoch; each time another replica takes over within one lease, the killed broadcast is
//!   tracked to final (not sent again), every epoch is attested and finalized exactly once, no
//!   nonce is used twice, and followers meter too (their receipts in the same trees); a leader
//!   stopped with SIGTERM hands the lease back, so another takes over in under a lease.
//! * `exactly_k_across_replicas` (PostgreSQL, real processes, chain off): a balance for exactly
//!   K calls, 32 clients spread over three replicas that all meter from balance leases: exactly
//!   K 200s, receipts == debits; then the leader is SIGKILLed mid-load, and then another is
//!   frozen (SIGSTOP) mid-load: the others meter on (what the dead one leased counts again once
//!   its membership lapses), the woken one writes nothing and steps down, every 200 has its
//!   receipt, nothing is charged twice.
//! * `replica_killed_holding_leases` (PostgreSQL, real processes): a replica leases part of a
//!   balance and is SIGKILLed; the others see that part as leased until its membership lapses,
//!   then serve it: the client gets exactly its balance's worth of calls, each charged once.

use std::{
    os::unix::process::ExitStatusExt,
    time::{Duration, Instant},
};

use alloy::{
    primitives::U256, providers::Provider, rpc::types::Filter, signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use imo_client::Client;
use imo_oracle::{
    chain::{bindings::UsageOracle, intent_entity},
    cluster::{
        Lease,
        lease::{self, hold_in},
    },
};
use sea_orm::{DatabaseConnection, EntityTrait, TransactionTrait};

use crate::{
    both_backends,
    crash::{ClientWallet, Deployed},
    helpers::*,
};

const PRICE: u128 = 1_000_000_000_000_000;
const WINDOW: u64 = 100;
const LEASE_SECS: u64 = 2;
const RENEW_MS: u64 = 400;

async fn connect(url: &str) -> DatabaseConnection {
    let db = imo_oracle::db::connect(&imo_oracle::config::DatabaseConfig {
        url: url.to_owned(),
        max_connections: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    imo_oracle::db::migrate(&db).await.unwrap();
    db
}

async fn lease_terms_and_fencing(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = fresh_database(b, dir.path()).await;
    let db = connect(&url).await;

    // Racing replicas: exactly one takes a free lease.
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let l = Lease::new(db.clone(), "race", &format!("r{i}"), 60_000);
            tokio::spawn(async move { l.acquire().await.unwrap() })
        })
        .collect();
    let mut won = vec![];
    for r in racers {
        won.extend(r.await.unwrap());
    }
    assert_eq!(won.len(), 1, "one winner: {won:?}");
    assert_eq!(won[0].fence.token, 1);

    let ttl = 600;
    let a = Lease::new(db.clone(), "t", "a", ttl);
    let b2 = Lease::new(db.clone(), "t", "b", ttl);
    let first = a.acquire().await.unwrap().expect("a free lease is taken");
    assert_eq!(first.fence.token, 1);
    assert_eq!(first.expires_at_ms - first.db_now_ms, ttl);
    assert!(b2.acquire().await.unwrap().is_none(), "held by a");
    let renewed = a.acquire().await.unwrap().expect("the holder renews");
    assert_eq!(renewed.fence, first.fence, "a renewal keeps the term");
    assert!(renewed.expires_at_ms >= first.expires_at_ms);
    // A write fenced by the current term goes through.
    let txn = db.begin().await.unwrap();
    hold_in(&txn, &first.fence).await.unwrap();
    txn.commit().await.unwrap();
    assert!(Lease::holds(&db, &first.fence).await.unwrap());

    // The lease lapses (database time); b takes it with a new token.
    eventually("the lease lapses", Duration::from_secs(5), || async {
        (!lease::read(&db, "t").await.unwrap().unwrap().is_live()).then_some(())
    })
    .await;
    let second = b2
        .acquire()
        .await
        .unwrap()
        .expect("a lapsed lease is taken");
    assert_eq!(second.fence.token, 2);
    assert!(a.acquire().await.unwrap().is_none(), "a lost it");
    assert!(!Lease::holds(&db, &first.fence).await.unwrap());
    let txn = db.begin().await.unwrap();
    let refused = hold_in(&txn, &first.fence).await.unwrap_err();
    assert_eq!(refused.code(), "not_leader", "{refused}");
    txn.rollback().await.unwrap();
    assert!(
        !a.release(&first.fence).await.unwrap(),
        "an old term hands back nothing"
    );

    // Handed back, it is free at once; its next holder gets a new token.
    assert!(b2.release(&second.fence).await.unwrap());
    let third = a.acquire().await.unwrap().expect("released: free at once");
    assert_eq!(third.fence.token, 3);
    db.close().await.ok();
    if let Some(name) = pg {
        drop_database(&name).await;
    }
}

/// The epoch-close barrier's read: the last epoch every live member sealed; a member that sealed
/// nothing holds every close back, a lapsed member holds nothing back.
async fn member_seals(b: Backend) {
    use imo_oracle::cluster::balance::{member_lease_name, seal, sealed_through};
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = fresh_database(b, dir.path()).await;
    let db = connect(&url).await;
    let through = || async {
        let txn = db.begin().await.unwrap();
        let s = sealed_through(&txn).await.unwrap();
        txn.commit().await.unwrap();
        s
    };
    assert_eq!(through().await, None, "no member: nothing is closable");
    let member = |id: &str, ttl| Lease::new(db.clone(), &member_lease_name(id), id, ttl);
    let (a, b2) = (member("a", 60_000), member("b", 800));
    let ta = a.acquire().await.unwrap().unwrap().fence;
    let tb = b2.acquire().await.unwrap().unwrap().fence;
    seal(&db, &ta, 7).await.unwrap();
    assert_eq!(through().await, None, "b sealed nothing yet");
    seal(&db, &tb, 5).await.unwrap();
    assert_eq!(through().await, Some(5), "the slowest live member");
    // The `chain` lease is not a member.
    Lease::new(db.clone(), "chain", "a", 60_000)
        .acquire()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(through().await, Some(5));
    // b's membership lapses: a alone decides.
    eventually(
        "b's membership to lapse",
        Duration::from_secs(5),
        || async { (through().await == Some(7)).then_some(()) },
    )
    .await;
    // A seal of an old term changes nothing.
    seal(&db, &tb, 9).await.unwrap();
    let tb2 = b2.acquire().await.unwrap().unwrap().fence;
    assert!(tb2.token > tb.token, "b comes back with a new term");
    assert_eq!(through().await, None, "b's new term sealed nothing yet");
    seal(&db, &tb2, 8).await.unwrap();
    assert_eq!(through().await, Some(7));
    db.close().await.ok();
    if let Some(name) = pg {
        drop_database(&name).await;
    }
}

both_backends!(lease_terms_and_fencing, member_seals);

/// The environment of the replicas: one database, one model store, one chain (a service's, as
/// in `crash.rs`), in cluster mode.
fn replica_env(dir: &std::path::Path, db_url: &str, rpc: &str) -> Vec<(String, String)> {
    let mut env = crate::crash::service_env(dir, db_url, rpc);
    env.extend(
        [
            ("IMO_CLUSTER_ENABLED", "true".to_owned()),
            ("IMO_CLUSTER_LEASE_SECS", LEASE_SECS.to_string()),
            ("IMO_CLUSTER_RENEW_MS", RENEW_MS.to_string()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    env
}

struct Cluster {
    env: Vec<(String, String)>,
    replicas: Vec<Option<ImoProcess>>,
    db: DatabaseConnection,
}

impl Cluster {
    async fn start_replica(&mut self, i: usize, extra: &[(&str, &str)]) {
        let id = format!("r{i}");
        // Each replica opens its pool at start: a few connections each keep three replicas
        // and the tests running beside them under PostgreSQL's connection limit.
        let mut all = vec![
            ("IMO_CLUSTER_REPLICA_ID", id.as_str()),
            ("IMO_DATABASE_MAX_CONNECTIONS", "6"),
        ];
        all.extend_from_slice(extra);
        self.replicas[i] = Some(ImoProcess::serve(&self.env, &all).await);
    }

    /// The replica holding a live lease now, if any.
    async fn leader(&self) -> Option<(usize, i64)> {
        let row = lease::read(&self.db, "chain").await.unwrap()?;
        if !row.is_live() {
            return None;
        }
        let i: usize = row.holder.strip_prefix('r')?.parse().ok()?;
        Some((i, row.token))
    }

    /// Waits (polling the table) until a replica other than `not` leads; the time it took.
    async fn new_leader(&self, not: Option<usize>, within: Duration) -> (usize, i64, Duration) {
        let started = Instant::now();
        let (i, token) = eventually("another replica to take the lease over", within, || async {
            self.leader()
                .await
                .filter(|(i, _)| Some(*i) != not && self.replicas[*i].is_some())
        })
        .await;
        (i, token, started.elapsed())
    }

    fn url(&self, i: usize) -> String {
        self.replicas[i].as_ref().unwrap().url.clone()
    }

    fn any_other(&self, not: usize) -> usize {
        (0..self.replicas.len())
            .find(|&j| j != not && self.replicas[j].is_some())
            .unwrap()
    }

    async fn until<F, Fut>(&mut self, i: usize, what: &str, secs: u64, cond: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        self.replicas[i]
            .as_mut()
            .unwrap()
            .until(what, secs, cond)
            .await;
    }

    async fn sigkill(&mut self, i: usize) {
        let mut p = self.replicas[i].take().unwrap();
        std::process::Command::new("kill")
            .args(["-KILL", &p.pid().to_string()])
            .status()
            .unwrap();
        let st = p.wait().await.unwrap();
        assert_eq!(st.signal(), Some(9));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_failover() {
    let d = Deployed::start(Backend::Postgres, replica_env).await;
    let (anvil, publisher_key, client_key) = (&d.anvil, &d.publisher_key, &d.client_key);
    let mut c = Cluster {
        env: d.env.clone(),
        replicas: vec![None, None, None],
        db: connect(&d.db_url).await,
    };
    // Every replica SIGKILLs itself right after broadcasting a `register` transaction.
    let fault = [("IMO_CHAIN_FAULT_INJECTION", "kill-after-send:register:")];
    for i in 0..3 {
        c.start_replica(i, &fault).await;
    }
    let (first, t1, _) = c
        .new_leader(None, Duration::from_secs(LEASE_SECS + 5))
        .await;

    // Any replica serves the API; the leader runs the chain jobs.
    let follower = c.any_other(first);
    let pub_api = Client::new(&c.url(follower)).with_key(publisher_key.clone());
    let meta = imo_client::Upload {
        name: "tiny-mlp".into(),
        price_wei: Some(PRICE.to_string()),
        ..Default::default()
    };
    let (_, model) = pub_api
        .upload_model(&meta, model_bytes("tiny_mlp.onnx"))
        .await
        .unwrap();
    pub_api
        .tokenize(&model.id, "Tiny MLP", "TMLP", "1000000", 8000)
        .await
        .unwrap();

    // Mid-broadcast: the leader sends `register` and is killed before recording anything more.
    let leader = c.replicas[first].as_mut().unwrap();
    let status = match tokio::time::timeout(Duration::from_secs(30), leader.wait()).await {
        Ok(s) => s.unwrap(),
        Err(_) => panic!(
            "the leader was not killed after sending register:\n{}",
            leader.log_tail()
        ),
    };
    assert_eq!(status.signal(), Some(9));
    c.replicas[first] = None;
    let (second, t2, took) = c
        .new_leader(Some(first), Duration::from_secs(LEASE_SECS + 3))
        .await;
    assert!(t2 > t1, "a new term, a new fencing token ({t1} -> {t2})");
    assert!(
        took <= Duration::from_millis(LEASE_SECS * 1000 + 2 * RENEW_MS + 500),
        "took over within one lease (+ a renewal): {took:?}"
    );
    eprintln!("failover after SIGKILL mid-broadcast: {took:?}");
    let leader_pub = Client::new(&c.url(second)).with_key(publisher_key.clone());
    let id = model.id.clone();
    c.until(
        second,
        "the model is tokenized by the new leader",
        30,
        || {
            let (api, id) = (leader_pub.clone(), id.clone());
            async move { api.token(&id).await.is_ok_and(|t| t.state == "tokenized") }
        },
    )
    .await;
    let registers: Vec<intent_entity::Model> = intent_entity::Entity::find()
        .all(&c.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.kind == "register")
        .collect();
    assert_eq!(registers.len(), 1);
    assert_eq!(
        registers[0].attempts, 1,
        "the killed broadcast was tracked, not re-sent"
    );
    assert_eq!(registers[0].hashes.split(',').count(), 1);
    // The killed replica comes back as a follower (without the fault).
    c.start_replica(first, &[]).await;

    // The client funds and authorises spending; the new leader indexes it.
    let client_api = Client::new(&c.url(second)).with_key(client_key.clone());
    let leader = c.replicas[second].as_mut().unwrap();
    ClientWallet::new(d.dir.path(), &d.env, leader, &d.client, client_key.clone())
        .fund(leader, &client_api, "the deposit and the cap are indexed")
        .await;
    // A follower meters too (from a balance lease); its receipts are settled like the leader's.
    let mut calls = std::collections::BTreeMap::<u64, u32>::new();
    let follower_client = Client::new(&c.url(first)).with_key(client_key.clone());
    let (status, body) = follower_client
        .infer_json("tiny-mlp", &infer_body())
        .await
        .unwrap();
    assert_eq!(status.as_u16(), 200, "a follower meters: {body}");
    *calls.entry(receipt_of(&body).epoch).or_default() += 1;

    // Calls on the leader, then it is killed mid-epoch (its receipts committed, the epoch open).
    for _ in 0..4 {
        *calls
            .entry(metered_call(&client_api).await.epoch)
            .or_default() += 1;
    }
    c.sigkill(second).await;
    let (third, t3, took) = c
        .new_leader(Some(second), Duration::from_secs(LEASE_SECS + 3))
        .await;
    assert!(t3 > t2);
    assert!(
        took <= Duration::from_millis(LEASE_SECS * 1000 + 2 * RENEW_MS + 500),
        "took over within one lease (+ a renewal): {took:?}"
    );
    eprintln!("failover after SIGKILL mid-epoch: {took:?}");
    // The new leader meters at once, whatever it learnt while it followed (the tokenized model).
    let api = Client::new(&c.url(third)).with_key(client_key.clone());
    let r: imo_oracle::receipts::ReceiptRecord = eventually(
        "the new leader to meter",
        Duration::from_secs(2),
        || async {
            let (status, body) = api.infer_json("tiny-mlp", &infer_body()).await.unwrap();
            if status.as_u16() == 200 {
                return Some(receipt_of(&body));
            }
            assert_eq!(status.as_u16(), 503, "{body}");
            None
        },
    )
    .await;
    *calls.entry(r.epoch).or_default() += 1;

    // Three replicas again, 32 concurrent clients spread over them: every 200 is counted in
    // its epoch, and the totals below hold to the wei (200s == receipts == attested == paid).
    c.start_replica(second, &[]).await;
    let urls: Vec<String> = (0..3).map(|i| c.url(i)).collect();
    let load: Vec<_> = (0..32)
        .map(|t| tokio::spawn(call_n(urls.clone(), client_key.clone(), t, 4)))
        .collect();
    let mut under_load = 0;
    for t in load {
        for r in t.await.unwrap() {
            *calls.entry(r.epoch).or_default() += 1;
            under_load += 1;
        }
    }
    assert_eq!(under_load, 32 * 4);
    let epochs: Vec<u64> = calls.keys().copied().collect();
    let e2 = epochs.clone();
    c.until(third, &format!("epochs {epochs:?} attested"), 40, || {
        let (api, e2) = (api.clone(), e2.clone());
        async move { epochs_in(&api, &e2, "attested").await }
    })
    .await;
    anvil.time_travel(WINDOW + 1).await;
    c.until(third, &format!("epochs {epochs:?} finalized"), 60, || {
        let (api, e2) = (api.clone(), e2.clone());
        async move { epochs_in(&api, &e2, "finalized").await }
    })
    .await;

    // Exactly once on-chain: one attestation and one payment per epoch; every receipt counted.
    let oracle: alloy::primitives::Address =
        api.contracts().await.unwrap().usage_oracle.parse().unwrap();
    let logs = |sig| {
        let p = anvil.provider();
        async move {
            p.get_logs(
                &Filter::new()
                    .address(oracle)
                    .event_signature(sig)
                    .from_block(0),
            )
            .await
            .unwrap()
        }
    };
    let attested = logs(UsageOracle::Attested::SIGNATURE_HASH).await;
    assert_eq!(attested.len(), epochs.len(), "one attestation per epoch");
    for l in &attested {
        let e = UsageOracle::Attested::decode_log(&l.inner).unwrap();
        assert_eq!(
            e.count,
            u64::from(calls[&e.epoch]),
            "epoch {}: every receipt the killed leader committed is in the tree",
            e.epoch
        );
    }
    let paid = logs(UsageOracle::ModelPaid::SIGNATURE_HASH).await;
    assert_eq!(paid.len(), epochs.len(), "one payment per epoch");
    let fee_bps = crate::crash::FEE_BPS;
    for l in &paid {
        let e = UsageOracle::ModelPaid::decode_log(&l.inner).unwrap();
        let gross = u128::from(calls[&e.epoch]) * PRICE;
        assert_eq!(
            e.amount,
            U256::from(gross - gross * fee_bps / 10_000),
            "epoch {}: paid its calls less the fee, to the wei",
            e.epoch
        );
    }
    // No nonce twice: the recorded nonces are distinct and are exactly the operator's
    // transactions on-chain.
    let intents = intent_entity::Entity::find().all(&c.db).await.unwrap();
    let mut nonces: Vec<i64> = intents.iter().filter_map(|i| i.nonce).collect();
    let n = nonces.len();
    nonces.sort_unstable();
    nonces.dedup();
    assert_eq!(nonces.len(), n, "a nonce recorded twice: {intents:#?}");
    let operator = OPERATOR_KEY.parse::<PrivateKeySigner>().unwrap().address();
    let sent = anvil
        .provider()
        .get_transaction_count(operator)
        .await
        .unwrap();
    assert_eq!(
        sent as usize, n,
        "every operator transaction is one recorded intent"
    );
    assert!(intents.iter().all(|i| i.state == "final"), "{intents:#?}");
    // SIGTERM hands the lease back: another replica leads at its next try, not a lease later.
    c.replicas[third].take().unwrap().stop().await;
    let (_, t4, took) = c
        .new_leader(Some(third), Duration::from_secs(LEASE_SECS))
        .await;
    assert!(t4 > t3);
    assert!(
        took < Duration::from_millis(LEASE_SECS * 1000),
        "handed back on SIGTERM: taken over in {took:?}, under one lease"
    );
    eprintln!("failover after SIGTERM: {took:?}");
    for i in 0..3 {
        if let Some(p) = c.replicas[i].take() {
            p.stop().await;
        }
    }
    c.db.close().await.ok();
    if let Some(name) = d.pg_db {
        drop_database(&name).await;
    }
}

/// Metered calls round-robin over `urls` from `start`, until `n` succeeded (`Some(n)`) or the
/// ledger refuses (402); a 503 (uncharged: the rest of the balance is leased to another
/// replica, a replica whose membership lapsed, a deposed leader's refused batch) or a refused
/// connection moves to the next replica. The receipts of the 200s.
async fn call_round_robin(
    urls: Vec<String>,
    key: String,
    start: usize,
    n: Option<usize>,
) -> Vec<imo_oracle::receipts::ReceiptRecord> {
    let mut ok = vec![];
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = start;
    while n.is_none_or(|n| ok.len() < n) {
        assert!(Instant::now() < deadline, "calls kept failing for 60 s");
        let api = Client::new(&urls[i % urls.len()]).with_key(key.clone());
        i += 1;
        match api.infer_json("tiny-mlp", &infer_body()).await {
            Ok((s, body)) if s.as_u16() == 200 => ok.push(receipt_of(&body)),
            Ok((s, _)) if s.as_u16() == 402 && n.is_none() => break,
            // Leased elsewhere (`balance_leased`), or a batch refused (a lapsed membership, a
            // stalled transaction ended by the database): uncharged, try the next replica.
            Ok((s, _)) if s.as_u16() == 503 => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok((s, body)) => panic!("unexpected {s}: {body}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    ok
}

async fn call_n(
    urls: Vec<String>,
    key: String,
    start: usize,
    n: usize,
) -> Vec<imo_oracle::receipts::ReceiptRecord> {
    call_round_robin(urls, key, start, Some(n)).await
}

/// Calls until the ledger refuses (402): the receipt ids of the 200s.
async fn call_until_refused(urls: Vec<String>, key: String, start: usize) -> Vec<String> {
    call_round_robin(urls, key, start, None)
        .await
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// Three replicas metering on one PostgreSQL database (chain off, admin credits), `tiny-mlp`
/// uploaded at price `p`, a leader elected.
struct Metering {
    c: Cluster,
    urls: Vec<String>,
    leader: usize,
    ckey: String,
    akey: String,
    /// The client's address.
    addr: String,
    pg_db: Option<String>,
    _dir: tempfile::TempDir,
}

async fn metering_cluster(lease_secs: u64, renew_ms: u64, p: u128) -> Metering {
    let dir = tempfile::tempdir().unwrap();
    let (db_url, pg_db) = fresh_database(Backend::Postgres, dir.path()).await;
    let mut env = binary_env(dir.path(), &db_url);
    env.extend(
        [
            (
                "IMO_AUTH_ADMIN_ADDRESSES",
                format!("[\"{}\"]", admin_signer().address()),
            ),
            ("IMO_CLUSTER_ENABLED", "true".into()),
            ("IMO_CLUSTER_LEASE_SECS", lease_secs.to_string()),
            ("IMO_CLUSTER_RENEW_MS", renew_ms.to_string()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    run_imo(&env, &["migrate"]);
    let (publisher, client) = (signer(41), signer(42));
    let pkey = cli_key(&env, &publisher, "publisher");
    let ckey = cli_key(&env, &client, "client");
    let akey = cli_key(&env, &admin_signer(), "admin");
    let mut c = Cluster {
        env: env.clone(),
        replicas: vec![None, None, None],
        db: connect(&db_url).await,
    };
    for i in 0..3 {
        c.start_replica(i, &[]).await;
    }
    let (leader, _, _) = c
        .new_leader(None, Duration::from_secs(lease_secs + 5))
        .await;
    let urls: Vec<String> = (0..3).map(|i| c.url(i)).collect();
    let meta = imo_client::Upload {
        name: "tiny-mlp".into(),
        price_wei: Some(p.to_string()),
        ..Default::default()
    };
    Client::new(&urls[c.any_other(leader)])
        .with_key(pkey)
        .upload_model(&meta, model_bytes("tiny_mlp.onnx"))
        .await
        .unwrap();
    Metering {
        c,
        urls,
        leader,
        ckey,
        akey,
        addr: client.address().to_string(),
        pg_db,
        _dir: dir,
    }
}

/// Metering across three replicas (chain off, admin credits): a balance for exactly K calls
/// gives exactly K 200s among 32 concurrent clients spread over the replicas, receipts ==
/// debits to the wei; then the leader is SIGKILLed while 32 clients call: the others meter on,
/// every 200 has its receipt, nothing is charged twice, and the balance is its credits less its
/// receipts to the wei.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_k_across_replicas() {
    const K: usize = 60;
    const P: u128 = 1_000;
    let Metering {
        mut c,
        urls,
        leader,
        ckey,
        akey,
        addr,
        pg_db,
        _dir,
    } = metering_cluster(LEASE_SECS, RENEW_MS, P).await;
    let admin = Client::new(&urls[leader]).with_key(akey.clone());
    // Any replica writes balances: half the credit through a follower, half through the leader.
    let follower_admin = Client::new(&urls[c.any_other(leader)]).with_key(akey.clone());
    follower_admin
        .credit(&addr, &(K as u128 / 2 * P).to_string())
        .await
        .unwrap();
    admin
        .credit(&addr, &((K as u128 - K as u128 / 2) * P).to_string())
        .await
        .unwrap();

    let ids = round(urls.clone(), ckey.clone()).await;
    assert_eq!(ids.len(), K, "exactly K calls succeed across the replicas");
    let rows = receipt_rows(&c.db).await;
    assert_eq!(rows.len(), K, "receipts == 200s");
    debits_match(&c, leader, &ckey, K, K as u128 * P, P).await;

    // The leader dies while 32 clients call: another replica meters on.
    admin
        .credit(&addr, &(K as u128 * P).to_string())
        .await
        .unwrap();
    let calls = round_under_load(&c.db, urls.clone(), &ckey).await;
    c.sigkill(leader).await;
    let (new, _, took) = c
        .new_leader(Some(leader), Duration::from_secs(LEASE_SECS + 3))
        .await;
    eprintln!("metering failover: {took:?}");
    let ids2 = calls.await.unwrap();
    let rows = receipts_hold(&c.db, ids.iter().chain(&ids2)).await;
    // Calls whose response the kill cut may have committed: charged once, never twice.
    assert!(
        rows.len() >= K + ids2.len() && rows.len() <= 2 * K,
        "{} receipts",
        rows.len()
    );
    let b = debits_match(&c, new, &ckey, rows.len(), 2 * K as u128 * P, P).await;
    report("after the kill", ids2.len(), rows.len() - K, &b);

    // The leader is frozen (SIGSTOP) under load, possibly inside a ledger transaction that
    // holds the lease row: the database ends that transaction after one lease, another replica
    // takes over and meters; woken (SIGCONT), the old leader writes nothing and steps down.
    let before = rows.len();
    let admin = Client::new(&c.url(new)).with_key(akey.clone());
    admin
        .credit(&addr, &(K as u128 * P).to_string())
        .await
        .unwrap();
    let urls: Vec<String> = (0..3)
        .map(|i| {
            c.replicas[i]
                .as_ref()
                .map_or_else(|| "http://127.0.0.1:9".to_owned(), |p| p.url.clone())
        })
        .collect();
    let calls = round_under_load(&c.db, urls, &ckey).await;
    let frozen = c.replicas[new].as_ref().unwrap().pid().to_string();
    let signal = |sig: &str| {
        assert!(
            std::process::Command::new("kill")
                .args([sig, &frozen])
                .status()
                .unwrap()
                .success()
        )
    };
    signal("-STOP");
    let (next, _, took) = c
        .new_leader(Some(new), Duration::from_secs(3 * LEASE_SECS + 2))
        .await;
    eprintln!("failover from a frozen leader: {took:?}");
    signal("-CONT");
    let ids3 = calls.await.unwrap();
    let metrics = format!("{}/metrics", c.url(new));
    eventually(
        "the woken leader to step down",
        Duration::from_secs(10),
        || async {
            let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
            text.contains("imo_cluster_leader{lease=\"chain\"} 0")
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        c.leader().await.map(|l| l.0),
        Some(next),
        "the lease stays with {next}"
    );
    let rows = receipts_hold(&c.db, &ids3).await;
    assert!(rows.len() >= before + ids3.len() && rows.len() <= before + K);
    let b = debits_match(&c, next, &ckey, rows.len(), 3 * K as u128 * P, P).await;
    report("frozen leader", ids3.len(), rows.len() - before, &b);
    for i in 0..3 {
        if let Some(p) = c.replicas[i].take() {
            p.stop().await;
        }
    }
    c.db.close().await.ok();
    if let Some(name) = pg_db {
        drop_database(&name).await;
    }
}

/// 32 clients calling over `urls` with `key` until the ledger refuses: the receipt ids of the
/// 200s.
async fn round(urls: Vec<String>, key: String) -> Vec<String> {
    let tasks: Vec<_> = (0..32)
        .map(|t| tokio::spawn(call_until_refused(urls.clone(), key.clone(), t)))
        .collect();
    let mut ids = vec![];
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    ids
}

/// Every receipt in the database.
async fn receipt_rows(db: &DatabaseConnection) -> Vec<imo_oracle::db::receipts::Model> {
    imo_oracle::db::receipts::Entity::find()
        .all(db)
        .await
        .unwrap()
}

/// A [`round`] started in the background, returned once the replicas serve it (a receipt more
/// in the database).
async fn round_under_load(
    db: &DatabaseConnection,
    urls: Vec<String>,
    key: &str,
) -> tokio::task::JoinHandle<Vec<String>> {
    let calls = tokio::spawn(round(urls, key.to_owned()));
    let served = receipt_rows(db).await.len();
    eventually(
        "calls served under load",
        Duration::from_secs(10),
        || async { (receipt_rows(db).await.len() > served).then_some(()) },
    )
    .await;
    calls
}

/// The receipts in the database, each once; every one of `ids` (200s) among them.
async fn receipts_hold<'a>(
    db: &DatabaseConnection,
    ids: impl IntoIterator<Item = &'a String>,
) -> Vec<imo_oracle::db::receipts::Model> {
    let rows = receipt_rows(db).await;
    let stored: std::collections::HashSet<String> = rows.iter().map(|r| r.id.clone()).collect();
    assert_eq!(stored.len(), rows.len());
    for id in ids {
        assert!(stored.contains(id), "every 200 has its receipt ({id})");
    }
    rows
}

/// The client's balance as replica `i` reports it, checked against its `credited` wei less
/// `receipts` calls at `p`: every receipt debited, to the wei.
async fn debits_match(
    c: &Cluster,
    i: usize,
    key: &str,
    receipts: usize,
    credited: u128,
    p: u128,
) -> imo_client::dto::BalanceResponse {
    let b = balance_at(c, i, key).await;
    let spent = receipts as u128 * p;
    assert_eq!(
        b.spent_wei,
        spent.to_string(),
        "debits == receipts, to the wei"
    );
    assert_eq!(b.balance_wei, (credited - spent).to_string());
    b
}

fn report(what: &str, seen: usize, receipts: usize, b: &imo_client::dto::BalanceResponse) {
    eprintln!(
        "{what}: {seen} 200s seen, {receipts} receipts, balance {} wei",
        b.balance_wei
    );
}

/// The client's balance as replica `i` reports it.
async fn balance_at(c: &Cluster, i: usize, key: &str) -> imo_client::dto::BalanceResponse {
    Client::new(&c.url(i))
        .with_key(key.to_owned())
        .balance()
        .await
        .unwrap()
}

/// A replica SIGKILLed while it holds a balance lease: the others see that part as leased (not
/// available) until the dead replica's membership lapses, then serve it. The client gets exactly
/// its balance's worth of calls, each charged once, to the wei.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_killed_holding_leases() {
    const K: u128 = 40;
    const P: u128 = 1_000;
    // A longer lease than the other tests', so that the dead replica's lease is seen first.
    const LEASE: u64 = 4;
    let m = metering_cluster(LEASE, 1_000, P).await;
    let (mut c, urls, ckey) = (m.c, m.urls, m.ckey);
    Client::new(&urls[0])
        .with_key(m.akey)
        .credit(&m.addr, &(K * P).to_string())
        .await
        .unwrap();
    let mut served = vec![];
    let call = |i: usize| {
        let api = Client::new(&urls[i]).with_key(ckey.clone());
        async move {
            let (s, body) = api.infer_json("tiny-mlp", &infer_body()).await.unwrap();
            (s.as_u16(), body)
        }
    };
    // Replica 1 leases half of what is free (20 calls' worth) at its first call, and serves 5.
    for _ in 0..5 {
        let (s, body) = call(1).await;
        assert_eq!(s, 200, "{body}");
        served.push(
            body["parameters"]["imo_receipt"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let member = imo_oracle::cluster::balance::member_lease_name("r1");
    let leases = c.db.clone();
    let row: Option<(String, String)> = sea_orm::ConnectionTrait::query_one_raw(
        &leases,
        sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT member, amount_wei FROM balance_leases WHERE member = $1",
            [member.clone().into()],
        ),
    )
    .await
    .unwrap()
    .map(|r| {
        (
            r.try_get("", "member").unwrap(),
            r.try_get("", "amount_wei").unwrap(),
        )
    });
    assert_eq!(
        row,
        Some((member, (15 * P).to_string())),
        "r1 holds 15 calls' worth"
    );
    c.sigkill(1).await;

    // Its membership is still live: what it leased is not available on the others.
    let b = balance_at(&c, 0, &ckey).await;
    assert_eq!(b.balance_wei, (35 * P).to_string());
    assert_eq!(b.leased_wei, (15 * P).to_string(), "{b:?}");
    assert_eq!(b.available_wei, (20 * P).to_string(), "{b:?}");

    // Once it lapses (one lease), everything left is available again, on any replica.
    let (c0, c2) = (&c, &ckey);
    eventually(
        "the dead replica's lease to lapse",
        Duration::from_secs(LEASE + 3),
        || async move {
            let b = balance_at(c0, 2, c2).await;
            (b.leased_wei == "0" && b.available_wei == (35 * P).to_string()).then_some(())
        },
    )
    .await;
    // The survivors serve exactly the rest: 35 calls, then 402.
    let mut i = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "calls kept failing for 60 s");
        let (s, body) = call([0, 2][i % 2]).await;
        i += 1;
        match s {
            200 => served.push(
                body["parameters"]["imo_receipt"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            402 => break,
            // The other survivor holds the rest for now; it hands it back when recalled.
            503 => assert_eq!(
                body["error"].as_str().map(|e| e.contains("leased")),
                Some(true),
                "{body}"
            ),
            _ => panic!("unexpected {s}: {body}"),
        }
    }
    assert_eq!(
        served.len() as u128,
        K,
        "exactly the balance's worth of calls"
    );
    let rows = receipt_rows(&c.db).await;
    assert_eq!(rows.len() as u128, K, "one receipt per 200, none twice");
    let b = debits_match(&c, 0, &ckey, K as usize, K * P, P).await;
    assert_eq!(b.leased_wei, "0");
    for i in [0, 2] {
        if let Some(p) = c.replicas[i].take() {
            p.stop().await;
        }
    }
    // Stopped replicas returned their leases; only the killed one's row is left (it counts for
    // nothing: its membership lapsed).
    let left: Vec<String> = sea_orm::ConnectionTrait::query_all_raw(
        &c.db,
        sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT member FROM balance_leases",
        ),
    )
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.try_get("", "member").unwrap())
    .collect();
    assert_eq!(
        left,
        vec![imo_oracle::cluster::balance::member_lease_name("r1")],
        "the stopped replicas returned their leases"
    );
    c.db.close().await.ok();
    if let Some(name) = m.pg_db {
        drop_database(&name).await;
    }
}
