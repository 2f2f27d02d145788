// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {UsageOracle} from "./UsageOracle.sol";
import {PaymentVault} from "./PaymentVault.sol";
import {ClientTotal} from "./Types.sol";

/// @title AckReferee: a client billed by acknowledgement disputes an attested total it never acknowledged.
/// @notice Optimistic enforcement of client acknowledgements (docs/CONTRACTS.md, *Acknowledgements*). A client
///         that chose acknowledged billing (vault `AckMode`, registered by the operator, `ackModeAt`) signs, as
///         it goes, `Acknowledgement(client, epoch, amount, calls)` on the vault's EIP-712 domain for what it
///         received and checked. The operator attests nothing beyond: during an attestation's challenge window
///         the client may `challenge` its attested total with `bond`; the operator (or anyone) must `respond`
///         within `responseWindow` with the client's acknowledgement of this epoch for at least that total.
///         Unanswered, `resolve` voids the attestation in the UsageOracle (which slashes the operator's attest
///         bond: half to the client, half burned) and returns the client's bond; answered, the client's bond
///         goes half to the attester, half is burned (kept here forever). While a challenge is open the epoch
///         cannot finalize (the oracle counts it as an open challenge). Nothing is checked at attest: the
///         common case (the client acknowledged) costs no gas (see the gas comparison in the docs).
contract AckReferee is ReentrancyGuardTransient {
    /// @notice Lifecycle of a challenge.
    enum Status {
        None,
        Open,
        Rejected, // the acknowledgement was shown: bond split attester / burn
        Upheld, // unanswered: the attestation was voided, bond returned
        Moot // the attestation was voided or replaced otherwise: bond returned
    }

    /// @notice An acknowledgement challenge.
    struct Challenge {
        address client;
        uint64 epoch;
        uint32 round;
        uint64 deadline;
        Status status;
        uint256 total; // the client's attested total: the acknowledgement must cover it
    }

    /// @notice The oracle whose attestations are challenged (this contract holds its REFEREE_ROLE).
    UsageOracle public immutable oracle;
    /// @notice The vault: client modes and acknowledgement signatures.
    PaymentVault public immutable vault;
    /// @notice Bond (wei) posted with every challenge.
    uint256 public immutable bond;
    /// @notice Seconds the operator has to show the acknowledgement.
    uint64 public immutable responseWindow;

    /// @notice Wei burned (answered challenges' other half), locked here forever.
    uint256 public burned;
    /// @notice Wei withdrawable by each address (returned bonds, the attester's halves).
    mapping(address account => uint256) public credits;
    /// @notice Number of challenges ever opened.
    uint256 public challengeCount;
    mapping(uint256 id => Challenge) private _challenges;

    event AcknowledgementChallenged(
        uint256 indexed challengeId,
        uint64 indexed epoch,
        uint32 round,
        address indexed client,
        uint256 total,
        uint64 deadline
    );
    event AcknowledgementShown(uint256 indexed challengeId, uint256 amount, uint64 calls);
    event AcknowledgementChallengeUpheld(uint256 indexed challengeId);
    event AcknowledgementChallengeMoot(uint256 indexed challengeId);
    event CreditsWithdrawn(address indexed account, uint256 amount);

    error ZeroAddress();
    error WrongBond(uint256 expected, uint256 sent);
    error ListMismatch();
    error NotAckClient(address client, uint64 epoch);
    error UnknownChallenge(uint256 challengeId);
    error ChallengeNotOpen(uint256 challengeId);
    error ResponseTooLate(uint256 deadline);
    error ResponseWindowOpen(uint256 deadline);
    error NotLive(uint64 epoch);
    error InvalidAcknowledgement();
    error NoCredits();

    constructor(UsageOracle oracle_, uint256 bond_, uint64 responseWindow_) {
        if (address(oracle_) == address(0)) revert ZeroAddress();
        oracle = oracle_;
        vault = oracle_.vault();
        bond = bond_;
        responseWindow = responseWindow_;
    }

    /// @notice Challenge the caller's attested total in `epoch` (`clients[entry]`, the list of the `Attested`
    ///         event), posting `bond`. The caller must be that client and billed by acknowledgement in `epoch`.
    /// @return id The new challenge's id.
    function challenge(uint64 epoch, ClientTotal[] calldata clients, uint256 entry)
        external
        payable
        returns (uint256 id)
    {
        if (msg.value != bond) revert WrongBond(bond, msg.value);
        if (keccak256(abi.encode(clients)) != oracle.getAttestation(epoch).clientsHash) revert ListMismatch();
        ClientTotal calldata c = clients[entry];
        if (c.client != msg.sender || !vault.ackModeAt(msg.sender, epoch)) revert NotAckClient(msg.sender, epoch);
        uint32 round = oracle.refereeOpen(epoch); // reverts unless posted and in its window
        id = challengeCount++;
        uint64 deadline = uint64(block.timestamp) + responseWindow;
        _challenges[id] = Challenge({
            client: msg.sender, epoch: epoch, round: round, deadline: deadline, status: Status.Open, total: c.total
        });
        emit AcknowledgementChallenged(id, epoch, round, msg.sender, c.total, deadline);
    }

    /// @notice Answer a challenge with the client's `Acknowledgement(client, epoch, amount, calls)` signature,
    ///         `amount` at least the attested total. Anyone may answer (the operator, from its stored acks).
    function respond(uint256 id, uint256 amount, uint64 calls, bytes calldata signature) external {
        Challenge storage c = _open(id);
        if (block.timestamp > c.deadline) revert ResponseTooLate(c.deadline);
        if (amount < c.total || !vault.isAcknowledged(c.client, c.epoch, amount, calls, signature)) {
            revert InvalidAcknowledgement();
        }
        address attester = oracle.getAttestation(c.epoch).attester;
        if (!oracle.refereeClose(c.epoch, c.round, address(0))) revert NotLive(c.epoch);
        c.status = Status.Rejected;
        uint256 toAttester = bond / 2;
        credits[attester] += toAttester;
        burned += bond - toAttester;
        emit AcknowledgementShown(id, amount, calls);
    }

    /// @notice Settle a challenge: moot (bond back) if its attestation is gone; otherwise, once the response
    ///         deadline has passed unanswered, void the attestation (the client gets half the attest bond from
    ///         the oracle) and return the bond.
    function resolve(uint256 id) external {
        Challenge storage c = _open(id);
        UsageOracle.Attestation memory a = oracle.getAttestation(c.epoch);
        bool live = a.status == UsageOracle.Status.Posted && a.round == c.round;
        if (live && block.timestamp <= c.deadline) revert ResponseWindowOpen(c.deadline);
        credits[c.client] += bond;
        if (!live) {
            c.status = Status.Moot;
            emit AcknowledgementChallengeMoot(id);
            return;
        }
        c.status = Status.Upheld;
        emit AcknowledgementChallengeUpheld(id);
        oracle.refereeClose(c.epoch, c.round, c.client);
    }

    /// @notice Withdraw the caller's credits.
    function withdrawCredits() external nonReentrant returns (uint256 amount) {
        amount = credits[msg.sender];
        if (amount == 0) revert NoCredits();
        credits[msg.sender] = 0;
        emit CreditsWithdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @notice A challenge.
    function getChallenge(uint256 id) external view returns (Challenge memory) {
        return _challenges[id];
    }

    function _open(uint256 id) private view returns (Challenge storage c) {
        if (id >= challengeCount) revert UnknownChallenge(id);
        c = _challenges[id];
        if (c.status != Status.Open) revert ChallengeNotOpen(id);
    }
}
