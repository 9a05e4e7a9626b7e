"""SurfaceView: the bird's-eye 3D view of the landscape with the optimizer paths.

The mesh is built once per surface (vectorised faces, normals and colours; no
pyqtgraph per-vertex Python normals) and only the line and marker items change
during playback. Everything is drawn in a normalised box, x and y in [-10, 10]
and z in [0, Z_HEIGHT], with tick labels in data units.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from OpenGL import GL
from pyqtgraph.opengl import shaders
from PySide6.QtGui import QColor, QFont

from lossviewer.core.grid import ScaledSurface, SurfaceDisplay, clip_path
from lossviewer.ui import theme
from lossviewer.ui.views.gl_labels import GLLabelsItem, Label

HALF = 10.0
Z_HEIGHT = 9.0
#: paths float this fraction of the box height above the surface so the depth
#: test does not make them flicker where they lie on it
PATH_LIFT = 0.012
#: path width in pixels (a compatibility-profile context draws wide lines)
PATH_WIDTH = 4.5
#: opacity of the parts of a path behind a hill: dimmed, but the path stays readable
HIDDEN_ALPHA = 0.75

_HILLSHADE = shaders.ShaderProgram("lossviewer_hillshade", [
    shaders.VertexShader("""
        uniform mat4 u_mvp;
        uniform mat3 u_normal;
        attribute vec4 a_position;
        attribute vec3 a_normal;
        attribute vec4 a_color;
        varying vec4 v_color;
        varying vec3 v_normal;
        void main() {
            v_normal = normalize(u_normal * a_normal);
            v_color = a_color;
            gl_Position = u_mvp * a_position;
        }
    """),
    shaders.FragmentShader("""
        #ifdef GL_ES
        precision mediump float;
        #endif
        varying vec4 v_color;
        varying vec3 v_normal;
        void main() {
            // two-sided soft light from the viewer's upper left: keeps the
            // colormap readable while showing the relief
            float d = abs(dot(normalize(v_normal), normalize(vec3(-0.35, 0.45, 1.0))));
            vec3 rgb = v_color.rgb * (0.58 + 0.42 * d);
            gl_FragColor = vec4(rgb, v_color.a);
        }
    """),
])

_NO_DEPTH_BLEND = {
    GL.GL_DEPTH_TEST: False,
    GL.GL_BLEND: True,
    GL.GL_CULL_FACE: False,
    "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA),
}
_DEPTH_BLEND = {
    GL.GL_DEPTH_TEST: True,
    GL.GL_BLEND: True,
    GL.GL_CULL_FACE: False,
    "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA),
}


_faces_cache: dict[tuple[int, int], np.ndarray] = {}


def grid_faces(ny: int, nx: int) -> np.ndarray:
    """Two triangles per grid cell, vertex k = j * nx + i (cached per shape)."""
    key = (ny, nx)
    if key not in _faces_cache:
        j, i = np.mgrid[0 : ny - 1, 0 : nx - 1]
        k = (j * nx + i).ravel()
        faces = np.empty((k.size * 2, 3), dtype=np.uint32)
        faces[0::2] = np.stack([k, k + 1, k + nx + 1], axis=1)
        faces[1::2] = np.stack([k, k + nx + 1, k + nx], axis=1)
        _faces_cache.clear()
        _faces_cache[key] = faces
    return _faces_cache[key]


def grid_normals(X: np.ndarray, Y: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Unit normals of the height field Z(Y, X) by finite differences, (N, 3)."""
    dzdy, dzdx = np.gradient(Z, Y[:, 0], X[0, :])
    n = np.stack([-dzdx, -dzdy, np.ones_like(Z)], axis=-1).reshape(-1, 3)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return n.astype(np.float32)


class SurfaceView(gl.GLViewWidget):
    """3D surface, paths, start/current markers, minima, axes with labels."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackgroundColor(theme.BACKGROUND)
        self.setMinimumSize(320, 240)
        self._xr = (-1.0, 1.0)
        self._yr = (-1.0, 1.0)
        self._scaled: ScaledSurface | None = None
        self._colormap = "viridis"
        self._vertex_values: tuple | None = None
        self._mesh: gl.GLMeshItem | None = None
        self._axis_items: list[gl.GLGraphicsItem.GLGraphicsItem] = []
        self._paths: dict[int, tuple[gl.GLLinePlotItem, gl.GLLinePlotItem]] = {}
        self._heads = gl.GLScatterPlotItem(pos=np.zeros((0, 3)), size=16, pxMode=True)
        self._heads.setGLOptions(_NO_DEPTH_BLEND)
        self._starts = gl.GLScatterPlotItem(pos=np.zeros((0, 3)), size=11, pxMode=True)
        self._starts.setGLOptions(_NO_DEPTH_BLEND)
        self._minima = gl.GLScatterPlotItem(pos=np.zeros((0, 3)), size=12, pxMode=True)
        self._minima.setGLOptions(_NO_DEPTH_BLEND)
        for item in (self._minima, self._starts, self._heads):
            item.setDepthValue(10)
            self.addItem(item)
        self._labels = GLLabelsItem(QFont(theme.FONT_FAMILY, 10),
                                    QFont(theme.FONT_FAMILY, 12, QFont.Weight.Bold),
                                    QColor(theme.TEXT))
        self._labels.setDepthValue(20)
        self._scale = 1.0
        self.addItem(self._labels)
        self.reset_camera()

    def apply_theme(self, colors: theme.ThemeColors) -> None:
        """Background, axes and labels in the theme's colours."""
        self._axis_rgba = colors.axis_rgba
        self.setBackgroundColor(colors.background)
        self._labels.set_color(QColor(colors.text))
        for item in self._axis_items:
            if isinstance(item, gl.GLLinePlotItem):
                item.setData(color=colors.axis_rgba)
        self.update()

    def set_scale(self, scale: float) -> None:
        """Larger labels and thicker paths (presentation mode: 1.0 is the normal look)."""
        self._scale = float(scale)
        self._labels.set_fonts(QFont(theme.FONT_FAMILY, round(10 * scale)),
                               QFont(theme.FONT_FAMILY, round(12 * scale), QFont.Weight.Bold))
        for hidden, visible in self._paths.values():
            hidden.setData(width=(PATH_WIDTH - 1) * scale)
            visible.setData(width=PATH_WIDTH * scale)
        self.update()

    # -- camera ----------------------------------------------------------------
    def reset_camera(self) -> None:
        """The default view: the whole box, labels included, fills the view."""
        self._camera_touched = False
        w, h = max(self.width(), 1), max(self.height(), 1)
        # pyqtgraph's 60° field of view spans the width; a wide view is height-bound
        distance = max(32.0, 22.0 * w / h)
        self.setCameraPosition(pos=pg.Vector(0, 0, Z_HEIGHT * 0.35), distance=distance,
                               elevation=30, azimuth=-62)

    def camera_state(self) -> dict:
        """Where the camera is (a session stores it): JSON types only."""
        o = self.opts
        c = o["center"]
        return {"center": [float(c.x()), float(c.y()), float(c.z())],
                "distance": float(o["distance"]), "elevation": float(o["elevation"]),
                "azimuth": float(o["azimuth"]), "fov": float(o["fov"])}

    def set_camera_state(self, state: dict) -> None:
        """Put the camera where ``camera_state`` said; ValueError on bad values (then the
        camera does not move)."""
        try:
            cx, cy, cz = (float(v) for v in state["center"])
            distance, elevation, azimuth = (float(state[k]) for k in
                                            ("distance", "elevation", "azimuth"))
            fov = float(state.get("fov", self.opts["fov"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError("the camera needs center [x, y, z], distance, elevation and "
                             "azimuth as numbers") from None
        values = (cx, cy, cz, distance, elevation, azimuth, fov)
        if not all(np.isfinite(values)) or not 0 < distance < 1e6 or not 1 <= fov <= 170:
            raise ValueError("the camera's distance or field of view is out of range")
        self._camera_touched = True
        self.opts["fov"] = fov
        self.setCameraPosition(pos=pg.Vector(cx, cy, cz), distance=distance,
                               elevation=float(np.clip(elevation, -90, 90)), azimuth=azimuth)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if not self._camera_touched:
            self.reset_camera()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._camera_touched = True
        super().mousePressEvent(event)

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._camera_touched = True
        super().wheelEvent(event)

    # -- mapping ---------------------------------------------------------------
    def to_box(self, x: np.ndarray, y: np.ndarray, zd: np.ndarray) -> np.ndarray:
        """Data (x, y, display z) to box coordinates, (N, 3) float32."""
        s = self._scaled
        lo, hi = (s.display.lo, s.display.hi) if s else (0.0, 1.0)
        X = (np.asarray(x) - self._xr[0]) / (self._xr[1] - self._xr[0]) * 2 * HALF - HALF
        Y = (np.asarray(y) - self._yr[0]) / (self._yr[1] - self._yr[0]) * 2 * HALF - HALF
        Z = (np.asarray(zd) - lo) / (hi - lo) * Z_HEIGHT
        return np.stack([X, Y, Z], axis=-1).astype(np.float32)

    # -- surface -----------------------------------------------------------------
    def set_surface(self, data: SurfaceDisplay, zscale: str, colormap: str) -> None:
        s = data.scales[zscale]
        self._scaled = s
        self._colormap = colormap
        meta = data.surface.meta
        self._xr = tuple(meta.get("xrange", (data.surface.xs[0], data.surface.xs[-1])))
        self._yr = tuple(meta.get("yrange", (data.surface.ys[0], data.surface.ys[-1])))
        X, Y = np.meshgrid(s.mesh_xs, s.mesh_ys)
        verts = self.to_box(X.ravel(), Y.ravel(), s.mesh_Z.ravel())
        ny, nx = s.mesh_Z.shape
        faces = grid_faces(ny, nx)
        Xb = verts[:, 0].reshape(ny, nx).astype(np.float64)
        Yb = verts[:, 1].reshape(ny, nx).astype(np.float64)
        normals = grid_normals(Xb, Yb, verts[:, 2].reshape(ny, nx).astype(np.float64))
        colors = self._mesh_colors(s)
        md = gl.MeshData(vertexes=verts, faces=faces, vertexColors=colors)
        # Preset normals: MeshData then skips its per-vertex Python loop.
        md._vertexNormals = normals
        if self._mesh is None:
            self._mesh = gl.GLMeshItem(meshdata=md, smooth=True, computeNormals=True,
                                       shader=_HILLSHADE, glOptions="opaque")
            self.addItem(self._mesh)
        else:
            self._mesh.setMeshData(meshdata=md, smooth=True, computeNormals=True)
        self._build_axes(data, zscale)
        self.update()

    def set_colormap(self, colormap: str) -> None:
        self._colormap = colormap
        self._recolor()

    def _colors(self, zd: np.ndarray, lo: float, hi: float) -> np.ndarray:
        lut = theme.colormap_lut(self._colormap)
        idx = np.clip(((zd - lo) / (hi - lo) * (len(lut) - 1)).astype(int), 0, len(lut) - 1)
        return lut[idx]

    # -- axes --------------------------------------------------------------------
    def _build_axes(self, data: SurfaceDisplay, zscale: str) -> None:
        for item in self._axis_items:
            self.removeItem(item)
        self._axis_items = []
        s = data.scales[zscale]
        color = getattr(self, "_axis_rgba", theme.AXIS_RGBA)
        h = HALF
        frame = np.array([
            [-h, -h, 0], [h, -h, 0], [h, -h, 0], [h, h, 0], [h, h, 0], [-h, h, 0],
            [-h, h, 0], [-h, -h, 0], [-h, h, 0], [-h, h, Z_HEIGHT], [h, h, 0], [h, h, Z_HEIGHT],
            [-h, -h, 0], [-h, -h, Z_HEIGHT],
        ], dtype=np.float32)
        box = gl.GLLinePlotItem(pos=frame, mode="lines", color=color, width=1.5, antialias=True)
        box.setGLOptions(_DEPTH_BLEND)  # the surface hides the box edges behind it
        self._add_axis_item(box)
        labels = []
        for v in _nice_ticks(*self._xr):
            labels.append(Label((v - self._xr[0]) / (self._xr[1] - self._xr[0]) * 2 * h - h,
                                -h - 1.0, 0.0, _fmt(v)))
        for v in _nice_ticks(*self._yr):
            labels.append(Label(h + 0.8, (v - self._yr[0]) / (self._yr[1] - self._yr[0]) * 2 * h
                                - h, 0.0, _fmt(v)))
        lo, hi = s.display.lo, s.display.hi
        tick_lines = []
        for v in _nice_ticks(lo, hi, 4):
            z = (v - lo) / (hi - lo) * Z_HEIGHT
            labels.append(Label(-h - 0.6, -h - 0.6, z, f"1e{v:g}" if zscale == "log" else _fmt(v)))
            tick_lines += [[-h, -h, z], [-h - 0.4, -h - 0.4, z]]
        if tick_lines:
            self._add_axis_item(gl.GLLinePlotItem(pos=np.array(tick_lines, np.float32),
                                                  mode="lines", color=color, width=1.5))
        meta = data.surface.meta
        value = meta.get("value_label", "loss")
        zlabel = f"{value} − {'min' if 'value_label' in meta else 'f*'} (log scale)" \
            if zscale == "log" else value
        # direction names without their explanation ("PC 1 (72 %)" -> "PC 1")
        xl, yl = (str(t).split(" (")[0] for t in (meta.get("axis_labels") or ("x", "y")))
        labels += [Label(0.0, -h - 2.6, 0.0, xl, bold=True),
                   Label(h + 2.6, 0.0, 0.0, yl, bold=True),
                   # the z title starts at the axis and runs inwards, so it is never cut off
                   Label(-h, -h, Z_HEIGHT + 1.0, zlabel, bold=True, align="left")]
        self._labels.set_labels(labels)

    def _add_axis_item(self, item) -> None:
        self._axis_items.append(item)
        self.addItem(item)

    # -- paths and markers -------------------------------------------------------
    def set_paths(self, paths: list[dict]) -> None:
        """paths: dicts with run_id, xy (N, 2), zd (N,) display z, color, head, start."""
        alive = {p["run_id"] for p in paths}
        for rid in list(self._paths):
            if rid not in alive:
                for item in self._paths.pop(rid):
                    self.removeItem(item)
        heads, head_colors, starts = [], [], []
        lift = PATH_LIFT * Z_HEIGHT
        for p in paths:
            rid = p["run_id"]
            if rid not in self._paths:
                scale = getattr(self, "_scale", 1.0)
                hidden = gl.GLLinePlotItem(mode="line_strip", width=(PATH_WIDTH - 1) * scale,
                                           antialias=True)
                hidden.setGLOptions(_NO_DEPTH_BLEND)
                hidden.setDepthValue(5)
                visible = gl.GLLinePlotItem(mode="line_strip", width=PATH_WIDTH * scale,
                                            antialias=True)
                visible.setGLOptions(_DEPTH_BLEND)
                visible.setDepthValue(6)
                self.addItem(hidden)
                self.addItem(visible)
                self._paths[rid] = (hidden, visible)
            hidden, visible = self._paths[rid]
            rgba = np.array(pg.mkColor(p["color"]).getRgbF())
            xy, zd = self.clip_to_domain(p["xy"], p["zd"])
            if len(xy) >= 2:
                # never below the drawn (decimated, linearly interpolated) mesh: in a
                # narrow valley the mesh floor lies above the true loss
                pos = self.to_box(xy[:, 0], xy[:, 1], np.maximum(zd, self.mesh_height(xy)))
                pos[:, 2] += lift
                # the part behind hills shows faintly; the visible part in full colour
                hidden.setData(pos=pos, color=(*rgba[:3], HIDDEN_ALPHA))
                visible.setData(pos=pos, color=tuple(rgba))
                hidden.setVisible(True)
                visible.setVisible(True)
            else:
                hidden.setVisible(False)
                visible.setVisible(False)
            if p.get("head") is not None and (len(xy) or self._inside(
                    np.array([p["head"][:2]]))[0]):
                hx, hy, hz = p["head"]
                if len(xy) and not self._inside(np.array([[hx, hy]]))[0]:
                    # a run that left the box stops at the edge where it left
                    hx, hy, hz = xy[-1, 0], xy[-1, 1], zd[-1]
                hz = max(hz, float(self.mesh_height(np.array([[hx, hy]]))[0]))
                heads.append(self.to_box(np.array([hx]), np.array([hy]), np.array([hz]))[0])
                head_colors.append(rgba)
            if p.get("start") is not None and self._inside(np.array([p["start"][:2]]))[0]:
                sx, sy, sz = p["start"]
                sz = max(sz, float(self.mesh_height(np.array([[sx, sy]]))[0]))
                starts.append(self.to_box(np.array([sx]), np.array([sy]), np.array([sz]))[0])
        self._set_scatter(self._heads, heads, head_colors, lift)
        self._set_scatter(self._starts, starts, [theme.START_RGBA] * len(starts), lift)
        self.update()

    def mesh_height(self, xy: np.ndarray) -> np.ndarray:
        """Height of the drawn mesh (display units) under points, bilinear in each cell."""
        s = self._scaled
        if s is None or len(xy) == 0:
            return np.full(len(xy), -np.inf)
        fx = np.interp(xy[:, 0], s.mesh_xs, np.arange(len(s.mesh_xs)))
        fy = np.interp(xy[:, 1], s.mesh_ys, np.arange(len(s.mesh_ys)))
        i0 = np.clip(np.floor(fx).astype(int), 0, len(s.mesh_xs) - 2)
        j0 = np.clip(np.floor(fy).astype(int), 0, len(s.mesh_ys) - 2)
        tx, ty = fx - i0, fy - j0
        Z = s.mesh_Z
        return ((1 - ty) * ((1 - tx) * Z[j0, i0] + tx * Z[j0, i0 + 1])
                + ty * ((1 - tx) * Z[j0 + 1, i0] + tx * Z[j0 + 1, i0 + 1]))

    def _inside(self, xy: np.ndarray) -> np.ndarray:
        (x0, x1), (y0, y1) = self._xr, self._yr
        return ((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1))

    def clip_to_domain(self, xy: np.ndarray, zd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return clip_path(xy, zd, self._xr, self._yr)

    def set_markers(self, points: list[tuple[float, float, float, str]]) -> None:
        """points: (x, y, display z, kind), kind one of theme.MARKER_STYLES."""
        points = [p for p in points if self._inside(np.array([p[:2]]))[0]]
        if points:
            # on the drawn mesh, not under it: between grid points the mesh lies above
            # the true minimum (and on a log scale the minimum itself is clipped)
            xy = np.array([p[:2] for p in points], dtype=float)
            z = np.maximum(np.array([p[2] for p in points], dtype=float), self.mesh_height(xy))
            points = [(x, y, zz, k) for (x, y, _z, k), zz in zip(points, z, strict=True)]
        pos = [self.to_box(np.array([x]), np.array([y]), np.array([z]))[0]
               for x, y, z, _k in points]
        colors = [theme.rgba(theme.MARKER_STYLES[k][1]) for *_xyz, k in points]
        self._set_scatter(self._minima, pos, colors, 0.0)

    def set_vertex_values(self, values: np.ndarray | None, levels: tuple[float, float] = (0, 1),
                          colormap: str | None = None) -> None:
        """Colour the mesh by another field on its grid (ny, nx), e.g. curvature; None: height."""
        if values is None and self._vertex_values is None:
            return  # already coloured by height: no re-upload of the mesh colours
        self._vertex_values = None if values is None else (values, levels, colormap)
        self._recolor()

    def _recolor(self) -> None:
        s = self._scaled
        if s is None or self._mesh is None:
            return
        md = self._mesh.opts["meshdata"]
        md.setVertexColors(self._mesh_colors(s))
        self._mesh.meshDataChanged()
        self.update()

    def _mesh_colors(self, s: ScaledSurface) -> np.ndarray:
        field = getattr(self, "_vertex_values", None)
        if field is not None and field[0].shape == s.mesh_Z.shape:
            values, (lo, hi), cmap = field
            lut = theme.colormap_lut(cmap or self._colormap)
            with np.errstate(all="ignore"):
                t = np.nan_to_num((values.ravel() - lo) / (hi - lo), nan=0.5, posinf=1.0,
                                  neginf=0.0)
            t = np.clip(t, 0.0, 1.0)  # inf curvature: the end colour, not an int overflow
            idx = np.clip((t * (len(lut) - 1)).astype(int), 0, len(lut) - 1)
            return lut[idx]
        return self._colors(s.mesh_Z.ravel(), s.display.lo, s.display.hi)

    @staticmethod
    def _set_scatter(item, pos, colors, lift) -> None:
        if pos:
            arr = np.array(pos, dtype=np.float32)
            arr[:, 2] += lift
            item.setData(pos=arr, color=np.array(colors, dtype=np.float32))
            item.setVisible(True)
        else:
            item.setVisible(False)


def _nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    span = hi - lo
    if not np.isfinite(span) or span <= 0:
        return [lo]
    raw = span / target
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = np.ceil(lo / step) * step
    vals = np.arange(first, hi + step * 1e-9, step)
    return [float(round(v, 12)) for v in vals]


def _fmt(v: float) -> str:
    return f"{v:.4g}"
