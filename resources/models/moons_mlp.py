"""A LossViewer model file: a small MLP on the built-in two-moons data.

Open it with File → Open model… or
    lossviewer landscape --torch-script resources/models/moons_mlp.py --grid 51 --out moons.npz

A model file defines model() (a torch.nn.Module with its weights loaded), data()
(tensors or a DataLoader; here training and validation tensors) and optionally
loss(outputs, targets) (default: cross-entropy). Real projects load saved weights
in model(), e.g. net.load_state_dict(torch.load("weights.pt")); this example
trains for a moment instead, so it needs no other file.
"""

import torch

from lossviewer.core.datasets import make_dataset

_DATA = make_dataset("moons", seed=0)


def _tensors(X, y):
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def data():
    return _tensors(_DATA.X_train, _DATA.y_train), _tensors(_DATA.X_val, _DATA.y_val)


def model():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 16), torch.nn.ReLU(),
        torch.nn.Linear(16, 16), torch.nn.ReLU(),
        torch.nn.Linear(16, 2),
    )
    X, y = _tensors(_DATA.X_train, _DATA.y_train)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    return net
