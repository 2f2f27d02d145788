//! The judge's float semantics: IEEE-754 binary32, every operation a single correctly rounded
//! operation (round to nearest, ties to even), subnormals kept (no flush-to-zero), and NaN
//! results fixed bit for bit the way x86 SSE produces them, so that the reference, ONNX Runtime
//! on x86-64 and the on-chain soft-float (`contracts/src/judge/SoftFloat32.sol`) agree:
//!
//! * an operation with a NaN operand returns the first NaN operand (in operand order) quieted
//!   (bit 22 set, payload and sign kept);
//! * an invalid operation on non-NaN operands (∞ − ∞, 0 × ∞, 0 / 0, ∞ / ∞) returns the default
//!   NaN `0xFFC00000`.
//!
//! Values travel as their bit patterns (`u32`): Rust does not promise NaN bit patterns of native
//! float operations, so NaNs are decided here and only non-NaN results come from the hardware,
//! where IEEE-754 fixes them exactly.

/// x86's default NaN ("real indefinite").
pub const DEFAULT_NAN: u32 = 0xFFC0_0000;
const QUIET: u32 = 0x0040_0000;

/// Whether the bit pattern is a NaN.
pub fn is_nan(a: u32) -> bool {
    a & 0x7FFF_FFFF > 0x7F80_0000
}

fn nan_rule(a: u32, b: u32) -> Option<u32> {
    if is_nan(a) {
        Some(a | QUIET)
    } else if is_nan(b) {
        Some(b | QUIET)
    } else {
        None
    }
}

fn finish(r: f32) -> u32 {
    if r.is_nan() { DEFAULT_NAN } else { r.to_bits() }
}

/// `a + b`.
pub fn add(a: u32, b: u32) -> u32 {
    nan_rule(a, b).unwrap_or_else(|| finish(f32::from_bits(a) + f32::from_bits(b)))
}

/// `a × b`.
pub fn mul(a: u32, b: u32) -> u32 {
    nan_rule(a, b).unwrap_or_else(|| finish(f32::from_bits(a) * f32::from_bits(b)))
}

/// `a / b`.
pub fn div(a: u32, b: u32) -> u32 {
    nan_rule(a, b).unwrap_or_else(|| finish(f32::from_bits(a) / f32::from_bits(b)))
}

/// The integer `x` rounded to binary32 (ties to even). Exact for |x| ≤ 2^24.
pub fn from_int(x: i64) -> u32 {
    (x as f32).to_bits()
}

/// `Relu`: `x < 0 ? +0 : x` (−0 and NaNs pass unchanged, as ONNX Runtime's kernel does).
pub fn relu(a: u32) -> u32 {
    if !is_nan(a) && f32::from_bits(a) < 0.0 {
        0
    } else {
        a
    }
}

/// Quantizes `v` into `[qmin, qmax]` with zero point `zp`: `clamp(rne(v) + zp, qmin, qmax)`,
/// NaN → `qmin` (ONNX Runtime's MLAS clamps with MAXPS/MINPS, which turn a NaN into the lower
/// bound). Equal to MLAS's `cvtps(clamp(v, qmin − zp, qmax − zp)) + zp` because the bounds
/// are integers.
pub fn quantize(v: u32, zp: i64, qmin: i64, qmax: i64) -> i64 {
    if is_nan(v) {
        return qmin;
    }
    let r = f64::from(f32::from_bits(v).round_ties_even()) + zp as f64;
    if r <= qmin as f64 {
        qmin
    } else if r >= qmax as f64 {
        qmax
    } else {
        r as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: f32) -> u32 {
        x.to_bits()
    }

    #[test]
    fn nan_rules() {
        let snan = 0x7FA0_0001;
        assert_eq!(add(snan, b(1.0)), 0x7FE0_0001);
        assert_eq!(add(b(1.0), 0xFF80_0001), 0xFFC0_0001);
        assert_eq!(add(0x7FC0_0005, 0x7FC0_0007), 0x7FC0_0005);
        assert_eq!(add(b(f32::INFINITY), b(f32::NEG_INFINITY)), DEFAULT_NAN);
        assert_eq!(mul(b(0.0), b(f32::INFINITY)), DEFAULT_NAN);
        assert_eq!(div(b(0.0), b(0.0)), DEFAULT_NAN);
        assert_eq!(div(b(1.0), b(0.0)), b(f32::INFINITY));
        assert_eq!(div(b(-1.0), b(0.0)), b(f32::NEG_INFINITY));
    }

    #[test]
    fn relu_keeps_negative_zero_and_nan() {
        assert_eq!(relu(b(-0.0)), b(-0.0));
        assert_eq!(relu(b(-1.5)), 0);
        assert_eq!(relu(b(f32::NEG_INFINITY)), 0);
        assert_eq!(relu(0xFFC0_0000), 0xFFC0_0000);
        assert_eq!(relu(b(2.5)), b(2.5));
    }

    #[test]
    fn quantize_rounds_half_to_even_and_saturates() {
        assert_eq!(quantize(b(0.5), 10, 0, 255), 10);
        assert_eq!(quantize(b(1.5), 10, 0, 255), 12);
        assert_eq!(quantize(b(2.5), 10, 0, 255), 12);
        assert_eq!(quantize(b(-0.5), 10, 0, 255), 10);
        assert_eq!(quantize(b(-10.5), 10, 0, 255), 0);
        assert_eq!(quantize(b(1e30), 10, 0, 255), 255);
        assert_eq!(quantize(b(f32::NEG_INFINITY), 0, -128, 127), -128);
        assert_eq!(quantize(DEFAULT_NAN, 3, -128, 127), -128);
        assert_eq!(quantize(b(122.5), 0, 0, 255), 122);
        assert_eq!(quantize(b(-3.0), -5, -128, 127), -8);
    }

    #[test]
    fn int_conversion_rounds_to_even() {
        assert_eq!(from_int(16_777_217), b(16_777_216.0));
        assert_eq!(from_int(16_777_219), b(16_777_220.0));
        assert_eq!(from_int(-3), b(-3.0));
        assert_eq!(from_int(i64::from(i32::MIN)), b(-2_147_483_648.0));
    }
}
