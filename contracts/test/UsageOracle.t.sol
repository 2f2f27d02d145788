// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Fixture, ReceiptTree, copyReceipts} from "./utils/Fixture.sol";
import {Challenger} from "./utils/Challenger.sol";
import {UsageOracle} from "../src/UsageOracle.sol";
import {PaymentVault} from "../src/PaymentVault.sol";
import {ModelToken} from "../src/ModelToken.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {Receipt, Leaf, LeafProof, ModelTotal, ClientTotal} from "../src/Types.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

contract UsageOracleTest is Fixture {
    uint64 constant EPOCH = 7;
    ModelToken tokA;
    ModelToken tokB;
    bytes32 mA;
    bytes32 mB;
    uint256 pk1;
    uint256 pk2;
    address c1;
    address c2;
    Receipt[] signedReceipts;
    bytes[] signedSigs;
    address watcher;

    function setUp() public override {
        super.setUp();
        mA = modelId(1);
        mB = modelId(2);
        tokA = register(mA);
        tokB = register(mB);
        pk1 = clientKey(1);
        pk2 = clientKey(2);
        c1 = fund(pk1, 10 ether, 10 ether);
        c2 = fund(pk2, 10 ether, 10 ether);
        watcher = makeAddr("watcher");
        vm.deal(watcher, 10 ether);
    }

    /// 5 receipts over two models and two clients, sorted by id.
    function _receipts(uint64 epoch) internal returns (Receipt[] memory rs) {
        rs = new Receipt[](5);
        uint128 t = uint128(block.timestamp * 1000) << 80;
        rs[0] = receipt(t | 1, epoch, mA, c1, 1 ether);
        rs[1] = receipt(t | 5, epoch, mB, c1, 0.5 ether);
        rs[2] = receipt(t | 9, epoch, mA, c2, 2 ether);
        rs[3] = receipt(t | 12, epoch, mA, c1, 0.25 ether);
        rs[4] = receipt(t | 20, epoch, mB, c2, 0.75 ether);
        delete signedReceipts;
        delete signedSigs;
        for (uint256 i; i < rs.length; ++i) {
            signedReceipts.push(rs[i]);
            signedSigs.push(signReceipt(rs[i]));
        }
    }

    function _attestHonest() internal returns (Receipt[] memory rs) {
        rs = _receipts(EPOCH);
        attestReceipts(EPOCH, rs, 1_000);
    }

    function _hunt() internal returns (bool) {
        Challenger ch = new Challenger(oracle);
        return ch.hunt(EPOCH, lastLeaves, lastModels, lastClients, signedReceipts, signedSigs);
    }

    function _status(uint64 epoch) internal view returns (UsageOracle.Status) {
        return oracle.getAttestation(epoch).status;
    }

    // ---------------------------------------------------------------- encoding

    function test_encoding_matchesIndependentImplementation() public {
        Receipt[] memory rs = _receipts(EPOCH);
        (Leaf[] memory leaves,,) = ReceiptTree.build(rs);
        vm.assertEq(oracle.receiptHash(rs[0]), ReceiptTree.receiptHash(rs[0]));
        vm.assertEq(oracle.leafHash(leaves[2]), ReceiptTree.leafHash(leaves[2]));
        bytes32[] memory hs = ReceiptTree.hashes(leaves);
        bytes32 root = ReceiptTree.root(hs);
        for (uint256 i; i < hs.length; ++i) {
            vm.assertEq(oracle.computeRoot(hs[i], uint64(i), ReceiptTree.proof(hs, i)), root);
        }
        vm.assertEq(oracle.treeDepth(1), 0);
        vm.assertEq(oracle.treeDepth(2), 1);
        vm.assertEq(oracle.treeDepth(5), 3);
        vm.assertEq(oracle.treeDepth(8), 3);
        vm.assertEq(oracle.treeDepth(9), 4);
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("IMO Oracle"),
                keccak256("1"),
                block.chainid,
                address(oracle)
            )
        );
        vm.assertEq(oracle.domainSeparator(), domain);
        vm.assertEq(
            oracle.receiptDigest(rs[0]), keccak256(abi.encodePacked("\x19\x01", domain, ReceiptTree.receiptHash(rs[0])))
        );
    }

    /// Fixed vectors for the Rust side (also in docs/CONTRACTS.md). Changing the encoding breaks this test.
    function test_encoding_vectors() public {
        Receipt memory r = Receipt({
            id: 0x0190000000000000000000000000002a,
            epoch: 3,
            model: bytes32(uint256(0xaa)),
            client: address(0x1111111111111111111111111111111111111111),
            price: 1e15,
            inputHash: bytes32(uint256(1)),
            outputHash: bytes32(uint256(2)),
            fingerprint: bytes32(uint256(3)),
            timestamp: 1_700_000_000_000
        });
        Leaf memory l = Leaf({receipt: r, modelPrev: 0, modelCum: 1e15, clientPrev: 0, clientCum: 1e15});
        bytes32 rh = ReceiptTree.receiptHash(r);
        bytes32 lh = ReceiptTree.leafHash(l);
        bytes32[] memory hs = new bytes32[](3);
        hs[0] = lh;
        hs[1] = keccak256("b");
        hs[2] = keccak256("c");
        bytes32 root3 = ReceiptTree.root(hs);
        emit log_named_bytes32("typehash", ReceiptTree.RECEIPT_TYPEHASH);
        emit log_named_bytes32("receipt hash", rh);
        emit log_named_bytes32("leaf hash", lh);
        emit log_named_bytes32("root of 3", root3);
        vm.assertEq(
            ReceiptTree.RECEIPT_TYPEHASH, 0x1f6c774c6404d90867591ec7b3ba63961c61c309b5a8d68fadacd3b9538a0f32, "typehash"
        );
        vm.assertEq(rh, 0xfdb726e7d872359101a969fcf0036bc775ecce094bb97e7f95a9dc4c65b18b23, "receipt hash");
        vm.assertEq(lh, 0x78c77c853533ff28918beb0e5b753ffca0227c01c1762782895f6fa479def04f, "leaf hash");
        vm.assertEq(root3, 0x6b0cfdeef0b869ea17600ac2f86116681939108371d56b1cdb4728811a479a2e, "root of 3");
    }

    event log_named_bytes32(string key, bytes32 val);

    // ---------------------------------------------------------------- constructor

    function test_constructor_reverts() public {
        vm.expectRevert(UsageOracle.ZeroAddress.selector);
        new UsageOracle(address(0), operator, guardian, registry, vault, 1, 1, 1, 1, 1);
        vm.expectRevert(UsageOracle.ZeroAddress.selector);
        new UsageOracle(admin, operator, guardian, ModelRegistry(address(0)), vault, 1, 1, 1, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.FeeTooHigh.selector, 10_001, 10_000));
        new UsageOracle(admin, operator, guardian, registry, vault, 1, 1, 1, 1, 10_001);
    }

    // ---------------------------------------------------------------- attest

    function test_attest_escrowsAndStores() public {
        _attestHonest();
        UsageOracle.Attestation memory a = oracle.getAttestation(EPOCH);
        vm.assertEq(uint256(a.status), uint256(UsageOracle.Status.Posted));
        vm.assertEq(a.attester, operator);
        vm.assertEq(uint256(a.count), 5);
        vm.assertEq(a.total, 4.5 ether);
        vm.assertEq(uint256(a.round), 1);
        vm.assertEq(vault.escrowed(), 4.5 ether);
        vm.assertEq(vault.balanceOf(c1), 10 ether - 1.75 ether);
        vm.assertEq(vault.balanceOf(c2), 10 ether - 2.75 ether);
        vm.assertEq(address(oracle).balance, ATTEST_BOND);
    }

    /// @dev Attesting `ms` and `cs` under `root` (5 leaves, no fee, the bond paid) for EPOCH reverts with `err`.
    function _attestReverts(bytes32 root, ModelTotal[] memory ms, ClientTotal[] memory cs, bytes memory err) internal {
        vm.expectRevert(err);
        oracle.attest{value: ATTEST_BOND}(EPOCH, root, 5, 0, ms, cs);
    }

    /// @dev A copy of `ms` with entry `i` replaced by `e`.
    function _withModel(ModelTotal[] memory ms, uint256 i, ModelTotal memory e)
        internal
        pure
        returns (ModelTotal[] memory out)
    {
        out = _copyM(ms);
        out[i] = e;
    }

    /// @dev The revert data of a custom error with one index argument.
    function _err(bytes4 selector, uint256 index) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector, index);
    }

    function test_attest_reverts() public {
        Receipt[] memory rs = _receipts(EPOCH);
        (Leaf[] memory leaves, ModelTotal[] memory ms, ClientTotal[] memory cs) = ReceiptTree.build(rs);
        bytes32 root = setTree(leaves, ms, cs);

        vm.deal(address(this), 10 ether);
        _attestReverts(
            root,
            ms,
            cs,
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), oracle.OPERATOR_ROLE()
            )
        );

        vm.startPrank(operator);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.WrongBond.selector, ATTEST_BOND, 1));
        oracle.attest{value: 1}(EPOCH, root, 5, 0, ms, cs);
        vm.expectRevert(UsageOracle.EmptyAttestation.selector);
        oracle.attest{value: ATTEST_BOND}(EPOCH, root, 0, 0, ms, cs);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.FeeTooHigh.selector, MAX_FEE + 1, MAX_FEE));
        oracle.attest{value: ATTEST_BOND}(EPOCH, root, 5, MAX_FEE + 1, ms, cs);

        ModelTotal[] memory swapped = new ModelTotal[](2);
        swapped[0] = ms[1];
        swapped[1] = ms[0];
        _attestReverts(root, swapped, cs, _err(UsageOracle.NotSorted.selector, 1));
        ClientTotal[] memory dup = new ClientTotal[](2);
        dup[0] = cs[0];
        dup[1] = cs[0];
        _attestReverts(root, ms, dup, _err(UsageOracle.NotSorted.selector, 1));

        ModelTotal memory m1 = ms[1];
        bytes32 unregistered = bytes32(type(uint256).max); // sorts last, but not registered
        _attestReverts(
            root, _withModel(ms, 1, ModelTotal(m1.model, 0, m1.last)), cs, _err(UsageOracle.ZeroTotal.selector, 1)
        );
        _attestReverts(
            root, _withModel(ms, 1, ModelTotal(m1.model, m1.total, 0)), cs, _err(UsageOracle.BadLast.selector, 1)
        );
        _attestReverts(
            root, _withModel(ms, 1, ModelTotal(m1.model, m1.total, 6)), cs, _err(UsageOracle.BadLast.selector, 1)
        );
        ClientTotal[] memory badC = _copyC(cs);
        badC[0].total = 0;
        _attestReverts(root, ms, badC, _err(UsageOracle.ZeroTotal.selector, 0));
        badC = _copyC(cs);
        badC[0].last = 9;
        _attestReverts(root, ms, badC, _err(UsageOracle.BadLast.selector, 0));
        _attestReverts(
            root,
            _withModel(ms, 1, ModelTotal(unregistered, m1.total, m1.last)),
            cs,
            abi.encodeWithSelector(UsageOracle.UnregisteredModel.selector, unregistered)
        );
        _attestReverts(
            root,
            _withModel(ms, 1, ModelTotal(m1.model, m1.total + 1, m1.last)),
            cs,
            abi.encodeWithSelector(UsageOracle.TotalsMismatch.selector, 4.5 ether + 1, 4.5 ether)
        );
        _attestReverts(
            root,
            new ModelTotal[](0),
            new ClientTotal[](0),
            abi.encodeWithSelector(UsageOracle.EmptyAttestation.selector)
        );
        vm.stopPrank();

        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), oracle.GUARDIAN_ROLE()
            )
        );
        oracle.pause();
        vm.prank(guardian);
        oracle.pause();
        vm.prank(operator);
        _attestReverts(root, ms, cs, abi.encodeWithSelector(Pausable.EnforcedPause.selector));
        vm.prank(guardian);
        oracle.unpause();

        vm.prank(operator);
        oracle.attest{value: ATTEST_BOND}(EPOCH, root, 5, 0, ms, cs);
        vm.prank(operator);
        _attestReverts(
            root, ms, cs, abi.encodeWithSelector(UsageOracle.AlreadyAttested.selector, EPOCH, UsageOracle.Status.Posted)
        );
    }

    function _one(address c, uint256 amount) internal pure returns (ClientTotal[] memory cs) {
        cs = new ClientTotal[](1);
        cs[0] = ClientTotal(c, amount, 1);
    }

    // ---------------------------------------------------------------- finalize

    /// @dev After the challenge window, finalizes the honest epoch (4.5 ether) in one call: Finalized with `fee`.
    function _finalizeHonest(uint256 fee) internal {
        vm.warp(block.timestamp + WINDOW);
        vm.expectEmit(true, true, true, true, address(oracle));
        emit UsageOracle.Finalized(EPOCH, 1, 4.5 ether, fee);
        finalizeAll(EPOCH, models_());
    }

    function test_finalize_paysOnceAndSnapshots() public {
        _attestHonest();
        _finalizeHonest(0.45 ether);
        // A: 3.25 ether - 10% ; B: 1.25 ether - 10%
        vm.assertEq(address(tokA).balance, 2.925 ether);
        vm.assertEq(address(tokB).balance, 1.125 ether);
        vm.assertEq(uint256(tokA.currentSnapshotId()), 1);
        vm.assertEq(tokA.snapshotRevenue(1), 2.34 ether);
        vm.assertEq(tokA.claimableRevenue(publisher, 1), 0); // pending until the end of this block
        vm.roll(block.number + 1);
        vm.assertEq(tokA.claimableRevenue(publisher, 1), 2.34 ether);
        // the tokens are exactly the registry's
        vm.assertEq(registry.tokenOf(mA), address(tokA));
        UsageOracle.Attestation memory a = oracle.getAttestation(EPOCH);
        vm.assertEq(uint256(a.paidModels), 2);
        vm.assertEq(uint256(a.paidOut), 2.925 ether + 1.125 ether);
        vm.assertEq(vault.feesOwed(), 0.45 ether);
        vm.assertEq(vault.escrowed(), 0);
        vm.assertEq(oracle.credits(operator), ATTEST_BOND);
        vm.assertEq(uint256(_status(EPOCH)), uint256(UsageOracle.Status.Finalized));
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.NotPosted.selector, EPOCH));
        finalizeAll(EPOCH, models_());
        // publisher claims; treasury takes fees; operator takes its bond back
        vm.prank(publisher);
        tokA.claim(1);
        vm.assertEq(publisher.balance, 2.34 ether);
        vault.claimFees();
        vm.assertEq(treasury.balance, 0.45 ether);
        uint256 before = operator.balance;
        vm.prank(operator);
        oracle.withdrawCredits();
        vm.assertEq(operator.balance, before + ATTEST_BOND);
    }

    function test_finalize_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.NotPosted.selector, EPOCH));
        oracle.finalize(EPOCH, 0, new ModelTotal[](0), bytes32(0));
        _attestHonest();
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.WindowOpen.selector, block.timestamp + WINDOW));
        finalizeAll(EPOCH, models_());
        vm.warp(block.timestamp + WINDOW - 1);
        _challengeReceiptAs(watcher, signedReceipts[0], signedSigs[0]);
        vm.warp(block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.ChallengesOpen.selector, 1));
        finalizeAll(EPOCH, models_());
        oracle.respond(0, leafProof(0));
        ModelTotal[] memory ms = models_();
        ms[0].total -= 1;
        vm.expectRevert(UsageOracle.ListMismatch.selector);
        finalizeAll(EPOCH, ms);
        vm.expectRevert(UsageOracle.ListMismatch.selector); // a prefix claiming to be the whole list
        oracle.finalize(EPOCH, 0, slice(models_(), 0, 1), bytes32(0));
        vm.expectRevert(UsageOracle.ListMismatch.selector); // the right prefix with a wrong rest
        oracle.finalize(EPOCH, 0, slice(models_(), 0, 1), keccak256("rest"));
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.WrongBatch.selector, 0, 1));
        oracle.finalize(EPOCH, 1, slice(models_(), 1, 1), bytes32(0));
        bytes32 whole = oracle.getAttestation(EPOCH).modelsHash;
        vm.expectRevert(UsageOracle.EmptyBatch.selector);
        oracle.finalize(EPOCH, 0, new ModelTotal[](0), whole);
        vm.prank(guardian);
        oracle.pause();
        vm.expectRevert(Pausable.EnforcedPause.selector);
        finalizeAll(EPOCH, models_());
        vm.prank(guardian);
        oracle.unpause();
        finalizeAll(EPOCH, models_());
    }

    function test_finalize_epochsIndependent() public {
        Receipt[] memory r8 = _receipts(8);
        attestReceipts(8, r8, 0);
        ModelTotal[] memory m8 = models_();
        vm.warp(block.timestamp + 10);
        _attestHonest(); // epoch 7 after 8
        ModelTotal[] memory m7 = models_();
        vm.warp(block.timestamp + WINDOW);
        finalizeAll(EPOCH, m7);
        finalizeAll(8, m8);
        vm.assertEq(vault.escrowed(), 0);
        vm.assertEq(address(tokA).balance, 2.925 ether + 3.25 ether);
    }

    // ---------------------------------------------------------------- finalize in batches (finding 3)

    function test_finalize_inBatches() public {
        _attestHonest();
        vm.warp(block.timestamp + WINDOW);
        ModelTotal[] memory ms = models_();
        UsageOracle.Attestation memory a = oracle.getAttestation(EPOCH);
        vm.assertEq(a.modelsHash, restHash(ms, 0), "chain hash: independent implementation");
        vm.assertEq(oracle.modelsChainHash(ms, bytes32(0)), a.modelsHash);
        uint256 net0 = ms[0].total - ms[0].total / 10;
        uint256 net1 = ms[1].total - ms[1].total / 10;

        vm.expectEmit(true, true, true, true, address(oracle));
        emit UsageOracle.BatchFinalized(EPOCH, 1, 0, 1, net0);
        oracle.finalize(EPOCH, 0, slice(ms, 0, 1), restHash(ms, 1));
        a = oracle.getAttestation(EPOCH);
        vm.assertEq(uint256(a.status), uint256(UsageOracle.Status.Finalizing));
        vm.assertEq(uint256(a.paidModels), 1);
        vm.assertEq(uint256(a.paidOut), net0);
        vm.assertEq(a.restHash, restHash(ms, 1));
        vm.assertEq(vault.escrowed(), 4.5 ether - net0);
        vm.assertEq(vault.feesOwed(), 0); // the fee goes with the last batch
        vm.assertEq(oracle.credits(operator), 0); // so does the bond

        // a finished batch cannot be replayed, a wrong continuation is refused, nothing can void it now
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.WrongBatch.selector, 1, 0));
        oracle.finalize(EPOCH, 0, slice(ms, 0, 1), restHash(ms, 1));
        vm.expectRevert(UsageOracle.ListMismatch.selector);
        oracle.finalize(EPOCH, 1, slice(ms, 1, 1), keccak256("more"));
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.NotPosted.selector, EPOCH));
        oracle.challengeLeaf{value: CHALLENGE_BOND}(EPOCH, 0);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.NotVoided.selector, EPOCH));
        oracle.unwind(EPOCH, clients_());
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(UsageOracle.AlreadyAttested.selector, EPOCH, UsageOracle.Status.Finalizing)
        );
        oracle.attest{value: ATTEST_BOND}(EPOCH, bytes32(0), 1, 0, ms, clients_());
        vm.prank(guardian);
        oracle.pause();
        vm.expectRevert(Pausable.EnforcedPause.selector);
        oracle.finalize(EPOCH, 1, slice(ms, 1, 1), bytes32(0));
        vm.prank(guardian);
        oracle.unpause();

        vm.expectEmit(true, true, true, true, address(oracle));
        emit UsageOracle.BatchFinalized(EPOCH, 1, 1, 1, net1);
        vm.expectEmit(true, true, true, true, address(oracle));
        emit UsageOracle.Finalized(EPOCH, 1, 4.5 ether, 0.45 ether);
        oracle.finalize(EPOCH, 1, slice(ms, 1, 1), bytes32(0));
        a = oracle.getAttestation(EPOCH);
        vm.assertEq(uint256(a.status), uint256(UsageOracle.Status.Finalized));
        vm.assertEq(uint256(a.paidModels), 2);
        vm.assertEq(a.restHash, bytes32(0));
        vm.assertEq(address(tokA).balance + address(tokB).balance, net0 + net1);
        vm.assertEq(vault.feesOwed(), 0.45 ether);
        vm.assertEq(vault.escrowed(), 0);
        vm.assertEq(oracle.credits(operator), ATTEST_BOND);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.NotPosted.selector, EPOCH));
        oracle.finalize(EPOCH, 2, slice(ms, 1, 1), bytes32(0));
    }

    /// Random epochs over many models, finalized in random batch sizes, pay exactly what one call pays.
    function testFuzz_batchesPayLikeOneCall(uint256 seed, uint8 nModels, uint8 batch) public {
        uint256 m = bound(nModels, 1, 12);
        Receipt[] memory rs = new Receipt[](m * 2);
        uint128 id = uint128(block.timestamp * 1000) << 80;
        for (uint256 i; i < rs.length; ++i) {
            bytes32 model = modelId(100 + (i % m));
            if (registry.tokenOf(model) == address(0)) register(model);
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            rs[i] = receipt(++id, EPOCH, model, r & 1 == 0 ? c1 : c2, (r >> 8) % 0.1 ether + 1);
        }
        attestReceipts(EPOCH, rs, 1_000);
        vm.warp(block.timestamp + WINDOW);
        ModelTotal[] memory ms = models_();
        uint256 step = bound(batch, 1, m);
        uint256 paid;
        for (uint256 from; from < m; from += step) {
            uint256 n = from + step > m ? m - from : step;
            oracle.finalize(EPOCH, uint64(from), slice(ms, from, n), restHash(ms, from + n));
        }
        for (uint256 i; i < m; ++i) {
            uint256 expected = ms[i].total - ms[i].total * 1_000 / 10_000;
            vm.assertEq(registry.tokenOf(ms[i].model).balance, expected, "model paid its net revenue");
            paid += expected;
        }
        vm.assertEq(paid + vault.feesOwed(), oracle.getAttestation(EPOCH).total);
        vm.assertEq(vault.escrowed(), 0);
        vm.assertEq(uint256(_status(EPOCH)), uint256(UsageOracle.Status.Finalized));
    }

    // ---------------------------------------------------------------- shortfall (finding 5)

    function _withdrawAllBut(uint256 pk, uint256 keep) internal {
        address client = vm.addr(pk);
        uint256 amount = vault.balanceOf(client) - keep;
        vm.prank(client);
        vault.requestWithdrawal(amount);
        vm.warp(block.timestamp + DELAY);
        vm.prank(client);
        vault.withdraw();
    }

    error ShortfallNotCovered(uint256 required, uint256 sent);

    /// @dev Attest the honest 5-receipt epoch sending `value`.
    function _attestHonestWith(uint256 value) internal {
        Receipt[] memory rs = _receipts(EPOCH);
        (Leaf[] memory leaves, ModelTotal[] memory ms, ClientTotal[] memory cs) = ReceiptTree.build(rs);
        bytes32 root = setTree(leaves, ms, cs);
        vm.prank(operator);
        oracle.attest{value: value}(EPOCH, root, 5, 1_000, ms, cs);
    }

    /// A client withdrew everything before a late attestation: the attestation still posts with every
    /// receipt, the other client's spend is paid, the holders get every model's full net revenue, and the
    /// operator bears exactly the short client's spend (its fee, then a cover it pays in at attest).
    function test_shortfall_clientWithdrewBeforeLateAttestation() public {
        _withdrawAllBut(pk1, 0);
        // c1 owes 1.75 ether, c2 2.75 ether; the fee (10 %) is 0.45 ether: 1.3 ether to cover
        Receipt[] memory rs = _receipts(EPOCH);
        (, ModelTotal[] memory ms, ClientTotal[] memory cs) = ReceiptTree.build(rs);
        (uint256 short, uint256 cover) = oracle.coverFor(1_000, ms, cs);
        vm.assertEq(short, 1.75 ether);
        vm.assertEq(cover, 1.3 ether);
        (Leaf[] memory leaves,,) = ReceiptTree.build(rs);
        bytes32 root = ReceiptTree.root(ReceiptTree.hashes(leaves));
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(ShortfallNotCovered.selector, ATTEST_BOND + 1.3 ether, ATTEST_BOND));
        oracle.attest{value: ATTEST_BOND}(EPOCH, root, 5, 1_000, ms, cs);
        uint256 start = operator.balance;
        _attestHonestWith(ATTEST_BOND + 1.3 ether);
        UsageOracle.Attestation memory a = oracle.getAttestation(EPOCH);
        bytes32 key = bytes32((uint256(EPOCH) << 32) | 1);
        vm.assertEq(a.total, 4.5 ether);
        vm.assertEq(uint256(a.shortfall), 1.75 ether);
        vm.assertEq(uint256(a.cover), 1.3 ether);
        vm.assertEq(vault.shortfallOf(key, c1), 1.75 ether);
        vm.assertEq(vault.shortfallOf(key, c2), 0);
        vm.assertEq(vault.escrowed(), 2.75 ether);
        vm.assertEq(vault.spentOf(c1), 0);
        vm.assertFalse(_hunt(), "an honest attestation with a shortfall is not fraud");

        _finalizeHonest(0);
        vm.assertEq(address(tokA).balance, 2.925 ether, "model A: its full net revenue");
        vm.assertEq(address(tokB).balance, 1.125 ether, "model B: its full net revenue");
        vm.assertEq(vault.feesOwed(), 0);
        vm.assertEq(vault.escrowed(), 0);
        vm.prank(operator);
        oracle.withdrawCredits();
        // the operator lost its 0.45 ether fee and paid 1.3 ether: exactly c1's unpaid 1.75 ether
        vm.assertEq(start - operator.balance, 1.3 ether);
        vm.assertEq(address(oracle).balance, 0);
    }

    /// A small shortfall is absorbed by the operator's fee: nothing to cover, the holders are paid in full.
    function test_shortfall_absorbedByTheFeeFirst() public {
        _withdrawAllBut(pk1, 1.55 ether); // 0.2 ether short
        _attestHonest();
        vm.assertEq(uint256(oracle.getAttestation(EPOCH).shortfall), 0.2 ether);
        vm.assertEq(uint256(oracle.getAttestation(EPOCH).cover), 0);
        _finalizeHonest(0.25 ether);
        vm.assertEq(address(tokA).balance, 2.925 ether);
        vm.assertEq(address(tokB).balance, 1.125 ether);
        vm.assertEq(vault.feesOwed(), 0.25 ether);
        vm.assertEq(vault.balanceOf(c1), 0);
        vm.assertEq(vault.spentOf(c1), 1.55 ether);
    }

    /// Spend above a client's signed cap is never taken: the excess is that client's shortfall (covered by
    /// the operator), so fabricating spend for a client gets the operator nothing.
    function test_shortfall_aboveCapIsNeverTaken() public {
        vm.prank(address(oracle));
        vault.escrowSpend(bytes32("earlier"), _one(c1, 9 ether)); // c1 has 1 ether of cap left
        _attestHonestWith(ATTEST_BOND + 0.3 ether); // short 0.75 ether, fee 0.45 ether
        vm.assertEq(uint256(oracle.getAttestation(EPOCH).shortfall), 0.75 ether);
        vm.assertEq(vault.spentOf(c1), 10 ether);
        vm.assertEq(vault.capOf(c1), 10 ether);
        vm.assertEq(vault.balanceOf(c1), 0);
    }

    /// Sending more than bond + cover: the excess is credited back.
    function test_shortfall_excessCreditedBack() public {
        _attestHonestWith(ATTEST_BOND + 2 ether);
        vm.assertEq(oracle.credits(operator), 2 ether);
        vm.assertEq(uint256(oracle.getAttestation(EPOCH).cover), 0);
    }

    /// Unwinding a voided attestation with a shortfall returns exactly what was escrowed, and the cover goes
    /// back to the operator (only the bond is slashed).
    function test_shortfall_unwindReturnsWhatWasEscrowedAndTheCover() public {
        _withdrawAllBut(pk1, 0.25 ether); // 1.5 ether short, cover 1.05 ether
        _attestHonestWith(ATTEST_BOND + 1.05 ether);
        bytes32 key = bytes32((uint256(EPOCH) << 32) | 1);
        uint256 id = _challengeLeafAs(watcher, 0);
        vm.warp(block.timestamp + RESPONSE + 1);
        oracle.resolveChallenge(id); // the operator did not answer
        vm.assertEq(oracle.credits(operator), 1.05 ether, "cover back, bond slashed");
        oracle.unwind(EPOCH, clients_());
        vm.assertEq(vault.balanceOf(c1), 0.25 ether);
        vm.assertEq(vault.balanceOf(c2), 10 ether);
        vm.assertEq(vault.spentOf(c1), 0);
        vm.assertEq(vault.escrowed(), 0);
        vm.assertEq(vault.shortfallOf(key, c1), 0);
        UsageOracle.Attestation memory a = oracle.getAttestation(EPOCH);
        vm.assertEq(uint256(a.shortfall), 0);
        vm.assertEq(uint256(a.cover), 0);
        // the corrected round has its own shortfall
        _attestHonestWith(ATTEST_BOND + 1.05 ether);
        vm.assertEq(uint256(oracle.getAttestation(EPOCH).shortfall), 1.5 ether);
        vm.assertEq(address(oracle).balance, oracle.totalCredits() + oracle.burned() + 1.05 ether + ATTEST_BOND);
    }

    /// With a cover, a multi-batch finalize takes the escrow first, then the cover; the last batch pays no fee.
    function test_shortfall_coverAcrossBatches() public {
        _withdrawAllBut(pk1, 0);
        _attestHonestWith(ATTEST_BOND + 1.3 ether);
        vm.warp(block.timestamp + WINDOW);
        ModelTotal[] memory ms = models_();
        oracle.finalize(EPOCH, 0, slice(ms, 0, 1), restHash(ms, 1));
        oracle.finalize(EPOCH, 1, slice(ms, 1, 1), bytes32(0));
        vm.assertEq(address(tokA).balance + address(tokB).balance, 4.05 ether);
        vm.assertEq(vault.escrowed(), 0);
        vm.assertEq(vault.feesOwed(), 0);
        vm.assertEq(address(oracle).balance, ATTEST_BOND); // the bond, credited back
    }

    // ---------------------------------------------------------------- front-running (finding 4)

    /// A copier of a pending fraud proof (anyone, or the cheating operator) cannot take its reward: it has no
    /// commitment of its own, and one made after seeing the proof is too recent.
    function test_frontRun_copiedProofFails() public {
        Receipt[] memory rs = _receipts(EPOCH);
        _attestWithout(rs, 2);
        Receipt memory r = rs[2];
        bytes memory sig = signedSigs[2];
        LeafProof memory l = leafProof(1);
        LeafProof memory h = leafProof(2);
        bytes memory data = abi.encodeCall(oracle.proveOmission, (EPOCH, r, sig, l, h));
        commitAs(watcher, data); // the finder commits, a block passes, its reveal is now in the mempool
        address copier = makeAddr("copier");
        bytes32 copierC = oracle.commitmentOf(copier, data);
        vm.prank(copier);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.NotCommitted.selector, copierC));
        oracle.proveOmission(EPOCH, r, sig, l, h);
        vm.prank(copier);
        oracle.commit(copierC);
        vm.prank(copier);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.CommitmentTooRecent.selector, copierC, block.number));
        oracle.proveOmission(EPOCH, r, sig, l, h);
        bytes32 operatorC = oracle.commitmentOf(operator, data);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.NotCommitted.selector, operatorC));
        oracle.proveOmission(EPOCH, r, sig, l, h);

        vm.expectEmit(true, true, true, true, address(oracle));
        emit UsageOracle.AttestationVoided(EPOCH, 1, watcher, ATTEST_BOND / 2, ATTEST_BOND / 2);
        vm.prank(watcher);
        oracle.proveOmission(EPOCH, r, sig, l, h);
        vm.assertEq(oracle.credits(watcher), ATTEST_BOND / 2);
        vm.assertEq(oracle.commitments(oracle.commitmentOf(watcher, data)), 0, "used once");
        vm.roll(block.number + 1);
        vm.prank(copier);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.NotPosted.selector, EPOCH));
        oracle.proveOmission(EPOCH, r, sig, l, h);
        vm.assertEq(oracle.credits(copier), 0);
        vm.assertEq(oracle.credits(operator), 0);
    }

    /// Same for an interactive challenge: the copier cannot open it first.
    function test_frontRun_copiedChallengeFails() public {
        Receipt[] memory rs = _receipts(EPOCH);
        _attestWithout(rs, 2);
        bytes memory data = abi.encodeCall(oracle.challengeReceipt, (EPOCH, rs[2], signedSigs[2]));
        commitAs(watcher, data);
        address copier = makeAddr("copier");
        vm.deal(copier, 1 ether);
        bytes32 copierC = oracle.commitmentOf(copier, data);
        vm.prank(copier);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.NotCommitted.selector, copierC));
        oracle.challengeReceipt{value: CHALLENGE_BOND}(EPOCH, rs[2], signedSigs[2]);
        vm.prank(watcher);
        uint256 id = oracle.challengeReceipt{value: CHALLENGE_BOND}(EPOCH, rs[2], signedSigs[2]);
        vm.assertEq(oracle.getChallenge(id).challenger, watcher);
        vm.warp(block.timestamp + RESPONSE + 1);
        vm.prank(copier);
        oracle.resolveChallenge(id); // anyone may resolve: the reward still goes to the challenger
        vm.assertEq(oracle.credits(watcher), CHALLENGE_BOND + ATTEST_BOND / 2);
        vm.assertEq(oracle.credits(copier), 0);
    }

    // ---------------------------------------------------------------- receipt and leaf challenges

    function test_challengeReceipt_rejectedByProof() public {
        _attestHonest();
        uint256 id = _challengeReceiptAs(watcher, signedReceipts[2], signedSigs[2]);
        UsageOracle.Challenge memory c = oracle.getChallenge(id);
        vm.assertEq(c.challenger, watcher);
        vm.assertEq(uint256(c.deadline), block.timestamp + RESPONSE);
        vm.assertEq(uint256(oracle.getAttestation(EPOCH).openChallenges), 1);

        vm.expectRevert(UsageOracle.LeafMismatch.selector);
        oracle.respond(id, leafProof(1));
        LeafProof memory p = leafProof(2);
        p.proof[0] = bytes32(uint256(p.proof[0]) ^ 1);
        vm.expectRevert(UsageOracle.InvalidProof.selector);
        oracle.respond(id, p);

        vm.expectEmit(true, true, true, true, address(oracle));
        emit UsageOracle.ChallengeRejected(id, 2);
        oracle.respond(id, leafProof(2));
        vm.assertEq(uint256(oracle.getChallenge(id).status), uint256(UsageOracle.ChallengeStatus.Rejected));
        vm.assertEq(oracle.credits(operator), CHALLENGE_BOND / 2);
        vm.assertEq(oracle.burned(), CHALLENGE_BOND / 2);
        vm.assertEq(oracle.credits(watcher), 0); // a wrong challenger loses its bond
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.ChallengeNotOpen.selector, id));
        oracle.respond(id, leafProof(2));
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.ChallengeNotOpen.selector, id));
        oracle.resolveChallenge(id);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.UnknownChallenge.selector, 5));
        oracle.resolveChallenge(5);
    }

    function test_challengeReceipt_reverts() public {
        vm.prank(watcher);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.NotPosted.selector, EPOCH));
        oracle.challengeReceipt{value: CHALLENGE_BOND}(EPOCH, receipt(1, EPOCH, mA, c1, 1), "");
        _attestHonest();
        vm.startPrank(watcher);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.WrongBond.selector, CHALLENGE_BOND, 0));
        oracle.challengeReceipt(EPOCH, signedReceipts[0], signedSigs[0]);
        Receipt memory other = receipt(1, EPOCH + 1, mA, c1, 1);
        bytes memory otherSig = signReceipt(other);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.WrongEpoch.selector, EPOCH, EPOCH + 1));
        oracle.challengeReceipt{value: CHALLENGE_BOND}(EPOCH, other, otherSig);
        Receipt memory forged = receipt(2, EPOCH, mA, c1, 1);
        bytes memory forgedSig = signReceiptWith(pk1, forged); // not the operator's key
        vm.expectRevert(UsageOracle.InvalidReceiptSignature.selector);
        oracle.challengeReceipt{value: CHALLENGE_BOND}(EPOCH, forged, forgedSig);
        vm.expectRevert(UsageOracle.InvalidReceiptSignature.selector);
        oracle.challengeReceipt{value: CHALLENGE_BOND}(EPOCH, forged, hex"1234");
        // a valid challenge needs the sender's commitment, from an earlier block
        bytes memory data = abi.encodeCall(oracle.challengeReceipt, (EPOCH, signedReceipts[0], signedSigs[0]));
        bytes32 c = oracle.commitmentOf(watcher, data);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.NotCommitted.selector, c));
        oracle.challengeReceipt{value: CHALLENGE_BOND}(EPOCH, signedReceipts[0], signedSigs[0]);
        oracle.commit(c);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.AlreadyCommitted.selector, c));
        oracle.commit(c);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.CommitmentTooRecent.selector, c, block.number));
        oracle.challengeReceipt{value: CHALLENGE_BOND}(EPOCH, signedReceipts[0], signedSigs[0]);
        vm.warp(block.timestamp + WINDOW);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.WindowClosed.selector, block.timestamp));
        oracle.challengeReceipt{value: CHALLENGE_BOND}(EPOCH, signedReceipts[0], signedSigs[0]);
        vm.stopPrank();
    }

    function test_challengeReceipt_omittedReceiptWins() public {
        Receipt[] memory rs = _receipts(EPOCH);
        Receipt[] memory four = new Receipt[](4);
        for (uint256 i; i < 4; ++i) {
            four[i] = rs[i == 3 ? 4 : i]; // drop rs[3]
        }
        attestReceipts(EPOCH, four, 1_000);
        uint256 id = _challengeReceiptAs(watcher, rs[3], signedSigs[3]);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.ResponseWindowOpen.selector, block.timestamp + RESPONSE));
        oracle.resolveChallenge(id);
        vm.warp(block.timestamp + RESPONSE + 1);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.ResponseTooLate.selector, block.timestamp - 1));
        oracle.respond(id, leafProof(2));
        vm.expectEmit(true, true, true, true, address(oracle));
        emit UsageOracle.AttestationVoided(EPOCH, 1, watcher, ATTEST_BOND / 2, ATTEST_BOND / 2);
        oracle.resolveChallenge(id);
        vm.assertEq(uint256(_status(EPOCH)), uint256(UsageOracle.Status.Voided));
        vm.assertEq(oracle.credits(watcher), CHALLENGE_BOND + ATTEST_BOND / 2);
        vm.assertEq(oracle.burned(), ATTEST_BOND / 2);
        uint256 before = watcher.balance;
        vm.prank(watcher);
        oracle.withdrawCredits();
        vm.assertEq(watcher.balance, before + CHALLENGE_BOND + ATTEST_BOND / 2);
        vm.prank(watcher);
        vm.expectRevert(UsageOracle.NoCredits.selector);
        oracle.withdrawCredits();
    }

    function test_challenge_mootAfterVoid() public {
        Receipt[] memory rs = _receipts(EPOCH);
        attestReceipts(EPOCH, rs, 1_000);
        uint256 id = _challengeReceiptAs(watcher, rs[1], signedSigs[1]);
        uint256 id2 = _challengeLeafAs(watcher, 4);
        // someone else voids it with a fraud proof (here: the operator itself, see test_selfChallenge)
        LeafProof memory p = leafProof(0);
        vm.prank(operator);
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveBadEpoch(EPOCH, p);
        // force a void via an unanswered leaf challenge, then the other is moot
        vm.warp(block.timestamp + RESPONSE + 1);
        oracle.resolveChallenge(id2);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.NotPosted.selector, EPOCH));
        oracle.respond(id, leafProof(1));
        oracle.resolveChallenge(id);
        vm.assertEq(uint256(oracle.getChallenge(id).status), uint256(UsageOracle.ChallengeStatus.Moot));
        vm.assertEq(oracle.credits(watcher), 2 * CHALLENGE_BOND + ATTEST_BOND / 2);
    }

    // ---------------------------------------------------------------- revoked operator keys (finding 2)

    uint256 constant NEW_OPERATOR_PK = 0xB0B0;

    /// @dev The admin grants a new operator key and revokes the current one, one second later.
    function _rotate() internal returns (address newOperator) {
        newOperator = vm.addr(NEW_OPERATOR_PK);
        vm.deal(newOperator, 100 ether);
        vm.warp(block.timestamp + 1);
        bytes32 role = oracle.OPERATOR_ROLE();
        vm.startPrank(admin);
        oracle.grantRole(role, newOperator);
        oracle.revokeRole(role, operator);
        vm.stopPrank();
    }

    /// Rotating keys does not bury evidence: a receipt of the old key still proves fraud against an
    /// attestation posted before the revocation.
    function test_revokedKey_stillEvidenceAgainstEarlierAttestations() public {
        Receipt[] memory rs = _receipts(EPOCH);
        _attestWithout(rs, 2);
        address newOperator = _rotate();
        vm.assertFalse(oracle.hasRole(oracle.OPERATOR_ROLE(), operator));
        vm.assertTrue(oracle.isReceiptSigner(operator));
        vm.assertTrue(oracle.isReceiptSigner(newOperator));
        vm.assertEq(uint256(oracle.receiptSignerRevokedAt(operator)), block.timestamp);
        vm.assertTrue(oracle.isEvidenceSigner(operator, EPOCH));
        commitAndCall(abi.encodeCall(oracle.proveOmission, (EPOCH, rs[2], signedSigs[2], leafProof(1), leafProof(2))));
        vm.assertEq(uint256(_status(EPOCH)), uint256(UsageOracle.Status.Voided));
    }

    /// A thief holding a rotated-out key can void at most the attestations that were in their window when
    /// the key was revoked, each once; nothing posted afterwards (later epochs, or a re-attestation).
    function test_revokedKey_thiefCannotVoidLaterEpochs() public {
        address thief = makeAddr("thief");
        vm.deal(thief, 1 ether);
        address newOperator = _rotate();
        uint64 revokedAt = uint64(block.timestamp);
        // epoch 8: honest, posted after the rotation by the new key
        Receipt[] memory r8 = _receipts(8);
        (Leaf[] memory leaves, ModelTotal[] memory ms, ClientTotal[] memory cs) = ReceiptTree.build(r8);
        bytes32 root8 = setTree(leaves, ms, cs);
        vm.prank(newOperator);
        oracle.attest{value: ATTEST_BOND}(8, root8, 5, 1_000, ms, cs);
        vm.assertFalse(oracle.isEvidenceSigner(operator, 8));
        vm.assertTrue(oracle.isEvidenceSigner(newOperator, 8));

        // the thief fabricates a receipt of epoch 8 with the old key: rejected, by fraud proof or challenge
        Receipt memory fake = receipt(r8[4].id + 1, 8, mA, c1, 1);
        bytes memory fakeSig = signReceiptWith(OPERATOR_PK, fake);
        LeafProof memory last = leafProof(4);
        commitAs(thief, abi.encodeCall(oracle.proveOmission, (8, fake, fakeSig, last, last)));
        vm.prank(thief);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.RevokedSigner.selector, operator, revokedAt));
        oracle.proveOmission(8, fake, fakeSig, last, last);
        vm.prank(thief);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.RevokedSigner.selector, operator, revokedAt));
        oracle.challengeReceipt{value: CHALLENGE_BOND}(8, fake, fakeSig);
        // the same fabricated receipt signed by the active key would be evidence (a valid, uncommitted proof)
        bytes memory activeSig = signReceiptWith(NEW_OPERATOR_PK, fake);
        bytes32 c = oracle.commitmentOf(thief, abi.encodeCall(oracle.proveOmission, (8, fake, activeSig, last, last)));
        vm.prank(thief);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.NotCommitted.selector, c));
        oracle.proveOmission(8, fake, activeSig, last, last);
        vm.warp(block.timestamp + WINDOW);
        finalizeAll(8, ms);
        vm.assertEq(uint256(_status(8)), uint256(UsageOracle.Status.Finalized));
    }

    /// The bound is tight: an attestation still in its window at the revocation can be voided by the thief,
    /// once; its corrected re-attestation (posted after the revocation) cannot.
    function test_revokedKey_boundIsTheWindowsOpenAtRevocation() public {
        address thief = makeAddr("thief");
        _attestHonest(); // epoch 7, posted by the old key
        Leaf[] memory leaves7 = lastLeaves;
        LeafProof memory last7 = leafProof(4);
        Receipt memory fake7 = receipt(signedReceipts[4].id + 1, EPOCH, mA, c1, 1);
        bytes memory fake7Sig = signReceiptWith(OPERATOR_PK, fake7);
        address newOperator = _rotate();

        commitAs(thief, abi.encodeCall(oracle.proveOmission, (EPOCH, fake7, fake7Sig, last7, last7)));
        vm.prank(thief);
        oracle.proveOmission(EPOCH, fake7, fake7Sig, last7, last7);
        vm.assertEq(uint256(_status(EPOCH)), uint256(UsageOracle.Status.Voided));
        oracle.unwind(EPOCH, clients_());
        vm.prank(newOperator);
        oracle.attest{value: ATTEST_BOND}(
            EPOCH, ReceiptTree.root(ReceiptTree.hashes(leaves7)), 5, 1_000, models_(), clients_()
        );
        commitAs(thief, abi.encodeCall(oracle.proveOmission, (EPOCH, fake7, fake7Sig, last7, last7)));
        vm.prank(thief);
        vm.expectRevert(
            abi.encodeWithSelector(
                UsageOracle.RevokedSigner.selector, operator, oracle.receiptSignerRevokedAt(operator)
            )
        );
        oracle.proveOmission(EPOCH, fake7, fake7Sig, last7, last7);
        vm.warp(block.timestamp + WINDOW);
        finalizeAll(EPOCH, models_());
        vm.assertEq(uint256(_status(EPOCH)), uint256(UsageOracle.Status.Finalized));
    }

    /// Renouncing the role counts as a revocation; granting the key again lifts it.
    function test_revokedKey_renounceAndRegrant() public {
        bytes32 role = oracle.OPERATOR_ROLE();
        vm.warp(block.timestamp + 10);
        vm.prank(operator);
        oracle.renounceRole(role, operator);
        vm.assertEq(uint256(oracle.receiptSignerRevokedAt(operator)), block.timestamp);
        vm.warp(block.timestamp + 10);
        vm.prank(admin);
        oracle.grantRole(role, operator);
        vm.assertEq(uint256(oracle.receiptSignerRevokedAt(operator)), 0);
        _attestHonest();
        vm.assertTrue(oracle.isEvidenceSigner(operator, EPOCH));
        vm.assertFalse(oracle.isEvidenceSigner(c1, EPOCH));
    }

    function test_challengeLeaf_revealOrLose() public {
        _attestHonest();
        vm.startPrank(watcher);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.IndexOutOfRange.selector, 5, 5));
        oracle.challengeLeaf{value: CHALLENGE_BOND}(EPOCH, 5);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.WrongBond.selector, CHALLENGE_BOND, 1));
        oracle.challengeLeaf{value: 1}(EPOCH, 1);
        vm.stopPrank();
        uint256 id = _challengeLeafAs(watcher, 3);
        vm.expectRevert(UsageOracle.LeafMismatch.selector);
        oracle.respond(id, leafProof(2));
        oracle.respond(id, leafProof(3));
        vm.assertEq(uint256(oracle.getChallenge(id).status), uint256(UsageOracle.ChallengeStatus.Rejected));
    }

    /// The operator withholds the tree and puts an unprovable (garbage) leaf where a model total points:
    /// a leaf challenge forces it to reveal, which it cannot, so it loses.
    function test_challengeLeaf_garbageLeafLoses() public {
        Receipt[] memory rs = _receipts(EPOCH);
        (Leaf[] memory leaves, ModelTotal[] memory ms, ClientTotal[] memory cs) = ReceiptTree.build(rs);
        bytes32[] memory hs = ReceiptTree.hashes(leaves);
        hs[4] = keccak256("garbage");
        bytes32 root = ReceiptTree.root(hs);
        vm.prank(operator);
        oracle.attest{value: ATTEST_BOND}(EPOCH, root, 5, 0, ms, cs);
        uint256 id = _challengeLeafAs(watcher, 4);
        vm.warp(block.timestamp + RESPONSE + 1);
        oracle.resolveChallenge(id);
        vm.assertEq(uint256(_status(EPOCH)), uint256(UsageOracle.Status.Voided));
    }

    // ---------------------------------------------------------------- fraud proofs

    function test_honestAttestation_survivesEveryProof() public {
        _attestHonest();
        vm.assertFalse(_hunt(), "honest attestation lost");
        vm.assertEq(uint256(_status(EPOCH)), uint256(UsageOracle.Status.Posted));
        // and every receipt challenge is answered
        for (uint256 i; i < 5; ++i) {
            uint256 id = _challengeReceiptAs(watcher, signedReceipts[i], signedSigs[i]);
            oracle.respond(id, leafProof(i));
        }
        vm.warp(block.timestamp + WINDOW);
        finalizeAll(EPOCH, models_());
    }

    function test_proveOmission_kinds() public {
        Receipt[] memory rs = _receipts(EPOCH);
        // missing in the middle (rs[2])
        _attestWithout(rs, 2);
        _proveExpectingFraud(
            abi.encodeCall(oracle.proveOmission, (EPOCH, rs[2], signedSigs[2], leafProof(1), leafProof(2))), "omission"
        );
        // missing at the start
        _reset(rs);
        _attestWithout(rs, 0);
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveOmission(EPOCH, rs[0], signedSigs[0], leafProof(1), leafProof(1));
        commitAndCall(abi.encodeCall(oracle.proveOmission, (EPOCH, rs[0], signedSigs[0], leafProof(0), leafProof(0))));
        // missing at the end
        _reset(rs);
        _attestWithout(rs, 4);
        commitAndCall(abi.encodeCall(oracle.proveOmission, (EPOCH, rs[4], signedSigs[4], leafProof(3), leafProof(3))));
        vm.assertEq(uint256(_status(EPOCH)), uint256(UsageOracle.Status.Voided));
    }

    function test_proveOmission_misstated() public {
        Receipt[] memory rs = _receipts(EPOCH);
        Receipt[] memory changed = copyReceipts(rs);
        changed[1].model = mA; // revenue moved from model B to model A
        attestReceipts(EPOCH, changed, 0);
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveOmission(EPOCH, rs[0], signedSigs[0], leafProof(0), leafProof(0)); // included as signed
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveOmission(EPOCH, rs[1], signedSigs[1], leafProof(2), leafProof(3)); // wrong bracket
        commitAndCall(abi.encodeCall(oracle.proveOmission, (EPOCH, rs[1], signedSigs[1], leafProof(1), leafProof(1))));
        vm.assertEq(uint256(_status(EPOCH)), uint256(UsageOracle.Status.Voided));
    }

    function test_proveBadEpoch() public {
        Receipt[] memory rs = _receipts(EPOCH);
        rs[3].epoch = EPOCH - 1;
        attestReceipts(EPOCH, rs, 0);
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveBadEpoch(EPOCH, leafProof(2));
        _proveExpectingFraud(abi.encodeCall(oracle.proveBadEpoch, (EPOCH, leafProof(3))), "epoch");
    }

    function test_proveBadOrder() public {
        Receipt[] memory rs = _receipts(EPOCH);
        (rs[1], rs[2]) = (rs[2], rs[1]);
        attestReceipts(EPOCH, rs, 0);
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveBadOrder(EPOCH, leafProof(0), leafProof(1));
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveBadOrder(EPOCH, leafProof(0), leafProof(2)); // not adjacent
        _proveExpectingFraud(abi.encodeCall(oracle.proveBadOrder, (EPOCH, leafProof(1), leafProof(2))), "order");
    }

    function test_proveBadLink_wrongSum() public {
        (Leaf[] memory leaves, ModelTotal[] memory ms, ClientTotal[] memory cs) = ReceiptTree.build(_receipts(EPOCH));
        leaves[3].modelCum += 1; // third A leaf: sum off by one (and the A total with it)
        ms[0].total += 1;
        cs[0].total += 1;
        _fixClientFor(ms, cs);
        attestTree(EPOCH, leaves, ms, cs, 0);
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveBadLink(EPOCH, 0, leafProof(2), leafProof(0));
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveBadLink(EPOCH, 0, leafProof(3), leafProof(0)); // wrong prev leaf supplied
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.InvalidSide.selector, 2));
        oracle.proveBadLink(EPOCH, 2, leafProof(3), leafProof(2));
        _proveExpectingFraud(abi.encodeCall(oracle.proveBadLink, (EPOCH, 0, leafProof(3), leafProof(2))), "link");
    }

    function test_proveBadLink_firstAndPointers() public {
        (Leaf[] memory leaves, ModelTotal[] memory ms, ClientTotal[] memory cs) = ReceiptTree.build(_receipts(EPOCH));
        leaves[0].clientCum = 5 ether; // first leaf of c1 must have cum == price
        attestTree(EPOCH, leaves, ms, cs, 0);
        _proveExpectingFraud(abi.encodeCall(oracle.proveBadLink, (EPOCH, 1, leafProof(0), leafProof(0))), "link");

        _reset(_receipts(EPOCH));
        (leaves, ms, cs) = ReceiptTree.build(_receipts(EPOCH));
        leaves[2].modelPrev = 3; // points to itself
        attestTree(EPOCH, leaves, ms, cs, 0);
        commitAndCall(abi.encodeCall(oracle.proveBadLink, (EPOCH, 0, leafProof(2), leafProof(2))));

        _reset(_receipts(EPOCH));
        (leaves, ms, cs) = ReceiptTree.build(_receipts(EPOCH));
        leaves[3].modelPrev = 2; // points to a model-B leaf
        leaves[3].modelCum = leaves[1].modelCum + leaves[3].receipt.price;
        attestTree(EPOCH, leaves, ms, cs, 0);
        commitAndCall(abi.encodeCall(oracle.proveBadLink, (EPOCH, 0, leafProof(3), leafProof(1))));
    }

    function test_proveSkipped() public {
        (Leaf[] memory leaves, ModelTotal[] memory ms, ClientTotal[] memory cs) = ReceiptTree.build(_receipts(EPOCH));
        // leaf 3 (A) should follow leaf 2 (A); make it follow leaf 0 and drop leaf 2's price from the sum
        leaves[3].modelPrev = 1;
        leaves[3].modelCum = leaves[0].modelCum + leaves[3].receipt.price;
        ms[ms[0].model == mA ? 0 : 1].total = leaves[3].modelCum;
        cs[cs[0].client == c2 ? 0 : 1].total -= 2 ether; // keep sums equal: c2's leaf-2 spend dropped too
        attestTree(EPOCH, leaves, ms, cs, 0);
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveBadLink(EPOCH, 0, leafProof(3), leafProof(0)); // the link itself is consistent
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveSkipped(EPOCH, 0, leafProof(1), leafProof(3)); // leaf 1 is model B
        _proveExpectingFraud(abi.encodeCall(oracle.proveSkipped, (EPOCH, 0, leafProof(2), leafProof(3))), "skip");
    }

    function test_proveBadModelTotal() public {
        (Leaf[] memory leaves, ModelTotal[] memory ms, ClientTotal[] memory cs) = ReceiptTree.build(_receipts(EPOCH));
        // wrong total for the entry's last leaf
        ModelTotal[] memory bad = _copyM(ms);
        bad[0].total += 1 ether;
        ClientTotal[] memory badC = _copyC(cs);
        badC[0].total += 1 ether;
        attestTree(EPOCH, leaves, bad, badC, 0);
        vm.expectRevert(UsageOracle.ListMismatch.selector);
        oracle.proveBadModelTotal(EPOCH, ms, 0, leafProof(3));
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveBadModelTotal(EPOCH, bad, 1, leafProof(4));
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveBadModelTotal(EPOCH, bad, type(uint256).max, leafProof(4)); // B is listed
        _proveExpectingFraud(
            abi.encodeCall(oracle.proveBadModelTotal, (EPOCH, bad, 0, leafProof(bad[0].last - 1))), "model-total"
        );
        uint256 aEntry;

        // `last` points before the real last leaf of the model
        _reset(_receipts(EPOCH));
        bad = _copyM(ms);
        aEntry = bad[0].model == mA ? 0 : 1;
        bad[aEntry].last = 3; // leaf 2 is A too, with the partial sum
        bad[aEntry].total = leaves[2].modelCum;
        bad[1 - aEntry].total += leaves[3].receipt.price;
        bad[1 - aEntry].last = 5;
        attestTree(EPOCH, leaves, bad, cs, 0);
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveBadModelTotal(EPOCH, bad, aEntry, leafProof(2));
        commitAndCall(abi.encodeCall(oracle.proveBadModelTotal, (EPOCH, bad, aEntry, leafProof(3))));

        // a model with receipts is missing from the list
        _reset(_receipts(EPOCH));
        Receipt[] memory rs = _receipts(EPOCH);
        bytes32 mC = modelId(3);
        register(mC);
        rs[4].model = mC;
        (leaves, ms, cs) = ReceiptTree.build(rs);
        bad = new ModelTotal[](2);
        for (uint256 i; i < 3; ++i) {
            if (ms[i].model == mB) {
                bad[bad[0].model == bytes32(0) ? 0 : 1] = ModelTotal(mB, ms[i].total + 0.75 ether, 5);
            } else if (ms[i].model == mA) {
                bad[bad[0].model == bytes32(0) ? 0 : 1] = ms[i];
            }
        }
        ReceiptTree.sortModels(bad);
        attestTree(EPOCH, leaves, bad, cs, 0);
        commitAndCall(abi.encodeCall(oracle.proveBadModelTotal, (EPOCH, bad, type(uint256).max, leafProof(4))));
        vm.assertEq(uint256(_status(EPOCH)), uint256(UsageOracle.Status.Voided));
    }

    function test_proveBadClientTotal() public {
        (Leaf[] memory leaves, ModelTotal[] memory ms, ClientTotal[] memory cs) = ReceiptTree.build(_receipts(EPOCH));
        // shift 0.5 ether of spend from one client to the other in the list only
        ClientTotal[] memory bad = _copyC(cs);
        bad[0].total += 0.5 ether;
        bad[1].total -= 0.5 ether;
        attestTree(EPOCH, leaves, ms, bad, 0);
        vm.expectRevert(UsageOracle.ListMismatch.selector);
        oracle.proveBadClientTotal(EPOCH, cs, 0, leafProof(0));
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveBadClientTotal(EPOCH, bad, type(uint256).max, leafProof(0));
        vm.expectRevert(UsageOracle.NotFraud.selector);
        oracle.proveBadClientTotal(EPOCH, bad, 0, leafProof(0)); // not the entry's last leaf, earlier
        _proveExpectingFraud(
            abi.encodeCall(oracle.proveBadClientTotal, (EPOCH, bad, 0, leafProof(bad[0].last - 1))), "client-total"
        );

        // an unknown client's receipt in the tree
        _reset(_receipts(EPOCH));
        Receipt[] memory rs = _receipts(EPOCH);
        rs[2].client = address(0xBEEF);
        (leaves,,) = ReceiptTree.build(rs);
        attestTree(EPOCH, leaves, ms, cs, 0); // lists of the honest set
        commitAndCall(abi.encodeCall(oracle.proveBadClientTotal, (EPOCH, cs, type(uint256).max, leafProof(2))));
        vm.assertEq(uint256(_status(EPOCH)), uint256(UsageOracle.Status.Voided));
    }

    function test_fraudProofs_revertOutsideWindowOrBadProof() public {
        Receipt[] memory rs = _receipts(EPOCH);
        rs[3].epoch = EPOCH - 1;
        attestReceipts(EPOCH, rs, 0);
        LeafProof memory p = leafProof(3);
        p.index = 5;
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.IndexOutOfRange.selector, 5, 5));
        oracle.proveBadEpoch(EPOCH, p);
        p = leafProof(3);
        p.proof = new bytes32[](2);
        vm.expectRevert(UsageOracle.InvalidProof.selector);
        oracle.proveBadEpoch(EPOCH, p);
        p = leafProof(3);
        p.leaf.modelCum += 1;
        vm.expectRevert(UsageOracle.InvalidProof.selector);
        oracle.proveBadEpoch(EPOCH, p);
        vm.warp(block.timestamp + WINDOW);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.WindowClosed.selector, block.timestamp));
        oracle.proveBadEpoch(EPOCH, leafProof(3));
        // unchallenged past the window: it finalizes (watchers must watch)
        finalizeAll(EPOCH, models_());
    }

    // ---------------------------------------------------------------- unwind, re-attest, bonds

    function test_unwind_thenCorrectedAttestation() public {
        Receipt[] memory rs = _receipts(EPOCH);
        _attestWithout(rs, 2);
        ClientTotal[] memory voidedClients = clients_();
        commitAndCall(abi.encodeCall(oracle.proveOmission, (EPOCH, rs[2], signedSigs[2], leafProof(1), leafProof(2))));
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.AlreadyAttested.selector, EPOCH, UsageOracle.Status.Voided));
        oracle.attest{value: ATTEST_BOND}(EPOCH, bytes32(0), 1, 0, new ModelTotal[](0), new ClientTotal[](0));
        ClientTotal[] memory wrong = _copyC(voidedClients);
        wrong[0].total += 1;
        vm.expectRevert(UsageOracle.ListMismatch.selector);
        oracle.unwind(EPOCH, wrong);
        oracle.unwind(EPOCH, voidedClients);
        vm.assertEq(vault.escrowed(), 0);
        vm.assertEq(vault.balanceOf(c1), 10 ether);
        vm.assertEq(vault.spentOf(c2), 0);
        vm.expectRevert(abi.encodeWithSelector(UsageOracle.NotVoided.selector, EPOCH));
        oracle.unwind(EPOCH, voidedClients);
        // corrected attestation, round 2
        attestReceipts(EPOCH, rs, 1_000);
        vm.assertEq(uint256(oracle.getAttestation(EPOCH).round), 2);
        vm.warp(block.timestamp + WINDOW);
        finalizeAll(EPOCH, models_());
        vm.assertEq(address(tokA).balance, 2.925 ether);
    }

    /// UMA-style: an operator that challenges its own attestation gets half its bond back, never more.
    function test_selfChallenge_neverProfits() public {
        Receipt[] memory rs = _receipts(EPOCH);
        uint256 start = operator.balance;
        _attestWithout(rs, 2);
        bytes memory data =
            abi.encodeCall(oracle.proveOmission, (EPOCH, rs[2], signedSigs[2], leafProof(1), leafProof(2)));
        commitAs(operator, data);
        vm.prank(operator);
        (bool ok,) = address(oracle).call(data);
        vm.assertTrue(ok);
        vm.prank(operator);
        oracle.withdrawCredits();
        vm.assertEq(operator.balance, start - ATTEST_BOND / 2);
    }

    // ---------------------------------------------------------------- fuzz: false always loses, true always survives

    /// A random honest epoch survives every fraud proof and finalizes paying exactly its totals.
    function testFuzz_trueAttestationSurvives(uint256 seed, uint8 n, uint16 fee) public {
        Receipt[] memory rs = _randomReceipts(seed, bound(n, 1, 8));
        fee = uint16(bound(fee, 0, MAX_FEE));
        attestReceipts(EPOCH, rs, fee);
        vm.assertFalse(_hunt(), "honest attestation lost");
        vm.warp(block.timestamp + WINDOW);
        uint256 a0 = address(tokA).balance;
        uint256 b0 = address(tokB).balance;
        finalizeAll(EPOCH, models_());
        uint256 paid = address(tokA).balance - a0 + address(tokB).balance - b0 + vault.feesOwed();
        vm.assertEq(paid, oracle.getAttestation(EPOCH).total);
        vm.assertEq(vault.escrowed(), 0);
    }

    /// A random lie about a random epoch is always caught by the watcher's search.
    function testFuzz_falseAttestationLoses(uint256 seed, uint8 n, uint8 kind, uint256 which) public {
        Receipt[] memory rs = _randomReceipts(seed, bound(n, 2, 8));
        (Leaf[] memory leaves, ModelTotal[] memory ms, ClientTotal[] memory cs) = ReceiptTree.build(rs);
        uint256 i = bound(which, 0, rs.length - 1);
        kind = uint8(bound(kind, 0, 7));
        if (kind == 0) {
            leaves[i].modelCum += 1; // running sum off
        } else if (kind == 1) {
            leaves[i].clientCum -= 1;
        } else if (kind == 2) {
            ms[0].total += 1; // inflate a model and a client together
            cs[0].total += 1;
        } else if (kind == 3) {
            // drop receipt i, honest annotations on the rest
            Receipt[] memory fewer = new Receipt[](rs.length - 1);
            for (uint256 k; k < fewer.length; ++k) {
                fewer[k] = rs[k < i ? k : k + 1];
            }
            (leaves, ms, cs) = ReceiptTree.build(fewer);
        } else if (kind == 4) {
            // move receipt i to the other model, annotations rebuilt honestly
            Receipt[] memory moved = copyReceipts(rs);
            moved[i].model = moved[i].model == mA ? mB : mA;
            (leaves, ms, cs) = ReceiptTree.build(moved);
        } else if (kind == 5) {
            // swap two adjacent leaves
            uint256 j = i + 1 < rs.length ? i + 1 : i - 1;
            (leaves[i], leaves[j]) = (leaves[j], leaves[i]);
        } else if (kind == 6) {
            leaves[i].receipt.price += 1; // misstated price, sums untouched
        } else {
            // charge receipt i to another client, annotations rebuilt honestly
            Receipt[] memory moved = copyReceipts(rs);
            moved[i].client = moved[i].client == c1 ? c2 : c1;
            (leaves, ms, cs) = ReceiptTree.build(moved);
        }
        attestTree(EPOCH, leaves, ms, cs, 0);
        vm.assertTrue(_hunt(), "false attestation survived");
        vm.assertEq(uint256(_status(EPOCH)), uint256(UsageOracle.Status.Voided));
    }

    // ---------------------------------------------------------------- helpers

    function _randomReceipts(uint256 seed, uint256 n) internal returns (Receipt[] memory rs) {
        rs = new Receipt[](n);
        uint128 id = uint128(block.timestamp * 1000) << 80;
        delete signedReceipts;
        delete signedSigs;
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            id += uint128(r % 1000) + 1;
            rs[i] = receipt(id, EPOCH, r & 1 == 0 ? mA : mB, (r >> 1) & 1 == 0 ? c1 : c2, (r >> 8) % 1 ether + 1);
            signedReceipts.push(rs[i]);
            signedSigs.push(signReceipt(rs[i]));
        }
    }

    function _attestWithout(Receipt[] memory rs, uint256 skip) internal {
        Receipt[] memory fewer = new Receipt[](rs.length - 1);
        for (uint256 k; k < fewer.length; ++k) {
            fewer[k] = rs[k < skip ? k : k + 1];
        }
        attestReceipts(EPOCH, fewer, 1_000);
    }

    /// Void whatever is posted for EPOCH (by an unanswered leaf challenge), unwind it, and re-sign `rs`.
    function _reset(Receipt[] memory) internal {
        if (_status(EPOCH) == UsageOracle.Status.Posted) {
            uint256 id = _challengeLeafAs(watcher, 0);
            vm.warp(block.timestamp + RESPONSE + 1);
            oracle.resolveChallenge(id);
        }
        oracle.unwind(EPOCH, clients_());
    }

    /// @dev Commit to `data`, expect the FraudProven event of `kind`, send it.
    function _proveExpectingFraud(bytes memory data, bytes32 kind) internal {
        commitAs(address(this), data);
        _expectFraud(kind);
        callOracle(data);
    }

    /// @dev Open a receipt challenge as `who` (commit, next block, challenge).
    function _challengeReceiptAs(address who, Receipt memory r, bytes memory sig) internal returns (uint256 id) {
        commitAs(who, abi.encodeCall(oracle.challengeReceipt, (EPOCH, r, sig)));
        vm.prank(who);
        id = oracle.challengeReceipt{value: CHALLENGE_BOND}(EPOCH, r, sig);
    }

    /// @dev Open a leaf challenge as `who` (commit, next block, challenge).
    function _challengeLeafAs(address who, uint64 index) internal returns (uint256 id) {
        commitAs(who, abi.encodeCall(oracle.challengeLeaf, (EPOCH, index)));
        vm.prank(who);
        id = oracle.challengeLeaf{value: CHALLENGE_BOND}(EPOCH, index);
    }

    function _expectFraud(bytes32 kind) internal {
        vm.expectEmit(true, true, true, true, address(oracle));
        emit UsageOracle.FraudProven(EPOCH, oracle.getAttestation(EPOCH).round, address(this), kind);
    }

    /// Rebalance the client list so that its sum equals the model list's (attest requires it).
    function _fixClientFor(ModelTotal[] memory ms, ClientTotal[] memory cs) internal pure {
        uint256 m;
        uint256 c;
        for (uint256 i; i < ms.length; ++i) {
            m += ms[i].total;
        }
        for (uint256 i; i < cs.length; ++i) {
            c += cs[i].total;
        }
        if (m > c) cs[0].total += m - c;
        else cs[0].total -= c - m;
    }

    function _copyM(ModelTotal[] memory a) internal pure returns (ModelTotal[] memory out) {
        out = new ModelTotal[](a.length);
        for (uint256 i; i < a.length; ++i) {
            out[i] = ModelTotal(a[i].model, a[i].total, a[i].last);
        }
    }

    function _copyC(ClientTotal[] memory a) internal pure returns (ClientTotal[] memory out) {
        out = new ClientTotal[](a.length);
        for (uint256 i; i < a.length; ++i) {
            out[i] = ClientTotal(a[i].client, a[i].total, a[i].last);
        }
    }
}
