// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Vm} from "../utils/Vm.sol";
import {Receipt} from "../../src/Types.sol";
import {InferenceDispute} from "../../src/InferenceDispute.sol";
import {CallInputs} from "../../src/judge/JudgeTypes.sol";

/// @notice Random actions on the dispute game: games over the scripted receipts (both models, every
///         scenario) opened by any of three challengers, their scripted moves in order, time passing, timeouts,
///         stake deposits and withdrawals, credit withdrawals. Ghost sums of every wei in and out.
contract DisputeHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    struct Scenario {
        Receipt receipt;
        bytes signature;
        CallInputs input;
        bytes32 claimed;
        bytes[] moves;
        uint256[] senders;
        bool operatorWins;
    }

    struct Play {
        uint256 scenario;
        uint256 next; // next move
        address challenger;
    }

    InferenceDispute public immutable dispute;
    address public immutable operator;
    uint256 public immutable chBond;
    Scenario[] internal _scenarios;
    address[3] public challengers;
    bytes32[] public games;
    mapping(bytes32 => Play) public plays;
    address public client;

    uint256 public ghostIn; // stake deposited + challenger bonds
    uint256 public ghostOut; // unstaked + credits withdrawn
    uint256 public clientWithdrawn;
    /// @dev Fully played games whose outcome is not the script's (must stay 0).
    uint256 public wrongOutcomes;

    constructor(InferenceDispute dispute_, address operator_, address client_) {
        dispute = dispute_;
        operator = operator_;
        client = client_;
        chBond = dispute_.challengerBond();
        // The scripted challenger (test/vectors), and two others whose game ids differ.
        challengers = [0xC4c4c4C4C4c4C4c4c4C4c4c4c4c4c4C4c4c4c4C4, address(0xA1), address(0xA2)];
    }

    function addScenario(
        Receipt memory r,
        bytes memory sig,
        CallInputs memory input,
        bytes32 claimed,
        bytes[] memory moves,
        uint256[] memory senders,
        bool operatorWins
    ) external {
        Scenario storage s = _scenarios.push();
        s.receipt = r;
        s.signature = sig;
        s.claimed = claimed;
        s.operatorWins = operatorWins;
        s.input.encoding = input.encoding;
        for (uint256 i; i < input.inputs.length; ++i) {
            s.input.inputs.push(input.inputs[i]);
            s.input.proofs.push(input.proofs[i]);
        }
        for (uint256 i; i < moves.length; ++i) {
            s.moves.push(moves[i]);
            s.senders.push(senders[i]);
        }
    }

    function scenarioCount() external view returns (uint256) {
        return _scenarios.length;
    }

    function gameCount() external view returns (uint256) {
        return games.length;
    }

    // ------------------------------------------------------------------ actions

    function open(uint256 sc, uint256 who) external {
        Scenario storage s = _scenarios[sc % _scenarios.length];
        address ch = challengers[who % 3];
        vm.deal(ch, ch.balance + chBond);
        vm.prank(ch);
        try dispute.open{value: chBond}(s.receipt, s.signature, s.input, s.claimed) returns (bytes32 id) {
            ghostIn += chBond;
            games.push(id);
            plays[id] = Play(sc % _scenarios.length, 0, ch);
        } catch {}
    }

    function advance(uint256 g) external {
        if (games.length == 0) return;
        bytes32 id = games[g % games.length];
        Play storage p = plays[id];
        Scenario storage s = _scenarios[p.scenario];
        if (p.next >= s.moves.length) return;
        bytes memory data = s.moves[p.next];
        assembly ("memory-safe") {
            mstore(add(data, 36), id)
        }
        vm.prank(s.senders[p.next] == 0 ? operator : p.challenger);
        (bool ok,) = address(dispute).call(data);
        if (ok) p.next += 1;
        if (p.next == s.moves.length || (p.next == s.moves.length - 1 && s.operatorWins && !ok)) {
            // The last move: a liar's step wins; an honest operator's challenger's step never does.
            InferenceDispute.Phase ph = dispute.getGame(id).phase;
            if (s.operatorWins
                    ? ph == InferenceDispute.Phase.ChallengerWon && ok
                    : ph != InferenceDispute.Phase.ChallengerWon) {
                ++wrongOutcomes;
            }
        }
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + (secs % 2 hours));
    }

    function timeout(uint256 g) external {
        if (games.length == 0) return;
        try dispute.timeout(games[g % games.length]) {} catch {}
    }

    function stake(uint256 amount) external {
        amount = amount % 2 ether;
        vm.deal(operator, operator.balance + amount);
        vm.prank(operator);
        dispute.stake{value: amount}();
        ghostIn += amount;
    }

    function requestUnstake(uint256 amount) external {
        vm.prank(operator);
        dispute.requestUnstake(amount % 5 ether);
    }

    function unstake() external {
        uint256 b = operator.balance;
        vm.prank(operator);
        try dispute.unstake() {
            ghostOut += operator.balance - b;
        } catch {}
    }

    function withdrawCredits(uint256 who) external {
        address a = who % 5 == 3 ? operator : who % 5 == 4 ? client : challengers[who % 3];
        uint256 b = a.balance;
        vm.prank(a);
        try dispute.withdrawCredits() {
            ghostOut += a.balance - b;
            if (a == client) clientWithdrawn += a.balance - b;
        } catch {}
    }
}
