//! The matrix products of a stride-1 convolution without a patch matrix: the kernels
//! [`crate::nn::conv`] runs when the stride is 1 (see its module documentation, "Method").
//!
//! With a stride of 1, the receptive field of output position `(oy, ox)` starts at `oy * wp +
//! ox` in each channel of the padded sample (`hp x wp` values per channel), and its value for
//! the weight column `kk = (channel, ky, kx)` is at `offset(kk) + oy * wp + ox`, where
//! `offset(kk) = channel * hp * wp + ky * wp + kx` ([`Taps::offset`]). Numbering the positions
//! `q = oy * wp + ox` over the padded width ("wide" positions, `q < (out_h - 1) * wp + out_w`,
//! [`Taps::wide`]) makes every row of the patch matrix a contiguous slice of the sample:
//! `sample[offset(kk)..][..wide]`. The positions with `ox >= out_w` are not output positions;
//! they are computed and dropped (forward), or carry a zero delta (backward), which costs
//! `wp / out_w` times the multiply-adds of the patch-matrix products and saves copying the
//! patches.
//!
//! Each kernel is generic over its register tiles and compiled once per kernel path by
//! `compile_for!` in [`crate::nn::kernels`], like the dense kernels; the sums run in a fixed
//! order that does not depend on the batch.

use super::portable::multiply_add;
use crate::real::Real;

/// Where the receptive fields of a stride-1 convolution are in one padded sample: its
/// channels, the values per channel (`hp * wp`) and per row (`wp`), and the kernel size.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taps {
    /// Input channels.
    pub channels: usize,
    /// Values per padded channel, `hp * wp`.
    pub plane: usize,
    /// Values per padded row, `wp`.
    pub row: usize,
    /// Kernel rows.
    pub kh: usize,
    /// Kernel columns.
    pub kw: usize,
}

impl Taps {
    /// The weight columns, `channels * kh * kw`.
    pub fn len(&self) -> usize {
        self.channels * self.kh * self.kw
    }

    /// Whether there are no weight columns (never, for a valid convolution).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the values of weight column `kk` start in the padded sample.
    pub fn offset(&self, kk: usize) -> usize {
        let per_channel = self.kh * self.kw;
        let (channel, tap) = (kk / per_channel, kk % per_channel);
        channel * self.plane + (tap / self.kw) * self.row + tap % self.kw
    }

    /// The wide positions of an `out_h x out_w` output, `(out_h - 1) * wp + out_w`: the last
    /// one is the last output position.
    pub fn wide(&self, out_h: usize, out_w: usize) -> usize {
        (out_h - 1) * self.row + out_w
    }
}

/// Lanes of the partial sums of [`weight_gradient`]'s dot products.
const LANES: usize = 8;

/// The forward product: `out[c * wide + q] = sum_kk sample[offset(kk) + q] * w[c + kk * o]`
/// for the `o` output channels `c` and the `wide` positions `q`, with `w` the weight (`o x
/// taps.len()`, column-major). Each sum starts from zero and runs over `kk` in order, one
/// multiply-add per term: the same operations, in the same order, as the patch-matrix product
/// of [`crate::nn::conv`] (so the output positions get the same bits).
///
/// Tiles of `R` positions by `NR` channels, then single channels in tiles of `TALL` positions.
#[inline(always)]
pub fn forward<T: Real, const R: usize, const NR: usize, const TALL: usize, const FMA: bool>(
    sample: &[T],
    w: &[T],
    out: &mut [T],
    taps: Taps,
    wide: usize,
    o: usize,
) {
    let out = &mut out[..o * wide];
    let mut c0 = 0;
    while c0 + NR <= o {
        macro_rules! tile {
            ($m:tt, $r:ident) => {
                forward_tile::<T, $m, NR, FMA>(sample, w, out, taps, wide, o, c0, $r)
            };
        }
        row_tiles!(wide, [R, 16, 8, 4, 2, 1], tile);
        c0 += NR;
    }
    while c0 < o {
        macro_rules! tile {
            ($m:tt, $r:ident) => {
                forward_tile::<T, $m, 1, FMA>(sample, w, out, taps, wide, o, c0, $r)
            };
        }
        row_tiles!(wide, [TALL, R, 16, 8, 4, 2, 1], tile);
        c0 += 1;
    }
}

/// Positions `r..r + M` of channels `c0..c0 + C` of [`forward`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_tile<T: Real, const M: usize, const C: usize, const FMA: bool>(
    sample: &[T],
    w: &[T],
    out: &mut [T],
    taps: Taps,
    wide: usize,
    o: usize,
    c0: usize,
    r: usize,
) {
    let mut acc = [[T::zero(); M]; C];
    // The weight columns in order, one per tap: the C weights of this tile in each.
    let mut w_cols = w[..o * taps.len()].chunks_exact(o);
    for channel in 0..taps.channels {
        for ky in 0..taps.kh {
            let from = &sample[channel * taps.plane + ky * taps.row + r..];
            for (kx, w_col) in (0..taps.kw).zip(&mut w_cols) {
                let mut x = [T::zero(); M];
                x.copy_from_slice(&from[kx..kx + M]);
                let mut wk = [T::zero(); C];
                wk.copy_from_slice(&w_col[c0..c0 + C]);
                for c in 0..C {
                    for m in 0..M {
                        acc[c][m] = multiply_add::<T, FMA>(x[m], wk[c], acc[c][m]);
                    }
                }
            }
        }
    }
    for (c, a) in acc.iter().enumerate() {
        out[(c0 + c) * wide + r..(c0 + c) * wide + r + M].copy_from_slice(a);
    }
}

/// The input gradient's product, added back over the receptive fields:
/// `dx[offset(kk) + q] += sum_c w[c + kk * o] * d[c * wide + q]` for every weight column `kk`
/// and wide position `q`, with `d` the delta at the wide positions (zero at those that are not
/// output positions) and `dx` the padded input gradient. Each sum starts from zero and runs
/// over the channels in order, one multiply-add per term (as the patch-matrix product of
/// [`crate::nn::conv`]), and the sums are added to `dx` block of `NR` columns by block, tile
/// of positions by tile, in a fixed order.
///
/// Tiles of `R` positions by `NR` weight columns, then single columns in tiles of `TALL`.
#[inline(always)]
pub fn input_gradient<T: Real, const R: usize, const NR: usize, const TALL: usize, const FMA: bool>(
    w: &[T],
    d: &[T],
    dx: &mut [T],
    taps: Taps,
    wide: usize,
    o: usize,
) {
    let k = taps.len();
    let d = &d[..o * wide];
    let mut k0 = 0;
    while k0 + NR <= k {
        let offsets: [usize; NR] = std::array::from_fn(|c| taps.offset(k0 + c));
        macro_rules! tile {
            ($m:tt, $r:ident) => {
                scatter_tile::<T, $m, NR, FMA>(w, d, dx, &offsets, wide, o, k0, $r)
            };
        }
        row_tiles!(wide, [R, 16, 8, 4, 2, 1], tile);
        k0 += NR;
    }
    while k0 < k {
        let offsets = [taps.offset(k0)];
        macro_rules! tile {
            ($m:tt, $r:ident) => {
                scatter_tile::<T, $m, 1, FMA>(w, d, dx, &offsets, wide, o, k0, $r)
            };
        }
        row_tiles!(wide, [TALL, R, 16, 8, 4, 2, 1], tile);
        k0 += 1;
    }
}

/// Positions `r..r + M` of the weight columns `k0..k0 + C` of [`input_gradient`], whose values
/// start at `offsets` in `dx`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn scatter_tile<T: Real, const M: usize, const C: usize, const FMA: bool>(
    w: &[T],
    d: &[T],
    dx: &mut [T],
    offsets: &[usize; C],
    wide: usize,
    o: usize,
    k0: usize,
    r: usize,
) {
    let mut acc = [[T::zero(); M]; C];
    for c_out in 0..o {
        let mut dv = [T::zero(); M];
        dv.copy_from_slice(&d[c_out * wide + r..c_out * wide + r + M]);
        for (c, a) in acc.iter_mut().enumerate() {
            let wv = w[c_out + (k0 + c) * o];
            for m in 0..M {
                a[m] = multiply_add::<T, FMA>(dv[m], wv, a[m]);
            }
        }
    }
    for (a, &offset) in acc.iter().zip(offsets) {
        for (to, &v) in dx[offset + r..offset + r + M].iter_mut().zip(a) {
            *to += v;
        }
    }
}

/// The weight gradient of one sample, added: `g[c + kk * o] += sum_q d[c * wide + q] *
/// sample[offset(kk) + q]` for the `o` channels `c` and the weight columns `kk`, with `d` the
/// delta at the wide positions (zero at those that are not output positions). Each dot product
/// runs in [`LANES`] partial sums (position `q` goes to lane `q % LANES`, in order of `q`, one
/// multiply-add per term), added pairwise at the end and then to `g`.
///
/// Tiles of `CO` channels by `CK` weight columns, then smaller ones.
#[inline(always)]
pub fn weight_gradient<T: Real, const CO: usize, const CK: usize, const FMA: bool>(
    sample: &[T],
    d: &[T],
    g: &mut [T],
    taps: Taps,
    wide: usize,
    o: usize,
) {
    let k = taps.len();
    let d = &d[..o * wide];
    let g = &mut g[..o * k];
    let mut k0 = 0;
    while k0 + CK <= k {
        let offsets: [usize; CK] = std::array::from_fn(|c| taps.offset(k0 + c));
        gradient_columns::<T, CO, CK, FMA>(sample, d, g, &offsets, wide, o, k0);
        k0 += CK;
    }
    while k0 < k {
        let offsets = [taps.offset(k0)];
        gradient_columns::<T, CO, 1, FMA>(sample, d, g, &offsets, wide, o, k0);
        k0 += 1;
    }
}

/// The weight columns `k0..k0 + CK` of [`weight_gradient`], channel tile by channel tile.
#[inline(always)]
fn gradient_columns<T: Real, const CO: usize, const CK: usize, const FMA: bool>(
    sample: &[T],
    d: &[T],
    g: &mut [T],
    offsets: &[usize; CK],
    wide: usize,
    o: usize,
    k0: usize,
) {
    let mut c0 = 0;
    while c0 + CO <= o {
        gradient_tile::<T, CO, CK, FMA>(sample, d, g, offsets, wide, o, k0, c0);
        c0 += CO;
    }
    while c0 + 2 <= o {
        gradient_tile::<T, 2, CK, FMA>(sample, d, g, offsets, wide, o, k0, c0);
        c0 += 2;
    }
    while c0 < o {
        gradient_tile::<T, 1, CK, FMA>(sample, d, g, offsets, wide, o, k0, c0);
        c0 += 1;
    }
}

/// Channels `c0..c0 + CO` by weight columns `k0..k0 + CK` of [`weight_gradient`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gradient_tile<T: Real, const CO: usize, const CK: usize, const FMA: bool>(
    sample: &[T],
    d: &[T],
    g: &mut [T],
    offsets: &[usize; CK],
    wide: usize,
    o: usize,
    k0: usize,
    c0: usize,
) {
    let mut lanes = [[[T::zero(); LANES]; CK]; CO];
    let d_rows: [&[T]; CO] = std::array::from_fn(|a| &d[(c0 + a) * wide..(c0 + a + 1) * wide]);
    let x_rows: [&[T]; CK] = std::array::from_fn(|b| &sample[offsets[b]..offsets[b] + wide]);
    let whole = wide - wide % LANES;
    // Every row as `whole / LANES` blocks of the same length, so that the loop below indexes
    // without bounds checks and the partial sums stay in registers.
    let blocks = whole / LANES;
    let d_blocks: [&[[T; LANES]]; CO] = std::array::from_fn(|a| &d_rows[a].as_chunks::<LANES>().0[..blocks]);
    let x_blocks: [&[[T; LANES]]; CK] = std::array::from_fn(|b| &x_rows[b].as_chunks::<LANES>().0[..blocks]);
    for m in 0..blocks {
        let dv: [[T; LANES]; CO] = std::array::from_fn(|a| d_blocks[a][m]);
        let xv: [[T; LANES]; CK] = std::array::from_fn(|b| x_blocks[b][m]);
        for a in 0..CO {
            for b in 0..CK {
                for l in 0..LANES {
                    lanes[a][b][l] = multiply_add::<T, FMA>(dv[a][l], xv[b][l], lanes[a][b][l]);
                }
            }
        }
    }
    for (l, q) in (whole..wide).enumerate() {
        for (lane_row, d_row) in lanes.iter_mut().zip(&d_rows) {
            for (lane, x_row) in lane_row.iter_mut().zip(&x_rows) {
                lane[l] = multiply_add::<T, FMA>(d_row[q], x_row[q], lane[l]);
            }
        }
    }
    for (a, row) in lanes.iter().enumerate() {
        for (b, l) in row.iter().enumerate() {
            let dot = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
            let at = c0 + a + (k0 + b) * o;
            g[at] += dot;
        }
    }
}

/// The weight gradient of one sample, added, with the channels along the vector lanes:
/// `g[c + kk * o] += d_t[p * o + c] * sample[offset(kk) + oy * row + ox]` for the output
/// positions `p = oy * out_w + ox` only (no work at the wide positions past each output row),
/// with `d_t` the sample's delta by position (`o` values per position). Each sum continues
/// from `g` and runs over the positions in order, one multiply-add per term: the order of the
/// patch-matrix product of [`crate::nn::conv`] (the same values, except that a sum whose
/// products are all -0 is +0 here, where the patch-matrix product starts from its first
/// product; [`weight_gradient`]'s to rounding; the same bits on every path with fused
/// multiply-adds). For layers of 16
/// channels or more, where a channel tile fills the vectors; [`weight_gradient`] reduces a
/// dot product per weight instead, which suits fewer channels and long rows.
///
/// Tiles of `CO` channels by `CK` weight columns, then smaller ones.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn weight_gradient_by_position<T: Real, const CO: usize, const CK: usize, const FMA: bool>(
    sample: &[T],
    d_t: &[T],
    g: &mut [T],
    taps: Taps,
    out_h: usize,
    out_w: usize,
    o: usize,
) {
    let d_t = &d_t[..out_h * out_w * o];
    let g = &mut g[..o * taps.len()];
    macro_rules! tile {
        ($co:tt, $c0:ident) => {
            position_columns::<T, $co, CK, FMA>(sample, d_t, g, taps, out_h, out_w, o, $c0)
        };
    }
    row_tiles!(o, [CO, 8, 4, 1], tile);
}

/// The channels `c0..c0 + CO` of [`weight_gradient_by_position`], weight column tile by tile.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn position_columns<T: Real, const CO: usize, const CK: usize, const FMA: bool>(
    sample: &[T],
    d_t: &[T],
    g: &mut [T],
    taps: Taps,
    out_h: usize,
    out_w: usize,
    o: usize,
    c0: usize,
) {
    macro_rules! tile {
        ($ck:tt, $k0:ident) => {
            position_tile::<T, CO, $ck, FMA>(sample, d_t, g, taps, out_h, out_w, o, c0, $k0)
        };
    }
    row_tiles!(taps.len(), [CK, 4, 1], tile);
}

/// Channels `c0..c0 + CO` by weight columns `k0..k0 + CK` of [`weight_gradient_by_position`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn position_tile<T: Real, const CO: usize, const CK: usize, const FMA: bool>(
    sample: &[T],
    d_t: &[T],
    g: &mut [T],
    taps: Taps,
    out_h: usize,
    out_w: usize,
    o: usize,
    c0: usize,
    k0: usize,
) {
    let mut acc = [[T::zero(); CO]; CK];
    for (b, a) in acc.iter_mut().enumerate() {
        a.copy_from_slice(&g[(k0 + b) * o + c0..][..CO]);
    }
    let offsets: [usize; CK] = std::array::from_fn(|b| taps.offset(k0 + b));
    for oy in 0..out_h {
        // The row's deltas, position by position, and each weight column's slice of the row.
        let d_row = &d_t[oy * out_w * o..(oy + 1) * out_w * o];
        let x_rows: [&[T]; CK] = std::array::from_fn(|b| &sample[offsets[b] + oy * taps.row..][..out_w]);
        for (ox, d_p) in d_row.chunks_exact(o).enumerate() {
            let mut dv = [T::zero(); CO];
            dv.copy_from_slice(&d_p[c0..c0 + CO]);
            for (a, x_row) in acc.iter_mut().zip(&x_rows) {
                let xk = x_row[ox];
                for c in 0..CO {
                    a[c] = multiply_add::<T, FMA>(dv[c], xk, a[c]);
                }
            }
        }
    }
    for (b, a) in acc.iter().enumerate() {
        g[(k0 + b) * o + c0..][..CO].copy_from_slice(a);
    }
}

/// The forward product with the channels along the vector lanes, at the output positions
/// only: `out_t[p * o + c] = sum_kk w[c + kk * o] * sample[offset(kk) + oy * row + ox]` for
/// the positions `p = oy * out_w + ox` (the output by position, `o` values for each). Each sum
/// starts from zero and runs over `kk` in order, one multiply-add per term: the operations of
/// [`forward`] (and of the patch-matrix product), so the same bits, without the work at the
/// wide positions past each output row. For layers of 16 channels or more.
///
/// Tiles of `CO` channels by `P` positions (consecutive positions, across output rows), then
/// smaller ones.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn forward_by_position<T: Real, const CO: usize, const P: usize, const FMA: bool>(
    sample: &[T],
    w: &[T],
    out_t: &mut [T],
    taps: Taps,
    out_h: usize,
    out_w: usize,
    o: usize,
) {
    let w = &w[..o * taps.len()];
    let out_t = &mut out_t[..out_h * out_w * o];
    macro_rules! tile {
        ($co:tt, $c0:ident) => {
            forward_positions::<T, $co, P, FMA>(sample, w, out_t, taps, out_h, out_w, o, $c0)
        };
    }
    row_tiles!(o, [CO, 8, 4, 1], tile);
}

/// The channels `c0..c0 + CO` of [`forward_by_position`], position tile by tile.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_positions<T: Real, const CO: usize, const P: usize, const FMA: bool>(
    sample: &[T],
    w: &[T],
    out_t: &mut [T],
    taps: Taps,
    out_h: usize,
    out_w: usize,
    o: usize,
    c0: usize,
) {
    macro_rules! tile {
        ($p:tt, $p0:ident) => {
            forward_position_tile::<T, CO, $p, FMA>(sample, w, out_t, taps, out_w, o, c0, $p0)
        };
    }
    row_tiles!(out_h * out_w, [P, 4, 1], tile);
}

/// Channels `c0..c0 + CO` at positions `p0..p0 + P` of [`forward_by_position`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_position_tile<T: Real, const CO: usize, const P: usize, const FMA: bool>(
    sample: &[T],
    w: &[T],
    out_t: &mut [T],
    taps: Taps,
    out_w: usize,
    o: usize,
    c0: usize,
    p0: usize,
) {
    // Where each position's receptive field starts in a channel of the padded sample.
    let starts: [usize; P] = std::array::from_fn(|j| {
        let p = p0 + j;
        (p / out_w) * taps.row + p % out_w
    });
    let mut acc = [[T::zero(); CO]; P];
    // The weight columns in order, one per tap: the CO weights of this tile in each.
    let mut w_cols = w.chunks_exact(o);
    for channel in 0..taps.channels {
        for ky in 0..taps.kh {
            let from = &sample[channel * taps.plane + ky * taps.row..];
            for (kx, w_col) in (0..taps.kw).zip(&mut w_cols) {
                let mut wv = [T::zero(); CO];
                wv.copy_from_slice(&w_col[c0..c0 + CO]);
                let x = &from[kx..];
                for (a, &start) in acc.iter_mut().zip(&starts) {
                    let xk = x[start];
                    for c in 0..CO {
                        a[c] = multiply_add::<T, FMA>(xk, wv[c], a[c]);
                    }
                }
            }
        }
    }
    for (j, a) in acc.iter().enumerate() {
        out_t[(p0 + j) * o + c0..][..CO].copy_from_slice(a);
    }
}
