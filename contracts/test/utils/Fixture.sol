// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {TestBase} from "./TestBase.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {ModelToken} from "../../src/ModelToken.sol";
import {PaymentVault} from "../../src/PaymentVault.sol";
import {UsageOracle} from "../../src/UsageOracle.sol";
import {Receipt, Leaf, LeafProof, ModelTotal, ClientTotal} from "../../src/Types.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @notice Independent (test-side) implementation of the receipt tree: leaf annotation, leaf hashing, the
///         positional zero-padded Merkle tree, proofs and totals. The Rust side must produce the same bytes.
library ReceiptTree {
    bytes32 internal constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(uint128 id,uint64 epoch,bytes32 model,address client,uint256 price,bytes32 inputHash,bytes32 outputHash,bytes32 fingerprint,uint64 timestamp)"
    );

    function receiptHash(Receipt memory r) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                RECEIPT_TYPEHASH,
                r.id,
                r.epoch,
                r.model,
                r.client,
                r.price,
                r.inputHash,
                r.outputHash,
                r.fingerprint,
                r.timestamp
            )
        );
    }

    function leafHash(Leaf memory l) internal pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                keccak256(abi.encode(receiptHash(l.receipt), l.modelPrev, l.modelCum, l.clientPrev, l.clientCum))
            )
        );
    }

    /// @dev Running sums per key (a model, or a client as a word), keys in first-seen order.
    struct Sums {
        bytes32[] keys;
        uint256[] totals;
        uint64[] lasts;
        uint256 count;
    }

    function newSums(uint256 capacity) private pure returns (Sums memory t) {
        t.keys = new bytes32[](capacity);
        t.totals = new uint256[](capacity);
        t.lasts = new uint64[](capacity);
    }

    /// @dev Adds `price` at leaf position `pos` (1-based) to `key`'s sum; returns the key's previous position
    ///      (0 for its first leaf) and its running sum.
    function add(Sums memory t, bytes32 key, uint256 price, uint64 pos)
        private
        pure
        returns (uint64 prev, uint256 cum)
    {
        uint256 k;
        while (k < t.count && t.keys[k] != key) ++k;
        if (k == t.count) t.keys[t.count++] = key;
        prev = t.lasts[k];
        t.totals[k] += price;
        cum = t.totals[k];
        t.lasts[k] = pos;
    }

    /// @dev Receipts must be sorted by id. Fills the running-sum annotations and the totals lists.
    function build(Receipt[] memory rs)
        internal
        pure
        returns (Leaf[] memory leaves, ModelTotal[] memory models, ClientTotal[] memory clients)
    {
        uint256 n = rs.length;
        leaves = new Leaf[](n);
        Sums memory m = newSums(n);
        Sums memory c = newSums(n);
        for (uint256 i; i < n; ++i) {
            Receipt memory r = rs[i];
            Leaf memory l = leaves[i];
            l.receipt = r;
            (l.modelPrev, l.modelCum) = add(m, r.model, r.price, uint64(i + 1));
            (l.clientPrev, l.clientCum) = add(c, bytes32(uint256(uint160(r.client))), r.price, uint64(i + 1));
        }
        models = new ModelTotal[](m.count);
        for (uint256 k; k < m.count; ++k) {
            models[k] = ModelTotal(m.keys[k], m.totals[k], m.lasts[k]);
        }
        clients = new ClientTotal[](c.count);
        for (uint256 k; k < c.count; ++k) {
            clients[k] = ClientTotal(address(uint160(uint256(c.keys[k]))), c.totals[k], c.lasts[k]);
        }
        sortModels(models);
        sortClients(clients);
    }

    /// @dev Insertion sort by model.
    function sortModels(ModelTotal[] memory a) internal pure {
        for (uint256 i = 1; i < a.length; ++i) {
            ModelTotal memory x = a[i];
            uint256 j = i;
            while (j > 0 && a[j - 1].model > x.model) {
                a[j] = a[j - 1];
                --j;
            }
            a[j] = x;
        }
    }

    /// @dev Insertion sort by client: a ClientTotal has a ModelTotal's memory layout (key word, total, last),
    ///      and an address word compares like the address, so this is `sortModels` over the same array.
    function sortClients(ClientTotal[] memory a) internal pure {
        ModelTotal[] memory sameWords;
        assembly ("memory-safe") {
            sameWords := a
        }
        sortModels(sameWords);
    }

    function hashes(Leaf[] memory leaves) internal pure returns (bytes32[] memory hs) {
        hs = new bytes32[](leaves.length);
        for (uint256 i; i < leaves.length; ++i) {
            hs[i] = leafHash(leaves[i]);
        }
    }

    function depth(uint256 n) internal pure returns (uint256 d) {
        while ((uint256(1) << d) < n) ++d;
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(a, b));
    }

    /// @dev Zero-padded positional tree: level 0 = leaf hashes then bytes32(0) up to 2^depth.
    function root(bytes32[] memory hs) internal pure returns (bytes32) {
        uint256 d = depth(hs.length);
        bytes32[] memory level = new bytes32[](uint256(1) << d);
        for (uint256 i; i < hs.length; ++i) {
            level[i] = hs[i];
        }
        for (uint256 size = level.length; size > 1; size /= 2) {
            for (uint256 i; i < size / 2; ++i) {
                level[i] = hashPair(level[2 * i], level[2 * i + 1]);
            }
        }
        return level[0];
    }

    function proof(bytes32[] memory hs, uint256 index) internal pure returns (bytes32[] memory p) {
        uint256 d = depth(hs.length);
        p = new bytes32[](d);
        bytes32[] memory level = new bytes32[](uint256(1) << d);
        for (uint256 i; i < hs.length; ++i) {
            level[i] = hs[i];
        }
        uint256 idx = index;
        uint256 size = level.length;
        for (uint256 k; k < d; ++k) {
            p[k] = level[idx ^ 1];
            for (uint256 i; i < size / 2; ++i) {
                level[i] = hashPair(level[2 * i], level[2 * i + 1]);
            }
            size /= 2;
            idx >>= 1;
        }
    }

    /// @dev Leaf `index` of `leaves` with its inclusion proof.
    function leafProof(Leaf[] memory leaves, uint256 index) internal pure returns (LeafProof memory p) {
        p.leaf = leaves[index];
        p.index = uint64(index);
        p.proof = proof(hashes(leaves), index);
    }
}

/// @dev A deep copy of `rs` (to alter receipts without touching the originals).
function copyReceipts(Receipt[] memory rs) pure returns (Receipt[] memory out) {
    out = new Receipt[](rs.length);
    for (uint256 i; i < rs.length; ++i) {
        Receipt memory r = rs[i];
        out[i] =
            Receipt(r.id, r.epoch, r.model, r.client, r.price, r.inputHash, r.outputHash, r.fingerprint, r.timestamp);
    }
}

/// @notice The deployed system plus helpers to fund clients, sign receipts and post attestations.
abstract contract Fixture is TestBase {
    uint256 internal constant ATTEST_BOND = 1 ether;
    uint256 internal constant CHALLENGE_BOND = 0.1 ether;
    uint64 internal constant WINDOW = 100;
    uint64 internal constant RESPONSE = 50;
    uint16 internal constant MAX_FEE = 2_000;
    uint256 internal constant DELAY = 300;
    uint256 internal constant SUPPLY = 1_000_000 ether;
    uint16 internal constant HOLDERS_BPS = 8_000;

    uint256 internal constant OPERATOR_PK = 0xA11CE;
    address internal admin;
    address internal operator;
    address internal guardian;
    address internal treasury;
    address internal publisher;

    ModelRegistry internal registry;
    PaymentVault internal vault;
    UsageOracle internal oracle;

    /// @dev The last attestation posted by `attestReceipts`, for proofs.
    Leaf[] internal lastLeaves;
    ModelTotal[] internal lastModels;
    ClientTotal[] internal lastClients;

    function setUp() public virtual {
        admin = makeAddr("admin");
        operator = vm.addr(OPERATOR_PK);
        vm.label(operator, "operator");
        guardian = makeAddr("guardian");
        treasury = makeAddr("treasury");
        publisher = makeAddr("publisher");
        registry = new ModelRegistry(admin, operator, guardian);
        vault = new PaymentVault(admin, guardian, treasury, DELAY);
        oracle = new UsageOracle(
            admin, operator, guardian, registry, vault, ATTEST_BOND, CHALLENGE_BOND, WINDOW, RESPONSE, MAX_FEE
        );
        vm.startPrank(admin);
        registry.setUsageOracle(address(oracle));
        vault.setOracle(address(oracle));
        vm.stopPrank();
        vm.deal(operator, 1_000 ether);
        vm.warp(1_700_000_000);
    }

    function modelId(uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("model", i));
    }

    function register(bytes32 model) internal returns (ModelToken) {
        vm.prank(operator);
        return ModelToken(payable(registry.register(model, "Model", "MDL", publisher, SUPPLY, HOLDERS_BPS)));
    }

    function clientKey(uint256 i) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode("client", i))) % (2 ** 200) + 1;
    }

    function signCap(uint256 pk, uint256 cap, uint256 deadline) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, vault.spendingCapDigest(vm.addr(pk), cap, deadline));
        return abi.encodePacked(r, s, v);
    }

    /// @dev `setter`, an admin-only address setter, refuses anyone but the admin, and the admin the zero address
    ///      with `zeroAddress`.
    function expectAdminOnlyNonZero(function(address) external setter, bytes4 zeroAddress) internal {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), bytes32(0))
        );
        setter(address(1));
        vm.prank(admin);
        vm.expectRevert(zeroAddress);
        setter(address(0));
    }

    /// @dev Deposit `amount` for client `pk` and authorise cumulative spend up to `cap`.
    function fund(uint256 pk, uint256 amount, uint256 cap) internal returns (address client) {
        client = vm.addr(pk);
        vm.deal(client, client.balance + amount);
        vm.prank(client);
        vault.deposit{value: amount}();
        if (cap > vault.capOf(client)) {
            vault.submitCap(client, cap, block.timestamp, signCap(pk, cap, block.timestamp));
        }
    }

    function signReceipt(Receipt memory r) internal view returns (bytes memory) {
        return signReceiptWith(OPERATOR_PK, r);
    }

    function signReceiptWith(uint256 pk, Receipt memory r) internal view returns (bytes memory) {
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(pk, oracle.receiptDigest(r));
        return abi.encodePacked(rr, s, v);
    }

    function receipt(uint128 id, uint64 epoch, bytes32 model, address client, uint256 price)
        internal
        pure
        returns (Receipt memory r)
    {
        r = Receipt({
            id: id,
            epoch: epoch,
            model: model,
            client: client,
            price: price,
            inputHash: keccak256(abi.encode("in", id)),
            outputHash: keccak256(abi.encode("out", id)),
            fingerprint: keccak256("ort-1.31.1/cpu/avx2/all"),
            timestamp: uint64(id >> 80)
        });
    }

    /// @dev Store a tree (leaves + lists) as "last" and return its root.
    function setTree(Leaf[] memory leaves, ModelTotal[] memory models, ClientTotal[] memory clients)
        internal
        returns (bytes32)
    {
        delete lastLeaves;
        delete lastModels;
        delete lastClients;
        for (uint256 i; i < leaves.length; ++i) {
            lastLeaves.push(leaves[i]);
        }
        for (uint256 i; i < models.length; ++i) {
            lastModels.push(models[i]);
        }
        for (uint256 i; i < clients.length; ++i) {
            lastClients.push(clients[i]);
        }
        return ReceiptTree.root(ReceiptTree.hashes(leaves));
    }

    /// @dev Build the honest tree for `rs` (sorted by id) and attest it as the operator.
    function attestReceipts(uint64 epoch, Receipt[] memory rs, uint16 feeBps) internal returns (bytes32 root) {
        (Leaf[] memory leaves, ModelTotal[] memory models, ClientTotal[] memory clients) = ReceiptTree.build(rs);
        root = attestTree(epoch, leaves, models, clients, feeBps);
    }

    function attestTree(
        uint64 epoch,
        Leaf[] memory leaves,
        ModelTotal[] memory models,
        ClientTotal[] memory clients,
        uint16 feeBps
    ) internal returns (bytes32 root) {
        root = setTree(leaves, models, clients);
        vm.prank(operator);
        oracle.attest{value: ATTEST_BOND}(epoch, root, uint64(leaves.length), feeBps, models, clients);
    }

    function leafProof(uint256 index) internal view returns (LeafProof memory) {
        return ReceiptTree.leafProof(lastLeaves, index);
    }

    function models_() internal view returns (ModelTotal[] memory) {
        return lastModels;
    }

    function clients_() internal view returns (ClientTotal[] memory) {
        return lastClients;
    }

    /// @dev Commit to `data` (a call to the oracle) for `sender`, then move to the next block, so that
    ///      `sender` may send exactly that call (commit-reveal of challenges and fraud proofs).
    function commitAs(address sender, bytes memory data) internal {
        bytes32 c = oracle.commitmentOf(sender, data);
        vm.prank(sender);
        oracle.commit(c);
        vm.roll(block.number + 1);
    }

    /// @dev Send `data` to the oracle as this contract, bubbling up a revert.
    function callOracle(bytes memory data) internal {
        (bool ok, bytes memory ret) = address(oracle).call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    /// @dev Commit to `data` as this contract, then send it.
    function commitAndCall(bytes memory data) internal {
        commitAs(address(this), data);
        callOracle(data);
    }

    /// @dev Finalize a whole epoch in one call.
    function finalizeAll(uint64 epoch, ModelTotal[] memory ms) internal {
        oracle.finalize(epoch, 0, ms, bytes32(0));
    }

    /// @dev Hash chain of `ms[from..]` (what a finalize batch ending before `from` passes as `rest`).
    function restHash(ModelTotal[] memory ms, uint256 from) internal pure returns (bytes32 h) {
        for (uint256 i = ms.length; i > from;) {
            --i;
            h = keccak256(abi.encode(ms[i].model, ms[i].total, ms[i].last, h));
        }
    }

    /// @dev `ms[from .. from + n - 1]`.
    function slice(ModelTotal[] memory ms, uint256 from, uint256 n) internal pure returns (ModelTotal[] memory out) {
        out = new ModelTotal[](n);
        for (uint256 i; i < n; ++i) {
            out[i] = ms[from + i];
        }
    }

    function one(Receipt memory r) internal pure returns (Receipt[] memory rs) {
        rs = new Receipt[](1);
        rs[0] = r;
    }
}
