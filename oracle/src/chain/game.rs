//! The dispute game's player (docs/PROTOCOL.md §9.4), shared by both sides: the operator's
//! defender (`chain::disputes`, through the transaction manager) and a challenger (`imo verify`,
//! the tests) call the same [`decide`] with the game's on-chain [`Position`] and their own
//! [`Trace`] of the call. A player keeps no state of its own: everything it needs to move is the
//! position `InferenceDispute.getGame` returns, so a player that restarts mid-game simply reads
//! the position again and goes on.

use alloy::{
    primitives::{Address, B256, Bytes},
    providers::Provider,
    sol_types::SolCall,
};

use super::dispute::{self, InferenceDispute, Phase};
use crate::{
    error::{OracleError, Result},
    judge::{
        Trace,
        game::{Move, Winner},
    },
};

/// Which side a player takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The receipt's signer: defends its output.
    Operator,
    /// Opened the game: says the output is wrong.
    Challenger,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Challenger => "challenger",
        }
    }
}

/// A game's position on-chain (`InferenceDispute.getGame`), typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub phase: Phase,
    /// Bisect: a midpoint is posted; Tile: children are revealed (the challenger moves).
    pub pending: bool,
    /// Tile: the height of the disputed subtree (0 = a chunk).
    pub level: u8,
    pub lo: u32,
    pub hi: u32,
    pub operator: Address,
    pub challenger: Address,
    pub client: Address,
    pub model: B256,
    pub receipt_hash: B256,
    /// The receipt's output hash (what the operator signed).
    pub output_hash: B256,
    /// The operator's `S_mid` while a midpoint is pending.
    pub pending_root: B256,
    /// The disputed node's output shape word (after the reveal).
    pub out_shape: B256,
    /// Tile: the disputed subtree's root; Step: the disputed chunk's bytes.
    pub tile: B256,
    pub tile_index: usize,
    pub left: B256,
    pub right: B256,
    /// Seconds left on each clock and when the current turn started (chain time).
    pub operator_clock: u64,
    pub challenger_clock: u64,
    pub turn_start: u64,
}

impl Position {
    /// From the contract's struct (`chain_unavailable` for a phase it never returns).
    pub fn from_abi(g: &InferenceDispute::Game) -> Result<Self> {
        let phase = Phase::from_abi(g.phase)
            .ok_or_else(|| OracleError::Chain(format!("unknown game phase {}", g.phase)))?;
        Ok(Self {
            phase,
            pending: g.pending,
            level: g.level,
            lo: g.lo,
            hi: g.hi,
            operator: g.operator,
            challenger: g.challenger,
            client: g.client,
            model: g.model,
            receipt_hash: g.receiptHash,
            output_hash: g.outputHash,
            pending_root: g.pendingRoot,
            out_shape: B256::from(g.outShape.to_be_bytes::<32>()),
            tile: g.tile,
            tile_index: usize::try_from(g.tileIndex).unwrap_or(usize::MAX),
            left: g.left,
            right: g.right,
            operator_clock: g.operatorClock,
            challenger_clock: g.challengerClock,
            turn_start: g.turnStart,
        })
    }

    /// Reads game `id` from the contract at `dispute`.
    pub async fn read<P: Provider>(provider: &P, dispute: Address, id: B256) -> Result<Self> {
        let g = InferenceDispute::new(dispute, provider)
            .getGame(id)
            .call()
            .await
            .map_err(|e| OracleError::Chain(format!("reading game {id}: {e}")))?;
        Self::from_abi(&g)
    }

    /// Who moves now (`None` once the game is over or when there is no such game).
    pub fn to_move(&self) -> Option<Role> {
        match self.phase {
            Phase::Defend => Some(Role::Operator),
            Phase::Bisect | Phase::Tile if !self.pending => Some(Role::Operator),
            Phase::Bisect | Phase::Tile | Phase::Step => Some(Role::Challenger),
            _ => None,
        }
    }

    /// The winner, once the game is over.
    pub fn winner(&self) -> Option<Winner> {
        match self.phase {
            Phase::OperatorWon => Some(Winner::Operator),
            Phase::ChallengerWon => Some(Winner::Challenger),
            _ => None,
        }
    }

    /// Whether the side to move has used up its clock at chain time `now` (anyone may then call
    /// `timeout`).
    pub fn timed_out(&self, now: u64) -> bool {
        let used = now.saturating_sub(self.turn_start);
        match self.to_move() {
            Some(Role::Operator) => used > self.operator_clock,
            Some(Role::Challenger) => used > self.challenger_clock,
            None => false,
        }
    }
}

/// What a player does at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this move.
    Move(Move),
    /// The other side's clock ran out: claim the win (`timeout`).
    Timeout,
}

impl Action {
    /// The calldata of the action for game `id`.
    pub fn calldata(&self, id: B256) -> Bytes {
        match self {
            Self::Move(m) => dispute::call(id, m),
            Self::Timeout => Bytes::from(InferenceDispute::timeoutCall { id }.abi_encode()),
        }
    }

    /// A short name for logs and metrics (`defend`, `bisect`, …, `timeout`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Move(m) => match m {
                Move::Defend(_) => "defend",
                Move::Bisect(_) => "bisect",
                Move::Choose(_) => "choose",
                Move::Reveal(_) => "reveal",
                Move::Tiles(..) => "reveal_tiles",
                Move::Pick(_) => "pick",
                Move::Step(_) => "step",
            },
        }
    }
}

/// What a player with `trace` of the call (and `wanted`, the outputs the call returned; all
/// when empty) plays as `role` at `pos` at chain time `now`. `Ok(None)`: nothing to do (the
/// other side moves, or the game is over). `Err(reason)`: it is this side's turn but it has no
/// move (an operator whose trace's outputs are not the receipt's cannot defend; a challenger
/// whose trace agrees with the operator's chunk has no winning step): the side loses on its
/// clock, which is the honest outcome.
pub fn decide(
    role: Role,
    pos: &Position,
    trace: &Trace,
    wanted: &[String],
    now: u64,
) -> std::result::Result<Option<Action>, String> {
    let Some(mover) = pos.to_move() else {
        return Ok(None);
    };
    let k = pos.lo as usize;
    let n = trace.program().node_count();
    // A challenger may show a wrong output shape as soon as the node is revealed, whoever's
    // turn it is.
    if role == Role::Challenger
        && matches!(pos.phase, Phase::Tile | Phase::Step)
        && k < n
        && let Some(step) = trace.shape_step(k, pos.out_shape)
    {
        return Ok(Some(Action::Move(Move::Step(step))));
    }
    if mover != role {
        return Ok(pos.timed_out(now).then_some(Action::Timeout));
    }
    if k >= n || pos.hi as usize > n || pos.lo > pos.hi {
        return Err(format!(
            "the game's interval ({}, {}) does not fit the program's {n} nodes",
            pos.lo, pos.hi
        ));
    }
    let m = match (role, pos.phase) {
        (Role::Operator, Phase::Defend) => Move::Defend(trace.defend_data(wanted)),
        (Role::Operator, Phase::Bisect) => {
            if pos.hi - pos.lo >= 2 {
                Move::Bisect(trace.state_root(((pos.lo + pos.hi) / 2) as usize))
            } else {
                Move::Reveal(trace.reveal_data(k))
            }
        }
        (Role::Operator, Phase::Tile) => {
            let (l, r) = trace.tile_children(k, pos.level as usize, pos.tile_index);
            Move::Tiles(l, r)
        }
        (Role::Challenger, Phase::Bisect) => {
            let mid = ((pos.lo + pos.hi) / 2) as usize;
            Move::Choose(trace.state_root(mid) == pos.pending_root)
        }
        (Role::Challenger, Phase::Tile) => {
            // Agreeing with both children cannot happen against a checked reveal unless the
            // operator's subtree is right: go left (and lose at the step).
            let right = trace
                .pick(k, pos.level as usize, pos.tile_index, pos.left, pos.right)
                .unwrap_or(false);
            Move::Pick(right)
        }
        (Role::Challenger, Phase::Step) => match trace.step_data(k, pos.tile_index, &pos.tile) {
            Some(s) => Move::Step(s),
            None => {
                return Err(format!(
                    "node {k}'s chunk {} agrees with our trace: no step can win",
                    pos.tile_index
                ));
            }
        },
        (r, ph) => return Err(format!("no {} move in phase {ph:?}", r.as_str())),
    };
    Ok(Some(Action::Move(m)))
}

/// The outputs (by name, sorted) whose canonical hash is `output_hash`: which of the program's
/// outputs a call returned, recovered from its receipt. `None` when no subset of the trace's
/// outputs hashes to it (the trace's outputs are not the receipt's).
pub fn returned_outputs(trace: &Trace, output_hash: B256) -> Option<Vec<String>> {
    let names: Vec<String> = trace
        .program()
        .outputs
        .iter()
        .map(|o| o.name.clone())
        .collect();
    if B256::from(trace.output_hash(&[])) == output_hash {
        return Some(vec![]);
    }
    // Models have a handful of outputs: try every non-empty subset (at most 2^12).
    let n = names.len().min(12);
    (1u32..(1 << n)).find_map(|mask| {
        let subset: Vec<String> = (0..n)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| names[i].clone())
            .collect();
        (B256::from(trace.output_hash(&subset)) == output_hash).then_some(subset)
    })
}
