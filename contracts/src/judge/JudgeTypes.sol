// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice A model's judge program as the operator commits it (docs/PROTOCOL.md §9.3). Slots: 0..inputCount
///         the runtime inputs (sorted by name), then the weights, then one per node (node k writes slot
///         slotCount - nodeCount + k).
struct Program {
    bytes32 nodesRoot; // positional tree over keccak256(node encoding), zero-padded
    bytes32 initRoot; // state root with the weights set and every other slot zero
    bytes32 inputsHash; // keccak256(abi.encode(IoTensor[] inputs))
    bytes32 outputsHash; // keccak256(abi.encode(IoTensor[] outputs))
    uint32 nodeCount;
    uint32 slotCount;
    uint32 inputCount;
}

/// @notice A runtime input or graph output: name, element type (ONNX data type code) and slot.
struct IoTensor {
    string name;
    uint8 dtype;
    uint32 slot;
}

/// @notice One operand of a one-step: its shape word and data root (together its tensor commitment), its
///         slot's siblings in the agreed state, and the data chunks the element reads with their multiproof.
struct Operand {
    uint256 shape;
    bytes32 dataRoot;
    bytes32[] slotProof;
    uint32[] chunkIdx;
    bytes chunks;
    bytes32[] dataProof;
}

/// @notice The call's inputs as `open` takes them: the program's input list, the canonical encoding (its
///         sha256 is the receipt's inputHash) and, per input, its slot's siblings in the state with the
///         earlier inputs already set.
struct CallInputs {
    IoTensor[] inputs;
    bytes encoding;
    bytes32[][] proofs;
}

/// @notice The receipt's outputs as `defend` takes them: the program's output list, the canonical encoding of
///         the returned outputs (its sha256 is the receipt's outputHash), the operator's final state and, per
///         returned output, its slot's siblings in that state.
struct CallOutputs {
    IoTensor[] outputs;
    bytes encoding;
    bytes32 finalRoot;
    bytes32[][] proofs;
}
