// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC7641} from "./interfaces/IERC7641.sol";

/// @title ModelToken: ERC-20 + ERC-7641 revenue-share token of one registered model.
/// @notice Revenue arrives as ETH. A fixed share (`claimableBps`, set at creation) becomes claimable by
///         the holders of the next snapshot, pro rata to their balance at that snapshot; the rest goes to a
///         redeem pool paid out on `burn`. Claims never expire and can be made once per (snapshot, account).
/// @dev Deployed once as an implementation and used through EIP-1167 clones, so all configuration lives
///      in storage set by `initialize`; the implementation's constructor locks it. Balance snapshots are
///      lazy: the first balance change of an account after snapshot `k` records its balance as of `k`
///      (OZ `Checkpoints`, keyed by snapshot id), as OZ 4's ERC20Snapshot did.
contract ModelToken is ERC20, ReentrancyGuardTransient, IERC7641 {
    using Checkpoints for Checkpoints.Trace208;

    /// @notice Basis-point denominator.
    uint256 public constant BPS = 10_000;
    /// @notice Minimum time between two snapshots taken by anyone other than the snapshotter.
    uint256 public constant MIN_SNAPSHOT_INTERVAL = 1 days;

    bool private _initialized;
    string private _tokenName;
    string private _tokenSymbol;

    /// @notice Address allowed to snapshot at any time (the UsageOracle, which snapshots at finalize).
    address public snapshotter;
    /// @notice Share of incoming revenue claimable by holders, in basis points; the rest is redeemable on burn.
    uint16 public claimableBps;
    /// @notice Id of the latest snapshot (snapshot ids start at 1; 0 means none yet).
    uint48 public currentSnapshotId;
    /// @notice Timestamp of the latest snapshot (or of initialisation).
    uint64 public lastSnapshotAt;

    /// @notice Holders' revenue received since the latest snapshot (not yet claimable).
    uint256 public pendingClaimable;
    /// @notice Holders' revenue of past snapshots that has not been claimed yet.
    uint256 public claimPool;
    /// @notice ETH redeemable by burning tokens.
    uint256 public redeemPool;

    /// @notice Holders' revenue assigned to each snapshot.
    mapping(uint256 snapshotId => uint256) public snapshotRevenue;
    /// @notice Whether `account` has claimed snapshot `snapshotId`.
    mapping(uint256 snapshotId => mapping(address account => bool)) public claimed;

    mapping(address account => Checkpoints.Trace208) private _balanceSnaps;
    Checkpoints.Trace208 private _supplySnaps;

    /// @notice Emitted once when a clone is initialised.
    event TokenInitialized(
        string name, string symbol, address indexed publisher, uint256 supply, uint16 claimableBps, address snapshotter
    );
    /// @notice Emitted for every ETH amount received (or found unaccounted at snapshot time: `from` = this).
    event RevenueReceived(address indexed from, uint256 amount, uint256 toHolders, uint256 toRedeemPool);
    /// @notice Emitted when a snapshot is taken: `revenue` is the holders' revenue it distributes.
    event SnapshotTaken(uint256 indexed snapshotId, uint256 revenue, uint256 totalSupply);
    /// @notice Emitted when `account` claims its share of snapshot `snapshotId`.
    event RevenueClaimed(address indexed account, uint256 indexed snapshotId, uint256 amount);
    /// @notice Emitted when `account` burns `amount` tokens and receives `redeemed` wei from the redeem pool.
    event Redeemed(address indexed account, uint256 amount, uint256 redeemed);

    error AlreadyInitialized();
    error InvalidPublisher();
    error InvalidSupply();
    error InvalidBps();
    error InvalidSnapshotter();
    error SnapshotTooSoon(uint256 nextAllowedAt);
    error NothingToSnapshot();
    error InvalidSnapshot(uint256 snapshotId);
    error AlreadyClaimed(uint256 snapshotId);
    error NothingToClaim();
    error ZeroAmount();

    /// @dev Locks the implementation: only clones can be initialised.
    constructor() ERC20("", "") {
        _initialized = true;
    }

    /// @notice Initialise a clone: mint `supply` to `publisher`, set the holders' revenue share and the snapshotter.
    /// @param name_ ERC-20 name.
    /// @param symbol_ ERC-20 symbol.
    /// @param publisher Receives the whole supply.
    /// @param supply Total supply (fixed; it only decreases by burning). At most 2^208 - 1.
    /// @param claimableBps_ Holders' share of revenue in basis points (0..10000); the rest feeds the redeem pool.
    /// @param snapshotter_ Address allowed to snapshot at any time (the UsageOracle).
    function initialize(
        string calldata name_,
        string calldata symbol_,
        address publisher,
        uint256 supply,
        uint16 claimableBps_,
        address snapshotter_
    ) external {
        if (_initialized) revert AlreadyInitialized();
        if (publisher == address(0)) revert InvalidPublisher();
        if (supply == 0 || supply > type(uint208).max) revert InvalidSupply();
        if (claimableBps_ > BPS) revert InvalidBps();
        if (snapshotter_ == address(0)) revert InvalidSnapshotter();
        _initialized = true;
        _tokenName = name_;
        _tokenSymbol = symbol_;
        claimableBps = claimableBps_;
        snapshotter = snapshotter_;
        lastSnapshotAt = uint64(block.timestamp);
        _mint(publisher, supply);
        emit TokenInitialized(name_, symbol_, publisher, supply, claimableBps_, snapshotter_);
    }

    /// @inheritdoc ERC20
    function name() public view override returns (string memory) {
        return _tokenName;
    }

    /// @inheritdoc ERC20
    function symbol() public view override returns (string memory) {
        return _tokenSymbol;
    }

    /// @notice Revenue in ETH: split between the holders' pending share and the redeem pool.
    receive() external payable {
        _split(msg.sender, msg.value);
    }

    // ------------------------------------------------------------------ snapshots

    /// @notice Take a snapshot. The snapshotter (UsageOracle) may do so at any time; anyone else only when
    ///         at least `MIN_SNAPSHOT_INTERVAL` has passed since the latest snapshot and there is pending
    ///         holders' revenue (each snapshot makes the next transfer of every holder costlier: DoS guard).
    /// @return snapshotId The id of the new snapshot.
    function snapshot() external returns (uint256 snapshotId) {
        if (msg.sender != snapshotter) {
            uint256 next = uint256(lastSnapshotAt) + MIN_SNAPSHOT_INTERVAL;
            if (block.timestamp < next) revert SnapshotTooSoon(next);
            if (pendingClaimable == 0 && _unaccounted() == 0) revert NothingToSnapshot();
        }
        uint256 extra = _unaccounted();
        if (extra != 0) _split(address(this), extra);
        uint48 id = currentSnapshotId + 1;
        currentSnapshotId = id;
        lastSnapshotAt = uint64(block.timestamp);
        uint256 revenue = pendingClaimable;
        snapshotRevenue[id] = revenue;
        claimPool += revenue;
        pendingClaimable = 0;
        emit SnapshotTaken(id, revenue, totalSupply());
        return id;
    }

    /// @notice Balance of `account` at snapshot `snapshotId`.
    function balanceOfAt(address account, uint256 snapshotId) public view returns (uint256) {
        _checkSnapshot(snapshotId);
        return _valueAt(_balanceSnaps[account], uint48(snapshotId), balanceOf(account));
    }

    /// @notice Total supply at snapshot `snapshotId`.
    function totalSupplyAt(uint256 snapshotId) public view returns (uint256) {
        _checkSnapshot(snapshotId);
        return _valueAt(_supplySnaps, uint48(snapshotId), totalSupply());
    }

    // ------------------------------------------------------------------ ERC-7641

    /// @inheritdoc IERC7641
    /// @dev 0 for unknown snapshots and for snapshots already claimed by `account`.
    function claimableRevenue(address account, uint256 snapshotId) public view returns (uint256) {
        if (snapshotId == 0 || snapshotId > currentSnapshotId || claimed[snapshotId][account]) return 0;
        return _share(account, snapshotId);
    }

    /// @inheritdoc IERC7641
    function claim(uint256 snapshotId) external nonReentrant {
        uint256 amount = _markClaimed(msg.sender, snapshotId);
        if (amount == 0) revert NothingToClaim();
        claimPool -= amount;
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @notice Claim several snapshots in one transfer. Reverts if any of them is unknown or already claimed.
    /// @param snapshotIds Snapshot ids to claim.
    function claimBatch(uint256[] calldata snapshotIds) external nonReentrant {
        uint256 total;
        for (uint256 i; i < snapshotIds.length; ++i) {
            total += _markClaimed(msg.sender, snapshotIds[i]);
        }
        if (total == 0) revert NothingToClaim();
        claimPool -= total;
        Address.sendValue(payable(msg.sender), total);
    }

    /// @inheritdoc IERC7641
    function redeemableOnBurn(uint256 amount) public view returns (uint256) {
        uint256 supply = totalSupply();
        if (supply == 0) return 0;
        return redeemPool * amount / supply;
    }

    /// @inheritdoc IERC7641
    /// @dev Burning does not change past snapshots, so the burner keeps its unclaimed snapshot revenue.
    function burn(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 redeemed = redeemableOnBurn(amount);
        redeemPool -= redeemed;
        _burn(msg.sender, amount);
        emit Redeemed(msg.sender, amount, redeemed);
        if (redeemed != 0) Address.sendValue(payable(msg.sender), redeemed);
    }

    // ------------------------------------------------------------------ internals

    function _update(address from, address to, uint256 value) internal override {
        uint48 id = currentSnapshotId;
        if (id != 0) {
            if (from == address(0)) _record(_supplySnaps, id, totalSupply());
            else _record(_balanceSnaps[from], id, balanceOf(from));
            if (to == address(0)) _record(_supplySnaps, id, totalSupply());
            else _record(_balanceSnaps[to], id, balanceOf(to));
        }
        super._update(from, to, value);
    }

    /// @dev Records `value` (the balance before the first change after snapshot `id`) once per snapshot.
    function _record(Checkpoints.Trace208 storage trace, uint48 id, uint256 value) private {
        (bool exists, uint48 key,) = trace.latestCheckpoint();
        if (!exists || key < id) trace.push(id, uint208(value));
    }

    /// @dev The first checkpoint with key >= id holds the value at snapshot `id`; none means unchanged since.
    function _valueAt(Checkpoints.Trace208 storage trace, uint48 id, uint256 current) private view returns (uint256) {
        (bool exists, uint48 key,) = trace.latestCheckpoint();
        if (!exists || key < id) return current;
        return trace.lowerLookup(id);
    }

    function _checkSnapshot(uint256 snapshotId) private view {
        if (snapshotId == 0 || snapshotId > currentSnapshotId) revert InvalidSnapshot(snapshotId);
    }

    function _share(address account, uint256 snapshotId) private view returns (uint256) {
        uint256 supply = totalSupplyAt(snapshotId);
        if (supply == 0) return 0;
        return snapshotRevenue[snapshotId] * balanceOfAt(account, snapshotId) / supply;
    }

    function _markClaimed(address account, uint256 snapshotId) private returns (uint256 amount) {
        _checkSnapshot(snapshotId);
        if (claimed[snapshotId][account]) revert AlreadyClaimed(snapshotId);
        claimed[snapshotId][account] = true;
        amount = _share(account, snapshotId);
        emit RevenueClaimed(account, snapshotId, amount);
    }

    function _split(address from, uint256 amount) private {
        uint256 toHolders = amount * claimableBps / BPS;
        uint256 toRedeem = amount - toHolders;
        pendingClaimable += toHolders;
        redeemPool += toRedeem;
        emit RevenueReceived(from, amount, toHolders, toRedeem);
    }

    /// @dev ETH that arrived without `receive` (selfdestruct, coinbase): folded in at the next snapshot.
    function _unaccounted() private view returns (uint256) {
        return address(this).balance - pendingClaimable - claimPool - redeemPool;
    }
}
