"""A weight file written by PyTorch, for tests/weights.rs.

Run from the repository root (needs torch and safetensors):

    python3 tests/reference/make_torch_weights.py

It builds a 5-7-3 network with non-square layers (Linear(5, 7), tanh, Linear(7, 3)) in
float32, saves its state dict with safetensors under retroprop's tensor names
(`hidden.weight`, `hidden.bias`, `output.weight`, `output.bias`), and stores inputs and the
network's outputs beside it in JSON.
"""

import json
import pathlib

import torch
from safetensors.torch import save_file

torch.manual_seed(2024)
here = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
here.mkdir(exist_ok=True)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(5, 7)
        self.output = torch.nn.Linear(7, 3)

    def forward(self, x):
        return torch.softmax(self.output(torch.tanh(self.hidden(x))), dim=1)


net = Net()
save_file({k: v.contiguous() for k, v in net.state_dict().items()}, here / "torch_5_7_3.safetensors")
x = torch.randn(4, 5)
with torch.no_grad():
    y = net(x)
(here / "torch_5_7_3.json").write_text(
    json.dumps({"torch_version": torch.__version__, "x": x.tolist(), "y": y.tolist()}, indent=1) + "\n"
)
print("wrote", here / "torch_5_7_3.safetensors")
