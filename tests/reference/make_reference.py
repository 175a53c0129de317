"""Reference values for retroprop's tests, computed with PyTorch in float64.

Run from the repository root:

    python3 tests/reference/make_reference.py

It writes tests/reference/pytorch.json. Tensors are stored as PyTorch stores them:
`layer.weight` has shape [out, in] (row-major), `layer.bias` [out], inputs `x` [n, in] and
targets `y` [n, out] (one sample per row). CI does not need PyTorch: the JSON is committed.
"""

import json
import math
import pathlib

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

ACTIVATIONS = {
    "identity": lambda z: z,
    "relu": F.relu,
    "leaky_relu(0.2)": lambda z: F.leaky_relu(z, 0.2),
    "elu(0.5)": lambda z: F.elu(z, 0.5),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softplus": F.softplus,
    "gelu": lambda z: F.gelu(z, approximate="tanh"),
    "silu": F.silu,
    "softmax": lambda z: torch.softmax(z, dim=1),
}


def forward(layers, params, x):
    """Returns the output pre-activation and activation."""
    a = x
    z = None
    for name, _, act in layers:
        z = a @ params[f"{name}.weight"].T + params[f"{name}.bias"]
        a = ACTIVATIONS[act](z)
    return z, a


CLASS_WEIGHTS = [0.5, 2.0, 1.0, 3.0]
POS_WEIGHT = [2.0, 0.5, 4.0]


def loss_value(kind, last_act, z, a, y):
    if kind == "weighted_ce":
        return F.cross_entropy(z, y.argmax(dim=1), weight=torch.tensor(CLASS_WEIGHTS[: y.shape[1]]))
    if kind == "pos_weight_bce":
        return F.binary_cross_entropy_with_logits(z, y, pos_weight=torch.tensor(POS_WEIGHT[: y.shape[1]]))
    if kind == "mse":
        return F.mse_loss(a, y)
    if kind == "mae":
        return F.l1_loss(a, y)
    if kind == "huber":
        return F.huber_loss(a, y, delta=1.0)
    if kind == "bce":
        if last_act == "sigmoid":
            return F.binary_cross_entropy_with_logits(z, y)
        return F.binary_cross_entropy(a, y)
    if kind == "ce":
        assert last_act == "softmax"
        return F.cross_entropy(z, y)  # probability targets, mean over samples
    raise ValueError(kind)


def make_case(name, inputs, layers, n, losses, target_kind, seed):
    gen = torch.Generator().manual_seed(seed)
    params = {}
    fan_in = inputs
    for layer, width, _ in layers:
        params[f"{layer}.weight"] = (torch.rand(width, fan_in, generator=gen) * 2 - 1) / math.sqrt(fan_in)
        params[f"{layer}.bias"] = (torch.rand(width, generator=gen) * 2 - 1) * 0.5
        fan_in = width
    x = torch.randn(n, inputs, generator=gen)
    out = layers[-1][1]
    if target_kind == "one_hot":
        labels = torch.randint(0, out, (n,), generator=gen)
        y = F.one_hot(labels, out).to(torch.float64)
    elif target_kind == "soft":
        y = torch.softmax(torch.randn(n, out, generator=gen), dim=1)
    elif target_kind == "binary":
        y = torch.randint(0, 2, (n, out), generator=gen).to(torch.float64)
    else:
        y = torch.randn(n, out, generator=gen)
    results = {}
    for kind in losses:
        p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        z, a = forward(layers, p, x)
        loss = loss_value(kind, layers[-1][2], z, a, y)
        loss.backward()
        results[kind] = {
            "loss": loss.item(),
            "gradients": {k: v.grad.tolist() for k, v in p.items()},
        }
    return {
        "name": name,
        "inputs": inputs,
        "layers": [{"name": l, "width": w, "activation": act} for l, w, act in layers],
        "params": {k: v.tolist() for k, v in params.items()},
        "x": x.tolist(),
        "y": y.tolist(),
        "output": forward(layers, params, x)[1].tolist(),
        "losses": results,
    }


OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}


def trajectory(case, optimizer, settings, steps, loss_kind):
    layers = [(l["name"], l["width"], l["activation"]) for l in case["layers"]]
    params = {k: torch.tensor(v, requires_grad=True) for k, v in case["params"].items()}
    x = torch.tensor(case["x"])
    y = torch.tensor(case["y"])
    opt = OPTIMIZERS[optimizer](list(params.values()), **settings)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        z, a = forward(layers, params, x)
        loss = loss_value(loss_kind, layers[-1][2], z, a, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {
        "case": case["name"],
        "optimizer": optimizer,
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
        "loss": loss_kind,
        "steps": steps,
        "losses": losses,
        "params": {k: v.detach().tolist() for k, v in params.items()},
    }


def schedule_values(name, make, epochs=30, base_lr=0.1):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make(opt)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return {"name": name, "base_lr": base_lr, "lrs": lrs}


def plateau_values(name, settings, metrics, base_lr=1.0):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **settings)
    lrs = []
    for m in metrics:
        opt.step()
        sched.step(m)
        lrs.append(opt.param_groups[0]["lr"])
    return {"name": name, "settings": settings, "metrics": metrics, "base_lr": base_lr, "lrs": lrs}


def sgd_trajectory(case, settings, steps, loss_kind):
    return trajectory(case, "sgd", settings, steps, loss_kind)


def main():
    cases = [
        make_case(
            "tanh_softmax", 3, [("h1", 5, "tanh"), ("out", 4, "softmax")], 6, ["ce", "mse", "weighted_ce"], "one_hot", 1
        ),
        make_case("soft_targets", 4, [("h1", 6, "relu"), ("out", 3, "softmax")], 5, ["ce"], "soft", 2),
        make_case(
            "relu_gelu_sigmoid",
            4,
            [("h1", 6, "relu"), ("h2", 5, "gelu"), ("out", 3, "sigmoid")],
            5,
            ["bce", "mse", "pos_weight_bce"],
            "binary",
            3,
        ),
        make_case(
            "deep_regression",
            2,
            [("h1", 4, "leaky_relu(0.2)"), ("h2", 4, "elu(0.5)"), ("h3", 3, "silu"), ("out", 2, "identity")],
            7,
            ["mse", "mae", "huber"],
            "regression",
            4,
        ),
        make_case("softplus_tanh", 3, [("h1", 4, "softplus"), ("out", 2, "tanh")], 4, ["mse", "huber"], "regression", 5),
        make_case("identity_bce", 3, [("h1", 4, "sigmoid"), ("out", 2, "sigmoid")], 4, ["bce"], "binary", 6),
    ]
    by_name = {c["name"]: c for c in cases}
    trajectories = [
        sgd_trajectory(by_name["tanh_softmax"], {"lr": 0.1}, 5, "ce"),
        sgd_trajectory(
            by_name["tanh_softmax"], {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}, 5, "ce"
        ),
        sgd_trajectory(by_name["deep_regression"], {"lr": 0.05, "momentum": 0.8, "nesterov": True}, 5, "mse"),
    ]
    tanh = by_name["tanh_softmax"]
    optimizers = [
        trajectory(tanh, "rmsprop", {"lr": 0.01}, 10, "ce"),
        trajectory(tanh, "rmsprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6}, 10, "ce"),
        trajectory(tanh, "rmsprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.01}, 10, "ce"),
        trajectory(tanh, "adagrad", {"lr": 0.1}, 10, "ce"),
        trajectory(
            tanh,
            "adagrad",
            {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-8},
            10,
            "ce",
        ),
        trajectory(tanh, "adam", {"lr": 0.01}, 10, "ce"),
        trajectory(tanh, "adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.01, "amsgrad": True}, 10, "ce"),
        trajectory(tanh, "adamw", {"lr": 0.01}, 10, "ce"),
        trajectory(tanh, "adamw", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "eps": 1e-6}, 10, "ce"),
        trajectory(by_name["deep_regression"], "adam", {"lr": 0.05}, 10, "huber"),
    ]
    lr_scheduler = torch.optim.lr_scheduler
    schedules = [
        schedule_values("step", lambda o: lr_scheduler.StepLR(o, step_size=7, gamma=0.5)),
        schedule_values("exponential", lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9)),
        schedule_values("cosine", lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
        schedule_values(
            "warmup_cosine",
            lambda o: lr_scheduler.SequentialLR(
                o,
                [
                    lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=5),
                    lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
                ],
                milestones=[5],
            ),
        ),
        schedule_values(
            "warmup_step",
            lambda o: lr_scheduler.SequentialLR(
                o,
                [
                    lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=4),
                    lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
                ],
                milestones=[4],
            ),
        ),
    ]
    falling_then_flat = [1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.79995, 0.8, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
    plateaus = [
        plateau_values("defaults", {}, [1.0 - 0.01 * i for i in range(5)] + [0.95] * 20),
        plateau_values(
            "patience_cooldown_min_lr",
            {"factor": 0.5, "patience": 2, "cooldown": 1, "min_lr": 0.2},
            falling_then_flat,
        ),
        plateau_values("max_mode", {"mode": "max", "patience": 1, "factor": 0.5}, [0.1, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3]),
    ]
    out = {
        "generator": "tests/reference/make_reference.py",
        "torch_version": torch.__version__,
        "class_weights": CLASS_WEIGHTS,
        "pos_weight": POS_WEIGHT,
        "cases": cases,
        "sgd": trajectories,
        "optimizers": optimizers,
        "schedules": schedules,
        "plateaus": plateaus,
    }
    path = pathlib.Path(__file__).with_name("pytorch.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path} with torch {torch.__version__}")


if __name__ == "__main__":
    main()
