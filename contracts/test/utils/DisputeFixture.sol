// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Fixture} from "./Fixture.sol";
import {Json} from "./VmJson.sol";
import {Receipt} from "../../src/Types.sol";
import {InferenceDispute, IReceiptOracle} from "../../src/InferenceDispute.sol";
import {JudgeVM} from "../../src/judge/JudgeVM.sol";
import {Program, CallInputs} from "../../src/judge/JudgeTypes.sol";

/// @notice The full suite plus the dispute game, and the scripted games the Rust reference generated for
///         the two quantized test models (test/vectors/game_quant_{mlp,cnn}.json): a lying operator against
///         an honest challenger, an honest operator against a lying challenger, an operator claiming a wrong
///         output shape. Each scenario is the receipt's output hash, the call's input, and every move's
///         calldata in order.
abstract contract DisputeFixture is Fixture {
    uint256 internal constant CH_BOND = 0.05 ether;
    uint256 internal constant OP_BOND = 0.2 ether;
    uint64 internal constant CLOCK = 1 hours;
    uint64 internal constant DISPUTE_WINDOW = 1 days;
    uint64 internal constant UNSTAKE_DELAY = 1 days + 2 hours;
    uint256 internal constant PRICE = 1e15;
    uint64 internal constant RECEIPT_TS = 1_700_000_000_000;
    /// @dev Seconds each scripted move takes.
    uint256 internal constant THINK = 30;

    JudgeVM internal judge;
    InferenceDispute internal dispute;
    string internal mlp;
    string internal cnn;

    function setUp() public virtual override {
        super.setUp();
        vm.stopPrank();
        judge = new JudgeVM();
        dispute = new InferenceDispute(
            IReceiptOracle(address(oracle)), judge, CH_BOND, OP_BOND, CLOCK, DISPUTE_WINDOW, UNSTAKE_DELAY
        );
        mlp = Json.vm.readFile("test/vectors/game_quant_mlp.json");
        cnn = Json.vm.readFile("test/vectors/game_quant_cnn.json");
        vm.warp(RECEIPT_TS / 1000 + 100);
        vm.deal(operator, 100 ether);
        vm.prank(operator);
        dispute.stake{value: 10 ether}();
        commit(mlp);
        commit(cnn);
    }

    function commit(string memory json) internal {
        vm.prank(operator);
        dispute.commitProgram(model(json), program(json));
    }

    function model(string memory json) internal pure returns (bytes32) {
        return Json.vm.parseJsonBytes32(json, ".model");
    }

    function program(string memory json) internal pure returns (Program memory) {
        return abi.decode(Json.vm.parseJsonBytes(json, ".program"), (Program));
    }

    function challengerOf(string memory json) internal pure returns (address) {
        return Json.vm.parseJsonAddress(json, ".challenger");
    }

    function clientOf(string memory json) internal pure returns (address) {
        return Json.vm.parseJsonAddress(json, ".client");
    }

    function key(string memory sc, string memory field) internal pure returns (string memory) {
        return string.concat(".scenarios.", sc, ".", field);
    }

    function receiptOf(string memory json, string memory sc) internal pure returns (Receipt memory r) {
        r = Receipt({
            id: 0x0190000000000000000000000000002a,
            epoch: 472_222,
            model: model(json),
            client: clientOf(json),
            price: PRICE,
            inputHash: Json.vm.parseJsonBytes32(json, ".receipt.inputHash"),
            outputHash: Json.vm.parseJsonBytes32(json, key(sc, "outputHash")),
            fingerprint: Json.vm.parseJsonBytes32(json, ".receipt.fingerprint"),
            timestamp: RECEIPT_TS
        });
    }

    function inputOf(string memory json, string memory sc) internal pure returns (CallInputs memory) {
        return abi.decode(Json.vm.parseJsonBytes(json, key(sc, "input")), (CallInputs));
    }

    function claimedOf(string memory json, string memory sc) internal pure returns (bytes32) {
        return Json.vm.parseJsonBytes32(json, key(sc, "claimedOutputHash"));
    }

    function moves(string memory json, string memory sc) internal pure returns (bytes[] memory) {
        return Json.vm.parseJsonBytesArray(json, key(sc, "moves"));
    }

    function senders(string memory json, string memory sc) internal pure returns (uint256[] memory) {
        return Json.vm.parseJsonUintArray(json, key(sc, "senders"));
    }

    function operatorWins(string memory json, string memory sc) internal pure returns (bool) {
        return Json.vm.parseJsonBool(json, key(sc, "operatorWins"));
    }

    /// @dev Opens the scenario's game as `who` (its receipt signed by the operator).
    function openAs(string memory json, string memory sc, address who) internal returns (bytes32 id) {
        Receipt memory r = receiptOf(json, sc);
        bytes memory sig = signReceipt(r); // an external call: before the prank
        CallInputs memory input = inputOf(json, sc);
        vm.deal(who, who.balance + CH_BOND);
        vm.prank(who);
        id = dispute.open{value: CH_BOND}(r, sig, input, claimedOf(json, sc));
    }

    function open(string memory json, string memory sc) internal returns (bytes32 id) {
        id = openAs(json, sc, challengerOf(json));
        vm.assertEq(id, Json.vm.parseJsonBytes32(json, key(sc, "gameId")));
    }

    /// @dev Sends move `i` of the scenario from its side (after THINK seconds); returns success and gas.
    function send(string memory json, string memory sc, uint256 i) internal returns (bool ok, uint256 gas) {
        bytes memory data = moves(json, sc)[i];
        address from = senders(json, sc)[i] == 0 ? operator : challengerOf(json);
        vm.warp(block.timestamp + THINK);
        vm.prank(from);
        gas = gasleft();
        (ok,) = address(dispute).call(data);
        gas -= gasleft();
    }

    /// @dev Plays the whole scenario: every move, then (if the last move, a step, cannot win) the challenger's
    ///      clock runs out. Returns the game id.
    function play(string memory json, string memory sc) internal returns (bytes32 id) {
        id = open(json, sc);
        uint256 n = moves(json, sc).length;
        for (uint256 i; i < n; ++i) {
            (bool ok,) = send(json, sc, i);
            bool lastFailingStep = i == n - 1 && operatorWins(json, sc);
            if (ok == lastFailingStep) revert(string.concat("move ", Json.vm.toString(i), " of ", sc));
        }
        if (operatorWins(json, sc)) {
            vm.warp(block.timestamp + CLOCK + 1);
            dispute.timeout(id);
        }
    }
}
