// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Vm} from "../utils/Vm.sol";
import {ReceiptTree, copyReceipts} from "../utils/Fixture.sol";
import {Challenger} from "../utils/Challenger.sol";
import {UsageOracle} from "../../src/UsageOracle.sol";
import {PaymentVault} from "../../src/PaymentVault.sol";
import {ModelToken} from "../../src/ModelToken.sol";
import {Receipt, Leaf, LeafProof, ModelTotal, ClientTotal} from "../../src/Types.sol";

/// @notice Drives the whole system with random actions: clients deposit, sign caps, withdraw; the operator
///         attests honest or false epochs, some of them late (a client withdrew first: a shortfall); a
///         watcher (always online) hunts every attestation inside its window with commit-reveal proofs while
///         a copier tries to front-run each of them, and opens receipt/leaf challenges on honest ones, which
///         the operator (always online) answers; the admin rotates the operator key and a thief holding the
///         revoked keys fabricates receipts against every open attestation; anyone finalizes (in batches of
///         random size), unwinds and resolves; holders transfer, claim, claim in batches and burn. Ghost
///         variables record everything the invariants check.
contract Handler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    UsageOracle public immutable oracle;
    PaymentVault public immutable vault;
    address internal immutable admin;
    uint256 internal operatorPk;
    address public operator;
    uint256[] internal _revokedPks;
    address public constant THIEF = address(uint160(uint256(keccak256("thief"))));
    Challenger public immutable watcher;

    bytes32[2] public models;
    ModelToken[2] public tokens;
    uint256[3] internal clientPks;
    address[3] public clients;
    address[4] public holders;

    struct EpochInfo {
        bool isFalse;
        bool hunted;
        bool thiefVoided;
        uint64 postedAt;
    }

    uint64[] public epochs;
    mapping(uint64 => EpochInfo) public info;
    mapping(uint64 => Leaf[]) internal _leaves;
    mapping(uint64 => ModelTotal[]) internal _models;
    mapping(uint64 => ClientTotal[]) internal _clients;
    mapping(uint64 => Receipt[]) internal _signed;
    mapping(uint64 => bytes[]) internal _sigs;
    uint64 internal _nextEpoch = 1;
    uint128 internal _nextId = 1;

    struct OpenChallenge {
        uint256 id;
        uint64 epoch;
        uint64 leafIndex; // the leaf that answers it
    }

    OpenChallenge[] internal _open;

    // ghosts
    mapping(address => uint256) public ghostDeposited;
    mapping(address => uint256) public ghostWithdrawn;
    mapping(address => uint256) public ghostPaidIn;
    mapping(address => uint256) public ghostClaimedOut;
    mapping(address => uint256) public ghostRedeemedOut;
    mapping(address => mapping(uint256 => uint256)) public ghostClaimedPerSnapshot;
    mapping(address => mapping(uint256 => mapping(address => bool))) public ghostClaimed;
    mapping(uint64 => uint256) public ghostFinalizeCount;
    mapping(uint64 => uint256) public ghostEpochPaid; // to the model tokens
    mapping(uint64 => uint256) public ghostEpochFee; // to the treasury
    mapping(uint64 => uint256) public ghostAttestedFee; // sum of floor(total * feeBps / 10000) per model
    uint256 public ghostBatchReplays; // a finished batch accepted a second time
    uint256 public ghostThiefWins; // revoked key voided an attestation posted before its revocation (allowed)
    uint256 public ghostThiefBeyondBound; // revoked key voided one posted after its revocation (must be 0)
    uint256 public ghostShortfallEpochs;
    uint256 public ghostDoubleClaims;
    uint256 public ghostDoubleFinalizes;
    uint256 public ghostFalseFinalized;
    uint256 public ghostFalseSurvivedHunt;
    uint256 public ghostHonestVoided;
    uint256 public ghostFalsePosted;
    uint256 public ghostFalseVoided;
    uint256 public ghostFinalized;
    uint256 public ghostClaims;
    mapping(bytes32 => uint256) public calls;

    constructor(
        UsageOracle oracle_,
        address admin_,
        uint256 operatorPk_,
        bytes32[2] memory models_,
        ModelToken[2] memory tokens_,
        uint256[3] memory clientPks_,
        address[4] memory holders_
    ) {
        oracle = oracle_;
        vault = oracle_.vault();
        admin = admin_;
        operatorPk = operatorPk_;
        operator = vm.addr(operatorPk_);
        models = models_;
        tokens = tokens_;
        clientPks = clientPks_;
        for (uint256 i; i < 3; ++i) {
            clients[i] = vm.addr(clientPks_[i]);
        }
        holders = holders_;
        watcher = new Challenger(oracle_);
        vm.deal(address(watcher), 1_000 ether);
    }

    function epochCount() external view returns (uint256) {
        return epochs.length;
    }

    function epochClients(uint64 epoch) external view returns (ClientTotal[] memory) {
        return _clients[epoch];
    }

    function revokedCount() external view returns (uint256) {
        return _revokedPks.length;
    }

    function attestedTotal(uint64 epoch) external view returns (uint256) {
        return oracle.getAttestation(epoch).total;
    }

    // ---------------------------------------------------------------- clients

    function deposit(uint256 c, uint256 amount) external {
        address client = clients[c % 3];
        amount = _bound(amount, 1, 5 ether);
        vm.deal(client, client.balance + amount);
        vm.prank(client);
        vault.deposit{value: amount}();
        ghostDeposited[client] += amount;
        ++calls["deposit"];
    }

    function raiseCap(uint256 c, uint256 amount) external {
        uint256 idx = c % 3;
        address client = clients[idx];
        uint256 cap = vault.capOf(client) + _bound(amount, 1, 5 ether);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(clientPks[idx], vault.spendingCapDigest(client, cap, block.timestamp));
        vault.submitCap(client, cap, block.timestamp, abi.encodePacked(r, s, v));
        ++calls["raiseCap"];
    }

    function requestWithdrawal(uint256 c, uint256 amount) external {
        address client = clients[c % 3];
        vm.prank(client);
        vault.requestWithdrawal(_bound(amount, 1, 10 ether));
        ++calls["requestWithdrawal"];
    }

    function withdraw(uint256 c) external {
        address client = clients[c % 3];
        vm.prank(client);
        try vault.withdraw() returns (uint256 amount) {
            ghostWithdrawn[client] += amount;
            ++calls["withdraw"];
        } catch {}
    }

    // ---------------------------------------------------------------- operator

    function attest(uint256 seed, uint256 n, uint256 kind) external {
        n = _bound(n, 1, 6);
        kind = kind % 20; // 0..7: a lie of that kind; 8..15: honest; 16..19: honest, attested late
        bool isFalse = kind < 8;
        if (isFalse && n < 2) n = 2;
        uint64 epoch = _nextEpoch++;
        Receipt[] memory rs = new Receipt[](n);
        uint256[3] memory need;
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            _nextId += uint128(r % 7) + 1;
            uint256 ci = (r >> 8) % 3;
            uint256 price = (r >> 16) % 0.2 ether + 1;
            need[ci] += price;
            rs[i] = Receipt({
                id: _nextId,
                epoch: epoch,
                model: models[(r >> 4) % 2],
                client: clients[ci],
                price: price,
                inputHash: keccak256(abi.encode("in", r)),
                outputHash: keccak256(abi.encode("out", r)),
                fingerprint: keccak256("fp"),
                timestamp: uint64(block.timestamp * 1000)
            });
        }
        for (uint256 ci; ci < 3; ++ci) {
            // the service would not have served (unless it attests late, after the client withdrew)
            if (kind < 16 && need[ci] != 0 && need[ci] + 1 > vault.spendableOf(clients[ci])) return;
        }
        (Leaf[] memory leaves, ModelTotal[] memory ms, ClientTotal[] memory cs) = ReceiptTree.build(rs);
        if (isFalse) (leaves, ms, cs) = _lie(rs, leaves, ms, cs, kind, seed);
        if (!_send(epoch, leaves, ms, cs, uint16(seed % 2_001))) return;
        _record(epoch, rs, leaves, ms, cs, isFalse);
    }

    function _send(uint64 epoch, Leaf[] memory leaves, ModelTotal[] memory ms, ClientTotal[] memory cs, uint16 fee)
        internal
        returns (bool)
    {
        bytes32 root = ReceiptTree.root(ReceiptTree.hashes(leaves));
        // the operator pays in the shortfall beyond its fee (sometimes a little more: credited back)
        (, uint256 cover) = oracle.coverFor(fee, ms, cs);
        uint256 value = oracle.attestBond() + cover + (epoch % 3 == 0 ? 1 : 0);
        vm.deal(operator, operator.balance + value);
        vm.prank(operator);
        try oracle.attest{value: value}(epoch, root, uint64(leaves.length), fee, ms, cs) {
            uint256 attestedFee;
            for (uint256 i; i < ms.length; ++i) {
                attestedFee += ms[i].total * fee / 10_000;
            }
            ghostAttestedFee[epoch] = attestedFee;
            return true;
        } catch {
            return false;
        }
    }

    function _record(
        uint64 epoch,
        Receipt[] memory rs,
        Leaf[] memory leaves,
        ModelTotal[] memory ms,
        ClientTotal[] memory cs,
        bool isFalse
    ) internal {
        epochs.push(epoch);
        info[epoch] =
            EpochInfo({isFalse: isFalse, hunted: false, thiefVoided: false, postedAt: uint64(block.timestamp)});
        for (uint256 i; i < leaves.length; ++i) {
            _leaves[epoch].push(leaves[i]);
        }
        for (uint256 i; i < ms.length; ++i) {
            _models[epoch].push(ms[i]);
        }
        for (uint256 i; i < cs.length; ++i) {
            _clients[epoch].push(cs[i]);
        }
        for (uint256 i; i < rs.length; ++i) {
            _signed[epoch].push(rs[i]);
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(operatorPk, oracle.receiptDigest(rs[i]));
            _sigs[epoch].push(abi.encodePacked(r, s, v));
        }
        if (isFalse) ++ghostFalsePosted;
        if (oracle.getAttestation(epoch).shortfall != 0) ++ghostShortfallEpochs;
        ++calls[isFalse ? bytes32("attestFalse") : bytes32("attestTrue")];
    }

    /// @dev Late attestation: client `c` withdraws its whole balance first (the operator missed the
    ///      withdrawal window), then an honest epoch charging it is attested: the client's spend is short.
    function attestAfterWithdrawal(uint256 seed, uint256 c) external {
        c %= 3;
        address client = clients[c];
        uint256 bal = vault.balanceOf(client);
        if (bal == 0) return;
        vm.prank(client);
        vault.requestWithdrawal(bal);
        _beLive();
        vm.warp(block.timestamp + vault.withdrawalDelay());
        vm.roll(block.number + 1);
        vm.prank(client);
        ghostWithdrawn[client] += vault.withdraw();
        uint64 epoch = _nextEpoch++;
        Receipt[] memory rs = new Receipt[](3);
        for (uint256 i; i < 3; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, "late", i)));
            _nextId += uint128(r % 7) + 1;
            rs[i] = Receipt({
                id: _nextId,
                epoch: epoch,
                model: models[i % 2],
                client: i == 0 ? client : clients[(c + i) % 3],
                price: (r >> 16) % 0.05 ether + 1,
                inputHash: keccak256(abi.encode("in", r)),
                outputHash: keccak256(abi.encode("out", r)),
                fingerprint: keccak256("fp"),
                timestamp: uint64(block.timestamp * 1000)
            });
        }
        (Leaf[] memory leaves, ModelTotal[] memory ms, ClientTotal[] memory cs) = ReceiptTree.build(rs);
        if (!_send(epoch, leaves, ms, cs, uint16(seed % 2_001))) return;
        _record(epoch, rs, leaves, ms, cs, false);
        ++calls["attestLate"];
    }

    /// @dev The admin rotates the operator key (after a second, so that every attestation of the old key was
    ///      posted before its revocation, as the rotation procedure says).
    function rotateOperator(uint256 seed) external {
        if (_revokedPks.length >= 3) return;
        _beLive();
        vm.warp(block.timestamp + 1);
        uint256 newPk = uint256(keccak256(abi.encode("operator", seed, _revokedPks.length))) % (2 ** 200) + 1;
        address newOperator = vm.addr(newPk);
        bytes32 role = oracle.OPERATOR_ROLE();
        vm.startPrank(admin);
        oracle.grantRole(role, newOperator);
        oracle.revokeRole(role, operator);
        vm.stopPrank();
        _revokedPks.push(operatorPk);
        operatorPk = newPk;
        operator = newOperator;
        ++calls["rotate"];
    }

    /// @dev A thief holding a revoked operator key fabricates a receipt (an id after every leaf) for an
    ///      attestation in its window and proves its "omission" (commit, next block, reveal). It may win
    ///      only against attestations posted before that key's revocation.
    function thief(uint256 k, uint256 e) external {
        if (_revokedPks.length == 0 || epochs.length == 0) return;
        uint256 pk = _revokedPks[k % _revokedPks.length];
        uint64 epoch = epochs[e % epochs.length];
        if (!_inWindow(epoch)) return;
        Leaf[] storage ls = _leaves[epoch];
        uint256 last = ls.length - 1;
        Receipt memory r = ls[last].receipt;
        r.id += 1;
        r.epoch = epoch;
        r.price = 1;
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(pk, oracle.receiptDigest(r));
        LeafProof memory p = _proof(epoch, last);
        bytes memory data = abi.encodeCall(oracle.proveOmission, (epoch, r, abi.encodePacked(rr, ss, v), p, p));
        bool allowed = oracle.getAttestation(epoch).postedAt < oracle.receiptSignerRevokedAt(vm.addr(pk));
        bytes32 c = oracle.commitmentOf(THIEF, data);
        if (oracle.commitments(c) == 0) {
            vm.prank(THIEF);
            oracle.commit(c);
        }
        vm.roll(block.number + 1);
        vm.prank(THIEF);
        (bool ok,) = address(oracle).call(data);
        if (ok) {
            info[epoch].thiefVoided = true;
            if (allowed) ++ghostThiefWins;
            else ++ghostThiefBeyondBound;
        }
        ++calls["thief"];
    }

    function _lie(
        Receipt[] memory rs,
        Leaf[] memory leaves,
        ModelTotal[] memory ms,
        ClientTotal[] memory cs,
        uint256 kind,
        uint256 seed
    ) internal view returns (Leaf[] memory, ModelTotal[] memory, ClientTotal[] memory) {
        uint256 i = seed % rs.length;
        if (kind == 0) {
            leaves[i].modelCum += 1;
        } else if (kind == 1) {
            leaves[i].clientCum -= 1;
        } else if (kind == 2) {
            ms[0].total += 1;
            cs[0].total += 1;
        } else if (kind == 3) {
            Receipt[] memory fewer = new Receipt[](rs.length - 1);
            for (uint256 k; k < fewer.length; ++k) {
                fewer[k] = rs[k < i ? k : k + 1];
            }
            return ReceiptTree.build(fewer);
        } else if (kind == 4) {
            Receipt[] memory moved = copyReceipts(rs);
            moved[i].model = moved[i].model == models[0] ? models[1] : models[0];
            return ReceiptTree.build(moved);
        } else if (kind == 5) {
            uint256 j = i + 1 < rs.length ? i + 1 : i - 1;
            (leaves[i], leaves[j]) = (leaves[j], leaves[i]);
        } else if (kind == 6) {
            leaves[i].receipt.price += 1;
        } else {
            Receipt[] memory moved = copyReceipts(rs);
            moved[i].client = moved[i].client == clients[0] ? clients[1] : clients[0];
            return ReceiptTree.build(moved);
        }
        return (leaves, ms, cs);
    }

    // ---------------------------------------------------------------- watcher and challengers

    /// @dev Interactive challenge of an honest epoch (receipt or leaf); the live operator answers it.
    function challengeHonest(uint256 e, uint256 which, bool byIndex) external {
        if (epochs.length == 0) return;
        uint64 epoch = epochs[e % epochs.length];
        if (info[epoch].isFalse || !_inWindow(epoch)) return;
        uint256 idx = which % _leaves[epoch].length;
        uint256 id;
        if (byIndex) {
            id = watcher.challengeLeaf(epoch, uint64(idx));
        } else {
            Receipt memory r = _leaves[epoch][idx].receipt;
            uint256 s;
            for (uint256 k; k < _signed[epoch].length; ++k) {
                if (_signed[epoch][k].id == r.id) s = k;
            }
            id = watcher.challenge(epoch, _signed[epoch][s], _sigs[epoch][s]);
        }
        _open.push(OpenChallenge({id: id, epoch: epoch, leafIndex: uint64(idx)}));
        ++calls["challengeHonest"];
    }

    function resolve(uint256 which) external {
        uint256 count = oracle.challengeCount();
        if (count == 0) return;
        try oracle.resolveChallenge(which % count) {
            ++calls["resolve"];
        } catch {}
    }

    /// @dev Time passes. Before it does, the always-online watcher hunts every attestation still in its
    ///      window, and the always-online operator answers every open challenge.
    function warp(uint256 secs) external {
        _beLive();
        vm.warp(block.timestamp + _bound(secs, 1, 120));
        vm.roll(block.number + 1);
        ++calls["warp"];
    }

    function _beLive() internal {
        for (uint256 k; k < _open.length; ++k) {
            OpenChallenge memory c = _open[k];
            if (oracle.getChallenge(c.id).status != UsageOracle.ChallengeStatus.Open) continue;
            if (oracle.getAttestation(c.epoch).status != UsageOracle.Status.Posted) continue;
            oracle.respond(c.id, _proof(c.epoch, c.leafIndex));
        }
        delete _open;
        for (uint256 k; k < epochs.length; ++k) {
            uint64 epoch = epochs[k];
            EpochInfo storage inf = info[epoch];
            if (inf.hunted || !_inWindow(epoch)) continue;
            inf.hunted = true;
            bool won =
                watcher.hunt(epoch, _leaves[epoch], _models[epoch], _clients[epoch], _signed[epoch], _sigs[epoch]);
            if (inf.isFalse && !won) ++ghostFalseSurvivedHunt;
            if (!inf.isFalse && won) ++ghostHonestVoided;
            if (won) ++ghostFalseVoided;
        }
    }

    // ---------------------------------------------------------------- anyone

    /// @dev Finalize the next batch (random size) of an epoch's models; a finished batch is replayed and
    ///      must be refused.
    function finalize(uint256 e, uint256 batch) external {
        if (epochs.length == 0) return;
        uint64 epoch = epochs[e % epochs.length];
        UsageOracle.Attestation memory a = oracle.getAttestation(epoch);
        if (a.status == UsageOracle.Status.Posted) {
            if (block.timestamp < a.postedAt + oracle.challengeWindow() || a.openChallenges != 0) return;
        } else if (a.status != UsageOracle.Status.Finalizing) {
            return;
        }
        ModelTotal[] memory ms = _models[epoch];
        uint256 from = a.paidModels;
        uint256 n = _bound(batch, 1, ms.length - from);
        ModelTotal[] memory part = new ModelTotal[](n);
        for (uint256 i; i < n; ++i) {
            part[i] = ms[from + i];
        }
        bytes32 rest = _restHash(ms, from + n);
        uint256 fees = vault.feesOwed();
        oracle.finalize(epoch, uint64(from), part, rest);
        for (uint256 i; i < n; ++i) {
            uint256 net = part[i].total - part[i].total * a.feeBps / 10_000; // shortfalls never reach holders
            ghostPaidIn[_tokenOf(part[i].model)] += net;
            ghostEpochPaid[epoch] += net;
        }
        try oracle.finalize(epoch, uint64(from), part, rest) {
            ++ghostBatchReplays;
        } catch {}
        ++calls["finalizeBatch"];
        if (rest != bytes32(0)) return;
        ghostEpochFee[epoch] = vault.feesOwed() - fees;
        ++ghostFinalizeCount[epoch];
        ++ghostFinalized;
        if (info[epoch].isFalse) ++ghostFalseFinalized;
        try oracle.finalize(epoch, 0, ms, bytes32(0)) {
            ++ghostDoubleFinalizes;
        } catch {}
        ++calls["finalize"];
    }

    function _restHash(ModelTotal[] memory ms, uint256 from) internal pure returns (bytes32 h) {
        for (uint256 i = ms.length; i > from;) {
            --i;
            h = keccak256(abi.encode(ms[i].model, ms[i].total, ms[i].last, h));
        }
    }

    function unwind(uint256 e) external {
        if (epochs.length == 0) return;
        uint64 epoch = epochs[e % epochs.length];
        if (oracle.getAttestation(epoch).status != UsageOracle.Status.Voided) return;
        oracle.unwind(epoch, _clients[epoch]);
        ++calls["unwind"];
    }

    function withdrawCredits(bool byOperator) external {
        address who = byOperator ? operator : address(watcher);
        if (oracle.credits(who) == 0) return;
        vm.prank(who);
        oracle.withdrawCredits();
        ++calls["withdrawCredits"];
    }

    function claimFees() external {
        if (vault.feesOwed() == 0) return;
        vault.claimFees();
        ++calls["claimFees"];
    }

    // ---------------------------------------------------------------- token holders

    function transfer(uint256 t, uint256 from, uint256 to, uint256 amount) external {
        ModelToken token = tokens[t % 2];
        address f = holders[from % 4];
        uint256 bal = token.balanceOf(f);
        if (bal == 0) return;
        vm.prank(f);
        token.transfer(holders[to % 4], _bound(amount, 0, bal));
        ++calls["transfer"];
    }

    function claim(uint256 t, uint256 h, uint256 s) external {
        ModelToken token = tokens[t % 2];
        uint256 current = token.currentSnapshotId();
        if (current == 0) return;
        uint256 id = _bound(s, 1, current);
        address holder = holders[h % 4];
        uint256 before = holder.balance;
        vm.prank(holder);
        try token.claim(id) {
            uint256 got = holder.balance - before;
            if (ghostClaimed[address(token)][id][holder]) ++ghostDoubleClaims;
            ghostClaimed[address(token)][id][holder] = true;
            ghostClaimedPerSnapshot[address(token)][id] += got;
            ghostClaimedOut[address(token)] += got;
            ++ghostClaims;
            ++calls["claim"];
        } catch {}
    }

    function claimBatch(uint256 t, uint256 h) external {
        ModelToken token = tokens[t % 2];
        address holder = holders[h % 4];
        uint256 current = token.currentSnapshotId();
        uint256[] memory ids = new uint256[](current < 10 ? current : 10);
        uint256 n;
        for (uint256 id = current; id >= 1 && n < ids.length; --id) {
            if (!token.claimed(id, holder)) ids[n++] = id;
        }
        if (n == 0) return;
        assembly {
            mstore(ids, n)
        }
        uint256[] memory amounts = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            amounts[i] = token.claimableRevenue(holder, ids[i]);
        }
        uint256 before = holder.balance;
        vm.prank(holder);
        try token.claimBatch(ids) {
            uint256 got = holder.balance - before;
            uint256 sum;
            for (uint256 i; i < n; ++i) {
                if (ghostClaimed[address(token)][ids[i]][holder]) ++ghostDoubleClaims;
                ghostClaimed[address(token)][ids[i]][holder] = true;
                ghostClaimedPerSnapshot[address(token)][ids[i]] += amounts[i];
                sum += amounts[i];
            }
            if (sum != got) ++ghostDoubleClaims; // paid something other than what was claimable
            ghostClaimedOut[address(token)] += got;
            ++calls["claimBatch"];
        } catch {}
        // claiming the same ids again must fail
        vm.prank(holder);
        try token.claimBatch(ids) {
            ++ghostDoubleClaims;
        } catch {}
    }

    function burn(uint256 t, uint256 h, uint256 amount) external {
        ModelToken token = tokens[t % 2];
        address holder = holders[h % 4];
        uint256 bal = token.balanceOf(holder);
        if (bal == 0) return;
        amount = _bound(amount, 1, bal / 10 + 1);
        uint256 before = holder.balance;
        vm.prank(holder);
        token.burn(amount);
        ghostRedeemedOut[address(token)] += holder.balance - before;
        ++calls["burn"];
    }

    // ---------------------------------------------------------------- helpers

    function _inWindow(uint64 epoch) internal view returns (bool) {
        UsageOracle.Attestation memory a = oracle.getAttestation(epoch);
        return a.status == UsageOracle.Status.Posted && block.timestamp < a.postedAt + oracle.challengeWindow();
    }

    function _proof(uint64 epoch, uint256 i) internal view returns (LeafProof memory) {
        return ReceiptTree.leafProof(_leaves[epoch], i);
    }

    function _tokenOf(bytes32 model) internal view returns (address) {
        return model == models[0] ? address(tokens[0]) : address(tokens[1]);
    }

    function _bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        if (max <= min) return min;
        if (x >= min && x <= max) return x;
        return min + (x % (max - min + 1));
    }
}
