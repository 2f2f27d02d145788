// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {TestBase} from "./TestBase.sol";
import {ModelToken} from "../../src/ModelToken.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";

/// @notice ModelToken clones of one implementation (as the registry deploys them), this test standing in for
///         the oracle as their snapshotter, and three accounts.
abstract contract ModelTokenBase is TestBase {
    ModelToken internal impl;
    address internal alice;
    address internal bob;
    address internal carol;

    /// @dev The implementation, alice, bob and carol, the clock at 1,700,000,000 and block `blockNumber`.
    function setUpTokens(uint256 blockNumber) internal {
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        carol = makeAddr("carol");
        vm.warp(1_700_000_000);
        vm.roll(blockNumber);
        impl = new ModelToken();
    }

    /// @dev A clone of the implementation, not initialised yet.
    function bareClone() internal returns (ModelToken) {
        return ModelToken(payable(Clones.clone(address(impl))));
    }

    /// @dev A clone minting `supply` to `to`, `bps` of its revenue to holders, this test its snapshotter.
    function newToken(string memory name, string memory symbol, address to, uint256 supply, uint16 bps)
        internal
        returns (ModelToken t)
    {
        t = bareClone();
        t.initialize(name, symbol, to, supply, bps, address(this));
    }
}
