//! The inference dispute game on a real anvil (docs/PROTOCOL.md §9).
//!
//! * Games between two traces (`game_*`): the suite with its game deployed by
//!   `chain::Chain::deploy`, a quantized model's program committed, receipts signed for the
//!   deployed UsageOracle, and both sides played by the domain's one player
//!   (`chain::game::decide`: the operator's moves sent directly, the challenger's through
//!   `chain::challenger::Challenger`), move for move what `judge::game::play` simulates — a lying
//!   operator loses and the client is refunded; an honest operator's challenger cannot win the
//!   one-step and loses on its clock. The gas and time of each whole game are printed.
//! * The service playing (`service_*`): the real service with quant_mlp tokenized, a client's
//!   call metered, and the `disputes` job defending it: a lying challenger loses its bond to the
//!   operator; with the test-only `corrupt-output` fraud the verifier's game is won, the
//!   operator's bond slashed and the client refunded, to the wei.

use std::{sync::Arc, time::Instant};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256},
    rpc::types::TransactionRequest,
    sol_types::SolStruct,
};
use imo_oracle::{
    chain::{
        self,
        challenger::{self, Challenger, Turn},
        dispute::{self, InferenceDispute},
        game::{Position, Role, decide},
    },
    judge::{Fault, Program, Trace, game, sample_inputs},
    receipts::{Receipt, ReceiptRecord, domain},
    tensor::{DataType, Tensor, TensorData},
};

use crate::{
    both_backends,
    cycle::{World, eth},
    helpers::*,
};

/// anvil's second and third dev keys (public): the operator and the challenger.
const OPERATOR: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const CHALLENGER: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const CLIENT: Address = Address::new([0xC1; 20]);
const CHALLENGER_BOND: u128 = 10_000_000_000_000_000;
const OPERATOR_BOND: u128 = 50_000_000_000_000_000;
const CLOCK: u64 = 600;
const PRICE: u128 = 1_000_000_000_000_000;
const ETH: u128 = 1_000_000_000_000_000_000;

fn key(k: &str) -> PrivateKeySigner {
    k.parse().unwrap()
}

fn wallet(url: &str, k: &str) -> DynProvider {
    wallet_at(url, &key(k))
}

struct Setup {
    anvil: Anvil,
    oracle: Address,
    dispute: Address,
    program: Arc<Program>,
    model: B256,
}

/// The dispute parameters of these tests (a short clock; anvil time-travels past it).
fn game_params(cfg: &mut imo_oracle::config::ChainConfig) {
    cfg.dispute_challenger_bond_wei = CHALLENGER_BOND;
    cfg.dispute_operator_bond_wei = OPERATOR_BOND;
    cfg.dispute_clock_secs = CLOCK;
    cfg.dispute_window_secs = 86_400;
}

async fn setup(model_file: &str) -> Setup {
    let anvil = Anvil::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("deployer.key");
    std::fs::write(&key_file, format!("{ANVIL_KEY_0}\n")).unwrap();
    let mut cfg = imo_oracle::config::ChainConfig {
        rpc_url: anvil.url.clone(),
        chain_id: CHAIN_ID,
        deployer_key_file: Some(key_file),
        ..Default::default()
    };
    game_params(&mut cfg);
    let suite = chain::Chain::connect(&cfg)
        .await
        .unwrap()
        .deploy(imo_oracle::types::Address(key(OPERATOR).address()), 0)
        .await
        .expect("the suite deploys, with its dispute game");
    let game = suite
        .dispute
        .expect("the game is deployed with the suite")
        .0;
    let d = InferenceDispute::new(game, anvil.provider());
    assert_eq!(d.oracle().call().await.unwrap(), suite.oracle.0);
    assert_eq!(d.judge().call().await.unwrap(), suite.judge.unwrap().0);
    assert_eq!(d.clock().call().await.unwrap(), CLOCK);
    assert_eq!(
        d.unstakeDelay().call().await.unwrap(),
        86_400 + 2 * CLOCK,
        "unstake delay defaults to the window plus both clocks"
    );

    let path = model(model_file);
    let program = Arc::new(Program::from_file(&path).unwrap());
    let model = B256::from(imo_oracle::onnx::scan_model(&path).unwrap().weights_root);
    let op = InferenceDispute::new(game, wallet(&anvil.url, OPERATOR));
    assert!(
        mined(op.commitProgram(model, dispute::program(&program.commitment())))
            .await
            .status()
    );
    assert!(mined(op.stake().value(U256::from(ETH))).await.status());
    Setup {
        oracle: suite.oracle.0,
        dispute: game,
        anvil,
        program,
        model,
    }
}

/// Sends one move's calldata from `from`; its gas, or the revert.
async fn send(url: &str, to: Address, from: &str, data: Bytes) -> Result<u64, String> {
    let tx = TransactionRequest::default().with_to(to).with_input(data);
    let w = wallet(url, from);
    w.call(tx.clone()).await.map_err(|e| e.to_string())?;
    // The transaction manager's margin: a move in a later block charges the clock.
    let gas = w
        .estimate_gas(tx.clone())
        .await
        .map_err(|e| e.to_string())?;
    let tx = tx.with_gas_limit(gas * 12 / 10 + 10_000);
    let r = w
        .send_transaction(tx)
        .await
        .map_err(|e| e.to_string())?
        .get_receipt()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() {
        Ok(r.gas_used)
    } else {
        let sent = w
            .get_transaction_by_hash(r.transaction_hash)
            .await
            .ok()
            .flatten()
            .map(|t| alloy::consensus::Transaction::gas_limit(&t));
        Err(format!(
            "reverted (gas used {} of {sent:?}, block {:?})",
            r.gas_used, r.block_number
        ))
    }
}

/// What a played game cost.
#[derive(Debug, Default)]
struct Played {
    /// Every move sent, in order (with its gas): the operator's and the challenger's.
    moves: Vec<(&'static str, u64)>,
    /// Why the challenger stopped, when it did.
    stuck: Option<String>,
    secs: f64,
}

impl Played {
    fn gas(&self) -> u64 {
        self.moves.iter().map(|m| m.1).sum()
    }
}

/// Opens a game over a receipt (`id`) that the operator signs now for `served` (its input and
/// output), the challenger opening with `trace` and claiming `claiming`'s output: the game, the
/// gas of the opening and the receipt.
async fn open_game(
    s: &Setup,
    ch: &Challenger,
    id: u128,
    served: &Trace,
    trace: &Trace,
    claiming: &Trace,
) -> (B256, u64, Receipt) {
    let claimed = claiming.output_hash(&[]).into();
    let (_, now) = crate::cycle::chain_time(&s.anvil).await;
    let receipt = Receipt {
        id,
        epoch: 1,
        model: s.model,
        client: CLIENT,
        price: U256::from(PRICE),
        inputHash: served.input_hash().into(),
        outputHash: served.output_hash(&[]).into(),
        fingerprint: B256::repeat_byte(0xF1),
        timestamp: now * 1000,
    };
    let sig = key(OPERATOR)
        .sign_hash_sync(&receipt.eip712_signing_hash(&domain(CHAIN_ID, s.oracle)))
        .unwrap();
    let (game, gas) = ch
        .open(&receipt, &sig.as_bytes(), trace, claimed)
        .await
        .expect("open");
    (game, gas, receipt)
}

/// The operator's answer in game `id` as it stands on-chain now.
async fn operator_decides(s: &Setup, id: B256, trace: &Trace) -> Option<chain::game::Action> {
    let pos = Position::read(&s.anvil.provider(), s.dispute, id)
        .await
        .unwrap();
    let (_, now) = crate::cycle::chain_time(&s.anvil).await;
    decide(Role::Operator, &pos, trace, &[], now).unwrap()
}

/// Opens a game over the operator trace's receipt and plays it: the operator with `decide`
/// (sent directly), the challenger with `Challenger::turn`; until it is over or the challenger
/// has no winning move.
async fn play(s: &Setup, operator: &Trace, challenger_trace: &Trace) -> (B256, Played) {
    let started = Instant::now();
    let ch = Challenger::connect(&s.anvil.url, key(CHALLENGER), s.dispute)
        .await
        .unwrap();
    assert_eq!(ch.bond(), U256::from(CHALLENGER_BOND));
    let receipt_id = 0x0190_0000_0000_0000_0000_0000_0000_0001;
    let (id, open_gas, _) =
        open_game(s, &ch, receipt_id, operator, operator, challenger_trace).await;
    let mut played = Played {
        moves: vec![("open", open_gas)],
        ..Default::default()
    };
    let provider = s.anvil.provider();
    loop {
        let pos = Position::read(&provider, s.dispute, id).await.unwrap();
        if pos.winner().is_some() {
            break;
        }
        match pos.to_move() {
            Some(Role::Operator) => {
                let (_, now) = crate::cycle::chain_time(&s.anvil).await;
                let action = decide(Role::Operator, &pos, operator, &[], now)
                    .expect("the operator has a move")
                    .expect("it is the operator's turn");
                let gas = send(&s.anvil.url, s.dispute, OPERATOR, action.calldata(id))
                    .await
                    .unwrap_or_else(|e| panic!("operator move {} failed: {e}", action.name()));
                played.moves.push((action.name(), gas));
            }
            _ => match ch.turn(id, challenger_trace, &[]).await.unwrap() {
                Turn::Moved { name, gas } => played.moves.push((name, gas)),
                Turn::Over(_) => break,
                Turn::Stuck(reason) => {
                    played.stuck = Some(reason);
                    break;
                }
                Turn::Waiting => unreachable!("the challenger is to move"),
            },
        }
    }
    played.secs = started.elapsed().as_secs_f64();
    (id, played)
}

/// The credits of `who` in the game `d`.
async fn credits(
    d: &InferenceDispute::InferenceDisputeInstance<DynProvider>,
    who: Address,
) -> U256 {
    d.credits(who).call().await.unwrap()
}

/// Asserts that game `id` of `d` is in `phase` (`what` in the message).
async fn phase_is(
    d: &InferenceDispute::InferenceDisputeInstance<DynProvider>,
    id: B256,
    phase: dispute::Phase,
    what: &str,
) {
    let g = d.getGame(id).call().await.unwrap();
    assert_eq!(dispute::Phase::from_abi(g.phase), Some(phase), "{what}");
}

/// `program` run on `inputs` with byte `byte` of node `node`'s output XORed with `xor`.
fn faulty(program: Arc<Program>, inputs: &[Tensor], node: usize, byte: usize, xor: u8) -> Trace {
    Trace::run_with_fault(program, inputs, Some(Fault::Byte { node, byte, xor })).unwrap()
}

/// The moves of a simulated script, by name (what the on-chain game must have played).
fn script_names(script: &game::Script) -> Vec<&'static str> {
    script
        .moves
        .iter()
        .map(|m| imo_oracle::chain::game::Action::Move(m.clone()).name())
        .collect()
}

async fn lying_operator_loses(model_file: &str, k: usize, seed: u64) {
    let s = setup(model_file).await;
    let inputs = sample_inputs(&s.program, 1, seed).remove(0);
    let honest = Trace::run(s.program.clone(), &inputs).unwrap();
    let liar = (0..64)
        .map(|byte| faulty(s.program.clone(), &inputs, k, byte, 0x40))
        .find(|t| t.output_hash(&[]) != honest.output_hash(&[]))
        .expect("a corruption that reaches the output");
    let script = game::play(&liar, &honest, &[]);
    assert_eq!(script.node, k);
    let (id, played) = play(&s, &liar, &honest).await;
    assert_eq!(played.stuck, None);
    let names: Vec<_> = played.moves[1..].iter().map(|m| m.0).collect();
    assert_eq!(
        names,
        script_names(&script),
        "the chain saw the simulated game"
    );
    let d = InferenceDispute::new(s.dispute, s.anvil.provider());
    phase_is(&d, id, dispute::Phase::ChallengerWon, "").await;
    assert_eq!(
        credits(&d, key(CHALLENGER).address()).await,
        U256::from(CHALLENGER_BOND + OPERATOR_BOND)
    );
    assert_eq!(credits(&d, CLIENT).await, U256::from(PRICE));
    eprintln!(
        "NUMBERS {model_file} lying operator (node {k}): {} transactions, {} gas (node rounds {}, tile rounds {}), {:.2} s on anvil: {:?}",
        played.moves.len(),
        played.gas(),
        script.node_rounds,
        script.tile_rounds,
        played.secs,
        played.moves
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn game_a_lying_operator_loses_on_chain_and_the_client_is_refunded() {
    lying_operator_loses("quant_mlp.onnx", 6, 7).await; // the second QLinearMatMul
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn game_a_lying_operator_of_the_cnn_loses() {
    lying_operator_loses("quant_cnn.onnx", 1, 3).await; // the QLinearConv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn game_an_honest_operator_wins_when_the_challengers_clock_runs_out() {
    let s = setup("quant_mlp.onnx").await;
    let inputs = sample_inputs(&s.program, 1, 8).remove(0);
    let honest = Trace::run(s.program.clone(), &inputs).unwrap();
    let wrong = lying_trace(s.program.clone(), &inputs);
    let (id, played) = play(&s, &honest, &wrong).await;
    assert!(
        played.stuck.is_some(),
        "a lying challenger has no winning step"
    );
    let d = InferenceDispute::new(s.dispute, s.anvil.provider());
    assert!(!d.operatorToMove(id).call().await.unwrap());
    // Before its clock runs out nobody may claim it; after, the operator's player does.
    let pos = Position::read(&s.anvil.provider(), s.dispute, id)
        .await
        .unwrap();
    let (_, now) = crate::cycle::chain_time(&s.anvil).await;
    assert_eq!(decide(Role::Operator, &pos, &honest, &[], now), Ok(None));
    s.anvil.time_travel(CLOCK + 1).await;
    let (_, now) = crate::cycle::chain_time(&s.anvil).await;
    let action = decide(Role::Operator, &pos, &honest, &[], now)
        .unwrap()
        .expect("the operator claims the timeout");
    assert_eq!(action.name(), "timeout");
    send(&s.anvil.url, s.dispute, OPERATOR, action.calldata(id))
        .await
        .unwrap();
    phase_is(&d, id, dispute::Phase::OperatorWon, "").await;
    assert_eq!(
        credits(&d, key(OPERATOR).address()).await,
        U256::from(CHALLENGER_BOND)
    );
    assert_eq!(credits(&d, CLIENT).await, U256::ZERO);
    eprintln!(
        "NUMBERS quant_mlp.onnx lying challenger: {} transactions, {} gas, {:.2} s on anvil (then the timeout): {:?}",
        played.moves.len(),
        played.gas(),
        played.secs,
        played.moves
    );
}

/// Structural frauds (the operator's own trace): a layer skipped, tampered weights (what serving
/// another model with the same graph amounts to in the game). The honest verifier wins each:
/// at the one-step for the skipped layer; for tampered weights the operator cannot even reveal
/// (its states do not extend the committed initial state) and loses on its clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn game_structural_frauds_lose() {
    let s = setup("quant_mlp.onnx").await;
    let provider = s.anvil.provider();
    let ch = Challenger::connect(&s.anvil.url, key(CHALLENGER), s.dispute)
        .await
        .unwrap();
    let d = InferenceDispute::new(s.dispute, s.anvil.provider());
    // The first layer whose absence shows at the output (quant_mlp's Relus are redundant
    // before a uint8 QuantizeLinear with zero point 0; its bias Adds are not).
    let skipped = (0..s.program.node_count())
        .find(|&k| {
            let inputs = sample_inputs(&s.program, 1, 500).remove(0);
            let honest = Trace::run(s.program.clone(), &inputs).unwrap();
            Trace::run_with_fault(s.program.clone(), &inputs, Some(Fault::Skip { node: k }))
                .is_ok_and(|t| t.output_hash(&[]) != honest.output_hash(&[]))
        })
        .expect("a layer of quant_mlp matters");
    let frauds = [
        ("skipped layer", Fault::Skip { node: skipped }, "step"),
        (
            "tampered weights",
            Fault::Weight {
                weight: 1,
                byte: 3,
                xor: 0x10,
            },
            "timeout",
        ),
    ];
    for (round, (what, fault, last_move)) in frauds.into_iter().enumerate() {
        // An input on which the fraud changes the output.
        let (inputs, honest, liar) = (0..64u64)
            .find_map(|seed| {
                let inputs = sample_inputs(&s.program, 1, 500 + seed).remove(0);
                let honest = Trace::run(s.program.clone(), &inputs).unwrap();
                let liar =
                    Trace::run_with_fault(s.program.clone(), &inputs, Some(fault.clone())).ok()?;
                (liar.output_hash(&[]) != honest.output_hash(&[])).then_some((inputs, honest, liar))
            })
            .unwrap_or_else(|| panic!("{what}: no input shows the fraud"));
        drop(inputs);
        let receipt_id = 0x0190_0000_0000_0000_0000_0000_0000_2000 + round as u128;
        let (id, _, receipt) = open_game(&s, &ch, receipt_id, &liar, &honest, &honest).await;
        let mut moves = vec![];
        let mut operator_stuck = false;
        loop {
            let pos = Position::read(&provider, s.dispute, id).await.unwrap();
            if pos.winner().is_some() {
                break;
            }
            if pos.to_move() == Some(Role::Operator) && !operator_stuck {
                let (_, now) = crate::cycle::chain_time(&s.anvil).await;
                let action = decide(Role::Operator, &pos, &liar, &[], now)
                    .unwrap()
                    .unwrap();
                match send(&s.anvil.url, s.dispute, OPERATOR, action.calldata(id)).await {
                    Ok(_) => moves.push(action.name()),
                    Err(_) => {
                        // The lie cannot be carried on: the operator stops; past its clock the
                        // verifier claims the game.
                        moves.push("(operator stuck)");
                        operator_stuck = true;
                        s.anvil.time_travel(CLOCK + 1).await;
                    }
                }
                continue;
            }
            match ch.turn(id, &honest, &[]).await.unwrap() {
                Turn::Moved { name, .. } => moves.push(name),
                Turn::Over(_) => break,
                Turn::Stuck(r) => panic!("{what}: the verifier is never stuck: {r}"),
                Turn::Waiting => {}
            }
        }
        let seen = format!("{what}: {moves:?}");
        phase_is(&d, id, dispute::Phase::ChallengerWon, &seen).await;
        assert_eq!(moves.last(), Some(&last_move), "{seen}");
        assert!(
            d.refunded(receipt.eip712_hash_struct())
                .call()
                .await
                .unwrap()
        );
    }
    assert_eq!(credits(&d, CLIENT).await, U256::from(2 * PRICE));
    assert_eq!(
        credits(&d, key(CHALLENGER).address()).await,
        U256::from(2 * (CHALLENGER_BOND + OPERATOR_BOND))
    );
    let st = d.stakeOf(key(OPERATOR).address()).call().await.unwrap();
    assert_eq!(
        (st.free, st.locked),
        (U256::from(ETH - 2 * (OPERATOR_BOND + PRICE)), U256::ZERO)
    );
}

/// How a lying challenger plays against an honest operator.
#[derive(Debug, Clone, Copy)]
enum Liar {
    /// Claims a wrong output and plays its own (wrong) trace honestly.
    WrongClaim,
    /// Claims a wrong output and then chooses and picks at random.
    RandomMoves,
    /// Opens and never moves again.
    Silent,
}

/// Over many random calls an honest operator (the domain's player) wins every game against
/// every kind of lying challenger, each time on the challenger's clock (claimed by the
/// operator's player): zero honest slashes, to the wei.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn game_an_honest_operator_never_loses_to_a_lying_challenger() {
    use rand::{Rng, SeedableRng};
    let s = setup("quant_mlp.onnx").await;
    let d = InferenceDispute::new(s.dispute, s.anvil.provider());
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    let ch = Challenger::connect(&s.anvil.url, key(CHALLENGER), s.dispute)
        .await
        .unwrap();
    let provider = s.anvil.provider();
    let games = 9;
    for round in 0..games {
        let liar_kind = [Liar::WrongClaim, Liar::RandomMoves, Liar::Silent][round % 3];
        let inputs = sample_inputs(&s.program, 1, 1_000 + round as u64).remove(0);
        let honest = Trace::run(s.program.clone(), &inputs).unwrap();
        let node = rng.random_range(0..s.program.node_count());
        let wrong = (0..64)
            .map(|byte| faulty(s.program.clone(), &inputs, node, byte, 1 << (byte % 8)))
            .find(|t| t.output_hash(&[]) != honest.output_hash(&[]))
            .unwrap_or_else(|| {
                // No corruption of this node reaches the output: lie about the output itself.
                let last = s.program.node_count() - 1;
                faulty(s.program.clone(), &inputs, last, 0, 1)
            });
        let receipt_id = 0x0190_0000_0000_0000_0000_0000_0000_1000 + round as u128;
        let (id, _, _) = open_game(&s, &ch, receipt_id, &honest, &honest, &wrong).await;
        loop {
            let pos = Position::read(&provider, s.dispute, id).await.unwrap();
            assert!(
                pos.winner().is_none(),
                "{liar_kind:?}: over before the clock"
            );
            let (_, now) = crate::cycle::chain_time(&s.anvil).await;
            if pos.to_move() == Some(Role::Operator) {
                let action = decide(Role::Operator, &pos, &honest, &[], now)
                    .unwrap()
                    .unwrap();
                send(&s.anvil.url, s.dispute, OPERATOR, action.calldata(id))
                    .await
                    .unwrap_or_else(|e| panic!("{liar_kind:?}: {} failed: {e}", action.name()));
                continue;
            }
            let mv = match (liar_kind, decide(Role::Challenger, &pos, &wrong, &[], now)) {
                (Liar::Silent, _) | (_, Err(_)) => None,
                (Liar::RandomMoves, Ok(Some(imo_oracle::chain::game::Action::Move(m)))) => {
                    Some(match m {
                        game::Move::Choose(_) => game::Move::Choose(rng.random()),
                        game::Move::Pick(_) => game::Move::Pick(rng.random()),
                        other => other,
                    })
                }
                (_, Ok(Some(imo_oracle::chain::game::Action::Move(m)))) => Some(m),
                (_, Ok(_)) => None,
            };
            let Some(m) = mv else { break };
            let is_step = matches!(m, game::Move::Step(_));
            let sent = ch.send_move(id, &m).await;
            if is_step {
                assert!(
                    sent.is_err(),
                    "{liar_kind:?}: a step against the truth cannot win"
                );
                break;
            }
            sent.unwrap_or_else(|e| panic!("{liar_kind:?}: {m:?} failed: {e}"));
        }
        // The challenger stops; past its clock the operator's player claims the game.
        s.anvil.time_travel(CLOCK + 1).await;
        let action = operator_decides(&s, id, &honest).await.expect("a move");
        if action.name() != "timeout" {
            // A silent challenger left the operator to defend first.
            send(&s.anvil.url, s.dispute, OPERATOR, action.calldata(id))
                .await
                .unwrap();
            s.anvil.time_travel(CLOCK + 1).await;
        }
        let action = operator_decides(&s, id, &honest)
            .await
            .expect("the timeout");
        assert_eq!(action.name(), "timeout", "{liar_kind:?}");
        send(&s.anvil.url, s.dispute, OPERATOR, action.calldata(id))
            .await
            .unwrap();
        let label = format!("{liar_kind:?} (node {node})");
        phase_is(&d, id, dispute::Phase::OperatorWon, &label).await;
    }
    assert_eq!(
        credits(&d, key(OPERATOR).address()).await,
        U256::from(CHALLENGER_BOND * games as u128)
    );
    assert_eq!(credits(&d, key(CHALLENGER).address()).await, U256::ZERO);
    assert_eq!(credits(&d, CLIENT).await, U256::ZERO);
    let st = d.stakeOf(key(OPERATOR).address()).call().await.unwrap();
    assert_eq!(
        (st.free, st.locked),
        (U256::from(ETH), U256::ZERO),
        "no honest slash"
    );
}

/// The verifier's check: a correct receipt is never challenged; a wrong one is, with the
/// reference's output hash.
#[test]
fn check_never_flags_a_correct_receipt() {
    for m in ["quant_mlp.onnx", "quant_cnn.onnx"] {
        check_model(m);
    }
}

fn check_model(file: &str) {
    let program = Arc::new(Program::from_file(&model(file)).unwrap());
    // The verifier's cost per call: one check (hash, re-execution, output hash).
    let samples = sample_inputs(&program, 24, 11);
    // Receipt `id` of `t`'s call.
    let receipt = |id: u128, t: &Trace| Receipt {
        id,
        epoch: 0,
        model: B256::ZERO,
        client: CLIENT,
        price: U256::ZERO,
        inputHash: t.input_hash().into(),
        outputHash: t.output_hash(&[]).into(),
        fingerprint: B256::ZERO,
        timestamp: 0,
    };
    let receipts: Vec<Receipt> = samples
        .iter()
        .map(|inputs| receipt(0, &Trace::run(program.clone(), inputs).unwrap()))
        .collect();
    let started = Instant::now();
    for (inputs, r) in samples.iter().zip(&receipts) {
        assert!(matches!(
            challenger::check(program.clone(), r, inputs, &[]),
            challenger::Check::Correct
        ));
    }
    eprintln!(
        "NUMBERS {file}: the verifier's check (input hash, re-execution, output hash) {:.2} ms per call",
        started.elapsed().as_secs_f64() * 1e3 / samples.len() as f64
    );
    for (i, inputs) in samples.into_iter().enumerate() {
        let t = Trace::run(program.clone(), &inputs).unwrap();
        let mut r = receipt(i as u128, &t);
        assert!(matches!(
            challenger::check(program.clone(), &r, &inputs, &[]),
            challenger::Check::Correct
        ));
        r.outputHash = B256::repeat_byte(7);
        match challenger::check(program.clone(), &r, &inputs, &[]) {
            challenger::Check::Wrong { claimed, .. } => {
                assert_eq!(claimed, B256::from(t.output_hash(&[])))
            }
            other => panic!("{other:?}"),
        }
        r.inputHash = B256::repeat_byte(8);
        assert!(matches!(
            challenger::check(program.clone(), &r, &inputs, &[]),
            challenger::Check::Unjudgeable(_)
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// The service plays.

const CLIENT_DEPOSIT: u128 = ETH;

/// The world with quant_mlp tokenized and the client funded; the dispute job's stake target set.
async fn service_world(b: Backend, fault: Option<&str>) -> (World, Arc<Program>, String) {
    service_world_of(b, fault, "quant_mlp.onnx", "quant-mlp").await
}

/// [`service_world`] with `file` registered as `name` instead of quant_mlp.
async fn service_world_of(
    b: Backend,
    fault: Option<&str>,
    file: &str,
    name: &str,
) -> (World, Arc<Program>, String) {
    let fault = fault.map(str::to_owned);
    let w = World::start(b, move |cfg| {
        game_params(&mut cfg.chain);
        cfg.chain.dispute_stake_wei = ETH;
        cfg.chain.fault_injection = fault;
    })
    .await;
    let m = w.srv.register(&w.publisher_api, file, name, PRICE).await;
    w.tokenize(&m.id, "Quant model", "QM").await;
    w.fund_client(CLIENT_DEPOSIT, CLIENT_DEPOSIT).await;
    let program = Arc::new(Program::from_file(&model(file)).unwrap());
    (w, program, m.weights_root)
}

/// Passes of the `transactions` and `disputes` jobs until `cond` holds.
async fn until_disputes<F, Fut>(w: &World, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    loop {
        w.chain.disputes.pass().await.expect("disputes pass");
        w.chain.ctx.txm.pump().await.expect("transactions pass");
        if cond().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
    }
}

/// The dispute game (read-only) and the operator, once the `disputes` job has staked (`what`):
/// the game's address, the game, the operator.
async fn staked(
    w: &World,
    what: &str,
) -> (
    Address,
    InferenceDispute::InferenceDisputeInstance<DynProvider>,
    Address,
) {
    let game_addr = w.chain.deployment().dispute.unwrap().0;
    let d = InferenceDispute::new(game_addr, w.anvil.provider());
    let operator = w.chain.ctx.txm.sender();
    until_disputes(w, what, || {
        let d = d.clone();
        async move { d.stakeOf(operator).call().await.unwrap().free == U256::from(ETH) }
    })
    .await;
    (game_addr, d, operator)
}

/// Passes until the service's one game is recorded in `state`.
async fn until_recorded(w: &World, state: &str) {
    until_disputes(w, &format!("the game is recorded {state}"), || {
        let defender = w.chain.disputes.clone();
        async move { defender.games().await.unwrap()[0].state == state }
    })
    .await;
}

/// A call the service answered wrongly, as the client's verifier sees it.
struct WrongCall {
    record: ReceiptRecord,
    receipt: Receipt,
    /// Another call of the client's (not disputed).
    other: ReceiptRecord,
    /// The verifier's reference trace, the outputs asked for and the output hash it claims.
    trace: Box<Trace>,
    wanted: Vec<String>,
    claimed: B256,
}

/// Two calls of the client's to `name` (seeds 2 and 3; `program`'s model): the verifier finds
/// the first one's output wrong (`what` is caught).
async fn wrong_call(
    w: &World,
    program: Arc<Program>,
    name: &str,
    shape: &[usize],
    what: &str,
) -> WrongCall {
    let (inputs, record) = call_model(w, name, shape, 2).await;
    let (_, other) = call_model(w, name, shape, 3).await;
    let receipt = record.typed().unwrap();
    match challenger::check(program, &receipt, &inputs, &[]) {
        challenger::Check::Wrong {
            trace,
            wanted,
            claimed,
        } => WrongCall {
            record,
            receipt,
            other,
            trace,
            wanted,
            claimed,
        },
        other => panic!("{what} is caught: {other:?}"),
    }
}

/// The client opens a game over `call`: its challenger and the game.
async fn client_opens(w: &World, game_addr: Address, call: &WrongCall) -> (Challenger, B256) {
    opens(
        &w.anvil.url,
        w.client.clone(),
        game_addr,
        &call.record,
        &call.trace,
        call.claimed,
    )
    .await
}

/// A challenger with `key` on the game at `game_addr` (through `rpc`) opens a game over `record`
/// with `trace`, claiming `claimed`: the challenger and the game.
async fn opens(
    rpc: &str,
    key: PrivateKeySigner,
    game_addr: Address,
    record: &ReceiptRecord,
    trace: &Trace,
    claimed: B256,
) -> (Challenger, B256) {
    let ch = Challenger::connect(rpc, key, game_addr).await.unwrap();
    let (id, _) = ch
        .open(&record.typed().unwrap(), &signature(record), trace, claimed)
        .await
        .expect("the game opens");
    (ch, id)
}

/// The trace of a lying challenger: `program` run on `inputs` with its last node corrupted.
fn lying_trace(program: Arc<Program>, inputs: &[Tensor]) -> Trace {
    let last = program.node_count() - 1;
    faulty(program, inputs, last, 0, 0x01)
}

/// The client's verifier plays game `id` against the service's `disputes` job (a pass of it and
/// of the transactions between turns) until the game is over, within `secs`; with `travel`, the
/// chain moves past the operator's clock the first time the verifier waits. The winner and the
/// verifier's moves.
async fn verifier_plays(
    w: &World,
    ch: &Challenger,
    id: B256,
    trace: &Trace,
    wanted: &[String],
    secs: u64,
    travel: bool,
) -> (game::Winner, Vec<(&'static str, u64)>) {
    let mut moves = vec![];
    let mut travelled = !travel;
    let deadline = Instant::now() + std::time::Duration::from_secs(secs);
    let winner = loop {
        assert!(Instant::now() < deadline, "the game did not end");
        w.chain.disputes.pass().await.expect("disputes pass");
        w.chain.ctx.txm.pump().await.expect("transactions pass");
        match ch.turn(id, trace, wanted).await.unwrap() {
            Turn::Over(winner) => break winner,
            Turn::Moved { name, gas } => moves.push((name, gas)),
            Turn::Stuck(r) => panic!("the verifier is never stuck against a wrong output: {r}"),
            Turn::Waiting => {
                if !travelled {
                    w.anvil.time_travel(CLOCK + 1).await;
                    travelled = true;
                }
            }
        }
    };
    (winner, moves)
}

/// After a game the client won over `call`, to the wei: the client is credited (and withdraws
/// through `ch`) its bond, the operator's bond and the price, and nobody else anything; the
/// operator's stake lost exactly its bond and the price, which the job staked again; the other
/// call is not refunded.
async fn refunded_to_the_wei(
    w: &World,
    d: &InferenceDispute::InferenceDisputeInstance<DynProvider>,
    ch: &Challenger,
    call: &WrongCall,
) {
    let (receipt, other) = (&call.receipt, &call.other);
    let operator = w.chain.ctx.txm.sender();
    let won = U256::from(CHALLENGER_BOND + OPERATOR_BOND + PRICE);
    assert_eq!(credits(d, w.client.address()).await, won);
    assert_eq!(credits(d, operator).await, U256::ZERO);
    assert_eq!(d.totalCredits().call().await.unwrap(), won);
    let stakes = w.chain.ctx.txm.with_prefix("stake:").await.unwrap();
    let staked: Vec<U256> = stakes.iter().map(|i| i.value).collect();
    assert_eq!(
        staked,
        vec![U256::from(ETH), U256::from(OPERATOR_BOND + PRICE)]
    );
    let s = d.stakeOf(operator).call().await.unwrap();
    assert_eq!((s.free, s.locked), (U256::from(ETH), U256::ZERO));
    let other_hash = other.typed().unwrap().eip712_hash_struct();
    assert!(!d.refunded(other_hash).call().await.unwrap());
    assert!(
        d.refunded(receipt.eip712_hash_struct())
            .call()
            .await
            .unwrap()
    );
    assert_eq!(ch.withdraw().await.unwrap(), won);
}

/// One call to quant-mlp with deterministic finite inputs; the inputs and the receipt.
async fn call(w: &World, seed: u32) -> (Vec<Tensor>, ReceiptRecord) {
    call_model(w, "quant-mlp", &[1, 16], seed).await
}

/// One call to `name` (one FP32 input `x` of `shape`) with deterministic finite inputs.
async fn call_model(
    w: &World,
    name: &str,
    shape: &[usize],
    seed: u32,
) -> (Vec<Tensor>, ReceiptRecord) {
    let x: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|i| {
            ((i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(seed * 97)
                % 2000) as f32
                / 500.0
                - 2.0
        })
        .collect();
    let body =
        serde_json::json!({"inputs":[{"name":"x","datatype":"FP32","shape":shape,"data":x}]});
    let (status, resp) = w.client_api.infer_json(name, &body).await.unwrap();
    assert_eq!(status.as_u16(), 200, "{resp}");
    let r: ReceiptRecord =
        serde_json::from_str(resp["parameters"]["imo_receipt"].as_str().unwrap()).unwrap();
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let t = Tensor::new(
        "x",
        DataType::Fp32,
        shape.iter().map(|&d| d as u64).collect(),
        TensorData::Fixed(bytes),
    )
    .unwrap();
    (vec![t], r)
}

fn signature(r: &ReceiptRecord) -> Vec<u8> {
    hex::decode(r.signature.trim_start_matches("0x")).unwrap()
}

// On both databases: the `disputes` table, the intents and the retained inputs' lookup.
both_backends!(service_defends_its_receipts_and_a_lying_challenger_loses);

async fn service_defends_its_receipts_and_a_lying_challenger_loses(b: Backend) {
    let (w, program, _) = service_world(b, None).await;
    // The job commits the served model's program and stakes.
    let (game_addr, d, operator) = staked(&w, "the program is committed and the stake is in").await;
    let (inputs, record) = call(&w, 1).await;
    let receipt = record.typed().unwrap();
    let committed = d.programOf(receipt.model).call().await.unwrap();
    let expected = dispute::program(&program.commitment());
    assert_eq!(
        (committed.nodesRoot, committed.initRoot, committed.nodeCount),
        (expected.nodesRoot, expected.initRoot, expected.nodeCount)
    );
    let honest = Trace::run(program.clone(), &inputs).unwrap();
    assert_eq!(B256::from(honest.output_hash(&[])), receipt.outputHash);
    match challenger::check(program.clone(), &receipt, &inputs, &[]) {
        challenger::Check::Correct => {}
        other => panic!("the service's output is the reference's: {other:?}"),
    }
    // A lying challenger (a trace with the last node corrupted) opens anyway.
    let liar = lying_trace(program.clone(), &inputs);
    let bad = signer(40);
    w.anvil.set_balance(bad.address(), U256::from(ETH)).await;
    let claimed = liar.output_hash(&[]).into();
    let (ch, id) = opens(
        &w.anvil.url,
        bad.clone(),
        game_addr,
        &record,
        &liar,
        claimed,
    )
    .await;
    // The service kept the call's input for the dispute window, and finds the game's call from
    // it and its own receipts alone (what it does for a game opened through a contract).
    let kept = w.chain.disputes.retention().bytes();
    let encoding = imo_oracle::judge::game::canonical_encoding(&inputs);
    assert_eq!(kept, encoding.len() as u64);
    let (kept_receipt, kept_input) = w
        .chain
        .disputes
        .kept_call(id)
        .await
        .unwrap()
        .expect("the call is found from what the service kept");
    assert_eq!(kept_input, encoding);
    assert_eq!(kept_receipt.id, receipt.id);
    // The service defends every move; the challenger plays its (wrong) trace until stuck.
    let mut stuck = None;
    let deadline = Instant::now() + std::time::Duration::from_secs(90);
    while stuck.is_none() {
        assert!(Instant::now() < deadline, "the game did not progress");
        w.chain.disputes.pass().await.expect("disputes pass");
        w.chain.ctx.txm.pump().await.expect("transactions pass");
        match ch.turn(id, &liar, &[]).await.unwrap() {
            Turn::Stuck(r) => stuck = Some(r),
            Turn::Over(winner) => panic!("over early: {winner:?}"),
            Turn::Moved { .. } | Turn::Waiting => {}
        }
    }
    let games = w.chain.disputes.games().await.unwrap();
    assert_eq!(games.len(), 1);
    assert_eq!(games[0].state, "open");
    // The challenger stops; once its clock is out the service claims the win.
    w.anvil.time_travel(CLOCK + 1).await;
    w.anvil.mine(1).await;
    until_disputes(&w, "the service claims the timeout", || {
        let d = d.clone();
        async move { d.getGame(id).call().await.unwrap().phase == 5 }
    })
    .await;
    until_recorded(&w, "won").await;
    assert_eq!(credits(&d, operator).await, U256::from(CHALLENGER_BOND));
    assert_eq!(credits(&d, bad.address()).await, U256::ZERO);
    assert_eq!(credits(&d, w.client.address()).await, U256::ZERO);
    let s = d.stakeOf(operator).call().await.unwrap();
    assert_eq!((s.free, s.locked), (U256::from(ETH), U256::ZERO));
    // Every move the service sent went through the transaction manager.
    let sent = w.chain.ctx.txm.with_prefix("dispute:").await.unwrap();
    assert!(sent.len() >= 6, "{sent:?}");
    assert!(sent.iter().all(|i| i.state.as_str() == "final"), "{sent:?}");
    let metrics = imo_e2e::metrics(&reqwest::Client::new(), &w.srv.url).await;
    assert!(metrics.contains("imo_disputes_resolved_total"), "{metrics}");
    // (A process-wide gauge: other tests' services in this process set it too.)
    assert!(metrics.contains("imo_retained_input_bytes"), "{metrics}");
    // Past the retention (window + both clocks) the job prunes the input.
    w.srv
        .clock
        .advance_ms((86_400 + 2 * CLOCK as i64 + 3_600) * 1000);
    w.chain.disputes.pass().await.unwrap();
    assert_eq!(w.chain.disputes.retention().bytes(), 0);
    assert!(w.chain.disputes.kept_call(id).await.unwrap().is_none());
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_fraud_corrupt_output_is_caught_slashed_and_refunded() {
    let (w, program, _) = service_world(Backend::Sqlite, Some("corrupt-output")).await;
    let (game_addr, d, _) = staked(&w, "the stake is in").await;
    // Two clients' worth of calls: only the disputed one is refunded.
    let wrong = wrong_call(&w, program, "quant-mlp", &[1, 16], "the corrupted output").await;
    let client_eth = eth(&w.anvil, w.client.address()).await;
    let (ch, id) = client_opens(&w, game_addr, &wrong).await;
    // The (fraudulent) service defends its corrupted output consistently; the client's
    // verifier plays every turn until the one-step shows the corrupted element.
    let started = Instant::now();
    let (winner, moves) =
        verifier_plays(&w, &ch, id, &wrong.trace, &wrong.wanted, 120, false).await;
    assert_eq!(winner, game::Winner::Challenger);
    assert_eq!(moves.last().map(|m| m.0), Some("step"), "{moves:?}");
    let defended = w.chain.ctx.txm.with_prefix("dispute:").await.unwrap();
    assert!(
        defended.iter().any(|i| i.key.contains(":defend:")),
        "the service defended: {defended:?}"
    );
    eprintln!(
        "NUMBERS service quant_mlp corrupt-output game: {:.2} s, the verifier's moves {:?}, the operator's {:?}",
        started.elapsed().as_secs_f64(),
        moves,
        defended
            .iter()
            .map(|i| (
                i.key.split(':').nth(2).unwrap_or("?").to_owned(),
                i.gas_used
            ))
            .collect::<Vec<_>>()
    );
    until_recorded(&w, "lost").await;
    // To the wei: the client (who challenged) gets its bond, the operator's bond and the price;
    // the operator's stake loses exactly its bond and the price (the job stakes exactly that
    // again); nobody else is credited; the other receipt is untouched.
    refunded_to_the_wei(&w, &d, &ch, &wrong).await;
    let after = eth(&w.anvil, w.client.address()).await;
    assert!(after > client_eth, "the client ends up ahead (less gas)");
    w.finish().await;
}

/// The served frauds (`chain.fault_injection = "serve:<kind>"`): ONNX Runtime in the service
/// runs a variant of the registered model (`judge::fraud`) while the receipts name the
/// registered weights. The client's verifier re-executes the registered model, sees the wrong
/// output and opens; the operator's defender re-executes the registered model too, finds that
/// its receipt is not the reference's, cannot defend and loses on its clock. To the wei: the
/// client gets its bond, the operator's bond and the price; the operator's stake loses exactly
/// that (and the job stakes it again); nobody else is credited; the other receipt is untouched.
async fn served_fraud_is_caught(file: &str, name: &str, shape: &[usize], kind: &str) {
    let started = Instant::now();
    let fault = format!("serve:{kind}");
    let (w, program, _) = service_world_of(Backend::Sqlite, Some(&fault), file, name).await;
    let (game_addr, d, operator) = staked(&w, "the stake is in").await;
    let what = format!("{kind} on {file}: the served output");
    let wrong = wrong_call(&w, program, name, shape, &what).await;
    // Everyone else's money, to the wei: the publisher's and the holder's ETH, and what the
    // vault (every client's deposit, the holders' revenue) and the oracle contract hold.
    let dep = w.chain.deployment().clone();
    let others: Vec<Address> = [
        w.publisher.address(),
        w.holder.address(),
        dep.vault.0,
        dep.oracle.0,
    ]
    .into_iter()
    .filter(|a| *a != operator)
    .collect();
    let balances = || async {
        let mut b = vec![];
        for a in &others {
            b.push(w.anvil.provider().get_balance(*a).await.unwrap());
        }
        b
    };
    let before = balances().await;
    let (ch, id) = client_opens(&w, game_addr, &wrong).await;
    // The operator has no move (its reference output is not its receipt's): its clock runs out.
    let (winner, moves) = verifier_plays(&w, &ch, id, &wrong.trace, &wrong.wanted, 60, true).await;
    assert_eq!(winner, game::Winner::Challenger, "{kind} on {file}");
    assert_eq!(moves.last().map(|m| m.0), Some("timeout"), "{moves:?}");
    let defended = w.chain.ctx.txm.with_prefix("dispute:").await.unwrap();
    assert!(
        defended.is_empty(),
        "an operator that served something else cannot defend: {defended:?}"
    );
    until_recorded(&w, "lost").await;
    refunded_to_the_wei(&w, &d, &ch, &wrong).await;
    assert_eq!(
        balances().await,
        before,
        "nobody else's money moved: {others:?}"
    );
    eprintln!(
        "NUMBERS service {file} serve:{kind}: {:.2} s in all, the verifier's moves {moves:?}",
        started.elapsed().as_secs_f64()
    );
    w.finish().await;
}

/// A tokenized model the registry assessed not disputable (tiny_mlp: a float MatMul, outside
/// the judge's op set): the `disputes` job commits no program for it (it does for quant_mlp,
/// above) and its calls' inputs are not kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_commits_and_keeps_nothing_for_a_model_that_cannot_be_disputed() {
    let w = World::start(Backend::Sqlite, |cfg| {
        game_params(&mut cfg.chain);
        cfg.chain.dispute_stake_wei = ETH;
    })
    .await;
    let m = w
        .srv
        .register(&w.publisher_api, "tiny_mlp.onnx", "tiny", PRICE)
        .await;
    assert_eq!(
        m.dispute.status,
        imo_client::dto::DisputeStatus::Blocked,
        "{:?}",
        m.dispute
    );
    w.tokenize(&m.id, "Tiny", "TNY").await;
    w.fund_client(CLIENT_DEPOSIT, CLIENT_DEPOSIT).await;
    staked(&w, "the stake is in").await;
    assert!(
        w.chain
            .ctx
            .txm
            .with_prefix("program:")
            .await
            .unwrap()
            .is_empty(),
        "no program is committed for a model that is not disputable"
    );
    call_model(&w, "tiny", &[1, 4], 1).await;
    assert_eq!(w.chain.disputes.retention().bytes(), 0, "no input is kept");
    w.finish().await;
}

/// One test per model and fraud kind (each its own world, so they run in parallel).
macro_rules! served_frauds {
    ($($test:ident: $file:literal, $name:literal, $shape:expr, $kind:literal;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            served_fraud_is_caught($file, $name, &$shape, $kind).await;
        }
    )*};
}

served_frauds! {
    service_fraud_mlp_wrong_model: "quant_mlp.onnx", "quant-mlp", [1, 16], "wrong-model";
    service_fraud_mlp_skipped_layer: "quant_mlp.onnx", "quant-mlp", [1, 16], "skipped-layer";
    service_fraud_mlp_tampered_weights: "quant_mlp.onnx", "quant-mlp", [1, 16], "tampered-weights";
    service_fraud_cnn_wrong_model: "quant_cnn.onnx", "quant-cnn", [1, 1, 8, 8], "wrong-model";
    service_fraud_cnn_skipped_layer: "quant_cnn.onnx", "quant-cnn", [1, 1, 8, 8], "skipped-layer";
    service_fraud_cnn_tampered_weights: "quant_cnn.onnx", "quant-cnn", [1, 1, 8, 8], "tampered-weights";
}

/// The real binaries: anvil, `imo contracts deploy`, `imo serve` with the scheduler (the
/// `disputes` job every second, a stake of 1 ETH, `fault` injected), quant-mlp tokenized, the
/// operator staked, and a client funded with its own wallet through the CLI.
struct BinaryWorld {
    anvil: Anvil,
    dir: tempfile::TempDir,
    db_url: String,
    env: Vec<(String, String)>,
    svc: ImoProcess,
    client: PrivateKeySigner,
    client_api: imo_client::Client,
    /// `env` with the server's URL and the client's API key.
    client_env: Vec<(String, String)>,
    game: Address,
    operator: Address,
}

impl BinaryWorld {
    async fn start(fault: Option<&str>) -> Self {
        let anvil = Anvil::spawn().await;
        let dir = tempfile::tempdir().unwrap();
        let (db_url, _) = fresh_database(Backend::Sqlite, dir.path()).await;
        let mut env = crate::crash::service_env(dir.path(), &db_url, &anvil.url);
        env.extend(
            [
                ("IMO_CHAIN_DISPUTE_CLOCK_SECS", CLOCK.to_string()),
                ("IMO_CHAIN_DISPUTE_STAKE_WEI", ETH.to_string()),
                ("IMO_CHAIN_DISPUTES_SCHEDULE", "* * * * * *".into()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        let deployed = run_imo(&env, &["contracts", "deploy"]);
        assert!(deployed.contains("InferenceDispute"), "{deployed}");
        let (publisher, client) = (signer(51), signer(52));
        for s in [&publisher, &client] {
            anvil.set_balance(s.address(), U256::from(100 * ETH)).await;
        }
        let publisher_key = cli_key(&env, &publisher, "publisher");
        let client_key = cli_key(&env, &client, "client");
        let extra: Vec<(&str, &str)> = fault
            .map(|f| vec![("IMO_CHAIN_FAULT_INJECTION", f)])
            .unwrap_or_default();
        let mut svc = ImoProcess::serve(&env, &extra).await;
        let pub_api = imo_client::Client::new(&svc.url).with_key(publisher_key);
        let client_api = imo_client::Client::new(&svc.url).with_key(client_key.clone());
        let m = upload(&pub_api, "quant_mlp.onnx", "quant-mlp", PRICE).await;
        svc.tokenized(&pub_api, &m.id, "Quant MLP", "QMLP").await;
        let contracts = client_api.contracts().await.unwrap();
        let game_addr: Address = contracts.inference_dispute.unwrap().parse().unwrap();
        let operator: Address = contracts.operator.parse().unwrap();
        let d = InferenceDispute::new(game_addr, anvil.provider());
        let root: B256 = m.weights_root.parse().unwrap();
        svc.until("the operator staked and committed the program", 30, || {
            let d = d.clone();
            async move {
                d.stakeOf(operator)
                    .call()
                    .await
                    .is_ok_and(|s| s.free == U256::from(ETH))
                    && d.programOf(root)
                        .call()
                        .await
                        .is_ok_and(|p| p.nodeCount > 0)
            }
        })
        .await;
        // The client's deposit and cap with its own wallet (the CLI).
        let wallet = crate::crash::ClientWallet::new(dir.path(), &env, &svc, &client, client_key);
        wallet
            .fund(&mut svc, &client_api, "the deposit is indexed")
            .await;
        Self {
            anvil,
            dir,
            db_url,
            env,
            svc,
            client,
            client_api,
            client_env: wallet.env,
            game: game_addr,
            operator,
        }
    }
}

/// The real binary with its scheduler: SIGKILLed right after it broadcasts its first move of a
/// game (`kill-after-send:dispute:`), restarted on the same database, it resumes the game from
/// the chain and its intents, answers every move of a lying challenger and claims the win.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_sigkilled_mid_game_resumes_and_wins() {
    use std::os::unix::process::ExitStatusExt;
    let BinaryWorld {
        anvil,
        dir: _dir,
        db_url,
        env,
        mut svc,
        client_api,
        game: game_addr,
        operator,
        ..
    } = BinaryWorld::start(Some("kill-after-send:dispute:")).await;
    let d = InferenceDispute::new(game_addr, anvil.provider());
    let liar_key = signer(53);
    anvil
        .set_balance(liar_key.address(), U256::from(100 * ETH))
        .await;
    let x: Vec<f32> = (0..16).map(|i| i as f32 / 4.0 - 2.0).collect();
    let body =
        serde_json::json!({"inputs":[{"name":"x","datatype":"FP32","shape":[1,16],"data":x}]});
    let (status, resp) = client_api.infer_json("quant-mlp", &body).await.unwrap();
    assert_eq!(status.as_u16(), 200, "{resp}");
    let record: ReceiptRecord =
        serde_json::from_str(resp["parameters"]["imo_receipt"].as_str().unwrap()).unwrap();
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let inputs =
        vec![Tensor::new("x", DataType::Fp32, vec![1, 16], TensorData::Fixed(bytes)).unwrap()];
    let program = Arc::new(Program::from_file(&model("quant_mlp.onnx")).unwrap());
    let liar = lying_trace(program, &inputs);
    let claimed = liar.output_hash(&[]).into();
    let (ch, id) = opens(
        &anvil.url,
        liar_key.clone(),
        game_addr,
        &record,
        &liar,
        claimed,
    )
    .await;
    // The service sends its defence and dies right after the broadcast.
    let status = tokio::time::timeout(std::time::Duration::from_secs(60), svc.wait())
        .await
        .unwrap_or_else(|_| panic!("not killed after its first move:\n{}", svc.log_tail()))
        .unwrap();
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status}");
    // Restarted without the fault, it goes on; the liar plays until it has no move.
    let mut svc = ImoProcess::serve(&env, &[]).await;
    // The liar moves whenever it can; otherwise it waits for the service's next logged move.
    svc.until("the liar to have no move left", 120, || async {
        loop {
            match ch.turn(id, &liar, &[]).await.unwrap() {
                Turn::Stuck(_) => return true,
                Turn::Over(w) => panic!("over early: {w:?}"),
                Turn::Moved { .. } => {}
                Turn::Waiting => return false,
            }
        }
    })
    .await;
    anvil.time_travel(CLOCK + 1).await;
    anvil.mine(1).await;
    svc.until("the service claims the win", 60, || {
        let d = d.clone();
        async move { d.getGame(id).call().await.is_ok_and(|g| g.phase == 5) }
    })
    .await;
    assert_eq!(credits(&d, operator).await, U256::from(CHALLENGER_BOND));
    let st = d.stakeOf(operator).call().await.unwrap();
    assert_eq!((st.free, st.locked), (U256::from(ETH), U256::ZERO));
    // Exactly one defence was sent (the one broadcast before the kill).
    let db = connect_db(&db_url).await;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let defends = imo_oracle::chain::intent_entity::Entity::find()
        .filter(imo_oracle::chain::intent_entity::Column::Key.contains(":defend:"))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(defends.len(), 1, "{defends:#?}");
    db.close().await.ok();
    svc.stop().await;
}

/// `imo infer --record` and `imo verify` (the real binaries) against the service serving the
/// test-only `corrupt-output` fraud: the verifier re-executes both recorded calls, opens two games
/// with the client's key, plays them at once against the service's defender, wins both and
/// withdraws exactly the bonds and refunds; a second run finds nothing left to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_imo_verify_catches_the_fraud_with_the_cli() {
    let w = BinaryWorld::start(Some("corrupt-output")).await;
    let record = w.dir.path().join("calls");
    let body = w.dir.path().join("request.json");
    let rec = record.display().to_string();
    for seed in 0..2 {
        let x: Vec<f32> = (0..16).map(|i| (i + seed) as f32 / 3.0 - 2.5).collect();
        std::fs::write(
            &body,
            serde_json::json!({"inputs":[{"name":"x","datatype":"FP32","shape":[1,16],"data":x}]})
                .to_string(),
        )
        .unwrap();
        let out = run_imo(
            &w.client_env,
            &[
                "infer",
                "quant-mlp",
                "--body",
                &body.display().to_string(),
                "--record",
                &rec,
            ],
        );
        assert!(out.contains("imo_receipt"), "{out}");
    }
    let model_arg = format!("quant-mlp={}", model("quant_mlp.onnx").display());
    let kf = w.dir.path().join("client.wallet.key").display().to_string();
    let metrics_file = w.dir.path().join("verify.prom").display().to_string();
    let args = [
        "verify",
        "--record",
        &rec,
        "--model",
        &model_arg,
        "--key-file",
        &kf,
        "--rpc-url",
        &w.anvil.url,
        "--poll-ms",
        "200",
        "--game-secs",
        "120",
        "--concurrency",
        "2",
        "--metrics-file",
        &metrics_file,
    ];
    let out = run_imo(&w.client_env, &args);
    let each = CHALLENGER_BOND + OPERATOR_BOND + PRICE;
    assert!(
        out.contains(&format!(
            "checked 2 call(s): 0 correct; games won 2, lost 0; withdrew {} wei of credits",
            2 * each
        )),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.contains(" step ")).count(),
        2,
        "{out}"
    );
    let prom = std::fs::read_to_string(&metrics_file).unwrap();
    for line in [
        "imo_verify_games_total{outcome=\"won\"} 2",
        "imo_verify_games_opened_total 2",
        "imo_verify_bonds_at_stake_wei 0",
        "imo_verify_games_open 0",
        "imo_verify_calls_checked_total 2",
    ] {
        assert!(prom.lines().any(|l| l == line), "{line} in:\n{prom}");
    }
    // A second run checks nothing again (the verdicts are recorded).
    let again = run_imo(&w.client_env, &args);
    assert!(again.contains("checked 0 call(s)"), "{again}");
    let verdicts = std::fs::read_dir(&record)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".verdict.json")
        })
        .count();
    assert_eq!(verdicts, 2);
    let d = InferenceDispute::new(w.game, w.anvil.provider());
    assert_eq!(
        credits(&d, w.client.address()).await,
        U256::ZERO,
        "withdrawn"
    );
    assert_eq!(credits(&d, w.operator).await, U256::ZERO);
    w.svc.stop().await;
}
