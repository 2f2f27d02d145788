// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC7641} from "./interfaces/IERC7641.sol";

/// @title ModelToken: ERC-20 + ERC-7641 revenue-share token of one registered model.
/// @notice Revenue arrives as ETH. A fixed share (`claimableBps`, set at creation) becomes claimable by
///         the holders of the next snapshot, pro rata to their balance at that snapshot; the rest goes to a
///         redeem pool paid out on `burn`. Claims never expire and can be made once per (snapshot, account).
/// @dev Deployed once as an implementation and used through EIP-1167 clones, so all configuration lives
///      in storage set by `initialize`; the implementation's constructor locks it. The ERC-20 is written
///      here (OZ 5's ERC20 keeps balances in a private mapping we could not pack): each account's balance
///      shares one slot with its snapshot bookkeeping, so a transfer with no snapshot since the account's
///      last change costs one extra cold read (the snapshot id), and the first change after a snapshot
///      writes one new checkpoint slot per account. Balance snapshots are lazy, as in OZ 4's
///      ERC20Snapshot: the first balance change of an account after snapshot `k` records its balance as of
///      `k` (key `k`); its balance at snapshot `s` is the value of its first checkpoint with key >= s, or
///      its current balance if there is none.
contract ModelToken is IERC20Metadata, IERC20Errors, ReentrancyGuardTransient, IERC7641 {
    using BitMaps for BitMaps.BitMap;

    /// @dev An account's (or the supply's) balance and snapshot bookkeeping, packed in one slot.
    struct Book {
        uint176 balance;
        uint48 lastKey; // key of the latest checkpoint (0: none)
        uint32 count; // number of checkpoints
    }

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
    /// @dev Claimed snapshot ids per account: a bitmap, so a batch of up to 256 consecutive ids touches one slot.
    mapping(address account => BitMaps.BitMap) private _claimed;

    mapping(address account => Book) private _books;
    Book private _supplyBook;
    /// @dev Checkpoints of each account (address(0): the total supply), packed as key << 208 | value.
    mapping(address account => mapping(uint256 index => uint256)) private _checkpoints;
    mapping(address owner => mapping(address spender => uint256)) private _allowances;

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
    constructor() {
        _initialized = true;
    }

    /// @notice Initialise a clone: mint `supply` to `publisher`, set the holders' revenue share and the snapshotter.
    /// @param name_ ERC-20 name.
    /// @param symbol_ ERC-20 symbol.
    /// @param publisher Receives the whole supply.
    /// @param supply Total supply (fixed; it only decreases by burning). At most 2^176 - 1.
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
        if (supply == 0 || supply > type(uint176).max) revert InvalidSupply();
        if (claimableBps_ > BPS) revert InvalidBps();
        if (snapshotter_ == address(0)) revert InvalidSnapshotter();
        _initialized = true;
        _tokenName = name_;
        _tokenSymbol = symbol_;
        claimableBps = claimableBps_;
        snapshotter = snapshotter_;
        lastSnapshotAt = uint64(block.timestamp);
        _update(address(0), publisher, supply);
        emit TokenInitialized(name_, symbol_, publisher, supply, claimableBps_, snapshotter_);
    }

    // ------------------------------------------------------------------ ERC-20

    /// @inheritdoc IERC20Metadata
    function name() external view returns (string memory) {
        return _tokenName;
    }

    /// @inheritdoc IERC20Metadata
    function symbol() external view returns (string memory) {
        return _tokenSymbol;
    }

    /// @inheritdoc IERC20Metadata
    function decimals() external pure returns (uint8) {
        return 18;
    }

    /// @inheritdoc IERC20
    function totalSupply() public view returns (uint256) {
        return _supplyBook.balance;
    }

    /// @inheritdoc IERC20
    function balanceOf(address account) public view returns (uint256) {
        return _books[account].balance;
    }

    /// @inheritdoc IERC20
    function allowance(address owner, address spender) external view returns (uint256) {
        return _allowances[owner][spender];
    }

    /// @inheritdoc IERC20
    function transfer(address to, uint256 value) external returns (bool) {
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        _update(msg.sender, to, value);
        return true;
    }

    /// @inheritdoc IERC20
    function approve(address spender, uint256 value) external returns (bool) {
        if (spender == address(0)) revert ERC20InvalidSpender(address(0));
        _allowances[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    /// @inheritdoc IERC20
    /// @dev An allowance of type(uint256).max is never decreased.
    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        if (from == address(0)) revert ERC20InvalidSender(address(0));
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        uint256 allowed = _allowances[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert ERC20InsufficientAllowance(msg.sender, allowed, value);
            _allowances[from][msg.sender] = allowed - value;
        }
        _update(from, to, value);
        return true;
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
        return _valueAt(_books[account], account, snapshotId);
    }

    /// @notice Total supply at snapshot `snapshotId`.
    function totalSupplyAt(uint256 snapshotId) public view returns (uint256) {
        _checkSnapshot(snapshotId);
        return _valueAt(_supplyBook, address(0), snapshotId);
    }

    // ------------------------------------------------------------------ ERC-7641

    /// @notice Whether `account` has claimed snapshot `snapshotId`.
    function claimed(uint256 snapshotId, address account) external view returns (bool) {
        return _claimed[account].get(snapshotId);
    }

    /// @inheritdoc IERC7641
    /// @dev 0 for unknown snapshots and for snapshots already claimed by `account`.
    function claimableRevenue(address account, uint256 snapshotId) public view returns (uint256) {
        if (snapshotId == 0 || snapshotId > currentSnapshotId || _claimed[account].get(snapshotId)) return 0;
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
        _update(msg.sender, address(0), amount);
        emit Redeemed(msg.sender, amount, redeemed);
        if (redeemed != 0) Address.sendValue(payable(msg.sender), redeemed);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Moves `value` from `from` to `to` (address(0): mint / burn), recording each touched book's
    ///      balance once per snapshot before it first changes.
    function _update(address from, address to, uint256 value) private {
        uint48 id = currentSnapshotId;
        if (from == address(0)) {
            Book memory b = _record(_supplyBook, address(0), id);
            b.balance += uint176(value); // supply <= 2^176 - 1 checked at initialize; only mint
            _supplyBook = b;
        } else {
            Book memory b = _record(_books[from], from, id);
            if (b.balance < value) revert ERC20InsufficientBalance(from, b.balance, value);
            b.balance -= uint176(value);
            _books[from] = b;
        }
        if (to == address(0)) {
            Book memory b = _record(_supplyBook, address(0), id);
            b.balance -= uint176(value); // value <= from's balance <= supply
            _supplyBook = b;
        } else {
            Book memory b = _record(_books[to], to, id);
            b.balance += uint176(value); // sum of balances == supply <= 2^176 - 1
            _books[to] = b;
        }
        emit Transfer(from, to, value);
    }

    /// @dev Loads a book and, on its first change after snapshot `id`, checkpoints its balance with key `id`.
    function _record(Book storage book, address account, uint48 id) private returns (Book memory b) {
        b = book;
        if (b.lastKey < id) {
            _checkpoints[account][b.count] = (uint256(id) << 208) | b.balance;
            b.count += 1;
            b.lastKey = id;
        }
    }

    /// @dev Value of a book at snapshot `id`: its first checkpoint with key >= id, else its current balance.
    function _valueAt(Book storage book, address account, uint256 id) private view returns (uint256) {
        Book memory b = book;
        if (b.lastKey < id) return b.balance;
        mapping(uint256 => uint256) storage cps = _checkpoints[account];
        uint256 lo;
        uint256 hi = b.count;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (cps[mid] >> 208 < id) lo = mid + 1;
            else hi = mid;
        }
        return uint208(cps[lo]);
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
        if (_claimed[account].get(snapshotId)) revert AlreadyClaimed(snapshotId);
        _claimed[account].set(snapshotId);
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
