// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {PaymentVault} from "../src/PaymentVault.sol";
import {ClientTotal} from "../src/Types.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

/// @notice A contract wallet accepting signatures of its owner key (ERC-1271).
contract Wallet1271 is IERC1271 {
    address public owner;

    constructor(address o) {
        owner = o;
    }

    function isValidSignature(bytes32 hash, bytes memory sig) external view returns (bytes4) {
        (bytes32 r, bytes32 s) = abi.decode(sig, (bytes32, bytes32));
        uint8 v = uint8(sig[64]);
        return ecrecover(hash, v, r, s) == owner ? IERC1271.isValidSignature.selector : bytes4(0);
    }
}

contract PaymentVaultTest is Fixture {
    uint256 pk = 0xC11E47;
    address client;

    function setUp() public override {
        super.setUp();
        client = vm.addr(pk);
        vm.deal(client, 100 ether);
    }

    function _spends(address c, uint256 amount) internal pure returns (ClientTotal[] memory cs) {
        cs = new ClientTotal[](1);
        cs[0] = ClientTotal(c, amount, 1);
    }

    function test_constructor_revertsOnZero() public {
        vm.expectRevert(PaymentVault.ZeroAddress.selector);
        new PaymentVault(address(0), guardian, treasury, 1);
        vm.expectRevert(PaymentVault.ZeroAddress.selector);
        new PaymentVault(admin, address(0), treasury, 1);
        vm.expectRevert(PaymentVault.ZeroAddress.selector);
        new PaymentVault(admin, guardian, address(0), 1);
    }

    function test_deposit_andDepositFor() public {
        vm.expectEmit(true, true, true, true, address(vault));
        emit PaymentVault.Deposited(client, client, 1 ether);
        vm.prank(client);
        vault.deposit{value: 1 ether}();
        vm.expectEmit(true, true, true, true, address(vault));
        emit PaymentVault.Deposited(client, address(this), 2 ether);
        vm.deal(address(this), 2 ether);
        vault.depositFor{value: 2 ether}(client);
        vm.assertEq(vault.balanceOf(client), 3 ether);
        vm.assertEq(vault.totalBalances(), 3 ether);
        vm.assertEq(address(vault).balance, 3 ether);
    }

    function test_deposit_reverts() public {
        vm.prank(client);
        vm.expectRevert(PaymentVault.ZeroAmount.selector);
        vault.deposit();
        vm.expectRevert(PaymentVault.ZeroAddress.selector);
        vault.depositFor{value: 0}(address(0));
        vm.prank(guardian);
        vault.pause();
        vm.prank(client);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vault.deposit{value: 1}();
        vm.prank(guardian);
        vault.unpause();
        vm.prank(client);
        vault.deposit{value: 1}();
    }

    function test_submitCap_raisesOnly() public {
        uint256 deadline = block.timestamp + 10;
        bytes memory sig = signCap(pk, 5 ether, deadline);
        vm.expectEmit(true, true, true, true, address(vault));
        emit PaymentVault.SpendingCapSet(client, 5 ether);
        vault.submitCap(client, 5 ether, deadline, sig);
        vm.assertEq(vault.capOf(client), 5 ether);
        vm.expectRevert(abi.encodeWithSelector(PaymentVault.CapNotHigher.selector, 5 ether, 5 ether));
        vault.submitCap(client, 5 ether, deadline, sig); // replay is harmless
        bytes memory lower = signCap(pk, 1 ether, deadline);
        vm.expectRevert(abi.encodeWithSelector(PaymentVault.CapNotHigher.selector, 5 ether, 1 ether));
        vault.submitCap(client, 1 ether, deadline, lower);
    }

    function test_submitCap_reverts() public {
        uint256 deadline = block.timestamp + 10;
        bytes memory sig = signCap(pk, 5 ether, deadline);
        vm.expectRevert(PaymentVault.InvalidSignature.selector);
        vault.submitCap(client, 6 ether, deadline, sig); // different cap
        vm.expectRevert(PaymentVault.InvalidSignature.selector);
        vault.submitCap(operator, 5 ether, deadline, sig); // not the signer
        bytes memory byOperator = signCap(OPERATOR_PK, 5 ether, deadline);
        vm.expectRevert(PaymentVault.InvalidSignature.selector);
        vault.submitCap(client, 5 ether, deadline, byOperator); // the operator cannot authorise for the client
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(PaymentVault.SignatureExpired.selector, deadline));
        vault.submitCap(client, 5 ether, deadline, sig);
    }

    function test_submitCap_erc1271Wallet() public {
        Wallet1271 w = new Wallet1271(client);
        uint256 deadline = block.timestamp;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, vault.spendingCapDigest(address(w), 3 ether, deadline));
        vault.submitCap(address(w), 3 ether, deadline, abi.encodePacked(r, s, v));
        vm.assertEq(vault.capOf(address(w)), 3 ether);
    }

    function test_withdrawal_flow() public {
        vm.startPrank(client);
        vault.deposit{value: 5 ether}();
        vm.expectEmit(true, true, true, true, address(vault));
        emit PaymentVault.WithdrawalRequested(client, 2 ether, block.timestamp + DELAY);
        vault.requestWithdrawal(2 ether);
        vm.assertEq(uint256(vault.withdrawalOf(client).amount), 2 ether);
        vm.expectRevert(abi.encodeWithSelector(PaymentVault.WithdrawalNotReady.selector, block.timestamp + DELAY));
        vault.withdraw();
        vm.warp(block.timestamp + DELAY);
        uint256 before = client.balance;
        vm.expectEmit(true, true, true, true, address(vault));
        emit PaymentVault.Withdrawn(client, 2 ether);
        vault.withdraw();
        vm.assertEq(client.balance, before + 2 ether);
        vm.assertEq(vault.balanceOf(client), 3 ether);
        vm.expectRevert(PaymentVault.NoWithdrawalRequested.selector);
        vault.withdraw();
        vm.stopPrank();
    }

    function test_withdrawal_cappedByBalanceAndCancel() public {
        vm.startPrank(client);
        vault.deposit{value: 1 ether}();
        vault.requestWithdrawal(10 ether);
        vm.expectEmit(true, true, true, true, address(vault));
        emit PaymentVault.WithdrawalCancelled(client);
        vault.cancelWithdrawal();
        vm.expectRevert(PaymentVault.NoWithdrawalRequested.selector);
        vault.cancelWithdrawal();
        vm.expectRevert(PaymentVault.ZeroAmount.selector);
        vault.requestWithdrawal(0);
        vault.requestWithdrawal(10 ether);
        vm.warp(block.timestamp + DELAY);
        vm.assertEq(vault.withdraw(), 1 ether);
        vault.requestWithdrawal(1);
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(PaymentVault.NothingToWithdraw.selector);
        vault.withdraw();
        vm.stopPrank();
    }

    function test_withdraw_worksWhilePaused() public {
        fund(pk, 1 ether, 0);
        vm.prank(guardian);
        vault.pause();
        vm.startPrank(client);
        vault.requestWithdrawal(1 ether);
        vm.warp(block.timestamp + DELAY);
        vault.withdraw();
        vm.stopPrank();
        vm.assertEq(vault.balanceOf(client), 0);
    }

    bytes32 constant KEY = bytes32(uint256(7 << 32 | 1));

    function test_escrowSpend_onlyOracleWithinCapAndBalance() public {
        fund(pk, 3 ether, 2 ether);
        vm.expectRevert(PaymentVault.NotOracle.selector);
        vault.escrowSpend(KEY, _spends(client, 1));
        vm.startPrank(address(oracle));
        vm.expectEmit(true, true, true, true, address(vault));
        emit PaymentVault.SpendEscrowed(client, 1.5 ether);
        (uint256 sum, uint256 short) = vault.escrowSpend(KEY, _spends(client, 1.5 ether));
        vm.assertEq(sum, 1.5 ether);
        vm.assertEq(short, 0);
        vm.assertEq(vault.spendableOf(client), 0.5 ether);
        // above the cap: only the headroom is escrowed, the rest is the client's shortfall
        vm.expectEmit(true, true, true, true, address(vault));
        emit PaymentVault.SpendShortfall(bytes32("k2"), client, 1 ether, 0.5 ether);
        (sum, short) = vault.escrowSpend(bytes32("k2"), _spends(client, 1 ether));
        vm.assertEq(sum, 0.5 ether);
        vm.assertEq(short, 0.5 ether);
        vm.assertEq(vault.shortfallOf(bytes32("k2"), client), 0.5 ether);
        vm.assertEq(vault.spentOf(client), 2 ether);
        // with no headroom at all nothing is escrowed
        (sum, short) = vault.escrowSpend(bytes32("k3"), _spends(client, 1));
        vm.assertEq(sum, 0);
        vm.assertEq(short, 1);
        vm.stopPrank();
        // raise the cap above the balance: now the balance binds
        vault.submitCap(client, 10 ether, block.timestamp, signCap(pk, 10 ether, block.timestamp));
        vm.prank(address(oracle));
        (sum, short) = vault.escrowSpend(bytes32("k4"), _spends(client, 2 ether));
        vm.assertEq(sum, 1 ether);
        vm.assertEq(short, 1 ether);
        vm.assertEq(vault.escrowed(), 3 ether);
        vm.assertEq(vault.balanceOf(client), 0);
        vm.assertEq(vault.spentOf(client), 3 ether);
        vm.assertEq(vault.totalBalances(), 0);
    }

    /// One client's shortfall does not touch the others' escrow.
    function test_escrowSpend_shortfallIsPerClient() public {
        fund(pk, 1 ether, 5 ether);
        uint256 pk2 = 0xC2;
        address other = fund(pk2, 5 ether, 5 ether);
        ClientTotal[] memory cs = new ClientTotal[](2);
        (cs[0], cs[1]) = client < other
            ? (ClientTotal(client, 2 ether, 1), ClientTotal(other, 3 ether, 2))
            : (ClientTotal(other, 3 ether, 1), ClientTotal(client, 2 ether, 2));
        vm.prank(address(oracle));
        (uint256 sum, uint256 short) = vault.escrowSpend(KEY, cs);
        vm.assertEq(sum, 4 ether);
        vm.assertEq(short, 1 ether);
        vm.assertEq(vault.balanceOf(other), 2 ether);
        vm.assertEq(vault.shortfallOf(KEY, client), 1 ether);
        vm.assertEq(vault.shortfallOf(KEY, other), 0);
        // released exactly
        vm.prank(address(oracle));
        vm.assertEq(vault.releaseSpend(KEY, cs), 4 ether);
        vm.assertEq(vault.balanceOf(client), 1 ether);
        vm.assertEq(vault.balanceOf(other), 5 ether);
        vm.assertEq(vault.shortfallOf(KEY, client), 0);
        vm.assertEq(vault.escrowed(), 0);
    }

    function test_releaseSpend_reverses() public {
        fund(pk, 3 ether, 3 ether);
        vm.startPrank(address(oracle));
        vault.escrowSpend(KEY, _spends(client, 2 ether));
        vm.expectEmit(true, true, true, true, address(vault));
        emit PaymentVault.SpendReleased(client, 2 ether);
        vault.releaseSpend(KEY, _spends(client, 2 ether));
        vm.stopPrank();
        vm.assertEq(vault.balanceOf(client), 3 ether);
        vm.assertEq(vault.spentOf(client), 0);
        vm.assertEq(vault.escrowed(), 0);
        vm.expectRevert(PaymentVault.NotOracle.selector);
        vault.releaseSpend(KEY, _spends(client, 1));
    }

    function test_settle_paysTheOracleAndAccruesFees() public {
        fund(pk, 3 ether, 3 ether);
        vm.startPrank(address(oracle));
        vault.escrowSpend(KEY, _spends(client, 1.5 ether));
        vm.expectRevert(PaymentVault.EscrowUnderflow.selector);
        vault.settle(1 ether, 0.5 ether + 1);
        uint256 before = address(oracle).balance;
        vm.expectEmit(true, true, true, true, address(vault));
        emit PaymentVault.Paid(address(oracle), 1 ether);
        vault.settle(1 ether, 0.5 ether);
        vm.stopPrank();
        vm.assertEq(address(oracle).balance, before + 1 ether);
        vm.assertEq(vault.feesOwed(), 0.5 ether);
        vm.assertEq(vault.escrowed(), 0);
        vm.expectRevert(PaymentVault.NotOracle.selector);
        vault.settle(0, 0);

        vm.expectEmit(true, true, true, true, address(vault));
        emit PaymentVault.FeesClaimed(treasury, 0.5 ether);
        vault.claimFees();
        vm.assertEq(treasury.balance, 0.5 ether);
        vm.expectRevert(PaymentVault.ZeroAmount.selector);
        vault.claimFees();
    }

    function test_admin_setters() public {
        expectAdminOnlyNonZero(vault.setTreasury, PaymentVault.ZeroAddress.selector);
        vm.startPrank(admin);
        vm.expectEmit(true, true, true, true, address(vault));
        emit PaymentVault.TreasurySet(address(1));
        vault.setTreasury(address(1));
        vm.assertEq(vault.treasury(), address(1));
        vm.expectRevert(PaymentVault.OracleAlreadySet.selector);
        vault.setOracle(address(2));
        vm.stopPrank();
        PaymentVault fresh = new PaymentVault(admin, guardian, treasury, 1);
        expectAdminOnlyNonZero(fresh.setOracle, PaymentVault.ZeroAddress.selector);
        vm.prank(admin);
        fresh.setOracle(address(2));
        vm.assertEq(fresh.oracle(), address(2));
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), vault.GUARDIAN_ROLE()
            )
        );
        vault.pause();
    }

    /// The operator can escrow at most min(cap, balance) from a client, whatever it tries (the rest is short).
    function testFuzz_neverMoreThanAuthorised(uint96 deposit, uint96 cap, uint96[4] memory tries) public {
        vm.assume(deposit > 0);
        fund(pk, deposit, cap);
        uint256 taken;
        for (uint256 i; i < tries.length; ++i) {
            if (tries[i] == 0) continue;
            vm.prank(address(oracle));
            (uint256 s,) = vault.escrowSpend(bytes32(i), _spends(client, tries[i]));
            taken += s;
        }
        vm.assertLe(taken, cap);
        vm.assertLe(taken, deposit);
        vm.assertEq(vault.balanceOf(client), uint256(deposit) - taken);
        vm.assertEq(vault.spentOf(client), taken);
    }

    function test_domainAndDigest() public view {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("IMO Oracle Vault"),
                keccak256("1"),
                block.chainid,
                address(vault)
            )
        );
        vm.assertEq(vault.domainSeparator(), expected);
        bytes32 structHash =
            keccak256(abi.encode(keccak256("SpendingCap(address client,uint256 cap,uint256 deadline)"), client, 7, 9));
        vm.assertEq(
            vault.spendingCapDigest(client, 7, 9), keccak256(abi.encodePacked("\x19\x01", expected, structHash))
        );
    }

    function test_gas_deposit() public {
        vm.prank(client);
        vault.deposit{value: 1 ether}(); // warm the account once, then measure a fresh client's first deposit
        address other = makeAddr("other");
        vm.deal(other, 1 ether);
        vm.cool(address(vault));
        vm.prank(other);
        uint256 g = gasleft();
        vault.deposit{value: 1 ether}();
        emit log_named_uint("deposit (first, cold)", g - gasleft());
    }

    event log_named_uint(string key, uint256 val);
}
