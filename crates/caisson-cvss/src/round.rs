//! The rounding functions of the specifications, on `f64`.

/// CVSS v3.1 `Roundup` (specification, Appendix A): the smallest one-decimal number
/// not below `x`, computed through an integer so that values such as
/// `4.000000000000001` (float noise on an exact 4.0) round to 4.0, not 4.1.
pub(crate) fn roundup_v31(x: f64) -> f64 {
    // The spec: int_input = round_to_nearest_integer(input * 100000).
    let int_input = (x * 100_000.0).round();
    if int_input % 10_000.0 == 0.0 {
        int_input / 100_000.0
    } else {
        ((int_input / 10_000.0).floor() + 1.0) / 10.0
    }
}

/// CVSS v3.0 `Round up`: "the smallest number, specified to one decimal place, that is
/// equal to or higher than its input", as the v3.0 calculator computes it.
pub(crate) fn roundup_v30(x: f64) -> f64 {
    (x * 10.0).ceil() / 10.0
}

/// Rounds `x` to one decimal, halves away from zero, judged on the exact binary value
/// of `x` (no `x * 10.0` rounding error). CVSS v4.0 calls this after adding 1e-6.
/// Non-finite or non-positive input gives 0.0 (v4.0 clamps scores to [0, 10] first).
pub(crate) fn round_half_up_tenths(x: f64) -> f64 {
    if !x.is_finite() || x <= 0.0 {
        return 0.0;
    }
    let bits = x.to_bits();
    let biased_exp = i32::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
    let fraction = bits & ((1u64 << 52) - 1);
    // x = mantissa * 2^exp exactly.
    let (mantissa, exp) = if biased_exp == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), biased_exp - 1075)
    };
    if exp >= 0 {
        // x >= 2^52: already an integer.
        return x;
    }
    let shift = exp.unsigned_abs();
    if shift > 100 {
        // x < 2^-47: rounds to 0.0.
        return 0.0;
    }
    // tenths = floor(10x + 1/2) = floor((20 * mantissa + 2^shift) / 2^(shift + 1)).
    let numerator = 20 * u128::from(mantissa) + (1u128 << shift);
    let tenths = numerator >> (shift + 1);
    // tenths <= 2^58, exactly representable; one division gives the nearest double.
    tenths as f64 / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v31_roundup_matches_spec_examples() {
        // Examples from the CVSS v3.1 specification, Appendix A.
        assert_eq!(roundup_v31(4.000_000_000_000_001), 4.0);
        assert_eq!(roundup_v31(4.02), 4.1);
        assert_eq!(roundup_v31(4.0), 4.0);
        assert_eq!(roundup_v31(0.0), 0.0);
        assert_eq!(roundup_v31(10.0), 10.0);
    }

    #[test]
    fn v30_roundup_is_plain_ceil() {
        assert_eq!(roundup_v30(4.02), 4.1);
        assert_eq!(roundup_v30(4.0), 4.0);
        assert_eq!(roundup_v30(4.000_000_000_000_001), 4.1);
    }

    #[test]
    fn half_up_uses_exact_binary_value() {
        assert_eq!(round_half_up_tenths(0.25), 0.3);
        assert_eq!(round_half_up_tenths(1.25), 1.3);
        // 1.45 is stored as 1.4499999999999999556: rounds down.
        assert_eq!(round_half_up_tenths(1.45), 1.4);
        assert_eq!(round_half_up_tenths(1.45 + 1e-6), 1.5);
        assert_eq!(round_half_up_tenths(9.96), 10.0);
        assert_eq!(round_half_up_tenths(f64::NAN), 0.0);
        assert_eq!(round_half_up_tenths(-3.0), 0.0);
        assert_eq!(round_half_up_tenths(1e-300), 0.0);
        assert_eq!(round_half_up_tenths(1e300), 1e300);
    }
}
