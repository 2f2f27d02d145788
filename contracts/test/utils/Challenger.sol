// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {UsageOracle} from "../../src/UsageOracle.sol";
import {Receipt, Leaf, LeafProof, ModelTotal, ClientTotal} from "../../src/Types.sol";
import {ReceiptTree} from "./Fixture.sol";

/// @notice An honest watcher: given the attested tree data and the operator-signed receipts it holds, it
///         tries every fraud proof the oracle offers (the same search a Rust watcher would run) and stops at
///         the first that succeeds. Used to check that a false attestation always loses and a true one
///         always survives.
contract Challenger {
    UsageOracle public immutable oracle;
    uint64 internal _epoch;
    Leaf[] internal _leaves;
    bytes32[] internal _hashes;

    constructor(UsageOracle o) {
        oracle = o;
    }

    receive() external payable {}

    function withdraw() external {
        oracle.withdrawCredits();
    }

    /// @return won Whether some fraud proof voided the attestation.
    function hunt(
        uint64 epoch,
        Leaf[] memory leaves,
        ModelTotal[] memory models,
        ClientTotal[] memory clients,
        Receipt[] memory signed,
        bytes[] memory sigs
    ) external returns (bool won) {
        _epoch = epoch;
        delete _leaves;
        for (uint256 i; i < leaves.length; ++i) {
            _leaves.push(leaves[i]);
        }
        _hashes = ReceiptTree.hashes(leaves);
        uint256 n = leaves.length;

        for (uint256 i; i < n; ++i) {
            try oracle.proveBadEpoch(epoch, _proof(i)) {
                return true;
            } catch {}
        }
        for (uint256 i; i + 1 < n; ++i) {
            try oracle.proveBadOrder(epoch, _proof(i), _proof(i + 1)) {
                return true;
            } catch {}
        }
        for (uint8 side; side < 2; ++side) {
            for (uint256 j; j < n; ++j) {
                uint64 prev = side == 0 ? leaves[j].modelPrev : leaves[j].clientPrev;
                uint256 p = (prev == 0 || prev > j) ? j : prev - 1;
                try oracle.proveBadLink(epoch, side, _proof(j), _proof(p)) {
                    return true;
                } catch {}
                for (uint256 k; k < j; ++k) {
                    if (_key(leaves[k], side) != _key(leaves[j], side)) continue;
                    try oracle.proveSkipped(epoch, side, _proof(k), _proof(j)) {
                        return true;
                    } catch {}
                }
            }
        }
        for (uint256 x; x < n; ++x) {
            try oracle.proveBadModelTotal(epoch, models, type(uint256).max, _proof(x)) {
                return true;
            } catch {}
            try oracle.proveBadClientTotal(epoch, clients, type(uint256).max, _proof(x)) {
                return true;
            } catch {}
            for (uint256 e; e < models.length; ++e) {
                try oracle.proveBadModelTotal(epoch, models, e, _proof(x)) {
                    return true;
                } catch {}
            }
            for (uint256 e; e < clients.length; ++e) {
                try oracle.proveBadClientTotal(epoch, clients, e, _proof(x)) {
                    return true;
                } catch {}
            }
        }
        for (uint256 s; s < signed.length; ++s) {
            if (n == 0) break;
            (uint256 l, uint256 r) = _bracket(signed[s].id);
            try oracle.proveOmission(epoch, signed[s], sigs[s], _proof(l), _proof(r)) {
                return true;
            } catch {}
        }
        return false;
    }

    /// @notice Open an interactive receipt challenge (needs `challengeBond` in this contract).
    function challenge(uint64 epoch, Receipt memory r, bytes memory sig) external returns (uint256) {
        return oracle.challengeReceipt{value: oracle.challengeBond()}(epoch, r, sig);
    }

    function _key(Leaf memory l, uint8 side) internal pure returns (bytes32) {
        return side == 0 ? l.receipt.model : bytes32(uint256(uint160(l.receipt.client)));
    }

    /// @dev Leaf with the same id, else adjacent pair around `id`, else the end leaf twice.
    function _bracket(uint128 id) internal view returns (uint256, uint256) {
        uint256 n = _leaves.length;
        for (uint256 i; i < n; ++i) {
            if (_leaves[i].receipt.id == id) return (i, i);
        }
        if (id < _leaves[0].receipt.id) return (0, 0);
        for (uint256 i; i + 1 < n; ++i) {
            if (_leaves[i].receipt.id < id && id < _leaves[i + 1].receipt.id) return (i, i + 1);
        }
        return (n - 1, n - 1);
    }

    function _proof(uint256 i) internal view returns (LeafProof memory p) {
        p.leaf = _leaves[i];
        p.index = uint64(i);
        p.proof = ReceiptTree.proof(_hashes, i);
    }
}
