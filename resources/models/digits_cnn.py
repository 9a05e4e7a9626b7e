"""A LossViewer model file: a small CNN on the 8×8 handwritten digits (shipped with the app).

Open it with File → Open model… or
    lossviewer landscape --torch-script resources/models/digits_cnn.py --grid 31 --out digits.npz

Conv filters are normalised filter by filter (Li et al. 2018); the batch-norm
layer shows the two evaluation modes (stored running statistics, or statistics
recomputed at every grid point: --bn-mode train). Training here takes a few
seconds; a real model file would load saved weights instead.
"""

import torch

from lossviewer.core.datasets import make_dataset

_DATA = make_dataset("digits", seed=0)


def _tensors(X, y):
    images = torch.tensor(X, dtype=torch.float32).reshape(-1, 1, 8, 8)
    return images, torch.tensor(y, dtype=torch.int64)


def data():
    train = torch.utils.data.TensorDataset(*_tensors(_DATA.X_train, _DATA.y_train))
    val = _tensors(_DATA.X_val, _DATA.y_val)
    return {"train": torch.utils.data.DataLoader(train, batch_size=512), "val": val}


def model():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 2 * 2, 10),
    )
    X, y = _tensors(_DATA.X_train, _DATA.y_train)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    net.train()
    for _ in range(60):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    return net.eval()
