// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {ModelToken} from "./ModelToken.sol";
import {PaymentVault} from "./PaymentVault.sol";
import {Receipt, Leaf, LeafProof, ModelTotal, ClientTotal} from "./Types.sol";

/// @title UsageOracle: optimistic per-epoch usage attestations with bonds, fraud proofs and finalization.
/// @notice Per epoch the operator posts, with a bond, the Merkle root of the epoch's receipt leaves (sorted
///         by receipt id, positional tree), the per-model revenue and per-client spend, and its fee. The
///         clients' spend is escrowed in the vault at once (within their signed caps). During the challenge
///         window anyone can void a false attestation:
///         - `challengeReceipt`: an operator-signed receipt of the epoch; the operator must prove its leaf
///           is in the tree within the response window or lose (covers omission and misstatement);
///         - `challengeLeaf`: the operator must reveal the leaf at an index within the response window or
///           lose (data availability: every leaf a fraud proof needs can be forced into the open);
///         - `proveOmission`: the same as `challengeReceipt`, decided at once from two adjacent leaves (or an end leaf);
///         - `proveBadEpoch`, `proveBadOrder`, `proveBadLink`, `proveSkipped`, `proveBadModelTotal`,
///           `proveBadClientTotal`: the tree is not a valid sorted list of this epoch's receipts, or the
///           attested totals are not the sums of its receipts (each leaf carries running sums per model and
///           per client, so one or two or three leaves always suffice to show an inconsistency).
///         A successful challenge voids the attestation and slashes the bond: half to the challenger, half
///         burned (kept here forever, counted in `burned`). Every challenge and fraud proof must be committed
///         (`commit`) in an earlier block by the address that sends it, so a copier of a pending proof cannot
///         take its reward. After the window, with no challenge open, `finalize` pays each model's revenue
///         (minus the fee) to its token and snapshots it, in batches of any size, and the fee to the
///         treasury, exactly once (`Finalized`). Epochs are independent: any order.
///
///         Receipt signers: every key ever granted OPERATOR_ROLE signs valid receipts. A key whose role is
///         revoked (or renounced) at time T (`receiptSignerRevokedAt`) still counts as evidence only against
///         attestations posted before T (those whose challenge windows were open at T, or already closed);
///         against any attestation posted at or after T its signatures are rejected (`RevokedSigner`). So a
///         thief holding a revoked key can void at most the attestations that were in their window at
///         revocation (each once: a corrected re-attestation is posted later), and nothing after. Rotate by
///         granting the new key, attesting every epoch that holds receipts of the old key, then revoking it.
/// @dev Why the leaf-local proofs make the totals exact: suppose no proof applies. Take any model M
///      and its leaves k1 < ... < km (by index). `proveBadLink` forces each leaf's `modelPrev` to be
///      0 or to point to an earlier leaf of M with `modelCum` = that leaf's `modelCum` + price (and 0
///      only with `modelCum` = price); `proveSkipped` forbids pointing past a leaf of M. So k1 has no
///      previous, each k(i+1) points to k(i), and `modelCum` of km is the sum of M's prices. The entry
///      of M must exist (`proveBadModelTotal` with entry = max), its `last` leaf must carry M and that
///      sum, and no leaf of M may follow it: so `last` is km and `total` the sum. An entry for a model
///      without leaves points to a leaf of another model: provable. Same for clients. `proveBadOrder`
///      and `proveBadEpoch` make the leaves a strictly id-sorted set of this epoch's receipts, and
///      `challengeReceipt`/`proveOmission` make every operator-signed receipt of the epoch one of them
///      unchanged. `challengeLeaf` makes every leaf obtainable.
contract UsageOracle is AccessControl, Pausable, ReentrancyGuardTransient, EIP712 {
    /// @notice Posts attestations and signs receipts (the service).
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// @notice May pause attest and finalize (challenges, responses and withdrawals are never paused).
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// @notice Contracts that run challenges of their own against attestations (`AckReferee`): they may hold
    ///         an attestation open (`refereeOpen`) and void it (`refereeClose`). Granted by the admin.
    bytes32 public constant REFEREE_ROLE = keccak256("REFEREE_ROLE");
    /// @notice EIP-712 type of a receipt (see Types.sol).
    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(uint128 id,uint64 epoch,bytes32 model,address client,uint256 price,bytes32 inputHash,bytes32 outputHash,bytes32 fingerprint,uint64 timestamp)"
    );
    /// @notice Basis-point denominator.
    uint256 public constant BPS = 10_000;
    /// @notice Side selector for the model annotations of a leaf.
    uint8 public constant SIDE_MODEL = 0;
    /// @notice Side selector for the client annotations of a leaf.
    uint8 public constant SIDE_CLIENT = 1;

    /// @notice Lifecycle of an epoch's attestation.
    enum Status {
        None, // nothing posted (or a voided one unwound): the operator may attest
        Posted, // in or after its challenge window
        Voided, // a challenge won; `unwind` returns the clients' escrow
        Finalized, // paid out (every model)
        Finalizing // some batches of models paid, more to go (`paidModels`, `restHash`)
    }

    /// @notice Lifecycle of a receipt challenge.
    enum ChallengeStatus {
        None,
        Open,
        Rejected, // the operator proved inclusion: challenger's bond split operator / burn
        Upheld, // no proof in time: the attestation was voided
        Moot // the attestation was voided or replaced otherwise: bond refunded
    }

    /// @notice An epoch's current attestation.
    struct Attestation {
        address attester;
        uint64 postedAt;
        uint16 feeBps;
        Status status;
        uint32 round; // incremented at every attest of this epoch
        uint32 openChallenges;
        uint64 count; // number of leaves
        uint32 paidModels; // finalize progress: model entries paid so far
        uint96 paidOut; // finalize progress: wei paid to model tokens so far
        bytes32 root;
        uint256 total; // sum of revenue = sum of spend
        bytes32 modelsHash; // modelsChainHash(ModelTotal[], 0)
        bytes32 clientsHash; // keccak256(abi.encode(ClientTotal[]))
        uint128 shortfall; // attested spend the vault could not escrow (clients short of cap or balance)
        uint128 cover; // what the attester paid in to cover the shortfall beyond its fee (see `attest`)
        bytes32 restHash; // finalize progress: modelsChainHash of the entries not paid yet
    }

    /// @notice An interactive challenge awaiting the operator's inclusion proof: of a leaf carrying the
    ///         receipt `receiptHash` (receipt challenge), or of the leaf at position `index` (leaf challenge).
    struct Challenge {
        address challenger;
        uint64 epoch;
        uint32 round;
        uint64 deadline;
        ChallengeStatus status;
        bool byIndex;
        uint64 index;
        bytes32 receiptHash;
    }

    /// @notice The model registry (model → token).
    ModelRegistry public immutable registry;
    /// @notice The client vault.
    PaymentVault public immutable vault;
    /// @notice Bond (wei) posted with every attestation (at least; see `attest` for the shortfall cover).
    uint256 public immutable attestBond;
    /// @notice Bond (wei) posted with every receipt challenge.
    uint256 public immutable challengeBond;
    /// @notice Seconds after posting during which an attestation can be challenged.
    uint64 public immutable challengeWindow;
    /// @notice Seconds the operator has to answer a receipt challenge.
    uint64 public immutable responseWindow;
    /// @notice Highest fee (bps of revenue) an attestation may take.
    uint16 public immutable maxFeeBps;

    /// @notice Wei burned (slashed halves), locked in this contract forever.
    uint256 public burned;
    /// @notice Wei withdrawable by each address (returned bonds and rewards).
    mapping(address account => uint256) public credits;
    /// @notice Sum of `credits`.
    uint256 public totalCredits;
    /// @notice Addresses that ever held OPERATOR_ROLE (receipt signers; see `receiptSignerRevokedAt`).
    mapping(address account => bool) public isReceiptSigner;
    /// @notice When a signer's OPERATOR_ROLE was revoked (0: active): its receipts are evidence only against
    ///         attestations posted before then. Granting the role again clears it.
    mapping(address account => uint64) public receiptSignerRevokedAt;
    /// @notice Block in which each commitment (see `commitmentOf`) was first made (0: none).
    mapping(bytes32 commitment => uint256) public commitments;
    /// @notice Number of challenges ever opened (ids are 0..challengeCount-1).
    uint256 public challengeCount;

    mapping(uint64 epoch => Attestation) private _attestations;
    mapping(uint256 challengeId => Challenge) private _challenges;
    /// @dev The registry's token implementation: token addresses are computed, not looked up, at finalize.
    address private immutable _tokenImplementation;

    /// @notice An attestation was posted; carries everything needed to finalize, unwind or check it.
    event Attested(
        uint64 indexed epoch,
        uint32 round,
        address indexed attester,
        bytes32 root,
        uint64 count,
        uint16 feeBps,
        uint256 total,
        ModelTotal[] models,
        ClientTotal[] clients
    );
    /// @notice A receipt challenge was opened.
    event ReceiptChallenged(
        uint256 indexed challengeId,
        uint64 indexed epoch,
        uint32 round,
        address indexed challenger,
        bytes32 receiptHash,
        uint128 receiptId,
        uint64 deadline
    );
    /// @notice A leaf challenge was opened: the operator must reveal the leaf at `index`.
    event LeafChallenged(
        uint256 indexed challengeId,
        uint64 indexed epoch,
        uint32 round,
        address indexed challenger,
        uint64 index,
        uint64 deadline
    );
    /// @notice The operator proved the challenged receipt's leaf; `leafIndex` is its position.
    event ChallengeRejected(uint256 indexed challengeId, uint64 leafIndex);
    /// @notice A challenge won against the attestation.
    event ChallengeUpheld(uint256 indexed challengeId);
    /// @notice A challenge became moot (its attestation was voided otherwise); bond refunded.
    event ChallengeMoot(uint256 indexed challengeId);
    /// @notice A fraud proof of kind `kind` voided the attestation.
    event FraudProven(uint64 indexed epoch, uint32 round, address indexed prover, bytes32 kind);
    /// @notice The attestation was voided; `reward` went to `challenger` and `burnedAmount` was burned.
    event AttestationVoided(
        uint64 indexed epoch, uint32 round, address indexed challenger, uint256 reward, uint256 burnedAmount
    );
    /// @notice The voided attestation's escrow went back to the clients; the epoch can be attested again.
    event AttestationUnwound(uint64 indexed epoch, uint32 round, uint256 released);
    /// @notice The attestation was paid out, every model of it: emitted exactly once per finalized epoch.
    ///         `total` is the attested revenue; `fee` what the treasury got (less any shortfall it absorbed).
    event Finalized(uint64 indexed epoch, uint32 round, uint256 total, uint256 fee);
    /// @notice One `finalize` call paid the model entries `from .. from + count - 1` (`paid` wei in all).
    event BatchFinalized(uint64 indexed epoch, uint32 round, uint64 from, uint64 count, uint256 paid);
    /// @notice `commitment` was committed (by `by`, who need not be the prover it names).
    event Committed(bytes32 indexed commitment, address indexed by);
    /// @notice `signer`'s OPERATOR_ROLE was revoked at `revokedAt`: its receipts are no evidence against
    ///         attestations posted from then on.
    event ReceiptSignerRevoked(address indexed signer, uint64 revokedAt);
    /// @notice `model`'s token received `amount` and took snapshot `snapshotId`.
    event ModelPaid(
        uint64 indexed epoch, bytes32 indexed model, address indexed token, uint256 amount, uint256 snapshotId
    );
    /// @notice `account` withdrew `amount` of credits.
    event CreditsWithdrawn(address indexed account, uint256 amount);

    error ZeroAddress();
    error WrongBond(uint256 expected, uint256 sent);
    error AlreadyAttested(uint64 epoch, Status status);
    error EmptyAttestation();
    error FeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    error NotSorted(uint256 index);
    error ZeroTotal(uint256 index);
    error BadLast(uint256 index);
    error UnregisteredModel(bytes32 model);
    error TotalsMismatch(uint256 revenue, uint256 spend);
    error NotPosted(uint64 epoch);
    error NotVoided(uint64 epoch);
    error WindowClosed(uint256 endedAt);
    error WindowOpen(uint256 endsAt);
    error ChallengesOpen(uint32 open);
    error ListMismatch();
    error WrongEpoch(uint64 expected, uint64 got);
    error InvalidReceiptSignature();
    error UnknownChallenge(uint256 challengeId);
    error ChallengeNotOpen(uint256 challengeId);
    error ResponseWindowOpen(uint256 deadline);
    error ResponseTooLate(uint256 deadline);
    error LeafMismatch();
    error InvalidProof();
    error IndexOutOfRange(uint64 index, uint64 count);
    error NotFraud();
    error InvalidSide(uint8 side);
    error NoCredits();
    error WrongBatch(uint64 expectedFrom, uint64 from);
    error ShortfallNotCovered(uint256 required, uint256 sent);
    error EmptyBatch();
    error NotVault();
    error RevokedSigner(address signer, uint64 revokedAt);
    error AlreadyCommitted(bytes32 commitment);
    error NotCommitted(bytes32 commitment);
    error CommitmentTooRecent(bytes32 commitment, uint256 committedAt);
    error AckModeReceipt(address client);

    /// @param admin Holder of DEFAULT_ADMIN_ROLE.
    /// @param operator Holder of OPERATOR_ROLE (attester and receipt signer).
    /// @param guardian Holder of GUARDIAN_ROLE.
    /// @param registry_ The model registry.
    /// @param vault_ The client vault.
    /// @param attestBond_ Bond per attestation (wei).
    /// @param challengeBond_ Bond per receipt challenge (wei).
    /// @param challengeWindow_ Challenge window (seconds).
    /// @param responseWindow_ Response window for receipt challenges (seconds).
    /// @param maxFeeBps_ Highest operator fee (bps).
    constructor(
        address admin,
        address operator,
        address guardian,
        ModelRegistry registry_,
        PaymentVault vault_,
        uint256 attestBond_,
        uint256 challengeBond_,
        uint64 challengeWindow_,
        uint64 responseWindow_,
        uint16 maxFeeBps_
    ) EIP712("IMO Oracle", "1") {
        if (
            admin == address(0) || operator == address(0) || guardian == address(0) || address(registry_) == address(0)
                || address(vault_) == address(0)
        ) revert ZeroAddress();
        if (maxFeeBps_ > BPS) revert FeeTooHigh(maxFeeBps_, uint16(BPS));
        registry = registry_;
        vault = vault_;
        attestBond = attestBond_;
        challengeBond = challengeBond_;
        challengeWindow = challengeWindow_;
        responseWindow = responseWindow_;
        maxFeeBps = maxFeeBps_;
        _tokenImplementation = registry_.tokenImplementation();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(OPERATOR_ROLE, operator);
        _grantRole(GUARDIAN_ROLE, guardian);
    }

    // ------------------------------------------------------------------ attest / finalize

    /// @notice Post the attestation of `epoch` with `attestBond` (plus the cover below). Escrows each client's
    ///         spend in the vault, as far as the client's signed cap and balance allow: what they do not cover
    ///         is the client's shortfall (`shortfall`, vault `SpendShortfall`; e.g. the client withdrew before
    ///         a late attestation). A shortfall never blocks or voids the attestation and never costs the
    ///         holders: it comes out of the operator's fee (the fee of the attestation, sum of
    ///         floor(total * feeBps / 10000) per model), and what exceeds the fee the operator pays in with
    ///         this call (`cover` = shortfall - fee, `coverFor` computes it): `msg.value` must be at least
    ///         `attestBond + cover`; any excess is credited back (`withdrawCredits`). So a shortfall costs the
    ///         operator exactly the unpaid spend, and fabricating unpayable spend for one model can only pay
    ///         that model's holders out of the operator's own pocket. The cover is credited back if the
    ///         attestation is voided.
    /// @param epoch Epoch id.
    /// @param root Merkle root of the epoch's leaves (see docs/CONTRACTS.md for the exact encoding).
    /// @param count Number of leaves.
    /// @param feeBps Operator fee in basis points of revenue (at most `maxFeeBps`).
    /// @param models Per-model revenue, strictly ascending by model, every model registered.
    /// @param clients Per-client spend, strictly ascending by client address.
    function attest(
        uint64 epoch,
        bytes32 root,
        uint64 count,
        uint16 feeBps,
        ModelTotal[] calldata models,
        ClientTotal[] calldata clients
    ) external payable onlyRole(OPERATOR_ROLE) whenNotPaused {
        if (msg.value < attestBond) revert WrongBond(attestBond, msg.value);
        Attestation storage a = _attestations[epoch];
        if (a.status != Status.None) revert AlreadyAttested(epoch, a.status);
        if (count == 0) revert EmptyAttestation();
        if (feeBps > maxFeeBps) revert FeeTooHigh(feeBps, maxFeeBps);

        (uint256 revenue, uint256 fee) = _checkTotals(count, feeBps, models, clients);

        a.attester = msg.sender;
        a.postedAt = uint64(block.timestamp);
        a.feeBps = feeBps;
        a.status = Status.Posted;
        uint32 round = ++a.round;
        a.openChallenges = 0;
        a.count = count;
        a.paidModels = 0;
        a.paidOut = 0;
        a.root = root;
        a.total = revenue;
        a.modelsHash = modelsChainHash(models, bytes32(0));
        a.clientsHash = keccak256(abi.encode(clients));

        _escrow(epoch, round, a, fee, clients);
        _emitAttested(epoch, a, models, clients);
    }

    /// @dev Escrows the clients' spend; records the shortfall and takes the cover (shortfall beyond the fee)
    ///      from `msg.value`, crediting back what exceeds bond + cover.
    function _escrow(uint64 epoch, uint32 round, Attestation storage a, uint256 fee, ClientTotal[] calldata clients)
        private
    {
        (, uint256 shortfall) = vault.escrowSpend(_escrowKey(epoch, round), clients);
        uint256 cover = shortfall > fee ? shortfall - fee : 0;
        uint256 required = attestBond + cover;
        if (msg.value < required) revert ShortfallNotCovered(required, msg.value);
        if (shortfall != 0) {
            a.shortfall = SafeCast.toUint128(shortfall);
            a.cover = SafeCast.toUint128(cover);
        }
        _credit(msg.sender, msg.value - required);
    }

    /// @notice What attesting these lists now would leave unescrowed (`shortfall`), and the part of it beyond
    ///         the attestation's fee the operator must pay in with `attest` (`cover`): send `attestBond + cover`.
    function coverFor(uint16 feeBps, ModelTotal[] calldata models, ClientTotal[] calldata clients)
        external
        view
        returns (uint256 shortfall, uint256 cover)
    {
        uint256 fee;
        for (uint256 i; i < models.length; ++i) {
            fee += models[i].total * feeBps / BPS;
        }
        for (uint256 i; i < clients.length; ++i) {
            uint256 spendable = vault.spendableOf(clients[i].client);
            if (clients[i].total > spendable) shortfall += clients[i].total - spendable;
        }
        cover = shortfall > fee ? shortfall - fee : 0;
    }

    function _checkTotals(uint64 count, uint256 feeBps, ModelTotal[] calldata models, ClientTotal[] calldata clients)
        private
        view
        returns (uint256 revenue, uint256 fee)
    {
        for (uint256 i; i < models.length; ++i) {
            ModelTotal calldata m = models[i];
            if (i != 0 && m.model <= models[i - 1].model) revert NotSorted(i);
            if (m.total == 0) revert ZeroTotal(i);
            if (m.last == 0 || m.last > count) revert BadLast(i);
            if (registry.tokenOf(m.model) == address(0)) revert UnregisteredModel(m.model);
            revenue += m.total;
            fee += m.total * feeBps / BPS;
        }
        uint256 spend;
        for (uint256 i; i < clients.length; ++i) {
            ClientTotal calldata c = clients[i];
            if (i != 0 && c.client <= clients[i - 1].client) revert NotSorted(i);
            if (c.total == 0) revert ZeroTotal(i);
            if (c.last == 0 || c.last > count) revert BadLast(i);
            spend += c.total;
        }
        if (revenue != spend) revert TotalsMismatch(revenue, spend);
        if (revenue == 0) revert EmptyAttestation();
    }

    function _emitAttested(
        uint64 epoch,
        Attestation storage a,
        ModelTotal[] calldata models,
        ClientTotal[] calldata clients
    ) private {
        emit Attested(epoch, a.round, a.attester, a.root, a.count, a.feeBps, a.total, models, clients);
    }

    /// @notice Pay out `epoch` once its challenge window has passed with no challenge open, in batches:
    ///         each call pays the next `models.length` entries of the attested model list (in list order,
    ///         starting at entry `from` = `paidModels`): each model's revenue minus the fee goes to its token
    ///         with a snapshot (`ModelPaid`). `rest` is `modelsChainHash` of the entries after this batch
    ///         (bytes32(0) for the last batch). The last batch pays the fee to the treasury, credits the
    ///         attester's bond back and emits `Finalized`; status is `Finalizing` in between (no challenge can
    ///         open, nothing can void it). Anyone may call, with the models list of the `Attested` event. A
    ///         whole epoch in one call: `finalize(epoch, 0, models, bytes32(0))`.
    /// @dev Every model always gets its total less the fee. The vault's escrow (revenue R less shortfall S) pays
    ///      first; the attester's cover pays the rest. The treasury gets what is left in the escrow: the fee less
    ///      the shortfall, or nothing when the shortfall exceeds the fee.
    function finalize(uint64 epoch, uint64 from, ModelTotal[] calldata models, bytes32 rest)
        external
        whenNotPaused
        nonReentrant
    {
        Attestation storage a = _attestations[epoch];
        Status status = _checkBatch(epoch, a, from, models, rest);
        uint256[] memory amounts = _batchAmounts(a.feeBps, models);
        (uint256 fromEscrow, uint256 fee) = _recordBatch(epoch, a, status, from, amounts, rest);
        vault.settle(fromEscrow, fee);
        _payTokens(epoch, models, amounts);
    }

    /// @dev Each model's token gets its amount with a snapshot (token addresses are the registry's CREATE2
    ///      clones, computed here; attest checked that every model is registered).
    function _payTokens(uint64 epoch, ModelTotal[] calldata models, uint256[] memory amounts) private {
        address implementation = _tokenImplementation;
        for (uint256 i; i < amounts.length; ++i) {
            bytes32 model = models[i].model;
            address token = Clones.predictDeterministicAddress(implementation, model, address(registry));
            uint256 amount = amounts[i];
            uint256 snapshotId = amount == 0 ? 0 : ModelToken(payable(token)).snapshotWithRevenue{value: amount}();
            emit ModelPaid(epoch, model, token, amount, snapshotId);
        }
    }

    /// @dev A batch may start once the window has passed with no challenge open (from 0), or continue a
    ///      finalizing attestation (from `paidModels`); the entries must chain to the stored hash.
    function _checkBatch(uint64 epoch, Attestation storage a, uint64 from, ModelTotal[] calldata models, bytes32 rest)
        private
        view
        returns (Status status)
    {
        bytes32 expected;
        status = a.status;
        if (status == Status.Posted) {
            uint256 endsAt = uint256(a.postedAt) + challengeWindow;
            if (block.timestamp < endsAt) revert WindowOpen(endsAt);
            if (a.openChallenges != 0) revert ChallengesOpen(a.openChallenges);
            if (from != 0) revert WrongBatch(0, from);
            expected = a.modelsHash;
        } else if (status == Status.Finalizing) {
            if (from != a.paidModels) revert WrongBatch(a.paidModels, from);
            expected = a.restHash;
        } else {
            revert NotPosted(epoch);
        }
        if (models.length == 0) revert EmptyBatch();
        if (modelsChainHash(models, rest) != expected) revert ListMismatch();
    }

    /// @dev Progress and, on the last batch, the final state: status, fee, the attester's bond; events.
    ///      Returns what the vault pays of this batch (`fromEscrow`; the cover pays the rest) and the fee.
    function _recordBatch(
        uint64 epoch,
        Attestation storage a,
        Status status,
        uint64 from,
        uint256[] memory amounts,
        bytes32 rest
    ) private returns (uint256 fromEscrow, uint256 fee) {
        uint256 paid;
        for (uint256 i; i < amounts.length; ++i) {
            paid += amounts[i];
        }
        uint256 escrow = a.total - a.shortfall; // what the vault holds for this attestation
        uint256 before = a.paidOut;
        uint256 paidOut = before + paid;
        if (before < escrow) fromEscrow = Math.min(paid, escrow - before);
        a.paidModels = uint32(from + amounts.length);
        a.paidOut = SafeCast.toUint96(paidOut);
        uint32 round = a.round;
        emit BatchFinalized(epoch, round, from, uint64(amounts.length), paid);
        if (rest != bytes32(0)) {
            a.status = Status.Finalizing;
            a.restHash = rest;
            return (fromEscrow, 0);
        }
        a.status = Status.Finalized;
        if (status == Status.Finalizing) a.restHash = bytes32(0);
        if (paidOut < escrow) fee = escrow - paidOut; // the fee less the shortfall it absorbed
        _credit(a.attester, attestBond);
        emit Finalized(epoch, round, a.total, fee);
    }

    /// @dev What each model of the batch is paid: its total less the fee.
    function _batchAmounts(uint256 feeBps, ModelTotal[] calldata models)
        private
        pure
        returns (uint256[] memory amounts)
    {
        amounts = new uint256[](models.length);
        for (uint256 i; i < models.length; ++i) {
            uint256 total = models[i].total;
            amounts[i] = total - total * feeBps / BPS;
        }
    }

    /// @notice Hash chain over a model list: h(n) = `rest`, h(i) = keccak256(abi.encode(models[i].model,
    ///         models[i].total, models[i].last, h(i + 1))), returns h(0). The attestation stores
    ///         `modelsChainHash(models, 0)`; a `finalize` batch passes the chain hash of the entries after it.
    function modelsChainHash(ModelTotal[] calldata models, bytes32 rest) public pure returns (bytes32 h) {
        h = rest;
        for (uint256 i = models.length; i > 0;) {
            --i;
            ModelTotal calldata m = models[i];
            h = _link(m.model, m.total, m.last, h);
        }
    }

    /// @notice Receives the finalize payout from the vault (forwarded to the model tokens in the same call).
    receive() external payable {
        if (msg.sender != address(vault)) revert NotVault();
    }

    /// @notice Return a voided attestation's escrow to its clients, so the epoch can be attested again.
    ///         Anyone may call, with the clients list of the `Attested` event.
    function unwind(uint64 epoch, ClientTotal[] calldata clients) external {
        Attestation storage a = _attestations[epoch];
        if (a.status != Status.Voided) revert NotVoided(epoch);
        if (keccak256(abi.encode(clients)) != a.clientsHash) revert ListMismatch();
        a.status = Status.None;
        if (a.shortfall != 0) {
            a.shortfall = 0;
            a.cover = 0;
        }
        uint256 released = vault.releaseSpend(_escrowKey(epoch, a.round), clients);
        emit AttestationUnwound(epoch, a.round, released);
    }

    // ------------------------------------------------------------------ receipt challenges (interactive)

    /// @notice Challenge `epoch` with a receipt the operator signed for it, posting `challengeBond`. The
    ///         operator must show, within `responseWindow`, a leaf carrying exactly this receipt. Needs a
    ///         commitment to this exact call by the sender in an earlier block (`commit`, `commitmentOf`).
    /// @return challengeId The new challenge's id.
    function challengeReceipt(uint64 epoch, Receipt calldata receipt, bytes calldata signature)
        external
        payable
        returns (uint256 challengeId)
    {
        if (msg.value != challengeBond) revert WrongBond(challengeBond, msg.value);
        Attestation storage a = _requireChallengeable(epoch);
        bytes32 rh = _checkSignedReceipt(epoch, a, receipt, signature);
        _consumeCommitment();
        challengeId = challengeCount++;
        uint64 deadline = uint64(block.timestamp) + responseWindow;
        _challenges[challengeId] = Challenge({
            challenger: msg.sender,
            epoch: epoch,
            round: a.round,
            deadline: deadline,
            status: ChallengeStatus.Open,
            byIndex: false,
            index: 0,
            receiptHash: rh
        });
        ++a.openChallenges;
        emit ReceiptChallenged(challengeId, epoch, a.round, msg.sender, rh, receipt.id, deadline);
    }

    /// @notice Data-availability challenge: demand the leaf at position `index`, posting `challengeBond`.
    ///         The operator must reveal it (with its inclusion proof) within `responseWindow` or lose. This
    ///         makes every leaf a fraud proof may need obtainable, even if the operator withholds the tree.
    ///         Needs a commitment to this exact call by the sender in an earlier block.
    /// @return challengeId The new challenge's id.
    function challengeLeaf(uint64 epoch, uint64 index) external payable returns (uint256 challengeId) {
        if (msg.value != challengeBond) revert WrongBond(challengeBond, msg.value);
        Attestation storage a = _requireChallengeable(epoch);
        if (index >= a.count) revert IndexOutOfRange(index, a.count);
        _consumeCommitment();
        challengeId = challengeCount++;
        uint64 deadline = uint64(block.timestamp) + responseWindow;
        _challenges[challengeId] = Challenge({
            challenger: msg.sender,
            epoch: epoch,
            round: a.round,
            deadline: deadline,
            status: ChallengeStatus.Open,
            byIndex: true,
            index: index,
            receiptHash: bytes32(0)
        });
        ++a.openChallenges;
        emit LeafChallenged(challengeId, epoch, a.round, msg.sender, index, deadline);
    }

    /// @notice Answer a challenge with the inclusion proof of a leaf carrying the challenged receipt (receipt
    ///         challenge) or at the challenged index (leaf challenge). Anyone may answer; the challenger's
    ///         bond is split between the attester and the burn.
    function respond(uint256 challengeId, LeafProof calldata p) external {
        Challenge storage c = _openChallenge(challengeId);
        Attestation storage a = _attestations[c.epoch];
        if (a.status != Status.Posted || a.round != c.round) revert NotPosted(c.epoch);
        if (block.timestamp > c.deadline) revert ResponseTooLate(c.deadline);
        if (c.byIndex) {
            if (p.index != c.index) revert LeafMismatch();
        } else if (receiptHash(p.leaf.receipt) != c.receiptHash) {
            revert LeafMismatch();
        }
        _verifyLeaf(a, p);
        c.status = ChallengeStatus.Rejected;
        --a.openChallenges;
        uint256 toAttester = challengeBond / 2;
        _credit(a.attester, toAttester);
        burned += challengeBond - toAttester;
        emit ChallengeRejected(challengeId, p.index);
    }

    /// @notice Settle a receipt challenge: if its attestation is gone (voided or replaced), refund the bond;
    ///         otherwise, once the response deadline has passed unanswered, void the attestation.
    function resolveChallenge(uint256 challengeId) external {
        Challenge storage c = _openChallenge(challengeId);
        Attestation storage a = _attestations[c.epoch];
        if (a.status != Status.Posted || a.round != c.round) {
            c.status = ChallengeStatus.Moot;
            _credit(c.challenger, challengeBond);
            emit ChallengeMoot(challengeId);
            return;
        }
        if (block.timestamp <= c.deadline) revert ResponseWindowOpen(c.deadline);
        c.status = ChallengeStatus.Upheld;
        --a.openChallenges;
        _credit(c.challenger, challengeBond);
        emit ChallengeUpheld(challengeId);
        _void(c.epoch, a, c.challenger);
    }

    // ------------------------------------------------------------------ referees

    /// @notice A referee opens a challenge of its own against `epoch`'s attestation (in its window): finalize
    ///         waits until the referee closes it. Returns the attestation's round.
    function refereeOpen(uint64 epoch) external onlyRole(REFEREE_ROLE) returns (uint32 round) {
        Attestation storage a = _requireChallengeable(epoch);
        ++a.openChallenges;
        return a.round;
    }

    /// @notice A referee closes its challenge against round `round` of `epoch`: if `winner` is not zero the
    ///         attestation is voided with `winner` as the challenger (half the bond). Returns false, changing
    ///         nothing, when that attestation is no longer live (voided or replaced: the challenge is moot).
    function refereeClose(uint64 epoch, uint32 round, address winner) external onlyRole(REFEREE_ROLE) returns (bool) {
        Attestation storage a = _attestations[epoch];
        if (a.status != Status.Posted || a.round != round) return false;
        --a.openChallenges;
        if (winner != address(0)) _void(epoch, a, winner);
        return true;
    }

    // ------------------------------------------------------------------ commitments

    /// @notice Commit to a challenge or fraud proof before sending it: `commitment` = `commitmentOf(prover,
    ///         calldata)`. The call is accepted only from `prover`, with exactly that calldata, in a later
    ///         block; each commitment is used once. A copier of a pending call has no commitment of its own
    ///         and cannot make one in time, so the reward stays with whoever found the fraud.
    function commit(bytes32 commitment) external {
        if (commitments[commitment] != 0) revert AlreadyCommitted(commitment);
        commitments[commitment] = block.number;
        emit Committed(commitment, msg.sender);
    }

    /// @notice The commitment for `prover` sending `data` (the full calldata: selector and arguments).
    function commitmentOf(address prover, bytes calldata data) public pure returns (bytes32) {
        return keccak256(abi.encode(prover, keccak256(data)));
    }

    // ------------------------------------------------------------------ fraud proofs (decided at once)

    /// @notice Prove that an operator-signed receipt of `epoch` is missing from or misstated in the tree:
    ///         `left`/`right` are adjacent leaves around the receipt's id (or the first / last leaf when the
    ///         id lies outside the range: pass the same proof twice), or a leaf with the same id but a
    ///         different receipt. Like every fraud proof below, it needs a commitment (`commit`) to this exact
    ///         call by the sender in an earlier block; it is checked last, so an invalid proof reverts with
    ///         its own error first.
    function proveOmission(
        uint64 epoch,
        Receipt calldata receipt,
        bytes calldata signature,
        LeafProof calldata left,
        LeafProof calldata right
    ) external {
        Attestation storage a = _requireChallengeable(epoch);
        bytes32 rh = _checkSignedReceipt(epoch, a, receipt, signature);
        _verifyLeaf(a, left);
        _verifyLeaf(a, right);
        uint128 id = receipt.id;
        uint128 lid = left.leaf.receipt.id;
        uint128 rid = right.leaf.receipt.id;
        bool fraud;
        if (lid == id) fraud = receiptHash(left.leaf.receipt) != rh;
        else if (rid == id) fraud = receiptHash(right.leaf.receipt) != rh;
        else if (right.index == left.index + 1) fraud = lid < id && id < rid;
        else if (left.index == right.index && left.index == 0 && id < lid) fraud = true;
        else if (left.index == right.index && left.index == a.count - 1 && id > lid) fraud = true;
        if (!fraud) revert NotFraud();
        _fraud(epoch, a, "omission");
    }

    /// @notice Prove that a leaf carries a receipt of another epoch.
    function proveBadEpoch(uint64 epoch, LeafProof calldata p) external {
        Attestation storage a = _requireChallengeable(epoch);
        _verifyLeaf(a, p);
        if (p.leaf.receipt.epoch == epoch) revert NotFraud();
        _fraud(epoch, a, "epoch");
    }

    /// @notice Prove that two adjacent leaves are not in strictly ascending receipt-id order.
    function proveBadOrder(uint64 epoch, LeafProof calldata left, LeafProof calldata right) external {
        Attestation storage a = _requireChallengeable(epoch);
        _verifyLeaf(a, left);
        _verifyLeaf(a, right);
        if (right.index != left.index + 1 || left.leaf.receipt.id < right.leaf.receipt.id) revert NotFraud();
        _fraud(epoch, a, "order");
    }

    /// @notice Prove that leaf `j`'s running sum on `side` (0 model, 1 client) is wrong: its `prev` pointer
    ///         is not earlier than itself, or points (`p`) to a leaf of another model/client, or its sum is not
    ///         the previous sum plus its price (or its price, when it has no previous). `p` is ignored when
    ///         `j` has no previous or an impossible one (pass `j` again).
    function proveBadLink(uint64 epoch, uint8 side, LeafProof calldata j, LeafProof calldata p) external {
        Attestation storage a = _requireChallengeable(epoch);
        _verifyLeaf(a, j);
        (bytes32 jKey, uint64 jPrev, uint256 jCum) = _side(j.leaf, side);
        uint256 price = j.leaf.receipt.price;
        bool fraud;
        if (jPrev == 0) {
            fraud = jCum != price;
        } else if (jPrev > j.index) {
            fraud = true; // points to itself or later
        } else {
            if (p.index != jPrev - 1) revert NotFraud();
            _verifyLeaf(a, p);
            (bytes32 pKey,, uint256 pCum) = _side(p.leaf, side);
            fraud = pKey != jKey || price > type(uint256).max - pCum || jCum != pCum + price;
        }
        if (!fraud) revert NotFraud();
        _fraud(epoch, a, "link");
    }

    /// @notice Prove that leaf `j`'s `prev` pointer on `side` skips leaf `k` (same model/client, k < j,
    ///         and j's previous is before k or none).
    function proveSkipped(uint64 epoch, uint8 side, LeafProof calldata k, LeafProof calldata j) external {
        Attestation storage a = _requireChallengeable(epoch);
        _verifyLeaf(a, k);
        _verifyLeaf(a, j);
        (bytes32 kKey,,) = _side(k.leaf, side);
        (bytes32 jKey, uint64 jPrev,) = _side(j.leaf, side);
        if (!(k.index < j.index && kKey == jKey && jPrev < k.index + 1)) revert NotFraud();
        _fraud(epoch, a, "skip");
    }

    /// @notice Prove that the attested model totals do not match the leaves. With `entry` = an index into
    ///         `models`: leaf `x` is that entry's last leaf but has another model or another running sum, or
    ///         `x` comes after it with the same model. With `entry` = type(uint256).max: `x`'s model is not in
    ///         `models` at all.
    function proveBadModelTotal(uint64 epoch, ModelTotal[] calldata models, uint256 entry, LeafProof calldata x)
        external
    {
        Attestation storage a = _requireChallengeable(epoch);
        if (modelsChainHash(models, bytes32(0)) != a.modelsHash) revert ListMismatch();
        _verifyLeaf(a, x);
        bytes32 key = x.leaf.receipt.model;
        bool fraud;
        if (entry == type(uint256).max) {
            fraud = true;
            for (uint256 i; i < models.length; ++i) {
                if (models[i].model == key) fraud = false;
            }
        } else {
            ModelTotal calldata m = models[entry];
            fraud = _badTotal(m.model, m.total, m.last, key, x.leaf.modelCum, x.index);
        }
        if (!fraud) revert NotFraud();
        _fraud(epoch, a, "model-total");
    }

    /// @notice Client-side twin of `proveBadModelTotal`.
    function proveBadClientTotal(uint64 epoch, ClientTotal[] calldata clients, uint256 entry, LeafProof calldata x)
        external
    {
        Attestation storage a = _requireChallengeable(epoch);
        if (keccak256(abi.encode(clients)) != a.clientsHash) revert ListMismatch();
        _verifyLeaf(a, x);
        address key = x.leaf.receipt.client;
        bool fraud;
        if (entry == type(uint256).max) {
            fraud = true;
            for (uint256 i; i < clients.length; ++i) {
                if (clients[i].client == key) fraud = false;
            }
        } else {
            ClientTotal calldata c = clients[entry];
            fraud = _badTotal(
                bytes32(uint256(uint160(c.client))),
                c.total,
                c.last,
                bytes32(uint256(uint160(key))),
                x.leaf.clientCum,
                x.index
            );
        }
        if (!fraud) revert NotFraud();
        _fraud(epoch, a, "client-total");
    }

    // ------------------------------------------------------------------ credits, pause

    /// @notice Withdraw the caller's credits (returned bonds, rewards).
    function withdrawCredits() external nonReentrant returns (uint256 amount) {
        amount = credits[msg.sender];
        if (amount == 0) revert NoCredits();
        credits[msg.sender] = 0;
        totalCredits -= amount;
        emit CreditsWithdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @notice Pause attest and finalize.
    function pause() external onlyRole(GUARDIAN_ROLE) {
        _pause();
    }

    /// @notice Resume attest and finalize.
    function unpause() external onlyRole(GUARDIAN_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ views

    /// @notice The current attestation of `epoch`.
    function getAttestation(uint64 epoch) external view returns (Attestation memory) {
        return _attestations[epoch];
    }

    /// @notice A receipt challenge.
    function getChallenge(uint256 challengeId) external view returns (Challenge memory) {
        return _challenges[challengeId];
    }

    /// @notice EIP-712 struct hash of a receipt (the first input of its leaf).
    function receiptHash(Receipt calldata r) public pure returns (bytes32) {
        return keccak256(abi.encode(RECEIPT_TYPEHASH, r));
    }

    /// @notice EIP-712 digest the operator signs for a receipt.
    function receiptDigest(Receipt calldata r) public view returns (bytes32) {
        return _hashTypedDataV4(receiptHash(r));
    }

    /// @notice Leaf hash: keccak256(bytes.concat(keccak256(abi.encode(receiptHash, modelPrev, modelCum,
    ///         clientPrev, clientCum)))).
    function leafHash(Leaf calldata l) public pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                keccak256(abi.encode(receiptHash(l.receipt), l.modelPrev, l.modelCum, l.clientPrev, l.clientCum))
            )
        );
    }

    /// @notice Depth of the positional tree over `count` leaves: ceil(log2(count)), 0 for one leaf.
    function treeDepth(uint64 count) public pure returns (uint256 depth) {
        while ((uint256(1) << depth) < count) ++depth;
    }

    /// @notice Root computed from a leaf hash, its index and its siblings (bottom-up).
    function computeRoot(bytes32 leaf, uint64 index, bytes32[] calldata proof) public pure returns (bytes32 h) {
        h = leaf;
        uint256 idx = index;
        for (uint256 i; i < proof.length; ++i) {
            h = (idx & 1 == 0) ? _hashPair(h, proof[i]) : _hashPair(proof[i], h);
            idx >>= 1;
        }
    }

    /// @notice Whether receipts signed by `signer` are evidence against the current attestation of `epoch`
    ///         (an operator key, not revoked before that attestation was posted).
    function isEvidenceSigner(address signer, uint64 epoch) external view returns (bool) {
        if (!isReceiptSigner[signer]) return false;
        uint64 revokedAt = receiptSignerRevokedAt[signer];
        return revokedAt == 0 || _attestations[epoch].postedAt < revokedAt;
    }

    /// @notice EIP-712 domain separator ("IMO Oracle", "1", chainid, this).
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------ internals

    /// @dev Remembers every operator key ever granted (see `isReceiptSigner`); granting again lifts a revocation.
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (role == OPERATOR_ROLE) {
            isReceiptSigner[account] = true;
            if (receiptSignerRevokedAt[account] != 0) delete receiptSignerRevokedAt[account];
        }
    }

    /// @dev Records when an operator key stops signing evidence (revoked or renounced).
    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked && role == OPERATOR_ROLE) {
            receiptSignerRevokedAt[account] = uint64(block.timestamp);
            emit ReceiptSignerRevoked(account, uint64(block.timestamp));
        }
    }

    /// @dev Key of an attestation's escrow in the vault.
    function _escrowKey(uint64 epoch, uint32 round) private pure returns (bytes32) {
        return bytes32((uint256(epoch) << 32) | round);
    }

    /// @dev Uses the sender's commitment to this exact call (made in an earlier block).
    function _consumeCommitment() private {
        bytes32 c = commitmentOf(msg.sender, msg.data);
        uint256 at = commitments[c];
        if (at == 0) revert NotCommitted(c);
        if (at >= block.number) revert CommitmentTooRecent(c, at);
        delete commitments[c];
    }

    function _link(bytes32 model, uint256 total, uint64 last, bytes32 next) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, model)
            mstore(add(ptr, 0x20), total)
            mstore(add(ptr, 0x40), last)
            mstore(add(ptr, 0x60), next)
            h := keccak256(ptr, 0x80)
        }
    }

    function _requireChallengeable(uint64 epoch) private view returns (Attestation storage a) {
        a = _attestations[epoch];
        if (a.status != Status.Posted) revert NotPosted(epoch);
        uint256 endsAt = uint256(a.postedAt) + challengeWindow;
        if (block.timestamp >= endsAt) revert WindowClosed(endsAt);
    }

    /// @dev A receipt of `epoch` signed by an operator key that was not revoked before `a` was posted.
    function _checkSignedReceipt(
        uint64 epoch,
        Attestation storage a,
        Receipt calldata receipt,
        bytes calldata signature
    ) private view returns (bytes32 rh) {
        if (receipt.epoch != epoch) revert WrongEpoch(epoch, receipt.epoch);
        rh = receiptHash(receipt);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(_hashTypedDataV4(rh), signature);
        if (err != ECDSA.RecoverError.NoError || !isReceiptSigner[signer]) revert InvalidReceiptSignature();
        if (vault.ackModeAt(receipt.client, epoch)) revert AckModeReceipt(receipt.client);
        uint64 revokedAt = receiptSignerRevokedAt[signer];
        if (revokedAt != 0 && a.postedAt >= revokedAt) revert RevokedSigner(signer, revokedAt);
    }

    function _openChallenge(uint256 challengeId) private view returns (Challenge storage c) {
        if (challengeId >= challengeCount) revert UnknownChallenge(challengeId);
        c = _challenges[challengeId];
        if (c.status != ChallengeStatus.Open) revert ChallengeNotOpen(challengeId);
    }

    function _verifyLeaf(Attestation storage a, LeafProof calldata p) private view {
        uint64 count = a.count;
        if (p.index >= count) revert IndexOutOfRange(p.index, count);
        if (p.proof.length != treeDepth(count)) revert InvalidProof();
        if (computeRoot(leafHash(p.leaf), p.index, p.proof) != a.root) revert InvalidProof();
    }

    function _side(Leaf calldata l, uint8 side) private pure returns (bytes32 key, uint64 prev, uint256 cum) {
        if (side == SIDE_MODEL) return (l.receipt.model, l.modelPrev, l.modelCum);
        if (side == SIDE_CLIENT) return (bytes32(uint256(uint160(l.receipt.client))), l.clientPrev, l.clientCum);
        revert InvalidSide(side);
    }

    /// @dev Entry (key, total, last) vs leaf x (xKey, xCum, xIndex): fraud if x is the entry's last leaf but
    ///      differs in key or sum, or x comes later with the same key.
    function _badTotal(bytes32 key, uint256 total, uint64 last, bytes32 xKey, uint256 xCum, uint64 xIndex)
        private
        pure
        returns (bool)
    {
        uint64 lastIndex = last - 1; // last >= 1 was checked at attest
        if (xIndex == lastIndex) return xKey != key || xCum != total;
        return xIndex > lastIndex && xKey == key;
    }

    function _fraud(uint64 epoch, Attestation storage a, bytes32 kind) private {
        _consumeCommitment();
        emit FraudProven(epoch, a.round, msg.sender, kind);
        _void(epoch, a, msg.sender);
    }

    function _void(uint64 epoch, Attestation storage a, address challenger) private {
        a.status = Status.Voided;
        a.openChallenges = 0;
        _credit(a.attester, a.cover); // the shortfall cover was not used: back to the attester
        uint256 reward = attestBond / 2;
        uint256 burn = attestBond - reward;
        _credit(challenger, reward);
        burned += burn;
        emit AttestationVoided(epoch, a.round, challenger, reward, burn);
    }

    function _credit(address account, uint256 amount) private {
        if (amount == 0) return;
        credits[account] += amount;
        totalCredits += amount;
    }

    function _hashPair(bytes32 left, bytes32 right) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, left)
            mstore(0x20, right)
            h := keccak256(0x00, 0x40)
        }
    }
}
