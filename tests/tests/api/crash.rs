//! The real `imo serve` binary with its scheduler running the chain loop is killed with SIGKILL
//! right after it broadcasts an epoch's finalize transaction and before it records anything of
//! what happened to it (test-only fault injection `kill-after-send:finalize:`). Restarted, it
//! finds the transaction it had signed, records it, and finalizes nothing twice: one finalize per
//! epoch on-chain, one payment per model, balances exact to the wei.

use std::{os::unix::process::ExitStatusExt, time::Duration};

use alloy::{
    primitives::{B256, U256},
    providers::Provider,
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use imo_client::Client;
use imo_oracle::chain::{
    bindings::{PaymentVault, UsageOracle},
    intent_entity,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::{both_backends, helpers::*};

const PRICE: u128 = 1_000_000_000_000_000;
const ETH: u128 = 1_000_000_000_000_000_000;
const WINDOW: u64 = 100;
pub(crate) const FEE_BPS: u128 = 500;

/// The environment of one service process with the chain loop on (the config is env-only,
/// as in production).
pub(crate) fn service_env(dir: &std::path::Path, db_url: &str, rpc: &str) -> Vec<(String, String)> {
    let key_file = dir.join("deployer.key");
    std::fs::write(&key_file, format!("{ANVIL_KEY_0}\n")).unwrap();
    let mut env = binary_env(dir, db_url);
    env.extend(
        [
            ("IMO_METERING_EPOCH_SECS", "2".to_owned()),
            ("IMO_CHAIN_RPC_URL", rpc.to_owned()),
            ("IMO_CHAIN_CHAIN_ID", CHAIN_ID.to_string()),
            (
                "IMO_CHAIN_DEPLOYER_KEY_FILE",
                key_file.display().to_string(),
            ),
            ("IMO_CHAIN_CHALLENGE_WINDOW_SECS", WINDOW.to_string()),
            ("IMO_CHAIN_FEE_BPS", FEE_BPS.to_string()),
            ("IMO_CHAIN_ENABLED", "true".into()),
            ("IMO_CHAIN_EPOCH_GRACE_SECS", "1".into()),
            ("IMO_CHAIN_INDEX_SCHEDULE", "* * * * * *".into()),
            ("IMO_CHAIN_TRANSACTIONS_SCHEDULE", "* * * * * *".into()),
            ("IMO_CHAIN_EPOCHS_SCHEDULE", "* * * * * *".into()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    env
}

/// A client's own wallet, used through the CLI (`imo wallet`).
pub struct ClientWallet {
    /// The environment of its commands: the service's, its URL and the client's API key.
    pub env: Vec<(String, String)>,
    key_file: String,
}

impl ClientWallet {
    /// Writes the client's key file in `dir`.
    pub fn new(
        dir: &std::path::Path,
        env: &[(String, String)],
        svc: &ImoProcess,
        client: &PrivateKeySigner,
        client_key: String,
    ) -> Self {
        let key_file = dir.join("client.wallet.key");
        std::fs::write(&key_file, format!("0x{}\n", hex::encode(client.to_bytes()))).unwrap();
        let mut env = env.to_vec();
        env.push(("IMO_URL".into(), svc.url.clone()));
        env.push(("IMO_API_KEY".into(), client_key));
        Self {
            env,
            key_file: key_file.display().to_string(),
        }
    }

    /// Deposits `ETH` into the vault and signs a spending cap of as much, then waits until the
    /// service has indexed them (`what`): what `deposit` and `authorize` printed.
    pub async fn fund(
        &self,
        svc: &mut ImoProcess,
        client_api: &Client,
        what: &str,
    ) -> (String, String) {
        let [deposited, authorized] = ["deposit", "authorize"].map(|command| {
            run_imo(
                &self.env,
                &[
                    "wallet",
                    "--key-file",
                    &self.key_file,
                    command,
                    &ETH.to_string(),
                ],
            )
        });
        svc.until(what, 30, || {
            let api = client_api.clone();
            async move {
                api.balance()
                    .await
                    .is_ok_and(|b| b.available_wei == ETH.to_string())
            }
        })
        .await;
        (deposited, authorized)
    }
}

/// Where the tests of real `imo` processes on a chain start: anvil with the contracts deployed
/// by `imo contracts deploy`, a fresh database, the processes' environment, and a publisher and
/// a client with 100 ETH each and their API keys.
pub(crate) struct Deployed {
    pub anvil: Anvil,
    pub dir: tempfile::TempDir,
    pub db_url: String,
    pub pg_db: Option<String>,
    pub env: Vec<(String, String)>,
    pub client: PrivateKeySigner,
    pub publisher_key: String,
    pub client_key: String,
}

impl Deployed {
    /// On backend `b`, the environment from `env_of(dir, db_url, rpc)`.
    pub async fn start(
        b: Backend,
        env_of: fn(&std::path::Path, &str, &str) -> Vec<(String, String)>,
    ) -> Self {
        let anvil = Anvil::spawn().await;
        let dir = tempfile::tempdir().unwrap();
        let (db_url, pg_db) = fresh_database(b, dir.path()).await;
        let env = env_of(dir.path(), &db_url, &anvil.url);
        let deployed = run_imo(&env, &["contracts", "deploy"]);
        assert!(deployed.contains("UsageOracle"), "{deployed}");
        let (publisher, client) = (signer(41), signer(42));
        for s in [&publisher, &client] {
            anvil.set_balance(s.address(), U256::from(100 * ETH)).await;
        }
        let key = |s: &PrivateKeySigner, role: &str| cli_key(&env, s, role);
        let (publisher_key, client_key) = (key(&publisher, "publisher"), key(&client, "client"));
        Self {
            anvil,
            dir,
            db_url,
            pg_db,
            env,
            client,
            publisher_key,
            client_key,
        }
    }
}

async fn finalize_survives_sigkill(b: Backend) {
    let d = Deployed::start(b, service_env).await;
    let (anvil, env) = (&d.anvil, &d.env);

    let mut svc = ImoProcess::serve(
        env,
        &[("IMO_CHAIN_FAULT_INJECTION", "kill-after-send:finalize:")],
    )
    .await;
    let pub_api = Client::new(&svc.url).with_key(d.publisher_key.clone());
    let client_api = Client::new(&svc.url).with_key(d.client_key.clone());

    // A tokenized model, a funded and authorised client: all through the scheduler's jobs.
    let model = upload(&pub_api, "tiny_mlp.onnx", "tiny-mlp", PRICE).await;
    svc.tokenized(&pub_api, &model.id, "Tiny MLP", "TMLP").await;
    let contracts = client_api.contracts().await.unwrap();
    let vault: alloy::primitives::Address = contracts.payment_vault.parse().unwrap();
    let oracle: alloy::primitives::Address = contracts.usage_oracle.parse().unwrap();
    // The client's own wallet, through the CLI: deposit and a signed spending cap.
    let wallet = ClientWallet::new(d.dir.path(), env, &svc, &d.client, d.client_key.clone());
    // `imo models list` shows the token's state of a tokenized model.
    let out = run_imo(&wallet.env, &["models", "list"]);
    assert!(
        out.lines()
            .any(|l| l.contains("tiny-mlp") && l.contains("token:tokenized")),
        "{out}"
    );
    let (deposited, authorized) = wallet
        .fund(&mut svc, &client_api, "the deposit and the cap are indexed")
        .await;
    assert!(
        deposited.contains(&format!("deposited {ETH} wei into the vault {vault}")),
        "{deposited}"
    );
    assert!(authorized.contains("signed SpendingCap"), "{authorized}");
    let mut epochs = vec![];
    let mut calls = std::collections::BTreeMap::<u64, u128>::new();
    for _ in 0..5 {
        let r = metered_call(&client_api).await;
        epochs.push(r.epoch);
        *calls.entry(r.epoch).or_default() += 1;
    }
    epochs.dedup();
    svc.until(&format!("epochs {epochs:?} attested"), 30, || {
        let (api, epochs) = (client_api.clone(), epochs.clone());
        async move { epochs_in(&api, &epochs, "attested").await }
    })
    .await;

    // Past the window the scheduler finalizes; the process dies right after the broadcast.
    anvil.time_travel(WINDOW + 1).await;
    let status = tokio::time::timeout(Duration::from_secs(30), svc.wait())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the service was not killed after sending finalize:\n{}",
                svc.log_tail()
            )
        })
        .unwrap();
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status}");

    // What the crash left: the transaction is on-chain, the database only knows it was signed.
    let db = connect_db(&d.db_url).await;
    let sent: Vec<intent_entity::Model> = intent_entity::Entity::find()
        .filter(intent_entity::Column::Kind.eq("finalize"))
        .filter(intent_entity::Column::State.eq("sent"))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(sent.len(), 1, "one finalize was broadcast: {sent:#?}");
    let killed_hash: B256 = sent[0].tx_hash.as_deref().unwrap().parse().unwrap();
    let killed_epoch: u64 = sent[0].key.split(':').nth(1).unwrap().parse().unwrap();
    let receipt = anvil
        .provider()
        .get_transaction_receipt(killed_hash)
        .await
        .unwrap()
        .expect("the finalize transaction was mined before the kill");
    assert!(receipt.status());
    let uo = UsageOracle::new(oracle, anvil.provider());
    assert_eq!(
        uo.getAttestation(killed_epoch).call().await.unwrap().status,
        3,
        "finalized on-chain"
    );
    assert!(
        !epochs_in_db_finalized(&db, killed_epoch).await,
        "not recorded as finalized"
    );
    db.close().await.ok();

    // Restarted without the fault: it records what happened and finalizes nothing twice.
    let mut svc = ImoProcess::serve(env, &[]).await;
    let pub_api = Client::new(&svc.url).with_key(d.publisher_key);
    let client_api = Client::new(&svc.url).with_key(d.client_key);
    svc.until(&format!("epochs {epochs:?} finalized"), 60, || {
        let (api, epochs) = (client_api.clone(), epochs.clone());
        async move { epochs_in(&api, &epochs, "finalized").await }
    })
    .await;
    let db = connect_db(&d.db_url).await;
    let finalizes: Vec<intent_entity::Model> = intent_entity::Entity::find()
        .filter(intent_entity::Column::Kind.eq("finalize"))
        .all(&db)
        .await
        .unwrap();
    db.close().await.ok();
    assert_eq!(finalizes.len(), epochs.len(), "{finalizes:#?}");
    let killed = finalizes
        .iter()
        .find(|i| i.key == sent[0].key)
        .expect("the killed intent");
    assert_eq!(killed.state, "final");
    assert_eq!(
        killed.tx_hash.as_deref(),
        Some(format!("{killed_hash:#x}").as_str()),
        "the same transaction, not a new one"
    );
    assert_eq!(killed.attempts, 1);
    assert_eq!(killed.hashes.split(',').count(), 1, "never re-signed");

    // On-chain: exactly one payment per epoch for the model, and the money adds up.
    let paid_logs = anvil
        .provider()
        .get_logs(
            &Filter::new()
                .address(oracle)
                .event_signature(UsageOracle::ModelPaid::SIGNATURE_HASH)
                .from_block(0),
        )
        .await
        .unwrap();
    assert_eq!(paid_logs.len(), epochs.len(), "one ModelPaid per epoch");
    let spent = 5 * PRICE;
    let mut fee = 0;
    let mut net = 0;
    for l in &paid_logs {
        let e = UsageOracle::ModelPaid::decode_log(&l.inner).unwrap();
        let gross = calls[&e.epoch] * PRICE;
        let f = gross * FEE_BPS / 10_000;
        assert_eq!(
            e.amount,
            U256::from(gross - f),
            "epoch {} pays its total less the fee",
            e.epoch
        );
        fee += f;
        net += gross - f;
    }
    assert_eq!(net + fee, spent);
    let v = PaymentVault::new(vault, anvil.provider());
    assert_eq!(v.feesOwed().call().await.unwrap(), U256::from(fee));
    assert_eq!(v.escrowed().call().await.unwrap(), U256::ZERO);
    assert_eq!(
        v.balanceOf(d.client.address()).call().await.unwrap(),
        U256::from(ETH - spent)
    );
    let token: alloy::primitives::Address = pub_api
        .token(&model.id)
        .await
        .unwrap()
        .token_address
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        anvil.provider().get_balance(token).await.unwrap(),
        U256::from(net)
    );
    let rev = pub_api.revenue(&model.id).await.unwrap();
    assert_eq!(rev.total_paid_wei, net.to_string());
    assert_eq!(rev.paid.len(), epochs.len());
    let operator =
        imo_oracle::types::Address(OPERATOR_KEY.parse::<PrivateKeySigner>().unwrap().address());
    let bond = uo.attestBond().call().await.unwrap();
    assert_eq!(
        uo.credits(operator.0).call().await.unwrap(),
        bond * U256::from(epochs.len()),
        "each bond credited back once"
    );
    svc.stop().await;
    if let Some(name) = d.pg_db {
        drop_database(&name).await;
    }
}

async fn epochs_in_db_finalized(db: &sea_orm::DatabaseConnection, epoch: u64) -> bool {
    imo_oracle::db::epochs::Entity::find_by_id(epoch as i64)
        .one(db)
        .await
        .unwrap()
        .is_some_and(|e| e.state == "finalized")
}

both_backends!(finalize_survives_sigkill);
