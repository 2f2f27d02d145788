// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Fixture} from "../utils/Fixture.sol";
import {Handler} from "./Handler.sol";
import {UsageOracle} from "../../src/UsageOracle.sol";
import {ModelToken} from "../../src/ModelToken.sol";
import {ClientTotal} from "../../src/Types.sol";

/// @notice System invariants under random sequences of handler actions (see foundry.toml for runs/depth).
contract SystemInvariantTest is Fixture {
    Handler handler;
    ModelToken[2] toks;

    function setUp() public override {
        super.setUp();
        bytes32[2] memory ms = [modelId(1), modelId(2)];
        toks = [register(ms[0]), register(ms[1])];
        uint256[3] memory pks = [clientKey(1), clientKey(2), clientKey(3)];
        address[4] memory holders = [publisher, makeAddr("h1"), makeAddr("h2"), makeAddr("h3")];
        handler = new Handler(oracle, admin, OPERATOR_PK, ms, toks, pks, holders);
        // the operator key must be able to attest from the handler's pranks; fund clients a little up front
        for (uint256 i; i < 3; ++i) {
            handler.deposit(i, 5 ether);
            handler.raiseCap(i, 5 ether);
        }
        bytes4[] memory sel = new bytes4[](25);
        sel[0] = Handler.deposit.selector;
        sel[1] = Handler.raiseCap.selector;
        sel[2] = Handler.requestWithdrawal.selector;
        sel[3] = Handler.withdraw.selector;
        sel[4] = Handler.attest.selector;
        sel[5] = Handler.attest.selector; // attest twice as often
        sel[6] = Handler.challengeHonest.selector;
        sel[7] = Handler.resolve.selector;
        sel[8] = Handler.warp.selector;
        sel[9] = Handler.finalize.selector;
        sel[10] = Handler.unwind.selector;
        sel[11] = Handler.withdrawCredits.selector;
        sel[12] = Handler.claimFees.selector;
        sel[13] = Handler.transfer.selector;
        sel[14] = Handler.claim.selector;
        sel[15] = Handler.claimBatch.selector;
        sel[16] = Handler.burn.selector;
        // weight the path attest -> time -> finalize -> claim
        sel[17] = Handler.warp.selector;
        sel[18] = Handler.warp.selector;
        sel[19] = Handler.finalize.selector;
        sel[20] = Handler.claim.selector;
        sel[21] = Handler.claimBatch.selector;
        sel[22] = Handler.attestAfterWithdrawal.selector;
        sel[23] = Handler.rotateOperator.selector;
        sel[24] = Handler.thief.selector;
        targetOnly(address(handler), sel);
    }

    /// Vault solvency: ETH held covers every client balance, all escrowed spend and unpaid fees.
    function invariant_vaultSolvent() public view {
        vm.assertGe(address(vault).balance, vault.totalBalances() + vault.escrowed() + vault.feesOwed());
        uint256 sum;
        for (uint256 i; i < 3; ++i) {
            sum += vault.balanceOf(handler.clients(i));
        }
        vm.assertEq(sum, vault.totalBalances(), "client balances");
    }

    /// Escrow equals what attestations posted or voided but not unwound escrowed (their totals less their
    /// shortfalls), plus what finalizing ones have not paid out yet.
    function invariant_escrowMatchesOpenAttestations() public view {
        uint256 open;
        for (uint256 i; i < handler.epochCount(); ++i) {
            UsageOracle.Attestation memory a = oracle.getAttestation(handler.epochs(i));
            if (a.status == UsageOracle.Status.Posted || a.status == UsageOracle.Status.Voided) {
                open += a.total - a.shortfall;
            } else if (a.status == UsageOracle.Status.Finalizing) {
                uint256 escrow = a.total - a.shortfall; // paid first, then the cover
                open += a.paidOut < escrow ? escrow - a.paidOut : 0;
            }
        }
        vm.assertEq(vault.escrowed(), open, "escrow");
    }

    /// A shortfall is exactly the clients' unescrowed spend and costs the operator exactly that: its fee
    /// absorbs it first, the cover it paid in at attest the rest; a finalized epoch pays every model its full
    /// net revenue (tokens + fee = escrow + cover), so one client's shortfall never reaches the holders or the
    /// other clients' revenue.
    function invariant_shortfallCostsTheOperatorExactly() public view {
        for (uint256 i; i < handler.epochCount(); ++i) {
            uint64 e = handler.epochs(i);
            UsageOracle.Attestation memory a = oracle.getAttestation(e);
            if (a.status == UsageOracle.Status.None) continue;
            ClientTotal[] memory cs = handler.epochClients(e);
            bytes32 key = bytes32((uint256(e) << 32) | a.round);
            uint256 short;
            for (uint256 k; k < cs.length; ++k) {
                uint256 s = vault.shortfallOf(key, cs[k].client);
                vm.assertLe(s, cs[k].total, "shortfall > client spend");
                short += s;
            }
            vm.assertEq(short, a.shortfall, "shortfall != unescrowed spend");
            uint256 fee = handler.ghostAttestedFee(e);
            vm.assertEq(a.cover, a.shortfall > fee ? a.shortfall - fee : 0, "cover = shortfall beyond the fee");
            if (a.status != UsageOracle.Status.Finalized) continue;
            vm.assertEq(handler.ghostEpochPaid(e), a.total - fee, "every model paid its full net revenue");
            vm.assertEq(handler.ghostEpochPaid(e) + handler.ghostEpochFee(e), a.total - a.shortfall + a.cover, "payout");
            vm.assertEq(handler.ghostEpochFee(e) + a.shortfall, fee + a.cover, "the operator bears the shortfall");
        }
    }

    /// Rotated-out keys: a thief holding them voids nothing posted after their revocation; copiers of
    /// pending proofs never win; a finished finalize batch is never accepted twice.
    function invariant_revokedKeysAndCopiersBounded() public view {
        vm.assertEq(handler.ghostThiefBeyondBound(), 0, "revoked key beyond its bound");
        vm.assertEq(handler.watcher().copier().wins(), 0, "copier won");
        vm.assertEq(handler.ghostBatchReplays(), 0, "batch replayed");
    }

    /// The oracle holds exactly every credit, every burned wei, the bonds of attestations not settled yet
    /// and of open challenges, and the shortfall covers it has not paid out yet.
    function invariant_oracleSolvent() public view {
        uint256 held;
        for (uint256 i; i < handler.epochCount(); ++i) {
            UsageOracle.Attestation memory a = oracle.getAttestation(handler.epochs(i));
            uint256 escrow = a.total - a.shortfall;
            if (a.status == UsageOracle.Status.Posted) {
                held += oracle.attestBond() + a.cover;
            } else if (a.status == UsageOracle.Status.Finalizing) {
                held += oracle.attestBond() + (a.paidOut > escrow ? a.cover - (a.paidOut - escrow) : a.cover);
            }
        }
        for (uint256 id; id < oracle.challengeCount(); ++id) {
            if (oracle.getChallenge(id).status == UsageOracle.ChallengeStatus.Open) held += oracle.challengeBond();
        }
        vm.assertEq(address(oracle).balance, oracle.totalCredits() + oracle.burned() + held, "oracle books");
    }

    /// A client never loses more than it authorised: what left its balance other than by its own
    /// withdrawals is exactly its escrowed spend, which never exceeds its signed cap.
    function invariant_clientNeverLosesMoreThanAuthorised() public view {
        for (uint256 i; i < 3; ++i) {
            address c = handler.clients(i);
            uint256 lost = handler.ghostDeposited(c) - handler.ghostWithdrawn(c) - vault.balanceOf(c);
            vm.assertEq(lost, vault.spentOf(c), "lost != spent");
            vm.assertLe(vault.spentOf(c), vault.capOf(c), "spent > cap");
        }
    }

    /// No double claim, and claims of a snapshot never exceed its revenue.
    function invariant_claimsBounded() public view {
        vm.assertEq(handler.ghostDoubleClaims(), 0, "double claim");
        for (uint256 t; t < 2; ++t) {
            ModelToken tok = toks[t];
            for (uint256 id = 1; id <= tok.currentSnapshotId(); ++id) {
                vm.assertLe(handler.ghostClaimedPerSnapshot(address(tok), id), tok.snapshotRevenue(id), "claims > rev");
            }
            vm.assertEq(
                address(tok).balance,
                tok.pendingClaimable() + tok.claimPool() + tok.redeemPool() + tok.unbookedRevenue(),
                "token books"
            );
            vm.assertEq(tok.unbookedRevenue(), 0, "finalize books everything it pays");
        }
    }

    /// Finalize pays exactly once: each token holds exactly what finalizations paid it minus what left.
    function invariant_finalizePaysExactlyOnce() public view {
        vm.assertEq(handler.ghostDoubleFinalizes(), 0, "double finalize");
        for (uint256 t; t < 2; ++t) {
            address tok = address(toks[t]);
            vm.assertEq(
                address(tok).balance + handler.ghostClaimedOut(tok) + handler.ghostRedeemedOut(tok),
                handler.ghostPaidIn(tok),
                "token inflow != finalized revenue"
            );
        }
    }

    /// A false attestation always loses to a valid challenge; a true one always survives (except against a
    /// thief holding a key revoked after it was posted: the documented bound of key rotation).
    function invariant_disputesDecideCorrectly() public view {
        vm.assertEq(handler.ghostFalseSurvivedHunt(), 0, "false attestation survived");
        vm.assertEq(handler.ghostFalseFinalized(), 0, "false attestation finalized");
        vm.assertEq(handler.ghostHonestVoided(), 0, "true attestation voided");
        for (uint256 i; i < handler.epochCount(); ++i) {
            uint64 e = handler.epochs(i);
            (bool isFalse,, bool thiefVoided,) = handler.info(e);
            if (!isFalse && !thiefVoided) {
                vm.assertTrue(oracle.getAttestation(e).status != UsageOracle.Status.Voided, "honest voided");
            }
        }
    }

    /// Deterministic walk through the handler, so a broken handler cannot make the invariants vacuous.
    function test_handlerExercisesEverything() public {
        for (uint256 i; i < 12; ++i) {
            handler.attest(uint256(keccak256(abi.encode(i))), 4, i % 2 == 0 ? 9 : i % 8);
            if (i == 2 || i == 8) {
                handler.attestAfterWithdrawal(i, i);
                handler.deposit(i, 5 ether); // the client comes back
            }
            if (i == 4 || i == 10) handler.rotateOperator(i);
            if (handler.epochCount() != 0) handler.thief(i, handler.epochCount() - 1); // newest, before or after a rotation
            handler.challengeHonest(handler.epochCount() - 1, i, i % 3 == 0);
            handler.warp(60);
            handler.warp(60);
            handler.finalize(i, 1); // one model per batch
            handler.finalize(i, 2);
            handler.unwind(i);
            handler.transfer(i, 0, i + 1, 100 ether);
            handler.claim(i, i, 1);
            handler.claimBatch(i + 1, 0);
            handler.burn(i, 0, 1 ether);
        }
        for (uint256 i; i < handler.epochCount(); ++i) {
            handler.finalize(i, 1);
            handler.finalize(i, 2);
            handler.unwind(i);
        }
        vm.assertGe(handler.calls("attestTrue"), 5, "honest attestations");
        vm.assertGe(handler.calls("attestFalse"), 5, "false attestations");
        vm.assertEq(handler.calls("attestLate"), 2, "late attestations");
        vm.assertGe(handler.ghostShortfallEpochs(), 2, "shortfalls");
        vm.assertGe(handler.ghostFalseVoided(), 4, "lies voided by the watcher");
        vm.assertGe(handler.ghostFinalized(), 5, "finalized");
        vm.assertGt(handler.calls("finalizeBatch"), handler.calls("finalize"), "several batches per epoch");
        vm.assertGe(handler.calls("unwind"), 5, "unwound");
        vm.assertGe(handler.calls("challengeHonest"), 3, "challenges");
        vm.assertGe(handler.ghostClaims() + handler.calls("claimBatch"), 3, "claims");
        vm.assertEq(handler.revokedCount(), 2, "rotations");
        vm.assertGe(handler.ghostThiefWins(), 1, "thief within its bound");
        vm.assertGe(handler.calls("thief"), 3, "thief attempts");
        vm.assertGe(handler.watcher().copier().attempts(), 4, "copier attempts");
        invariant_vaultSolvent();
        invariant_escrowMatchesOpenAttestations();
        invariant_shortfallCostsTheOperatorExactly();
        invariant_revokedKeysAndCopiersBounded();
        invariant_oracleSolvent();
        invariant_clientNeverLosesMoreThanAuthorised();
        invariant_claimsBounded();
        invariant_finalizePaysExactlyOnce();
        invariant_disputesDecideCorrectly();
    }

    /// Print how often each action ran (visible with -vv), to check the runs are not vacuous.
    function afterInvariant() public {
        emit log_named_uint("epochs attested", handler.epochCount());
        emit log_named_uint("false posted", handler.ghostFalsePosted());
        emit log_named_uint("voided by watcher", handler.ghostFalseVoided());
        emit log_named_uint("finalized", handler.ghostFinalized());
        emit log_named_uint("claims", handler.ghostClaims());
        emit log_named_uint("challenges", oracle.challengeCount());
        emit log_named_uint("attestTrue calls", handler.calls("attestTrue"));
        emit log_named_uint("unwind calls", handler.calls("unwind"));
        emit log_named_uint("claimBatch calls", handler.calls("claimBatch"));
        emit log_named_uint("withdraw calls", handler.calls("withdraw"));
        emit log_named_uint("burn calls", handler.calls("burn"));
        emit log_named_uint("finalize batches", handler.calls("finalizeBatch"));
        emit log_named_uint("epochs with a shortfall", handler.ghostShortfallEpochs());
        emit log_named_uint("key rotations", handler.revokedCount());
        emit log_named_uint("thief attempts", handler.calls("thief"));
        emit log_named_uint("thief wins (posted before revocation)", handler.ghostThiefWins());
        emit log_named_uint("copier attempts", handler.watcher().copier().attempts());
    }

    event log_named_uint(string key, uint256 val);
}
