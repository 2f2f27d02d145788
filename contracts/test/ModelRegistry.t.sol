// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {ModelToken} from "../src/ModelToken.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

contract ModelRegistryTest is Fixture {
    function test_constructor_revertsOnZero() public {
        vm.expectRevert(ModelRegistry.ZeroAddress.selector);
        new ModelRegistry(address(0), operator, guardian);
        vm.expectRevert(ModelRegistry.ZeroAddress.selector);
        new ModelRegistry(admin, address(0), guardian);
        vm.expectRevert(ModelRegistry.ZeroAddress.selector);
        new ModelRegistry(admin, operator, address(0));
    }

    function test_register_deploysInitialisedClone() public {
        bytes32 m = modelId(1);
        address predicted = registry.predictToken(m);
        vm.expectEmit(true, true, true, true, address(registry));
        emit ModelRegistry.ModelRegistered(m, predicted, publisher, "Model", "MDL", SUPPLY, HOLDERS_BPS);
        ModelToken t = register(m);
        vm.assertEq(address(t), predicted);
        vm.assertEq(t.balanceOf(publisher), SUPPLY);
        vm.assertEq(t.totalSupply(), SUPPLY);
        vm.assertEq(t.snapshotter(), address(oracle));
        vm.assertEq(uint256(t.claimableBps()), HOLDERS_BPS);
        vm.assertEq(t.name(), "Model");
        vm.assertEq(registry.tokenOf(m), address(t));
        vm.assertEq(registry.modelOf(address(t)), m);
        ModelRegistry.Model memory rec = registry.getModel(m);
        vm.assertEq(rec.token, address(t));
        vm.assertEq(rec.publisher, publisher);
        vm.assertEq(uint256(rec.registeredAt), block.timestamp);
        vm.assertEq(registry.modelCount(), 1);
        // the clone is a 45-byte EIP-1167 proxy
        vm.assertEq(address(t).code.length, 45);
    }

    function test_register_reverts() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), registry.OPERATOR_ROLE()
            )
        );
        registry.register(modelId(1), "a", "b", publisher, 1, 0);

        vm.startPrank(operator);
        vm.expectRevert(ModelRegistry.InvalidWeightsRoot.selector);
        registry.register(bytes32(0), "a", "b", publisher, 1, 0);
        registry.register(modelId(1), "a", "b", publisher, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.AlreadyRegistered.selector, modelId(1)));
        registry.register(modelId(1), "a", "b", publisher, 1, 0);
        vm.expectRevert(ModelToken.InvalidSupply.selector);
        registry.register(modelId(2), "a", "b", publisher, 0, 0);
        vm.expectRevert(ModelToken.InvalidPublisher.selector);
        registry.register(modelId(2), "a", "b", address(0), 1, 0);
        vm.stopPrank();

        ModelRegistry fresh = new ModelRegistry(admin, operator, guardian);
        vm.prank(operator);
        vm.expectRevert(ModelRegistry.UsageOracleNotSet.selector);
        fresh.register(modelId(1), "a", "b", publisher, 1, 0);
    }

    function test_register_pausable() public {
        vm.prank(guardian);
        registry.pause();
        vm.prank(operator);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        registry.register(modelId(1), "a", "b", publisher, 1, 0);
        vm.prank(guardian);
        registry.unpause();
        register(modelId(1));
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), registry.GUARDIAN_ROLE()
            )
        );
        registry.pause();
    }

    function test_setUsageOracle_once() public {
        ModelRegistry fresh = new ModelRegistry(admin, operator, guardian);
        expectAdminOnlyNonZero(fresh.setUsageOracle, ModelRegistry.ZeroAddress.selector);
        vm.startPrank(admin);
        vm.expectEmit(true, true, true, true, address(fresh));
        emit ModelRegistry.UsageOracleSet(address(1));
        fresh.setUsageOracle(address(1));
        vm.expectRevert(ModelRegistry.UsageOracleAlreadySet.selector);
        fresh.setUsageOracle(address(2));
        vm.stopPrank();
    }

    function test_lookups_revertWhenUnknown() public {
        vm.assertEq(registry.tokenOf(modelId(9)), address(0));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownModel.selector, modelId(9)));
        registry.getModel(modelId(9));
        vm.expectRevert(abi.encodeWithSelector(ModelRegistry.UnknownToken.selector, address(this)));
        registry.modelOf(address(this));
    }

    function testFuzz_register_uniquePerCommitment(bytes32 a, bytes32 b) public {
        vm.assume(a != bytes32(0) && b != bytes32(0) && a != b);
        ModelToken ta = register(a);
        ModelToken tb = register(b);
        vm.assertNotEq(address(ta), address(tb));
        vm.assertEq(registry.modelOf(address(ta)), a);
        vm.assertEq(registry.modelOf(address(tb)), b);
    }

    function test_gas_register() public {
        vm.prank(operator);
        uint256 g = gasleft();
        registry.register(modelId(1), "Model", "MDL", publisher, SUPPLY, HOLDERS_BPS);
        emit log_named_uint("register (clone + initialize + mint)", g - gasleft());
    }

    event log_named_uint(string key, uint256 val);
}
