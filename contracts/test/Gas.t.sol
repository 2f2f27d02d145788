// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Fixture, ReceiptTree} from "./utils/Fixture.sol";
import {ModelToken} from "../src/ModelToken.sol";
import {UsageOracle} from "../src/UsageOracle.sol";
import {Receipt, Leaf, LeafProof, ModelTotal, ClientTotal} from "../src/Types.sol";

/// @notice Gas measurements behind the table in docs/CONTRACTS.md (`forge test --match-contract Gas -vv`).
///         Every figure is the execution gas of one external call with all storage cold (vm.cool), i.e.
///         without the 21,000 base and without calldata gas. Each measurement also asserts a ceiling, so a
///         regression fails the suite.
contract GasTest is Fixture {
    event log_named_uint(string key, uint256 val);

    function _coolAll() internal {
        vm.cool(address(registry));
        vm.cool(address(vault));
        vm.cool(address(oracle));
    }

    /// Register `m` models and fund `c` clients, returning lists for one attestation where every model and
    /// every client appears (the receipts tree itself does not matter for attest/finalize gas).
    function _lists(uint256 m, uint256 c, uint256 offset)
        internal
        returns (ModelTotal[] memory ms, ClientTotal[] memory cs, ModelToken[] memory toks)
    {
        uint256 n = m > c ? m : c;
        ms = new ModelTotal[](m);
        cs = new ClientTotal[](c);
        toks = new ModelToken[](m);
        for (uint256 i; i < m; ++i) {
            ms[i] = ModelTotal(modelId(offset + i), 0, uint64(n));
            toks[i] = register(modelId(offset + i));
        }
        for (uint256 i; i < c; ++i) {
            cs[i] = ClientTotal(fund(clientKey(offset + i), 1 ether, 1 ether), 0.01 ether, uint64(n));
        }
        for (uint256 i; i < c; ++i) {
            ms[i % m].total += 0.01 ether;
        }
        ReceiptTree.sortModels(ms);
        ReceiptTree.sortClients(cs);
    }

    function _attest(uint64 epoch, ModelTotal[] memory ms, ClientTotal[] memory cs) internal returns (uint256 g) {
        _coolAll();
        vm.prank(operator);
        g = gasleft();
        oracle.attest{value: ATTEST_BOND}(
            epoch, keccak256("root"), uint64(ms.length > cs.length ? ms.length : cs.length), 1_000, ms, cs
        );
        g -= gasleft();
    }

    function _finalize(uint64 epoch, ModelTotal[] memory ms) internal returns (uint256 g) {
        _coolAll();
        for (uint256 i; i < ms.length; ++i) {
            vm.cool(registry.tokenOf(ms[i].model));
        }
        vm.cool(registry.tokenImplementation());
        g = gasleft();
        oracle.finalize(epoch, 0, ms, bytes32(0));
        g -= gasleft();
    }

    /// @dev Attests `epoch` with these lists, waits out the window and finalizes it: the gas of both calls.
    function _attestAndFinalize(uint64 epoch, ModelTotal[] memory ms, ClientTotal[] memory cs)
        internal
        returns (uint256 attestGas, uint256 finalizeGas)
    {
        attestGas = _attest(epoch, ms, cs);
        vm.warp(block.timestamp + WINDOW);
        finalizeGas = _finalize(epoch, ms);
    }

    /// @dev Raises the cap of the `n` clients `_lists` funded from `offset` to `cap`.
    function _raiseCaps(uint256 n, uint256 offset, uint256 cap) internal {
        for (uint256 i; i < n; ++i) {
            uint256 pk = clientKey(offset + i);
            vault.submitCap(vm.addr(pk), cap, block.timestamp, signCap(pk, cap, block.timestamp));
        }
    }

    /// @dev Intrinsic gas of a transaction with this calldata (21,000 + 4 per zero byte + 16 per other byte).
    function _intrinsic(bytes memory data) internal pure returns (uint256 g) {
        g = 21_000;
        for (uint256 i; i < data.length; ++i) {
            g += data[i] == 0 ? 4 : 16;
        }
    }

    /// @dev Logs `g` as `label`; it must stay under `ceiling`. (`g` comes first: a measurement `start - gasleft()`
    ///      passed here is taken before the label is copied to memory.)
    function _report(uint256 g, string memory label, uint256 ceiling) internal {
        emit log_named_uint(label, g);
        vm.assertLt(g, ceiling);
    }

    /// @dev One registered model and one funded client, and `n` receipts of theirs in one epoch with ids
    ///      `step`, 2 `step`, ..., n `step`.
    function _receipts(uint256 n, uint256 step) internal returns (Receipt[] memory rs) {
        bytes32 m = modelId(1);
        register(m);
        address client = fund(clientKey(1), 10 ether, 10 ether);
        rs = new Receipt[](n);
        for (uint256 i; i < n; ++i) {
            rs[i] = receipt(uint128(step * (i + 1)), 1, m, client, 1e12);
        }
    }

    /// Finding 3: 1,000 models in one epoch are attested in one transaction and finalized in batches, each
    /// transaction (execution with all storage cold + intrinsic + calldata) under a 30M-gas block, for
    /// fresh tokens (their first revenue and snapshot) and in steady state (second and third epoch: a token
    /// stores two snapshots' revenue per slot, so every other epoch writes a new slot).
    function test_gas_finalize1000Models() public {
        uint256 m = 1_000;
        uint256 batch = 400;
        vm.pauseGasMetering();
        ModelTotal[] memory ms = new ModelTotal[](m);
        for (uint256 i; i < m; ++i) {
            ms[i] = ModelTotal(modelId(10_000 + i), 1e15 + i, uint64(m));
            register(ms[i].model);
        }
        ReceiptTree.sortModels(ms);
        uint256 total;
        for (uint256 i; i < m; ++i) {
            total += ms[i].total;
        }
        ClientTotal[] memory cs = new ClientTotal[](10);
        for (uint256 i; i < 10; ++i) {
            uint256 share = i < 9 ? total / 10 : total - 9 * (total / 10);
            cs[i] = ClientTotal(fund(clientKey(10_000 + i), 3 * share, 3 * share), share, uint64(m));
        }
        ReceiptTree.sortClients(cs);
        uint256[3] memory perModel;
        for (uint64 epoch = 1; epoch <= 3; ++epoch) {
            bytes memory att = abi.encodeCall(oracle.attest, (epoch, keccak256("root"), uint64(m), 1_000, ms, cs));
            _coolAll();
            vm.resumeGasMetering();
            vm.prank(operator);
            uint256 g = gasleft();
            oracle.attest{value: ATTEST_BOND}(epoch, keccak256("root"), uint64(m), 1_000, ms, cs);
            g -= gasleft();
            vm.pauseGasMetering();
            emit log_named_uint(
                epoch == 1 ? "attest 1000 models + 10 clients (tx)" : "attest again (tx)", g + _intrinsic(att)
            );
            vm.assertLt(g + _intrinsic(att), 30_000_000, "attest fits a block");
            vm.warp(block.timestamp + WINDOW);
            uint256 sum;
            for (uint256 from; from < m; from += batch) {
                uint256 n = from + batch > m ? m - from : batch;
                ModelTotal[] memory part = slice(ms, from, n);
                bytes32 rest = restHash(ms, from + n);
                bytes memory data = abi.encodeCall(oracle.finalize, (epoch, uint64(from), part, rest));
                _coolAll();
                for (uint256 i; i < n; ++i) {
                    vm.cool(registry.tokenOf(part[i].model));
                }
                vm.cool(registry.tokenImplementation());
                vm.resumeGasMetering();
                g = gasleft();
                oracle.finalize(epoch, uint64(from), part, rest);
                g -= gasleft();
                vm.pauseGasMetering();
                uint256 tx_ = g + _intrinsic(data);
                emit log_named_uint(
                    epoch == 1 ? "finalize batch of 400, fresh tokens (tx)" : "finalize batch of 400, steady (tx)", tx_
                );
                vm.assertLt(tx_, 30_000_000, "each finalize batch fits a 30M-gas block");
                sum += tx_;
            }
            perModel[epoch - 1] = sum / m;
            vm.assertEq(uint256(oracle.getAttestation(epoch).status), uint256(UsageOracle.Status.Finalized));
            vm.assertEq(vault.escrowed(), 0);
            vm.roll(block.number + 1);
        }
        emit log_named_uint("finalize per model, fresh tokens (incl. intrinsic + calldata)", perModel[0]);
        emit log_named_uint("finalize per model, 2nd epoch (new revenue slot)", perModel[1]);
        emit log_named_uint("finalize per model, 3rd epoch (shared revenue slot)", perModel[2]);
        emit log_named_uint("finalize per model, steady state (average of the two)", (perModel[1] + perModel[2]) / 2);
        vm.assertLt((perModel[1] + perModel[2]) / 2, 50_000);
        vm.resumeGasMetering();
    }

    function test_gas_attestAndFinalize() public {
        (ModelTotal[] memory m1, ClientTotal[] memory c1,) = _lists(1, 1, 0);
        (uint256 a1, uint256 f1) = _attestAndFinalize(1, m1, c1);

        (ModelTotal[] memory m10, ClientTotal[] memory c10,) = _lists(10, 10, 100);
        (uint256 a10, uint256 f10) = _attestAndFinalize(2, m10, c10);
        // steady state: the same ten models and clients again (token and vault slots already non-zero)
        _raiseCaps(c10.length, 100, 2 ether);
        (uint256 a10b, uint256 f10b) = _attestAndFinalize(3, m10, c10);
        // and once more: the tokens' revenue slots are paired, so epochs alternate a new and a shared slot
        _raiseCaps(c10.length, 100, 3 ether);
        (, uint256 f10c) = _attestAndFinalize(4, m10, c10);
        emit log_named_uint("attest, 10 models + 10 clients, repeat clients", a10b);
        emit log_named_uint("finalize, 10 models, 2nd epoch (new revenue slot)", f10b);
        emit log_named_uint("finalize, 10 models, 3rd epoch (shared revenue slot)", f10c);
        emit log_named_uint("finalize, per model, steady state (average)", (f10b + f10c) / 20);

        emit log_named_uint("attest, 1 model + 1 client", a1);
        emit log_named_uint("attest, 10 models + 10 clients", a10);
        emit log_named_uint("attest, marginal per (model + client)", (a10 - a1) / 9);
        emit log_named_uint("finalize, 1 model", f1);
        emit log_named_uint("finalize, 10 models", f10);
        emit log_named_uint("finalize, marginal per model", (f10 - f1) / 9);
        vm.assertLt(a1, 225_000);
        vm.assertLt((a10 - a1) / 9, 40_000);
        vm.assertLt((f10 - f1) / 9, 120_000);
        vm.assertLt((f10b + f10c) / 20, 55_000);
    }

    function test_gas_claimAndClaimBatch() public {
        ModelToken tok = register(modelId(1));
        address holder = makeAddr("holder");
        vm.prank(publisher);
        tok.transfer(holder, SUPPLY / 2);
        vm.deal(publisher, 1); // existing accounts: a payout to a new account would add 25,000
        vm.deal(holder, 1);
        uint256[] memory ids = new uint256[](10);
        for (uint256 i; i < 11; ++i) {
            vm.deal(address(oracle), 1 ether);
            vm.prank(address(oracle));
            uint256 id = tok.snapshotWithRevenue{value: 1 ether}();
            if (i < 10) ids[i] = id;
        }
        vm.roll(block.number + 1); // the snapshots' block is over: they are claimable
        vm.cool(address(tok));
        vm.prank(publisher);
        uint256 g = gasleft();
        tok.claim(11);
        uint256 claimGas = g - gasleft();
        vm.cool(address(tok));
        vm.prank(holder);
        g = gasleft();
        tok.claimBatch(ids);
        uint256 batchGas = g - gasleft();
        vm.cool(address(tok));
        vm.prank(holder);
        g = gasleft();
        tok.burn(SUPPLY / 4);
        uint256 burnGas = g - gasleft();
        emit log_named_uint("claim (one snapshot)", claimGas);
        emit log_named_uint("claimBatch (10 snapshots)", batchGas);
        emit log_named_uint("burn (redeem)", burnGas);
        vm.assertLt(claimGas, 80_000);
        vm.assertLt(batchGas, 200_000);
    }

    /// Challenge + response and the fraud proofs on a 1024-leaf tree (depth 10).
    function test_gas_challengeAndProofs() public {
        uint256 n = 1024;
        Receipt[] memory rs = _receipts(n, 1);
        rs[700].price = 2e12; // leaf 700's running sum will be off by 1e12 below
        (Leaf[] memory leaves, ModelTotal[] memory ms, ClientTotal[] memory cs) = ReceiptTree.build(rs);
        leaves[700].modelCum -= 1e12;
        leaves[700].clientCum -= 1e12;
        bytes32 root = setTree(leaves, ms, cs);
        vm.prank(operator);
        oracle.attest{value: ATTEST_BOND}(1, root, uint64(n), 0, ms, cs);

        bytes memory sig = signReceipt(rs[10]);
        vm.deal(address(this), 1 ether);
        commitAs(address(this), abi.encodeCall(oracle.challengeReceipt, (1, rs[10], sig)));
        commitAs(address(this), abi.encodeCall(oracle.challengeLeaf, (1, 3)));
        LeafProof memory j = leafProof(700);
        LeafProof memory prev = leafProof(699);
        commitAs(address(this), abi.encodeCall(oracle.proveBadLink, (1, 0, j, prev)));
        _coolAll();
        uint256 g = gasleft();
        uint256 id = oracle.challengeReceipt{value: CHALLENGE_BOND}(1, rs[10], sig);
        uint256 challengeGas = g - gasleft();
        LeafProof memory p = leafProof(10);
        _coolAll();
        g = gasleft();
        oracle.respond(id, p);
        uint256 respondGas = g - gasleft();

        _coolAll();
        g = gasleft();
        id = oracle.challengeLeaf{value: CHALLENGE_BOND}(1, 3);
        uint256 leafChallengeGas = g - gasleft();

        _coolAll();
        g = gasleft();
        oracle.proveBadLink(1, 0, j, prev);
        uint256 linkGas = g - gasleft();

        vm.warp(block.timestamp + RESPONSE + 1);
        _coolAll();
        g = gasleft();
        oracle.resolveChallenge(id); // moot now: refund
        uint256 resolveGas = g - gasleft();

        _coolAll();
        g = gasleft();
        oracle.unwind(1, cs);
        uint256 unwindGas = g - gasleft();

        emit log_named_uint("challengeReceipt", challengeGas);
        emit log_named_uint("respond (inclusion proof, depth 10)", respondGas);
        emit log_named_uint("challengeLeaf", leafChallengeGas);
        emit log_named_uint("proveBadLink (2 proofs, depth 10)", linkGas);
        emit log_named_uint("resolveChallenge (moot, refund)", resolveGas);
        emit log_named_uint("unwind (1 client)", unwindGas);
        vm.assertLt(challengeGas + respondGas, 260_000);
        vm.assertLt(linkGas, 150_000);
    }

    /// A commitment to a challenge or fraud proof (one new slot and an event).
    function test_gas_commit() public {
        bytes32 c = oracle.commitmentOf(address(this), abi.encodeCall(oracle.challengeLeaf, (1, 3)));
        _coolAll();
        uint256 g = gasleft();
        oracle.commit(c);
        _report(g - gasleft(), "commit", 30_000);
    }

    /// An unanswered receipt challenge, resolved after the response window: voids and slashes.
    function test_gas_resolveUpheld() public {
        Receipt[] memory rs = _receipts(3, 1);
        Receipt[] memory two = new Receipt[](2);
        two[0] = rs[0];
        two[1] = rs[2];
        attestReceipts(1, two, 0);
        bytes memory sig = signReceipt(rs[1]);
        vm.deal(address(this), 1 ether);
        commitAs(address(this), abi.encodeCall(oracle.challengeReceipt, (1, rs[1], sig)));
        uint256 id = oracle.challengeReceipt{value: CHALLENGE_BOND}(1, rs[1], sig);
        vm.warp(block.timestamp + RESPONSE + 1);
        _coolAll();
        uint256 g = gasleft();
        oracle.resolveChallenge(id);
        _report(g - gasleft(), "resolveChallenge (unanswered: void + slash)", 120_000);
    }

    function test_gas_omissionProof() public {
        uint256 n = 1024;
        Receipt[] memory rs = _receipts(n + 1, 2);
        Receipt[] memory kept = new Receipt[](n);
        for (uint256 i; i < n; ++i) {
            kept[i] = rs[i < 500 ? i : i + 1]; // drop rs[500]
        }
        attestReceipts(1, kept, 0);
        bytes memory sig = signReceipt(rs[500]);
        LeafProof memory l = leafProof(499);
        LeafProof memory r = leafProof(500);
        commitAs(address(this), abi.encodeCall(oracle.proveOmission, (1, rs[500], sig, l, r)));
        _coolAll();
        uint256 g = gasleft();
        oracle.proveOmission(1, rs[500], sig, l, r);
        _report(g - gasleft(), "proveOmission (adjacent pair, depth 10)", 175_000);
    }

    function test_gas_vault() public {
        uint256 pk = clientKey(1);
        address client = vm.addr(pk);
        vm.deal(client, 2 ether);
        fund(clientKey(2), 1 ether, 0); // someone deposited before: totals are non-zero, as in production
        vm.cool(address(vault));
        vm.prank(client);
        uint256 g = gasleft();
        vault.deposit{value: 1 ether}();
        uint256 depositGas = g - gasleft();
        bytes memory sig = signCap(pk, 1 ether, block.timestamp);
        vm.cool(address(vault));
        g = gasleft();
        vault.submitCap(client, 1 ether, block.timestamp, sig);
        uint256 capGas = g - gasleft();
        vm.cool(address(vault));
        vm.prank(client);
        g = gasleft();
        vault.requestWithdrawal(1 ether);
        uint256 reqGas = g - gasleft();
        vm.warp(block.timestamp + DELAY);
        vm.cool(address(vault));
        vm.prank(client);
        g = gasleft();
        vault.withdraw();
        uint256 wGas = g - gasleft();
        emit log_named_uint("deposit (first)", depositGas);
        emit log_named_uint("submitCap (ECDSA)", capGas);
        emit log_named_uint("requestWithdrawal", reqGas);
        emit log_named_uint("withdraw", wGas);
        vm.assertLt(depositGas, 50_000);
    }

    function test_gas_register() public {
        _coolAll();
        vm.prank(operator);
        uint256 g = gasleft();
        registry.register(modelId(1), "Model", "MDL", publisher, SUPPLY, HOLDERS_BPS);
        _report(g - gasleft(), "register (clone + initialize + mint)", 340_000);
    }
}
