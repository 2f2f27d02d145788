// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Receipt} from "./Types.sol";
import {ChunkTree} from "./judge/ChunkTree.sol";
import {JudgeVM} from "./judge/JudgeVM.sol";
import {Program, IoTensor, Operand, CallInputs, CallOutputs} from "./judge/JudgeTypes.sol";

/// @notice The UsageOracle views this contract uses to check a receipt's operator signature.
interface IReceiptOracle {
    function receiptHash(Receipt calldata r) external pure returns (bytes32);
    function receiptDigest(Receipt calldata r) external view returns (bytes32);
    function isReceiptSigner(address account) external view returns (bool);
}

/// @title InferenceDispute: the on-chain referee of inference results (opML over the ONNX graph).
/// @notice A client (or anyone) who holds an operator-signed receipt and the call's input, and claims the
///         receipt's output hash is not what the model computes, opens a game with a bond. The operator
///         defends the receipt's outputs with a commitment to the state after every node of the model's judge
///         program (committed once per model with `commitProgram`); the two bisect over the node index (the
///         operator posts the state at the midpoint, the challenger agrees or not), then over the disputed
///         node's output chunks (the operator reveals the two children of the disputed subtree, the challenger
///         picks one), under chess clocks; at a single chunk the one-step (`step`) recomputes one element with
///         `JudgeVM` from the agreed operands and decides. The rules, in full: docs/PROTOCOL.md §9.
///
///         Money: the challenger posts `challengerBond`; the operator keeps a stake here, and each game locks
///         `operatorBond + price` of it. The challenger wins: its bond back plus `operatorBond`, and the
///         receipt's client is refunded `price` (once per receipt) — out of this contract, whatever the
///         UsageOracle did with the epoch (finalized or not). The operator wins: the challenger's bond. Pull
///         payments (`withdrawCredits`).
/// @dev Finalization and disputes are independent: the UsageOracle pays an epoch's revenue at finalize
///      whatever games are open, and the operator's stake here (locked per game, withdrawable only after
///      `unstakeDelay` >= `disputeWindow` + the longest game) pays refunds and slashes. A receipt can be
///      disputed until `disputeWindow` seconds after its timestamp.
contract InferenceDispute is ReentrancyGuardTransient {
    /// @notice Who is to move.
    enum Phase {
        None,
        Defend, // operator: post the outputs and the final state
        Bisect, // operator: post the midpoint state (or reveal the node at hi = lo + 1); challenger: agree or not
        Tile, // operator: reveal the children of the disputed subtree; challenger: pick one
        Step, // challenger: the one-step on one element of the disputed chunk
        OperatorWon,
        ChallengerWon
    }

    /// @notice Why a game ended.
    enum Reason {
        None,
        OperatorTimeout,
        ChallengerTimeout,
        WrongShape, // the operator's output shape for the node is not the operator's rule
        BadOperands, // the agreed operands do not fit the node's operator
        WrongElement // the one-step computed another element than the operator's chunk holds
    }

    struct Game {
        address operator;
        uint64 turnStart;
        Phase phase;
        bool pending; // Bisect: a midpoint is posted; Tile: children are revealed
        uint8 level; // Tile: height of the disputed subtree (0 = a chunk)
        address challenger;
        uint64 operatorClock; // seconds left
        uint32 lo;
        address client;
        uint64 challengerClock;
        uint32 hi;
        bytes32 model;
        bytes32 receiptHash;
        bytes32 outputHash;
        uint256 price;
        bytes32 rootLo; // agreed state S_lo
        bytes32 rootHi; // the operator's S_hi
        bytes32 pendingRoot; // the operator's S_mid
        uint256 outShape; // the disputed node's output shape word
        bytes32 tile; // Tile: the disputed subtree's root; Step: the disputed chunk's bytes
        uint256 tileIndex; // position of the disputed subtree at its level
        bytes32 left; // revealed children (hashes, or chunks at level 1)
        bytes32 right;
    }

    struct Stake {
        uint256 free;
        uint256 locked;
        uint256 unstakeAmount;
        uint64 unstakeAt;
    }

    /// @notice Largest canonical input or output encoding a game takes (bytes).
    uint256 public constant MAX_IO_BYTES = 65_536;
    /// @notice Version of the judge semantics (docs/PROTOCOL.md §9).
    uint256 public constant JUDGE_VERSION = 1;

    IReceiptOracle public immutable oracle;
    JudgeVM public immutable judge;
    uint256 public immutable challengerBond;
    uint256 public immutable operatorBond;
    /// @notice Seconds each side has for all its moves of a game (chess clock).
    uint64 public immutable clock;
    /// @notice Seconds after a receipt's timestamp during which it can be disputed.
    uint64 public immutable disputeWindow;
    /// @notice Seconds between requesting and withdrawing stake.
    uint64 public immutable unstakeDelay;

    mapping(bytes32 model => Program) private _programs;
    mapping(bytes32 gameId => Game) private _games;
    mapping(address operator => Stake) private _stakes;
    /// @notice Receipts whose client was refunded (once per receipt).
    mapping(bytes32 receiptHash => bool) public refunded;
    mapping(address account => uint256) public credits;
    /// @notice Sums, for the solvency invariant: balance = totalStake + openBonds + totalCredits.
    uint256 public totalStake;
    uint256 public openBonds;
    uint256 public totalCredits;

    event ProgramCommitted(
        bytes32 indexed model, bytes32 indexed programId, address indexed committer, Program program
    );
    event Staked(address indexed operator, uint256 amount, uint256 free);
    event UnstakeRequested(address indexed operator, uint256 amount, uint64 availableAt);
    event Unstaked(address indexed operator, uint256 amount);
    event GameOpened(
        bytes32 indexed gameId,
        bytes32 indexed receiptHash,
        address indexed operator,
        address challenger,
        address client,
        bytes32 claimedOutputHash,
        bytes32 initialRoot,
        uint32 nodeCount
    );
    event Defended(bytes32 indexed gameId, bytes32 finalRoot);
    event Bisected(bytes32 indexed gameId, uint32 lo, uint32 hi, bytes32 midRoot);
    event Chosen(bytes32 indexed gameId, bool agree, uint32 lo, uint32 hi);
    event Revealed(bytes32 indexed gameId, uint32 node, uint256 outShape, bytes32 outRoot, uint8 depth);
    event TilesRevealed(bytes32 indexed gameId, uint8 level, uint256 index, bytes32 left, bytes32 right);
    event Picked(bytes32 indexed gameId, bool right, uint8 level, uint256 index);
    event Resolved(bytes32 indexed gameId, Phase outcome, Reason reason);
    event Refunded(bytes32 indexed receiptHash, address indexed client, uint256 amount);
    event CreditsWithdrawn(address indexed account, uint256 amount);

    error BadParameters();
    error NotReceiptSigner();
    error ProgramExists(bytes32 model);
    error BadProgram();
    error NoProgram(bytes32 model);
    error InvalidReceiptSignature();
    error WindowClosed(uint256 endedAt);
    error WrongBond(uint256 expected, uint256 sent);
    error GameExists(bytes32 gameId);
    error AlreadyRefunded(bytes32 receiptHash);
    error SameOutput();
    error Undercollateralized(uint256 needed, uint256 free);
    error IoMismatch();
    error IoTooLarge(uint256 size);
    error HashMismatch();
    error BadEncoding();
    error BadProof();
    error NoGame(bytes32 gameId);
    error NotYourTurn();
    error WrongPhase(Phase phase);
    error ClockExpired();
    error ClockRunning(uint256 endsAt);
    error BadShape();
    error NotDecisive();
    error NothingToWithdraw();
    error UnstakeNotReady(uint64 availableAt);

    constructor(
        IReceiptOracle oracle_,
        JudgeVM judge_,
        uint256 challengerBond_,
        uint256 operatorBond_,
        uint64 clock_,
        uint64 disputeWindow_,
        uint64 unstakeDelay_
    ) {
        if (address(oracle_) == address(0) || address(judge_) == address(0) || clock_ == 0) {
            revert BadParameters();
        }
        // Stake must outlive every receipt's window plus the longest game (both clocks).
        if (uint256(unstakeDelay_) < uint256(disputeWindow_) + 2 * uint256(clock_)) revert BadParameters();
        oracle = oracle_;
        judge = judge_;
        challengerBond = challengerBond_;
        operatorBond = operatorBond_;
        clock = clock_;
        disputeWindow = disputeWindow_;
        unstakeDelay = unstakeDelay_;
    }

    // ------------------------------------------------------------------ programs

    /// @notice Commits the judge program of a model (its weights root), once, by an operator key. Anyone with
    ///         the model file recomputes it (`imo_oracle::judge::Program::commitment`).
    function commitProgram(bytes32 model, Program calldata p) external {
        if (!oracle.isReceiptSigner(msg.sender)) revert NotReceiptSigner();
        if (_programs[model].nodeCount != 0) revert ProgramExists(model);
        if (p.nodeCount == 0 || uint256(p.inputCount) + p.nodeCount > p.slotCount) revert BadProgram();
        _programs[model] = p;
        emit ProgramCommitted(model, keccak256(abi.encode(JUDGE_VERSION, p)), msg.sender, p);
    }

    function programOf(bytes32 model) external view returns (Program memory) {
        return _programs[model];
    }

    // ------------------------------------------------------------------ stake

    /// @notice Adds to the caller's stake (the operator's collateral for games over its receipts).
    function stake() external payable {
        Stake storage s = _stakes[msg.sender];
        s.free += msg.value;
        totalStake += msg.value;
        emit Staked(msg.sender, msg.value, s.free);
    }

    /// @notice Asks to withdraw `amount` after `unstakeDelay`; replaces an earlier request. The amount stays
    ///         at stake (lockable by new games) until withdrawn.
    function requestUnstake(uint256 amount) external {
        Stake storage s = _stakes[msg.sender];
        s.unstakeAmount = amount;
        s.unstakeAt = uint64(block.timestamp) + unstakeDelay;
        emit UnstakeRequested(msg.sender, amount, s.unstakeAt);
    }

    /// @notice Withdraws min(requested, free stake) once the delay has passed.
    function unstake() external nonReentrant {
        Stake storage s = _stakes[msg.sender];
        if (s.unstakeAmount == 0) revert NothingToWithdraw();
        if (block.timestamp < s.unstakeAt) revert UnstakeNotReady(s.unstakeAt);
        uint256 amount = s.unstakeAmount < s.free ? s.unstakeAmount : s.free;
        s.unstakeAmount = 0;
        s.free -= amount;
        totalStake -= amount;
        emit Unstaked(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    function stakeOf(address operator) external view returns (Stake memory) {
        return _stakes[operator];
    }

    // ------------------------------------------------------------------ the game

    /// @notice The id of the game a challenger opens over a receipt (one per receipt and challenger).
    function gameId(bytes32 receiptHash, address challenger) public pure returns (bytes32) {
        return keccak256(abi.encode(receiptHash, challenger));
    }

    function getGame(bytes32 id) external view returns (Game memory) {
        return _games[id];
    }

    /// @notice Opens a game over an operator-signed receipt with the call's input (its canonical encoding,
    ///         which must hash to the receipt's inputHash, at most MAX_IO_BYTES), the program's inputs and the
    ///         proofs that put each into the initial state (docs/PROTOCOL.md §9.4), and the output hash the
    ///         challenger says is right. Sends `challengerBond`; locks `operatorBond + price` of the signer's stake.
    function open(Receipt calldata r, bytes calldata signature, CallInputs calldata input, bytes32 claimedOutputHash)
        external
        payable
        returns (bytes32 id)
    {
        if (msg.value != challengerBond) revert WrongBond(challengerBond, msg.value);
        (bytes32 rh, address operator) = _admit(r, signature, claimedOutputHash);
        id = gameId(rh, msg.sender);
        if (_games[id].phase != Phase.None) revert GameExists(id);
        bytes32 root = _initialState(_programs[r.model], r.inputHash, input);
        uint256 need = operatorBond + r.price;
        Stake storage s = _stakes[operator];
        if (s.free < need) revert Undercollateralized(need, s.free);
        s.free -= need;
        s.locked += need;
        openBonds += msg.value;
        _start(id, rh, operator, r, root);
        emit GameOpened(id, rh, operator, msg.sender, r.client, claimedOutputHash, root, _games[id].hi);
    }

    function _admit(Receipt calldata r, bytes calldata signature, bytes32 claimedOutputHash)
        private
        view
        returns (bytes32 rh, address operator)
    {
        (rh, operator) = _checkReceipt(r, signature);
        uint256 endsAt = uint256(r.timestamp) / 1000 + disputeWindow;
        if (block.timestamp > endsAt) revert WindowClosed(endsAt);
        if (claimedOutputHash == r.outputHash) revert SameOutput();
        if (refunded[rh]) revert AlreadyRefunded(rh);
        if (_programs[r.model].nodeCount == 0) revert NoProgram(r.model);
    }

    function _start(bytes32 id, bytes32 rh, address operator, Receipt calldata r, bytes32 root) private {
        Game storage g = _games[id];
        g.operator = operator;
        g.challenger = msg.sender;
        g.client = r.client;
        g.model = r.model;
        g.receiptHash = rh;
        g.outputHash = r.outputHash;
        g.price = r.price;
        g.phase = Phase.Defend;
        g.turnStart = uint64(block.timestamp);
        g.operatorClock = clock;
        g.challengerClock = clock;
        g.hi = _programs[r.model].nodeCount;
        g.rootLo = root;
    }

    /// @notice The operator's first move: the receipt's outputs (their canonical encoding, hashing to the
    ///         receipt's outputHash, at most MAX_IO_BYTES), the program's outputs list, and its state after the
    ///         last node with the proof of each returned output's slot in it.
    function defend(bytes32 id, CallOutputs calldata out) external {
        Game storage g = _move(id, Phase.Defend, true);
        Program storage p = _programs[g.model];
        if (keccak256(abi.encode(out.outputs)) != p.outputsHash) revert IoMismatch();
        if (out.encoding.length > MAX_IO_BYTES) revert IoTooLarge(out.encoding.length);
        if (sha256(out.encoding) != g.outputHash) revert HashMismatch();
        _verifyOutputs(out, ChunkTree.depthFor(p.slotCount));
        g.rootHi = out.finalRoot;
        g.phase = Phase.Bisect;
        emit Defended(id, out.finalRoot);
    }

    /// @dev Each tensor of the encoding is the next (by name) of the program's outputs, with its type, and its
    ///      tensor commitment sits in its slot of the final state.
    function _verifyOutputs(CallOutputs calldata out, uint256 depth) private pure {
        bytes calldata enc = out.encoding;
        (uint256 count, uint256 off) = _u32At(enc, 0);
        if (count == 0 || count != out.proofs.length) revert BadEncoding();
        uint256 j;
        for (uint256 i; i < count; ++i) {
            bytes32 t;
            bytes32 nameHash;
            uint256 dtype;
            (nameHash, dtype, t, off) = _tensor(enc, off);
            while (j < out.outputs.length && keccak256(bytes(out.outputs[j].name)) != nameHash) ++j;
            if (j == out.outputs.length || out.outputs[j].dtype != dtype) revert IoMismatch();
            if (out.proofs[i].length != depth) revert BadProof();
            if (ChunkTree.computeRoot(t, out.outputs[j].slot, out.proofs[i]) != out.finalRoot) revert BadProof();
            ++j;
        }
        if (off != enc.length) revert BadEncoding();
    }

    /// @notice The operator's state after node `mid = (lo + hi) / 2` (while hi - lo >= 2).
    function bisect(bytes32 id, bytes32 midRoot) external {
        Game storage g = _move(id, Phase.Bisect, true);
        if (g.pending || g.hi - g.lo < 2) revert WrongPhase(g.phase);
        g.pendingRoot = midRoot;
        g.pending = true;
        emit Bisected(id, g.lo, g.hi, midRoot);
    }

    /// @notice The challenger agrees with the posted midpoint state (the dispute is after it) or not (before).
    function choose(bytes32 id, bool agree) external {
        Game storage g = _move(id, Phase.Bisect, false);
        if (!g.pending) revert WrongPhase(g.phase);
        uint32 mid = uint32((uint256(g.lo) + g.hi) / 2);
        if (agree) {
            g.lo = mid;
            g.rootLo = g.pendingRoot;
        } else {
            g.hi = mid;
            g.rootHi = g.pendingRoot;
        }
        g.pending = false;
        emit Chosen(id, agree, g.lo, g.hi);
    }

    /// @notice At hi = lo + 1, the operator reveals node lo's output commitment: its shape word and data root,
    ///         with the siblings of the node's slot, which must hold zero in S_lo and the commitment in S_hi
    ///         (nothing else may differ). If the data fits one chunk, `leafChunk` is that chunk.
    function reveal(bytes32 id, uint256 outShape, bytes32 outRoot, bytes32[] calldata slotProof, bytes32 leafChunk)
        external
    {
        Game storage g = _move(id, Phase.Bisect, true);
        if (g.pending || g.hi != g.lo + 1) revert WrongPhase(g.phase);
        if (!judge.validShape(outShape) || judge.byteLength(outShape) > 1 << 40) revert BadShape();
        Program storage p = _programs[g.model];
        if (slotProof.length != ChunkTree.depthFor(p.slotCount)) revert BadProof();
        uint256 slot = uint256(p.slotCount) - p.nodeCount + g.lo;
        if (ChunkTree.computeRoot(bytes32(0), slot, slotProof) != g.rootLo) revert BadProof();
        bytes32 t = ChunkTree.hashPair(bytes32(outShape), outRoot);
        if (ChunkTree.computeRoot(t, slot, slotProof) != g.rootHi) revert BadProof();
        uint256 depth = ChunkTree.dataDepth(judge.byteLength(outShape));
        g.outShape = outShape;
        g.tileIndex = 0;
        g.level = uint8(depth);
        if (depth == 0) {
            if (keccak256(abi.encodePacked(leafChunk)) != outRoot) revert BadProof();
            g.tile = leafChunk;
            g.phase = Phase.Step;
        } else {
            g.tile = outRoot;
            g.phase = Phase.Tile;
        }
        emit Revealed(id, g.lo, outShape, outRoot, uint8(depth));
    }

    /// @notice The operator reveals the two children of the disputed subtree: their hashes, or at level 1 the
    ///         two 32-byte chunks.
    function revealTiles(bytes32 id, bytes32 left, bytes32 right) external {
        Game storage g = _move(id, Phase.Tile, true);
        if (g.pending) revert WrongPhase(g.phase);
        bytes32 l = left;
        bytes32 r = right;
        if (g.level == 1) {
            l = keccak256(abi.encodePacked(left));
            r = keccak256(abi.encodePacked(right));
        }
        if (ChunkTree.hashPair(l, r) != g.tile) revert BadProof();
        g.left = left;
        g.right = right;
        g.pending = true;
        emit TilesRevealed(id, g.level, g.tileIndex, left, right);
    }

    /// @notice The challenger picks the child it disputes.
    function pick(bytes32 id, bool right) external {
        Game storage g = _move(id, Phase.Tile, false);
        if (!g.pending) revert WrongPhase(g.phase);
        g.tile = right ? g.right : g.left;
        g.tileIndex = 2 * g.tileIndex + (right ? 1 : 0);
        g.level -= 1;
        g.pending = false;
        if (g.level == 0) g.phase = Phase.Step;
        emit Picked(id, right, g.level, g.tileIndex);
    }

    /// @notice The one-step (anyone may send it; it can only end the game for the challenger): the disputed
    ///         node (proved in the program), its operands (proved in the agreed state S_lo, with the chunks
    ///         the element reads), and the element of the disputed chunk to recompute. The challenger wins if
    ///         the operator's output shape is not the operator's rule applied to the operands, or if the
    ///         element differs from the operator's; otherwise it reverts (`NotDecisive`). The shape can be
    ///         shown wrong as soon as the node is revealed.
    function step(
        bytes32 id,
        bytes calldata node,
        bytes32[] calldata nodeProof,
        Operand[] calldata operands,
        uint8 elem
    ) external {
        Game storage g = _games[id];
        if (g.phase != Phase.Tile && g.phase != Phase.Step) revert WrongPhase(g.phase);
        if (block.timestamp - g.turnStart > _clockOf(g)) revert ClockExpired();
        Program storage p = _programs[g.model];
        if (nodeProof.length != ChunkTree.depthFor(p.nodeCount)) revert BadProof();
        if (ChunkTree.computeRoot(keccak256(node), g.lo, nodeProof) != p.nodesRoot) revert BadProof();
        uint256[] memory shapes = _operandShapes(g, p, node, operands);
        (bool ok, uint256 expect) = judge.outputShape(node, shapes);
        if (!ok) return _resolve(id, g, false, Reason.BadOperands);
        if (expect != g.outShape) return _resolve(id, g, false, Reason.WrongShape);
        if (g.phase != Phase.Step) revert WrongPhase(g.phase);
        if (!_elementDiffers(g, node, operands, elem, expect)) revert NotDecisive();
        _resolve(id, g, false, Reason.WrongElement);
    }

    /// @dev Whether element `elem` of the disputed chunk differs from the judge's value of it.
    function _elementDiffers(
        Game storage g,
        bytes calldata node,
        Operand[] calldata operands,
        uint8 elem,
        uint256 shape
    ) private view returns (bool) {
        uint256 size = judge.elemSize(judge.dtypeOf(shape));
        if (uint256(elem) * size >= 32) revert BadShape();
        uint256 claimed = _le(g.tile, uint256(elem) * size, size);
        uint256 e = g.tileIndex * (32 / size) + elem;
        uint256 want = e < judge.numelOf(shape) ? judge.evaluate(node, operands, e) : 0;
        return claimed != want;
    }

    /// @notice Ends a game whose side to move let its clock run out: the other side wins.
    function timeout(bytes32 id) external {
        Game storage g = _games[id];
        Phase ph = g.phase;
        if (ph == Phase.None || ph == Phase.OperatorWon || ph == Phase.ChallengerWon) revert WrongPhase(ph);
        uint256 endsAt = uint256(g.turnStart) + _clockOf(g);
        if (block.timestamp <= endsAt) revert ClockRunning(endsAt);
        bool operatorLate = _operatorToMove(g);
        _resolve(id, g, !operatorLate, operatorLate ? Reason.OperatorTimeout : Reason.ChallengerTimeout);
    }

    /// @notice Pays out the caller's credits (won bonds, refunds).
    function withdrawCredits() external nonReentrant returns (uint256 amount) {
        amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        credits[msg.sender] = 0;
        totalCredits -= amount;
        emit CreditsWithdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @notice Whether it is the operator's move in the game's current phase.
    function operatorToMove(bytes32 id) external view returns (bool) {
        return _operatorToMove(_games[id]);
    }

    // ------------------------------------------------------------------ internals

    /// @dev The one place a receipt's operator signature is checked (through the UsageOracle's views).
    function _checkReceipt(Receipt calldata r, bytes calldata signature)
        private
        view
        returns (bytes32 rh, address signer)
    {
        rh = oracle.receiptHash(r);
        ECDSA.RecoverError err;
        (signer, err,) = ECDSA.tryRecover(oracle.receiptDigest(r), signature);
        if (err != ECDSA.RecoverError.NoError || !oracle.isReceiptSigner(signer)) revert InvalidReceiptSignature();
    }

    function _operatorToMove(Game storage g) private view returns (bool) {
        Phase ph = g.phase;
        if (ph == Phase.Defend) return true;
        if (ph == Phase.Bisect || ph == Phase.Tile) return !g.pending;
        return false;
    }

    function _clockOf(Game storage g) private view returns (uint256) {
        return _operatorToMove(g) ? g.operatorClock : g.challengerClock;
    }

    /// @dev Checks phase, turn and clock; charges the mover's clock; restarts the turn.
    function _move(bytes32 id, Phase phase, bool byOperator) private returns (Game storage g) {
        g = _games[id];
        if (g.phase == Phase.None) revert NoGame(id);
        if (g.phase != phase) revert WrongPhase(g.phase);
        if (_operatorToMove(g) != byOperator) revert NotYourTurn();
        if (msg.sender != (byOperator ? g.operator : g.challenger)) revert NotYourTurn();
        uint256 used = block.timestamp - g.turnStart;
        if (byOperator) {
            if (used > g.operatorClock) revert ClockExpired();
            g.operatorClock -= uint64(used);
        } else {
            if (used > g.challengerClock) revert ClockExpired();
            g.challengerClock -= uint64(used);
        }
        g.turnStart = uint64(block.timestamp);
    }

    function _resolve(bytes32 id, Game storage g, bool operatorWins, Reason reason) private {
        uint256 need = operatorBond + g.price;
        Stake storage s = _stakes[g.operator];
        s.locked -= need;
        openBonds -= challengerBond;
        if (operatorWins) {
            g.phase = Phase.OperatorWon;
            s.free += need;
            _credit(g.operator, challengerBond);
        } else {
            g.phase = Phase.ChallengerWon;
            _credit(g.challenger, challengerBond + operatorBond);
            totalStake -= operatorBond;
            bytes32 rh = g.receiptHash;
            if (!refunded[rh]) {
                refunded[rh] = true;
                _credit(g.client, g.price);
                totalStake -= g.price;
                emit Refunded(rh, g.client, g.price);
            } else {
                s.free += g.price;
            }
        }
        emit Resolved(id, g.phase, reason);
    }

    function _credit(address account, uint256 amount) private {
        if (amount == 0) return;
        credits[account] += amount;
        totalCredits += amount;
    }

    function _operandShapes(Game storage g, Program storage p, bytes calldata node, Operand[] calldata operands)
        private
        view
        returns (uint256[] memory shapes)
    {
        (, uint256[] memory slots, uint256 outSlot) = judge.parseNode(node);
        if (outSlot != uint256(p.slotCount) - p.nodeCount + g.lo) revert BadProof();
        if (operands.length != slots.length) revert BadProof();
        uint256 depth = ChunkTree.depthFor(p.slotCount);
        shapes = new uint256[](slots.length);
        for (uint256 i; i < slots.length; ++i) {
            if (slots[i] == 0xFFFFFFFF) continue;
            Operand calldata o = operands[i];
            if (o.slotProof.length != depth) revert BadProof();
            bytes32 t = ChunkTree.hashPair(bytes32(o.shape), o.dataRoot);
            if (ChunkTree.computeRoot(t, slots[i], o.slotProof) != g.rootLo) revert BadProof();
            shapes[i] = o.shape;
        }
    }

    /// @dev S_0: the program's initial state with each input's tensor commitment in its slot.
    function _initialState(Program storage p, bytes32 inputHash, CallInputs calldata input)
        private
        view
        returns (bytes32 root)
    {
        if (keccak256(abi.encode(input.inputs)) != p.inputsHash) revert IoMismatch();
        bytes calldata enc = input.encoding;
        if (enc.length > MAX_IO_BYTES) revert IoTooLarge(enc.length);
        if (sha256(enc) != inputHash) revert HashMismatch();
        (uint256 count, uint256 off) = _u32At(enc, 0);
        if (count != input.inputs.length || count != p.inputCount || input.proofs.length != count) {
            revert BadEncoding();
        }
        uint256 depth = ChunkTree.depthFor(p.slotCount);
        root = p.initRoot;
        for (uint256 i; i < count; ++i) {
            bytes32 t;
            bytes32 nameHash;
            uint256 dtype;
            (nameHash, dtype, t, off) = _tensor(enc, off);
            IoTensor calldata io = input.inputs[i];
            if (keccak256(bytes(io.name)) != nameHash || io.dtype != dtype || io.slot != i) revert IoMismatch();
            bytes32[] calldata proof = input.proofs[i];
            if (proof.length != depth) revert BadProof();
            if (ChunkTree.computeRoot(bytes32(0), i, proof) != root) revert BadProof();
            root = ChunkTree.computeRoot(t, i, proof);
        }
        if (off != enc.length) revert BadEncoding();
    }

    function _u32At(bytes calldata b, uint256 off) private pure returns (uint256 v, uint256 next) {
        if (off + 4 > b.length) revert BadEncoding();
        v = uint32(bytes4(b[off:off + 4]));
        next = off + 4;
    }

    function _u64At(bytes calldata b, uint256 off) private pure returns (uint256 v, uint256 next) {
        if (off + 8 > b.length) revert BadEncoding();
        v = uint64(bytes8(b[off:off + 8]));
        next = off + 8;
    }

    /// @dev One tensor of the canonical encoding (docs/PROTOCOL.md §2): its name's hash, its type (ONNX code),
    ///      its tensor commitment, and the offset after it.
    function _tensor(bytes calldata b, uint256 off)
        private
        pure
        returns (bytes32 nameHash, uint256 dtype, bytes32 t, uint256 next)
    {
        uint256 len;
        (len, off) = _u32At(b, off);
        if (off + len > b.length) revert BadEncoding();
        nameHash = keccak256(b[off:off + len]);
        off += len;
        (len, off) = _u32At(b, off);
        if (off + len > b.length) revert BadEncoding();
        dtype = _dtypeCode(b[off:off + len]);
        off += len;
        uint256 rank;
        (rank, off) = _u32At(b, off);
        if (rank > 6) revert BadEncoding();
        uint256 word = dtype << 248 | rank << 240;
        uint256 numel = 1;
        for (uint256 i; i < rank; ++i) {
            uint256 d;
            (d, off) = _u64At(b, off);
            if (d > 0xFFFFFFFF) revert BadEncoding();
            numel *= d;
            word |= d << (208 - 32 * i);
        }
        (len, off) = _u64At(b, off);
        if (len != numel * _size(dtype) || off + len > b.length) revert BadEncoding();
        bytes memory data = b[off:off + len];
        uint256 ptr;
        assembly ("memory-safe") {
            ptr := add(data, 0x20)
        }
        t = ChunkTree.hashPair(bytes32(word), ChunkTree.rootOfMemory(ptr, len));
        next = off + len;
    }

    function _dtypeCode(bytes calldata s) private pure returns (uint256) {
        bytes32 h = keccak256(s);
        if (h == keccak256("FP32")) return 1;
        if (h == keccak256("UINT8")) return 2;
        if (h == keccak256("INT8")) return 3;
        if (h == keccak256("INT32")) return 6;
        if (h == keccak256("INT64")) return 7;
        revert BadEncoding();
    }

    function _size(uint256 dtype) private pure returns (uint256) {
        return dtype == 2 || dtype == 3 ? 1 : dtype == 7 ? 8 : 4;
    }

    /// @dev `size` bytes at `off` of a 32-byte chunk, read little-endian.
    function _le(bytes32 chunk, uint256 off, uint256 size) private pure returns (uint256 v) {
        for (uint256 k; k < size; ++k) {
            v |= uint256(uint8(chunk[off + k])) << (8 * k);
        }
    }
}
