//! The inference dispute game on-chain: alloy bindings of `InferenceDispute` and `JudgeVM`
//! (from the committed forge artifacts) and the thin conversions from the judge's move data
//! (`crate::judge::game`) to their calls. A player (the operator's defender, `imo verify`)
//! follows a game with `getGame`/events, asks its [`Trace`](crate::judge::Trace) what to post,
//! and sends [`call`] of the move through the transaction manager.

#![allow(clippy::too_many_arguments, missing_docs)]

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    sol_types::{SolCall, SolStruct, SolValue},
};

use crate::{
    judge::{
        ProgramCommitment,
        game::{DefendData, Move, OpenData, OperandProof, RevealData, StepData},
    },
    receipts::Receipt,
};

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    InferenceDispute,
    "../contracts/artifacts/InferenceDispute.json"
);

alloy::sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    JudgeVM,
    "../contracts/artifacts/JudgeVM.json"
);

/// A game's phase (`InferenceDispute.Phase`; the ABI carries it as `uint8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No such game.
    None,
    /// The operator must post the outputs and the final state.
    Defend,
    /// Node bisection: the operator posts a midpoint (or reveals), the challenger chooses.
    Bisect,
    /// Tile bisection: the operator reveals children, the challenger picks.
    Tile,
    /// The challenger's one-step.
    Step,
    OperatorWon,
    ChallengerWon,
}

impl Phase {
    /// From the contract's `uint8` (`None` for values it never returns).
    pub fn from_abi(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::None,
            1 => Self::Defend,
            2 => Self::Bisect,
            3 => Self::Tile,
            4 => Self::Step,
            5 => Self::OperatorWon,
            6 => Self::ChallengerWon,
            _ => return None,
        })
    }

    /// Whether the game is over.
    pub fn is_final(self) -> bool {
        matches!(self, Self::OperatorWon | Self::ChallengerWon)
    }
}

/// A program commitment as `commitProgram` takes it.
pub fn program(c: &ProgramCommitment) -> InferenceDispute::Program {
    InferenceDispute::Program {
        nodesRoot: c.nodes_root,
        initRoot: c.init_root,
        inputsHash: c.inputs_hash,
        outputsHash: c.outputs_hash,
        nodeCount: c.node_count,
        slotCount: c.slot_count,
        inputCount: c.input_count,
    }
}

/// A receipt as the game contract takes it.
pub fn receipt(r: &Receipt) -> InferenceDispute::Receipt {
    crate::receipts::receipt_as!(InferenceDispute::Receipt, r)
}

/// The id of the game `challenger` opens over `receipt`: `keccak256(abi.encode(receiptHash,
/// challenger))` with the receipt's EIP-712 struct hash.
pub fn game_id(receipt: &Receipt, challenger: Address) -> B256 {
    keccak256((receipt.eip712_hash_struct(), challenger).abi_encode())
}

fn io(v: &[crate::judge::IoTensorAbi]) -> Vec<InferenceDispute::IoTensor> {
    v.iter()
        .map(|t| InferenceDispute::IoTensor {
            name: t.name.clone(),
            dtype: t.dtype,
            slot: t.slot,
        })
        .collect()
}

pub fn call_inputs(o: &OpenData) -> InferenceDispute::CallInputs {
    InferenceDispute::CallInputs {
        inputs: io(&o.inputs),
        encoding: Bytes::from(o.input_encoding.clone()),
        proofs: o.input_proofs.clone(),
    }
}

pub fn call_outputs(d: &DefendData) -> InferenceDispute::CallOutputs {
    InferenceDispute::CallOutputs {
        outputs: io(&d.outputs),
        encoding: Bytes::from(d.output_encoding.clone()),
        finalRoot: d.final_root,
        proofs: d.output_proofs.clone(),
    }
}

pub fn operand(o: &OperandProof) -> InferenceDispute::Operand {
    InferenceDispute::Operand {
        shape: U256::from_be_bytes(o.shape.0),
        dataRoot: o.data_root,
        slotProof: o.slot_proof.clone(),
        chunkIdx: o.chunk_idx.clone(),
        chunks: Bytes::from(o.chunks.clone()),
        dataProof: o.data_proof.clone(),
    }
}

/// `open(receipt, signature, input, claimedOutputHash)`.
pub fn open_call(
    r: &Receipt,
    signature: &[u8],
    o: &OpenData,
    claimed_output_hash: B256,
) -> InferenceDispute::openCall {
    InferenceDispute::openCall {
        r: receipt(r),
        signature: Bytes::copy_from_slice(signature),
        input: call_inputs(o),
        claimedOutputHash: claimed_output_hash,
    }
}

pub fn reveal_call(id: B256, r: &RevealData) -> InferenceDispute::revealCall {
    InferenceDispute::revealCall {
        id,
        outShape: U256::from_be_bytes(r.out_shape.0),
        outRoot: r.out_root,
        slotProof: r.slot_proof.clone(),
        leafChunk: r.leaf_chunk,
    }
}

pub fn step_call(id: B256, s: &StepData) -> InferenceDispute::stepCall {
    InferenceDispute::stepCall {
        id,
        node: Bytes::from(s.node.clone()),
        nodeProof: s.node_proof.clone(),
        operands: s.operands.iter().map(operand).collect(),
        elem: s.elem,
    }
}

/// The calldata of a move of game `id`.
pub fn call(id: B256, m: &Move) -> Bytes {
    Bytes::from(match m {
        Move::Defend(d) => InferenceDispute::defendCall {
            id,
            out: call_outputs(d),
        }
        .abi_encode(),
        Move::Bisect(root) => InferenceDispute::bisectCall { id, midRoot: *root }.abi_encode(),
        Move::Choose(agree) => InferenceDispute::chooseCall { id, agree: *agree }.abi_encode(),
        Move::Reveal(r) => reveal_call(id, r).abi_encode(),
        Move::Tiles(left, right) => InferenceDispute::revealTilesCall {
            id,
            left: *left,
            right: *right,
        }
        .abi_encode(),
        Move::Pick(right) => InferenceDispute::pickCall { id, right: *right }.abi_encode(),
        Move::Step(s) => step_call(id, s).abi_encode(),
    })
}

/// Whether the operator makes move `m` (the challenger makes the others; anyone may send a step).
pub fn by_operator(m: &Move) -> bool {
    matches!(
        m,
        Move::Defend(_) | Move::Bisect(_) | Move::Reveal(_) | Move::Tiles(..)
    )
}
