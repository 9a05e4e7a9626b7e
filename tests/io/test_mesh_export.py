"""Mesh (.vtp, .ply, .obj) and CSV exports of network landscapes, parsed back."""

from __future__ import annotations

import csv
import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from lossviewer.core.network_landscape import LAYERS, NetworkSurface
from lossviewer.io.mesh_export import export_grid_csv, export_mesh, quads, triangles

NX, NY = 7, 5
BAD = (2, 3)  # (j, i): an interior grid point whose training loss is NaN


def make_surface() -> NetworkSurface:
    xs = np.linspace(-1.0, 2.0, NX)
    ys = np.linspace(-0.5, 1.5, NY)
    X, Y = np.meshgrid(xs, ys)
    layers = {"train_loss": 0.2 + (X - 0.3) ** 2 + 2 * (Y + 0.1) ** 2,
              "train_acc": 0.5 + 0.1 * np.tanh(X - Y),
              "val_loss": 0.4 + (X - 0.2) ** 2 + 2.5 * Y**2,
              "val_acc": 0.45 + 0.1 * np.tanh(X + Y)}
    layers["train_loss"][BAD] = np.nan
    layers["val_loss"][0, 0] = np.inf
    return NetworkSurface(xs, ys, layers, {"kind": "network"})


def expected_points(s: NetworkSurface, layer: str = "train_loss", zscale: float = 1.0):
    z = s.layers[layer] * zscale
    top = np.nanmax(np.where(np.isfinite(z), z, np.nan))
    pts = []
    for j in range(NY):
        for i in range(NX):
            zz = z[j, i] if np.isfinite(z[j, i]) else top
            pts.append((s.xs[i], s.ys[j], zz))
    return np.array(pts)


def expected_triangles(bad_vertices: set[int]) -> list[tuple[int, int, int]]:
    """Two triangles per cell, those touching a bad vertex left out (written out by hand)."""
    out = []
    for j in range(NY - 1):
        for i in range(NX - 1):
            k = j * NX + i
            for tri in ((k, k + 1, k + NX + 1), (k, k + NX + 1, k + NX)):
                if not bad_vertices & set(tri):
                    out.append(tri)
    return out


BAD_VERTEX = BAD[0] * NX + BAD[1]


# -- .vtp ------------------------------------------------------------------------------


def parse_vtp(path):
    root = ET.parse(path).getroot()
    piece = root.find("PolyData/Piece")

    def values(arr, dtype=float):
        return np.array((arr.text or "").split(), dtype=dtype)

    pdata = {a.get("Name"): values(a) for a in piece.find("PointData")}
    points = values(piece.find("Points/DataArray")).reshape(-1, 3)
    polys = {a.get("Name"): values(a, np.int64) for a in piece.find("Polys")}
    return root, piece, pdata, points, polys


def test_vtp(tmp_path) -> None:
    s = make_surface()
    path = tmp_path / "land.vtp"
    export_mesh(path, s, "train_loss", zscale=2.0)
    text = path.read_text()
    assert "nan" not in text.lower() and "inf" not in text.lower()  # VTK's ascii parser
    root, piece, pdata, points, polys = parse_vtp(path)
    assert root.tag == "VTKFile" and root.get("type") == "PolyData"
    assert int(piece.get("NumberOfPoints")) == NX * NY
    # an interior point touches four cells
    n_polys = (NX - 1) * (NY - 1) - 4
    assert int(piece.get("NumberOfPolys")) == n_polys
    np.testing.assert_array_equal(points, expected_points(s, zscale=2.0))
    conn = polys["connectivity"].reshape(-1, 4)
    assert len(conn) == n_polys
    np.testing.assert_array_equal(polys["offsets"], 4 * np.arange(1, n_polys + 1))
    want = [(k, k + 1, k + NX + 1, k + NX) for j in range(NY - 1) for i in range(NX - 1)
            if BAD_VERTEX not in (k := j * NX + i, k + 1, k + NX + 1, k + NX)]
    assert [tuple(q) for q in conn] == want
    # counter-clockwise seen from above: the first triangle's normal points up
    p = points[:, :2]
    for a, b, c, _ in conn:
        (ux, uy), (vx, vy) = p[b] - p[a], p[c] - p[a]
        assert ux * vy - uy * vx > 0
    assert set(pdata) == {*LAYERS, "finite"}
    assert piece.find("PointData").get("Scalars") == "train_loss"
    for k in LAYERS:
        v = s.layers[k].ravel()
        ok = np.isfinite(v)
        np.testing.assert_array_equal(pdata[k][ok], v[ok])
        assert (pdata[k][~ok] == v[ok].max()).all()
    np.testing.assert_array_equal(pdata["finite"], np.isfinite(s.layers["train_loss"]).ravel())
    assert pdata["finite"].sum() == NX * NY - 1


def test_vtp_other_layer_and_gap(tmp_path) -> None:
    s = make_surface()
    path = tmp_path / "gap.vtp"
    export_mesh(path, s, "loss_gap")
    _, piece, pdata, points, _ = parse_vtp(path)
    gap = (s.layers["val_loss"] - s.layers["train_loss"]).ravel()
    bad = ~np.isfinite(gap)
    assert bad.sum() == 2  # the NaN and the inf
    np.testing.assert_array_equal(points[~bad, 2], gap[~bad])
    assert (points[bad, 2] == gap[~bad].max()).all()
    # two corner cell + four around the interior point
    assert int(piece.get("NumberOfPolys")) == (NX - 1) * (NY - 1) - 5
    np.testing.assert_array_equal(pdata["finite"], ~bad)


# -- .ply and .obj ---------------------------------------------------------------------


def parse_ply(path):
    lines = path.read_text().splitlines()
    assert lines[0] == "ply" and lines[1] == "format ascii 1.0"
    end = lines.index("end_header")
    header = lines[:end]
    nv = int(next(ln for ln in header if ln.startswith("element vertex")).split()[-1])
    nf = int(next(ln for ln in header if ln.startswith("element face")).split()[-1])
    body = lines[end + 1:]
    assert len(body) == nv + nf
    verts = np.array([[float(t) for t in ln.split()] for ln in body[:nv]])
    faces = [tuple(int(t) for t in ln.split()) for ln in body[nv:]]
    assert all(f[0] == 3 for f in faces)
    return verts, [f[1:] for f in faces]


def parse_obj(path):
    verts, faces = [], []
    for ln in path.read_text().splitlines():
        if ln.startswith("v "):
            verts.append([float(t) for t in ln.split()[1:]])
        elif ln.startswith("f "):
            faces.append(tuple(int(t) - 1 for t in ln.split()[1:]))
        else:
            assert ln.startswith("#") or not ln.strip()
    return np.array(verts), faces


@pytest.mark.parametrize("ext", [".ply", ".obj"])
def test_triangle_meshes(tmp_path, ext) -> None:
    s = make_surface()
    path = tmp_path / f"land{ext}"
    export_mesh(path, s, "train_loss", zscale=0.5)
    verts, faces = (parse_ply if ext == ".ply" else parse_obj)(path)
    np.testing.assert_array_equal(verts, expected_points(s, zscale=0.5))
    want = expected_triangles({BAD_VERTEX})
    # an interior vertex lies on six triangles of this split
    assert len(faces) == (NX - 1) * (NY - 1) * 2 - 6 == len(want)
    assert faces == want
    assert min(min(f) for f in faces) >= 0 and max(max(f) for f in faces) < NX * NY


def test_ply_and_obj_agree(tmp_path) -> None:
    s = make_surface()
    export_mesh(tmp_path / "a.ply", s, "val_acc")
    export_mesh(tmp_path / "a.OBJ", s, "val_acc")  # extension case does not matter
    v1, f1 = parse_ply(tmp_path / "a.ply")
    v2, f2 = parse_obj(tmp_path / "a.OBJ")
    np.testing.assert_array_equal(v1, v2)
    assert f1 == f2 and len(f1) == (NX - 1) * (NY - 1) * 2  # val_acc is finite everywhere


def test_all_nan_layer_gives_points_and_no_faces(tmp_path) -> None:
    s = make_surface()
    layers = dict(s.layers, val_loss=np.full((NY, NX), np.nan))
    s = NetworkSurface(s.xs, s.ys, layers)
    export_mesh(tmp_path / "e.ply", s, "val_loss")
    verts, faces = parse_ply(tmp_path / "e.ply")
    assert len(verts) == NX * NY and faces == []
    assert (verts[:, 2] == 0).all()
    export_mesh(tmp_path / "e.vtp", s, "val_loss")
    _, piece, _, _, polys = parse_vtp(tmp_path / "e.vtp")
    assert piece.get("NumberOfPolys") == "0" and polys["connectivity"].size == 0


def test_index_helpers() -> None:
    q = quads(3, 2)
    assert q.tolist() == [[0, 1, 4, 3], [1, 2, 5, 4]]
    t = triangles(3, 2)
    assert t.tolist() == [[0, 1, 4], [0, 4, 3], [1, 2, 5], [1, 5, 4]]
    keep = np.ones((2, 3), bool)
    keep[0, 2] = False  # vertex 2 lies on one triangle only
    assert triangles(3, 2, keep).tolist() == [[0, 1, 4], [0, 4, 3], [1, 5, 4]]
    assert quads(3, 2, keep).tolist() == [[0, 1, 4, 3]]


def test_unknown_format_and_bad_zscale(tmp_path) -> None:
    s = make_surface()
    with pytest.raises(ValueError, match="unknown mesh format '.stl'"):
        export_mesh(tmp_path / "a.stl", s)
    with pytest.raises(ValueError, match="no extension"):
        export_mesh(tmp_path / "mesh", s)
    with pytest.raises(ValueError, match="zscale"):
        export_mesh(tmp_path / "a.ply", s, zscale=np.nan)
    assert not os.listdir(tmp_path)


def test_failed_export_leaves_the_old_file(tmp_path) -> None:
    s = make_surface()
    path = tmp_path / "a.obj"
    path.write_text("old")
    with pytest.raises(KeyError):
        export_mesh(path, s, "no_such_layer")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.obj"]


def test_preview_stride_exports_the_filled_grid(tmp_path) -> None:
    s = make_surface()
    coarse = NetworkSurface(s.xs, s.ys, s.layers, s.meta, stride=2)
    export_mesh(tmp_path / "c.obj", coarse, "train_acc")
    verts, faces = parse_obj(tmp_path / "c.obj")
    assert len(verts) == 4 * 3 and len(faces) == 3 * 2 * 2
    np.testing.assert_array_equal(verts[:, 2], s.layers["train_acc"][::2, ::2].ravel())


# -- CSV -------------------------------------------------------------------------------


def test_grid_csv(tmp_path) -> None:
    s = make_surface()
    path = tmp_path / "grid.csv"
    export_grid_csv(path, s)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["x", "y", "train_loss", "train_acc", "val_loss", "val_acc"]
    data = np.array([[float(t) for t in r] for r in rows[1:]])
    assert data.shape == (NX * NY, 6)
    X, Y = np.meshgrid(s.xs, s.ys)
    np.testing.assert_array_equal(data[:, 0], X.ravel())
    np.testing.assert_array_equal(data[:, 1], Y.ravel())
    for c, k in enumerate(LAYERS, start=2):
        np.testing.assert_array_equal(data[:, c].reshape(NY, NX), s.layers[k])  # exact
    assert np.isnan(data[BAD_VERTEX, 2]) and np.isinf(data[0, 4])
    assert os.listdir(tmp_path) == ["grid.csv"]
