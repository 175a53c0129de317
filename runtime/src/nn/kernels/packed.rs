//! Batched `f32` matrix products for AVX2 with FMA, on packed panels: the forward pass
//! (`out = W x + b`) and the weight gradient (`g = d a^T`, optionally added to `g`).
//!
//! One register tile of 16 rows by 6 columns runs over each product: two row vectors, six
//! broadcasts and twelve accumulators per step, no bounds check inside the loop. The forward
//! pass reads the 6 samples' inputs where they are. Below 48 samples (or with at most 256
//! inputs) it reads a whole tile's 16 rows of each weight column where they are too, in
//! blocks of at most 256 inputs; from 48 samples on, the first group of samples reads them
//! there and copies them into a panel on cache lines as it goes, which the other groups read,
//! in blocks of up to 1024 inputs (on Zen 3, 5-8% faster at 64 to 128 samples). The weight
//! gradient copies the deltas of up to
//! 256 samples into 16-row panels and each group of 6 inputs into a panel of its own
//! (thread-local buffers, allocated once per thread and reused), as does the forward pass for
//! a last tile of fewer than 16 rows. The auto-vectorized tiles of `portable` read six strided
//! columns with a bounds check each (and spill nothing only just); on Zen 2 (16 vector
//! registers) these kernels trained a 784-128-10 network at batch 128 about 17% faster and ran
//! its inference about 30% faster.
//!
//! Every value is the sum `portable` computes, in the same order: the forward pass starts from
//! the bias and adds `W[r, k] x[k]` for `k` in order with one fused multiply-add each; the
//! weight gradient starts from the first sample's product (or from `g` when adding) and adds
//! the other samples' in order. Tiles and panels only change which values are computed
//! together, so the bits are those of every other path with fused multiply-adds. Rows and
//! columns past the edge of the matrix are padded with zeros in the panels and never stored.

use std::arch::x86_64::{__m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_storeu_ps};
use std::cell::Cell;

/// Rows per register tile: two 8-lane vectors.
const MR: usize = 16;
/// Columns per register tile (samples of the forward pass, inputs of the weight gradient).
const NR: usize = 6;
/// The most inputs per block of the forward pass (the blocks are of equal length): the
/// tile's weight panel (at most 16 KiB) stays in L1 while every sample's inputs stream past.
const K_BLOCK: usize = 256;
/// The most inputs per block of the forward pass from [`PACK_SAMPLES`] samples on, when the
/// weights are read from panels: a tile's panel of at most 64 KiB streams from L2.
const K_PACKED_BLOCK: usize = 1024;
/// The fewest samples for which the forward pass copies the weights into panels (of layers
/// of more than [`K_BLOCK`] inputs). On Zen 3, a 128 x 784 layer ran 2% faster from panels
/// at 48 samples, 5% at 64, 8% at 128 and 15% at 256, and 2% slower at 32.
const PACK_SAMPLES: usize = 48;
/// Samples per block of the weight gradient: a column panel of 6 KiB in L1, the deltas' row
/// panels (16 KiB each) streaming from L2.
const J_BLOCK: usize = 256;

/// Whether these kernels take a product of an `o x i` matrix and `n` samples: batches of at
/// least 12 samples and matrices of at least 4096 values. Smaller ones stay on the unpacked
/// tiles, which read a lone sample's weights once without copying them and cost less to set
/// up for small layers (a 64-32-10 network at batch 32 trained 3% slower on Zen 2 with its
/// 32 x 64 layer packed).
#[inline]
pub(crate) fn takes(o: usize, i: usize, n: usize) -> bool {
    n >= 2 * NR && o * i >= 4096
}

thread_local! {
    /// The panel of the register tile's rows (weights, or deltas).
    static ROW_PANEL: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// The panels of the tile's columns (inputs).
    static COLUMN_PANEL: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// `buffer` long enough for [`aligned`] to take `len` values from it (grown only when a larger
/// product comes).
fn at_least(mut buffer: Vec<f32>, len: usize) -> Vec<f32> {
    if buffer.len() < len + ALIGN - 1 {
        buffer.resize(len + ALIGN - 1, 0.0);
    }
    buffer
}

/// Values per cache line: panels start on one.
const ALIGN: usize = 16;

/// `len` values of `buffer` (grown by [`at_least`]) starting on a cache line.
fn aligned(buffer: &mut [f32], len: usize) -> &mut [f32] {
    let skip = buffer.as_ptr().align_offset(64).min(ALIGN - 1);
    &mut buffer[skip..skip + len]
}

/// `out[:, j] = W x[:, j] + b` for `W` `o x i` column-major, `x` `i x n`, `out` `o x n`.
#[target_feature(enable = "avx2,fma")]
pub(crate) fn dense_forward(w: &[f32], b: &[f32], x: &[f32], out: &mut [f32], o: usize, i: usize, n: usize) {
    let (w, b, x, out) = (&w[..o * i], &b[..o], &x[..i * n], &mut out[..o * n]);
    if i == 0 {
        for column in out.chunks_exact_mut(o) {
            column.copy_from_slice(b);
        }
        return;
    }
    // Where whole tiles read their weights. For a batch of 48 samples or more and more than
    // 256 inputs, each tile's weights are copied into a panel on cache lines by the first
    // group of samples, which reads them where they are, and the other groups read the
    // panel: blocks of up to 1024 inputs, the panel (at most 64 KiB) streaming from L2.
    // Otherwise every group reads them where they are (the copy measured 3% slower at batch
    // 32 on Zen 2 and 2% on Zen 3; with 120 inputs, one block either way, 1.5% slower at
    // batch 128 on Zen 3), in blocks of at most 256 inputs.
    let packing = n >= PACK_SAMPLES && i > K_BLOCK;
    let most = if packing { K_PACKED_BLOCK } else { K_BLOCK };
    // Blocks of equal length (a short last block would load and store every tile for a few
    // steps).
    let block = i.div_ceil(i.div_ceil(most));
    let mut rows_panel = at_least(ROW_PANEL.take(), MR * block);
    let mut k0 = 0;
    while k0 < i {
        let kb = block.min(i - k0);
        let mut r = 0;
        while r < o {
            let rows = MR.min(o - r);
            let panel = aligned(&mut rows_panel, MR * kb);
            let weights = &w[k0 * o..(k0 + kb) * o];
            // A last, partial tile reads a panel padded with zeros.
            let source = if rows == MR && !packing {
                Weights::InPlace
            } else if rows == MR {
                Weights::Packing
            } else {
                pack::<MR>(panel, w, o, r, rows, k0, kb);
                Weights::Packed
            };
            let mut j = 0;
            while j < n {
                let cols = NR.min(n - j);
                // The samples' inputs are read where they are (six streams); a group of
                // fewer than six repeats its first sample, whose extra sums are not stored.
                let input = |c: usize| &x[(j + if c < cols { c } else { 0 }) * i + k0..][..kb];
                let inputs = [input(0), input(1), input(2), input(3), input(4), input(5)];
                let mut acc = Tile::zero();
                for c in 0..cols {
                    let from = if k0 == 0 {
                        &b[r..r + rows]
                    } else {
                        &out[(j + c) * o + r..][..rows]
                    };
                    acc.load(c, from);
                }
                if j == 0 && matches!(source, Weights::Packing) {
                    acc.multiply_add_group::<true>(weights, o, r, &inputs, panel, cols);
                } else {
                    let (from, stride, row) = match source {
                        Weights::InPlace => (weights, o, r),
                        _ => (&*panel, MR, 0),
                    };
                    acc.multiply_add_group::<false>(from, stride, row, &inputs, &mut [], cols);
                }
                for c in 0..cols {
                    acc.store(c, &mut out[(j + c) * o + r..][..rows]);
                }
                j += cols;
            }
            r += rows;
        }
        k0 += kb;
    }
    ROW_PANEL.set(rows_panel);
}

/// `g = sum_j d[:, j] a[:, j]^T` for `d` `o x n`, `a` `i x n`, `g` `o x i` (`n >= 1`); with
/// `add`, `g += ...` (the sums continue from `g`'s values, in the same order).
#[target_feature(enable = "avx2,fma")]
pub(crate) fn weight_gradient(g: &mut [f32], d: &[f32], a: &[f32], o: usize, i: usize, n: usize, add: bool) {
    let (g, d, a) = (&mut g[..o * i], &d[..o * n], &a[..i * n]);
    let row_tiles = o.div_ceil(MR);
    let block = J_BLOCK.min(n);
    let mut rows_panel = at_least(ROW_PANEL.take(), row_tiles * MR * block);
    let mut columns_panel = at_least(COLUMN_PANEL.take(), NR * block);
    let mut j0 = 0;
    while j0 < n {
        let jb = block.min(n - j0);
        // Every row tile's panel of deltas for the block: `jb` samples of 16 rows each.
        let rows_panel = aligned(&mut rows_panel, row_tiles * MR * jb);
        for (t, panel) in rows_panel.chunks_exact_mut(MR * jb).enumerate() {
            let r = t * MR;
            pack::<MR>(panel, d, o, r, MR.min(o - r), j0, jb);
        }
        let first = j0 == 0 && !add;
        let mut k = 0;
        while k < i {
            let cols = NR.min(i - k);
            let columns = aligned(&mut columns_panel, NR * jb);
            pack::<NR>(columns, a, i, k, cols, j0, jb);
            for (t, panel) in rows_panel.chunks_exact(MR * jb).enumerate() {
                let r = t * MR;
                let rows = MR.min(o - r);
                let mut acc = Tile::zero();
                if first {
                    // The first sample's product starts each sum (a product, not an add).
                    acc.product(&panel[..MR], &columns[..NR]);
                    acc.multiply_add(&panel[MR..], &columns[NR..]);
                } else {
                    for c in 0..cols {
                        acc.load(c, &g[(k + c) * o + r..][..rows]);
                    }
                    acc.multiply_add(panel, columns);
                }
                for c in 0..cols {
                    acc.store(c, &mut g[(k + c) * o + r..][..rows]);
                }
            }
            k += cols;
        }
        j0 += jb;
    }
    ROW_PANEL.set(rows_panel);
    COLUMN_PANEL.set(columns_panel);
}

/// Values `from..from + len` of the columns `first..first + count` of `matrix` (columns of
/// `stride` values), as `count` runs of `W` (zeros past `len`): a panel of weights (`W = 16`
/// rows of the columns of `W`), of deltas (16 rows of the samples of `d`) or of inputs (6
/// inputs of the samples of `a`).
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn pack<const W: usize>(
    panel: &mut [f32],
    matrix: &[f32],
    stride: usize,
    from: usize,
    len: usize,
    first: usize,
    count: usize,
) {
    let columns = matrix[first * stride..(first + count) * stride].chunks_exact(stride);
    let runs = panel.as_chunks_mut::<W>().0.iter_mut().zip(columns);
    if len == W {
        // A copy of a known length: moves of vectors, not a call to `memcpy`.
        for (run, column) in runs {
            run.copy_from_slice(&column[from..from + W]);
        }
    } else {
        for (run, column) in runs {
            run[..len].copy_from_slice(&column[from..from + len]);
            run[len..].fill(0.0);
        }
    }
}

/// Where a row tile of the forward pass reads its weights.
#[derive(Clone, Copy)]
enum Weights {
    /// In the weight matrix, for every group of samples.
    InPlace,
    /// In the weight matrix for the first group, which copies them into the panel; in the
    /// panel for the others.
    Packing,
    /// In the panel, for every group.
    Packed,
}

/// A register tile: 16 rows of 6 columns, two vectors per column.
struct Tile([__m256; 2 * NR]);

impl Tile {
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn zero() -> Tile {
        Tile([_mm256_set1_ps(0.0); 2 * NR])
    }

    /// Column `c` from `values` (up to 16 rows; the rest zero).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn load(&mut self, c: usize, values: &[f32]) {
        if values.len() == MR {
            self.0[2 * c] = load8(&values[..8]);
            self.0[2 * c + 1] = load8(&values[8..]);
        } else {
            let mut rows = [0.0f32; MR];
            rows[..values.len()].copy_from_slice(values);
            self.0[2 * c] = load8(&rows[..8]);
            self.0[2 * c + 1] = load8(&rows[8..]);
        }
    }

    /// Column `c` into `values` (its first `values.len()` rows).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn store(&self, c: usize, values: &mut [f32]) {
        if values.len() == MR {
            store8(self.0[2 * c], &mut values[..8]);
            store8(self.0[2 * c + 1], &mut values[8..]);
        } else {
            let mut rows = [0.0f32; MR];
            store8(self.0[2 * c], &mut rows[..8]);
            store8(self.0[2 * c + 1], &mut rows[8..]);
            let len = values.len();
            values.copy_from_slice(&rows[..len]);
        }
    }

    /// `tile = rows[m] * columns[c]`: one run of each panel.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn product(&mut self, rows: &[f32], columns: &[f32]) {
        let (top, bottom) = (load8(&rows[..8]), load8(&rows[8..MR]));
        for (c, &value) in columns[..NR].iter().enumerate() {
            let column = _mm256_set1_ps(value);
            self.0[2 * c] = _mm256_mul_ps(top, column);
            self.0[2 * c + 1] = _mm256_mul_ps(bottom, column);
        }
    }

    /// [`Tile::multiply_add_samples`] for the first `cols` columns (1 to 6); with `PACK`,
    /// copying each run of 16 rows it reads into `panel` (one run after the other).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn multiply_add_group<const PACK: bool>(
        &mut self,
        rows: &[f32],
        stride: usize,
        r: usize,
        inputs: &[&[f32]; NR],
        panel: &mut [f32],
        cols: usize,
    ) {
        match cols {
            6 => self.multiply_add_samples::<6, PACK>(rows, stride, r, inputs, panel),
            5 => self.multiply_add_samples::<5, PACK>(rows, stride, r, inputs, panel),
            4 => self.multiply_add_samples::<4, PACK>(rows, stride, r, inputs, panel),
            3 => self.multiply_add_samples::<3, PACK>(rows, stride, r, inputs, panel),
            2 => self.multiply_add_samples::<2, PACK>(rows, stride, r, inputs, panel),
            _ => self.multiply_add_samples::<1, PACK>(rows, stride, r, inputs, panel),
        }
    }

    /// `tile += rows[t][r + m] * inputs[c][t]` for every column `t` of `rows` (columns of
    /// `stride` values), in order, for the first `C` columns of the tile (the others are left
    /// as they are). With `PACK`, each run of 16 rows read is also copied into `panel` (at
    /// least 16 values per column of `rows`).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn multiply_add_samples<const C: usize, const PACK: bool>(
        &mut self,
        rows: &[f32],
        stride: usize,
        r: usize,
        inputs: &[&[f32]; NR],
        panel: &mut [f32],
    ) {
        let len = rows.len() / stride;
        // Each sliced to the block's length, so that no read in the loop needs a check.
        let (x0, x1, x2) = (&inputs[0][..len], &inputs[1][..len], &inputs[2][..len]);
        let (x3, x4, x5) = (&inputs[3][..len], &inputs[4][..len], &inputs[5][..len]);
        let panel = if PACK { &mut panel[..len * MR] } else { panel };
        let mut acc = self.0;
        for (t, column) in rows.chunks_exact(stride).enumerate().take(len) {
            let run = &column[r..r + MR];
            let top = load8(&run[..8]);
            let bottom = load8(&run[8..]);
            if PACK {
                store8(top, &mut panel[t * MR..][..8]);
                store8(bottom, &mut panel[t * MR + 8..][..8]);
            }
            let values = [x0[t], x1[t], x2[t], x3[t], x4[t], x5[t]];
            for c in 0..C {
                let value = _mm256_set1_ps(values[c]);
                acc[2 * c] = _mm256_fmadd_ps(top, value, acc[2 * c]);
                acc[2 * c + 1] = _mm256_fmadd_ps(bottom, value, acc[2 * c + 1]);
            }
        }
        self.0 = acc;
    }

    /// `tile += rows[t][m] * columns[t][c]` for every run `t` of the panels, in order.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn multiply_add(&mut self, rows: &[f32], columns: &[f32]) {
        let mut acc = self.0;
        let runs = rows.as_chunks::<MR>().0.iter().zip(columns.as_chunks::<NR>().0);
        for (run, column) in runs {
            let top = load8(&run[..8]);
            let bottom = load8(&run[8..]);
            for c in 0..NR {
                let value = _mm256_set1_ps(column[c]);
                acc[2 * c] = _mm256_fmadd_ps(top, value, acc[2 * c]);
                acc[2 * c + 1] = _mm256_fmadd_ps(bottom, value, acc[2 * c + 1]);
            }
        }
        self.0 = acc;
    }
}

/// The 8 values of `values` (exactly 8 long) as a vector.
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unsafe_code)]
fn load8(values: &[f32]) -> __m256 {
    assert_eq!(values.len(), 8);
    // SAFETY: `values` holds 8 `f32` (checked above), the 32 bytes an unaligned load reads.
    unsafe { _mm256_loadu_ps(values.as_ptr()) }
}

/// `vector` into `values` (exactly 8 long).
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(unsafe_code)]
fn store8(vector: __m256, values: &mut [f32]) {
    assert_eq!(values.len(), 8);
    // SAFETY: `values` holds 8 `f32` (checked above), the 32 bytes an unaligned store writes.
    unsafe { _mm256_storeu_ps(values.as_mut_ptr(), vector) }
}
