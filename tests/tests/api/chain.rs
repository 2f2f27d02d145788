//! The contracts on a real anvil: `imo_oracle::chain::deploy` deploys and wires the suite as
//! contracts/script/Deploy.s.sol does and records it; the deployed UsageOracle's EIP-712 domain
//! is the service's; a receipt signed by the running service verifies on-chain; an unreachable
//! RPC is a clear `chain_unavailable` error naming the URL.

use alloy::{
    primitives::{Address as EthAddress, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
    sol_types::SolStruct,
};
use imo_oracle::{
    OracleError,
    chain::{
        self, Deployment,
        bindings::{ModelRegistry, PaymentVault, UsageOracle},
    },
    receipts::{ReceiptRecord, domain},
};

use crate::{both_backends, helpers::*};

fn operator() -> PrivateKeySigner {
    OPERATOR_KEY.parse().unwrap()
}

/// A server whose receipts name `verifying_contract` on chain 31337, and a `[chain]` config
/// for `rpc_url` with anvil's first key (written into the server's directory) as deployer.
async fn server(
    b: Backend,
    rpc_url: &str,
    verifying_contract: EthAddress,
) -> (TestServer, imo_oracle::config::ChainConfig) {
    let srv = TestServer::start_with(b, |cfg| {
        cfg.chain.rpc_url = rpc_url.to_owned();
        cfg.metering.chain_id = CHAIN_ID;
        cfg.metering.verifying_contract = verifying_contract.to_string();
    })
    .await;
    let key_file = srv.dir.path().join("deployer.key");
    std::fs::write(&key_file, format!("{ANVIL_KEY_0}\n")).unwrap();
    let mut cfg = srv.oracle.config.chain.clone();
    cfg.deployer_key_file = Some(key_file);
    (srv, cfg)
}

fn deployer() -> EthAddress {
    ANVIL_KEY_0.parse::<PrivateKeySigner>().unwrap().address()
}

async fn deploys_wires_and_records(b: Backend) {
    let anvil = Anvil::spawn().await;
    // On a fresh chain the deployer's nonces 0, 1, 2 create registry, vault and oracle: the
    // service can be started with the oracle's address before it exists.
    let predicted_oracle = deployer().create(2);
    let (srv, cfg) = server(b, &anvil.url, predicted_oracle).await;
    let op = operator().address();

    assert_eq!(
        chain::deployment(&srv.oracle.db, CHAIN_ID).await.unwrap(),
        None
    );
    let d: Deployment = chain::deploy(
        &cfg,
        imo_oracle::types::Address(op),
        &srv.oracle.db,
        srv.clock.as_ref(),
    )
    .await
    .expect("deploys");
    assert_eq!(d.oracle.0, predicted_oracle);
    assert_eq!(d.chain_id, CHAIN_ID);
    let names: Vec<_> = d.transactions.iter().map(|t| t.contract.as_str()).collect();
    assert_eq!(
        names,
        [
            "ModelRegistry",
            "ModelToken",
            "PaymentVault",
            "UsageOracle",
            "ModelRegistry.setUsageOracle",
            "PaymentVault.setOracle",
            "JudgeVM",
            "InferenceDispute",
            "AckReferee",
            "UsageOracle.grantRole(REFEREE_ROLE)"
        ]
    );
    for t in &d.transactions {
        assert!(t.gas_used > 21_000, "{t:?}");
        assert!(t.block_number >= 1, "{t:?}");
    }

    // The recorded deployment reads back identically.
    let recorded = chain::deployment(&srv.oracle.db, CHAIN_ID)
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(recorded, d);
    assert_eq!(srv.row_count("deployments").await, 10);
    assert_eq!(
        chain::deployment(&srv.oracle.db, 1).await.unwrap(),
        None,
        "another chain has none"
    );

    // Every transaction is on the chain as recorded.
    let p = anvil.provider();
    for t in &d.transactions {
        let r = p
            .get_transaction_receipt(t.tx_hash.parse().unwrap())
            .await
            .unwrap()
            .expect("mined");
        assert!(r.status());
        assert_eq!(r.gas_used, t.gas_used);
        assert_eq!(r.block_number, Some(t.block_number));
    }
    for a in [
        d.registry,
        d.token_implementation,
        d.vault,
        d.oracle,
        d.judge.unwrap(),
        d.dispute.unwrap(),
    ] {
        assert!(!p.get_code_at(a.0).await.unwrap().is_empty(), "code at {a}");
    }
    let game = imo_oracle::chain::dispute::InferenceDispute::new(d.dispute.unwrap().0, &p);
    assert_eq!(game.oracle().call().await.unwrap(), d.oracle.0);
    assert_eq!(game.judge().call().await.unwrap(), d.judge.unwrap().0);
    assert_eq!(
        game.challengerBond().call().await.unwrap(),
        U256::from(cfg.dispute_challenger_bond_wei)
    );
    assert_eq!(
        game.unstakeDelay().call().await.unwrap(),
        cfg.dispute_window_secs + 2 * cfg.dispute_clock_secs
    );

    // Wiring and roles, read back with eth_call.
    let registry = ModelRegistry::new(d.registry.0, &p);
    let vault = PaymentVault::new(d.vault.0, &p);
    let oracle = UsageOracle::new(d.oracle.0, &p);
    assert_eq!(registry.usageOracle().call().await.unwrap(), d.oracle.0);
    assert_eq!(
        registry.tokenImplementation().call().await.unwrap(),
        d.token_implementation.0
    );
    assert_eq!(vault.oracle().call().await.unwrap(), d.oracle.0);
    assert_eq!(vault.treasury().call().await.unwrap(), deployer());
    assert_eq!(
        vault.withdrawalDelay().call().await.unwrap(),
        U256::from(cfg.withdrawal_delay_secs)
    );
    assert_eq!(oracle.registry().call().await.unwrap(), d.registry.0);
    assert_eq!(oracle.vault().call().await.unwrap(), d.vault.0);
    assert_eq!(
        oracle.attestBond().call().await.unwrap(),
        U256::from(cfg.attest_bond_wei)
    );
    assert_eq!(
        oracle.challengeBond().call().await.unwrap(),
        U256::from(cfg.challenge_bond_wei)
    );
    assert_eq!(
        oracle.challengeWindow().call().await.unwrap(),
        cfg.challenge_window_secs
    );
    assert_eq!(
        oracle.responseWindow().call().await.unwrap(),
        cfg.response_window_secs
    );
    assert_eq!(oracle.maxFeeBps().call().await.unwrap(), cfg.max_fee_bps);
    let op_role = registry.OPERATOR_ROLE().call().await.unwrap();
    let guardian_role = registry.GUARDIAN_ROLE().call().await.unwrap();
    let admin_role = registry.DEFAULT_ADMIN_ROLE().call().await.unwrap();
    assert!(registry.hasRole(op_role, op).call().await.unwrap());
    assert!(oracle.hasRole(op_role, op).call().await.unwrap());
    assert!(oracle.isReceiptSigner(op).call().await.unwrap());
    assert!(!oracle.isReceiptSigner(deployer()).call().await.unwrap());
    assert!(!registry.hasRole(op_role, deployer()).call().await.unwrap());
    for (name, has) in [
        (
            "registry admin",
            registry
                .hasRole(admin_role, deployer())
                .call()
                .await
                .unwrap(),
        ),
        (
            "registry guardian",
            registry
                .hasRole(guardian_role, deployer())
                .call()
                .await
                .unwrap(),
        ),
        (
            "vault admin",
            vault.hasRole(admin_role, deployer()).call().await.unwrap(),
        ),
        (
            "oracle admin",
            oracle.hasRole(admin_role, deployer()).call().await.unwrap(),
        ),
        (
            "oracle guardian",
            oracle
                .hasRole(guardian_role, deployer())
                .call()
                .await
                .unwrap(),
        ),
    ] {
        assert!(has, "{name}: the deployer holds the role");
    }
    // The one-shot setters are spent.
    assert!(
        registry.setUsageOracle(d.oracle.0).call().await.is_err(),
        "setUsageOracle is once only"
    );

    // The EIP-712 domain: the contract's separator is the service's.
    let separator = oracle.domainSeparator().call().await.unwrap();
    assert_eq!(separator, domain(CHAIN_ID, d.oracle.0).hash_struct());
    assert_eq!(
        separator,
        srv.oracle.inference.signer().domain().hash_struct()
    );

    // The real cross-check: a receipt signed by the running service for a metered call is one
    // the contract verifies: its digest is the contract's, and it recovers to a receipt signer.
    let publisher = srv.key(&signer(1), "publisher").await;
    srv.register(&publisher, "tiny_mlp.onnx", "tiny-mlp", 1_000)
        .await;
    srv.credit(&signer(2), 10_000).await;
    let client = srv.key(&signer(2), "client").await;
    let (status, json) = client
        .infer_json(
            "tiny-mlp",
            &serde_json::json!({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}),
        )
        .await
        .unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "{json}");
    let record: ReceiptRecord =
        serde_json::from_str(json["parameters"]["imo_receipt"].as_str().unwrap()).unwrap();
    let typed = record.typed().unwrap();
    let onchain = imo_oracle::chain::epochs::sol_receipt(&typed);
    let digest = oracle.receiptDigest(onchain.clone()).call().await.unwrap();
    assert_eq!(
        digest,
        typed.eip712_signing_hash(srv.oracle.inference.signer().domain())
    );
    assert_eq!(
        oracle.receiptHash(onchain).call().await.unwrap(),
        typed.eip712_hash_struct()
    );
    let sig: alloy::primitives::Signature = record.signature.parse().unwrap();
    let recovered = sig.recover_address_from_prehash(&digest).unwrap();
    assert_eq!(
        recovered, op,
        "ecrecover(receiptDigest(r), sig) == operator"
    );
    assert!(oracle.isReceiptSigner(recovered).call().await.unwrap());

    // A second deployment on the same chain is the latest one read back.
    let again = chain::deploy(
        &cfg,
        imo_oracle::types::Address(op),
        &srv.oracle.db,
        srv.clock.as_ref(),
    )
    .await
    .unwrap();
    assert_ne!(again.oracle, d.oracle);
    assert_eq!(
        chain::deployment(&srv.oracle.db, CHAIN_ID).await.unwrap(),
        Some(again)
    );
    srv.finish().await;
    drop(anvil);
}

async fn funds_an_empty_operator_once(b: Backend) {
    let anvil = Anvil::spawn().await;
    let (srv, cfg) = server(b, &anvil.url, deployer().create(2)).await;
    // A fresh operator with no ETH (anvil funds only its dev accounts).
    let fresh = imo_oracle::types::Address(signer(77).address());
    let c = chain::Chain::connect(&cfg).await.unwrap();
    assert_eq!(c.deployer().0, deployer());
    assert!(c.balance(fresh).await.unwrap().is_zero());
    let f = c
        .fund_if_empty(fresh, 5_000_000_000_000_000)
        .await
        .unwrap()
        .expect("funded");
    assert_eq!(f.to, fresh);
    assert_eq!(f.gas_used, 21_000);
    assert_eq!(
        c.balance(fresh).await.unwrap(),
        U256::from(5_000_000_000_000_000u128)
    );
    assert_eq!(
        c.fund_if_empty(fresh, 5_000_000_000_000_000).await.unwrap(),
        None,
        "not funded twice"
    );
    srv.finish().await;
}

async fn unreachable_rpc_is_a_clear_error(b: Backend) {
    // A port that nothing listens on: bind, read the port, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let (srv, mut cfg) = server(b, &url, deployer().create(2)).await;
    let err = chain::deploy(
        &cfg,
        imo_oracle::types::Address(operator().address()),
        &srv.oracle.db,
        srv.clock.as_ref(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, OracleError::Chain(_)), "{err:?}");
    assert_eq!(err.code(), "chain_unavailable");
    let msg = err.to_string();
    assert!(msg.contains(&url), "the error names the RPC URL: {msg}");
    assert!(msg.contains("cannot reach the chain RPC"), "{msg}");
    assert_eq!(
        chain::deployment(&srv.oracle.db, CHAIN_ID).await.unwrap(),
        None
    );

    // A missing deployer key is an input error, not a chain one.
    cfg.deployer_key_file = None;
    let err = chain::Chain::connect(&cfg).await.unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("deployer_key_file"), "{err}");
    srv.finish().await;
}

both_backends!(
    deploys_wires_and_records,
    funds_an_empty_operator_once,
    unreachable_rpc_is_a_clear_error
);
