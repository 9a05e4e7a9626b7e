"""Isolines with contourpy, packed for drawing as a single curve."""

from __future__ import annotations

import contourpy
import numpy as np
from numpy.typing import NDArray


def isolines(xs: NDArray, ys: NDArray, Z: NDArray, levels: NDArray) -> NDArray[np.float64]:
    """All isolines of Z (shape (len(ys), len(xs))) at ``levels`` as one (N, 2) array.

    Lines are separated by a row of NaN so a view draws them with one curve item
    (connect='finite') instead of one item per line.
    """
    gen = contourpy.contour_generator(
        np.asarray(xs, float), np.asarray(ys, float), np.asarray(Z, float),
        line_type=contourpy.LineType.SeparateCode,
    )
    parts: list[NDArray] = []
    sep = np.full((1, 2), np.nan)
    for level in np.asarray(levels, float):
        points, _codes = gen.lines(float(level))
        for seg in points:
            if len(seg) >= 2:
                parts.append(seg)
                parts.append(sep)
    if not parts:
        return np.empty((0, 2))
    return np.concatenate(parts[:-1])


def join_polylines(parts: list[NDArray]) -> NDArray[np.float64]:
    """Concatenate NaN-separated polylines into one, with a NaN row between each."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return np.empty((0, 2))
    sep = np.full((1, 2), np.nan)
    out: list[NDArray] = []
    for p in parts:
        out += [p, sep]
    return np.concatenate(out[:-1])
