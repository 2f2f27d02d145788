// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title ERC-7641 Intrinsic RevShare Token (draft), exactly as specified.
interface IERC7641 is IERC20 {
    /// @notice Revenue of snapshot `snapshotId` that `account` can still claim.
    function claimableRevenue(address account, uint256 snapshotId) external view returns (uint256);
    /// @notice Claim the caller's revenue share of snapshot `snapshotId`.
    function claim(uint256 snapshotId) external;
    /// @notice Take a snapshot of balances and of the holders' revenue since the previous one.
    function snapshot() external returns (uint256);
    /// @notice ETH paid out when burning `amount` tokens.
    function redeemableOnBurn(uint256 amount) external view returns (uint256);
    /// @notice Burn `amount` of the caller's tokens and receive their share of the redeem pool.
    function burn(uint256 amount) external;
}
