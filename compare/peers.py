#!/usr/bin/env python3
"""PyTorch (eager) and JAX on the speed benchmark's workloads, one thread, f32.

The Python peers of `compare/` (which measures candle and dfdx from Rust): the workloads of
`benches/speed.rs`, the same data (W6: data of the same distribution), the same rows under the
same names, so that `compare/run.sh` can put every framework's figure beside retroprop's.

    /work/venv/bin/python compare/peers.py              # all rows, PyTorch and JAX
    /work/venv/bin/python compare/peers.py W4           # rows whose name contains "W4"
    /work/venv/bin/python compare/peers.py W6 --no-jax  # W6 (PyTorch only anyway)
    /work/venv/bin/python compare/peers.py --no-jax     # PyTorch only
    /work/venv/bin/python compare/peers.py --rows       # also ROW<TAB>framework<TAB>row<TAB>rate

Workloads (as in the benchmark):

- W1 2-8-1: tanh hidden, sigmoid output, MSE, SGD lr 0.1; training at batch 1.
- W2 64-32-10: relu hidden, softmax output, cross-entropy, SGD lr 0.05; training at batch 1, 32.
- W3 784-128-10: relu, softmax, cross-entropy, SGD lr 0.01; training at batch 1, 32, 128;
  inference at batch 1, 128.
- W4 LeNet-5 without dropout on 1x28x28 images: conv 6 (kernel 5, padding 2) -> relu,
  max pool 2, conv 16 (kernel 5) -> relu, max pool 2, flatten, 120 -> relu, 84 -> relu,
  10 -> softmax; cross-entropy, SGD lr 0.01; training at batch 1, 32, 128; inference at
  batch 1, 128.
- W6 sparse 65536-64-2: a sparse input of 65536 features with 24 present per sample (distinct
  uniform indices, each value 1/24), a hidden dense layer of 64 units with no activation, 2
  -> softmax; cross-entropy, SGD lr 0.05; training at batch 1, 32; inference at batch 32. The
  benchmark's fit_sparse rows have no peer rows here. PyTorch only: W6 has no JAX rows
  (its JAX columns show -).

Data: a pool of 4096 samples (or one batch, if larger), inputs uniform in [0, 1) and one-hot
labels (uniform targets for W1), from ChaCha8 seeded as the benchmark seeds it (1 for training,
2 for inference). The generator below is rand 0.9's `ChaCha8Rng::seed_from_u64` with
`random::<f32>()` and `random_range(0..n)`, re-implemented with numpy, so every framework trains
on the same numbers. The pool is cut into consecutive batches, each a tensor built before
timing.

W6's data is not the benchmark's numbers (exact equality is not needed for a speed figure): a
pool of 4096 samples from numpy's `default_rng` (seed 6 for training, 8 for inference, the
benchmark's seeds), 24 distinct indices per sample drawn uniformly from 0..65536 and a label
uniform in {0, 1}. A batch is built before timing as a flat index tensor (int64, 24 per
sample) and an offsets tensor (0, 24, 48, ...).

Rows:

- PyTorch eager: `torch.set_num_threads(1)` (and one inter-op thread). A training step is
  `zero_grad`, forward, loss (`nn.CrossEntropyLoss` on the logits with class indices, or
  `nn.MSELoss`), `backward`, `SGD.step` (no momentum). Inference is the forward pass with the
  softmax under `torch.no_grad()`.
- PyTorch eager, W6: `nn.EmbeddingBag(65536, 64, mode="mean", sparse=True)` (the mean of the
  24 present rows is the hidden layer's product with the 1/24 values), plus the hidden
  layer's bias as a separate dense parameter of 64 (an EmbeddingBag has none), then
  `nn.Linear(64, 2)`; the embedding initialized like a `Linear(65536, 64)` (uniform in
  +-1/256). `torch.optim.SGD` applies the sparse gradient of the embedding (its 24 x batch
  touched rows). The rows "..., dense gradient" (PyTorch only, not in the benchmark) are the
  same with `sparse=False`: a dense 65536 x 64 gradient each step, and SGD's update of the
  whole table; compare/join.py, which follows the benchmark's rows, leaves them out.
- JAX, jit: one jitted function per step (forward, loss, `jax.grad`, the SGD update), called
  once per batch; inference a jitted forward with the softmax.
- JAX, scan: one jitted `jax.lax.scan` over an epoch of the pool (all its batches in order) per
  call, for training and inference, so that dispatch is paid once per 4096 samples.
  JAX runs on the CPU (`jax_platforms = cpu`) with
  `XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`; compilation
  is not timed (the jitted steps compile in the warm-up, the scans ahead of the passes).

One core: the script pins its process to one CPU (`os.sched_setaffinity`, the lowest it may
use; `--no-pin` leaves it free) before importing either framework. PyTorch computes on one
thread anyway, but JAX keeps runtime threads besides Python's (its dispatch runs ahead of the
computation), and XLA_FLAGS alone let a JAX step use more than one core at a time.

Each figure is samples per second (steps per second at batch 1), the median of 3 passes of
about 0.4 s (at least one call per pass) after a warm-up of 16 calls (none for the scans, which
are compiled ahead with `lower(...).compile()` and run 4096 samples a call). Beside each figure the table shows the
process's CPU time over wall time in the passes: above 1 means more than one core computed
(possible only with --no-pin), well below 1 that the process waited for a busy CPU.

CI never runs this script: it needs the Python packages of compare/requirements.txt (in a venv,
`pip install -r compare/requirements.txt`).
"""

import argparse
import os
import statistics
import sys
import time

# Before jax is imported: one thread for XLA's CPU back end.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import numpy as np

POOL = 4096
PASS_SECONDS = 0.4
PASSES = 3


# ---------------------------------------------------------------------------------------------
# The benchmark's data: rand 0.9's ChaCha8Rng, seeded with seed_from_u64.


def _pcg32_seed(state):
    """rand_core 0.9's `seed_from_u64`: 32 seed bytes from PCG32 steps, as 8 little-endian words."""
    mask = (1 << 64) - 1
    words = []
    for _ in range(8):
        state = (state * 6364136223846793005 + 11634580027462260723) & mask
        xorshifted = (((state >> 18) ^ state) >> 27) & 0xFFFFFFFF
        rot = state >> 59
        words.append(((xorshifted >> rot) | (xorshifted << ((32 - rot) & 31))) & 0xFFFFFFFF)
    return words


def chacha_words(key, count, rounds=8):
    """The first `count` 32-bit outputs of ChaCha with `rounds` rounds, 64-bit block counter from
    0 and stream 0 (rand_chacha's layout), computed for all blocks at once."""
    blocks = (count + 15) // 16
    counter = np.arange(blocks, dtype=np.uint64)
    init = [np.full(blocks, c, dtype=np.uint32) for c in (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)]
    init += [np.full(blocks, k, dtype=np.uint32) for k in key]
    init += [
        (counter & 0xFFFFFFFF).astype(np.uint32),
        (counter >> np.uint64(32)).astype(np.uint32),
        np.zeros(blocks, dtype=np.uint32),
        np.zeros(blocks, dtype=np.uint32),
    ]
    x = [w.copy() for w in init]

    def rotl(v, n):
        return (v << np.uint32(n)) | (v >> np.uint32(32 - n))

    def quarter(a, b, c, d):
        x[a] += x[b]
        x[d] = rotl(x[d] ^ x[a], 16)
        x[c] += x[d]
        x[b] = rotl(x[b] ^ x[c], 12)
        x[a] += x[b]
        x[d] = rotl(x[d] ^ x[a], 8)
        x[c] += x[d]
        x[b] = rotl(x[b] ^ x[c], 7)

    for _ in range(rounds // 2):
        quarter(0, 4, 8, 12)
        quarter(1, 5, 9, 13)
        quarter(2, 6, 10, 14)
        quarter(3, 7, 11, 15)
        quarter(0, 5, 10, 15)
        quarter(1, 6, 11, 12)
        quarter(2, 7, 8, 13)
        quarter(3, 4, 9, 14)
    out = np.stack([x[i] + init[i] for i in range(16)], axis=1)  # block-major
    return out.reshape(-1)[:count]


def data(inputs, outputs, samples, seed):
    """`benches/speed.rs`'s `data`: inputs in [0, 1), then one-hot labels for `outputs > 1` or
    uniform regression targets for `outputs == 1`; sample-major float32 arrays."""
    n_x = samples * inputs
    # Labels take one word each, rarely two (rand's widening-multiply rejection): a margin.
    words = chacha_words(_pcg32_seed(seed), n_x + 2 * samples + 64)
    to_f32 = lambda w: (w >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / (1 << 24))
    x = to_f32(words[:n_x]).reshape(samples, inputs)
    rest = words[n_x:]
    if outputs == 1:
        return x, to_f32(rest[:samples]).reshape(samples, 1)
    # `random_range(0..outputs)` on usize: rand 0.9 samples a u32 by Canon's widening multiply.
    labels = np.empty(samples, dtype=np.int64)
    pos = 0
    span = outputs
    for i in range(samples):
        m = int(rest[pos]) * span
        pos += 1
        result, lo = m >> 32, m & 0xFFFFFFFF
        if lo > (1 << 32) - span:
            new_hi = (int(rest[pos]) * span) >> 32
            pos += 1
            result += (lo + new_hi) >> 32
        labels[i] = result
    y = np.zeros((samples, outputs), dtype=np.float32)
    y[np.arange(samples), labels] = 1.0
    return x, y


# ---------------------------------------------------------------------------------------------
# Timing, as in the benchmark.


def rate(per_call, step, warmup=16, chunk=64):
    """Calls `step(i)` (each processing `per_call` samples) for about PASS_SECONDS after
    `warmup` calls; returns (samples/s, cpu seconds / wall seconds)."""
    for i in range(warmup):
        step(i)
    start, cpu = time.perf_counter(), time.process_time()
    calls = 0
    while time.perf_counter() - start < PASS_SECONDS:
        for _ in range(chunk):
            step(calls)
            calls += 1
        sync()
    wall = time.perf_counter() - start
    return calls * per_call / wall, (time.process_time() - cpu) / wall


_syncs = []


def sync():
    """Waits for asynchronous work (JAX's dispatch) that the last `step` left running."""
    for f in _syncs:
        f()


def median_rate(per_call, step, **kw):
    runs = [rate(per_call, step, **kw) for _ in range(PASSES)]
    rates = sorted(r for r, _ in runs)
    return rates[len(rates) // 2], statistics.median(c for _, c in runs)


# ---------------------------------------------------------------------------------------------
# Workloads: (row prefix, kind, inputs, outputs, lr, training batches, inference batches).

WORKLOADS = [
    ("W1 2-8-1", "w1", 2, 1, 0.1, [1], []),
    ("W2 64-32-10", "mlp", 64, 10, 0.05, [1, 32], []),
    ("W3 784-128-10", "mlp", 784, 10, 0.01, [1, 32, 128], [1, 128]),
    ("W4 LeNet-5", "lenet", 784, 10, 0.01, [1, 32, 128], [1, 128]),
    ("W6 sparse 65536-64-2", "sparse", 65536, 2, 0.05, [1, 32], [32]),
]
W6_HIDDEN = 64
W6_PRESENT = 24
HIDDEN = {"W1 2-8-1": 8, "W2 64-32-10": 32, "W3 784-128-10": 128}


def batches_of(arr, batch, shape):
    return [arr[i : i + batch].reshape((batch,) + shape) for i in range(0, len(arr) - batch + 1, batch)]


# ---------------------------------------------------------------------------------------------
# PyTorch eager.


def torch_setup():
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    return torch


def torch_model(torch, name, kind, inputs, outputs):
    nn = torch.nn
    torch.manual_seed(1)
    if kind == "w1":
        return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid())
    if kind == "mlp":
        return nn.Sequential(nn.Linear(inputs, HIDDEN[name]), nn.ReLU(), nn.Linear(HIDDEN[name], outputs))
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def in_shape(kind, inputs):
    return (1, 28, 28) if kind == "lenet" else (inputs,)


def torch_train(torch, name, kind, inputs, outputs, lr, batch):
    x, y = data(inputs, outputs, max(POOL, batch), 1)
    xs = [torch.from_numpy(b.copy()) for b in batches_of(x, batch, in_shape(kind, inputs))]
    if kind == "w1":
        ys = [torch.from_numpy(b.copy()) for b in batches_of(y, batch, (1,))]
        loss_fn = torch.nn.MSELoss()
    else:
        labels = y.argmax(axis=1)
        ys = [torch.from_numpy(labels[i : i + batch].copy()) for i in range(0, len(labels) - batch + 1, batch)]
        loss_fn = torch.nn.CrossEntropyLoss()
    model = torch_model(torch, name, kind, inputs, outputs)
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def step(i):
        b = i % len(xs)
        opt.zero_grad()
        loss = loss_fn(model(xs[b]), ys[b])
        loss.backward()
        opt.step()

    return median_rate(batch, step)


def torch_infer(torch, name, kind, inputs, outputs, batch):
    x, _ = data(inputs, outputs, max(POOL, batch), 2)
    xs = [torch.from_numpy(b.copy()) for b in batches_of(x, batch, in_shape(kind, inputs))]
    model = torch_model(torch, name, kind, inputs, outputs)

    def step(i):
        with torch.no_grad():
            torch.softmax(model(xs[i % len(xs)]), dim=1)

    return median_rate(batch, step)


# ---------------------------------------------------------------------------------------------
# W6 (sparse input) in PyTorch.


def w6_data(samples, seed):
    """W6's pool from numpy (not the benchmark's generator): (indices of shape
    (samples, 24), int64, distinct within a sample; labels of shape (samples,), int64)."""
    rng = np.random.default_rng(seed)
    indices = np.stack([rng.choice(65536, W6_PRESENT, replace=False) for _ in range(samples)])
    labels = rng.integers(0, 2, size=samples)
    return indices.astype(np.int64), labels.astype(np.int64)


def w6_batches(torch, indices, batch):
    """The pool as consecutive batches of (flat indices, offsets) tensors."""
    offsets = torch.arange(batch, dtype=torch.int64) * W6_PRESENT
    return [
        (torch.from_numpy(indices[i : i + batch].reshape(-1).copy()), offsets)
        for i in range(0, len(indices) - batch + 1, batch)
    ]


def torch_w6_model(torch, inputs, outputs, sparse):
    nn = torch.nn

    class W6(nn.Module):
        """EmbeddingBag (mean) + bias = Linear(65536, 64) on the 1/24-valued sparse input."""

        def __init__(self):
            super().__init__()
            self.bag = nn.EmbeddingBag(inputs, W6_HIDDEN, mode="mean", sparse=sparse)
            bound = 1.0 / np.sqrt(inputs)
            nn.init.uniform_(self.bag.weight, -bound, bound)
            self.bias = nn.Parameter(torch.empty(W6_HIDDEN).uniform_(-bound, bound))
            self.out = nn.Linear(W6_HIDDEN, outputs)

        def forward(self, indices, offsets):
            return self.out(self.bag(indices, offsets) + self.bias)

    torch.manual_seed(6)
    return W6()


def torch_w6_train(torch, inputs, outputs, lr, batch, sparse):
    indices, labels = w6_data(max(POOL, batch), 6)
    xs = w6_batches(torch, indices, batch)
    ys = [torch.from_numpy(labels[i : i + batch].copy()) for i in range(0, len(labels) - batch + 1, batch)]
    model = torch_w6_model(torch, inputs, outputs, sparse)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def step(i):
        b = i % len(xs)
        opt.zero_grad()
        loss = loss_fn(model(*xs[b]), ys[b])
        loss.backward()
        opt.step()

    return median_rate(batch, step)


def torch_w6_infer(torch, inputs, outputs, batch):
    indices, _ = w6_data(max(POOL, batch), 8)
    xs = w6_batches(torch, indices, batch)
    model = torch_w6_model(torch, inputs, outputs, True)

    def step(i):
        with torch.no_grad():
            torch.softmax(model(*xs[i % len(xs)]), dim=1)

    return median_rate(batch, step)


# ---------------------------------------------------------------------------------------------
# JAX.


def jax_setup():
    import jax

    jax.config.update("jax_platforms", "cpu")
    return jax


def jax_params(name, kind, inputs, outputs):
    """PyTorch's default initialization (uniform in +-1/sqrt(fan_in)), from numpy."""
    rng = np.random.default_rng(1)

    def layer(shape, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=shape).astype(np.float32)
        b = rng.uniform(-bound, bound, size=shape[0]).astype(np.float32)
        return (w, b)

    if kind == "lenet":
        return [
            layer((6, 1, 5, 5), 25),
            layer((16, 6, 5, 5), 150),
            layer((120, 400), 400),
            layer((84, 120), 120),
            layer((10, 84), 84),
        ]
    hidden = HIDDEN[name]
    return [layer((hidden, inputs), inputs), layer((outputs, hidden), hidden)]


def jax_forward(jax, kind):
    """The model's output before the last activation (logits), and the last activation."""
    jnp = jax.numpy

    def dense(p, h):
        return h @ p[0].T + p[1]

    def conv(p, h, padding):
        out = jax.lax.conv_general_dilated(
            h, p[0], (1, 1), [(padding, padding)] * 2, dimension_numbers=("NCHW", "OIHW", "NCHW")
        )
        return out + p[1][None, :, None, None]

    def pool(h):
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    if kind == "w1":
        return (lambda ps, x: dense(ps[1], jnp.tanh(dense(ps[0], x)))), jax.nn.sigmoid
    if kind == "mlp":
        return (lambda ps, x: dense(ps[1], jax.nn.relu(dense(ps[0], x)))), (lambda z: jax.nn.softmax(z, axis=-1))

    def lenet(ps, x):
        h = pool(jax.nn.relu(conv(ps[0], x, 2)))
        h = pool(jax.nn.relu(conv(ps[1], h, 0)))
        h = h.reshape(h.shape[0], -1)
        h = jax.nn.relu(dense(ps[2], h))
        h = jax.nn.relu(dense(ps[3], h))
        return dense(ps[4], h)

    return lenet, (lambda z: jax.nn.softmax(z, axis=-1))


def jax_train(jax, name, kind, inputs, outputs, lr, batch, scan):
    jnp = jax.numpy
    forward, last = jax_forward(jax, kind)

    def loss(ps, x, y):
        z = forward(ps, x)
        if kind == "w1":
            return jnp.mean((last(z) - y) ** 2)
        return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(z, axis=-1), axis=-1))

    def update(ps, x, y):
        grads = jax.grad(loss)(ps, x, y)
        return jax.tree.map(lambda p, g: p - lr * g, ps, grads)

    x, y = data(inputs, outputs, max(POOL, batch), 1)
    shape = in_shape(kind, inputs)
    params = [jax.device_put(jax.tree.map(jnp.asarray, jax_params(name, kind, inputs, outputs)))]
    if scan:
        xs = jnp.asarray(np.stack(batches_of(x, batch, shape)))
        ys = jnp.asarray(np.stack(batches_of(y, batch, (outputs,))))
        epoch = jax.jit(lambda ps, xs, ys: jax.lax.scan(lambda p, b: (update(p, *b), None), ps, (xs, ys))[0])
        # Compiled ahead of the passes; an epoch is long enough to need no warm-up call.
        epoch = epoch.lower(params[0], xs, ys).compile()

        def step(_):
            params[0] = epoch(params[0], xs, ys)

        per_call, warmup, chunk = len(xs) * batch, 0, 1
    else:
        xs = [jnp.asarray(b) for b in batches_of(x, batch, shape)]
        ys = [jnp.asarray(b) for b in batches_of(y, batch, (outputs,))]
        jitted = jax.jit(update)

        def step(i):
            b = i % len(xs)
            params[0] = jitted(params[0], xs[b], ys[b])

        per_call, warmup, chunk = batch, 16, 64
    _syncs[:] = [lambda: jax.block_until_ready(params[0])]
    try:
        return median_rate(per_call, step, warmup=warmup, chunk=chunk)
    finally:
        _syncs.clear()


def jax_infer(jax, name, kind, inputs, outputs, batch, scan):
    jnp = jax.numpy
    forward, last = jax_forward(jax, kind)
    x, _ = data(inputs, outputs, max(POOL, batch), 2)
    shape = in_shape(kind, inputs)
    params = jax.device_put(jax.tree.map(jnp.asarray, jax_params(name, kind, inputs, outputs)))
    out = [None]
    if scan:
        xs = jnp.asarray(np.stack(batches_of(x, batch, shape)))
        epoch = jax.jit(lambda ps, xs: jax.lax.scan(lambda c, b: (c, last(forward(ps, b))), 0, xs)[1])
        epoch = epoch.lower(params, xs).compile()

        def step(_):
            out[0] = epoch(params, xs)

        per_call, warmup, chunk = len(xs) * batch, 0, 1
    else:
        xs = [jnp.asarray(b) for b in batches_of(x, batch, shape)]
        jitted = jax.jit(lambda ps, b: last(forward(ps, b)))

        def step(i):
            out[0] = jitted(params, xs[i % len(xs)])

        per_call, warmup, chunk = batch, 16, 64
    _syncs[:] = [lambda: jax.block_until_ready(out[0])]
    try:
        return median_rate(per_call, step, warmup=warmup, chunk=chunk)
    finally:
        _syncs.clear()


# ---------------------------------------------------------------------------------------------


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def workload_jobs(workload, torch, jax):
    """A workload's rows, in order: [(row name, {framework: run})], each run returning
    (samples/s, cpu/wall)."""
    name, kind, inputs, outputs, lr, train_batches, infer_batches = workload
    jobs = []
    if kind == "sparse":
        if torch is None:
            return jobs
        for batch in train_batches:
            for sparse, suffix in [(True, ""), (False, ", dense gradient")]:
                run = lambda b=batch, s=sparse: torch_w6_train(torch, inputs, outputs, lr, b, s)
                jobs.append((f"{name} train, batch {batch}{suffix}", {"pytorch": run}))
        for batch in infer_batches:
            run = lambda b=batch: torch_w6_infer(torch, inputs, outputs, b)
            jobs.append((f"{name} inference, batch {batch}", {"pytorch": run}))
        return jobs
    for batch in train_batches:
        peers = {}
        if torch:
            peers["pytorch"] = lambda b=batch: torch_train(torch, name, kind, inputs, outputs, lr, b)
        if jax:
            for scan, label in [(False, "jax jit"), (True, "jax scan")]:
                peers[label] = lambda b=batch, s=scan: jax_train(jax, name, kind, inputs, outputs, lr, b, s)
        jobs.append((f"{name} train, batch {batch}", peers))
    for batch in infer_batches:
        peers = {}
        if torch:
            peers["pytorch"] = lambda b=batch: torch_infer(torch, name, kind, inputs, outputs, b)
        if jax:
            for scan, label in [(False, "jax jit"), (True, "jax scan")]:
                peers[label] = lambda b=batch, s=scan: jax_infer(jax, name, kind, inputs, outputs, b, s)
        jobs.append((f"{name} inference, batch {batch}", peers))
    return jobs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("filter", nargs="?", help='rows whose name contains this ("...$": ends so)')
    parser.add_argument("--no-jax", action="store_true", help="PyTorch only")
    parser.add_argument("--no-torch", action="store_true", help="JAX only")
    parser.add_argument("--rows", action="store_true", help="also print ROW<TAB>framework<TAB>row<TAB>rate")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    args = parser.parse_args()
    pinned = None
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        pinned = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {pinned})

    def wanted(row):
        f = args.filter
        if f is None:
            return True
        return row.endswith(f[:-1]) if f.endswith("$") else f in row

    torch = None if args.no_torch else torch_setup()
    jax = None
    jax_error = None
    if not args.no_jax:
        try:
            jax = jax_setup()
            jax.numpy.zeros(1).block_until_ready()
        except Exception as e:  # noqa: BLE001 -- report and go on with PyTorch
            jax, jax_error = None, f"{type(e).__name__}: {e}"

    pin = f"pinned to CPU {pinned}" if pinned is not None else "not pinned"
    print(f"{cpu_model()}, threads=1, f32, {pin}")
    versions = []
    if torch is not None:
        versions.append(f"torch {torch.__version__} ({torch.get_num_threads()} thread)")
    if jax is not None:
        versions.append(f"jax {jax.__version__} ({jax.default_backend()})")
    elif jax_error:
        versions.append(f"jax unavailable ({jax_error})")
    print("; ".join(versions) + f"; median of {PASSES} passes of {PASS_SECONDS} s")
    print(f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')}\n")
    columns = (["pytorch"] if torch else []) + (["jax jit", "jax scan"] if jax else [])
    jobs = [job for w in WORKLOADS for job in workload_jobs(w, torch, jax) if wanted(job[0])]
    width = max([34] + [len(row) + 1 for row, _ in jobs])
    heads = {"pytorch": "torch"}
    print(f"{'workload':<{width}}" + "".join(f"{heads.get(c, c):>12} {'cpu':>4}" for c in columns))
    sys.stdout.flush()

    machine = []
    for row, peers in jobs:
        line = f"{row:<{width}}"
        for framework in columns:
            run = peers.get(framework)
            if run is None:  # no such row for this framework (W6 in JAX)
                line += f"{'-':>12} {'':>4}"
                continue
            value, cpu = run()
            machine.append((framework, row, value))
            line += f"{value:>12.0f} {cpu:>4.2f}"
        print(line.rstrip())
        sys.stdout.flush()
    if args.rows:
        print()
        for framework, row, value in machine:
            print(f"ROW\t{framework}\t{row}\t{value}")


if __name__ == "__main__":
    main()
