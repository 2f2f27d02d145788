// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts-v4/token/ERC20/ERC20.sol";
import {ERC20Snapshot} from "@openzeppelin/contracts-v4/token/ERC20/extensions/ERC20Snapshot.sol";

/// @notice The ERC-7641 interface as the reference declares it (without the ERC-20 part, which OZ 4 provides).
interface IReferenceERC7641 {
    function claimableRevenue(address account, uint256 snapshotId) external view returns (uint256);
    function claim(uint256 snapshotId) external;
    function snapshot() external returns (uint256);
    function redeemableOnBurn(uint256 amount) external view returns (uint256);
    function burn(uint256 amount) external;
}

/// @title ReferenceERC7641 (TEST ONLY): our re-implementation of the documented behaviour of the ERC-7641
///        reference implementation (ethereum/ERCs, assets/erc-7641/ERC7641.sol).
/// @notice NOT the upstream file and not derived from its source: it is written from the reference's
///         documented behaviour, to compare ModelToken with it (behaviour tests and a side-by-side gas table
///         in docs/CONTRACTS.md). Like the reference it is an OpenZeppelin 4.9 `ERC20Snapshot`:
///         - the constructor mints `supply` to the deployer, takes the holders' percentage (<= 100) and
///           starts the snapshot clock (`lastSnapshotBlock`);
///         - `snapshot()` needs more than 1000 blocks since the last one; the revenue that arrived since then
///           (`balance + burned - claimPool - burnPool`) is split: `percentClaimable` % claimable by the holders
///           of this snapshot, the rest (less what burns already paid out of it) to the burn pool;
///         - `claimableRevenue(a, id)` = 0 once claimed, else `balanceOfAt(a, id) * claimable(id) /
///           totalSupplyAt(id)` (OZ 4's `balanceOfAt` reverts "ERC20Snapshot: nonexistent id" for 0 or future ids);
///         - `claim(id)` needs a non-zero amount, marks it claimed and sends it with a low-level call;
///           `claimBatch(ids)` claims each in turn;
///         - `redeemableOnBurn(amount)` / `burn(amount)` pay `amount / totalSupply` of the burn pool plus of the
///           non-claimable share of the revenue not snapshotted yet;
///         - ETH arrives through `receive()`; no events for claims or burns (OZ 4 emits `Snapshot(id)`).
contract ReferenceERC7641 is ERC20Snapshot, IReferenceERC7641 {
    /// @notice Blocks that must pass between two snapshots (strictly more than this).
    uint256 public constant SNAPSHOT_INTERVAL = 1000;

    /// @notice Holders' share of new revenue, in percent.
    uint256 public immutable percentClaimable;
    /// @notice Block of the latest snapshot (or of deployment).
    uint256 public lastSnapshotBlock;
    /// @notice Claimable revenue not claimed yet, over all snapshots.
    uint256 public claimPool;
    /// @notice Revenue redeemable by burning, from past snapshots.
    uint256 public burnPool;
    /// @notice What burns paid out of revenue not snapshotted yet.
    uint256 public burned;

    mapping(uint256 snapshotId => uint256) private _claimableAt;
    mapping(uint256 snapshotId => mapping(address account => bool)) private _claimedAt;

    constructor(string memory name_, string memory symbol_, uint256 supply, uint256 percentClaimable_)
        ERC20(name_, symbol_)
    {
        require(percentClaimable_ <= 100, "percentClaimable > 100");
        percentClaimable = percentClaimable_;
        lastSnapshotBlock = block.number;
        _mint(msg.sender, supply);
    }

    receive() external payable {}

    /// @notice Claimable revenue assigned to snapshot `snapshotId`.
    function claimableAt(uint256 snapshotId) external view returns (uint256) {
        return _claimableAt[snapshotId];
    }

    function snapshot() external returns (uint256 id) {
        require(block.number - lastSnapshotBlock > SNAPSHOT_INTERVAL, "snapshot interval is too short");
        id = _snapshot();
        uint256 newRevenue = address(this).balance + burned - claimPool - burnPool;
        uint256 claimable = newRevenue * percentClaimable / 100;
        _claimableAt[id] = claimable;
        claimPool += claimable;
        burnPool += newRevenue - claimable - burned;
        burned = 0;
        lastSnapshotBlock = block.number;
    }

    function claimableRevenue(address account, uint256 snapshotId) public view returns (uint256) {
        if (_claimedAt[snapshotId][account]) return 0;
        return balanceOfAt(account, snapshotId) * _claimableAt[snapshotId] / totalSupplyAt(snapshotId);
    }

    function claim(uint256 snapshotId) public {
        uint256 amount = claimableRevenue(msg.sender, snapshotId);
        require(amount > 0, "nothing to claim");
        _claimedAt[snapshotId][msg.sender] = true;
        claimPool -= amount;
        (bool ok,) = msg.sender.call{value: amount}("");
        require(ok, "transfer failed");
    }

    function claimBatch(uint256[] calldata snapshotIds) external {
        for (uint256 i; i < snapshotIds.length; ++i) {
            claim(snapshotIds[i]);
        }
    }

    function redeemableOnBurn(uint256 amount) public view returns (uint256) {
        (uint256 fromNew, uint256 fromPool) = _redeemable(amount);
        return fromNew + fromPool;
    }

    function burn(uint256 amount) external {
        (uint256 fromNew, uint256 fromPool) = _redeemable(amount);
        burnPool -= fromPool;
        burned += fromNew;
        _burn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: fromNew + fromPool}("");
        require(ok, "transfer failed");
    }

    function _redeemable(uint256 amount) private view returns (uint256 fromNew, uint256 fromPool) {
        uint256 supply = totalSupply();
        uint256 newRevenue = address(this).balance + burned - claimPool - burnPool;
        fromNew = amount * (newRevenue * (100 - percentClaimable) - burned * 100) / 100 / supply;
        fromPool = amount * burnPool / supply;
    }
}
