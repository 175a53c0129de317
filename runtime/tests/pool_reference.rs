//! The pooling kernels against the straightforward definition (the original window-by-window
//! loops), bit for bit, for `f32` and `f64`: every window and stride from 1 to 3, odd and even
//! sizes, 1 to 3 channels and samples, with ties, signed zeros, infinities and NaNs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use retroprop_runtime::nn::pool::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, Pool2d};

macro_rules! reference_tests {
    ($t:ident, $bits:ident, $module:ident) => {
        mod $module {
            use super::*;

            /// Calls `f(plane_origin, window_origin, output_index)` for every window, in order.
            fn windows(g: &Pool2d, n: usize, mut f: impl FnMut(usize, usize, usize)) {
                let (plane_in, plane_out) = (g.in_h() * g.in_w(), g.out_h() * g.out_w());
                for p in 0..g.channels() * n {
                    for oy in 0..g.out_h() {
                        for ox in 0..g.out_w() {
                            let origin = oy * g.stride().0 * g.in_w() + ox * g.stride().1;
                            f(p * plane_in, origin, p * plane_out + oy * g.out_w() + ox);
                        }
                    }
                }
            }

            fn max_forward(g: &Pool2d, x: &[$t], n: usize) -> (Vec<$t>, Vec<u32>) {
                let (kh, kw) = g.window();
                let mut out = vec![0.0; g.output_len() * n];
                let mut argmax = vec![0; g.output_len() * n];
                windows(g, n, |plane, origin, o| {
                    let (mut best, mut best_at) = ($t::NEG_INFINITY, origin);
                    for row in 0..kh {
                        let start = origin + row * g.in_w();
                        for at in start..start + kw {
                            let v = x[plane + at];
                            if v > best || v.is_nan() {
                                (best, best_at) = (v, at);
                            }
                        }
                    }
                    out[o] = best;
                    argmax[o] = best_at as u32;
                });
                (out, argmax)
            }

            fn max_backward(g: &Pool2d, argmax: &[u32], grad_out: &[$t], n: usize) -> Vec<$t> {
                let (plane_in, plane_out) = (g.in_h() * g.in_w(), g.out_h() * g.out_w());
                let mut grad_in = vec![0.0; g.input_len() * n];
                for o in 0..g.output_len() * n {
                    grad_in[o / plane_out * plane_in + argmax[o] as usize] += grad_out[o];
                }
                grad_in
            }

            fn avg_forward(g: &Pool2d, x: &[$t], n: usize) -> Vec<$t> {
                let (kh, kw) = g.window();
                let divisor = (kh * kw) as $t;
                let mut out = vec![0.0; g.output_len() * n];
                windows(g, n, |plane, origin, o| {
                    let mut sum: $t = 0.0;
                    for row in 0..kh {
                        let start = origin + row * g.in_w();
                        for at in start..start + kw {
                            sum += x[plane + at];
                        }
                    }
                    out[o] = sum / divisor;
                });
                out
            }

            fn avg_backward(g: &Pool2d, grad_out: &[$t], n: usize) -> Vec<$t> {
                let (kh, kw) = g.window();
                let divisor = (kh * kw) as $t;
                let mut grad_in = vec![0.0; g.input_len() * n];
                windows(g, n, |plane, origin, o| {
                    let share = grad_out[o] / divisor;
                    for row in 0..kh {
                        let start = origin + row * g.in_w();
                        for at in start..start + kw {
                            grad_in[plane + at] += share;
                        }
                    }
                });
                grad_in
            }

            /// Random values, mostly from a few (ties), some special: signed zeros,
            /// infinities, NaNs with different payloads and signs; or, with `plain`, random
            /// finite values (for sums whose rounding depends on the order).
            fn values(len: usize, rng: &mut ChaCha8Rng, plain: bool) -> Vec<$t> {
                (0..len)
                    .map(|_| {
                        if plain || rng.random_bool(0.3) {
                            return rng.random_range(-1.0..1.0);
                        }
                        match rng.random_range(0..10) {
                            0 => 0.0,
                            1 => -0.0,
                            2 => $t::INFINITY,
                            3 => $t::NEG_INFINITY,
                            4 => $t::from_bits($t::NAN.to_bits() | rng.random_range(1..100)),
                            5 => -$t::from_bits($t::NAN.to_bits() | rng.random_range(1..100)),
                            k => (k - 7) as $t,
                        }
                    })
                    .collect()
            }

            fn bits(values: &[$t]) -> Vec<$bits> {
                values.iter().map(|v| v.to_bits()).collect()
            }

            /// [`bits`] with every NaN the same: which NaN an arithmetic operation on NaNs
            /// returns is not specified in Rust (on x86 it is one of its operands, the one
            /// the compiler happened to put first), so sums only compare as "NaN". Max
            /// pooling copies values and compares with [`bits`], NaN payloads included.
            fn sum_bits(values: &[$t]) -> Vec<$bits> {
                values
                    .iter()
                    .map(|v| {
                        if v.is_nan() {
                            $t::NAN.to_bits()
                        } else {
                            v.to_bits()
                        }
                    })
                    .collect()
            }

            fn geometries() -> Vec<Pool2d> {
                let mut all = Vec::new();
                for (kh, kw) in (1..=3).flat_map(|kh| (1..=3).map(move |kw| (kh, kw))) {
                    for (sh, sw) in (1..=3).flat_map(|sh| (1..=3).map(move |sw| (sh, sw))) {
                        for (in_h, in_w) in [(kh, kw), (3, 3), (4, 7), (7, 4), (8, 8), (9, 5)] {
                            for channels in 1..=3 {
                                if let Some(g) = Pool2d::checked(channels, in_h, in_w, (kh, kw), (sh, sw)) {
                                    all.push(g);
                                }
                            }
                        }
                    }
                }
                all
            }

            #[test]
            fn the_kernels_give_the_bits_of_the_definition() {
                let mut rng = ChaCha8Rng::seed_from_u64(17);
                let geometries = geometries();
                assert!(geometries.len() > 1000);
                for g in geometries {
                    for n in 1..=3 {
                        for plain in [false, true] {
                            let x = values(g.input_len() * n, &mut rng, plain);
                            let d = values(g.output_len() * n, &mut rng, plain);
                            // Past the stated lengths, buffers are untouched and not read.
                            let mut out = vec![7.0; g.output_len() * n + 1];
                            let mut argmax = vec![u32::MAX; g.output_len() * n + 1];
                            max_pool_forward(&g, &x, &mut out, &mut argmax, n);
                            let (expected, expected_at) = max_forward(&g, &x, n);
                            assert_eq!(bits(&out[..expected.len()]), bits(&expected), "max {g:?} n={n}");
                            assert_eq!(argmax[..expected.len()], expected_at, "argmax {g:?} n={n}");
                            assert_eq!((out[expected.len()], argmax[expected.len()]), (7.0, u32::MAX));

                            let mut grad_in = vec![7.0; g.input_len() * n + 1];
                            max_pool_backward(&g, &expected_at, &d, &mut grad_in, n);
                            let expected = max_backward(&g, &expected_at, &d, n);
                            assert_eq!(
                                sum_bits(&grad_in[..expected.len()]),
                                sum_bits(&expected),
                                "max grad {g:?} n={n}"
                            );
                            assert_eq!(grad_in[expected.len()], 7.0);

                            avg_pool_forward(&g, &x, &mut out, n);
                            let expected = avg_forward(&g, &x, n);
                            assert_eq!(
                                sum_bits(&out[..expected.len()]),
                                sum_bits(&expected),
                                "avg {g:?} n={n}"
                            );
                            assert_eq!(out[expected.len()], 7.0);

                            avg_pool_backward(&g, &d, &mut grad_in, n);
                            let expected = avg_backward(&g, &d, n);
                            assert_eq!(
                                sum_bits(&grad_in[..expected.len()]),
                                sum_bits(&expected),
                                "avg grad {g:?} n={n}"
                            );
                            assert_eq!(grad_in[expected.len()], 7.0);
                        }
                    }
                }
            }
        }
    };
}

reference_tests!(f32, u32, single);
reference_tests!(f64, u64, double);
