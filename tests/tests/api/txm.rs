//! The transaction manager (`imo_oracle::chain::txm`) on a real anvil over both databases:
//! intents are sent exactly once and become final; reverting calls fail with the contract's
//! error and consume no nonce; a restart rebroadcasts instead of re-sending; nonces re-sync
//! after an external transaction; stuck transactions are re-signed with higher fees; a reorg
//! that drops a mined transaction is healed by rebroadcasting it; an unreachable RPC loses
//! nothing.

use alloy::{
    network::TransactionBuilder,
    primitives::{Address as EthAddress, B256, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use imo_oracle::{
    OracleError,
    chain::{
        self, Deployment,
        bindings::{PaymentVault, UsageOracle},
        intent_entity,
        txm::{Intent, IntentState, PumpReport, TxManager},
    },
    config::ChainConfig,
};
use sea_orm::EntityTrait;
use serde_json::json;

use crate::{both_backends, helpers::*};

fn operator() -> PrivateKeySigner {
    OPERATOR_KEY.parse().unwrap()
}

fn op() -> EthAddress {
    operator().address()
}

/// The `[chain]` config of a test: `rpc_url`, anvil's first key as deployer (its file written
/// into the server's directory), one confirmation.
fn chain_cfg(srv: &TestServer, rpc_url: &str) -> ChainConfig {
    let key_file = srv.dir.path().join("deployer.key");
    std::fs::write(&key_file, format!("{ANVIL_KEY_0}\n")).unwrap();
    ChainConfig {
        rpc_url: rpc_url.to_owned(),
        chain_id: CHAIN_ID,
        deployer_key_file: Some(key_file),
        confirmations: 1,
        ..ChainConfig::default()
    }
}

/// Deploys the suite with the operator as OPERATOR_ROLE (anvil must be automining).
async fn deploy(cfg: &ChainConfig) -> Deployment {
    chain::Chain::connect(cfg)
        .await
        .expect("connect")
        .deploy(imo_oracle::types::Address(op()), 0)
        .await
        .expect("deploy the suite")
}

/// A manager over the server's database, signing with the operator key.
fn manager(srv: &TestServer, cfg: &ChainConfig) -> TxManager {
    let provider = ProviderBuilder::new()
        .connect_http(cfg.rpc_url.parse().unwrap())
        .erased();
    TxManager::new(
        srv.oracle.db.clone(),
        provider,
        operator(),
        cfg,
        srv.clock.clone(),
    )
}

fn deposit() -> Bytes {
    PaymentVault::depositCall {}.abi_encode().into()
}

fn withdraw() -> Bytes {
    PaymentVault::withdrawCall {}.abi_encode().into()
}

fn wei(n: u64) -> U256 {
    U256::from(n)
}

async fn nonce(p: &DynProvider) -> u64 {
    p.get_transaction_count(op()).await.unwrap()
}

async fn pending_nonce(p: &DynProvider) -> u64 {
    p.get_transaction_count(op()).pending().await.unwrap()
}

async fn vault_balance(p: &DynProvider, d: &Deployment) -> U256 {
    PaymentVault::new(d.vault.0, p)
        .balanceOf(op())
        .call()
        .await
        .unwrap()
}

async fn intent(m: &TxManager, key: &str) -> Intent {
    m.get(key)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("intent {key} exists"))
}

/// The operator's transactions in anvil's pool: `(nonce, hash)`.
async fn pool(anvil: &Anvil) -> Vec<(u64, B256)> {
    let content = anvil.rpc("txpool_content", json!([])).await;
    let mut out = vec![];
    for (addr, txs) in content["pending"].as_object().unwrap() {
        if addr.eq_ignore_ascii_case(&op().to_string()) {
            for tx in txs.as_object().unwrap().values() {
                let n =
                    u64::from_str_radix(tx["nonce"].as_str().unwrap().trim_start_matches("0x"), 16);
                out.push((n.unwrap(), tx["hash"].as_str().unwrap().parse().unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Pumps (mining one block between passes when `mine`) until every key is in `state`.
async fn pump_until(
    m: &TxManager,
    anvil: &Anvil,
    keys: &[&str],
    state: IntentState,
    mine: bool,
) -> Vec<Intent> {
    let mut last = vec![];
    for _ in 0..20 {
        m.pump().await.expect("pump");
        last.clear();
        for k in keys {
            last.push(intent(m, k).await);
        }
        if last.iter().all(|i| i.state == state) {
            return last;
        }
        if mine {
            anvil.rpc("evm_mine", json!([])).await;
        }
    }
    panic!("intents {keys:?} not {state:?} after 20 passes: {last:#?}");
}

/// Anvil with the suite deployed (`tweak` adjusts the config first) and a server over a fresh
/// database on backend `b`: anvil, the server, the config, the deployment, anvil's provider and
/// the operator's nonce.
async fn deployed(
    b: Backend,
    tweak: impl FnOnce(&mut ChainConfig),
) -> (Anvil, TestServer, ChainConfig, Deployment, DynProvider, u64) {
    let anvil = Anvil::spawn().await;
    let srv = TestServer::start(b).await;
    let mut cfg = chain_cfg(&srv, &anvil.url);
    tweak(&mut cfg);
    let d = deploy(&cfg).await;
    let p = anvil.provider();
    let n0 = nonce(&p).await;
    (anvil, srv, cfg, d, p, n0)
}

/// Submits a deposit of `amount` wei into the vault as intent `key`: the intent.
async fn submit_deposit(m: &TxManager, d: &Deployment, key: &str, amount: u64) -> Intent {
    m.submit(key, "deposit", d.vault.0, deposit(), wei(amount))
        .await
        .unwrap()
}

/// Pumps until the intent `key` is final (see [`pump_until`]): the intent.
async fn finalized(m: &TxManager, anvil: &Anvil, key: &str, mine: bool) -> Intent {
    let [done] = pump_until(m, anvil, &[key], IntentState::Final, mine)
        .await
        .try_into()
        .unwrap();
    done
}

/// The transaction `hash` in the node's pool.
async fn in_pool(p: &DynProvider, hash: B256) -> alloy::rpc::types::Transaction {
    p.get_transaction_by_hash(hash)
        .await
        .unwrap()
        .expect("in the pool")
}

async fn automine(anvil: &Anvil, on: bool) {
    anvil.rpc("evm_setAutomine", json!([on])).await;
}

/// A transfer signed with the operator key outside the manager (a fresh provider: the nonce
/// filler caches nonces), mined.
async fn send_external(anvil: &Anvil) {
    let tx = TransactionRequest::default()
        .with_to(EthAddress::ZERO)
        .with_value(wei(1));
    let receipt = anvil
        .wallet(&operator())
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
}

/// The stored row (for the columns `Intent` does not show: hashes, fees).
async fn row(srv: &TestServer, key: &str) -> intent_entity::Model {
    intent_entity::Entity::find_by_id(key.to_owned())
        .one(&srv.oracle.db)
        .await
        .unwrap()
        .expect("row")
}

async fn sends_once_and_finalizes(b: Backend) {
    let (anvil, srv, cfg, d, p, n0) = deployed(b, |_| {}).await;
    let m = manager(&srv, &cfg);
    assert_eq!(m.sender(), op());

    let i = m
        .submit("deposit:1", "deposit", d.vault.0, deposit(), wei(1000))
        .await
        .unwrap();
    assert_eq!(i.state, IntentState::Pending);
    assert_eq!((i.nonce, i.tx_hash, i.attempts), (None, None, 0));
    assert_eq!(i.to, d.vault.0);
    // Idempotent by key; another payload under the same key is a conflict.
    let again = m
        .submit("deposit:1", "deposit", d.vault.0, deposit(), wei(1000))
        .await
        .unwrap();
    assert_eq!(again, i);
    let e = m
        .submit("deposit:1", "deposit", d.vault.0, deposit(), wei(1001))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "conflict", "{e}");
    let e = m
        .submit("deposit:1", "deposit", d.oracle.0, deposit(), wei(1000))
        .await
        .unwrap_err();
    assert!(matches!(e, OracleError::Conflict(_)), "{e}");
    assert_eq!(nonce(&p).await, n0, "submit sends nothing");

    let r = m.pump().await.unwrap();
    assert_eq!(r.sent, 1, "{r:?}");
    let done = finalized(&m, &anvil, "deposit:1", false).await;
    assert_eq!(done.nonce, Some(n0));
    assert_eq!(done.attempts, 1);
    assert_eq!(done.error, None);
    let receipt = m.receipt("deposit:1").await.unwrap().expect("receipt");
    assert!(receipt.status());
    assert_eq!(Some(receipt.transaction_hash), done.tx_hash);
    assert_eq!(receipt.block_number, done.block_number);
    assert_eq!(Some(receipt.gas_used), done.gas_used);
    assert!(receipt.gas_used > 21_000);
    assert_eq!(receipt.from, op());
    // Executed exactly once.
    assert_eq!(nonce(&p).await, n0 + 1);
    assert_eq!(vault_balance(&p, &d).await, wei(1000));

    // A final intent submitted again is returned as it is; passes send nothing more.
    let again = m
        .submit("deposit:1", "deposit", d.vault.0, deposit(), wei(1000))
        .await
        .unwrap();
    assert_eq!(again, done);
    assert_eq!(m.pump().await.unwrap(), PumpReport::default());
    assert_eq!(nonce(&p).await, n0 + 1);

    // Five intents: consecutive nonces, all final, each executed once.
    let keys: Vec<String> = (1..=5).map(|k| format!("deposit:batch:{k}")).collect();
    for (k, key) in keys.iter().enumerate() {
        submit_deposit(&m, &d, key, k as u64 + 1).await;
    }
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let done = pump_until(&m, &anvil, &refs, IntentState::Final, false).await;
    let mut nonces: Vec<u64> = done.iter().map(|i| i.nonce.unwrap()).collect();
    nonces.sort();
    assert_eq!(nonces, (n0 + 1..=n0 + 5).collect::<Vec<_>>());
    assert_eq!(nonce(&p).await, n0 + 6);
    assert_eq!(vault_balance(&p, &d).await, wei(1000 + 15));
    for i in &done {
        let r = p
            .get_transaction_receipt(i.tx_hash.unwrap())
            .await
            .unwrap()
            .expect("mined");
        assert_eq!(Some(r.gas_used), i.gas_used);
        assert_eq!(r.block_number, i.block_number);
    }
    assert_eq!(m.list(Some(IntentState::Final)).await.unwrap().len(), 6);
    assert_eq!(m.list(Some(IntentState::Pending)).await.unwrap(), vec![]);
    let all = m.list(None).await.unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].key, "deposit:1", "oldest first");
    srv.finish().await;
}

async fn reverts_fail_without_a_nonce(b: Backend) {
    let (anvil, srv, cfg, d, p, n0) = deployed(b, |_| {}).await;
    let m = manager(&srv, &cfg);

    // The simulation reverts: failed with the contract's error, nothing sent.
    m.submit("withdraw:1", "withdraw", d.vault.0, withdraw(), U256::ZERO)
        .await
        .unwrap();
    let finalize = UsageOracle::finalizeCall {
        epoch: 5,
        from: 0,
        models: vec![],
        rest: Default::default(),
    }
    .abi_encode();
    m.submit(
        "finalize:5",
        "finalize",
        d.oracle.0,
        finalize.into(),
        U256::ZERO,
    )
    .await
    .unwrap();
    let r = m.pump().await.unwrap();
    assert_eq!((r.sent, r.failed), (0, 2), "{r:?}");
    let w = intent(&m, "withdraw:1").await;
    assert_eq!(w.state, IntentState::Failed);
    assert_eq!(w.error.as_deref(), Some("NoWithdrawalRequested"), "{w:?}");
    assert_eq!((w.nonce, w.tx_hash, w.attempts), (None, None, 0));
    let f = intent(&m, "finalize:5").await;
    assert_eq!(f.state, IntentState::Failed);
    assert_eq!(f.error.as_deref(), Some("NotPosted { epoch: 5 }"), "{f:?}");
    assert_eq!(nonce(&p).await, n0);
    assert_eq!(m.receipt("withdraw:1").await.unwrap(), None);

    // No nonce was consumed: the next intent gets it.
    submit_deposit(&m, &d, "deposit:1", 1000).await;
    let dep = finalized(&m, &anvil, "deposit:1", false).await;
    assert_eq!(dep.nonce, Some(n0));

    // retry(): failed → pending, simulated again (and failing again: still nothing requested).
    let again = m.retry("withdraw:1").await.unwrap();
    assert_eq!(again.state, IntentState::Pending);
    assert_eq!(again.error, None);
    let e = m.retry("withdraw:1").await.unwrap_err();
    assert_eq!(e.code(), "conflict", "{e}");
    assert_eq!(m.retry("deposit:1").await.unwrap_err().code(), "conflict");
    assert_eq!(m.retry("nope").await.unwrap_err().code(), "not_found");
    let r = m.pump().await.unwrap();
    assert_eq!((r.sent, r.failed), (0, 1), "{r:?}");
    assert_eq!(intent(&m, "withdraw:1").await.state, IntentState::Failed);

    // A transaction that passes simulation and reverts in its block: failed, nonce consumed.
    m.submit(
        "request:1",
        "request",
        d.vault.0,
        PaymentVault::requestWithdrawalCall { amount: wei(10) }
            .abi_encode()
            .into(),
        U256::ZERO,
    )
    .await
    .unwrap();
    finalized(&m, &anvil, "request:1", false).await;
    anvil.time_travel(cfg.withdrawal_delay_secs + 1).await;
    automine(&anvil, false).await;
    let n1 = nonce(&p).await;
    for key in ["withdraw:a", "withdraw:b"] {
        m.submit(key, "withdraw", d.vault.0, withdraw(), U256::ZERO)
            .await
            .unwrap();
    }
    let r = m.pump().await.unwrap();
    assert_eq!(r.sent, 2, "both simulate against the same state: {r:?}");
    anvil.rpc("evm_mine", json!([])).await;
    let r = m.pump().await.unwrap();
    assert_eq!((r.mined, r.finalized, r.failed), (1, 1, 1), "{r:?}");
    let a = intent(&m, "withdraw:a").await;
    let b2 = intent(&m, "withdraw:b").await;
    assert_eq!(a.state, IntentState::Final);
    assert_eq!(b2.state, IntentState::Failed);
    assert_eq!(b2.nonce, Some(n1 + 1));
    assert!(b2.gas_used.unwrap() > 21_000);
    let error = b2.error.unwrap();
    assert!(
        error.contains("reverted on chain") && error.contains("NoWithdrawalRequested"),
        "{error}"
    );
    let reverted = p
        .get_transaction_receipt(b2.tx_hash.unwrap())
        .await
        .unwrap()
        .expect("mined");
    assert!(!reverted.status());
    assert_eq!(
        nonce(&p).await,
        n1 + 2,
        "the reverted transaction used its nonce"
    );
    // ...so the next intent takes the one after it.
    automine(&anvil, true).await;
    submit_deposit(&m, &d, "deposit:2", 1).await;
    let dep = finalized(&m, &anvil, "deposit:2", false).await;
    assert_eq!(dep.nonce, Some(n1 + 2));
    srv.finish().await;
}

async fn restart_never_sends_twice(b: Backend) {
    let (anvil, srv, cfg, d, p, n0) = deployed(b, |_| {}).await;
    automine(&anvil, false).await;

    // Sent, then the process goes away; a new manager rebroadcasts the same transaction.
    let m = manager(&srv, &cfg);
    submit_deposit(&m, &d, "deposit:1", 1000).await;
    assert_eq!(m.pump().await.unwrap().sent, 1);
    let sent = intent(&m, "deposit:1").await;
    assert_eq!(sent.state, IntentState::Sent);
    assert_eq!(pool(&anvil).await, vec![(n0, sent.tx_hash.unwrap())]);
    drop(m);
    let m = manager(&srv, &cfg);
    assert_eq!(m.pump().await.unwrap(), PumpReport::default());
    assert_eq!(
        pool(&anvil).await,
        vec![(n0, sent.tx_hash.unwrap())],
        "not sent twice"
    );
    assert_eq!(pending_nonce(&p).await, n0 + 1);
    anvil.rpc("evm_mine", json!([])).await;
    let r = m.pump().await.unwrap();
    assert_eq!((r.sent, r.mined, r.finalized), (0, 1, 1), "{r:?}");
    assert_eq!(intent(&m, "deposit:1").await.tx_hash, sent.tx_hash);
    assert_eq!(nonce(&p).await, n0 + 1);
    assert_eq!(vault_balance(&p, &d).await, wei(1000));

    // Recorded but never broadcast (a crash between the write and the broadcast, as if the
    // node never heard of it): the restarted manager broadcasts the recorded transaction.
    submit_deposit(&m, &d, "deposit:2", 2).await;
    assert_eq!(m.pump().await.unwrap().sent, 1);
    let sent = intent(&m, "deposit:2").await;
    anvil
        .rpc("anvil_dropTransaction", json!([sent.tx_hash.unwrap()]))
        .await;
    assert_eq!(pool(&anvil).await, vec![]);
    drop(m);
    let m = manager(&srv, &cfg);
    assert_eq!(m.pump().await.unwrap(), PumpReport::default());
    assert_eq!(pool(&anvil).await, vec![(n0 + 1, sent.tx_hash.unwrap())]);
    let done = finalized(&m, &anvil, "deposit:2", true).await;
    assert_eq!((done.nonce, done.tx_hash), (sent.nonce, sent.tx_hash));
    assert_eq!(vault_balance(&p, &d).await, wei(1002));

    // A transaction sent with the operator key outside the manager: a new manager re-syncs.
    automine(&anvil, true).await;
    send_external(&anvil).await;
    let n1 = nonce(&p).await;
    assert_eq!(n1, n0 + 3);
    let m = manager(&srv, &cfg);
    submit_deposit(&m, &d, "deposit:3", 3).await;
    let done = finalized(&m, &anvil, "deposit:3", false).await;
    assert_eq!(done.nonce, Some(n1));

    // The same while this manager runs on (its counter is stale): the node refuses the nonce,
    // the intent goes back to pending and is sent again with the next free nonce.
    send_external(&anvil).await;
    submit_deposit(&m, &d, "deposit:4", 4).await;
    assert_eq!(m.pump().await.unwrap().sent, 1);
    let refused = intent(&m, "deposit:4").await;
    assert_eq!(
        (refused.state, refused.nonce),
        (IntentState::Sent, Some(n1 + 1))
    );
    let r = m.pump().await.unwrap();
    assert_eq!(r.sent, 1, "re-queued and sent again: {r:?}");
    let done = finalized(&m, &anvil, "deposit:4", false).await;
    assert_eq!(done.nonce, Some(n1 + 2));
    assert_eq!(done.attempts, 1);
    assert_eq!(nonce(&p).await, n1 + 3);
    assert_eq!(vault_balance(&p, &d).await, wei(1009), "each deposit once");
    srv.finish().await;
}

async fn bumps_fees_when_stuck(b: Backend) {
    let (anvil, srv, cfg, d, p, n0) = deployed(b, |cfg| {
        cfg.fee_bump_blocks = 3;
        cfg.fee_bump_percent = 25;
    })
    .await;
    let m = manager(&srv, &cfg);
    automine(&anvil, false).await;

    submit_deposit(&m, &d, "deposit:1", 1000).await;
    assert_eq!(m.pump().await.unwrap().sent, 1);
    let first = intent(&m, "deposit:1").await;
    let h1 = first.tx_hash.unwrap();
    let tx1 = in_pool(&p, h1).await;
    // The transaction disappears from the pool (evicted, or never propagated).
    anvil.rpc("anvil_dropTransaction", json!([h1])).await;
    // Fewer than fee_bump_blocks: nothing is re-signed.
    anvil.mine(cfg.fee_bump_blocks - 1).await;
    assert_eq!(m.pump().await.unwrap(), PumpReport::default());
    assert_eq!(pool(&anvil).await, vec![(n0, h1)], "rebroadcast as it was");
    anvil.rpc("anvil_dropTransaction", json!([h1])).await;
    anvil.mine(1).await;
    let r = m.pump().await.unwrap();
    assert_eq!(r.bumped, 1, "{r:?}");
    let bumped = intent(&m, "deposit:1").await;
    assert_eq!(bumped.state, IntentState::Sent);
    assert_eq!(bumped.attempts, 2);
    assert_eq!(bumped.nonce, Some(n0));
    let h2 = bumped.tx_hash.unwrap();
    assert_ne!(h2, h1);
    assert_eq!(row(&srv, "deposit:1").await.hashes, format!("{h1},{h2}"));
    let tx2 = in_pool(&p, h2).await;
    use alloy::consensus::Transaction as _;
    assert!(
        tx2.max_fee_per_gas() >= tx1.max_fee_per_gas() * 125 / 100,
        "{tx1:?} {tx2:?}"
    );
    assert!(
        tx2.max_priority_fee_per_gas().unwrap() > tx1.max_priority_fee_per_gas().unwrap(),
        "{tx1:?} {tx2:?}"
    );
    assert_eq!(pool(&anvil).await, vec![(n0, h2)]);
    anvil.rpc("evm_mine", json!([])).await;
    let r = m.pump().await.unwrap();
    assert_eq!((r.mined, r.finalized), (1, 1), "{r:?}");
    let done = intent(&m, "deposit:1").await;
    assert_eq!(done.tx_hash, Some(h2));
    assert_eq!(done.state, IntentState::Final);
    assert_eq!(p.get_transaction_receipt(h1).await.unwrap(), None);
    assert_eq!(nonce(&p).await, n0 + 1);
    assert_eq!(vault_balance(&p, &d).await, wei(1000));

    // At the fee cap: sent at the cap although the node estimates more, and never re-signed.
    let base = p
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .base_fee_per_gas
        .unwrap() as u128;
    let mut capped = cfg.clone();
    capped.max_fee_per_gas_wei = base * 2;
    let m = manager(&srv, &capped);
    submit_deposit(&m, &d, "deposit:2", 2).await;
    assert_eq!(m.pump().await.unwrap().sent, 1);
    let h = intent(&m, "deposit:2").await.tx_hash.unwrap();
    let tx = in_pool(&p, h).await;
    assert_eq!(tx.max_fee_per_gas(), base * 2);
    anvil.rpc("anvil_dropTransaction", json!([h])).await;
    anvil.mine(cfg.fee_bump_blocks).await;
    let r = m.pump().await.unwrap();
    assert_eq!(r.bumped, 0, "{r:?}");
    let stuck = intent(&m, "deposit:2").await;
    assert_eq!((stuck.attempts, stuck.tx_hash), (1, Some(h)));
    assert_eq!(
        pool(&anvil).await,
        vec![(n0 + 1, h)],
        "rebroadcast at the cap"
    );
    finalized(&m, &anvil, "deposit:2", true).await;
    assert_eq!(vault_balance(&p, &d).await, wei(1002));
    srv.finish().await;
}

async fn reorg_rebroadcasts(b: Backend) {
    let (anvil, srv, mut cfg, d, p, n0) = deployed(b, |_| {}).await;
    cfg.confirmations = 3;
    let m = manager(&srv, &cfg);

    submit_deposit(&m, &d, "deposit:1", 1000).await;
    assert_eq!(m.pump().await.unwrap().sent, 1);
    let r = m.pump().await.unwrap();
    assert_eq!((r.mined, r.finalized), (1, 0), "{r:?}");
    let mined = intent(&m, "deposit:1").await;
    assert_eq!(mined.state, IntentState::Mined);
    let block = mined.block_number.unwrap();
    assert_eq!(p.get_block_number().await.unwrap(), block);
    assert_eq!(vault_balance(&p, &d).await, wei(1000));

    // anvil_reorg(depth 1, no transactions): the block is replaced by an empty one and the
    // transaction is gone (no receipt, not in the pool, the nonce is free again).
    anvil.rpc("anvil_reorg", json!([1, []])).await;
    assert_eq!(p.get_block_number().await.unwrap(), block);
    assert_eq!(
        p.get_transaction_receipt(mined.tx_hash.unwrap())
            .await
            .unwrap(),
        None
    );
    assert_eq!(pool(&anvil).await, vec![]);
    assert_eq!(nonce(&p).await, n0);
    assert_eq!(vault_balance(&p, &d).await, U256::ZERO);

    let r = m.pump().await.unwrap();
    assert_eq!(r.rebroadcast, 1, "{r:?}");
    assert_eq!(intent(&m, "deposit:1").await.state, IntentState::Sent);
    let done = finalized(&m, &anvil, "deposit:1", true).await;
    assert_eq!(done.tx_hash, mined.tx_hash, "the same signed transaction");
    assert!(done.block_number.unwrap() > block);
    assert_eq!(done.attempts, 1);
    let head = p.get_block_number().await.unwrap();
    assert!(
        head + 1 >= done.block_number.unwrap() + 3,
        "buried under 3 confirmations"
    );
    assert_eq!(nonce(&p).await, n0 + 1);
    assert_eq!(vault_balance(&p, &d).await, wei(1000), "executed once");

    // A reorg that moves a mined transaction to another block: the new block is recorded.
    submit_deposit(&m, &d, "deposit:2", 2).await;
    assert_eq!(m.pump().await.unwrap().sent, 1);
    m.pump().await.unwrap();
    let mined = intent(&m, "deposit:2").await;
    assert_eq!(mined.state, IntentState::Mined);
    let raw = row(&srv, "deposit:2").await.raw_tx.unwrap();
    // Replace the last two blocks, with the transaction in the first of them (one block
    // earlier than before).
    anvil.rpc("anvil_reorg", json!([2, [[raw, 0]]])).await;
    let moved = p
        .get_transaction_receipt(mined.tx_hash.unwrap())
        .await
        .unwrap()
        .expect("re-included");
    assert_eq!(moved.block_number, Some(mined.block_number.unwrap() - 1));
    let done = finalized(&m, &anvil, "deposit:2", true).await;
    let receipt = p
        .get_transaction_receipt(done.tx_hash.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.block_number, receipt.block_number);
    assert_eq!(
        row(&srv, "deposit:2").await.block_hash,
        receipt.block_hash.map(|h| h.to_string())
    );
    assert_eq!(vault_balance(&p, &d).await, wei(1002));
    srv.finish().await;
}

async fn rpc_down_loses_nothing(b: Backend) {
    let srv = TestServer::start(b).await;
    // A port nothing listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead_cfg = chain_cfg(&srv, &format!("http://127.0.0.1:{dead}"));
    let m = manager(&srv, &dead_cfg);
    let vault = EthAddress::repeat_byte(0x11);
    m.submit("deposit:1", "deposit", vault, deposit(), wei(5))
        .await
        .unwrap();
    let e = m.pump().await.unwrap_err();
    assert_eq!(e.code(), "chain_unavailable", "{e}");
    assert!(
        e.to_string().contains(&dead.to_string()),
        "names the RPC: {e}"
    );
    let i = intent(&m, "deposit:1").await;
    assert_eq!(
        (i.state, i.nonce, i.error),
        (IntentState::Pending, None, None)
    );

    // The same database, a live chain: sent.
    let anvil = Anvil::spawn().await;
    let cfg = chain_cfg(&srv, &anvil.url);
    let d = deploy(&cfg).await;
    assert_ne!(d.vault.0, vault);
    let p = anvil.provider();
    let m = manager(&srv, &cfg);
    let done = finalized(&m, &anvil, "deposit:1", false).await;
    assert_eq!(done.nonce, Some(nonce(&p).await - 1));
    assert_eq!(p.get_balance(vault).await.unwrap(), wei(5));

    // The chain goes away with a transaction in flight: the pass fails, the intent stays sent.
    automine(&anvil, false).await;
    submit_deposit(&m, &d, "deposit:2", 2).await;
    assert_eq!(m.pump().await.unwrap().sent, 1);
    drop(anvil);
    let e = m.pump().await.unwrap_err();
    assert_eq!(e.code(), "chain_unavailable", "{e}");
    let i = intent(&m, "deposit:2").await;
    assert_eq!(i.state, IntentState::Sent);
    assert!(i.nonce.is_some() && i.tx_hash.is_some());
    srv.finish().await;
}

/// Cluster mode: a manager whose lease term is over (another replica took the lease) cannot
/// record, and so cannot broadcast, a transaction — the database refuses the fenced write even
/// though the deposed manager still believes it leads; the new leader sends it, once. A manager
/// told it is not the leader refuses to pump at all.
async fn deposed_leader_never_sends(b: Backend) {
    use imo_oracle::cluster::{Lease, lease};
    let (anvil, srv, cfg, d, p, n0) = deployed(b, |_| {}).await;
    let (old, new) = (manager(&srv, &cfg), manager(&srv, &cfg));
    let db = srv.oracle.db.clone();
    let a = Lease::new(db.clone(), "chain", "a", 500);
    let term_a = a.acquire().await.unwrap().expect("free").fence;
    old.set_fence(Some(term_a.clone()));
    new.set_fence(None);
    let e = new.pump().await.unwrap_err();
    assert_eq!(e.code(), "not_leader", "{e}");

    submit_deposit(&old, &d, "deposit:1", 1000).await;
    // a's term lapses (database time) and b takes the lease; `old` is not told.
    eventually(
        "a's term lapses",
        std::time::Duration::from_secs(5),
        || async { (!lease::read(&db, "chain").await.unwrap().unwrap().is_live()).then_some(()) },
    )
    .await;
    let term_b = Lease::new(db.clone(), "chain", "b", 60_000)
        .acquire()
        .await
        .unwrap()
        .expect("lapsed: b takes it")
        .fence;
    assert!(term_b.token > term_a.token);
    let e = old.pump().await.unwrap_err();
    assert_eq!(e.code(), "not_leader", "{e}");
    let i = old.get("deposit:1").await.unwrap().unwrap();
    assert_eq!(i.state, IntentState::Pending, "nothing recorded");
    assert_eq!((i.nonce, i.tx_hash), (None, None));
    assert_eq!(nonce(&p).await, n0, "nothing broadcast");

    new.set_fence(Some(term_b));
    let r = new.pump().await.unwrap();
    assert_eq!(r.sent, 1, "{r:?}");
    let done = finalized(&new, &anvil, "deposit:1", false).await;
    assert_eq!(done.nonce, Some(n0));
    assert_eq!(done.attempts, 1);
    assert_eq!(nonce(&p).await, n0 + 1, "sent once, by the leader");
    srv.finish().await;
}

both_backends!(
    sends_once_and_finalizes,
    deposed_leader_never_sends,
    reverts_fail_without_a_nonce,
    restart_never_sends_twice,
    bumps_fees_when_stuck,
    reorg_rebroadcasts,
    rpc_down_loses_nothing,
);
