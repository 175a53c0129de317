//! `exp`, `tanh` and the logistic function for `f32` activations, without libm calls.
//!
//! A libm call per value keeps a loop over a layer from being vectorized, and for small
//! networks those calls are most of a training step. These functions compute in `f64` with
//! an exponential built from a range reduction and a Taylor polynomial (relative error below
//! 1e-14), then round once to `f32`: the results are within one unit in the last place of the
//! exact values (tested against `f64` libm over the whole range, special values included).
//! They use only `+ - * /`, comparisons and bit operations, with no fused multiply-add, so
//! they give the same bits on every CPU and every kernel path.
//!
//! `f64` networks keep the standard library's functions.

/// `e^y` for `y` in `[-120, 50]` (callers clamp), relative error below 1e-14.
#[inline(always)]
fn exp_f64(y: f64) -> f64 {
    // y = k ln 2 + r with |r| <= ln 2 / 2; ln 2 split in two so that k * LN2_HI is exact.
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const INV_LN2: f64 = std::f64::consts::LOG2_E;
    // Round to nearest by adding and subtracting 1.5 * 2^52 (no libm `round`, no float to
    // integer conversion, so it vectorizes on every target); the sum's low bits hold k.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    let shifted = y * INV_LN2 + SHIFTER;
    let k = shifted - SHIFTER;
    let k_int = (shifted.to_bits() as i64).wrapping_sub(SHIFTER.to_bits() as i64);
    let r = (y - k * LN2_HI) - k * LN2_LO;
    // Taylor series to r^11 / 11! (|r|^12 / 12! < 7e-15 for |r| <= 0.347), in Estrin's
    // scheme: pairs, then pairs of pairs, so that the chain of dependent steps is short.
    const C: [f64; 12] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
    ];
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let q0 = C[0] + C[1] * r;
    let q1 = C[2] + C[3] * r;
    let q2 = C[4] + C[5] * r;
    let q3 = C[6] + C[7] * r;
    let q4 = C[8] + C[9] * r;
    let q5 = C[10] + C[11] * r;
    let s0 = q0 + q1 * r2;
    let s1 = q2 + q3 * r2;
    let s2 = q4 + q5 * r2;
    let p = (s0 + s1 * r4) + s2 * r8;
    // 2^k from its bits; k stays within [-174, 73] for the clamped arguments.
    let scale = f64::from_bits(((k_int + 1023) as u64) << 52);
    p * scale
}

/// `e^x` for `f32`, within one ulp (0 below -104, infinity above 89).
#[inline]
pub fn exp_f32(x: f32) -> f32 {
    let e = exp_f64(f64::from(x).clamp(-120.0, 90.0)) as f32;
    if x.is_nan() {
        x
    } else {
        e
    }
}

/// `tanh(x)` for `f32`, within one ulp.
#[inline]
pub fn tanh_f32(x: f32) -> f32 {
    let a = f64::from(x).abs();
    // tanh(a) = 1 - 2 / (e^{2a} + 1); past a = 20 it rounds to 1 in f32.
    let e = exp_f64(2.0 * a.min(20.0));
    let t = (1.0 - 2.0 / (e + 1.0)) as f32;
    // Below 2^-12, tanh(x) rounds to x (and the formula above would lose digits).
    let t = if a < 1.0 / 4096.0 { x.abs() } else { t };
    if x.is_nan() {
        x
    } else {
        t.copysign(x)
    }
}

/// The logistic function `1 / (1 + e^-z)` for `f32`, within one ulp, without overflow.
#[inline]
pub fn sigmoid_f32(z: f32) -> f32 {
    let z64 = f64::from(z);
    // e^-|z|, clamped where sigmoid(-|z|) is below half the smallest f32 subnormal.
    let e = exp_f64(-(z64.abs().min(110.0)));
    let s = if z64 >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
    if z.is_nan() {
        z
    } else {
        s as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite f32 of the same sign.
    fn ulps(a: f32, b: f32) -> u32 {
        if a == b {
            return 0;
        }
        assert_eq!(a.is_sign_negative(), b.is_sign_negative(), "{a} vs {b}");
        a.to_bits().abs_diff(b.to_bits())
    }

    /// Every 97th f32 from -30 to 30 and a log-spaced sweep out to the largest finite value.
    fn samples() -> Vec<f32> {
        let mut v: Vec<f32> = (0..((60.0 / 1e-4) as i64 / 97))
            .map(|i| -30.0 + (i * 97) as f32 * 1e-4)
            .collect();
        let mut x = f32::from_bits(1);
        while x.is_finite() {
            v.push(x);
            v.push(-x);
            // Subnormals do not grow by a factor: step at least one representable value.
            x = (x * 1.001).max(f32::from_bits(x.to_bits() + 1));
        }
        v.extend([
            0.0,
            -0.0,
            1.0 / 4096.0,
            -1.0 / 4096.0,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
        ]);
        v
    }

    #[test]
    fn tanh_is_within_one_ulp_of_the_exact_value() {
        for x in samples() {
            let exact = f64::from(x).tanh() as f32;
            let got = tanh_f32(x);
            assert!(ulps(got, exact) <= 1, "tanh({x:e}) = {got:e}, exact {exact:e}");
        }
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
        assert!(tanh_f32(-0.0).is_sign_negative());
    }

    #[test]
    fn sigmoid_is_within_one_ulp_of_the_exact_value() {
        for z in samples() {
            let z64 = f64::from(z);
            let exact = if z64 >= 0.0 {
                1.0 / (1.0 + (-z64).exp())
            } else {
                z64.exp() / (1.0 + z64.exp())
            } as f32;
            let got = sigmoid_f32(z);
            assert!(ulps(got, exact) <= 1, "sigmoid({z:e}) = {got:e}, exact {exact:e}");
        }
        assert_eq!(sigmoid_f32(f32::INFINITY), 1.0);
        assert_eq!(sigmoid_f32(f32::NEG_INFINITY), 0.0);
        assert!(sigmoid_f32(f32::NAN).is_nan());
    }

    #[test]
    fn exp_is_within_one_ulp_of_the_exact_value() {
        for x in samples().into_iter().filter(|x| x.abs() < 200.0) {
            let exact = f64::from(x).exp() as f32;
            let got = exp_f32(x);
            if exact.is_infinite() || exact == 0.0 {
                assert_eq!(got, exact, "exp({x:e})");
            } else {
                assert!(ulps(got, exact) <= 1, "exp({x:e}) = {got:e}, exact {exact:e}");
            }
        }
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::MAX), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn the_exponential_is_accurate_over_its_range() {
        let mut y = -120.0;
        while y <= 50.0 {
            let relative = (exp_f64(y) - y.exp()).abs() / y.exp();
            assert!(relative < 1e-14, "exp({y}): relative error {relative:e}");
            y += 0.0137;
        }
    }
}
