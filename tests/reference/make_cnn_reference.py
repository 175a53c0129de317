"""Reference values for whole convolutional networks, computed with PyTorch autograd in float64.

Run from the repository root (PyTorch in any environment, e.g. the venv of
compare/requirements.txt outside the repository):

    python3 tests/reference/make_cnn_reference.py

It writes tests/reference/cnn.json, which tests/cnn_pytorch.rs checks against. CI does not
need PyTorch: the JSON is committed.

The conventions are those of make_reference.py / pytorch.json, whose activation table and
loss functions this script imports, so that both files mean the same by `gelu`, `elu(0.5)`,
`ce`, `bce` and so on:

- Parameters by tensor name, as PyTorch stores them (row-major nested lists): a convolution's
  `layer.weight` has shape [out, in, kh, kw], a dense layer's [out, in], every `layer.bias`
  [out].
- `x` has shape [n, C * H * W]: one sample per row, each image flattened in channel, row,
  column order (the order of `torch.flatten` on NCHW, and of retroprop's image inputs).
  `input_shape` is [C, H, W].
- `y` has shape [n, outputs]; `output` is the batch's output after the last activation.
- `losses[kind]` holds the loss value and the gradient of every parameter. Losses use
  PyTorch's default reduction, `mean`: cross-entropy is averaged over the samples;
  MSE and binary cross-entropy over all n * outputs values. Softmax + cross-entropy is
  computed from the logits (`F.cross_entropy`), sigmoid + binary cross-entropy too
  (`F.binary_cross_entropy_with_logits`).

Layers: `conv2d(out, kernel = k, stride = s, padding = p)` is `F.conv2d` (nn.Conv2d(in, out,
k, stride=s, padding=p)); `max_pool(k)` is `F.max_pool2d(k)` (stride k); `avg_pool(k, stride
= s)` is `F.avg_pool2d(k, stride=s)` (no padding, so count_include_pad does not matter);
`flatten` is nn.Flatten; `dense(w)` is nn.Linear. The functional forward pass is checked
against an nn.Sequential of those modules holding the same parameters.

No max-pooling window of any case holds its maximum twice (checked below), so the gradient
does not depend on how ties are broken: the inputs are continuous (normal), and the biases of
small_lenet's conv1 are shifted up by 1 so that no 2x2 window after its ReLU is all zeros.
"""

import json
import math
import pathlib
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_reference  # noqa: E402  (the shared activation table and losses)

torch.set_default_dtype(torch.float64)
torch.manual_seed(0)  # nothing below draws from the global generator; fixed all the same

ACTIVATIONS = {
    **make_reference.ACTIVATIONS,
    "leaky_relu(0.1)": lambda z: F.leaky_relu(z, 0.1),
}
MODULES = {
    "identity": torch.nn.Identity,
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "elu(0.5)": lambda: torch.nn.ELU(0.5),
    "leaky_relu(0.1)": lambda: torch.nn.LeakyReLU(0.1),
    "silu": torch.nn.SiLU,
    "gelu": lambda: torch.nn.GELU(approximate="tanh"),
    "sigmoid": torch.nn.Sigmoid,
    "softmax": lambda: torch.nn.Softmax(dim=1),
}


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def conv(name, out, kernel, stride=1, padding=0, act="identity", bias_shift=0.0):
    """`bias_shift` moves the drawn biases (to keep ReLU outputs off 0 before a max-pool)."""
    return {
        "kind": "conv2d",
        "name": name,
        "out": out,
        "kernel": pair(kernel),
        "stride": pair(stride),
        "padding": pair(padding),
        "activation": act,
        "bias_shift": bias_shift,
    }


def max_pool(name, window, stride=None):
    return {"kind": "max_pool", "name": name, "window": pair(window), "stride": pair(stride or window)}


def avg_pool(name, window, stride=None):
    return {"kind": "avg_pool", "name": name, "window": pair(window), "stride": pair(stride or window)}


def flatten(name):
    return {"kind": "flatten", "name": name}


def dense(name, width, act="identity"):
    return {"kind": "dense", "name": name, "width": width, "activation": act}


def shapes_and_params(input_shape, layers, gen):
    """The shape after each layer and freshly drawn parameters (small, uniform, as in
    make_reference.py: weights in ±1/sqrt(fan_in), biases in ±0.5)."""
    shape = tuple(input_shape)
    shapes = []
    params = {}
    for layer in layers:
        kind = layer["kind"]
        if kind == "conv2d":
            c, h, w = shape
            (kh, kw), (sh, sw), (ph, pw) = layer["kernel"], layer["stride"], layer["padding"]
            fan_in = c * kh * kw
            params[f"{layer['name']}.weight"] = (
                torch.rand(layer["out"], c, kh, kw, generator=gen) * 2 - 1
            ) / math.sqrt(fan_in)
            bias = (torch.rand(layer["out"], generator=gen) * 2 - 1) * 0.5
            params[f"{layer['name']}.bias"] = bias + layer["bias_shift"]
            shape = (layer["out"], (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)
        elif kind in ("max_pool", "avg_pool"):
            c, h, w = shape
            (kh, kw), (sh, sw) = layer["window"], layer["stride"]
            shape = (c, (h - kh) // sh + 1, (w - kw) // sw + 1)
        elif kind == "flatten":
            shape = (math.prod(shape),)
        elif kind == "dense":
            (fan_in,) = shape
            params[f"{layer['name']}.weight"] = (
                torch.rand(layer["width"], fan_in, generator=gen) * 2 - 1
            ) / math.sqrt(fan_in)
            params[f"{layer['name']}.bias"] = (torch.rand(layer["width"], generator=gen) * 2 - 1) * 0.5
            shape = (layer["width"],)
        else:
            raise ValueError(kind)
        assert all(d > 0 for d in shape), (layer, shape)
        shapes.append(list(shape))
    return shapes, params


def max_pool_has_tie(a, window, stride):
    """Whether some window of `a` [n, C, H, W] holds its maximum more than once."""
    (kh, kw), (sh, sw) = window, stride
    windows = a.unfold(2, kh, sh).unfold(3, kw, sw)  # [n, C, oh, ow, kh, kw]
    flat = windows.reshape(*windows.shape[:4], kh * kw)
    top = flat.max(dim=-1, keepdim=True).values
    return bool(((flat == top).sum(dim=-1) > 1).any())


def forward(input_shape, layers, params, x):
    """The last layer's pre-activation and activation; also checks every max-pool window."""
    a = x.reshape(x.shape[0], *input_shape)
    z = None
    for layer in layers:
        kind, name = layer["kind"], layer["name"]
        if kind == "conv2d":
            z = F.conv2d(a, params[f"{name}.weight"], params[f"{name}.bias"], stride=layer["stride"], padding=layer["padding"])
            a = ACTIVATIONS[layer["activation"]](z)
        elif kind == "max_pool":
            assert not max_pool_has_tie(a.detach(), layer["window"], layer["stride"]), f"a tie before {name}"
            a = F.max_pool2d(a, layer["window"], stride=layer["stride"])
        elif kind == "avg_pool":
            a = F.avg_pool2d(a, layer["window"], stride=layer["stride"])
        elif kind == "flatten":
            a = torch.flatten(a, start_dim=1)
        elif kind == "dense":
            z = a @ params[f"{name}.weight"].T + params[f"{name}.bias"]
            a = ACTIVATIONS[layer["activation"]](z)
    return z, a


def as_module(input_shape, layers, params):
    """The same network as an nn.Sequential of PyTorch's modules, holding `params`."""
    mods = []
    channels = input_shape[0]
    for layer in layers:
        kind = layer["kind"]
        if kind == "conv2d":
            m = torch.nn.Conv2d(channels, layer["out"], layer["kernel"], stride=layer["stride"], padding=layer["padding"])
            m.weight.data.copy_(params[f"{layer['name']}.weight"])
            m.bias.data.copy_(params[f"{layer['name']}.bias"])
            mods += [m, MODULES[layer["activation"]]()]
            channels = layer["out"]
        elif kind == "max_pool":
            mods.append(torch.nn.MaxPool2d(layer["window"], stride=layer["stride"]))
        elif kind == "avg_pool":
            mods.append(torch.nn.AvgPool2d(layer["window"], stride=layer["stride"]))
        elif kind == "flatten":
            mods.append(torch.nn.Flatten())
        elif kind == "dense":
            w = params[f"{layer['name']}.weight"]
            m = torch.nn.Linear(w.shape[1], w.shape[0])
            m.weight.data.copy_(w)
            m.bias.data.copy_(params[f"{layer['name']}.bias"])
            mods += [m, MODULES[layer["activation"]]()]
    return torch.nn.Sequential(*mods)


def make_case(name, definition, input_shape, layers, n, losses, target_kind, seed):
    gen = torch.Generator().manual_seed(seed)
    shapes, params = shapes_and_params(input_shape, layers, gen)
    inputs = math.prod(input_shape)
    x = torch.randn(n, inputs, generator=gen)
    out = layers[-1]["width"]
    if target_kind == "one_hot":
        labels = torch.randint(0, out, (n,), generator=gen)
        y = F.one_hot(labels, out).to(torch.float64)
    elif target_kind == "soft":
        y = torch.softmax(torch.randn(n, out, generator=gen), dim=1)
    elif target_kind == "binary":
        y = torch.randint(0, 2, (n, out), generator=gen).to(torch.float64)
    else:
        raise ValueError(target_kind)

    _, output = forward(input_shape, layers, params, x)
    with torch.no_grad():
        via_modules = as_module(input_shape, layers, params)(x.reshape(n, *input_shape))
    assert torch.allclose(output, via_modules, rtol=0, atol=1e-14), f"{name}: functional and nn.Module passes differ"

    results = {}
    for kind in losses:
        p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        z, a = forward(input_shape, layers, p, x)
        loss = make_reference.loss_value(kind, layers[-1]["activation"], z, a, y)
        loss.backward()
        results[kind] = {
            "loss": loss.item(),
            "gradients": {k: v.grad.tolist() for k, v in p.items()},
        }
        assert all(v.grad.abs().max() > 0 for v in p.values()), f"{name} {kind}: a zero gradient tensor"
    return {
        "name": name,
        "definition": definition,
        "input_shape": list(input_shape),
        "inputs": inputs,
        "layers": [{k: list(v) if isinstance(v, tuple) else v for k, v in layer.items()} for layer in layers],
        "shapes": shapes,
        "parameters": sum(v.numel() for v in params.values()),
        "params": {k: v.tolist() for k, v in params.items()},
        "x": x.tolist(),
        "y": y.tolist(),
        "output": output.detach().tolist(),
        "losses": results,
    }


def main():
    cases = [
        make_case(
            "small_lenet",
            "input: [1, 8, 8], conv1: conv2d(3, kernel = 3, padding = 1) -> relu, pool1: max_pool(2), "
            "conv2: conv2d(4, kernel = 3) -> tanh, flat: flatten, out: dense(3) -> softmax",
            (1, 8, 8),
            [
                conv("conv1", 3, 3, padding=1, act="relu", bias_shift=1.0),
                max_pool("pool1", 2),
                conv("conv2", 4, 3, act="tanh"),
                flatten("flat"),
                dense("out", 3, "softmax"),
            ],
            3,
            ["ce"],
            "one_hot",
            101,
        ),
        make_case(
            "strided_rect",
            "input: [2, 9, 7], conv1: conv2d(3, kernel = (3, 2), stride = (2, 1), padding = (1, 0)) -> elu(0.5), "
            "pool1: avg_pool(2, stride = 1), flat: flatten, out: dense(4) -> softmax",
            (2, 9, 7),
            [
                conv("conv1", 3, (3, 2), stride=(2, 1), padding=(1, 0), act="elu(0.5)"),
                avg_pool("pool1", 2, stride=1),
                flatten("flat"),
                dense("out", 4, "softmax"),
            ],
            3,
            ["ce", "mse"],
            "soft",
            102,
        ),
        make_case(
            "two_convs",
            "input: [3, 7, 7], conv1: conv2d(4, kernel = 3, stride = 2, padding = 1) -> leaky_relu(0.1), "
            "conv2: conv2d(2, kernel = 2) -> silu, pool: max_pool((2, 1)), flat: flatten, "
            "h: dense(5) -> gelu, out: dense(2) -> sigmoid",
            (3, 7, 7),
            [
                conv("conv1", 4, 3, stride=2, padding=1, act="leaky_relu(0.1)"),
                conv("conv2", 2, 2, act="silu"),
                max_pool("pool", (2, 1)),
                flatten("flat"),
                dense("h", 5, "gelu"),
                dense("out", 2, "sigmoid"),
            ],
            3,
            ["bce", "mse"],
            "binary",
            103,
        ),
    ]
    out = {
        "generator": "tests/reference/make_cnn_reference.py",
        "torch_version": torch.__version__,
        "reduction": "mean (PyTorch's default): cross-entropy over samples, mse and bce over all n * outputs values",
        "cases": cases,
    }
    path = pathlib.Path(__file__).with_name("cnn.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path} with torch {torch.__version__}")
    for case in cases:
        print(f"  {case['name']}: {case['parameters']} parameters, shapes {case['shapes']}")


if __name__ == "__main__":
    main()
