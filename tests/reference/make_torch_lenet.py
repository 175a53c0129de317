"""A LeNet weight file written by PyTorch, for tests/weights.rs.

Run from the repository root (needs torch and safetensors, see compare/requirements.txt):

    python3 tests/reference/make_torch_lenet.py

It builds LeNet-5 (as retroprop writes it: conv1 6@5x5 padding 2, relu, 2x2 max-pool, conv2
16@5x5, relu, 2x2 max-pool, flatten, 120 relu, 84 relu, 10 softmax; 61,706 parameters, no
dropout, so eval and train agree) as an nn.Module whose attributes have the layer names of the
Rust definition, trains it for a few steps on synthetic data (so that its outputs depend on
the input; freshly initialized, it answers about 0.1 for every class and every image), and
writes, in float32:

- tests/fixtures/torch_lenet.safetensors: `safetensors.torch.save_file(model.state_dict())`,
  tensors conv1.weight [6, 1, 5, 5], conv1.bias [6], conv2.weight [16, 6, 5, 5], conv2.bias
  [16], fc1.weight [120, 400], fc1.bias, fc2.weight [84, 120], fc2.bias, output.weight
  [10, 84], output.bias [10];
- tests/fixtures/torch_lenet.json: the state dict's keys and shapes in its order, two inputs
  of 784 values (channel, row, column order; rounded to 4 decimals and fed to torch exactly as
  rounded) and the model's outputs after the softmax.

It then loads the file it wrote back into a fresh module with `load_state_dict(strict=True)`
and checks the outputs (the same check as below, on its own file).

Checking a file that retroprop wrote (manual, not in CI: it needs cargo and torch):

    RETROPROP_LENET_OUT=/tmp/rust_lenet.safetensors cargo test --test weights lenet
    python3 tests/reference/make_torch_lenet.py --check /tmp/rust_lenet.safetensors

The Rust test `a_lenet_written_by_pytorch_loads_reproduces_its_outputs_and_saves_in_its_layout`
loads the fixture and, when RETROPROP_LENET_OUT is set, saves the network there. `--check`
writes nothing: it loads that file into the PyTorch LeNet with `load_state_dict(strict=True)`
(every key present, none extra, every shape right), checks that each tensor is float32 and
bit-identical to the fixture's, prints the file's metadata, and compares the outputs on the
JSON's inputs with the JSON's.
"""

import argparse
import json
import pathlib

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
WEIGHTS = FIXTURES / "torch_lenet.safetensors"
REFERENCE = FIXTURES / "torch_lenet.json"
STEPS = 12  # enough that the outputs depend on the input, few enough that none saturates


class LeNet(torch.nn.Module):
    """The Rust definition in tests/weights.rs, layer for layer and name for name."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 6, 5, padding=2)
        self.pool1 = torch.nn.MaxPool2d(2)
        self.conv2 = torch.nn.Conv2d(6, 16, 5)
        self.pool2 = torch.nn.MaxPool2d(2)
        self.flat = torch.nn.Flatten()
        self.fc1 = torch.nn.Linear(16 * 5 * 5, 120)
        self.fc2 = torch.nn.Linear(120, 84)
        self.output = torch.nn.Linear(84, 10)

    def logits(self, x):
        """`x` is [n, 784], each row an image in channel, row, column order."""
        a = x.reshape(-1, 1, 28, 28)
        a = self.pool1(torch.relu(self.conv1(a)))
        a = self.pool2(torch.relu(self.conv2(a)))
        a = self.flat(a)
        a = torch.relu(self.fc1(a))
        a = torch.relu(self.fc2(a))
        return self.output(a)

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


def synthetic_digits(gen, n):
    """`n` 28x28 images in [0, 1]: a bright 8x8 square at one of 9 places (classes 0 to 8) or
    none (class 9), on uniform noise of amplitude 0.3."""
    labels = torch.randint(0, 10, (n,), generator=gen)
    images = torch.rand(n, 28, 28, generator=gen) * 0.3
    for i, label in enumerate(labels.tolist()):
        if label < 9:
            r, c = divmod(label, 3)
            images[i, 2 + 9 * r : 10 + 9 * r, 2 + 9 * c : 10 + 9 * c] += 0.7
    return images.reshape(n, 784), labels


def check(path, reference):
    """Loads `path` into a PyTorch LeNet strictly and compares it with the fixture and the
    JSON's outputs; raises on any difference."""
    model = LeNet()
    state = load_file(str(path))
    model.load_state_dict(state, strict=True)  # raises on a missing, extra or misshapen tensor
    torch_state = load_file(str(WEIGHTS))
    for name, value in state.items():
        assert value.dtype == torch.float32, f"{name} is {value.dtype}"
        assert torch.equal(value, torch_state[name]), f"{name} differs from {WEIGHTS.name}"
    keys = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert keys == [(t["name"], t["shape"]) for t in reference["tensors"]], keys
    x = torch.tensor(reference["x"], dtype=torch.float32)
    with torch.no_grad():
        y = model(x)
    expected = torch.tensor(reference["y"], dtype=torch.float32)
    diff = (y - expected).abs().max().item()
    assert diff <= 1e-6, f"outputs differ by {diff}"
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    print(f"{path}: loads with strict=True, {len(state)} float32 tensors equal to {WEIGHTS.name}, "
          f"outputs within {diff:.1e}; metadata {metadata}")


def make():
    torch.manual_seed(2025)
    torch.set_num_threads(1)  # one summation order for the training steps
    gen = torch.Generator().manual_seed(2025)
    model = LeNet()
    assert sum(p.numel() for p in model.parameters()) == 61_706

    x_train, labels = synthetic_digits(gen, 64)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model.logits(x_train), labels)
        loss.backward()
        opt.step()
    print(f"training loss after {STEPS} Adam steps: {loss.item():.4f}")

    # Two inputs, rounded to 4 decimals; torch gets exactly the rounded values, as the Rust
    # test does (JSON number -> f64 -> f32).
    test_x, test_labels = synthetic_digits(gen, 2)
    x = [[round(float(v), 4) for v in row] for row in test_x]
    with torch.no_grad():
        y = model(torch.tensor(x, dtype=torch.float32))
        y64 = LeNet().double()
        y64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
        exact = y64(torch.tensor(x, dtype=torch.float64))
    f32_error = (y.double() - exact).abs().max().item()
    assert f32_error < 1e-6, f32_error  # float32 rounding is far below the Rust test's 1e-5

    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(WEIGHTS))
    reference = {
        "torch_version": torch.__version__,
        "generator": "tests/reference/make_torch_lenet.py",
        "parameters": sum(v.numel() for v in state.values()),
        "tensors": [{"name": k, "shape": list(v.shape)} for k, v in state.items()],
        "labels": test_labels.tolist(),
        "x": x,
        "y": y.tolist(),
    }
    REFERENCE.write_text(json.dumps(reference, indent=1) + "\n")
    print(f"wrote {WEIGHTS} and {REFERENCE} with torch {torch.__version__}")
    print(f"outputs {[[round(v, 4) for v in row] for row in y.tolist()]}, labels {test_labels.tolist()}, "
          f"float32 against float64: {f32_error:.1e}")
    check(WEIGHTS, reference)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", metavar="FILE", help="check a weight file (e.g. one retroprop wrote); write nothing")
    args = parser.parse_args()
    if args.check:
        check(pathlib.Path(args.check), json.loads(REFERENCE.read_text()))
    else:
        make()


if __name__ == "__main__":
    main()
