//! Softmax and log-sum-exp of every column of a batch, a group of columns (samples) at a
//! time with the samples along the vector lanes.
//!
//! One sample's softmax is a chain: its maximum, then its exponentials, then their sum in
//! order, each step waiting on the one before. A group of [`LANES`] samples runs the same
//! chain in every lane at once: the group is transposed into a local array (one row of lanes
//! per class), and each step is one vector operation per class. Every value is computed as
//! [`softmax_into`] and [`log_sum_exp`] compute it for one sample, in the same order, so the
//! results are the same bits. Samples with an infinite maximum (an infinite logit, or every
//! logit `-inf`), columns of more than [`MAX_ROWS`] classes, and groups of fewer than
//! [`FEWEST`] samples take the one-sample functions.

use crate::nn::activation::{log_sum_exp, softmax_into};
use crate::real::Real;

/// Samples per group.
pub(crate) const LANES: usize = 16;
/// The fewest columns worth a group (fewer take the one-sample functions: a group computes
/// all its lanes, used or not).
pub(crate) const FEWEST: usize = 4;
/// The most classes a column may have to go through a group (the local array holds
/// `LANES * MAX_ROWS` values: 4 KiB in `f64`).
pub(crate) const MAX_ROWS: usize = 32;

/// A group's values after the exponentials: `exps[r][s] = exp(z[r][s] - max[s])`, and per
/// lane the maximum and the sum of the exponentials.
struct Group<T> {
    exps: [[T; LANES]; MAX_ROWS],
    max: [T; LANES],
    sum: [T; LANES],
}

impl<T: Real> Group<T> {
    /// The `count` columns of `rows` values in `pre` (`count <= LANES`, `rows <= MAX_ROWS`);
    /// the unused lanes hold zeros.
    #[inline(always)]
    fn new(pre: &[T], rows: usize, count: usize) -> Self {
        let mut exps = [[T::zero(); LANES]; MAX_ROWS];
        for (s, column) in pre.chunks_exact(rows).take(count).enumerate() {
            for (row, &z) in exps.iter_mut().zip(column) {
                row[s] = z;
            }
        }
        let exps_rows = &mut exps[..rows];
        // The maximum as `max_of` folds it, one class after another.
        let mut max = [T::NEG_INFINITY; LANES];
        for row in exps_rows.iter() {
            for (m, &z) in max.iter_mut().zip(row) {
                *m = if z > *m { z } else { *m };
            }
        }
        for row in exps_rows.iter_mut() {
            for (e, &m) in row.iter_mut().zip(&max) {
                *e = (*e - m).exp_activation();
            }
        }
        // The sum in class order from zero, as the one-sample functions fold it.
        let mut sum = [T::zero(); LANES];
        for row in exps_rows.iter() {
            for (s, &e) in sum.iter_mut().zip(row) {
                *s += e;
            }
        }
        Group { exps, max, sum }
    }

    /// Whether lane `s` needs the one-sample function (an infinite maximum).
    #[inline(always)]
    fn special(&self, s: usize) -> bool {
        let m = self.max[s];
        m == T::NEG_INFINITY || m == -T::NEG_INFINITY
    }
}

/// `act = softmax(pre)` column by column, `rows` values per column ([`softmax_into`] of
/// each). `act` is as long as `pre`, which holds whole columns.
#[inline(always)]
pub(crate) fn softmax<T: Real>(pre: &[T], act: &mut [T], rows: usize) {
    if rows == 0 {
        return;
    }
    if rows > MAX_ROWS {
        for (z, a) in pre.chunks_exact(rows).zip(act.chunks_exact_mut(rows)) {
            softmax_into(z, a);
        }
        return;
    }
    for (pre, act) in pre.chunks(rows * LANES).zip(act.chunks_mut(rows * LANES)) {
        let count = pre.len() / rows;
        if count < FEWEST {
            for (z, a) in pre.chunks_exact(rows).zip(act.chunks_exact_mut(rows)) {
                softmax_into(z, a);
            }
            continue;
        }
        let group = Group::new(pre, rows, count);
        for (s, (z, a)) in pre.chunks_exact(rows).zip(act.chunks_exact_mut(rows)).enumerate() {
            if group.special(s) {
                softmax_into(z, a);
                continue;
            }
            let sum = group.sum[s];
            for (a, row) in a.iter_mut().zip(&group.exps) {
                *a = row[s] / sum;
            }
        }
    }
}

/// `out[j] = ln(sum(exp(column j)))` for the `out.len()` columns of `rows` values in `pre`
/// ([`log_sum_exp`] of each).
#[inline(always)]
pub(crate) fn log_sum_exp_columns<T: Real>(pre: &[T], rows: usize, out: &mut [T]) {
    if rows == 0 {
        out.fill(T::NEG_INFINITY);
        return;
    }
    if rows > MAX_ROWS {
        for (z, o) in pre.chunks_exact(rows).zip(out.iter_mut()) {
            *o = log_sum_exp(z);
        }
        return;
    }
    for (pre, out) in pre.chunks(rows * LANES).zip(out.chunks_mut(LANES)) {
        let count = out.len().min(pre.len() / rows);
        if count < FEWEST {
            for (z, o) in pre.chunks_exact(rows).zip(out.iter_mut()) {
                *o = log_sum_exp(z);
            }
            continue;
        }
        let group = Group::new(pre, rows, count);
        for (s, (z, o)) in pre.chunks_exact(rows).zip(out.iter_mut()).enumerate() {
            *o = if group.special(s) {
                log_sum_exp(z)
            } else {
                group.max[s] + group.sum[s].ln()
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{LANES, MAX_ROWS};
    use crate::nn::activation::{log_sum_exp, softmax_into};
    use crate::nn::kernels::{log_sum_exp_columns_on, softmax_columns_on, KernelPath};
    use crate::real::Real;

    /// The same bits, or both NaN.
    fn same<T: Real>(a: T, b: T) -> bool {
        a.to_f64().to_bits() == b.to_f64().to_bits() || (a.to_f64().is_nan() && b.to_f64().is_nan())
    }

    /// Columns of `rows` logits: spread values, large ones, and every third group with the
    /// special columns (a `+inf` logit, two of them, every logit `-inf`, a NaN, a `-inf`).
    fn logits<T: Real>(rows: usize, columns: usize) -> Vec<T> {
        let mut pre: Vec<T> = (0..rows * columns)
            .map(|k| T::cast(((k * 7919 + 13) % 211) as f64 / 7.0 - 15.0))
            .collect();
        for (j, column) in pre.chunks_mut(rows).enumerate() {
            let inf = -T::NEG_INFINITY;
            match j % 23 {
                3 => column[rows / 2] = T::cast(80.0),
                5 => column[rows - 1] = inf,
                7 if rows > 1 => {
                    column[0] = inf;
                    column[rows - 1] = inf;
                }
                11 => column.fill(T::NEG_INFINITY),
                13 => column[0] = T::cast(f64::NAN),
                17 => column[rows / 2] = T::NEG_INFINITY,
                19 => column.fill(T::cast(-1.0e30)),
                _ => {}
            }
        }
        pre
    }

    fn check<T: Real>() {
        for rows in [1, 2, 3, 10, 16, MAX_ROWS, MAX_ROWS + 1, 50] {
            for columns in [1, LANES - 1, LANES, LANES + 1, 3 * LANES + 7] {
                let pre = logits::<T>(rows, columns);
                let mut expected_act = vec![T::zero(); pre.len()];
                let mut expected_lse = vec![T::zero(); columns];
                for ((z, a), l) in pre
                    .chunks(rows)
                    .zip(expected_act.chunks_mut(rows))
                    .zip(&mut expected_lse)
                {
                    softmax_into(z, a);
                    *l = log_sum_exp(z);
                }
                for path in KernelPath::ALL {
                    // One value more in `act`, which stays as it was: whole columns only.
                    let mut act = vec![T::cast(7.0); pre.len() + 1];
                    softmax_columns_on(path, &pre, &mut act, rows);
                    for (k, (&a, &e)) in act.iter().zip(&expected_act).enumerate() {
                        assert!(same(a, e), "{path:?} {rows}x{columns}, value {k}: {a:?} vs {e:?}");
                    }
                    assert_eq!(act[pre.len()], T::cast(7.0));
                    let mut lse = vec![T::cast(7.0); columns + 1];
                    log_sum_exp_columns_on(path, &pre, rows, &mut lse);
                    for (j, (&l, &e)) in lse.iter().zip(&expected_lse).enumerate() {
                        assert!(same(l, e), "{path:?} {rows}x{columns}, column {j}: {l:?} vs {e:?}");
                    }
                    assert_eq!(lse[columns], T::cast(7.0), "no column beyond the logits");
                }
            }
        }
    }

    #[test]
    fn columns_give_the_bits_of_one_sample_at_a_time_in_f32() {
        check::<f32>();
    }

    #[test]
    fn columns_give_the_bits_of_one_sample_at_a_time_in_f64() {
        check::<f64>();
    }

    #[test]
    fn special_columns_take_the_limits() {
        let inf = f32::INFINITY;
        let pre = [0.0, inf, inf, 1.0, f32::NEG_INFINITY, f32::NEG_INFINITY];
        for path in KernelPath::ALL {
            let mut act = [0.0; 6];
            softmax_columns_on(path, &pre, &mut act, 2);
            assert_eq!(act, [0.0, 1.0, 1.0, 0.0, 0.5, 0.5]);
            let mut lse = [0.0; 3];
            log_sum_exp_columns_on(path, &pre, 2, &mut lse);
            assert_eq!(lse, [inf, inf, f32::NEG_INFINITY]);
        }
        // No rows: the log-sum-exp of nothing is -inf.
        let mut none = [1.0_f32; 2];
        log_sum_exp_columns_on(KernelPath::Portable, &[], 0, &mut none);
        assert_eq!(none, [f32::NEG_INFINITY; 2]);
    }
}
