// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {DisputeFixture} from "../utils/DisputeFixture.sol";
import {DisputeHandler} from "./DisputeHandler.sol";
import {Json} from "../utils/VmJson.sol";
import {Receipt} from "../../src/Types.sol";
import {InferenceDispute} from "../../src/InferenceDispute.sol";

/// @notice Invariants of the dispute game under random interleavings of games (both models, every
///         scripted scenario, three challengers per receipt), time, timeouts, stake and withdrawals.
contract DisputeInvariantTest is DisputeFixture {
    DisputeHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new DisputeHandler(dispute, operator, clientOf(mlp));
        string[3] memory scs = ["lyingOperator", "lyingChallenger", "wrongShape"];
        string[2] memory files = [mlp, cnn];
        for (uint256 f; f < 2; ++f) {
            for (uint256 i; i < 3; ++i) {
                Receipt memory r = receiptOf(files[f], scs[i]);
                handler.addScenario(
                    r,
                    signReceipt(r),
                    inputOf(files[f], scs[i]),
                    claimedOf(files[f], scs[i]),
                    moves(files[f], scs[i]),
                    senders(files[f], scs[i]),
                    operatorWins(files[f], scs[i])
                );
            }
        }
        // The operator's 10 ether from the fixture counts as money in.
        bytes4[] memory sel = new bytes4[](12);
        sel[0] = DisputeHandler.open.selector;
        sel[1] = DisputeHandler.advance.selector;
        sel[2] = DisputeHandler.advance.selector;
        sel[3] = DisputeHandler.advance.selector;
        sel[4] = DisputeHandler.advance.selector;
        sel[5] = DisputeHandler.warp.selector;
        sel[6] = DisputeHandler.timeout.selector;
        sel[7] = DisputeHandler.stake.selector;
        sel[8] = DisputeHandler.requestUnstake.selector;
        sel[9] = DisputeHandler.unstake.selector;
        sel[10] = DisputeHandler.withdrawCredits.selector;
        sel[11] = DisputeHandler.open.selector;
        targetOnly(address(handler), sel);
    }

    /// The handler is not vacuous: a deterministic walk plays every scenario to its end with both outcomes,
    /// refunds the client and pays everyone out.
    function test_handler_reaches_every_outcome() public {
        uint256 n = handler.scenarioCount();
        for (uint256 sc; sc < n; ++sc) {
            handler.open(sc, 0);
        }
        handler.open(0, 1); // a second challenger over the lying MLP receipt
        vm.assertEq(handler.gameCount(), n + 1);
        for (uint256 round; round < 40; ++round) {
            for (uint256 g; g < n + 1; ++g) {
                handler.advance(g);
            }
        }
        handler.warp(CLOCK + 1);
        for (uint256 g; g < n + 1; ++g) {
            handler.timeout(g);
        }
        uint256 won;
        uint256 lost;
        for (uint256 g; g < n + 1; ++g) {
            InferenceDispute.Phase ph = dispute.getGame(handler.games(g)).phase;
            if (ph == InferenceDispute.Phase.OperatorWon) ++won;
            if (ph == InferenceDispute.Phase.ChallengerWon) ++lost;
        }
        vm.assertEq(won, 2, "the honest operator's two games");
        vm.assertEq(lost, n - 1, "the liars' games");
        for (uint256 w; w < 5; ++w) {
            handler.withdrawCredits(w);
        }
        vm.assertEq(handler.clientWithdrawn(), 4 * PRICE, "one refund per lying receipt");
        vm.assertEq(handler.wrongOutcomes(), 0);
        invariant_bondsAndRefundsSumToWhatWasPosted();
        invariant_refundedOncePerReceipt();
        invariant_lockedMatchesOpenGames();
    }

    /// Every wei posted (stake, bonds) is held or was paid out: held = stake + open bonds + credits.
    /// forge-config: default.invariant.runs = 48
    /// forge-config: default.invariant.depth = 64
    function invariant_bondsAndRefundsSumToWhatWasPosted() public view {
        uint256 held = address(dispute).balance;
        vm.assertEq(held, dispute.totalStake() + dispute.openBonds() + dispute.totalCredits(), "books");
        vm.assertEq(held + handler.ghostOut(), 10 ether + handler.ghostIn(), "in = held + out");
    }

    /// The client is refunded at most once per receipt: its credits plus withdrawals are the price times
    /// the number of refunded receipts.
    /// forge-config: default.invariant.runs = 48
    /// forge-config: default.invariant.depth = 64
    function invariant_refundedOncePerReceipt() public view {
        string[3] memory scs = ["lyingOperator", "lyingChallenger", "wrongShape"];
        string[2] memory files = [mlp, cnn];
        uint256 n;
        for (uint256 f; f < 2; ++f) {
            for (uint256 i; i < 3; ++i) {
                if (dispute.refunded(Json.vm.parseJsonBytes32(files[f], key(scs[i], "receiptHash")))) ++n;
            }
        }
        vm.assertEq(dispute.credits(clientOf(mlp)) + handler.clientWithdrawn(), n * PRICE, "one refund per receipt");
    }

    /// A game played to its last move ends as the rules say: a lying operator loses to the step, an honest
    /// operator's challenger's step never wins.
    /// forge-config: default.invariant.runs = 48
    /// forge-config: default.invariant.depth = 64
    function invariant_liarsNeverWinPlayedGames() public view {
        vm.assertEq(handler.wrongOutcomes(), 0);
    }

    /// Locked stake is exactly the open games' bonds and prices.
    /// forge-config: default.invariant.runs = 48
    /// forge-config: default.invariant.depth = 64
    function invariant_lockedMatchesOpenGames() public view {
        uint256 open;
        uint256 n = handler.gameCount();
        for (uint256 i; i < n; ++i) {
            InferenceDispute.Game memory g = dispute.getGame(handler.games(i));
            if (g.phase != InferenceDispute.Phase.OperatorWon && g.phase != InferenceDispute.Phase.ChallengerWon) {
                open += OP_BOND + g.price;
            }
        }
        vm.assertEq(dispute.stakeOf(operator).locked, open, "locked");
        vm.assertEq(dispute.openBonds() * (OP_BOND + PRICE), open * CH_BOND, "bonds of open games");
    }
}
