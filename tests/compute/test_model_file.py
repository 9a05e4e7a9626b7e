"""Model files: loading a user's model(), data() and loss(), and every way that can fail."""

from __future__ import annotations

import builtins
import textwrap
import threading
import time

import pytest

from lossviewer.compute.model_file import (
    TORCH_HINT,
    ModelFile,
    ModelFileError,
    load_model_file,
    torch_available,
)

torch = pytest.importorskip("torch", reason="model files need PyTorch (the torch extra)")

HEADER = """\
import torch

def _xy(n=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=g), torch.randint(0, 3, (n,), generator=g)

def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
"""


def write(tmp_path, body: str, name: str = "model.py", header: bool = True):
    path = tmp_path / name
    path.write_text((HEADER if header else "") + textwrap.dedent(body))
    return path


def load_error(path, **kw) -> ModelFileError:
    with pytest.raises(ModelFileError) as info:
        load_model_file(path, **kw)
    return info.value


# -- good files --------------------------------------------------------------------------


def test_tensors_load_and_describe_themselves(tmp_path) -> None:
    path = write(tmp_path, "def data():\n    return _xy()\n")
    mf = load_model_file(path)
    assert isinstance(mf, ModelFile)
    assert mf.path == str(path) and mf.name == "model.py"
    assert isinstance(mf.module, torch.nn.Sequential)
    assert len(mf.train) == 1 and mf.val is None
    X, y = mf.train[0]
    assert X.shape == (20, 2) and y.shape == (20,)
    assert not mf.custom_loss and mf.loss is torch.nn.functional.cross_entropy
    # 2·4 + 4 + 4·3 + 3 parameters
    assert mf.describe() == ("model.py: Sequential with 27 parameters, 20 training samples, "
                             "no validation set")


def test_train_and_validation_pair(tmp_path) -> None:
    path = write(tmp_path, "def data():\n    return _xy(20, 0), _xy(7, 1)\n")
    mf = load_model_file(path, timeout=30)
    assert [x.shape[0] for x, _ in mf.train] == [20]
    assert [x.shape[0] for x, _ in mf.val] == [7]
    assert mf.describe().endswith("20 training samples / 7 validation")


@pytest.mark.parametrize("key", ["val", "validation"])
def test_dict_of_splits(tmp_path, key) -> None:
    path = write(tmp_path, f"""
        def data():
            return {{"train": _xy(12, 0), "{key}": _xy(5, 1)}}
        """)
    mf = load_model_file(path)
    assert mf.train[0][0].shape[0] == 12 and mf.val[0][0].shape[0] == 5


def test_dict_without_validation(tmp_path) -> None:
    path = write(tmp_path, "def data():\n    return {'train': _xy(12)}\n")
    mf = load_model_file(path)
    assert mf.val is None and mf.train[0][0].shape[0] == 12


def test_data_loaders_become_lists_of_batches(tmp_path) -> None:
    path = write(tmp_path, """
        def data():
            ds = torch.utils.data.TensorDataset(*_xy(10, 0))
            val = torch.utils.data.TensorDataset(*_xy(6, 1))
            return (torch.utils.data.DataLoader(ds, batch_size=4),
                    torch.utils.data.DataLoader(val, batch_size=5))
        """)
    mf = load_model_file(path)
    assert [x.shape[0] for x, _ in mf.train] == [4, 4, 2]
    assert [x.shape[0] for x, _ in mf.val] == [5, 1]
    assert all(isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)
               for x, y in mf.train + mf.val)
    assert "10 training samples / 6 validation" in mf.describe()


def test_custom_loss_is_used(tmp_path) -> None:
    path = write(tmp_path, """
        def data():
            return _xy()

        def loss(out, y):
            return (out ** 2).mean() + 1000.0
        """)
    mf = load_model_file(path)
    assert mf.custom_loss
    X, y = mf.train[0]
    with torch.no_grad():
        out = mf.module(X)
        assert float(mf.loss(out, y)) == pytest.approx(float((out ** 2).mean()) + 1000.0)


# -- errors ------------------------------------------------------------------------------


def test_missing_file(tmp_path) -> None:
    err = load_error(tmp_path / "nope.py")
    assert "no such file" in str(err) and "nope.py" in str(err)


def test_syntax_error_names_the_line(tmp_path) -> None:
    path = write(tmp_path, "x = 1\ndef model(:\n    pass\n", name="bad.py", header=False)
    err = load_error(path)
    assert "bad.py has a syntax error at line 2" in str(err)
    assert "SyntaxError" in err.details and "Traceback" in err.details


def test_model_raising_names_the_exception(tmp_path) -> None:
    path = write(tmp_path, """
        def model():
            raise RuntimeError("weights.pt not found")

        def data():
            return _xy()
        """)
    err = load_error(path)
    assert str(err) == "model() in model.py raised RuntimeError: weights.pt not found"
    assert "Traceback" in err.details and "weights.pt not found" in err.details


def test_module_level_exception(tmp_path) -> None:
    path = write(tmp_path, "import torch\nraise KeyError('oops')\n", header=False)
    err = load_error(path)
    assert "running model.py raised KeyError" in str(err) and "oops" in str(err)
    assert "Traceback" in err.details


def test_model_not_a_module(tmp_path) -> None:
    path = write(tmp_path, """
        import torch

        def model():
            return {"weight": torch.zeros(3)}

        def data():
            return torch.zeros(4, 2), torch.zeros(4, dtype=torch.int64)
        """, header=False)
    err = load_error(path)
    assert "model() in model.py must return a torch.nn.Module, got dict" in str(err)


def test_model_without_parameters(tmp_path) -> None:
    path = write(tmp_path, """
        import torch

        def model():
            return torch.nn.ReLU()

        def data():
            return torch.zeros(4, 2), torch.zeros(4, dtype=torch.int64)
        """, header=False)
    assert "has no parameters" in str(load_error(path))


@pytest.mark.parametrize(("body", "snippet"), [
    ("def data():\n    return 42\n", "data() must be (X, y) tensors or a DataLoader, got int"),
    ("def data():\n    return 'abc'\n", "batches must be (inputs, targets) pairs"),
    ("def data():\n    return []\n", "data(): no batches"),
    ("def data():\n    return {'val': _xy()}\n", "without a 'train' entry"),
    ("def data():\n    return _xy(), 7\n", "data()[1] must be (X, y) tensors"),
])
def test_data_returning_junk(tmp_path, body, snippet) -> None:
    err = load_error(write(tmp_path, body))
    assert snippet in str(err), str(err)


def test_mismatched_lengths(tmp_path) -> None:
    path = write(tmp_path, """
        def data():
            X, y = _xy(10)
            return X, y[:7]
        """)
    assert "data(): 10 inputs but 7 targets" in str(load_error(path))


def test_mismatched_lengths_in_validation(tmp_path) -> None:
    path = write(tmp_path, """
        def data():
            X, y = _xy(10)
            return _xy(5), (X[:3], y)
        """)
    assert "data()[1]: 3 inputs but 10 targets" in str(load_error(path))


def test_data_raising(tmp_path) -> None:
    path = write(tmp_path, "def data():\n    return 1 / 0\n")
    err = load_error(path)
    assert str(err) == "data() in model.py raised ZeroDivisionError: division by zero"


def test_no_data_function(tmp_path) -> None:
    path = write(tmp_path, "")
    assert str(load_error(path)) == "model.py does not define data()"


def test_no_model_function(tmp_path) -> None:
    path = write(tmp_path, "import torch\ndata = 3\n", header=False)
    assert str(load_error(path)) == "model.py does not define model()"


def test_time_limit(tmp_path) -> None:
    assert threading.current_thread() is threading.main_thread()
    path = write(tmp_path, "import time\ntime.sleep(10)\n", name="slow.py", header=False)
    start = time.monotonic()
    err = load_error(path, timeout=1)
    assert time.monotonic() - start < 5
    msg = str(err)
    assert msg.startswith("slow.py did not finish within 1 s"), msg
    assert "return quickly" in msg
    assert not isinstance(err, TimeoutError)


def test_time_limit_inside_model(tmp_path) -> None:
    path = write(tmp_path, """
        import time

        def model():
            time.sleep(10)

        def data():
            return None
        """, name="slow_model.py", header=False)
    msg = str(load_error(path, timeout=0.5))
    assert msg.startswith("slow_model.py did not finish within 0.5 s"), msg


def test_without_torch(tmp_path, monkeypatch) -> None:
    path = write(tmp_path, "def data():\n    return _xy()\n")
    real = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    assert not torch_available()
    err = load_error(path)
    assert str(err) == TORCH_HINT
    assert "pip install" in str(err)


def test_the_shipped_moons_example_loads_and_is_trained():
    from pathlib import Path

    from lossviewer.compute.torch_plane import TorchNetwork, TorchPlaneEvaluator
    from lossviewer.core.plane_eval import Plane

    path = Path(__file__).resolve().parents[2] / "resources" / "models" / "moons_mlp.py"
    mf = load_model_file(str(path), timeout=120)
    assert mf.val is not None and "354 parameters" in mf.describe()
    net = TorchNetwork(mf)
    theta = net.theta0()
    ev = TorchPlaneEvaluator(net, mf.val, Plane(theta, 0 * theta, 0 * theta), "float64")
    loss, acc = ev.direct(0.0, 0.0)
    assert loss < 0.2 and acc > 0.9  # a trained model, not an initial one
