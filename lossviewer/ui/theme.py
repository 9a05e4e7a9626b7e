"""Colours, fonts and colormaps shared by the views (dark, projector-friendly)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyqtgraph as pg

BACKGROUND = "#14161b"
PANEL = "#1c1f26"
TEXT = "#d8dce4"
MUTED = "#8a93a3"
AXIS_RGBA = (0.62, 0.66, 0.74, 1.0)
START_RGBA = (1.0, 1.0, 1.0, 1.0)
MINIMUM_RGBA = (0.2, 1.0, 0.85, 1.0)
MINIMUM_COLOR = "#33ffd9"
GLOBAL_MINIMUM_RGBA = (1.0, 0.84, 0.04, 1.0)
GLOBAL_MINIMUM_COLOR = "#ffd60a"
ISOLINE_COLOR = (255, 255, 255, 70)
FONT_FAMILY = "DejaVu Sans"


@lru_cache(maxsize=16)
def colormap(name: str) -> pg.ColorMap:
    cmap = pg.colormap.get(name)
    if cmap is None:  # pragma: no cover - every offered name ships with pyqtgraph
        raise ValueError(f"unknown colormap {name!r}")
    return cmap


@lru_cache(maxsize=16)
def colormap_lut(name: str, n: int = 512) -> np.ndarray:
    """(n, 4) float32 RGBA in 0..1."""
    lut = colormap(name).getLookupTable(0.0, 1.0, n, alpha=True, mode="float")
    return np.ascontiguousarray(lut, dtype=np.float32)


def configure_pyqtgraph() -> None:
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True,
                        background=BACKGROUND, foreground=TEXT)
