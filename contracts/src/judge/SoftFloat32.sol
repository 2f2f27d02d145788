// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title SoftFloat32: IEEE-754 binary32 arithmetic on bit patterns, exactly as the judge defines it.
/// @notice Every operation is one correctly rounded operation (round to nearest, ties to even) with
///         subnormals (no flush-to-zero). NaNs as x86 SSE produces them: an operation with a NaN operand
///         returns the first NaN operand quieted (bit 22 set); an invalid operation on non-NaN operands
///         (inf - inf, 0 * inf, 0 / 0, inf / inf) returns the default NaN 0xFFC00000. The Rust reference
///         (`oracle/src/judge/float.rs`) is the same; `test/JudgeVM.t.sol` checks both on committed vectors.
/// @dev Values are the low 32 bits of a uint256. Internally a finite value is `m * 2^x` with an integer
///      mantissa m (24 bits for normal numbers, fewer for subnormals) and x the weight of its lowest bit.
library SoftFloat32 {
    uint256 internal constant DEFAULT_NAN = 0xFFC00000;
    uint256 internal constant QUIET = 0x00400000;
    uint256 internal constant INF = 0x7F800000;

    function isNaN(uint256 a) internal pure returns (bool) {
        return a & 0x7FFFFFFF > INF;
    }

    function add(uint256 a, uint256 b) internal pure returns (uint256) {
        if (isNaN(a)) return a | QUIET;
        if (isNaN(b)) return b | QUIET;
        uint256 sa = a >> 31;
        uint256 sb = b >> 31;
        if (a & 0x7FFFFFFF == INF) {
            if (b & 0x7FFFFFFF == INF && sa != sb) return DEFAULT_NAN;
            return a;
        }
        if (b & 0x7FFFFFFF == INF) return b;
        (uint256 ma, int256 xa) = _unpack(a);
        (uint256 mb, int256 xb) = _unpack(b);
        if (ma == 0 && mb == 0) return (sa & sb) << 31;
        if (ma == 0) return b;
        if (mb == 0) return a;
        if (xa < xb) {
            (ma, mb) = (mb, ma);
            (xa, xb) = (xb, xa);
            (sa, sb) = (sb, sa);
        }
        uint256 d = uint256(xa - xb);
        int256 e;
        if (d > 60) {
            // The smaller operand is below a quarter of the result's last place: any tiny non-zero value
            // rounds the same way.
            ma <<= 60;
            mb = 1;
            e = xa - 60;
        } else {
            ma <<= d;
            e = xb;
        }
        if (sa == sb) return _pack(sa, ma + mb, e, false);
        if (ma == mb) return 0;
        if (ma > mb) return _pack(sa, ma - mb, e, false);
        return _pack(sb, mb - ma, e, false);
    }

    function mul(uint256 a, uint256 b) internal pure returns (uint256) {
        if (isNaN(a)) return a | QUIET;
        if (isNaN(b)) return b | QUIET;
        uint256 s = (a ^ b) >> 31 & 1;
        bool aInf = a & 0x7FFFFFFF == INF;
        bool bInf = b & 0x7FFFFFFF == INF;
        bool aZero = a & 0x7FFFFFFF == 0;
        bool bZero = b & 0x7FFFFFFF == 0;
        if (aInf || bInf) {
            if (aZero || bZero) return DEFAULT_NAN;
            return s << 31 | INF;
        }
        if (aZero || bZero) return s << 31;
        (uint256 ma, int256 xa) = _unpack(a);
        (uint256 mb, int256 xb) = _unpack(b);
        return _pack(s, ma * mb, xa + xb, false);
    }

    function div(uint256 a, uint256 b) internal pure returns (uint256) {
        if (isNaN(a)) return a | QUIET;
        if (isNaN(b)) return b | QUIET;
        uint256 s = (a ^ b) >> 31 & 1;
        bool aInf = a & 0x7FFFFFFF == INF;
        bool bInf = b & 0x7FFFFFFF == INF;
        bool aZero = a & 0x7FFFFFFF == 0;
        bool bZero = b & 0x7FFFFFFF == 0;
        if (aInf) return bInf ? DEFAULT_NAN : s << 31 | INF;
        if (bInf) return s << 31;
        if (bZero) return aZero ? DEFAULT_NAN : s << 31 | INF;
        if (aZero) return s << 31;
        (uint256 ma, int256 xa) = _unpack(a);
        (uint256 mb, int256 xb) = _unpack(b);
        uint256 n = ma << 64;
        return _pack(s, n / mb, xa - xb - 64, n % mb != 0);
    }

    /// @notice The integer x rounded to binary32 (ties to even).
    function fromInt(int256 x) internal pure returns (uint256) {
        if (x == 0) return 0;
        if (x < 0) return _pack(1, uint256(-x), 0, false);
        return _pack(0, uint256(x), 0, false);
    }

    /// @notice Relu: x < 0 ? +0 : x (-0 and NaNs unchanged).
    function relu(uint256 a) internal pure returns (uint256) {
        if (a >> 31 == 1 && a & 0x7FFFFFFF != 0 && !isNaN(a)) return 0;
        return a;
    }

    /// @notice clamp(rne(v) + zp, qmin, qmax); NaN gives qmin.
    function quantize(uint256 v, int256 zp, int256 qmin, int256 qmax) internal pure returns (int256) {
        if (isNaN(v)) return qmin;
        bool neg = v >> 31 == 1;
        if (v & 0x7FFFFFFF == INF) return neg ? qmin : qmax;
        (uint256 m, int256 x) = _unpack(v);
        uint256 q;
        if (x >= 0) {
            q = m << uint256(x);
        } else {
            uint256 sh = uint256(-x);
            q = m >> sh;
            uint256 rem = m & ((uint256(1) << sh) - 1);
            uint256 half = uint256(1) << (sh - 1);
            if (rem > half || (rem == half && q & 1 == 1)) ++q;
        }
        int256 r = (neg ? -int256(q) : int256(q)) + zp;
        if (r < qmin) return qmin;
        if (r > qmax) return qmax;
        return r;
    }

    function _unpack(uint256 a) private pure returns (uint256 m, int256 x) {
        uint256 e = (a >> 23) & 0xFF;
        m = a & 0x7FFFFF;
        if (e == 0) return (m, -149);
        return (m | 0x800000, int256(e) - 150);
    }

    /// @dev Rounds sign * (m + sticky) * 2^e (sticky: a non-zero remainder below m's last bit) to binary32.
    function _pack(uint256 s, uint256 m, int256 e, bool sticky) private pure returns (uint256) {
        if (m == 0) return s << 31;
        int256 top = int256(_bitLength(m)) - 1 + e;
        int256 lsb = top - 23;
        if (lsb < -149) lsb = -149;
        uint256 q;
        if (lsb > e) {
            uint256 sh = uint256(lsb - e);
            if (sh > 255) {
                q = 0; // below half of the smallest subnormal
            } else {
                q = m >> sh;
                uint256 rem = m & ((uint256(1) << sh) - 1);
                uint256 half = uint256(1) << (sh - 1);
                if (rem > half || (rem == half && (sticky || q & 1 == 1))) ++q;
            }
        } else {
            q = m << uint256(e - lsb);
        }
        if (q == 1 << 24) {
            q >>= 1;
            ++lsb;
        }
        if (q >= 1 << 23) {
            int256 biased = lsb + 150;
            if (biased >= 255) return s << 31 | INF;
            return s << 31 | uint256(biased) << 23 | (q - (1 << 23));
        }
        return s << 31 | q;
    }

    function _bitLength(uint256 x) private pure returns (uint256 n) {
        unchecked {
            if (x >> 128 > 0) {
                x >>= 128;
                n += 128;
            }
            if (x >> 64 > 0) {
                x >>= 64;
                n += 64;
            }
            if (x >> 32 > 0) {
                x >>= 32;
                n += 32;
            }
            if (x >> 16 > 0) {
                x >>= 16;
                n += 16;
            }
            if (x >> 8 > 0) {
                x >>= 8;
                n += 8;
            }
            if (x >> 4 > 0) {
                x >>= 4;
                n += 4;
            }
            if (x >> 2 > 0) {
                x >>= 2;
                n += 2;
            }
            if (x >> 1 > 0) {
                x >>= 1;
                n += 1;
            }
            return n + x;
        }
    }
}
