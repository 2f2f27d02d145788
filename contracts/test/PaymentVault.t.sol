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
    event Deposited(address indexed client, address indexed from, uint256 amount);
    event SpendingCapSet(address indexed client, uint256 cap);
    event WithdrawalRequested(address indexed client, uint256 amount, uint256 readyAt);
    event WithdrawalCancelled(address indexed client);
    event Withdrawn(address indexed client, uint256 amount);
    event SpendEscrowed(address indexed client, uint256 amount);
    event SpendReleased(address indexed client, uint256 amount);
    event Paid(address indexed to, uint256 amount);
    event FeesClaimed(address indexed treasury, uint256 amount);
    event TreasurySet(address indexed treasury);

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
        emit Deposited(client, client, 1 ether);
        vm.prank(client);
        vault.deposit{value: 1 ether}();
        vm.expectEmit(true, true, true, true, address(vault));
        emit Deposited(client, address(this), 2 ether);
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
        emit SpendingCapSet(client, 5 ether);
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
        emit WithdrawalRequested(client, 2 ether, block.timestamp + DELAY);
        vault.requestWithdrawal(2 ether);
        vm.assertEq(uint256(vault.withdrawalOf(client).amount), 2 ether);
        vm.expectRevert(abi.encodeWithSelector(PaymentVault.WithdrawalNotReady.selector, block.timestamp + DELAY));
        vault.withdraw();
        vm.warp(block.timestamp + DELAY);
        uint256 before = client.balance;
        vm.expectEmit(true, true, true, true, address(vault));
        emit Withdrawn(client, 2 ether);
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
        emit WithdrawalCancelled(client);
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
        vm.prank(client);
        vault.deposit{value: 1 ether}();
        vm.prank(guardian);
        vault.pause();
        vm.startPrank(client);
        vault.requestWithdrawal(1 ether);
        vm.warp(block.timestamp + DELAY);
        vault.withdraw();
        vm.stopPrank();
        vm.assertEq(vault.balanceOf(client), 0);
    }

    function test_escrowSpend_onlyOracleWithinCapAndBalance() public {
        fund(pk, 3 ether, 2 ether);
        vm.expectRevert(PaymentVault.NotOracle.selector);
        vault.escrowSpend(_spends(client, 1));
        vm.startPrank(address(oracle));
        vm.expectRevert(abi.encodeWithSelector(PaymentVault.CapExceeded.selector, client, 0, 2 ether + 1, 2 ether));
        vault.escrowSpend(_spends(client, 2 ether + 1));
        vm.expectEmit(true, true, true, true, address(vault));
        emit SpendEscrowed(client, 1.5 ether);
        vm.assertEq(vault.escrowSpend(_spends(client, 1.5 ether)), 1.5 ether);
        vm.assertEq(vault.spendableOf(client), 0.5 ether);
        vm.expectRevert(abi.encodeWithSelector(PaymentVault.CapExceeded.selector, client, 1.5 ether, 1 ether, 2 ether));
        vault.escrowSpend(_spends(client, 1 ether));
        vm.stopPrank();
        // raise the cap above the balance: now the balance binds
        vault.submitCap(client, 10 ether, block.timestamp, signCap(pk, 10 ether, block.timestamp));
        vm.prank(address(oracle));
        vm.expectRevert(abi.encodeWithSelector(PaymentVault.InsufficientBalance.selector, client, 1.5 ether, 2 ether));
        vault.escrowSpend(_spends(client, 2 ether));
        vm.assertEq(vault.escrowed(), 1.5 ether);
        vm.assertEq(vault.balanceOf(client), 1.5 ether);
        vm.assertEq(vault.spentOf(client), 1.5 ether);
        vm.assertEq(vault.totalBalances(), 1.5 ether);
    }

    function test_releaseSpend_reverses() public {
        fund(pk, 3 ether, 3 ether);
        vm.startPrank(address(oracle));
        vault.escrowSpend(_spends(client, 2 ether));
        vm.expectEmit(true, true, true, true, address(vault));
        emit SpendReleased(client, 2 ether);
        vault.releaseSpend(_spends(client, 2 ether));
        vm.stopPrank();
        vm.assertEq(vault.balanceOf(client), 3 ether);
        vm.assertEq(vault.spentOf(client), 0);
        vm.assertEq(vault.escrowed(), 0);
        vm.expectRevert(PaymentVault.NotOracle.selector);
        vault.releaseSpend(_spends(client, 1));
    }

    function test_settle_paysAndAccruesFees() public {
        fund(pk, 3 ether, 3 ether);
        address payee = makeAddr("payee");
        address[] memory to = new address[](2);
        to[0] = payee;
        to[1] = address(0xdead);
        uint256[] memory amounts = new uint256[](2);
        amounts[0] = 1 ether;
        vm.startPrank(address(oracle));
        vault.escrowSpend(_spends(client, 1.5 ether));
        vm.expectRevert(PaymentVault.EscrowUnderflow.selector);
        vault.settle(to, amounts, 0.5 ether + 1);
        vm.expectRevert(PaymentVault.LengthMismatch.selector);
        vault.settle(to, new uint256[](1), 0);
        vm.expectEmit(true, true, true, true, address(vault));
        emit Paid(payee, 1 ether);
        vault.settle(to, amounts, 0.5 ether);
        vm.stopPrank();
        vm.assertEq(payee.balance, 1 ether);
        vm.assertEq(address(0xdead).balance, 0); // zero amounts are skipped
        vm.assertEq(vault.feesOwed(), 0.5 ether);
        vm.assertEq(vault.escrowed(), 0);
        vm.expectRevert(PaymentVault.NotOracle.selector);
        vault.settle(to, amounts, 0);

        vm.expectEmit(true, true, true, true, address(vault));
        emit FeesClaimed(treasury, 0.5 ether);
        vault.claimFees();
        vm.assertEq(treasury.balance, 0.5 ether);
        vm.expectRevert(PaymentVault.ZeroAmount.selector);
        vault.claimFees();
    }

    function test_admin_setters() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), bytes32(0))
        );
        vault.setTreasury(address(1));
        vm.startPrank(admin);
        vm.expectRevert(PaymentVault.ZeroAddress.selector);
        vault.setTreasury(address(0));
        vm.expectEmit(true, true, true, true, address(vault));
        emit TreasurySet(address(1));
        vault.setTreasury(address(1));
        vm.assertEq(vault.treasury(), address(1));
        vm.expectRevert(PaymentVault.OracleAlreadySet.selector);
        vault.setOracle(address(2));
        vm.stopPrank();
        PaymentVault fresh = new PaymentVault(admin, guardian, treasury, 1);
        vm.startPrank(admin);
        vm.expectRevert(PaymentVault.ZeroAddress.selector);
        fresh.setOracle(address(0));
        fresh.setOracle(address(2));
        vm.stopPrank();
        vm.assertEq(fresh.oracle(), address(2));
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), vault.GUARDIAN_ROLE()
            )
        );
        vault.pause();
    }

    /// The operator can escrow at most min(cap, balance) from a client, whatever it tries.
    function testFuzz_neverMoreThanAuthorised(uint96 deposit, uint96 cap, uint96[4] memory tries) public {
        vm.assume(deposit > 0);
        fund(pk, deposit, cap);
        uint256 taken;
        for (uint256 i; i < tries.length; ++i) {
            if (tries[i] == 0) continue;
            vm.prank(address(oracle));
            try vault.escrowSpend(_spends(client, tries[i])) returns (uint256 s) {
                taken += s;
            } catch {}
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
