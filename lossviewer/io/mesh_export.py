"""Landscapes as meshes for ParaView, Blender, MeshLab (.vtp, .ply, .obj) and as CSV.

The mesh is the grid itself: vertex ``j * nx + i`` is (xs[i], ys[j], z) with z
the chosen layer times ``zscale``. Points whose z is not finite stay in the
mesh (so it remains a regular grid, and .vtp point data lines up with the
grid) with z clamped to the largest finite z; every face touching one is
dropped, so the hole shows rather than a spike. ASCII throughout: these files
are for other programs to open, and every reader takes ASCII.

The .vtp is VTK XML PolyData as loss-landscape's h52vtp.py writes it (points,
quads in ``Polys`` with connectivity and offsets, point data) but with
float64 arrays, one point-data array per layer and no Verts/Lines/Strips
sections (their counts are 0). Older VTK releases parse ASCII arrays with
``istream >>`` (vtkXMLDataParser's vtkXMLParseAsciiData), which stops at
"nan"/"inf" (VTK 9.7 accepts them), so non-finite layer values are written as
that layer's largest finite value and a ``finite`` point array (1/0) marks the
points where the exported layer is finite. Checked: VTK 9.7's
vtkXMLPolyDataReader, vtkPLYReader and vtkOBJReader read all three files.
"""

from __future__ import annotations

import os
from typing import IO
from xml.sax.saxutils import quoteattr

import numpy as np
from numpy.typing import NDArray

from lossviewer.core.network_landscape import LAYERS, NetworkSurface
from lossviewer.io.surface_npz import StrPath, atomic_open

MESH_FORMATS = (".vtp", ".ply", ".obj")
CSV_COLUMNS = ("x", "y", *LAYERS)
_FMT = "%.17g"  # 17 significant digits round-trip every float64


def export_mesh(path: StrPath, surface: NetworkSurface, layer: str = "train_loss",
                zscale: float = 1.0) -> None:
    """Write ``layer`` of ``surface`` as a mesh; the format follows the extension.

    ``layer`` is any of NetworkSurface.surface's ("loss_gap" included); a preview
    (stride > 1) exports the grid filled so far, as the views draw it.
    """
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in MESH_FORMATS:
        raise ValueError(f"unknown mesh format {ext or '(no extension)'!r}; use "
                         f"{', '.join(MESH_FORMATS)}")
    if not np.isfinite(zscale):
        raise ValueError(f"zscale must be finite, got {zscale}")
    grid = surface.surface(layer)  # the filled grid (stride) and "loss_gap"
    xs, ys = np.asarray(grid.xs, float), np.asarray(grid.ys, float)
    z = np.asarray(grid.Z, float) * zscale
    finite = np.isfinite(z)
    points = _points(xs, ys, _clamped(z))
    with atomic_open(path, "w", encoding="utf-8") as fh:
        if ext == ".vtp":
            s = surface.stride
            data = {k: np.asarray(v, float)[::s, ::s] for k, v in surface.layers.items()
                    if k in LAYERS}
            _write_vtp(fh, points, quads(xs.size, ys.size, finite), data, finite, layer)
        elif ext == ".ply":
            _write_ply(fh, points, triangles(xs.size, ys.size, finite), layer)
        else:
            _write_obj(fh, points, triangles(xs.size, ys.size, finite), layer)


def export_grid_csv(path: StrPath, surface: NetworkSurface) -> None:
    """Write one row per grid point (x fastest): x, y and the four layers, exactly.

    ``%.17g`` round-trips every float64; NaN and inf are written as nan/inf,
    which Python, numpy and pandas read back. A preview writes its filled grid.
    """
    s = surface.stride
    xs, ys = np.asarray(surface.xs, float)[::s], np.asarray(surface.ys, float)[::s]
    X, Y = np.meshgrid(xs, ys)
    cols = [X.ravel(), Y.ravel()]
    for k in LAYERS:
        v = surface.layers.get(k)
        cols.append(np.full(X.size, np.nan) if v is None
                    else np.asarray(v, float)[::s, ::s].ravel())
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(",".join(CSV_COLUMNS) + "\n")
        np.savetxt(fh, np.column_stack(cols), fmt=_FMT, delimiter=",", newline="\n")


# -- geometry --------------------------------------------------------------------------


def _clamped(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """z with non-finite values replaced by the largest finite one (0 if none)."""
    finite = np.isfinite(z)
    if finite.all():
        return z
    top = float(z[finite].max()) if finite.any() else 0.0
    return np.where(finite, z, top)


def _points(xs: NDArray, ys: NDArray, z: NDArray) -> NDArray[np.float64]:
    X, Y = np.meshgrid(xs, ys)
    return np.column_stack([X.ravel(), Y.ravel(), z.ravel()])


def quads(nx: int, ny: int, keep: NDArray[np.bool_] | None = None) -> NDArray[np.int64]:
    """Grid cells as vertex quads (counter-clockwise seen from +z), (n, 4).

    Cells with a vertex where ``keep`` (ny, nx) is False are left out.
    """
    jj, ii = np.meshgrid(np.arange(ny - 1), np.arange(nx - 1), indexing="ij")
    k = (jj * nx + ii).ravel()
    q = np.column_stack([k, k + 1, k + nx + 1, k + nx]).astype(np.int64)
    if keep is not None:
        q = q[keep.ravel()[q].all(axis=1)]
    return q


def triangles(nx: int, ny: int, keep: NDArray[np.bool_] | None = None) -> NDArray[np.int64]:
    """Each grid cell as two triangles (counter-clockwise seen from +z), (n, 3).

    Triangles with a vertex where ``keep`` (ny, nx) is False are left out (the
    other half of such a cell stays when its three vertices are all kept).
    """
    q = quads(nx, ny)
    t = np.stack([q[:, [0, 1, 2]], q[:, [0, 2, 3]]], axis=1).reshape(-1, 3)
    if keep is not None:
        t = t[keep.ravel()[t].all(axis=1)]
    return t


# -- writers ---------------------------------------------------------------------------


def _data_array(fh: IO[str], values: NDArray, vtk_type: str, name: str | None,
                components: int = 1, fmt: str = _FMT) -> None:
    named = f" Name={quoteattr(name)}" if name is not None else ""
    comps = f' NumberOfComponents="{components}"' if components != 1 else ""
    fh.write(f'        <DataArray type="{vtk_type}"{named}{comps} format="ascii">\n')
    v = np.asarray(values)
    if v.size:
        np.savetxt(fh, v.reshape(-1, components) if components > 1 else v.reshape(-1, 1),
                   fmt=fmt, delimiter=" ", newline="\n")
    fh.write("        </DataArray>\n")


def _write_vtp(fh: IO[str], points: NDArray, polys: NDArray, layers: dict[str, NDArray],
               finite: NDArray[np.bool_], layer: str) -> None:
    n, m = len(points), len(polys)
    fh.write('<?xml version="1.0"?>\n')
    fh.write('<VTKFile type="PolyData" version="1.0" byte_order="LittleEndian" '
             'header_type="UInt64">\n')
    fh.write("  <PolyData>\n")
    fh.write(f'    <Piece NumberOfPoints="{n}" NumberOfVerts="0" NumberOfLines="0" '
             f'NumberOfStrips="0" NumberOfPolys="{m}">\n')
    scalars = layer if layer in layers else next(iter(layers), "finite")
    fh.write(f"      <PointData Scalars={quoteattr(scalars)}>\n")
    for name, values in layers.items():
        _data_array(fh, _clamped(values).ravel(), "Float64", name)
    _data_array(fh, finite.ravel().astype(np.uint8), "UInt8", "finite", fmt="%d")
    fh.write("      </PointData>\n")
    fh.write("      <Points>\n")
    _data_array(fh, points, "Float64", "Points", components=3)
    fh.write("      </Points>\n")
    fh.write("      <Polys>\n")
    _data_array(fh, polys.ravel(), "Int64", "connectivity", fmt="%d")
    _data_array(fh, 4 * np.arange(1, m + 1, dtype=np.int64), "Int64", "offsets", fmt="%d")
    fh.write("      </Polys>\n")
    fh.write("    </Piece>\n")
    fh.write("  </PolyData>\n")
    fh.write("</VTKFile>\n")


def _write_ply(fh: IO[str], points: NDArray, tris: NDArray, layer: str) -> None:
    fh.write("ply\nformat ascii 1.0\n")
    fh.write(f"comment LossViewer landscape, z = {layer}\n")
    fh.write(f"element vertex {len(points)}\n")
    fh.write("property double x\nproperty double y\nproperty double z\n")
    fh.write(f"element face {len(tris)}\n")
    fh.write("property list uchar int vertex_indices\nend_header\n")
    np.savetxt(fh, points, fmt=_FMT, delimiter=" ", newline="\n")
    if len(tris):
        faces = np.column_stack([np.full(len(tris), 3), tris])
        np.savetxt(fh, faces, fmt="%d", delimiter=" ", newline="\n")


def _write_obj(fh: IO[str], points: NDArray, tris: NDArray, layer: str) -> None:
    fh.write(f"# LossViewer landscape, z = {layer}\n")
    fh.write(f"# {len(points)} vertices, {len(tris)} triangles\n")
    np.savetxt(fh, points, fmt="v " + " ".join([_FMT] * 3), newline="\n")
    if len(tris):
        np.savetxt(fh, tris + 1, fmt="f %d %d %d", newline="\n")  # OBJ counts from 1
