// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ClientTotal} from "./Types.sol";

/// @title PaymentVault: clients' prepaid ETH, spending caps, escrow of attested spend, delayed withdrawals.
/// @notice Money leaves a client's balance only (1) to the client itself via `requestWithdrawal` + delay +
///         `withdraw`, or (2) into escrow when the UsageOracle accepts an attestation, and only within the
///         client's signed cumulative spending cap and its balance (what exceeds either is the client's
///         shortfall: recorded, never taken). Escrow is paid out (model tokens and fees) when the
///         attestation finalizes, or returned to the clients when it is voided.
contract PaymentVault is AccessControl, Pausable, ReentrancyGuardTransient, EIP712 {
    using SafeCast for uint256;

    /// @notice May pause deposits.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// @notice EIP-712 type of the client's cumulative spending authorisation.
    bytes32 public constant SPENDING_CAP_TYPEHASH =
        keccak256("SpendingCap(address client,uint256 cap,uint256 deadline)");
    /// @notice EIP-712 type of the client's choice of acknowledged billing from epoch `fromEpoch` on.
    bytes32 public constant ACK_MODE_TYPEHASH = keccak256("AckMode(address client,uint64 fromEpoch,uint256 deadline)");
    /// @notice EIP-712 type of a client's acknowledgement: it received and checked `calls` receipts of `epoch`
    ///         costing `amount` wei in all (cumulative within the epoch; the latest one counts).
    bytes32 public constant ACKNOWLEDGEMENT_TYPEHASH =
        keccak256("Acknowledgement(address client,uint64 epoch,uint256 amount,uint64 calls)");
    /// @dev The UsageOracle's operator role (who may register a client's acknowledged billing).
    bytes32 private constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    /// @notice Per-client book: balance available to spend or withdraw, and cumulative spend ever escrowed.
    struct Account {
        uint128 balance;
        uint128 spent;
    }

    /// @notice A pending withdrawal request.
    struct Withdrawal {
        uint128 amount;
        uint64 readyAt;
    }

    /// @notice Delay between `requestWithdrawal` and `withdraw` (covers an epoch + challenge window).
    uint256 public immutable withdrawalDelay;
    /// @notice The UsageOracle, the only address that can escrow, release and pay out spend (set once).
    address public oracle;
    /// @notice Receives the operator's fees.
    address public treasury;

    /// @notice Sum of all client balances.
    uint256 public totalBalances;
    /// @notice Spend escrowed by attestations not finalized or unwound yet.
    uint256 public escrowed;
    /// @notice Fees owed to the treasury.
    uint256 public feesOwed;

    mapping(address client => Account) private _accounts;
    mapping(address client => uint256) private _caps;
    mapping(address client => Withdrawal) private _withdrawals;
    /// @dev Attested spend that could not be escrowed, per attestation key and client.
    mapping(bytes32 key => mapping(address client => uint256)) private _shortfalls;
    /// @notice 1 + the first epoch from which `client` is billed by acknowledgement (0: cap mode).
    mapping(address client => uint64) public ackModeFrom;

    event OracleSet(address indexed oracle);
    event TreasurySet(address indexed treasury);
    /// @notice `client`'s balance was credited with `amount` by `from`.
    event Deposited(address indexed client, address indexed from, uint256 amount);
    /// @notice `client`'s cumulative spending cap is now `cap`.
    event SpendingCapSet(address indexed client, uint256 cap);
    /// @notice `client` asked to withdraw `amount` at `readyAt` or later: the service should stop serving
    ///         it beyond its remaining balance and attest its pending usage before then.
    event WithdrawalRequested(address indexed client, uint256 amount, uint256 readyAt);
    event WithdrawalCancelled(address indexed client);
    event Withdrawn(address indexed client, uint256 amount);
    /// @notice Attested spend moved from `client`'s balance into escrow.
    event SpendEscrowed(address indexed client, uint256 amount);
    /// @notice Of `attested` spend of `client` under attestation `key`, only `escrowed` could be escrowed
    ///         (cap or balance too low); the difference is the client's shortfall, unpaid.
    event SpendShortfall(bytes32 indexed key, address indexed client, uint256 attested, uint256 escrowed);
    /// @notice Escrowed spend returned to `client` (its attestation was voided).
    event SpendReleased(address indexed client, uint256 amount);
    /// @notice Escrowed spend paid to `to` (the oracle, which forwards it to the model tokens).
    event Paid(address indexed to, uint256 amount);
    event FeesAccrued(uint256 amount);
    /// @notice `client` is billed by acknowledgement from `fromEpoch` on (its signed `AckMode`).
    event AckModeSet(address indexed client, uint64 fromEpoch);
    event FeesClaimed(address indexed treasury, uint256 amount);

    error ZeroAddress();
    error ZeroAmount();
    error OracleAlreadySet();
    error NotOracle();
    error SignatureExpired(uint256 deadline);
    error InvalidSignature();
    error CapNotHigher(uint256 current, uint256 offered);
    error NoWithdrawalRequested();
    error WithdrawalNotReady(uint256 readyAt);
    error NothingToWithdraw();
    error EscrowUnderflow();
    error NotOperator();
    error AckModeAlreadySet(uint64 fromEpoch);

    modifier onlyOracle() {
        if (msg.sender != oracle) revert NotOracle();
        _;
    }

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (sets the oracle once, the treasury).
    /// @param guardian Holder of GUARDIAN_ROLE.
    /// @param treasury_ Receives the operator's fees.
    /// @param withdrawalDelay_ Seconds between a withdrawal request and the withdrawal.
    constructor(address admin, address guardian, address treasury_, uint256 withdrawalDelay_)
        EIP712("IMO Oracle Vault", "1")
    {
        if (admin == address(0) || guardian == address(0) || treasury_ == address(0)) revert ZeroAddress();
        withdrawalDelay = withdrawalDelay_;
        treasury = treasury_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GUARDIAN_ROLE, guardian);
        emit TreasurySet(treasury_);
    }

    // ------------------------------------------------------------------ admin

    /// @notice Set the UsageOracle (once).
    function setOracle(address oracle_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (oracle_ == address(0)) revert ZeroAddress();
        if (oracle != address(0)) revert OracleAlreadySet();
        oracle = oracle_;
        emit OracleSet(oracle_);
    }

    /// @notice Change the fee recipient.
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// @notice Pause deposits (withdrawals are never paused).
    function pause() external onlyRole(GUARDIAN_ROLE) {
        _pause();
    }

    /// @notice Resume deposits.
    function unpause() external onlyRole(GUARDIAN_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ clients

    /// @notice Deposit ETH for the caller.
    function deposit() external payable {
        _deposit(msg.sender);
    }

    /// @notice Deposit ETH for `client`.
    function depositFor(address client) external payable {
        if (client == address(0)) revert ZeroAddress();
        _deposit(client);
    }

    /// @notice Raise `client`'s cumulative spending cap with the client's EIP-712 `SpendingCap` signature
    ///         (ECDSA for EOAs, ERC-1271 for contract wallets). Anyone may submit it. Caps only go up.
    /// @param client The client that signed.
    /// @param cap New cumulative cap: the total the operator may ever escrow from this client.
    /// @param deadline Last timestamp at which this signature may be submitted.
    /// @param signature The client's signature over the EIP-712 digest.
    function submitCap(address client, uint256 cap, uint256 deadline, bytes calldata signature) external {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(SPENDING_CAP_TYPEHASH, client, cap, deadline)));
        if (!SignatureChecker.isValidSignatureNow(client, digest, signature)) revert InvalidSignature();
        uint256 current = _caps[client];
        if (cap <= current) revert CapNotHigher(current, cap);
        _caps[client] = cap;
        emit SpendingCapSet(client, cap);
    }

    /// @notice Ask to withdraw `amount` after `withdrawalDelay`; replaces any earlier request.
    /// @notice Register `client`'s choice of acknowledged billing from `fromEpoch` on, with the client's EIP-712
    ///         `AckMode` signature (ECDSA or ERC-1271). Only an operator of the oracle submits it: the service
    ///         must know the mode before it serves an epoch in it (a client registering alone could otherwise
    ///         claim acknowledgements for an epoch it was served in cap mode). Once set it stays (one-way).
    ///         From `fromEpoch` on, the client's attested spend must be covered by its latest
    ///         `Acknowledgement` (the client may challenge it, `UsageOracle.challengeAcknowledgement`), and the
    ///         operator's receipts of the client are no longer omission evidence (the acknowledgements are).
    function submitAckMode(address client, uint64 fromEpoch, uint256 deadline, bytes calldata signature) external {
        if (!IAccessControl(oracle).hasRole(OPERATOR_ROLE, msg.sender)) revert NotOperator();
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        uint64 current = ackModeFrom[client];
        if (current != 0) revert AckModeAlreadySet(current - 1);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(ACK_MODE_TYPEHASH, client, fromEpoch, deadline)));
        if (!SignatureChecker.isValidSignatureNow(client, digest, signature)) revert InvalidSignature();
        ackModeFrom[client] = fromEpoch + 1;
        emit AckModeSet(client, fromEpoch);
    }

    function requestWithdrawal(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 readyAt = block.timestamp + withdrawalDelay;
        _withdrawals[msg.sender] = Withdrawal({amount: amount.toUint128(), readyAt: readyAt.toUint64()});
        emit WithdrawalRequested(msg.sender, amount, readyAt);
    }

    /// @notice Cancel the caller's pending withdrawal request.
    function cancelWithdrawal() external {
        if (_withdrawals[msg.sender].readyAt == 0) revert NoWithdrawalRequested();
        delete _withdrawals[msg.sender];
        emit WithdrawalCancelled(msg.sender);
    }

    /// @notice Withdraw the requested amount (or the whole balance, if smaller) once the delay has passed.
    /// @return amount Wei sent to the caller.
    function withdraw() external nonReentrant returns (uint256 amount) {
        Withdrawal memory w = _withdrawals[msg.sender];
        if (w.readyAt == 0) revert NoWithdrawalRequested();
        if (block.timestamp < w.readyAt) revert WithdrawalNotReady(w.readyAt);
        Account storage acct = _accounts[msg.sender];
        amount = w.amount < acct.balance ? w.amount : acct.balance;
        if (amount == 0) revert NothingToWithdraw();
        delete _withdrawals[msg.sender];
        acct.balance -= uint128(amount);
        totalBalances -= amount;
        emit Withdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    // ------------------------------------------------------------------ oracle

    /// @notice Escrow attested spend: for each client, as much of `total` as its signed cap and its balance
    ///         allow moves from its balance into escrow. The rest (the client withdrew before a late
    ///         attestation, or the attested spend exceeds its cap) is that client's shortfall, recorded under
    ///         `key` so that `releaseSpend` returns exactly what was escrowed. One client's shortfall never
    ///         blocks the other clients' spend.
    /// @param key The attestation (the oracle uses epoch << 32 | round).
    /// @return sum Total escrowed.
    /// @return shortfall Total attested spend that could not be escrowed.
    function escrowSpend(bytes32 key, ClientTotal[] calldata clients)
        external
        onlyOracle
        returns (uint256 sum, uint256 shortfall)
    {
        for (uint256 i; i < clients.length; ++i) {
            uint256 total = clients[i].total;
            uint256 amount = _escrowOne(key, clients[i].client, total);
            sum += amount;
            shortfall += total - amount;
        }
        totalBalances -= sum;
        escrowed += sum;
    }

    /// @dev Escrows min(total, cap headroom, balance) of `client`; records the rest as its shortfall.
    function _escrowOne(bytes32 key, address client, uint256 total) private returns (uint256 amount) {
        Account storage acct = _accounts[client];
        uint256 spent = acct.spent;
        uint256 balance = acct.balance;
        uint256 cap = _caps[client];
        amount = cap > spent ? cap - spent : 0;
        if (balance < amount) amount = balance;
        if (total < amount) amount = total;
        if (amount != total) {
            _shortfalls[key][client] = total - amount;
            emit SpendShortfall(key, client, total, amount);
        }
        if (amount != 0) {
            acct.balance = uint128(balance - amount);
            acct.spent = uint128(spent + amount);
            emit SpendEscrowed(client, amount);
        }
    }

    /// @notice Return escrowed spend to the clients of a voided attestation (exact reverse of `escrowSpend`
    ///         under the same `key`).
    /// @return sum Total released.
    function releaseSpend(bytes32 key, ClientTotal[] calldata clients) external onlyOracle returns (uint256 sum) {
        for (uint256 i; i < clients.length; ++i) {
            address client = clients[i].client;
            uint256 amount = clients[i].total;
            uint256 unpaid = _shortfalls[key][client];
            if (unpaid != 0) {
                delete _shortfalls[key][client];
                amount -= unpaid;
            }
            if (amount == 0) continue;
            Account storage acct = _accounts[client];
            acct.balance += uint128(amount);
            acct.spent -= uint128(amount);
            sum += amount;
            emit SpendReleased(client, amount);
        }
        if (sum > escrowed) revert EscrowUnderflow();
        escrowed -= sum;
        totalBalances += sum;
    }

    /// @notice Pay escrowed spend out: `payout` in ETH to the oracle (which forwards it to the model tokens)
    ///         and `fee` to the treasury's account (pulled with `claimFees`).
    function settle(uint256 payout, uint256 fee) external onlyOracle nonReentrant {
        uint256 sum = payout + fee;
        if (sum > escrowed) revert EscrowUnderflow();
        escrowed -= sum;
        if (fee != 0) {
            feesOwed += fee;
            emit FeesAccrued(fee);
        }
        if (payout != 0) {
            emit Paid(msg.sender, payout);
            Address.sendValue(payable(msg.sender), payout);
        }
    }

    /// @notice Send the accrued fees to the treasury. Anyone may call.
    function claimFees() external nonReentrant returns (uint256 amount) {
        amount = feesOwed;
        if (amount == 0) revert ZeroAmount();
        feesOwed = 0;
        address to = treasury;
        emit FeesClaimed(to, amount);
        Address.sendValue(payable(to), amount);
    }

    // ------------------------------------------------------------------ views

    /// @notice Balance `client` can spend or withdraw.
    function balanceOf(address client) external view returns (uint256) {
        return _accounts[client].balance;
    }

    /// @notice Cumulative spend escrowed from `client` (including finalized spend).
    function spentOf(address client) external view returns (uint256) {
        return _accounts[client].spent;
    }

    /// @notice Highest cumulative spending cap `client` has signed.
    function capOf(address client) external view returns (uint256) {
        return _caps[client];
    }

    /// @notice How much more the operator may escrow from `client` (cap headroom, bounded by balance).
    function spendableOf(address client) external view returns (uint256) {
        Account memory acct = _accounts[client];
        uint256 cap = _caps[client];
        uint256 headroom = cap > acct.spent ? cap - acct.spent : 0;
        return headroom < acct.balance ? headroom : acct.balance;
    }

    /// @notice `client`'s pending withdrawal request (amount 0 / readyAt 0 when none).
    function withdrawalOf(address client) external view returns (Withdrawal memory) {
        return _withdrawals[client];
    }

    /// @notice Attested spend of `client` that attestation `key` could not escrow (0 when fully escrowed or
    ///         once released).
    function shortfallOf(bytes32 key, address client) external view returns (uint256) {
        return _shortfalls[key][client];
    }

    /// @notice EIP-712 digest a client signs for `SpendingCap(client, cap, deadline)`.
    function spendingCapDigest(address client, uint256 cap, uint256 deadline) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SPENDING_CAP_TYPEHASH, client, cap, deadline)));
    }

    /// @notice EIP-712 digest a client signs for `AckMode(client, fromEpoch, deadline)`.
    function ackModeDigest(address client, uint64 fromEpoch, uint256 deadline) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(ACK_MODE_TYPEHASH, client, fromEpoch, deadline)));
    }

    /// @notice Whether `client` is billed by acknowledgement in `epoch`.
    function ackModeAt(address client, uint64 epoch) external view returns (bool) {
        uint64 from = ackModeFrom[client];
        return from != 0 && uint256(epoch) + 1 >= from;
    }

    /// @notice EIP-712 digest a client signs for `Acknowledgement(client, epoch, amount, calls)`.
    function acknowledgementDigest(address client, uint64 epoch, uint256 amount, uint64 calls)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(ACKNOWLEDGEMENT_TYPEHASH, client, epoch, amount, calls)));
    }

    /// @notice Whether `signature` is `client`'s acknowledgement of `amount` wei over `calls` calls in `epoch`.
    function isAcknowledged(address client, uint64 epoch, uint256 amount, uint64 calls, bytes calldata signature)
        external
        view
        returns (bool)
    {
        return SignatureChecker.isValidSignatureNow(
            client, acknowledgementDigest(client, epoch, amount, calls), signature
        );
    }

    /// @notice EIP-712 domain separator of this vault.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _deposit(address client) private whenNotPaused {
        if (msg.value == 0) revert ZeroAmount();
        Account storage acct = _accounts[client];
        acct.balance = (uint256(acct.balance) + msg.value).toUint128();
        totalBalances += msg.value;
        emit Deposited(client, msg.sender, msg.value);
    }
}
