"""Reference of the sparse layer's optimizers, from PyTorch (float64).

Writes `sparse_optim.json` beside this script, read by `runtime/tests/sparse_layer.rs`.
Run it with a Python that has torch and numpy (CI never runs it; the JSON is committed):

    python runtime/tests/reference/make_sparse_reference.py

An `EmbeddingBag(features, width, mode="sum", sparse=True)` with `per_sample_weights` is
the sparse layer without its bias; its weight `[features, width]` flattened row-major is the
runtime's column-major `width x features` weight. Each step draws a batch (CSR: offsets,
indices increasing within a sample, values; some samples empty, some features never
present) and deltas `[n, width]` (the runtime's column-major `width x n`); the loss
`sum(bag(batch) * delta)` has the weight gradient `dW[:, k] = sum v * delta[:, j]`, the
runtime's `SparseGradient`. Recorded per step: the batch, the deltas, the dense gradient and
the weights after the step for `SparseAdam`, sparse `Adagrad`, and dense `SGD` with momentum
0.9 (plain and Nesterov) on the same gradient made dense.
"""

import json
import pathlib

import numpy as np
import torch

FEATURES, WIDTH, STEPS = 12, 3, 6
torch.manual_seed(14)
rng = np.random.default_rng(14)

init = torch.randn(FEATURES, WIDTH, dtype=torch.float64)


def bag():
    b = torch.nn.EmbeddingBag(FEATURES, WIDTH, mode="sum", sparse=True).double()
    with torch.no_grad():
        b.weight.copy_(init)
    return b


HYPER = {
    "sparse_adam": {"lr": 0.05, "betas": [0.9, 0.999], "eps": 1e-8},
    "adagrad": {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.1, "eps": 1e-10},
    "sgd_momentum": {"lr": 0.1, "momentum": 0.9, "nesterov": False},
    "sgd_nesterov": {"lr": 0.1, "momentum": 0.9, "nesterov": True},
}

adam_bag, adagrad_bag = bag(), bag()
adam = torch.optim.SparseAdam(adam_bag.parameters(), lr=0.05, betas=(0.9, 0.999), eps=1e-8)
adagrad = torch.optim.Adagrad(
    adagrad_bag.parameters(), lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1, eps=1e-10
)
dense = {}
for name in ("sgd_momentum", "sgd_nesterov"):
    p = torch.nn.Parameter(init.clone())
    h = HYPER[name]
    dense[name] = (p, torch.optim.SGD([p], lr=h["lr"], momentum=h["momentum"], nesterov=h["nesterov"]))

# Features 10 and 11 are never present; others come and go.
allowed = list(range(10))
steps = []
for step in range(STEPS):
    n = int(rng.integers(2, 5))
    offsets, indices, values = [0], [], []
    for j in range(n):
        count = 0 if (step + j) % 4 == 3 else int(rng.integers(1, 4))
        pool = allowed[: 4 + step] if step < 3 else allowed
        chosen = sorted(rng.choice(pool, size=min(count, len(pool)), replace=False).tolist())
        indices += chosen
        values += rng.normal(size=len(chosen)).round(3).tolist()
        offsets.append(len(indices))
    delta = torch.randn(n, WIDTH, dtype=torch.float64)
    inp = torch.tensor(indices, dtype=torch.long)
    off = torch.tensor(offsets[:-1], dtype=torch.long)
    psw = torch.tensor(values, dtype=torch.float64)

    record = {"offsets": offsets, "indices": indices, "values": values, "delta": delta.flatten().tolist()}
    grad = None
    for name, (b, opt) in (("sparse_adam", (adam_bag, adam)), ("adagrad", (adagrad_bag, adagrad))):
        opt.zero_grad(set_to_none=True)
        (b(inp, off, per_sample_weights=psw) * delta).sum().backward()
        assert b.weight.grad.is_sparse
        g = b.weight.grad.coalesce().to_dense()
        grad = g if grad is None else grad
        assert torch.equal(g, grad)
        opt.step()
        record[name] = b.weight.detach().flatten().tolist()
    record["grad"] = grad.flatten().tolist()
    for name, (p, opt) in dense.items():
        opt.zero_grad(set_to_none=True)
        p.grad = grad.clone()
        opt.step()
        record[name] = p.detach().flatten().tolist()
    steps.append(record)

out = {
    "torch": torch.__version__,
    "features": FEATURES,
    "width": WIDTH,
    "init": init.flatten().tolist(),
    "hyper": HYPER,
    "steps": steps,
}
path = pathlib.Path(__file__).with_name("sparse_optim.json")
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {path}")
