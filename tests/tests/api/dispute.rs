//! The inference dispute game on a real anvil through the Rust side (`imo_oracle::judge` and the
//! bindings in `chain::dispute`): the suite deployed by `chain::Chain::deploy`, `JudgeVM` and
//! `InferenceDispute` deployed with alloy, the quantized MLP's program committed, receipts signed
//! for the deployed UsageOracle, and whole games played move by move with the judge's data — a
//! lying operator loses and the client is refunded; an honest operator's challenger cannot win the
//! one-step and loses on its clock.

use std::sync::Arc;

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::SolStruct,
};
use imo_oracle::{
    chain::{
        self,
        dispute::{self, InferenceDispute, JudgeVM},
    },
    judge::{Fault, Program, Trace, game, sample_inputs},
    receipts::{Receipt, domain},
};

use crate::helpers::*;

/// anvil's second and third dev keys (public): the operator and the challenger.
const OPERATOR: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const CHALLENGER: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const CLIENT: Address = Address::new([0xC1; 20]);
const CHALLENGER_BOND: u64 = 10_000_000_000_000_000;
const OPERATOR_BOND: u64 = 50_000_000_000_000_000;
const CLOCK: u64 = 600;
const PRICE: u64 = 1_000_000_000_000_000;

fn key(k: &str) -> PrivateKeySigner {
    k.parse().unwrap()
}

fn wallet(url: &str, k: &str) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(key(k)))
        .connect_http(url.parse().unwrap())
        .erased()
}

struct Setup {
    anvil: Anvil,
    oracle: Address,
    dispute: Address,
    program: Arc<Program>,
    model: B256,
}

async fn setup() -> Setup {
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("deployer.key");
    std::fs::write(&key_file, format!("{ANVIL_KEY_0}\n")).unwrap();
    let cfg = imo_oracle::config::ChainConfig {
        rpc_url: anvil.url.clone(),
        chain_id: CHAIN_ID,
        deployer_key_file: Some(key_file),
        ..Default::default()
    };
    let suite = chain::Chain::connect(&cfg)
        .await
        .unwrap()
        .deploy(imo_oracle::types::Address(key(OPERATOR).address()), 0)
        .await
        .expect("the suite deploys");
    let deployer = wallet(&anvil.url, ANVIL_KEY_0);
    let judge = JudgeVM::deploy(&deployer).await.expect("JudgeVM deploys");
    let dispute = InferenceDispute::deploy(
        &deployer,
        suite.oracle.0,
        *judge.address(),
        U256::from(CHALLENGER_BOND),
        U256::from(OPERATOR_BOND),
        CLOCK,
        86_400,
        86_400 + 2 * CLOCK,
    )
    .await
    .expect("InferenceDispute deploys");

    let path = model("quant_mlp.onnx");
    let program = Arc::new(Program::from_file(&path).unwrap());
    let model = B256::from(imo_oracle::onnx::scan_model(&path).unwrap().weights_root);
    let op = InferenceDispute::new(*dispute.address(), wallet(&anvil.url, OPERATOR));
    op.commitProgram(model, dispute::program(&program.commitment()))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    op.stake()
        .value(U256::from(10u128.pow(18)))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    Setup {
        oracle: suite.oracle.0,
        dispute: *dispute.address(),
        anvil,
        program,
        model,
    }
}

/// Sends one move's calldata from `from`; `Err` carries the revert.
async fn send(s: &Setup, from: &str, data: Bytes) -> Result<(), String> {
    let tx = TransactionRequest::default()
        .with_to(s.dispute)
        .with_input(data);
    let pending = wallet(&s.anvil.url, from)
        .send_transaction(tx)
        .await
        .map_err(|e| e.to_string())?;
    let r = pending.get_receipt().await.map_err(|e| e.to_string())?;
    if r.status() {
        Ok(())
    } else {
        Err("reverted".into())
    }
}

/// Opens a game over the operator trace's receipt and plays every move; returns the game id.
async fn play(s: &Setup, operator: &Trace, challenger: &Trace) -> (B256, game::Script) {
    let now_ms = s
        .anvil
        .provider()
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp
        * 1000;
    let receipt = Receipt {
        id: 0x0190_0000_0000_0000_0000_0000_0000_0001,
        epoch: 1,
        model: s.model,
        client: CLIENT,
        price: U256::from(PRICE),
        inputHash: operator.input_hash().into(),
        outputHash: operator.output_hash(&[]).into(),
        fingerprint: B256::repeat_byte(0xF1),
        timestamp: now_ms,
    };
    let sig = key(OPERATOR)
        .sign_hash_sync(&receipt.eip712_signing_hash(&domain(CHAIN_ID, s.oracle)))
        .unwrap();
    let ch = InferenceDispute::new(s.dispute, wallet(&s.anvil.url, CHALLENGER));
    let open = dispute::open_call(
        &receipt,
        &sig.as_bytes(),
        &operator.open_data(),
        challenger.output_hash(&[]).into(),
    );
    ch.open(open.r, open.signature, open.input, open.claimedOutputHash)
        .value(U256::from(CHALLENGER_BOND))
        .send()
        .await
        .expect("open")
        .get_receipt()
        .await
        .unwrap();
    let id = dispute::game_id(&receipt, key(CHALLENGER).address());
    let script = game::play(operator, challenger, &[]);
    let last = script.moves.len() - 1;
    for (i, m) in script.moves.iter().enumerate() {
        let from = if dispute::by_operator(m) {
            OPERATOR
        } else {
            CHALLENGER
        };
        let sent = send(s, from, dispute::call(id, m)).await;
        if i == last && matches!(m, game::Move::Step(_)) && script.winner == game::Winner::Operator
        {
            assert!(
                sent.is_err(),
                "a step against an honest operator cannot win"
            );
        } else {
            sent.unwrap_or_else(|e| panic!("move {i} ({m:?}) failed: {e}"));
        }
    }
    (id, script)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_operator_loses_on_chain_and_the_client_is_refunded() {
    let s = setup().await;
    let inputs = sample_inputs(&s.program, 1, 7).remove(0);
    let honest = Trace::run(s.program.clone(), &inputs).unwrap();
    let k = 6; // the second QLinearMatMul
    let liar = (0..64)
        .map(|byte| {
            Trace::run_with_fault(
                s.program.clone(),
                &inputs,
                Some(Fault::Byte {
                    node: k,
                    byte,
                    xor: 0x40,
                }),
            )
            .unwrap()
        })
        .find(|t| t.output_hash(&[]) != honest.output_hash(&[]))
        .expect("a corruption that reaches the output");
    let (id, script) = play(&s, &liar, &honest).await;
    assert_eq!(script.node, k);
    assert!(script.node_rounds <= 4);
    let d = InferenceDispute::new(s.dispute, s.anvil.provider());
    let g = d.getGame(id).call().await.unwrap();
    assert_eq!(
        dispute::Phase::from_abi(g.phase),
        Some(dispute::Phase::ChallengerWon)
    );
    assert_eq!(
        d.credits(key(CHALLENGER).address()).call().await.unwrap(),
        U256::from(CHALLENGER_BOND + OPERATOR_BOND)
    );
    assert_eq!(d.credits(CLIENT).call().await.unwrap(), U256::from(PRICE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_operator_wins_when_the_challengers_clock_runs_out() {
    let s = setup().await;
    let inputs = sample_inputs(&s.program, 1, 8).remove(0);
    let honest = Trace::run(s.program.clone(), &inputs).unwrap();
    let last = s.program.node_count() - 1;
    let wrong = Trace::run_with_fault(
        s.program.clone(),
        &inputs,
        Some(Fault::Byte {
            node: last,
            byte: 0,
            xor: 0x01,
        }),
    )
    .unwrap();
    let (id, script) = play(&s, &honest, &wrong).await;
    assert_eq!(script.winner, game::Winner::Operator);
    let d = InferenceDispute::new(s.dispute, s.anvil.provider());
    assert!(!d.operatorToMove(id).call().await.unwrap());
    s.anvil.time_travel(CLOCK + 1).await;
    InferenceDispute::new(s.dispute, wallet(&s.anvil.url, ANVIL_KEY_0))
        .timeout(id)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let g = d.getGame(id).call().await.unwrap();
    assert_eq!(
        dispute::Phase::from_abi(g.phase),
        Some(dispute::Phase::OperatorWon)
    );
    assert_eq!(
        d.credits(key(OPERATOR).address()).call().await.unwrap(),
        U256::from(CHALLENGER_BOND)
    );
    assert_eq!(d.credits(CLIENT).call().await.unwrap(), U256::ZERO);
}
