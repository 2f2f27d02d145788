// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";

/// @notice Minimal test base: the cheatcode handle, a few helpers, and forge's invariant-target hooks
///         (same function names, signatures and FuzzSelector layout as modern forge-std's StdInvariant).
abstract contract TestBase {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev Marks the contract as a test for tooling that looks for it.
    bool public IS_TEST = true;

    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    address[] private _targetedContracts;
    address[] private _excludedSenders;
    address[] private _targetedSenders;
    FuzzSelector[] private _targetedSelectors;

    function targetContracts() public view returns (address[] memory) {
        return _targetedContracts;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetedSelectors;
    }

    function excludeSenders() public view returns (address[] memory) {
        return _excludedSenders;
    }

    function targetSenders() public view returns (address[] memory) {
        return _targetedSenders;
    }

    function targetContract(address target) internal {
        _targetedContracts.push(target);
    }

    function targetSelector(FuzzSelector memory selector) internal {
        _targetedSelectors.push(selector);
    }

    function excludeSender(address sender) internal {
        _excludedSenders.push(sender);
    }

    function targetSender(address sender) internal {
        _targetedSenders.push(sender);
    }

    /// @dev Fuzz only `target`, through `selectors` (a selector listed k times is drawn k times as often).
    function targetOnly(address target, bytes4[] memory selectors) internal {
        targetContract(target);
        targetSelector(FuzzSelector({addr: target, selectors: selectors}));
    }

    function makeAddr(string memory name) internal returns (address a) {
        a = address(uint160(uint256(keccak256(bytes(name)))));
        vm.label(a, name);
    }

    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        unchecked {
            uint256 size = max - min + 1;
            if (size == 0) return x; // full range
            return min + (x % size);
        }
    }
}
