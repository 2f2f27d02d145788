// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC7641} from "./interfaces/IERC7641.sol";

/// @title ModelToken: ERC-20 + ERC-7641 revenue-share token of one registered model.
/// @notice Revenue arrives as ETH. A fixed share (`claimableBps`, set at creation) becomes claimable by
///         the holders of the next snapshot, pro rata to their balance at that snapshot; the rest goes to a
///         redeem pool paid out on `burn`. Claims never expire and can be made once per (snapshot, account).
///
///         Flash-loan resistance: a snapshot's balances are the balances at the END of the block in which
///         it was taken. A balance held only inside one transaction, or bought and sold inside one block,
///         is not in any snapshot and earns nothing. Until that block is over the snapshot is "pending":
///         `claim`, `balanceOfAt` and `totalSupplyAt` of it revert with `SnapshotPending`, and
///         `claimableRevenue` of it returns 0. `settledSnapshotId()` is the newest claimable snapshot.
/// @dev Deployed once as an implementation and used through EIP-1167 clones, so all configuration lives
///      in storage set by `initialize`; the implementation's constructor locks it. The ERC-20 is written
///      here (OZ 5's ERC20 keeps balances in a private mapping we could not pack): each account's balance
///      shares one slot with its snapshot bookkeeping, so a transfer with no snapshot since the account's
///      last change costs one extra cold read (the snapshot state), and the first change after a snapshot
///      writes one new checkpoint slot per account. Balance snapshots are lazy, as in OZ 4's
///      ERC20Snapshot, but keyed by the newest snapshot whose block has ended (`settledSnapshotId`): the
///      first balance change of an account in a block after the block of snapshot `k` records its balance
///      as of the end of that block (key `k`, the balance before the change); its balance at snapshot `s`
///      is the value of its first checkpoint with key >= s, or its current balance if there is none.
///      Changes inside the block of snapshot `k` (before or after it) are not seen by snapshot `k`'s
///      checkpoint key, so they only count if they last until the end of the block.
contract ModelToken is IERC20Metadata, IERC20Errors, ReentrancyGuardTransient, IERC7641 {
    using BitMaps for BitMaps.BitMap;
    using SafeCast for uint256;

    /// @dev An account's (or the supply's) balance and snapshot bookkeeping, packed in one slot.
    struct Book {
        uint176 balance;
        uint48 lastKey; // key of the latest checkpoint (0: none)
        uint32 count; // number of checkpoints
    }

    /// @dev Snapshot state, one slot, read by every balance change.
    struct State {
        uint48 id; // latest snapshot id (ids start at 1; 0 means none yet)
        uint48 settledBefore; // latest snapshot id taken in a block before `block_`
        uint48 block_; // block of the latest snapshot
        uint64 at; // timestamp of the latest snapshot (or of initialisation)
        uint16 claimableBps; // holders' share of revenue
        bool hasPending; // `_pending` is non-zero
    }

    /// @dev Booked ETH, one slot (ETH amounts fit in 128 bits by a wide margin).
    struct Pools {
        uint128 claim; // holders' revenue of past snapshots not claimed yet
        uint128 redeem; // ETH redeemable by burning
    }

    /// @notice Basis-point denominator.
    uint256 public constant BPS = 10_000;
    /// @notice Minimum time between two snapshots taken by anyone other than the snapshotter.
    uint256 public constant MIN_SNAPSHOT_INTERVAL = 1 days;

    bool private _initialized;
    /// @notice Address allowed to snapshot at any time and to pay revenue with `snapshotWithRevenue`
    ///         (the UsageOracle, which does so at finalize).
    address public snapshotter;
    State private _state;
    Pools private _pools;
    /// @dev Holders' revenue booked by a burn since the latest snapshot (goes to the next snapshot).
    uint256 private _pending;
    string private _tokenName;
    string private _tokenSymbol;

    /// @dev Holders' revenue of each snapshot, two snapshots per slot (id 2k in the low half of slot k,
    ///      id 2k+1 in the high half).
    mapping(uint256 pair => uint256) private _revenue;
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
    /// @notice ETH arrived through `receive` (a donation). It is booked (split) at the next snapshot or burn.
    event RevenueReceived(address indexed from, uint256 amount);
    /// @notice Received ETH was booked by a burn: `toHolders` goes to the next snapshot, `toRedeemPool` to the pool.
    event RevenueSplit(uint256 amount, uint256 toHolders, uint256 toRedeemPool);
    /// @notice Snapshot `snapshotId` was taken. `received` is the ETH it booked (paid with it, donated or
    ///         otherwise received since the last booking), of which `toRedeemPool` went to the redeem pool;
    ///         `revenue` is the holders' revenue it distributes (their share of `received`, plus any holders'
    ///         share a burn booked since the previous snapshot). Its balances are those at the end of this block.
    event SnapshotTaken(uint256 indexed snapshotId, uint256 revenue, uint256 received, uint256 toRedeemPool);
    /// @notice OpenZeppelin 4 `ERC20Snapshot`'s event (as the ERC-7641 reference emits it), for indexers.
    event Snapshot(uint256 id);
    /// @notice Emitted when `account` claims its share of snapshot `snapshotId`.
    event RevenueClaimed(address indexed account, uint256 indexed snapshotId, uint256 amount);
    /// @notice Emitted when `account` burns `amount` tokens and receives `redeemed` wei from the redeem pool.
    event Redeemed(address indexed account, uint256 amount, uint256 redeemed);

    error AlreadyInitialized();
    error InvalidPublisher();
    error InvalidSupply();
    error InvalidBps();
    error InvalidSnapshotter();
    error NotSnapshotter();
    error SnapshotTooSoon(uint256 nextAllowedAt);
    error NothingToSnapshot();
    error InvalidSnapshot(uint256 snapshotId);
    error SnapshotPending(uint256 snapshotId);
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
        snapshotter = snapshotter_;
        _state = State({
            id: 0,
            settledBefore: 0,
            block_: 0,
            at: uint64(block.timestamp),
            claimableBps: claimableBps_,
            hasPending: false
        });
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
    /// @dev An allowance of type(uint256).max is never decreased (and no Approval is emitted for spending,
    ///      as in OZ 5). From the zero address: `ERC20InvalidApprover(0)`, whatever the value.
    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        if (from == address(0)) revert ERC20InvalidApprover(address(0));
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        uint256 allowed = _allowances[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert ERC20InsufficientAllowance(msg.sender, allowed, value);
            _allowances[from][msg.sender] = allowed - value;
        }
        _update(from, to, value);
        return true;
    }

    /// @notice Revenue in ETH (a donation): booked at the next snapshot or burn, then split between the
    ///         holders' share and the redeem pool.
    receive() external payable {
        emit RevenueReceived(msg.sender, msg.value);
    }

    // ------------------------------------------------------------------ snapshots

    /// @notice Take a snapshot. The snapshotter (UsageOracle) may do so at any time; anyone else only when
    ///         at least `MIN_SNAPSHOT_INTERVAL` has passed since the latest snapshot and there is holders'
    ///         revenue to distribute (each snapshot makes the next transfer of every holder costlier: DoS guard).
    ///         Its balances are those at the end of this block.
    /// @return snapshotId The id of the new snapshot.
    function snapshot() external returns (uint256 snapshotId) {
        if (msg.sender != snapshotter) {
            State memory s = _state;
            uint256 next = uint256(s.at) + MIN_SNAPSHOT_INTERVAL;
            if (block.timestamp < next) revert SnapshotTooSoon(next);
            if (!s.hasPending && _unbooked(s) == 0) revert NothingToSnapshot();
        }
        return _snapshot();
    }

    /// @notice Pay revenue and snapshot in one call (the snapshotter, at finalize): `msg.value` plus any
    ///         ETH received since the last booking is split, and the holders' share is assigned to the new
    ///         snapshot. One call instead of a transfer and a `snapshot()`.
    /// @return snapshotId The id of the new snapshot.
    function snapshotWithRevenue() external payable returns (uint256 snapshotId) {
        if (msg.sender != snapshotter) revert NotSnapshotter();
        return _snapshot();
    }

    /// @notice Id of the newest snapshot whose block has ended: snapshots up to it are final and claimable.
    function settledSnapshotId() public view returns (uint256) {
        return _settledOf(_state);
    }

    /// @notice Id of the latest snapshot (may still be pending in this block).
    function currentSnapshotId() external view returns (uint48) {
        return _state.id;
    }

    /// @notice Block of the latest snapshot.
    function lastSnapshotBlock() external view returns (uint48) {
        return _state.block_;
    }

    /// @notice Timestamp of the latest snapshot (or of initialisation).
    function lastSnapshotAt() external view returns (uint64) {
        return _state.at;
    }

    /// @notice Share of incoming revenue claimable by holders, in basis points; the rest is redeemable on burn.
    function claimableBps() external view returns (uint16) {
        return _state.claimableBps;
    }

    /// @notice Holders' revenue assigned to snapshot `snapshotId` (0 for unknown ids).
    function snapshotRevenue(uint256 snapshotId) public view returns (uint256) {
        uint256 pair = _revenue[snapshotId >> 1];
        return snapshotId & 1 == 0 ? uint128(pair) : pair >> 128;
    }

    /// @notice Holders' revenue booked since the latest snapshot (by a burn), for the next snapshot.
    function pendingClaimable() external view returns (uint256) {
        return _state.hasPending ? _pending : 0;
    }

    /// @notice ETH received but not booked yet (donations since the last snapshot or burn).
    function unbookedRevenue() external view returns (uint256) {
        return _unbooked(_state);
    }

    /// @notice Holders' revenue of past snapshots that has not been claimed yet.
    function claimPool() external view returns (uint256) {
        return _pools.claim;
    }

    /// @notice Booked ETH redeemable by burning (`redeemableOnBurn` also counts the unbooked share).
    function redeemPool() external view returns (uint256) {
        return _pools.redeem;
    }

    /// @notice Balance of `account` at the end of the block of snapshot `snapshotId`.
    /// @dev Reverts with `InvalidSnapshot` for unknown ids and `SnapshotPending` during the snapshot's block.
    function balanceOfAt(address account, uint256 snapshotId) public view returns (uint256) {
        _checkSettled(snapshotId);
        return _valueAt(_books[account], account, snapshotId);
    }

    /// @notice Total supply at the end of the block of snapshot `snapshotId` (same reverts as `balanceOfAt`).
    function totalSupplyAt(uint256 snapshotId) public view returns (uint256) {
        _checkSettled(snapshotId);
        return _valueAt(_supplyBook, address(0), snapshotId);
    }

    // ------------------------------------------------------------------ ERC-7641

    /// @notice Whether `account` has claimed snapshot `snapshotId`.
    function claimed(uint256 snapshotId, address account) external view returns (bool) {
        return _claimed[account].get(snapshotId);
    }

    /// @inheritdoc IERC7641
    /// @dev Reverts with `InvalidSnapshot` for unknown ids (0 or above `currentSnapshotId`), as the reference
    ///      does; 0 for a snapshot still pending in this block and for one already claimed by `account`.
    function claimableRevenue(address account, uint256 snapshotId) external view returns (uint256) {
        State memory s = _state;
        if (snapshotId == 0 || snapshotId > s.id) revert InvalidSnapshot(snapshotId);
        if (snapshotId > _settledOf(s) || _claimed[account].get(snapshotId)) return 0;
        return _share(account, snapshotId);
    }

    /// @inheritdoc IERC7641
    function claim(uint256 snapshotId) external nonReentrant {
        uint256 amount = _markClaimed(msg.sender, snapshotId);
        if (amount == 0) revert NothingToClaim();
        _pools.claim -= uint128(amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @notice Claim several snapshots in one transfer. Reverts if any of them is unknown, pending or already
    ///         claimed.
    /// @param snapshotIds Snapshot ids to claim.
    function claimBatch(uint256[] calldata snapshotIds) external nonReentrant {
        uint256 total;
        for (uint256 i; i < snapshotIds.length; ++i) {
            total += _markClaimed(msg.sender, snapshotIds[i]);
        }
        if (total == 0) revert NothingToClaim();
        _pools.claim -= uint128(total);
        Address.sendValue(payable(msg.sender), total);
    }

    /// @inheritdoc IERC7641
    /// @dev `redeemPool * amount / totalSupply` in full precision, where the pool includes the redeem share of
    ///      ETH received but not booked yet (as the reference's formula does). 0 when the supply is 0.
    function redeemableOnBurn(uint256 amount) public view returns (uint256) {
        uint256 supply = totalSupply();
        if (supply == 0) return 0;
        State memory s = _state;
        uint256 received = _unbooked(s);
        uint256 pool = uint256(_pools.redeem) + received - received * s.claimableBps / BPS;
        return Math.mulDiv(pool, amount, supply);
    }

    /// @inheritdoc IERC7641
    /// @dev Burning does not change past snapshots, so the burner keeps its unclaimed snapshot revenue.
    ///      More than the caller's balance (including more than the supply): `ERC20InsufficientBalance`.
    function burn(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 balance = _books[msg.sender].balance;
        if (balance < amount) revert ERC20InsufficientBalance(msg.sender, balance, amount);
        _book();
        uint256 redeemed = Math.mulDiv(_pools.redeem, amount, totalSupply());
        _pools.redeem -= uint128(redeemed);
        _update(msg.sender, address(0), amount);
        emit Redeemed(msg.sender, amount, redeemed);
        if (redeemed != 0) Address.sendValue(payable(msg.sender), redeemed);
    }

    // ------------------------------------------------------------------ internals

    function _snapshot() private returns (uint256) {
        State memory s = _state;
        Pools memory p = _pools;
        uint256 pending = s.hasPending ? _pending : 0;
        uint256 received = address(this).balance - pending - p.claim - p.redeem;
        uint256 toHolders = received * s.claimableBps / BPS;
        uint256 toRedeem = received - toHolders;
        uint256 revenue = pending + toHolders;
        if (s.hasPending) {
            _pending = 0;
            s.hasPending = false;
        }
        uint48 id = s.id + 1;
        if (block.number > s.block_) {
            s.settledBefore = s.id;
            s.block_ = uint48(block.number);
        }
        s.id = id;
        s.at = uint64(block.timestamp);
        _state = s;
        p.claim += revenue.toUint128();
        p.redeem += toRedeem.toUint128();
        _pools = p;
        if (revenue != 0) {
            uint256 slot = id >> 1;
            _revenue[slot] |= id & 1 == 0 ? revenue : revenue << 128;
        }
        emit Snapshot(id);
        emit SnapshotTaken(id, revenue, received, toRedeem);
        return id;
    }

    /// @dev Books ETH received since the last booking (before a burn pays from the pool).
    function _book() private {
        State memory s = _state;
        uint256 received = _unbooked(s);
        if (received == 0) return;
        uint256 toHolders = received * s.claimableBps / BPS;
        uint256 toRedeem = received - toHolders;
        if (toHolders != 0) {
            _pending = (s.hasPending ? _pending : 0) + toHolders;
            _state.hasPending = true;
        }
        _pools.redeem += toRedeem.toUint128();
        emit RevenueSplit(received, toHolders, toRedeem);
    }

    /// @dev ETH not booked yet: donations through `receive`, selfdestruct or coinbase payments.
    function _unbooked(State memory s) private view returns (uint256) {
        Pools memory p = _pools;
        return address(this).balance - (s.hasPending ? _pending : 0) - p.claim - p.redeem;
    }

    /// @dev Newest snapshot whose block has ended.
    function _settledOf(State memory s) private view returns (uint48) {
        return block.number > s.block_ ? s.id : s.settledBefore;
    }

    /// @dev Moves `value` from `from` to `to` (address(0): mint / burn), recording each touched book's
    ///      balance once per settled snapshot before it first changes.
    function _update(address from, address to, uint256 value) private {
        uint48 id = _settledOf(_state);
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

    /// @dev Loads a book and, on its first change after settled snapshot `id`, checkpoints its balance with
    ///      key `id` (its balance at the end of the block of snapshot `id`).
    function _record(Book storage book, address account, uint48 id) private returns (Book memory b) {
        b = book;
        if (b.lastKey < id) {
            _checkpoints[account][b.count] = (uint256(id) << 208) | b.balance;
            b.count += 1;
            b.lastKey = id;
        }
    }

    /// @dev Value of a book at settled snapshot `id`: its first checkpoint with key >= id, else its current
    ///      balance.
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

    function _checkSettled(uint256 snapshotId) private view {
        State memory s = _state;
        if (snapshotId == 0 || snapshotId > s.id) revert InvalidSnapshot(snapshotId);
        if (snapshotId > _settledOf(s)) revert SnapshotPending(snapshotId);
    }

    /// @dev `snapshotRevenue * balanceOfAt / totalSupplyAt` in full precision (no overflow at any supply).
    function _share(address account, uint256 snapshotId) private view returns (uint256) {
        uint256 supply = _valueAt(_supplyBook, address(0), snapshotId);
        if (supply == 0) return 0;
        return Math.mulDiv(snapshotRevenue(snapshotId), _valueAt(_books[account], account, snapshotId), supply);
    }

    function _markClaimed(address account, uint256 snapshotId) private returns (uint256 amount) {
        _checkSettled(snapshotId);
        if (_claimed[account].get(snapshotId)) revert AlreadyClaimed(snapshotId);
        _claimed[account].set(snapshotId);
        amount = _share(account, snapshotId);
        emit RevenueClaimed(account, snapshotId, amount);
    }
}
