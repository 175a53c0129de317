//! Inverted dropout, as the `dropout(p)` layer uses it.

use crate::nn::context::Context;
use crate::real::Real;
use rand::Rng;

/// Applies dropout to `input` in training mode: each value is zeroed with probability `p`
/// and the others are scaled by `1 / (1 - p)` (inverted dropout, so the expected activation
/// is unchanged and inference needs no scaling). The mask (0 or the scale, per value) is
/// written into `mask` for the backward pass; the result into the first `input.len()` values
/// of `out`, which it returns. Outside training mode, or for `p == 0`, the mask is all ones
/// and the input passes unchanged. Masks come from the context's seeded generator.
pub fn dropout_forward<'a, T: Real>(
    p: f64,
    input: &[T],
    mask: &mut [T],
    out: &'a mut [T],
    ctx: &mut Context,
) -> &'a [T] {
    let len = input.len().min(mask.len()).min(out.len());
    let (mask, out) = (&mut mask[..len], &mut out[..len]);
    if !ctx.is_training() || p <= 0.0 {
        mask.fill(T::cast(1.0));
        out.copy_from_slice(&input[..len]);
        return out;
    }
    let scale = T::cast(1.0 / (1.0 - p));
    let zero = T::cast(0.0);
    let rng = ctx.rng();
    for ((m, o), &x) in mask.iter_mut().zip(out.iter_mut()).zip(input) {
        *m = if rng.random::<f64>() < p { zero } else { scale };
        *o = x * *m;
    }
    out
}

/// The backward pass of [`dropout_forward`]: multiplies `grad` by the mask, in place.
pub fn dropout_backward<'a, T: Real>(mask: &[T], grad: &'a mut [T]) -> &'a mut [T] {
    for (g, &m) in grad.iter_mut().zip(mask) {
        *g *= m;
    }
    grad
}
