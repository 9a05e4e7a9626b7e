"""Analysis: what the app has worked out about the landscape, and which overlays show it.

Critical points, the curvature field (with the gradient arrows) and the basin
map are computed by jobs and stored here with the key they were computed for
(Scene.critical_key, Scene.basins_key: the values each result depends on). The
UI's controller stores only results for the current key; after a parameter edit
the previous result stays shown until the new one lands, and a switch of
function clears them at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lossviewer.scene.observable import Event

if TYPE_CHECKING:
    from lossviewer.core.basins import BasinMap
    from lossviewer.core.critical_points import CriticalPoint
    from lossviewer.core.curvature import CurvatureResult

HEATMAPS = ("none", "min_eig", "condition")
HEATMAP_TITLES = {"none": "None", "min_eig": "Smallest Hessian eigenvalue λmin",
                  "condition": "Condition number |λ|max/|λ|min"}
SURFACE_COLORINGS = ("height", "curvature")
BASIN_GRID_RANGE = (16, 512)
BASIN_STEPS_RANGE = (10, 5000)
#: side of the curvature field (the 3D mesh is at most this too)
CURVATURE_RESOLUTION = 256
ARROWS_PER_SIDE = 24


@dataclass(frozen=True)
class AnalysisSettings:
    show_critical: bool = True
    arrows: bool = False
    heatmap: str = "none"
    surface_coloring: str = "height"
    basins: bool = False
    basin_grid: int = 128
    basin_steps: int = 500
    basin_opacity: float = 0.55


def _whole(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if not math.isfinite(v) or v != int(v):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {int(v)}")
    return int(v)


class Analysis:
    """Overlay settings and analysis results; change them on the GUI thread only."""

    def __init__(self) -> None:
        self.settings_changed = Event("analysis_settings_changed")  # (AnalysisSettings)
        self.critical_changed = Event("critical_changed")  # ()
        self.curvature_changed = Event("curvature_changed")  # ()
        self.basins_changed = Event("basins_changed")  # ()
        self.settings = AnalysisSettings()
        self.critical: list[CriticalPoint] | None = None
        self.critical_key: Any = None
        self.curvature: CurvatureResult | None = None
        self.curvature_key: Any = None
        self.basins: BasinMap | None = None
        self.basins_key: Any = None

    def set(self, **changes: Any) -> None:
        """Change overlay settings; a bad value raises ValueError and changes nothing."""
        new = replace(self.settings, **changes)
        if new.heatmap not in HEATMAPS:
            raise ValueError(f"unknown heatmap '{new.heatmap}'; known: {', '.join(HEATMAPS)}")
        if new.surface_coloring not in SURFACE_COLORINGS:
            raise ValueError(f"unknown surface colouring '{new.surface_coloring}'; "
                             f"known: {', '.join(SURFACE_COLORINGS)}")
        grid = _whole(new.basin_grid, "basin grid", *BASIN_GRID_RANGE)
        steps = _whole(new.basin_steps, "basin steps", *BASIN_STEPS_RANGE)
        opacity = float(new.basin_opacity)
        if not (math.isfinite(opacity) and 0.0 <= opacity <= 1.0):
            raise ValueError(f"basin opacity must lie in [0, 1], got {new.basin_opacity!r}")
        new = replace(new, show_critical=bool(new.show_critical), arrows=bool(new.arrows),
                      basins=bool(new.basins), basin_grid=grid, basin_steps=steps,
                      basin_opacity=opacity)
        if new != self.settings:
            self.settings = new
            self.settings_changed.emit(new)

    @property
    def wants_curvature(self) -> bool:
        s = self.settings
        return s.arrows or s.heatmap != "none" or s.surface_coloring == "curvature"

    # -- results, each with the key it was computed for -----------------------------
    def set_critical(self, points: list[CriticalPoint], key: Any) -> None:
        self.critical, self.critical_key = list(points), key
        self.critical_changed.emit()

    def set_curvature(self, result: CurvatureResult, key: Any) -> None:
        self.curvature, self.curvature_key = result, key
        self.curvature_changed.emit()

    def set_basins(self, basin_map: BasinMap, key: Any) -> None:
        self.basins, self.basins_key = basin_map, key
        self.basins_changed.emit()

    def clear(self) -> None:
        """Forget every result (another function: the old ones mean nothing there)."""
        self.critical = self.curvature = self.basins = None
        self.critical_key = self.curvature_key = self.basins_key = None
        self.critical_changed.emit()
        self.curvature_changed.emit()
        self.basins_changed.emit()
