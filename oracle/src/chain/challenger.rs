//! The challenger's side of the inference dispute game (docs/PROTOCOL.md §9.7), as `imo verify`
//! and the tests play it: re-execute a recorded call with the reference interpreter, compare
//! with its receipt, open a game with the challenger's bond when the receipt's output is wrong,
//! and play it to the end with the same [`super::game::decide`] the operator's defender uses.
//! It sends with the challenger's own key (no transaction manager: a verifier has no database);
//! every move is simulated first (`eth_call`), so a move that would revert costs nothing.

use std::{sync::Arc, time::Duration};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address as EthAddress, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
};
use tracing::{info, instrument, warn};

use super::{
    dispute::{self, InferenceDispute},
    game::{self, Action, Position, Role},
};
use crate::{
    error::{OracleError, Result},
    judge::{Program, Trace, game::Winner},
    receipts::Receipt,
    tensor::Tensor,
};

/// What re-executing a call says about its receipt.
#[derive(Debug)]
pub enum Check {
    /// The receipt's input and output hashes are the reference's: nothing to dispute.
    Correct,
    /// The receipt's output is not the reference's: `claimed` is the reference's output hash
    /// of the outputs the call returned (`wanted`).
    Wrong {
        trace: Box<Trace>,
        wanted: Vec<String>,
        claimed: B256,
    },
    /// The call cannot be judged (another input than the receipt's, or inputs the program does
    /// not take); never challenged.
    Unjudgeable(String),
}

/// Re-executes a call with the reference interpreter and compares with its receipt. `outputs`
/// are the names of the outputs the call asked for (empty: all).
pub fn check(
    program: Arc<Program>,
    receipt: &Receipt,
    inputs: &[Tensor],
    outputs: &[String],
) -> Check {
    if B256::from(crate::tensor::canonical_hash(inputs)) != receipt.inputHash {
        return Check::Unjudgeable("the recorded input is not the receipt's".into());
    }
    let trace = match Trace::run(program, inputs) {
        Ok(t) => t,
        Err(e) => return Check::Unjudgeable(e.to_string()),
    };
    let mut wanted: Vec<String> = outputs.to_vec();
    wanted.sort();
    let claimed = B256::from(trace.output_hash(&wanted));
    if claimed == receipt.outputHash {
        Check::Correct
    } else {
        Check::Wrong {
            trace: Box::new(trace),
            wanted,
            claimed,
        }
    }
}

/// One turn of a game, as [`Challenger::turn`] played it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// Sent this move (by name) and it was mined with this much gas.
    Moved { name: &'static str, gas: u64 },
    /// The operator is to move.
    Waiting,
    /// The game is over.
    Over(Winner),
    /// It is our turn and we have no move that can win (we lose on our clock).
    Stuck(String),
}

/// A challenger with its own key, on one InferenceDispute.
#[derive(Clone)]
pub struct Challenger {
    provider: DynProvider,
    me: EthAddress,
    dispute: EthAddress,
    bond: U256,
}

impl std::fmt::Debug for Challenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenger")
            .field("me", &self.me)
            .field("dispute", &self.dispute)
            .finish()
    }
}

fn chain_err(what: &str, e: impl std::fmt::Display) -> OracleError {
    OracleError::Chain(format!("{what}: {e}"))
}

impl Challenger {
    /// Connects to `rpc_url` with `key`; reads the game's challenger bond.
    pub async fn connect(
        rpc_url: &str,
        key: PrivateKeySigner,
        dispute: EthAddress,
    ) -> Result<Self> {
        let me = key.address();
        let url = rpc_url
            .parse()
            .map_err(|e| OracleError::InvalidInput(format!("RPC URL `{rpc_url}`: {e}")))?;
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(key))
            .connect_http(url)
            .erased();
        let bond = InferenceDispute::new(dispute, &provider)
            .challengerBond()
            .call()
            .await
            .map_err(|e| chain_err("reading InferenceDispute.challengerBond", e))?;
        Ok(Self {
            provider,
            me,
            dispute,
            bond,
        })
    }

    pub fn address(&self) -> EthAddress {
        self.me
    }

    /// The bond each game costs until it is won.
    pub fn bond(&self) -> U256 {
        self.bond
    }

    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// Opens a game over `receipt` (signed `signature`) with the call's input from `trace`,
    /// claiming `claimed` as the right output hash; returns the game id and the gas used.
    #[instrument(skip_all, fields(receipt = receipt.id))]
    pub async fn open(
        &self,
        receipt: &Receipt,
        signature: &[u8],
        trace: &Trace,
        claimed: B256,
    ) -> Result<(B256, u64)> {
        let call = dispute::open_call(receipt, signature, &trace.open_data(), claimed);
        let data = alloy::sol_types::SolCall::abi_encode(&call);
        let gas = self.send(data.into(), self.bond).await?;
        let id = dispute::game_id(receipt, self.me);
        metrics::counter!("imo_verify_games_opened_total").increment(1);
        info!(game = %id, gas, "verify: game opened");
        Ok((id, gas))
    }

    /// Sends a move of game `id` chosen by the caller (a test's deliberately wrong challenger,
    /// a manual player); simulated first like every move. The gas it used.
    pub async fn send_move(&self, id: B256, m: &crate::judge::game::Move) -> Result<u64> {
        self.send(dispute::call(id, m), U256::ZERO).await
    }

    /// Simulates, sends and waits for one transaction to the game; the gas it used.
    async fn send(&self, data: alloy::primitives::Bytes, value: U256) -> Result<u64> {
        let tx = TransactionRequest::default()
            .with_from(self.me)
            .with_to(self.dispute)
            .with_input(data)
            .with_value(value);
        self.provider
            .call(tx.clone())
            .await
            .map_err(|e| chain_err("the move reverts in simulation", decode_revert(&e)))?;
        // A move charges the mover's clock: in a later block than the estimate's it writes
        // slots the estimate left unchanged, so the limit has the transaction manager's margin.
        let gas = self
            .provider
            .estimate_gas(tx.clone())
            .await
            .map_err(|e| chain_err("estimating a move's gas", decode_revert(&e)))?;
        let tx = tx.with_gas_limit(gas.saturating_mul(12) / 10 + 10_000);
        let pending = self
            .provider
            .send_transaction(tx)
            .await
            .map_err(|e| chain_err("sending a move", e))?;
        let r = pending
            .get_receipt()
            .await
            .map_err(|e| chain_err("waiting for a move", e))?;
        if !r.status() {
            let limit = self
                .provider
                .get_transaction_by_hash(r.transaction_hash)
                .await
                .ok()
                .flatten()
                .map(|t| alloy::consensus::Transaction::gas_limit(&t));
            return Err(OracleError::Chain(format!(
                "the move reverted on-chain (tx {}, gas used {} of {limit:?})",
                r.transaction_hash, r.gas_used
            )));
        }
        Ok(r.gas_used)
    }

    /// The latest block's timestamp.
    async fn now(&self) -> Result<u64> {
        Ok(self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(|e| chain_err("reading the latest block", e))?
            .ok_or_else(|| OracleError::Chain("no latest block".into()))?
            .header
            .timestamp)
    }

    /// One turn of game `id` with our `trace`: read the position, decide, send.
    pub async fn turn(&self, id: B256, trace: &Trace, wanted: &[String]) -> Result<Turn> {
        let pos = Position::read(&self.provider, self.dispute, id).await?;
        if let Some(w) = pos.winner() {
            return Ok(Turn::Over(w));
        }
        let now = self.now().await?;
        match game::decide(Role::Challenger, &pos, trace, wanted, now) {
            Ok(None) => Ok(Turn::Waiting),
            Err(reason) => Ok(Turn::Stuck(reason)),
            Ok(Some(action)) => {
                let name = action.name();
                match self.send(action.calldata(id), U256::ZERO).await {
                    Ok(gas) => {
                        metrics::counter!("imo_verify_moves_total", "move" => name).increment(1);
                        info!(game = %id, r#move = name, gas, "verify: move");
                        Ok(Turn::Moved { name, gas })
                    }
                    // A step that cannot win reverts (`NotDecisive`): we have no move.
                    Err(e) if matches!(action, Action::Move(_)) && name == "step" => {
                        Ok(Turn::Stuck(e.to_string()))
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Plays game `id` until it is over (or we are stuck), polling every `poll` while the
    /// operator moves, for at most `limit`.
    pub async fn play(
        &self,
        id: B256,
        trace: &Trace,
        wanted: &[String],
        poll: Duration,
        limit: Duration,
    ) -> Result<Turn> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match self.turn(id, trace, wanted).await? {
                Turn::Moved { .. } => continue,
                Turn::Waiting => {
                    if tokio::time::Instant::now() >= deadline {
                        return Ok(Turn::Waiting);
                    }
                    tokio::time::sleep(poll).await;
                }
                t @ (Turn::Over(_) | Turn::Stuck(_)) => {
                    if let Turn::Stuck(reason) = &t {
                        warn!(game = %id, reason, "verify: no winning move");
                    }
                    return Ok(t);
                }
            }
        }
    }

    /// Withdraws our credits (bonds won); the amount.
    pub async fn withdraw(&self) -> Result<U256> {
        let c = InferenceDispute::new(self.dispute, &self.provider);
        let credits = c
            .credits(self.me)
            .call()
            .await
            .map_err(|e| chain_err("reading credits", e))?;
        if credits.is_zero() {
            return Ok(U256::ZERO);
        }
        let data = alloy::sol_types::SolCall::abi_encode(&InferenceDispute::withdrawCreditsCall {});
        self.send(data.into(), U256::ZERO).await?;
        Ok(credits)
    }
}

/// A revert's contract error by name when the ABI knows it.
fn decode_revert(e: &alloy::transports::RpcError<alloy::transports::TransportErrorKind>) -> String {
    if let Some(d) = e
        .as_error_resp()
        .and_then(|r| r.as_decoded_interface_error::<InferenceDispute::InferenceDisputeErrors>())
    {
        return format!("{d:?}");
    }
    e.to_string()
}
