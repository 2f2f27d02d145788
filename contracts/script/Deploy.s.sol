// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ModelRegistry} from "../src/ModelRegistry.sol";
import {PaymentVault} from "../src/PaymentVault.sol";
import {UsageOracle} from "../src/UsageOracle.sol";
import {InferenceDispute, IReceiptOracle} from "../src/InferenceDispute.sol";
import {JudgeVM} from "../src/judge/JudgeVM.sol";
import {AckReferee} from "../src/AckReferee.sol";

interface ScriptVm {
    function envUint(string calldata name) external view returns (uint256);
    function envOr(string calldata name, uint256 defaultValue) external view returns (uint256);
    function envOr(string calldata name, address defaultValue) external view returns (address);
    function addr(uint256 privateKey) external pure returns (address);
    function startBroadcast(uint256 privateKey) external;
    function stopBroadcast() external;
}

/// @notice Deploys and wires the four contracts (docs/CONTRACTS.md, "Deployment and roles"), then the inference
///         dispute game (JudgeVM and InferenceDispute, which reads receipt signatures through the UsageOracle),
///         and the acknowledgement referee (AckReferee, granted the oracle's REFEREE_ROLE; its bond and response
///         window are the oracle's challenge bond and response window).
/// @dev `DEPLOYER_KEY=0x.. forge script script/Deploy.s.sol --rpc-url http://127.0.0.1:8545 --broadcast`
///      The deployer becomes admin; OPERATOR, GUARDIAN, TREASURY default to the deployer. Parameters
///      (env, defaults in brackets): ATTEST_BOND [0.1 ether], CHALLENGE_BOND [0.01 ether],
///      CHALLENGE_WINDOW [7200], RESPONSE_WINDOW [3600], MAX_FEE_BPS [2000], WITHDRAWAL_DELAY [14400];
///      dispute game: DISPUTE_CHALLENGER_BOND [0.01 ether], DISPUTE_OPERATOR_BOND [0.05 ether],
///      DISPUTE_CLOCK [86400], DISPUTE_WINDOW [604800], DISPUTE_UNSTAKE_DELAY [DISPUTE_WINDOW + 2 x clock].
contract Deploy {
    ScriptVm internal constant vm = ScriptVm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function run()
        external
        returns (
            address deployer,
            ModelRegistry registry,
            PaymentVault vault,
            UsageOracle oracle,
            JudgeVM judge,
            InferenceDispute dispute,
            AckReferee referee
        )
    {
        uint256 key = vm.envUint("DEPLOYER_KEY");
        address admin = vm.addr(key);
        deployer = admin;
        address operator = vm.envOr("OPERATOR", admin);
        address guardian = vm.envOr("GUARDIAN", admin);
        address treasury = vm.envOr("TREASURY", admin);
        vm.startBroadcast(key);
        registry = new ModelRegistry(admin, operator, guardian);
        vault = new PaymentVault(admin, guardian, treasury, vm.envOr("WITHDRAWAL_DELAY", uint256(14_400)));
        oracle = new UsageOracle(
            admin,
            operator,
            guardian,
            registry,
            vault,
            vm.envOr("ATTEST_BOND", uint256(0.1 ether)),
            vm.envOr("CHALLENGE_BOND", uint256(0.01 ether)),
            uint64(vm.envOr("CHALLENGE_WINDOW", uint256(7_200))),
            uint64(vm.envOr("RESPONSE_WINDOW", uint256(3_600))),
            uint16(vm.envOr("MAX_FEE_BPS", uint256(2_000)))
        );
        registry.setUsageOracle(address(oracle));
        vault.setOracle(address(oracle));
        referee = new AckReferee(oracle, oracle.challengeBond(), oracle.responseWindow());
        oracle.grantRole(oracle.REFEREE_ROLE(), address(referee));
        judge = new JudgeVM();
        uint64 clock = uint64(vm.envOr("DISPUTE_CLOCK", uint256(86_400)));
        uint64 window = uint64(vm.envOr("DISPUTE_WINDOW", uint256(604_800)));
        dispute = new InferenceDispute(
            IReceiptOracle(address(oracle)),
            judge,
            vm.envOr("DISPUTE_CHALLENGER_BOND", uint256(0.01 ether)),
            vm.envOr("DISPUTE_OPERATOR_BOND", uint256(0.05 ether)),
            clock,
            window,
            uint64(vm.envOr("DISPUTE_UNSTAKE_DELAY", uint256(window) + 2 * uint256(clock)))
        );
        vm.stopBroadcast();
    }
}
