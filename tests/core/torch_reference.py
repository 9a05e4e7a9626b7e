"""Loads tests/core/make_torch_reference.py (the torch reference generator) as a module,
so the live-torch tests compute exactly what the stored references were made from."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def generator_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_torch_reference", HERE / "make_torch_reference.py"
    )
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod
