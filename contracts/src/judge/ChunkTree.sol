// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ChunkTree: the positional keccak trees of the dispute game (docs/PROTOCOL.md §9.3).
/// @notice A tensor's data root: its canonical bytes in 32-byte chunks (the last zero-padded; an empty
///         tensor is one zero chunk), leaf = keccak256(chunk), a complete tree of depth ceil(log2 chunks)
///         whose missing leaves are zero chunks, node = keccak256(left || right). State and node trees
///         are positional trees of the same shape over given leaves (zero-padded).
library ChunkTree {
    error BadMultiproof();

    /// @notice ceil(log2 n), 0 for n <= 1.
    function depthFor(uint256 n) internal pure returns (uint256 d) {
        while ((uint256(1) << d) < n) ++d;
    }

    /// @notice Depth of the data tree of `byteLen` bytes.
    function dataDepth(uint256 byteLen) internal pure returns (uint256) {
        return depthFor(byteLen == 0 ? 1 : (byteLen + 31) / 32);
    }

    function hashPair(bytes32 left, bytes32 right) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, left)
            mstore(0x20, right)
            h := keccak256(0x00, 0x40)
        }
    }

    /// @notice Root from a leaf, its index and its siblings (bottom-up).
    function computeRoot(bytes32 leaf, uint256 index, bytes32[] calldata proof) internal pure returns (bytes32 h) {
        h = leaf;
        for (uint256 i; i < proof.length; ++i) {
            h = (index & 1 == 0) ? hashPair(h, proof[i]) : hashPair(proof[i], h);
            index >>= 1;
        }
    }

    /// @notice Data root of `len` bytes of memory at `ptr` (zero-padded chunks).
    function rootOfMemory(uint256 ptr, uint256 len) internal pure returns (bytes32) {
        uint256 n = len == 0 ? 1 : (len + 31) / 32;
        uint256 width = uint256(1) << depthFor(n);
        bytes32[] memory level = new bytes32[](width);
        bytes32 zeroLeaf = keccak256(abi.encodePacked(bytes32(0)));
        for (uint256 i; i < width; ++i) {
            if (i < n) {
                bytes32 c;
                uint256 off = i * 32;
                assembly ("memory-safe") {
                    c := mload(add(ptr, off))
                }
                uint256 valid = len - off;
                if (valid < 32) {
                    // zero the bytes past the end
                    c &= bytes32(~(type(uint256).max >> (valid * 8)));
                }
                level[i] = keccak256(abi.encodePacked(c));
            } else {
                level[i] = zeroLeaf;
            }
        }
        while (width > 1) {
            width >>= 1;
            for (uint256 i; i < width; ++i) {
                level[i] = hashPair(level[2 * i], level[2 * i + 1]);
            }
        }
        return level[0];
    }

    /// @notice Root of a depth-`depth` tree from the leaves at `idx` (strictly increasing, < 2^depth) and a
    ///         positional multiproof (siblings level by level, left to right), as `commit.rs` builds it.
    ///         `leaves` is overwritten.
    function multiproofRoot(uint256 depth, uint32[] calldata idx, bytes32[] memory leaves, bytes32[] calldata proof)
        internal
        pure
        returns (bytes32)
    {
        uint256 n = idx.length;
        if (n == 0 || leaves.length != n) revert BadMultiproof();
        uint256[] memory pos = new uint256[](n);
        unchecked {
            uint256 prev;
            for (uint256 i; i < n; ++i) {
                uint256 x = idx[i];
                if (i > 0 && x <= prev) revert BadMultiproof();
                pos[i] = x;
                prev = x;
            }
            if (prev >> depth != 0) revert BadMultiproof();
        }
        uint256 used;
        for (uint256 l; l < depth; ++l) {
            (n, used) = _level(pos, leaves, n, proof, used);
        }
        if (used != proof.length) revert BadMultiproof();
        return leaves[0];
    }

    /// @dev One level of `multiproofRoot`: combines the first `n` (position, hash) pairs with each other or
    ///      with the next proof siblings into their parents, in place; returns the new count and proof cursor.
    function _level(uint256[] memory pos, bytes32[] memory leaves, uint256 n, bytes32[] calldata proof, uint256 used)
        private
        pure
        returns (uint256 m, uint256)
    {
        uint256 proofLen = proof.length;
        uint256 proofOff;
        assembly ("memory-safe") {
            proofOff := proof.offset
        }
        uint256 i;
        unchecked {
            while (i < n) {
                uint256 x = pos[i];
                bytes32 h;
                if (x & 1 == 0 && i + 1 < n && pos[i + 1] == x + 1) {
                    h = hashPair(leaves[i], leaves[i + 1]);
                    i += 2;
                } else {
                    if (used >= proofLen) revert BadMultiproof();
                    bytes32 sib;
                    assembly ("memory-safe") {
                        sib := calldataload(add(proofOff, shl(5, used)))
                    }
                    ++used;
                    h = x & 1 == 0 ? hashPair(leaves[i], sib) : hashPair(sib, leaves[i]);
                    ++i;
                }
                pos[m] = x >> 1;
                leaves[m] = h;
                ++m;
            }
        }
        return (m, used);
    }
}
