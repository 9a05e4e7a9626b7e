"""The layering rule: only lossviewer.ui imports Qt, pyqtgraph, OpenGL or superqt."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADLESS = ["lossviewer.core", "lossviewer.compute", "lossviewer.scene", "lossviewer.io"]
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "OpenGL", "superqt", "PyQt5", "PyQt6")


def test_headless_packages_load_no_qt() -> None:
    """Import every headless module in a fresh interpreter; no GUI module may load."""
    code = f"""
import importlib, pkgutil, sys
import lossviewer
for pkg in {HEADLESS!r}:
    mod = importlib.import_module(pkg)
    for info in pkgutil.walk_packages(mod.__path__, pkg + "."):
        importlib.import_module(info.name)
import lossviewer.cli
bad = sorted(m for m in sys.modules if m.split(".")[0] in {FORBIDDEN!r})
print(",".join(bad))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "", f"GUI modules loaded by headless code: {out.stdout}"


def test_import_linter_contracts_hold() -> None:
    """The import-linter contracts in pyproject.toml (layers + forbidden GUI imports)."""
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.fail("lint-imports is not installed (pip install -e '.[test]')")
    out = subprocess.run([str(lint)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 2 kept, 0 broken" in out.stdout, out.stdout


def test_the_window_starts_without_sympy() -> None:
    """sympy costs ~0.5 s to import: only a typed formula may load it, not start-up."""
    code = """
import sys
import lossviewer.cli, lossviewer.app, lossviewer.ui.main_window
print("sympy" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
