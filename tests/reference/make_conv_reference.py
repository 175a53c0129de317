"""Reference values for the convolution and pooling kernels, computed with PyTorch in float64.

Run from the repository root (PyTorch and NumPy in any environment, e.g. a venv outside the
repository):

    python3 tests/reference/make_conv_reference.py

It writes tests/reference/conv.json, which runtime/tests/conv_pytorch.rs checks against.
Tensors are stored as PyTorch stores them, as nested lists: a convolution's `weight` has
shape [out, in, kh, kw], `bias` [out], inputs `x` [n, C, H, W] (NCHW) and outputs [n, C', H',
W']. Each case has a fixed random tensor `r` the shape of the output; the gradients are those
of the scalar `sum(output * r)` (so the output gradient is `r`). Max-pool cases also store
PyTorch's `indices` (return_indices=True: row * W + column within each channel). CI does not
need PyTorch: the JSON is committed.
"""

import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def conv_case(name, in_channels, in_h, in_w, out_channels, kernel, stride, padding, n, seed):
    gen = torch.Generator().manual_seed(seed)
    fan_in = in_channels * kernel[0] * kernel[1]
    weight = (torch.rand(out_channels, in_channels, *kernel, generator=gen) * 2 - 1) / fan_in**0.5
    bias = torch.rand(out_channels, generator=gen) * 2 - 1
    x = torch.randn(n, in_channels, in_h, in_w, generator=gen)
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    x.requires_grad_(True)
    out = F.conv2d(x, weight, bias, stride=stride, padding=padding)
    r = torch.randn(out.shape, generator=gen)
    (out * r).sum().backward()
    return {
        "name": name,
        "in_channels": in_channels,
        "in_h": in_h,
        "in_w": in_w,
        "out_channels": out_channels,
        "kernel": list(kernel),
        "stride": list(stride),
        "padding": list(padding),
        "n": n,
        "weight": weight.detach().tolist(),
        "bias": bias.detach().tolist(),
        "x": x.detach().tolist(),
        "r": r.tolist(),
        "output": out.detach().tolist(),
        "grad_weight": weight.grad.tolist(),
        "grad_bias": bias.grad.tolist(),
        "grad_input": x.grad.tolist(),
    }


def first_max_indices(x, window, stride):
    """The first maximum of each window (rows, then columns), as plane indices, with NumPy."""
    n, c, h, w = x.shape
    oh, ow = (h - window[0]) // stride[0] + 1, (w - window[1]) // stride[1] + 1
    out = np.zeros((n, c, oh, ow), dtype=np.int64)
    for s in range(n):
        for ch in range(c):
            for oy in range(oh):
                for ox in range(ow):
                    y0, x0 = oy * stride[0], ox * stride[1]
                    patch = x[s, ch, y0 : y0 + window[0], x0 : x0 + window[1]]
                    dy, dx = divmod(int(np.argmax(patch)), window[1])  # argmax: the first one
                    out[s, ch, oy, ox] = (y0 + dy) * w + x0 + dx
    return out


def pool_case(kind, name, channels, in_h, in_w, window, stride, n, seed, levels=None):
    """A max- or average-pool case; `levels` draws integer inputs in [0, levels), with ties."""
    gen = torch.Generator().manual_seed(seed)
    if levels is None:
        x = torch.randn(n, channels, in_h, in_w, generator=gen)
    else:
        x = torch.randint(0, levels, (n, channels, in_h, in_w), generator=gen).to(torch.float64)
    x.requires_grad_(True)
    case = {
        "name": name,
        "channels": channels,
        "in_h": in_h,
        "in_w": in_w,
        "window": list(window),
        "stride": list(stride),
        "n": n,
    }
    if kind == "max":
        out, indices = F.max_pool2d(x, window, stride=stride, return_indices=True)
        # The rule the Rust kernel follows, checked on PyTorch's answer.
        expected = first_max_indices(x.detach().numpy(), window, stride)
        assert (indices.numpy() == expected).all(), f"{name}: PyTorch did not pick the first maximum"
        case["indices"] = indices.tolist()
    else:
        out = F.avg_pool2d(x, window, stride=stride)
    r = torch.randn(out.shape, generator=gen)
    (out * r).sum().backward()
    case.update(
        {"x": x.detach().tolist(), "r": r.tolist(), "output": out.detach().tolist(), "grad_input": x.grad.tolist()}
    )
    return case


def window_has_tie(case):
    """Whether some window of a max-pool case holds its maximum more than once."""
    x = np.array(case["x"])
    kh, kw = case["window"]
    sh, sw = case["stride"]
    out = np.array(case["output"])
    for s, c, oy, ox in np.ndindex(out.shape):
        patch = x[s, c, oy * sh : oy * sh + kh, ox * sw : ox * sw + kw]
        if (patch == patch.max()).sum() > 1:
            return True
    return False


def main():
    conv = [
        conv_case("rectangular_stride_padding", 2, 7, 6, 3, (3, 2), (2, 1), (1, 1), 3, 11),
        conv_case("stride_2_padding_2", 1, 5, 5, 2, (3, 3), (2, 2), (2, 2), 2, 12),
        conv_case("rounds_down", 3, 8, 7, 4, (4, 2), (3, 2), (0, 0), 2, 13),
        conv_case("padding_wider_than_kernel", 2, 3, 3, 2, (1, 2), (2, 3), (2, 2), 2, 14),
    ]
    max_pool = [
        pool_case("max", "overlapping_3x3_stride_2", 2, 7, 7, (3, 3), (2, 2), 2, 21),
        pool_case("max", "rectangular_rounds_down", 3, 7, 5, (2, 3), (2, 1), 1, 22),
        pool_case("max", "ties_2x2_stride_2", 2, 6, 7, (2, 2), (2, 2), 2, 23, levels=3),
        pool_case("max", "ties_overlapping_3x3_stride_1", 1, 5, 5, (3, 3), (1, 1), 2, 24, levels=2),
    ]
    for case in max_pool:
        if case["name"].startswith("ties"):
            assert window_has_tie(case), f"{case['name']} has no tie"
    avg_pool = [
        pool_case("avg", "rectangular", 2, 7, 6, (3, 2), (2, 1), 2, 31),
        pool_case("avg", "overlapping_3x3_stride_1", 1, 5, 5, (3, 3), (1, 1), 3, 32),
        pool_case("avg", "2x2_stride_2_rounds_down", 2, 7, 7, (2, 2), (2, 2), 2, 33),
    ]
    out = {
        "generator": "tests/reference/make_conv_reference.py",
        "torch_version": torch.__version__,
        "conv": conv,
        "max_pool": max_pool,
        "avg_pool": avg_pool,
    }
    path = pathlib.Path(__file__).with_name("conv.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path} with torch {torch.__version__}")


if __name__ == "__main__":
    main()
