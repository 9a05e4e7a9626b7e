"""The GUI entry points of the command line, in a real process under Xvfb."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.gl


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "lossviewer", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_smoke_test_passes():
    proc = _run("--smoke-test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "smoke test passed" in proc.stdout


def test_screenshot_of_default_scene(tmp_path):
    out = tmp_path / "shot.png"
    proc = _run("--screenshot", str(out), "--size", "1200x760")
    assert proc.returncode == 0, proc.stderr
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape == (760, 1200, 3)
    colors = np.unique(img.reshape(-1, 3), axis=0)
    assert len(colors) > 1000, "a real picture, not an empty window"
    # the first run's path colour (red) is visible in the picture
    red = np.linalg.norm(img.astype(float) - [255, 59, 48], axis=-1) < 30
    assert red.sum() > 50


def test_screenshot_to_unwritable_path_fails_cleanly(tmp_path):
    proc = _run("--screenshot", str(tmp_path / "missing" / "dir" / "x.png"))
    assert proc.returncode in (1, 2)
    assert "Traceback" not in proc.stderr
    assert "lossviewer: error:" in proc.stderr
