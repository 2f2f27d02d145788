// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {DisputeFixture} from "./utils/DisputeFixture.sol";
import {Json} from "./utils/VmJson.sol";
import {Receipt} from "../src/Types.sol";
import {InferenceDispute} from "../src/InferenceDispute.sol";
import {Operand, CallInputs} from "../src/judge/JudgeTypes.sol";

/// @notice The numbers of the dispute game (docs/PROTOCOL.md §9.6; `forge test --match-contract DisputeGas -vv`):
///         gas of every move of whole games of both quantized test models, of the one-step per operator, and
///         of one-steps over a growing reduction (the largest tile that fits a block). Execution gas of one
///         call with all storage cold (vm.cool), without the 21,000 base; calldata gas is reported next to it
///         (EIP-2028: 16 per non-zero byte, 4 per zero byte). Ceilings are asserted.
contract DisputeGasTest is DisputeFixture {
    event log_named_uint(string key, uint256 val);
    event log_named_string(string key, string val);

    uint256 internal constant BLOCK = 30_000_000;
    uint256 internal constant AIM = 5_000_000;

    function _cool() internal {
        vm.cool(address(dispute));
        vm.cool(address(judge));
        vm.cool(address(oracle));
    }

    function _calldataGas(bytes memory data) internal pure returns (uint256 g) {
        for (uint256 i; i < data.length; ++i) {
            g += data[i] == 0 ? 4 : 16;
        }
    }

    /// Plays a scripted game with every call cold; logs and returns the total (execution + calldata).
    function _game(string memory json, string memory name, string memory sc) internal returns (uint256 total) {
        string memory label = string.concat(name, " ", sc);
        total = _open(json, label, sc);
        total += _moves(json, label, sc);
        emit log_named_uint(string.concat(label, " moves"), moves(json, sc).length + 1);
        emit log_named_uint(string.concat(label, " whole game (execution + calldata)"), total);
    }

    function _open(string memory json, string memory label, string memory sc) internal returns (uint256) {
        Receipt memory r = receiptOf(json, sc);
        bytes memory openData =
            abi.encodeCall(InferenceDispute.open, (r, signReceipt(r), inputOf(json, sc), claimedOf(json, sc)));
        address ch = challengerOf(json);
        vm.deal(ch, 1 ether);
        _cool();
        vm.prank(ch);
        uint256 g = gasleft();
        (bool ok,) = address(dispute).call{value: CH_BOND}(openData);
        g -= gasleft();
        vm.assertTrue(ok, "open");
        vm.assertLe(g, AIM, "open fits");
        emit log_named_uint(string.concat(label, " open"), g);
        emit log_named_uint(string.concat(label, " open calldata"), _calldataGas(openData));
        return g + _calldataGas(openData);
    }

    function _moves(string memory json, string memory label, string memory sc) internal returns (uint256 total) {
        bytes[] memory m = moves(json, sc);
        string[] memory kinds = Json.vm.parseJsonStringArray(json, key(sc, "kinds"));
        for (uint256 i; i < m.length; ++i) {
            _cool();
            (bool moved, uint256 mg) = send(json, sc, i);
            if (!moved) {
                vm.assertTrue(
                    i == m.length - 1 && operatorWins(json, sc),
                    string.concat("only the losing step fails: ", label, " ", Json.vm.toString(i))
                );
                continue;
            }
            vm.assertLe(mg, AIM, "move fits");
            total += mg + _calldataGas(m[i]);
            emit log_named_uint(string.concat(label, " ", Json.vm.toString(i), " ", kinds[i]), mg);
        }
    }

    function test_gas_whole_games() public {
        uint256 worst;
        string[3] memory scs = ["lyingOperator", "lyingChallenger", "wrongShape"];
        for (uint256 i; i < 3; ++i) {
            uint256 a = _game(mlp, "mlp", scs[i]);
            uint256 b = _game(cnn, "cnn", scs[i]);
            if (a > worst) worst = a;
            if (b > worst) worst = b;
        }
        vm.assertLe(worst, 8_000_000, "a whole game");
    }

    /// JudgeVM.evaluate per operator: the most expensive element among the vectors, with its calldata.
    function test_gas_one_step_per_op() public {
        string memory ops = Json.vm.readFile("test/vectors/ops.json");
        uint256 n = Json.vm.parseJsonUint(ops, ".count");
        uint256[] memory codes = Json.vm.parseJsonUintArray(ops, ".opcodes");
        uint256[9] memory maxGas;
        uint256[9] memory maxCalldata;
        for (uint256 i; i < n; ++i) {
            bytes memory raw = Json.vm.parseJsonBytes(ops, string.concat(".cases[", Json.vm.toString(i), "]"));
            (bytes memory node, Operand[] memory operands, uint256 e,,) =
                abi.decode(raw, (bytes, Operand[], uint256, uint256, uint256));
            bytes memory data = abi.encodeCall(judge.evaluate, (node, operands, e));
            vm.cool(address(judge));
            uint256 g = gasleft();
            (bool ok,) = address(judge).staticcall(data);
            g -= gasleft();
            vm.assertTrue(ok);
            if (g > maxGas[codes[i]]) {
                maxGas[codes[i]] = g;
                maxCalldata[codes[i]] = _calldataGas(data);
            }
        }
        string[9] memory names = [
            "",
            "QuantizeLinear",
            "DequantizeLinear",
            "QLinearMatMul (K<=48)",
            "QLinearConv (<=54 MACs)",
            "MaxPool",
            "Flatten",
            "Add",
            "Relu"
        ];
        for (uint256 op = 1; op <= 8; ++op) {
            emit log_named_uint(string.concat("evaluate ", names[op], " max execution"), maxGas[op]);
            emit log_named_uint(string.concat("evaluate ", names[op], " its calldata"), maxCalldata[op]);
            vm.assertLe(maxGas[op], 1_000_000);
        }
    }

    /// One-steps over a growing reduction: gas = fixed + per-MAC x MACs, and the largest reduction whose
    /// one-step (execution + calldata) fits 5M and 30M gas.
    function test_gas_largest_tile() public {
        string memory sc = Json.vm.readFile("test/vectors/scaling.json");
        bytes[] memory cases = Json.vm.parseJsonBytesArray(sc, ".cases");
        uint256[] memory macs = Json.vm.parseJsonUintArray(sc, ".macs");
        string[] memory kinds = Json.vm.parseJsonStringArray(sc, ".kinds");
        uint256[] memory total = new uint256[](cases.length);
        for (uint256 i; i < cases.length; ++i) {
            (bytes memory node, Operand[] memory operands, uint256 e,, uint256 value) =
                abi.decode(cases[i], (bytes, Operand[], uint256, uint256, uint256));
            bytes memory data = abi.encodeCall(judge.evaluate, (node, operands, e));
            vm.cool(address(judge));
            uint256 g = gasleft();
            (bool ok, bytes memory ret) = address(judge).staticcall(data);
            g -= gasleft();
            vm.assertTrue(ok);
            vm.assertEq(abi.decode(ret, (uint256)), value);
            total[i] = g + _calldataGas(data);
            emit log_named_uint(string.concat(kinds[i], " MACs ", Json.vm.toString(macs[i]), " execution"), g);
            emit log_named_uint(
                string.concat(kinds[i], " MACs ", Json.vm.toString(macs[i]), " calldata"), _calldataGas(data)
            );
        }
        // Linear fit over the first and last case of each kind (4 cases each).
        for (uint256 k; k < 2; ++k) {
            uint256 a = 4 * k;
            uint256 b = 4 * k + 3;
            uint256 perMac = (total[b] - total[a]) / (macs[b] - macs[a]);
            uint256 fixedPart = total[a] - perMac * macs[a];
            emit log_named_uint(string.concat(kinds[a], " gas per MAC (execution + calldata)"), perMac);
            emit log_named_uint(string.concat(kinds[a], " fixed gas"), fixedPart);
            emit log_named_uint(string.concat(kinds[a], " largest reduction in 5M"), (AIM - fixedPart) / perMac);
            emit log_named_uint(string.concat(kinds[a], " largest reduction in 30M"), (BLOCK - fixedPart) / perMac);
            vm.assertGe((AIM - fixedPart) / perMac, 1_000, "a 1k reduction fits 5M");
        }
    }

    /// The other calls of the game.
    function test_gas_other_calls() public {
        bytes32 id = open(mlp, "lyingChallenger");
        vm.warp(block.timestamp + CLOCK + 1);
        _cool();
        uint256 g = gasleft();
        dispute.timeout(id);
        g -= gasleft();
        emit log_named_uint("timeout (operator silent: bonds credited, client refunded)", g);
        vm.assertLe(g, 150_000);
        _cool();
        vm.prank(challengerOf(mlp));
        g = gasleft();
        dispute.withdrawCredits();
        g -= gasleft();
        emit log_named_uint("withdrawCredits", g);
        vm.assertLe(g, 60_000);
        _cool();
        vm.prank(operator);
        g = gasleft();
        dispute.stake{value: 1 ether}();
        g -= gasleft();
        emit log_named_uint("stake", g);
        vm.assertLe(g, 50_000);
        bytes32 m = keccak256("another model");
        _cool();
        vm.prank(operator);
        g = gasleft();
        dispute.commitProgram(m, program(mlp));
        g -= gasleft();
        emit log_named_uint("commitProgram", g);
        vm.assertLe(g, 350_000);
    }
}
