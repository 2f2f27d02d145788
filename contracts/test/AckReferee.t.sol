// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {UsageOracle} from "../src/UsageOracle.sol";
import {PaymentVault} from "../src/PaymentVault.sol";
import {AckReferee} from "../src/AckReferee.sol";
import {Receipt, ModelTotal, ClientTotal} from "../src/Types.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @notice What checked-at-attest enforcement would add to `attest` for each client: its mode and, in ack mode,
///         its acknowledgement's signature (measured against the optimistic `AckReferee`, which adds nothing).
contract CheckedAtAttest {
    PaymentVault public immutable vault;

    struct Ack {
        uint256 amount;
        uint64 calls;
        bytes signature;
    }

    constructor(PaymentVault vault_) {
        vault = vault_;
    }

    function check(uint64 epoch, ClientTotal[] calldata clients, Ack[] calldata acks) external view {
        for (uint256 i; i < clients.length; ++i) {
            ClientTotal calldata c = clients[i];
            if (!vault.ackModeAt(c.client, epoch)) continue;
            Ack calldata a = acks[i];
            require(a.amount >= c.total && vault.isAcknowledged(c.client, epoch, a.amount, a.calls, a.signature));
        }
    }
}

contract AckRefereeTest is Fixture {
    event log_named_uint(string key, uint256 val);

    uint64 constant EPOCH = 7;
    AckReferee referee;
    bytes32 mA;
    uint256 pk1;
    uint256 pk2;
    address c1; // ack mode
    address c2; // cap mode

    function setUp() public override {
        super.setUp();
        referee = new AckReferee(oracle, CHALLENGE_BOND, RESPONSE);
        bytes32 refereeRole = oracle.REFEREE_ROLE();
        vm.prank(admin);
        oracle.grantRole(refereeRole, address(referee));
        mA = modelId(1);
        register(mA);
        pk1 = clientKey(1);
        pk2 = clientKey(2);
        c1 = fund(pk1, 10 ether, 10 ether);
        c2 = fund(pk2, 10 ether, 10 ether);
        vm.deal(c1, 10 ether);
        vm.deal(c2, 10 ether);
        _setMode(pk1, EPOCH);
    }

    function _setMode(uint256 pk, uint64 fromEpoch) internal {
        address client = vm.addr(pk);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, vault.ackModeDigest(client, fromEpoch, block.timestamp));
        vm.prank(operator);
        vault.submitAckMode(client, fromEpoch, block.timestamp, abi.encodePacked(r, s, v));
    }

    function _ack(uint256 pk, uint64 epoch, uint256 amount, uint64 calls) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, vault.acknowledgementDigest(vm.addr(pk), epoch, amount, calls));
        return abi.encodePacked(r, s, v);
    }

    /// c1 (ack mode) pays 1 + 0.25 ether, c2 (cap mode) 2 ether.
    function _receipts() internal view returns (Receipt[] memory rs) {
        rs = new Receipt[](3);
        uint128 t = uint128(block.timestamp * 1000) << 80;
        rs[0] = receipt(t | 1, EPOCH, mA, c1, 1 ether);
        rs[1] = receipt(t | 2, EPOCH, mA, c2, 2 ether);
        rs[2] = receipt(t | 3, EPOCH, mA, c1, 0.25 ether);
    }

    function _entry(address client) internal view returns (uint256) {
        ClientTotal[] memory cs = clients_();
        for (uint256 i; i < cs.length; ++i) {
            if (cs[i].client == client) return i;
        }
        revert("no entry");
    }

    function _challenge(address client) internal returns (uint256 id) {
        ClientTotal[] memory cs = clients_();
        vm.prank(client);
        id = referee.challenge{value: CHALLENGE_BOND}(EPOCH, cs, _entry(client));
    }

    // ---------------------------------------------------------------- the vault: modes and signatures

    function test_ackMode_registeredByTheOperatorOnce() public {
        uint256 pk3 = clientKey(3);
        address c3 = vm.addr(pk3);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk3, vault.ackModeDigest(c3, 9, block.timestamp));
        bytes memory sig = abi.encodePacked(r, s, v);
        // not the operator (the client itself, or anyone): refused
        vm.prank(c3);
        vm.expectRevert(PaymentVault.NotOperator.selector);
        vault.submitAckMode(c3, 9, block.timestamp, sig);
        // another epoch than signed, or another client: refused
        vm.startPrank(operator);
        vm.expectRevert(PaymentVault.InvalidSignature.selector);
        vault.submitAckMode(c3, 8, block.timestamp, sig);
        vm.expectRevert(PaymentVault.InvalidSignature.selector);
        vault.submitAckMode(c2, 9, block.timestamp, sig);
        vm.expectEmit(true, true, true, true, address(vault));
        emit PaymentVault.AckModeSet(c3, 9);
        vault.submitAckMode(c3, 9, block.timestamp, sig);
        vm.expectRevert(abi.encodeWithSelector(PaymentVault.AckModeAlreadySet.selector, uint64(9)));
        vault.submitAckMode(c3, 9, block.timestamp, sig);
        vm.warp(block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(PaymentVault.SignatureExpired.selector, block.timestamp - 1));
        vault.submitAckMode(c3, 9, block.timestamp - 1, sig);
        vm.stopPrank();
        vm.assertFalse(vault.ackModeAt(c3, 8));
        vm.assertTrue(vault.ackModeAt(c3, 9));
        vm.assertTrue(vault.ackModeAt(c3, 1000));
        vm.assertFalse(vault.ackModeAt(c2, 1000));
        vm.assertEq(vault.ackModeFrom(c3), 10);
    }

    function test_acknowledgement_signatureBindsEverything() public view {
        bytes memory sig = _ack(pk1, EPOCH, 1.25 ether, 2);
        vm.assertTrue(vault.isAcknowledged(c1, EPOCH, 1.25 ether, 2, sig));
        vm.assertFalse(vault.isAcknowledged(c1, EPOCH + 1, 1.25 ether, 2, sig)); // replay into another epoch
        vm.assertFalse(vault.isAcknowledged(c1, EPOCH, 1.5 ether, 2, sig)); // another amount
        vm.assertFalse(vault.isAcknowledged(c1, EPOCH, 1.25 ether, 3, sig)); // another count
        vm.assertFalse(vault.isAcknowledged(c2, EPOCH, 1.25 ether, 2, sig)); // foreign: signed by c1, not c2
        vm.assertFalse(vault.isAcknowledged(c1, EPOCH, 1.25 ether, 2, _ack(pk2, EPOCH, 1.25 ether, 2)));
        // the digest is EIP-712 over the vault's domain
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Acknowledgement(address client,uint64 epoch,uint256 amount,uint64 calls)"),
                c1,
                EPOCH,
                1.25 ether,
                uint64(2)
            )
        );
        vm.assertEq(
            vault.acknowledgementDigest(c1, EPOCH, 1.25 ether, 2),
            keccak256(abi.encodePacked("\x19\x01", vault.domainSeparator(), structHash))
        );
    }

    // ---------------------------------------------------------------- challenges

    function test_acknowledged_challengeAnsweredAndFinalizes() public {
        attestReceipts(EPOCH, _receipts(), 1_000);
        vm.warp(block.timestamp + WINDOW - RESPONSE + 10);
        uint256 id = _challenge(c1);
        // finalize waits for the open challenge
        vm.warp(block.timestamp + RESPONSE - 10);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.ChallengesOpen.selector, uint32(1)));
        oracle.finalize(EPOCH, 0, models_(), bytes32(0));
        // an acknowledgement below the total, or of another epoch, does not answer it
        bytes memory low = _ack(pk1, EPOCH, 1 ether, 1);
        vm.expectRevert(AckReferee.InvalidAcknowledgement.selector);
        referee.respond(id, 1 ether, 1, low);
        bytes memory other = _ack(pk1, EPOCH + 1, 1.25 ether, 2);
        vm.expectRevert(AckReferee.InvalidAcknowledgement.selector);
        referee.respond(id, 1.25 ether, 2, other);
        vm.expectEmit(true, true, true, true, address(referee));
        emit AckReferee.AcknowledgementShown(id, 1.25 ether, 2);
        referee.respond(id, 1.25 ether, 2, _ack(pk1, EPOCH, 1.25 ether, 2));
        vm.assertEq(uint256(referee.getChallenge(id).status), uint256(AckReferee.Status.Rejected));
        vm.assertEq(referee.credits(operator), CHALLENGE_BOND / 2);
        vm.assertEq(referee.burned(), CHALLENGE_BOND / 2);
        vm.expectRevert(abi.encodeWithSelector(AckReferee.ChallengeNotOpen.selector, id));
        referee.resolve(id);
        oracle.finalize(EPOCH, 0, models_(), bytes32(0));
        vm.assertEq(uint256(oracle.getAttestation(EPOCH).status), uint256(UsageOracle.Status.Finalized));
        uint256 before = operator.balance;
        vm.prank(operator);
        referee.withdrawCredits();
        vm.assertEq(operator.balance, before + CHALLENGE_BOND / 2);
    }

    /// The operator fabricates a receipt (or overcharges): c1 acknowledged 1 ether, the tree bills it 1.25.
    function test_overAcknowledged_operatorLosesItsBond() public {
        attestReceipts(EPOCH, _receipts(), 1_000);
        uint256 escrowedBefore = vault.balanceOf(c1);
        uint256 id = _challenge(c1);
        bytes memory low = _ack(pk1, EPOCH, 1 ether, 1);
        vm.expectRevert(AckReferee.InvalidAcknowledgement.selector);
        referee.respond(id, 1 ether, 1, low);
        vm.expectRevert(abi.encodeWithSelector(AckReferee.ResponseWindowOpen.selector, block.timestamp + RESPONSE));
        referee.resolve(id);
        vm.warp(block.timestamp + RESPONSE + 1);
        bytes memory full = _ack(pk1, EPOCH, 1.25 ether, 2);
        vm.expectRevert(abi.encodeWithSelector(AckReferee.ResponseTooLate.selector, block.timestamp - 1));
        referee.respond(id, 1.25 ether, 2, full);
        vm.expectEmit(true, true, true, true, address(oracle));
        emit UsageOracle.AttestationVoided(EPOCH, 1, c1, ATTEST_BOND / 2, ATTEST_BOND / 2);
        referee.resolve(id);
        vm.assertEq(uint256(oracle.getAttestation(EPOCH).status), uint256(UsageOracle.Status.Voided));
        vm.assertEq(referee.credits(c1), CHALLENGE_BOND);
        vm.assertEq(oracle.credits(c1), ATTEST_BOND / 2);
        // nothing of the extra can finalize; the escrow goes back to the clients
        vm.warp(block.timestamp + WINDOW);
        vm.expectRevert();
        oracle.finalize(EPOCH, 0, models_(), bytes32(0));
        oracle.unwind(EPOCH, clients_());
        vm.assertEq(vault.balanceOf(c1), escrowedBefore + 1.25 ether);
        // the operator re-attests what was acknowledged (c1's second receipt left out): it survives a challenge
        Receipt[] memory rs = _receipts();
        Receipt[] memory two = new Receipt[](2);
        two[0] = rs[0];
        two[1] = rs[1];
        attestReceipts(EPOCH, two, 1_000);
        uint256 id2 = _challenge(c1);
        referee.respond(id2, 1 ether, 1, _ack(pk1, EPOCH, 1 ether, 1));
        vm.warp(block.timestamp + WINDOW);
        oracle.finalize(EPOCH, 0, models_(), bytes32(0));
        vm.assertEq(vault.spentOf(c1), 1 ether);
    }

    function test_challenge_reverts() public {
        attestReceipts(EPOCH, _receipts(), 1_000);
        ClientTotal[] memory cs = clients_();
        // a cap-mode client cannot challenge
        vm.prank(c2);
        vm.expectRevert(abi.encodeWithSelector(AckReferee.NotAckClient.selector, c2, EPOCH));
        referee.challenge{value: CHALLENGE_BOND}(EPOCH, cs, _entry(c2));
        // nor anyone on another client's behalf
        vm.prank(c2);
        vm.expectRevert(abi.encodeWithSelector(AckReferee.NotAckClient.selector, c2, EPOCH));
        referee.challenge{value: CHALLENGE_BOND}(EPOCH, cs, _entry(c1));
        vm.prank(c1);
        vm.expectRevert(abi.encodeWithSelector(AckReferee.WrongBond.selector, CHALLENGE_BOND, 1));
        referee.challenge{value: 1}(EPOCH, cs, _entry(c1));
        cs[_entry(c1)].total += 1;
        vm.prank(c1);
        vm.expectRevert(AckReferee.ListMismatch.selector);
        referee.challenge{value: CHALLENGE_BOND}(EPOCH, cs, _entry(c1));
        // only the referee may hold an attestation open or void it
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), oracle.REFEREE_ROLE()
            )
        );
        oracle.refereeClose(EPOCH, 1, address(this));
        // after the window
        vm.warp(block.timestamp + WINDOW);
        cs = clients_();
        vm.prank(c1);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.WindowClosed.selector, block.timestamp));
        referee.challenge{value: CHALLENGE_BOND}(EPOCH, cs, _entry(c1));
        vm.expectRevert(abi.encodeWithSelector(AckReferee.UnknownChallenge.selector, 0));
        referee.resolve(0);
    }

    function test_challenge_mootAfterVoid() public {
        attestReceipts(EPOCH, _receipts(), 1_000);
        uint256 id = _challenge(c1);
        uint256 id2 = _challenge(c1);
        vm.warp(block.timestamp + RESPONSE + 1);
        referee.resolve(id); // voids
        bytes memory sig = _ack(pk1, EPOCH, 2 ether, 3);
        vm.expectRevert(abi.encodeWithSelector(AckReferee.ResponseTooLate.selector, block.timestamp - 1));
        referee.respond(id2, 2 ether, 3, sig);
        referee.resolve(id2);
        vm.assertEq(uint256(referee.getChallenge(id2).status), uint256(AckReferee.Status.Moot));
        vm.assertEq(referee.credits(c1), 2 * CHALLENGE_BOND);
    }

    /// An ack-mode client's receipts are no omission evidence: its acknowledgements are the billing record.
    function test_ackModeReceipts_areNotOmissionEvidence() public {
        Receipt[] memory rs = _receipts();
        Receipt[] memory two = new Receipt[](2);
        two[0] = rs[0];
        two[1] = rs[1];
        attestReceipts(EPOCH, two, 1_000);
        bytes memory sig = signReceipt(rs[2]);
        bytes memory data = abi.encodeCall(oracle.challengeReceipt, (EPOCH, rs[2], sig));
        commitAs(address(this), data);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.AckModeReceipt.selector, c1));
        oracle.challengeReceipt{value: CHALLENGE_BOND}(EPOCH, rs[2], sig);
        // a cap-mode client's omitted receipt still is
        Receipt[] memory capOnly = new Receipt[](1);
        capOnly[0] = rs[1];
        bytes memory sig1 = signReceipt(rs[1]);
        vm.assertEq(uint256(oracle.getAttestation(EPOCH).count), 2);
        commitAs(address(this), abi.encodeCall(oracle.challengeReceipt, (EPOCH, rs[1], sig1)));
        oracle.challengeReceipt{value: CHALLENGE_BOND}(EPOCH, rs[1], sig1);
    }

    /// Whatever the acknowledged amount and the attested total: the challenge is answered iff ack >= total.
    function testFuzz_answeredIffCovered(uint96 acked, uint96 extra, bool over) public {
        uint256 total = 1 ether;
        uint256 amount = over ? total - (uint256(extra) % total) - 1 : total + uint256(acked);
        if (!over && amount > 5 ether) amount = 5 ether;
        attestReceipts(EPOCH, _one1(total), 1_000);
        uint256 id = _challenge(c1);
        bytes memory sig = _ack(pk1, EPOCH, amount, 1);
        if (amount >= total) {
            referee.respond(id, amount, 1, sig);
            vm.warp(block.timestamp + WINDOW);
            oracle.finalize(EPOCH, 0, models_(), bytes32(0));
            vm.assertEq(vault.spentOf(c1), total);
        } else {
            vm.expectRevert(AckReferee.InvalidAcknowledgement.selector);
            referee.respond(id, amount, 1, sig);
            vm.warp(block.timestamp + RESPONSE + 1);
            referee.resolve(id);
            vm.assertEq(uint256(oracle.getAttestation(EPOCH).status), uint256(UsageOracle.Status.Voided));
        }
    }

    function _one1(uint256 price) internal view returns (Receipt[] memory rs) {
        rs = new Receipt[](1);
        rs[0] = receipt(uint128(block.timestamp * 1000) << 80 | 1, EPOCH, mA, c1, price);
    }

    // ---------------------------------------------------------------- gas: checked at attest vs optimistic

    /// Execution gas (all storage cold, without the 21k base) of what each design adds, per ack-mode client.
    function test_gas_checkedVsOptimistic() public {
        CheckedAtAttest checker = new CheckedAtAttest(vault);
        uint256 n = 10;
        ClientTotal[] memory cs = new ClientTotal[](n);
        CheckedAtAttest.Ack[] memory acks = new CheckedAtAttest.Ack[](n);
        for (uint256 i; i < n; ++i) {
            uint256 pk = clientKey(100 + i);
            cs[i] = ClientTotal(vm.addr(pk), 0.01 ether, 1);
            _setMode(pk, EPOCH);
            acks[i] = CheckedAtAttest.Ack(0.01 ether, 3, _ack(pk, EPOCH, 0.01 ether, 3));
        }
        vm.cool(address(vault));
        vm.cool(address(checker));
        uint256 g = gasleft();
        checker.check(EPOCH, cs, acks);
        g -= gasleft();
        bytes memory ackCalldata = abi.encode(acks);
        uint256 cd;
        for (uint256 i; i < ackCalldata.length; ++i) {
            cd += ackCalldata[i] == 0 ? 4 : 16;
        }
        emit log_named_uint("checked at attest: execution per ack-mode client", g / n);
        emit log_named_uint("checked at attest: calldata per ack-mode client", cd / n);
        // optimistic: attest does not change; a dispute costs a challenge and a response
        attestReceipts(EPOCH, _receipts(), 1_000);
        ClientTotal[] memory list = clients_();
        uint256 e = _entry(c1);
        vm.cool(address(vault));
        vm.cool(address(oracle));
        vm.cool(address(referee));
        vm.prank(c1);
        g = gasleft();
        uint256 id = referee.challenge{value: CHALLENGE_BOND}(EPOCH, list, e);
        g -= gasleft();
        emit log_named_uint("optimistic: challenge", g);
        bytes memory sig = _ack(pk1, EPOCH, 1.25 ether, 2);
        vm.cool(address(vault));
        vm.cool(address(oracle));
        vm.cool(address(referee));
        g = gasleft();
        referee.respond(id, 1.25 ether, 2, sig);
        g -= gasleft();
        emit log_named_uint("optimistic: respond", g);
        vm.assertLt(g, 110_000);
    }
}
