// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ModelTokenBase} from "../utils/ModelTokenBase.sol";
import {Vm} from "../utils/Vm.sol";
import {ModelToken} from "../../src/ModelToken.sol";
import {ReferenceERC7641} from "./ReferenceERC7641.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

/// @notice Lends reference tokens for one call and claims its own revenue.
contract RefLender {
    ReferenceERC7641 public immutable token;

    constructor(ReferenceERC7641 t) {
        token = t;
    }

    receive() external payable {}

    function flashLoan(uint256 amount) external {
        uint256 before = token.balanceOf(address(this));
        token.transfer(msg.sender, amount);
        RefAttacker(payable(msg.sender)).onFlashLoan(amount);
        require(token.balanceOf(address(this)) >= before, "not repaid");
    }

    function claimableOf(uint256 id) external view returns (uint256) {
        return token.claimableRevenue(address(this), id);
    }
}

/// @notice Borrows the pool's reference tokens, snapshots, repays: the reference's flash-loan exposure.
contract RefAttacker {
    ReferenceERC7641 public immutable token;

    constructor(ReferenceERC7641 t) {
        token = t;
    }

    receive() external payable {}

    function attack(RefLender lender, uint256 amount) external {
        lender.flashLoan(amount);
    }

    function onFlashLoan(uint256 amount) external {
        token.snapshot();
        token.transfer(msg.sender, amount);
    }

    function claim(uint256 id) external {
        token.claim(id);
    }
}

/// @notice ModelToken side by side with the ERC-7641 reference's documented behaviour (our test-only
///         re-implementation on OZ 4.9's ERC20Snapshot, `ReferenceERC7641`): what must match (what a wallet or
///         an indexer would notice), what differs on purpose, and a gas table measured in one run
///         (`forge test --match-contract ReferenceComparison -vv`, numbers in docs/CONTRACTS.md).
contract ReferenceComparisonTest is ModelTokenBase {
    event Snapshot(uint256 id);
    event log_named_uint(string key, uint256 val);
    event log_string(string val);

    uint256 constant SUPPLY = 1_000 ether;
    ModelToken ours;
    ReferenceERC7641 ref;

    function setUp() public {
        setUpTokens(1_000);
        ours = newToken("Ours", "OUR", alice, SUPPLY, 8_000);
        vm.prank(alice);
        ref = new ReferenceERC7641("Ref", "REF", SUPPLY, 80);
    }

    receive() external payable {}

    /// @dev Revenue for the next snapshot of both tokens, then both snapshots: the reference after its
    ///      1000-block interval (as anyone), ours by the snapshotter with the revenue; then a block ends.
    function _epoch(uint256 revenue) internal returns (uint256 refId, uint256 ourId) {
        vm.deal(address(this), address(this).balance + 2 * revenue);
        (bool ok,) = address(ref).call{value: revenue}("");
        require(ok);
        vm.roll(block.number + 1_001);
        refId = ref.snapshot();
        ourId = ours.snapshotWithRevenue{value: revenue}();
        vm.roll(block.number + 1);
    }

    function _transferBoth(address from, address to, uint256 amount) internal {
        vm.startPrank(from);
        ours.transfer(to, amount);
        ref.transfer(to, amount);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- same behaviour

    function test_same_proRataClaimsAndClaimed() public {
        _transferBoth(alice, bob, 250 ether);
        (uint256 r, uint256 o) = _epoch(1 ether);
        vm.assertEq(r, 1);
        vm.assertEq(o, 1);
        vm.assertEq(ours.claimableRevenue(alice, o), ref.claimableRevenue(alice, r));
        vm.assertEq(ours.claimableRevenue(bob, o), ref.claimableRevenue(bob, r));
        vm.assertEq(ours.claimableRevenue(bob, o), 0.2 ether);
        vm.assertEq(ours.snapshotRevenue(o), ref.claimableAt(r));
        vm.startPrank(bob);
        ours.claim(o);
        ref.claim(r);
        vm.stopPrank();
        vm.assertEq(bob.balance, 0.4 ether);
        vm.assertEq(ours.claimableRevenue(bob, o), 0);
        vm.assertEq(ref.claimableRevenue(bob, r), 0);
        vm.assertEq(ours.claimPool(), ref.claimPool());
        vm.startPrank(bob);
        vm.expectRevert(abi.encodeWithSelector(ModelToken.AlreadyClaimed.selector, o));
        ours.claim(o);
        vm.expectRevert(bytes("nothing to claim"));
        ref.claim(r);
        vm.stopPrank();
    }

    function test_same_unknownSnapshotReverts() public {
        _epoch(1 ether);
        vm.expectRevert(abi.encodeWithSelector(ModelToken.InvalidSnapshot.selector, 0));
        ours.claimableRevenue(alice, 0);
        vm.expectRevert(bytes("ERC20Snapshot: id is 0"));
        ref.claimableRevenue(alice, 0);
        vm.expectRevert(abi.encodeWithSelector(ModelToken.InvalidSnapshot.selector, 2));
        ours.claimableRevenue(alice, 2);
        vm.expectRevert(bytes("ERC20Snapshot: nonexistent id"));
        ref.claimableRevenue(alice, 2);
    }

    function test_same_snapshotEvent() public {
        vm.deal(address(this), 2 ether);
        (bool ok,) = address(ref).call{value: 1 ether}("");
        require(ok);
        vm.roll(block.number + 1_001);
        vm.expectEmit(true, true, true, true, address(ref));
        emit Snapshot(1);
        ref.snapshot();
        vm.expectEmit(true, true, true, true, address(ours));
        emit Snapshot(1);
        ours.snapshotWithRevenue{value: 1 ether}();
    }

    /// Redeeming: the same ETH for the same burn, counting revenue not snapshotted yet, and the holders'
    /// share of that revenue goes to the next snapshot in both.
    function test_same_redeemAndNextSnapshot() public {
        _transferBoth(alice, bob, 250 ether);
        _epoch(10 ether);
        vm.deal(address(this), 2 ether);
        (bool ok,) = address(ref).call{value: 1 ether}("");
        require(ok);
        (ok,) = address(ours).call{value: 1 ether}("");
        require(ok);
        vm.assertEq(ours.redeemableOnBurn(250 ether), ref.redeemableOnBurn(250 ether));
        vm.assertEq(ours.redeemableOnBurn(250 ether), 0.55 ether); // (2 + 0.2) * 1/4
        vm.startPrank(bob);
        ours.burn(250 ether);
        ref.burn(250 ether);
        vm.stopPrank();
        vm.assertEq(bob.balance, 1.1 ether);
        vm.assertEq(ours.totalSupply(), ref.totalSupply());
        vm.roll(block.number + 1_001);
        uint256 r = ref.snapshot();
        uint256 o = ours.snapshot();
        vm.assertEq(ours.snapshotRevenue(o), ref.claimableAt(r));
        vm.assertEq(ours.snapshotRevenue(o), 0.8 ether);
        vm.roll(block.number + 1);
        vm.assertEq(ours.claimableRevenue(alice, o), ref.claimableRevenue(alice, r));
        vm.assertEq(ours.redeemableOnBurn(750 ether), ref.redeemableOnBurn(750 ether));
    }

    function test_same_claimBatchPaysTheSum() public {
        uint256[] memory ids = new uint256[](3);
        for (uint256 i; i < 3; ++i) {
            (ids[i],) = _epoch(1 ether);
        }
        vm.startPrank(alice);
        ours.claimBatch(ids);
        ref.claimBatch(ids);
        vm.stopPrank();
        vm.assertEq(alice.balance, 2 * 2.4 ether);
        vm.assertEq(ours.claimPool(), ref.claimPool());
    }

    // ---------------------------------------------------------------- different on purpose

    /// The reference snapshots balances at the moment of the call: a flash loan around `snapshot()` takes the
    /// pool's revenue (finding 1 on the reference's shape). ModelToken: see ModelTokenTest's flash-loan tests.
    function test_diff_referenceIsFlashLoanable() public {
        RefLender pool = new RefLender(ref);
        vm.prank(alice);
        ref.transfer(address(pool), 900 ether);
        vm.deal(address(this), 1 ether);
        (bool ok,) = address(ref).call{value: 1 ether}("");
        require(ok);
        vm.roll(block.number + 1_001);
        RefAttacker attacker = new RefAttacker(ref);
        attacker.attack(pool, 900 ether);
        attacker.claim(1);
        vm.assertEq(address(attacker).balance, 0.72 ether, "the reference pays the borrower");
        vm.assertEq(pool.claimableOf(1), 0, "and the real holder gets nothing");
    }

    /// Burning more than the supply: an arithmetic panic in the reference's redeem formula; ModelToken
    /// reports the ERC-20 error.
    function test_diff_burnMoreThanSupply() public {
        _epoch(1 ether);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, alice, SUPPLY, type(uint256).max)
        );
        ours.burn(type(uint256).max);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSignature("Panic(uint256)", 0x11));
        ref.burn(type(uint256).max);
        vm.prank(alice);
        vm.expectRevert(bytes("ERC20: burn amount exceeds balance"));
        ref.burn(SUPPLY + 1);
    }

    /// Snapshot pacing: the reference needs > 1000 blocks between snapshots for anyone; ModelToken lets the
    /// oracle snapshot at every finalize and anyone else after a day (when there is revenue).
    function test_diff_snapshotPacing() public {
        vm.roll(block.number + 1_000);
        vm.expectRevert(bytes("snapshot interval is too short"));
        ref.snapshot();
        vm.roll(block.number + 1);
        ref.snapshot();
        ours.snapshot(); // the snapshotter, any time
        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(ModelToken.SnapshotTooSoon.selector, block.timestamp + 1 days));
        ours.snapshot();
    }

    /// Claims and burns: ModelToken emits events, the reference none; ModelToken claims in the snapshot's
    /// block are pending.
    function test_diff_eventsAndPending() public {
        vm.deal(address(this), 2 ether);
        (bool ok,) = address(ref).call{value: 1 ether}("");
        require(ok);
        vm.roll(block.number + 1_001);
        ref.snapshot();
        ours.snapshotWithRevenue{value: 1 ether}();
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(ModelToken.SnapshotPending.selector, 1));
        ours.claim(1);
        vm.recordLogs();
        ref.claim(1); // the reference pays at once
        vm.assertEq(vm.getRecordedLogs().length, 0, "no event in the reference");
        vm.roll(block.number + 1);
        vm.recordLogs();
        ours.claim(1);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        vm.assertEq(logs.length, 1);
        vm.assertEq(logs[0].topics[0], ModelToken.RevenueClaimed.selector);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- gas, side by side

    function _cool() internal {
        vm.cool(address(ours));
        vm.cool(address(impl));
        vm.cool(address(ref));
    }

    function _row(string memory name, uint256 o, uint256 r) internal {
        emit log_string(name);
        emit log_named_uint("  ModelToken", o);
        emit log_named_uint("  reference", r);
        emit log_named_uint("  ratio, percent", o * 100 / r);
    }

    /// @dev A row of the table where ModelToken must be the cheaper.
    function _cheaperRow(string memory name, uint256 o, uint256 r) internal {
        _row(name, o, r);
        vm.assertLt(o, r);
    }

    /// @dev Execution gas of `transfer(bob, 1 ether)` (under the caller's prank, all storage cold) on each token.
    function _transferGas() internal returns (uint256 o, uint256 r) {
        _cool();
        uint256 g = gasleft();
        ours.transfer(bob, 1 ether);
        o = g - gasleft();
        _cool();
        g = gasleft();
        ref.transfer(bob, 1 ether);
        r = g - gasleft();
    }

    /// Execution gas of one call (all storage cold, clone included for ModelToken; without the 21k base and
    /// calldata), in the same state for both tokens. Bounds: ModelToken must be cheaper on every row.
    function test_gas_sideBySide() public {
        // state: alice and bob hold and have balance checkpoints, two epochs paid; both can receive ETH
        // without creating an account (that would add 25,000 to whichever token pays them first)
        _transferBoth(alice, bob, 100 ether);
        _epoch(1 ether);
        _transferBoth(alice, bob, 1 ether);
        _epoch(1 ether);
        vm.deal(alice, 1);
        vm.deal(bob, 1);
        uint256 g;
        uint256 o;
        uint256 r;

        // transfer, first after a snapshot (both accounts checkpoint), then steady
        vm.startPrank(alice);
        (uint256 firstO, uint256 firstR) = _transferGas();
        (o, r) = _transferGas();
        vm.stopPrank();
        _cheaperRow("transfer, steady (no snapshot since both accounts changed)", o, r);
        _cheaperRow("transfer, first after a snapshot (both accounts checkpoint)", firstO, firstR);

        // receive: a donation
        vm.deal(carol, 10 ether);
        vm.startPrank(carol);
        _cool();
        g = gasleft();
        (bool ok,) = address(ours).call{value: 1 ether}("");
        o = g - gasleft();
        _cool();
        g = gasleft();
        (ok,) = address(ref).call{value: 1 ether}("");
        r = g - gasleft();
        require(ok);
        _row("receive() (a donation; ModelToken: the clone's delegatecall + RevenueReceived)", o, r);

        // public snapshot of that donation, by anyone
        vm.warp(block.timestamp + 1 days);
        vm.roll(block.number + 1_001);
        _cool();
        g = gasleft();
        ours.snapshot();
        o = g - gasleft();
        _cool();
        g = gasleft();
        ref.snapshot();
        r = g - gasleft();
        vm.stopPrank();
        _cheaperRow("snapshot() (public, books the donation)", o, r);
        vm.roll(block.number + 1);

        // revenue in, per model per epoch: the reference receives and snapshots (two calls), ModelToken takes
        // the payment with its snapshot (one call from the oracle); two epochs (revenue slots are paired)
        vm.deal(address(this), 10 ether);
        uint256 oSum;
        uint256 rSum;
        for (uint256 i; i < 2; ++i) {
            _cool();
            g = gasleft();
            ours.snapshotWithRevenue{value: 1 ether}();
            oSum += g - gasleft();
            _cool();
            g = gasleft();
            (ok,) = address(ref).call{value: 1 ether}("");
            rSum += g - gasleft();
            vm.roll(block.number + 1_001);
            _cool();
            g = gasleft();
            ref.snapshot();
            rSum += g - gasleft();
            vm.roll(block.number + 1);
        }
        _row("revenue in, per model per epoch (ref: receive + snapshot; ours: snapshotWithRevenue)", oSum / 2, rSum / 2);
        vm.assertLt(oSum, rSum);

        // claim one snapshot (bob), claimBatch of 10 (alice)
        uint256[] memory ids = new uint256[](10);
        for (uint256 i; i < 10; ++i) {
            (ids[i],) = _epoch(1 ether);
        }
        vm.prank(bob);
        _cool();
        g = gasleft();
        ours.claim(ids[0]);
        o = g - gasleft();
        vm.prank(bob);
        _cool();
        g = gasleft();
        ref.claim(ids[0]);
        r = g - gasleft();
        _cheaperRow("claim (one snapshot)", o, r);
        vm.prank(alice);
        _cool();
        g = gasleft();
        ours.claimBatch(ids);
        o = g - gasleft();
        vm.prank(alice);
        _cool();
        g = gasleft();
        ref.claimBatch(ids);
        r = g - gasleft();
        _cheaperRow("claimBatch (10 snapshots)", o, r);

        // burn (redeem)
        vm.prank(bob);
        _cool();
        g = gasleft();
        ours.burn(50 ether);
        o = g - gasleft();
        vm.prank(bob);
        _cool();
        g = gasleft();
        ref.burn(50 ether);
        r = g - gasleft();
        _cheaperRow("burn (redeem)", o, r);
        vm.assertEq(address(ours).balance, address(ref).balance, "same ETH left in both");
    }
}
