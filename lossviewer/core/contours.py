"""Isolines with contourpy, packed for drawing as a single curve."""

from __future__ import annotations

from collections.abc import Generator

import contourpy
import numpy as np
from numpy.typing import NDArray

from lossviewer.core.iteration import run_to_end


def iter_isolines(xs: NDArray, ys: NDArray, Z: NDArray, levels: NDArray
                  ) -> Generator[None, None, NDArray[np.float64]]:
    """All isolines of Z (shape (len(ys), len(xs))) at ``levels`` as one (N, 2) array.

    Lines are separated by a row of NaN so a view draws them with one curve item
    (connect='finite') instead of one item per line. One contour generator
    serves every level; the generator yields after each level.
    """
    gen = contourpy.contour_generator(
        np.asarray(xs, float), np.asarray(ys, float), np.asarray(Z, float),
        line_type=contourpy.LineType.Separate,
    )
    parts: list[NDArray] = []
    sep = np.full((1, 2), np.nan)
    for level in np.asarray(levels, float):
        for seg in gen.lines(float(level)):
            if len(seg) >= 2:
                parts += [seg, sep]
        yield
    if not parts:
        return np.empty((0, 2))
    return np.concatenate(parts[:-1])


def isolines(xs: NDArray, ys: NDArray, Z: NDArray, levels: NDArray) -> NDArray[np.float64]:
    """:func:`iter_isolines` in one call."""
    return run_to_end(iter_isolines(xs, ys, Z, levels))
