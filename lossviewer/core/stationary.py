"""Merging stationary points of a landscape: clustering nearby points, vectorised.

A search for stationary points (∇f = 0) ends with many copies of each one: every
start point that converged to the same minimum sits a rounding error away from
the others, and a flat valley floor gives a whole chain of them.
:func:`cluster_points` groups such points so that each group can be reported
once; :func:`connected_components` is the graph step underneath. Both are
numpy only: Python loops run over a handful of neighbour offsets and
union-find rounds, never over points.

Two clustering rules are offered, because the critical-point finder and the
basin map promise different things (see :func:`cluster_points`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["Linkage", "cluster_points", "connected_components"]

#: "single": exact single linkage at a distance; "cells": touching grid cells
Linkage = Literal["single", "cells"]


def connected_components(n: int, i: NDArray[np.intp], j: NDArray[np.intp]) -> NDArray[np.intp]:
    """Connected components of ``n`` nodes joined by edges (i[k], j[k]): a label
    0..c−1 per node, components numbered in the order of their lowest node.

    Vectorised union-find: each round hooks, for every edge whose ends have
    different roots, the higher root onto the lower one, then jumps pointers
    until every node points at its root. On long chains this needs far fewer
    rounds than min-label propagation.
    """
    parent = np.arange(n)
    while True:
        pu, pv = parent[i], parent[j]
        diff = pu != pv
        if not diff.any():
            break
        lo, hi = np.minimum(pu[diff], pv[diff]), np.maximum(pu[diff], pv[diff])
        np.minimum.at(parent, hi, lo)
        while True:  # pointer jumping until every node points at its root
            pp = parent[parent]
            if np.array_equal(pp, parent):
                break
            parent = pp
    # roots only ever point lower, so each root is its component's lowest node
    return np.unique(parent, return_inverse=True)[1].reshape(-1)


def _cell_keys(cells: NDArray[np.int64], reach: int
               ) -> tuple[NDArray, Callable[[NDArray, int, int], NDArray]]:
    """One key per cell (x, y) ≥ 0, sorting as (x, y), and a function giving the
    keys of cells shifted by (dx, dy), |dx|, |dy| ≤ ``reach``.

    One int64 x·W + y where it fits (W leaves room so that y ± reach never
    aliases); otherwise (cells spread too far, e.g. points far apart with a tiny
    radius) a structured (x, y) pair.
    """
    W = int(cells[:, 1].max()) + reach + 1
    if (int(cells[:, 0].max()) + reach + 1) * W < 2**62:
        return cells[:, 0] * W + cells[:, 1], lambda k, dx, dy: k + (dx * W + dy)
    keys = np.empty(len(cells), dtype=[("x", np.int64), ("y", np.int64)])
    keys["x"], keys["y"] = cells[:, 0], cells[:, 1]

    def shift(k: NDArray, dx: int, dy: int) -> NDArray:
        out = np.empty_like(k)
        out["x"], out["y"] = k["x"] + dx, k["y"] + dy
        return out

    return keys, shift


def cluster_points(P: NDArray[np.float64], radius: float, *,
                   linkage: Linkage = "single") -> NDArray[np.intp]:
    """Cluster labels 0..k−1 of points (N, 2), numbered in the order of each
    cluster's first grid cell (by x, then y).

    ``linkage="single"``: exact single linkage: chains of points at most
    ``radius`` apart (inclusive) are one cluster. Points are binned into square
    cells of side radius/√2, so points sharing a cell are always linked, and
    only pairs from cells at most two apart are compared. Near-identical points
    are merged first, so a thousand start points that converged to one
    stationary point cost nothing.

    ``linkage="cells"``: points are binned into square cells of side ``radius``
    (from the lowest corner of the points) and occupied cells that touch (8
    neighbours) are joined. Coarser, and a different promise: points closer
    than ``radius`` always share a cluster, but points up to 2√2·radius apart
    may too (the rule the basin map documents).

    Cells are counted in float64 and int64: both rules hold while the points
    span fewer than about 2**53 cells, i.e. while their coordinates resolve
    ``radius`` at all.
    """
    if linkage not in ("single", "cells"):
        raise ValueError(f"linkage must be 'single' or 'cells', got {linkage!r}")
    single = linkage == "single"
    if len(P) == 0:
        return np.zeros(0, dtype=np.intp)
    origin = P.min(axis=0)
    if single:
        side, reach = radius / np.sqrt(2.0), 2
        # near-identical points (same cell of side side/1024) are one node, where
        # those cells can be counted in int64 (else every point is its own node)
        fine = np.floor((P - origin) / (side / 1024.0))
        if fine.max() < 2.0**62:
            _, first, node_of = np.unique(fine.astype(np.int64), axis=0, return_index=True,
                                          return_inverse=True)
            Q = P[first]
        else:
            Q, node_of = P, np.arange(len(P))
    else:
        side, reach = radius, 1
        Q = P
    cells = np.clip(np.floor((Q - origin) / side), 0, 2.0**61).astype(np.int64)
    keys, shift = _cell_keys(cells, reach)
    if single:
        order = np.argsort(keys, kind="stable")
        keys, Q = keys[order], Q[order]
    else:
        # one node per occupied cell (np.unique sorts them)
        keys, node_of = np.unique(keys, return_inverse=True)
    m = len(keys)
    src_all, dst_all = [np.zeros(0, np.intp)], [np.zeros(0, np.intp)]
    # nodes sharing a cell are one cluster anyway: chain each to the next one in its cell
    same = np.flatnonzero(keys[1:] == keys[:-1])
    src_all.append(same)
    dst_all.append(same + 1)
    # the other nodes in the cells up to ``reach`` away (half the neighbourhood:
    # each pair once), as index ranges into the sorted keys
    for dx in range(reach + 1):
        for dy in range(-reach, reach + 1):
            if dx == 0 and dy <= 0:
                continue
            target = shift(keys, dx, dy)
            lo = np.searchsorted(keys, target, side="left")
            if single:
                counts = np.searchsorted(keys, target, side="right") - lo
            else:  # one node per cell: the target cell is occupied or not
                counts = (keys[np.minimum(lo, m - 1)] == target).astype(np.intp)
            total = int(counts.sum())
            if total == 0:
                continue
            src = np.repeat(np.arange(m), counts)
            dst = lo[src] + np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            if single:
                close = np.hypot(Q[src, 0] - Q[dst, 0], Q[src, 1] - Q[dst, 1]) <= radius
                src, dst = src[close], dst[close]
            src_all.append(src)
            dst_all.append(dst)
    labels = connected_components(m, np.concatenate(src_all), np.concatenate(dst_all))
    if single:
        unsorted = np.empty(m, dtype=np.intp)
        unsorted[order] = labels
        labels = unsorted
    return labels[node_of.reshape(-1)]
