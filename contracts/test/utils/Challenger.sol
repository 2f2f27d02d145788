// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Vm} from "./Vm.sol";
import {UsageOracle} from "../../src/UsageOracle.sol";
import {Receipt, Leaf, LeafProof, ModelTotal, ClientTotal} from "../../src/Types.sol";
import {ReceiptTree} from "./Fixture.sol";

/// @notice Watches a pending proof in the "mempool" and tries to take its reward: it sends the same calldata
///         first (no commitment of its own), then commits in the same block and sends again. Both must fail.
contract Copier {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    UsageOracle public immutable oracle;
    uint256 public wins;
    uint256 public attempts;

    constructor(UsageOracle o) {
        oracle = o;
    }

    receive() external payable {}

    /// @dev `value` is the bond the copied call carries (0 for fraud proofs).
    function front(bytes calldata data, uint256 value) external {
        bytes32 c = oracle.commitmentOf(address(this), data);
        // Committed to this exact call before (an earlier copy of an identical call): not a copy of this one.
        if (oracle.commitments(c) != 0) return;
        ++attempts;
        vm.deal(address(this), address(this).balance + 2 * value); // it can pay the bond: only the rules stop it
        (bool ok,) = address(oracle).call{value: value}(data);
        if (ok) ++wins;
        oracle.commit(c);
        (ok,) = address(oracle).call{value: value}(data);
        if (ok) ++wins;
    }
}

/// @notice An honest watcher: given the attested tree data and the operator-signed receipts it holds, it
///         tries every fraud proof the oracle offers (the same search a Rust watcher would run) and stops at
///         the first that succeeds. A proof is found by sending it without a commitment: a valid proof
///         reverts with `NotCommitted` (checked last), an invalid one with its own error. The winner is then
///         committed, a copier tries to front-run it (and must fail), a block passes, and it is revealed.
///         Used to check that a false attestation always loses and a true one always survives.
contract Challenger {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    UsageOracle public immutable oracle;
    Copier public immutable copier;
    uint64 internal _epoch;
    Leaf[] internal _leaves;
    bytes32[] internal _hashes;

    constructor(UsageOracle o) {
        oracle = o;
        copier = new Copier(o);
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
        return _huntLeaves() || _huntLinks() || _huntTotals(models, clients) || _huntOmissions(signed, sigs);
    }

    function _huntLeaves() internal returns (bool) {
        uint256 n = _leaves.length;
        for (uint256 i; i < n; ++i) {
            if (_try(abi.encodeCall(oracle.proveBadEpoch, (_epoch, _proof(i))))) return true;
        }
        for (uint256 i; i + 1 < n; ++i) {
            if (_try(abi.encodeCall(oracle.proveBadOrder, (_epoch, _proof(i), _proof(i + 1))))) return true;
        }
        return false;
    }

    function _huntLinks() internal returns (bool) {
        uint256 n = _leaves.length;
        for (uint8 side; side < 2; ++side) {
            for (uint256 j; j < n; ++j) {
                uint64 prev = side == 0 ? _leaves[j].modelPrev : _leaves[j].clientPrev;
                uint256 p = (prev == 0 || prev > j) ? j : prev - 1;
                if (_try(abi.encodeCall(oracle.proveBadLink, (_epoch, side, _proof(j), _proof(p))))) return true;
                for (uint256 k; k < j; ++k) {
                    if (_key(_leaves[k], side) != _key(_leaves[j], side)) continue;
                    if (_try(abi.encodeCall(oracle.proveSkipped, (_epoch, side, _proof(k), _proof(j))))) return true;
                }
            }
        }
        return false;
    }

    function _huntTotals(ModelTotal[] memory models, ClientTotal[] memory clients) internal returns (bool) {
        uint256 n = _leaves.length;
        uint64 epoch = _epoch;
        for (uint256 x; x < n; ++x) {
            if (_try(abi.encodeCall(oracle.proveBadModelTotal, (epoch, models, type(uint256).max, _proof(x))))) {
                return true;
            }
            if (_try(abi.encodeCall(oracle.proveBadClientTotal, (epoch, clients, type(uint256).max, _proof(x))))) {
                return true;
            }
            for (uint256 e; e < models.length; ++e) {
                if (_try(abi.encodeCall(oracle.proveBadModelTotal, (epoch, models, e, _proof(x))))) return true;
            }
            for (uint256 e; e < clients.length; ++e) {
                if (_try(abi.encodeCall(oracle.proveBadClientTotal, (epoch, clients, e, _proof(x))))) return true;
            }
        }
        return false;
    }

    function _huntOmissions(Receipt[] memory signed, bytes[] memory sigs) internal returns (bool) {
        if (_leaves.length == 0) return false;
        for (uint256 s; s < signed.length; ++s) {
            (uint256 l, uint256 r) = _bracket(signed[s].id);
            if (_try(abi.encodeCall(oracle.proveOmission, (_epoch, signed[s], sigs[s], _proof(l), _proof(r))))) {
                return true;
            }
        }
        return false;
    }

    /// @notice Open an interactive receipt challenge (commit, next block, challenge; needs `challengeBond`).
    function challenge(uint64 epoch, Receipt memory r, bytes memory sig) external returns (uint256) {
        return _committed(abi.encodeCall(oracle.challengeReceipt, (epoch, r, sig)), oracle.challengeBond());
    }

    /// @notice Open a leaf challenge (commit, next block, challenge; needs `challengeBond`).
    function challengeLeaf(uint64 epoch, uint64 index) external returns (uint256) {
        return _committed(abi.encodeCall(oracle.challengeLeaf, (epoch, index)), oracle.challengeBond());
    }

    /// @dev Sends `data` without a commitment: true (after committing and revealing it) iff it is a valid proof.
    function _try(bytes memory data) internal returns (bool) {
        (bool ok, bytes memory ret) = address(oracle).call(data);
        require(!ok, "accepted without a commitment");
        if (ret.length < 4 || bytes4(ret) != UsageOracle.NotCommitted.selector) return false;
        _committed(data, 0);
        return true;
    }

    function _committed(bytes memory data, uint256 value) internal returns (uint256 id) {
        oracle.commit(oracle.commitmentOf(address(this), data));
        copier.front(data, value); // same block as the commitment: the copier must fail
        vm.roll(block.number + 1);
        (bool ok, bytes memory ret) = address(oracle).call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        if (ret.length == 32) id = abi.decode(ret, (uint256));
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
