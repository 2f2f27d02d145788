// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {DisputeFixture} from "./utils/DisputeFixture.sol";
import {Json} from "./utils/VmJson.sol";
import {Receipt} from "../src/Types.sol";
import {InferenceDispute, IReceiptOracle} from "../src/InferenceDispute.sol";
import {Program, CallInputs, CallOutputs, Operand} from "../src/judge/JudgeTypes.sol";

/// @notice The dispute game: whole games of the two quantized test models (scripted by the Rust reference)
///         with both outcomes, and every move's and every payout's branches.
contract InferenceDisputeTest is DisputeFixture {
    event Resolved(bytes32 indexed gameId, InferenceDispute.Phase outcome, InferenceDispute.Reason reason);
    event Refunded(bytes32 indexed receiptHash, address indexed client, uint256 amount);

    address internal stranger = makeAddr("stranger");

    function _phase(bytes32 id) internal view returns (InferenceDispute.Phase) {
        return dispute.getGame(id).phase;
    }

    function _assertChallengerWon(string memory json, bytes32 id, uint256 stakeBefore) internal view {
        vm.assertTrue(_phase(id) == InferenceDispute.Phase.ChallengerWon, "challenger won");
        vm.assertEq(dispute.credits(challengerOf(json)), CH_BOND + OP_BOND, "bond back + operator bond");
        vm.assertEq(dispute.credits(clientOf(json)), PRICE, "client refunded");
        InferenceDispute.Stake memory s = dispute.stakeOf(operator);
        vm.assertEq(s.locked, 0);
        vm.assertEq(s.free, stakeBefore - OP_BOND - PRICE, "slashed");
    }

    function _assertOperatorWon(string memory json, bytes32 id, uint256 stakeBefore) internal view {
        vm.assertTrue(_phase(id) == InferenceDispute.Phase.OperatorWon, "operator won");
        vm.assertEq(dispute.credits(operator), CH_BOND, "challenger's bond");
        vm.assertEq(dispute.credits(challengerOf(json)), 0);
        vm.assertEq(dispute.credits(clientOf(json)), 0);
        InferenceDispute.Stake memory s = dispute.stakeOf(operator);
        vm.assertEq(s.locked, 0);
        vm.assertEq(s.free, stakeBefore);
    }

    /// Plays the scripted game `sc` of `json` to its end and checks who won (the challenger when
    /// `challengerWins`, else the operator) against the operator's stake before: the game.
    function _playAndCheck(string memory json, string memory sc, bool challengerWins) internal returns (bytes32 id) {
        uint256 before = dispute.stakeOf(operator).free;
        id = play(json, sc);
        if (challengerWins) _assertChallengerWon(json, id, before);
        else _assertOperatorWon(json, id, before);
    }

    function _solvent() internal view {
        vm.assertEq(
            address(dispute).balance, dispute.totalStake() + dispute.openBonds() + dispute.totalCredits(), "solvent"
        );
    }

    // ------------------------------------------------------------------ whole games

    function test_mlp_lyingOperator_loses() public {
        _playAndCheck(mlp, "lyingOperator", true);
        vm.assertTrue(dispute.refunded(Json.vm.parseJsonBytes32(mlp, key("lyingOperator", "receiptHash"))));
        _solvent();
    }

    function test_cnn_lyingOperator_loses() public {
        _playAndCheck(cnn, "lyingOperator", true);
        _solvent();
    }

    function test_mlp_lyingChallenger_loses() public {
        _playAndCheck(mlp, "lyingChallenger", false);
        _solvent();
    }

    function test_cnn_lyingChallenger_loses() public {
        _playAndCheck(cnn, "lyingChallenger", false);
        _solvent();
    }

    function test_mlp_wrongShape_loses() public {
        string memory sc = "wrongShape";
        uint256 before = dispute.stakeOf(operator).free;
        bytes32 id = open(mlp, sc);
        uint256 n = moves(mlp, sc).length;
        for (uint256 i; i + 1 < n; ++i) {
            (bool ok,) = send(mlp, sc, i);
            vm.assertTrue(ok);
        }
        vm.expectEmit(true, false, false, true, address(dispute));
        emit Resolved(id, InferenceDispute.Phase.ChallengerWon, InferenceDispute.Reason.WrongShape);
        (bool last,) = send(mlp, sc, n - 1);
        vm.assertTrue(last, "step");
        _assertChallengerWon(mlp, id, before);
    }

    function test_cnn_wrongShape_loses() public {
        _playAndCheck(cnn, "wrongShape", true);
    }

    /// Rounds <= ceil(log2 nodes) + ceil(log2 tiles): every scripted game's bisection moves.
    function test_rounds_are_logarithmic() public view {
        string[2] memory files = [mlp, cnn];
        string[3] memory scs = ["lyingOperator", "lyingChallenger", "wrongShape"];
        for (uint256 f; f < 2; ++f) {
            uint256 nodes = Json.vm.parseJsonUint(files[f], ".nodes");
            for (uint256 i; i < 3; ++i) {
                uint256 nodeRounds = Json.vm.parseJsonUint(files[f], key(scs[i], "nodeRounds"));
                uint256 tileRounds = Json.vm.parseJsonUint(files[f], key(scs[i], "tileRounds"));
                vm.assertLe(nodeRounds, _log2ceil(nodes), "node rounds");
                // defend + 2 per node round + reveal + 2 per tile round + step
                vm.assertEq(moves(files[f], scs[i]).length, 3 + 2 * (nodeRounds + tileRounds), "moves");
            }
        }
    }

    function _log2ceil(uint256 n) internal pure returns (uint256 d) {
        while ((uint256(1) << d) < n) ++d;
    }

    function test_payouts_withdraw_once() public {
        play(mlp, "lyingOperator");
        address ch = challengerOf(mlp);
        address client = clientOf(mlp);
        uint256 b = ch.balance;
        vm.prank(ch);
        dispute.withdrawCredits();
        vm.assertEq(ch.balance, b + CH_BOND + OP_BOND);
        vm.prank(ch);
        vm.expectRevert(InferenceDispute.NothingToWithdraw.selector);
        dispute.withdrawCredits();
        vm.prank(client);
        dispute.withdrawCredits();
        vm.assertEq(client.balance, PRICE);
        _solvent();
    }

    // ------------------------------------------------------------------ programs

    function test_commitProgram_only_signers_once() public {
        Program memory p = program(mlp);
        vm.prank(stranger);
        vm.expectRevert(InferenceDispute.NotReceiptSigner.selector);
        dispute.commitProgram(keccak256("other"), p);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(InferenceDispute.ProgramExists.selector, model(mlp)));
        dispute.commitProgram(model(mlp), p);
        p.nodeCount = 0;
        vm.prank(operator);
        vm.expectRevert(InferenceDispute.BadProgram.selector);
        dispute.commitProgram(keccak256("other"), p);
        vm.assertEq(dispute.programOf(model(mlp)).nodesRoot, program(mlp).nodesRoot);
        // The id the Rust side computes.
        vm.assertEq(keccak256(abi.encode(uint256(1), program(mlp))), Json.vm.parseJsonBytes32(mlp, ".programId"));
    }

    // ------------------------------------------------------------------ stake

    function test_unstake_after_delay_up_to_free() public {
        vm.prank(operator);
        vm.expectRevert(InferenceDispute.NothingToWithdraw.selector);
        dispute.unstake();
        open(mlp, "lyingOperator"); // locks OP_BOND + PRICE
        vm.prank(operator);
        dispute.requestUnstake(100 ether);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(InferenceDispute.UnstakeNotReady.selector, uint64(block.timestamp) + UNSTAKE_DELAY)
        );
        dispute.unstake();
        vm.warp(block.timestamp + UNSTAKE_DELAY);
        uint256 b = operator.balance;
        vm.prank(operator);
        dispute.unstake();
        vm.assertEq(operator.balance, b + 10 ether - OP_BOND - PRICE, "only the free stake");
        vm.assertEq(dispute.stakeOf(operator).locked, OP_BOND + PRICE);
        _solvent();
    }

    function test_constructor_checks_delays() public {
        vm.expectRevert(InferenceDispute.BadParameters.selector);
        new InferenceDispute(IReceiptOracle(address(oracle)), judge, 1, 1, 1 hours, 1 days, 1 days);
        vm.expectRevert(InferenceDispute.BadParameters.selector);
        new InferenceDispute(IReceiptOracle(address(0)), judge, 1, 1, 1 hours, 1 days, 2 days);
    }

    // ------------------------------------------------------------------ open

    function test_open_checks() public {
        string memory sc = "lyingOperator";
        Receipt memory r = receiptOf(mlp, sc);
        bytes memory sig = signReceipt(r);
        CallInputs memory input = inputOf(mlp, sc);
        bytes32 claimed = claimedOf(mlp, sc);
        bytes memory wrongSig = signReceiptWith(0xB0B, r);
        vm.deal(stranger, 10 ether);
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(InferenceDispute.WrongBond.selector, CH_BOND, 1));
        dispute.open{value: 1}(r, sig, input, claimed);
        vm.expectRevert(InferenceDispute.InvalidReceiptSignature.selector);
        dispute.open{value: CH_BOND}(r, wrongSig, input, claimed);
        vm.expectRevert(InferenceDispute.SameOutput.selector);
        dispute.open{value: CH_BOND}(r, sig, input, r.outputHash);
        // A tampered input does not hash to the receipt's inputHash.
        bytes memory enc = input.encoding;
        enc[enc.length - 1] ^= 0x01;
        vm.expectRevert(InferenceDispute.HashMismatch.selector);
        dispute.open{value: CH_BOND}(r, sig, input, claimed);
        enc[enc.length - 1] ^= 0x01;
        // The program's input list is hashed in the program.
        input.inputs[0].name = "X";
        vm.expectRevert(InferenceDispute.IoMismatch.selector);
        dispute.open{value: CH_BOND}(r, sig, input, claimed);
        input.inputs[0].name = "x";
        input.proofs[0][0] = keccak256("wrong");
        vm.expectRevert(InferenceDispute.BadProof.selector);
        dispute.open{value: CH_BOND}(r, sig, input, claimed);
        input = inputOf(mlp, sc);
        input.encoding = new bytes(65_537);
        vm.expectRevert(abi.encodeWithSelector(InferenceDispute.IoTooLarge.selector, 65_537));
        dispute.open{value: CH_BOND}(r, sig, input, claimed);
        input = inputOf(mlp, sc);
        vm.stopPrank();
        // A model without a program.
        Receipt memory other = receiptOf(mlp, sc);
        other.model = keccak256("no program");
        bytes memory otherSig = signReceipt(other);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(InferenceDispute.NoProgram.selector, other.model));
        dispute.open{value: CH_BOND}(other, otherSig, input, claimed);
        // After the window.
        vm.warp(RECEIPT_TS / 1000 + DISPUTE_WINDOW + 1);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(InferenceDispute.WindowClosed.selector, RECEIPT_TS / 1000 + DISPUTE_WINDOW)
        );
        dispute.open{value: CH_BOND}(r, sig, input, claimed);
    }

    function test_open_once_per_challenger_and_needs_collateral() public {
        bytes32 id = open(mlp, "lyingOperator");
        Receipt memory r = receiptOf(mlp, "lyingOperator");
        CallInputs memory input = inputOf(mlp, "lyingOperator");
        bytes32 claimed = claimedOf(mlp, "lyingOperator");
        address ch = challengerOf(mlp);
        vm.deal(ch, 1 ether);
        bytes memory sig = signReceipt(r);
        vm.prank(ch);
        vm.expectRevert(abi.encodeWithSelector(InferenceDispute.GameExists.selector, id));
        dispute.open{value: CH_BOND}(r, sig, input, claimed);
        // An operator whose free stake does not cover a game's bond and price cannot be disputed: its
        // receipts are not worth calling for (docs/PROTOCOL.md §9.5).
        InferenceDispute thin = new InferenceDispute(
            IReceiptOracle(address(oracle)), judge, CH_BOND, OP_BOND, CLOCK, DISPUTE_WINDOW, UNSTAKE_DELAY
        );
        vm.startPrank(operator);
        thin.commitProgram(model(mlp), program(mlp));
        thin.stake{value: OP_BOND}();
        vm.stopPrank();
        vm.deal(stranger, 1 ether);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(InferenceDispute.Undercollateralized.selector, OP_BOND + PRICE, OP_BOND));
        thin.open{value: CH_BOND}(r, sig, input, claimed);
    }

    // ------------------------------------------------------------------ moves and clocks

    /// @dev The next call, sent as `who`, must revert with `err`.
    function _revertsAs(address who, bytes memory err) internal {
        vm.prank(who);
        vm.expectRevert(err);
    }

    function _wrongPhase(InferenceDispute.Phase p) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(InferenceDispute.WrongPhase.selector, p);
    }

    /// @dev Sends move `i` of the MLP scenario `sc`, which must succeed.
    function _move(string memory sc, uint256 i, string memory what) internal {
        (bool ok,) = send(mlp, sc, i);
        vm.assertTrue(ok, what);
    }

    function test_moves_check_turn_and_phase() public {
        string memory sc = "lyingOperator";
        bytes32 id = open(mlp, sc);
        bytes[] memory m = moves(mlp, sc);
        address ch = challengerOf(mlp);
        bytes memory notYourTurn = abi.encodeWithSelector(InferenceDispute.NotYourTurn.selector);
        // The challenger cannot defend; the operator cannot skip to bisect.
        vm.prank(ch);
        (bool ok,) = address(dispute).call(m[0]);
        vm.assertFalse(ok, "challenger defends");
        vm.prank(operator);
        (ok,) = address(dispute).call(m[1]);
        vm.assertFalse(ok, "bisect before defend");
        _revertsAs(ch, _wrongPhase(InferenceDispute.Phase.Defend));
        dispute.choose(id, true);
        _move(sc, 0, "defend");
        // Only the operator bisects, only the challenger chooses.
        _revertsAs(stranger, notYourTurn);
        dispute.bisect(id, bytes32(0));
        _revertsAs(operator, notYourTurn);
        dispute.choose(id, true);
        _move(sc, 1, "bisect");
        // A posted midpoint waits for the challenger.
        _revertsAs(operator, notYourTurn);
        dispute.bisect(id, bytes32(0));
        _revertsAs(ch, _wrongPhase(InferenceDispute.Phase.Bisect));
        dispute.pick(id, true);
        _revertsAs(operator, notYourTurn);
        dispute.reveal(id, 0, bytes32(0), new bytes32[](0), bytes32(0));
        // The challenger agrees; at hi - lo >= 2 the operator must bisect, not reveal.
        _move(sc, 2, "choose");
        _revertsAs(operator, _wrongPhase(InferenceDispute.Phase.Bisect));
        dispute.reveal(id, 0, bytes32(0), new bytes32[](0), bytes32(0));
    }

    function test_defend_checks() public {
        string memory sc = "lyingOperator";
        bytes32 id = open(mlp, sc);
        (, CallOutputs memory out) = abi.decode(_args(moves(mlp, sc)[0]), (bytes32, CallOutputs));
        vm.startPrank(operator);
        CallOutputs memory bad = out;
        bad.finalRoot = keccak256("other");
        vm.expectRevert(InferenceDispute.BadProof.selector);
        dispute.defend(id, bad);
        bad = abi.decode(abi.encode(out), (CallOutputs));
        bad.encoding[bad.encoding.length - 1] ^= 0x01;
        vm.expectRevert(InferenceDispute.HashMismatch.selector);
        dispute.defend(id, bad);
        bad = abi.decode(abi.encode(out), (CallOutputs));
        bad.outputs[0].slot += 1;
        vm.expectRevert(InferenceDispute.IoMismatch.selector);
        dispute.defend(id, bad);
        vm.stopPrank();
    }

    function test_operator_clock_runs_out() public {
        bytes32 id = open(mlp, "lyingChallenger");
        vm.expectRevert(abi.encodeWithSelector(InferenceDispute.ClockRunning.selector, block.timestamp + CLOCK));
        dispute.timeout(id);
        vm.warp(block.timestamp + CLOCK + 1);
        // Too late to move, and anyone may end the game.
        vm.prank(operator);
        (bool ok,) = address(dispute).call(moves(mlp, "lyingChallenger")[0]);
        vm.assertFalse(ok, "late move");
        uint256 before = dispute.stakeOf(operator).free + OP_BOND + PRICE;
        vm.prank(stranger);
        dispute.timeout(id);
        // An honest operator that does not answer loses like a liar.
        _assertChallengerWon(mlp, id, before);
        vm.expectRevert(_wrongPhase(InferenceDispute.Phase.ChallengerWon));
        dispute.timeout(id);
    }

    function test_challenger_clock_runs_out() public {
        string memory sc = "lyingOperator";
        bytes32 id = open(mlp, sc);
        send(mlp, sc, 0);
        send(mlp, sc, 1);
        InferenceDispute.Game memory g = dispute.getGame(id);
        vm.assertEq(g.operatorClock, CLOCK - 2 * THINK, "operator's clock charged");
        vm.assertEq(g.challengerClock, CLOCK);
        vm.assertFalse(dispute.operatorToMove(id));
        vm.warp(block.timestamp + CLOCK + 1);
        uint256 before = dispute.stakeOf(operator).free + OP_BOND + PRICE;
        dispute.timeout(id);
        _assertOperatorWon(mlp, id, before);
    }

    /// Chess clocks: time is charged only to the side to move; a side may use its whole clock (to the
    /// second) and no more, and what it uses never comes off the other side's clock.
    function test_clocks_are_per_side() public {
        string memory sc = "lyingOperator";
        uint256 t0 = block.timestamp;
        bytes32 id = open(mlp, sc);
        bytes memory defendCall = moves(mlp, sc)[0];
        vm.warp(t0 + CLOCK + 1);
        vm.prank(operator);
        (bool ok,) = address(dispute).call(defendCall);
        vm.assertFalse(ok, "one second late");
        vm.warp(t0 + CLOCK);
        vm.prank(operator);
        (ok,) = address(dispute).call(defendCall);
        vm.assertTrue(ok, "just in time");
        InferenceDispute.Game memory g = dispute.getGame(id);
        vm.assertEq(g.operatorClock, 0);
        vm.assertEq(g.challengerClock, CLOCK);
        // The operator's next move is due in this very block.
        vm.warp(block.timestamp + 1);
        dispute.timeout(id);
        vm.assertTrue(_phase(id) == InferenceDispute.Phase.ChallengerWon);
    }

    function test_step_checks_and_anyone_may_send_the_winning_step() public {
        string memory sc = "lyingOperator";
        bytes32 id = open(mlp, sc);
        bytes[] memory m = moves(mlp, sc);
        for (uint256 i; i + 1 < m.length; ++i) {
            (bool ok,) = send(mlp, sc, i);
            vm.assertTrue(ok);
        }
        (, bytes memory node, bytes32[] memory nodeProof, Operand[] memory ops, uint8 elem) =
            abi.decode(_args(m[m.length - 1]), (bytes32, bytes, bytes32[], Operand[], uint8));
        // A wrong node proof, a wrong operand proof, and a correct element do not decide.
        bytes32[] memory badProof = new bytes32[](nodeProof.length);
        vm.expectRevert(InferenceDispute.BadProof.selector);
        dispute.step(id, node, badProof, ops, elem);
        Operand[] memory badOps = abi.decode(abi.encode(ops), (Operand[]));
        badOps[0].dataRoot = keccak256("x");
        vm.expectRevert(InferenceDispute.BadProof.selector);
        dispute.step(id, node, nodeProof, badOps, elem);
        vm.expectRevert(InferenceDispute.BadShape.selector);
        dispute.step(id, node, nodeProof, ops, 200);
        // A third party front-runs the winning step: the payouts still go to the game's parties.
        vm.prank(stranger);
        dispute.step(id, node, nodeProof, ops, elem);
        vm.assertTrue(_phase(id) == InferenceDispute.Phase.ChallengerWon);
        vm.assertEq(dispute.credits(stranger), 0);
        vm.assertEq(dispute.credits(challengerOf(mlp)), CH_BOND + OP_BOND);
    }

    function test_losing_step_is_not_decisive() public {
        string memory sc = "lyingChallenger";
        bytes32 id = open(mlp, sc);
        bytes[] memory m = moves(mlp, sc);
        for (uint256 i; i + 1 < m.length; ++i) {
            send(mlp, sc, i);
        }
        vm.prank(challengerOf(mlp));
        (bool ok, bytes memory ret) = address(dispute).call(m[m.length - 1]);
        vm.assertFalse(ok);
        vm.assertEq(bytes32(ret), bytes32(InferenceDispute.NotDecisive.selector));
        vm.assertTrue(_phase(id) == InferenceDispute.Phase.Step);
    }

    function test_reveal_and_tiles_check_proofs() public {
        string memory sc = "lyingOperator";
        bytes32 id = open(mlp, sc);
        string[] memory kinds = Json.vm.parseJsonStringArray(mlp, key(sc, "kinds"));
        bytes[] memory m = moves(mlp, sc);
        uint256 i;
        while (keccak256(bytes(kinds[i])) != keccak256("reveal")) {
            send(mlp, sc, i++);
        }
        (, uint256 shape, bytes32 root, bytes32[] memory proof, bytes32 leaf) =
            abi.decode(_args(m[i]), (bytes32, uint256, bytes32, bytes32[], bytes32));
        vm.startPrank(operator);
        vm.expectRevert(InferenceDispute.BadProof.selector);
        dispute.reveal(id, shape, keccak256("other root"), proof, leaf);
        vm.expectRevert(InferenceDispute.BadShape.selector);
        dispute.reveal(id, shape | 1, root, proof, leaf);
        vm.expectRevert(InferenceDispute.BadProof.selector);
        dispute.reveal(id, shape, root, new bytes32[](1), leaf);
        dispute.reveal(id, shape, root, proof, leaf);
        (, bytes32 l, bytes32 r) = abi.decode(_args(m[i + 1]), (bytes32, bytes32, bytes32));
        vm.expectRevert(InferenceDispute.BadProof.selector);
        dispute.revealTiles(id, r, l);
        dispute.revealTiles(id, l, r);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------ refunds, collusion

    /// Two challengers over the same lying receipt: both win their bonds, the client is refunded once.
    function test_refund_once_per_receipt() public {
        string memory sc = "lyingOperator";
        bytes32 first = play(mlp, sc);
        vm.assertTrue(_phase(first) == InferenceDispute.Phase.ChallengerWon);
        Receipt memory r = receiptOf(mlp, sc);
        bytes memory sig = signReceipt(r);
        CallInputs memory input = inputOf(mlp, sc);
        vm.deal(stranger, 1 ether);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(
                InferenceDispute.AlreadyRefunded.selector, Json.vm.parseJsonBytes32(mlp, key(sc, "receiptHash"))
            )
        );
        dispute.open{value: CH_BOND}(r, sig, input, claimedOf(mlp, sc));
    }

    function test_concurrent_games_refund_once() public {
        string memory sc = "lyingOperator";
        uint256 before = dispute.stakeOf(operator).free;
        bytes32 a = open(mlp, sc);
        bytes32 b = openAs(mlp, sc, stranger);
        vm.assertEq(dispute.stakeOf(operator).locked, 2 * (OP_BOND + PRICE));
        // The stranger does nothing; the operator never answers it: it loses both.
        vm.warp(block.timestamp + CLOCK + 1);
        dispute.timeout(a);
        dispute.timeout(b);
        vm.assertEq(dispute.credits(clientOf(mlp)), PRICE, "refunded once");
        vm.assertEq(dispute.credits(stranger), CH_BOND + OP_BOND);
        vm.assertEq(dispute.stakeOf(operator).free, before - 2 * OP_BOND - PRICE);
        _solvent();
    }

    /// A challenger colluding with a lying operator opens first and throws its game: the client's own game
    /// over the same receipt still wins and is refunded.
    function test_colluding_challenger_cannot_shield_the_operator() public {
        string memory sc = "lyingOperator";
        bytes32 thrown = openAs(mlp, sc, stranger);
        bytes[] memory m = moves(mlp, sc);
        vm.startPrank(operator);
        (bool ok,) = address(dispute).call(_withId(m[0], thrown));
        vm.assertTrue(ok, "defend the colluder's game");
        (ok,) = address(dispute).call(_withId(m[1], thrown));
        vm.assertTrue(ok, "bisect");
        vm.stopPrank();
        // The colluder never chooses.
        vm.warp(block.timestamp + CLOCK + 1);
        dispute.timeout(thrown);
        vm.assertTrue(_phase(thrown) == InferenceDispute.Phase.OperatorWon);
        bytes32 id = play(mlp, sc);
        vm.assertTrue(_phase(id) == InferenceDispute.Phase.ChallengerWon);
        vm.assertEq(dispute.credits(clientOf(mlp)), PRICE);
    }

    /// Refunds do not depend on the epoch: the operator's stake pays even after the UsageOracle finalized
    /// (the game contract never calls the vault).
    function test_refund_is_independent_of_finalization() public {
        bytes32 id = play(mlp, "lyingOperator");
        vm.assertTrue(_phase(id) == InferenceDispute.Phase.ChallengerWon);
        vm.assertEq(address(vault).balance, 0);
        vm.assertEq(dispute.credits(clientOf(mlp)), PRICE);
    }

    // ------------------------------------------------------------------ helpers

    /// @dev Calldata without its selector.
    function _args(bytes memory data) internal pure returns (bytes memory out) {
        out = new bytes(data.length - 4);
        for (uint256 i; i < out.length; ++i) {
            out[i] = data[i + 4];
        }
    }

    /// @dev The same call for another game id (the id is the first argument).
    function _withId(bytes memory data, bytes32 id) internal pure returns (bytes memory out) {
        out = data;
        assembly ("memory-safe") {
            mstore(add(out, 36), id)
        }
    }
}
