"""Colours, fonts and colormaps shared by the views.

Two themes: dark (the default, and what projectors like) and light (for papers
and bright rooms). View → Theme chooses; "System" follows the desktop's colour
scheme and changes with it. The module constants below are the dark theme's;
views that draw chrome (backgrounds, axes, text) restyle through
``apply_theme(ThemeColors)``.
"""

from __future__ import annotations

from dataclasses import dataclass
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
ARROW_COLOR = (245, 247, 250, 190)
#: critical points: kind -> (2D symbol, colour, 2D size); the legend uses the titles
MARKER_STYLES = {
    "global": ("star", GLOBAL_MINIMUM_COLOR, 20),
    "minimum": ("star", MINIMUM_COLOR, 14),
    "saddle": ("x", "#c8d2ff", 13),
    "maximum": ("t1", "#ff8a80", 13),
    "degenerate": ("d", "#b0b8c4", 12),
}
MARKER_TITLES = {"global": "global minimum", "minimum": "minimum", "saddle": "saddle point",
                 "maximum": "maximum", "degenerate": "degenerate"}
#: diverging colormap for signed curvature (negative: blue, positive: red)
CURVATURE_COLORMAP = "CET-D1"
CONDITION_COLORMAP = "CET-L17"
#: basins: a qualitative palette (distinct from the run colours' order), then
#: diverged (dark) and not converged (grey)
BASIN_COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
                "#b07aa1", "#9c755f", "#bab0ac", "#86bcb6", "#d37295", "#a0cbe8")
BASIN_DIVERGED_COLOR = "#101010"
BASIN_NOT_CONVERGED_COLOR = "#6b6b6b"
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


def rgba(color: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """'#rrggbb' as floats in 0..1."""
    c = color.lstrip("#")
    return (int(c[0:2], 16) / 255, int(c[2:4], 16) / 255, int(c[4:6], 16) / 255, alpha)


def configure_pyqtgraph() -> None:
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True,
                        background=BACKGROUND, foreground=TEXT)


def scale_plot_fonts(plot: pg.PlotItem, scale: float, axes: tuple[str, ...] = ("left", "bottom"),
                     extra_axes: tuple = ()) -> None:
    """Tick and label fonts of a plot's axes at ``scale`` × the normal size."""
    from PySide6.QtGui import QFont

    tick = QFont(FONT_FAMILY, round(9 * scale))
    for axis in [*(plot.getAxis(a) for a in axes), *extra_axes]:
        axis.setStyle(tickFont=tick)
        axis.label.setFont(QFont(FONT_FAMILY, round(10 * scale)))


@dataclass(frozen=True)
class ThemeColors:
    name: str
    background: str
    panel: str
    text: str
    muted: str
    axis_rgba: tuple[float, float, float, float]
    legend_brush: tuple[int, int, int, int]
    #: Qt palette: window, base, alternate base, button, highlight, disabled text
    window: str
    base: str
    alternate: str
    button: str
    highlight: str
    disabled: str


DARK = ThemeColors("dark", BACKGROUND, PANEL, TEXT, MUTED, AXIS_RGBA, (20, 22, 27, 200),
                   "#1c1f26", "#14161b", "#23272f", "#2a2e37", "#3d7eff", "#6b7280")
LIGHT = ThemeColors("light", "#ffffff", "#f3f4f6", "#1f2430", "#5b6472",
                    (0.30, 0.33, 0.40, 1.0), (255, 255, 255, 215),
                    "#eceef2", "#ffffff", "#f5f6f8", "#e3e6eb", "#2f6fde", "#9aa1ad")
THEMES = {"dark": DARK, "light": LIGHT}
#: the theme in use (set by the window; image exports fill their background with it)
active: ThemeColors = DARK
#: the user's choices in View → Theme
THEME_CHOICES = {"system": "Follow the system", "dark": "Dark", "light": "Light"}


def qt_palette(colors: ThemeColors):
    """A QPalette for the docks and dialogs in these colours (Fusion style)."""
    from PySide6.QtGui import QColor, QPalette

    p = QPalette()
    roles = QPalette.ColorRole
    for role, color in (
        (roles.Window, colors.window), (roles.WindowText, colors.text),
        (roles.Base, colors.base), (roles.AlternateBase, colors.alternate),
        (roles.ToolTipBase, colors.alternate), (roles.ToolTipText, colors.text),
        (roles.Text, colors.text), (roles.Button, colors.button),
        (roles.ButtonText, colors.text), (roles.BrightText, "#ffffff"),
        (roles.Highlight, colors.highlight), (roles.HighlightedText, "#ffffff"),
        (roles.Link, colors.highlight), (roles.PlaceholderText, colors.muted),
    ):
        p.setColor(role, QColor(color))
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(colors.disabled))
    return p


def style_plot(widget: pg.PlotWidget, colors: ThemeColors) -> None:
    """Background, axes and tick labels of a pyqtgraph plot in these colours."""
    widget.setBackground(colors.background)
    item = widget.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(colors.muted))
        axis.setTextPen(pg.mkPen(colors.text))
        axis.label.setDefaultTextColor(pg.mkColor(colors.text))
    legend = item.legend
    if legend is not None:
        legend.setBrush(pg.mkBrush(*colors.legend_brush))
        legend.setLabelTextColor(colors.text)
