"""One entry point for writing a network landscape in any supported format, by extension.

.npz (ours: every layer, the plane and the metadata to reproduce it), .h5 (the layout
of tomgoldstein/loss-landscape, opens in its scripts), .vtp (ParaView), .ply / .obj
(meshes of one layer), .csv (the grid, one row per point).
"""

from __future__ import annotations

import os
from typing import Any

from lossviewer.core.network_landscape import NetworkSurface
from lossviewer.io.surface_npz import StrPath

EXPORT_FORMATS = {
    ".npz": "LossViewer landscape",
    ".h5": "loss-landscape HDF5",
    ".vtp": "ParaView polydata",
    ".ply": "PLY mesh",
    ".obj": "OBJ mesh",
    ".csv": "CSV grid",
}


def export_landscape(path: StrPath, surface: NetworkSurface, network_slice: Any,
                     layer: str = "train_loss") -> None:
    """Write ``surface`` to ``path`` in the format its extension names.

    ValueError for an unknown extension; ImportError (with the install hint) for .h5
    without h5py; OSError when the file cannot be written.
    """
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext == ".npz":
        from lossviewer.io.network_files import save_network_landscape

        save_network_landscape(path, surface, network_slice)
    elif ext == ".h5":
        from lossviewer.io.h5_landscape import save_h5_landscape

        save_h5_landscape(path, surface)
    elif ext in (".vtp", ".ply", ".obj"):
        from lossviewer.io.mesh_export import export_mesh

        export_mesh(path, surface, layer=layer)
    elif ext == ".csv":
        from lossviewer.io.mesh_export import export_grid_csv

        export_grid_csv(path, surface)
    else:
        known = ", ".join(EXPORT_FORMATS)
        raise ValueError(f"cannot write {os.path.basename(os.fspath(path))!r}: unknown "
                         f"extension {ext or '(none)'}; use one of {known}")
