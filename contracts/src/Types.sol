// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice A usage receipt, signed by the operator with EIP-712 (domain "IMO Oracle", version "1",
///         verifyingContract = UsageOracle). Field order and types are part of the protocol.
struct Receipt {
    uint128 id; // ULID as a 128-bit integer: unique and sortable
    uint64 epoch; // epoch the receipt belongs to
    bytes32 model; // the model's weights commitment, as registered in ModelRegistry
    address client;
    uint256 price; // wei charged for this call
    bytes32 inputHash; // sha256 of the canonical input encoding
    bytes32 outputHash; // sha256 of the canonical output encoding
    bytes32 fingerprint; // sha256 of the execution fingerprint string
    uint64 timestamp; // unix milliseconds
}

/// @notice A leaf of the epoch's receipt tree: the receipt plus running-sum annotations that make the
///         per-model and per-client totals checkable one step at a time.
/// @dev `modelPrev`/`clientPrev` are 1 + the index of the previous leaf (in id order) with the same
///      model / client, or 0 when this is the first one; `modelCum`/`clientCum` are the sums of `price`
///      over all leaves up to and including this one with the same model / client.
struct Leaf {
    Receipt receipt;
    uint64 modelPrev;
    uint256 modelCum;
    uint64 clientPrev;
    uint256 clientCum;
}

/// @notice A leaf with its position and Merkle siblings (bottom-up) in the positional receipt tree.
struct LeafProof {
    Leaf leaf;
    uint64 index;
    bytes32[] proof;
}

/// @notice Attested revenue of one model in one epoch. `last` is 1 + the index of the model's last leaf.
struct ModelTotal {
    bytes32 model;
    uint256 total;
    uint64 last;
}

/// @notice Attested spend of one client in one epoch. `last` is 1 + the index of the client's last leaf.
struct ClientTotal {
    address client;
    uint256 total;
    uint64 last;
}
