"""Session files (.lvs): a zip holding the scene as JSON and, when the scene has one,
its network landscape (our landscape .npz: grid, plane, checkpoints).

    session.json   {"format": "lossviewer-session", "version": 1, "app": "0.1.0",
                    "landscape": {...}, "runs": [...], "selected": 0, "playback": {...},
                    "analysis": {...}, "network_settings": {...}, "network": {...} | null,
                    "view": {...}}
    network.npz    only when "network" is not null
    results.npz    optional: computed paths, critical points, basin map
                   (io.session_results), so they are not computed again

No pickle anywhere (numpy arrays are read with allow_pickle=False by the landscape
reader). Saves are atomic: written next to the target, flushed, fsynced, renamed, so
a crash or a kill during a save leaves the previous file as it was. Files from a
newer version are refused; older layouts are migrated by MIGRATIONS (version 1 is
the first, so there is nothing to migrate yet). What the JSON means is
scene.session_state's business; this module owns the container.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lossviewer import __version__
from lossviewer.io.surface_npz import StrPath, atomic_open

SESSION_FORMAT = "lossviewer-session"
SESSION_VERSION = 1
SESSION_SUFFIX = ".lvs"
STATE_MEMBER = "session.json"
NETWORK_MEMBER = "network.npz"
RESULTS_MEMBER = "results.npz"
#: a scene's JSON is a few kB; anything near this is not a session
MAX_STATE_BYTES = 8 * 2**20
#: a network landscape with its checkpoints (a 784→128→10 MLP: ~20 MB)
MAX_NETWORK_BYTES = 2 * 2**30
#: version -> function turning that version's dict into the next version's
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class SessionError(ValueError):
    """A session file that cannot be read; the message says why, for a person."""


@dataclass(frozen=True)
class SessionFile:
    state: dict[str, Any]
    #: the network landscape's .npz bytes (None: the scene has none)
    network: bytes | None
    #: computed results (io.session_results bytes; None: not embedded)
    results: bytes | None
    #: the version the file was written with (migrated to SESSION_VERSION in ``state``)
    version: int


def save_session(path: StrPath, state: dict[str, Any], network: bytes | None = None,
                 results: bytes | None = None) -> None:
    """Write a session atomically (OSError when the folder is not writable)."""
    doc = {"format": SESSION_FORMAT, "version": SESSION_VERSION, "app": __version__, **state}
    text = json.dumps(doc, indent=1, allow_nan=False, ensure_ascii=False)
    with atomic_open(path, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(STATE_MEMBER, text)
        if network is not None:
            # npz data is mostly float noise: deflate buys little and costs seconds
            zf.writestr(NETWORK_MEMBER, network, compress_type=zipfile.ZIP_STORED)
        if results is not None:
            zf.writestr(RESULTS_MEMBER, results, compress_type=zipfile.ZIP_STORED)


def read_session(path: StrPath) -> SessionFile:
    """Read and version-check a session; SessionError (or OSError) says what is wrong."""
    name = os.path.basename(os.fspath(path))
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise SessionError(f"{name} is not a LossViewer session (not a zip archive, or "
                           "a damaged one)") from None
    except (EOFError, ValueError) as exc:
        raise SessionError(f"{name} is damaged ({exc})") from None
    with zf:
        state_bytes = _member(zf, STATE_MEMBER, MAX_STATE_BYTES, name)
        if state_bytes is None:
            raise SessionError(f"{name} is not a LossViewer session (no {STATE_MEMBER} "
                               "inside)")
        state = _parse_json(state_bytes, name)
        version = _check_version(state, name)
        while version < SESSION_VERSION:
            state = MIGRATIONS[version](state)
            version += 1
        network = None
        if state.get("network") is not None:
            network = _member(zf, NETWORK_MEMBER, MAX_NETWORK_BYTES, name)
            if network is None:
                raise SessionError(f"{name} is damaged: its network landscape "
                                   f"({NETWORK_MEMBER}) is missing")
        results = _member(zf, RESULTS_MEMBER, MAX_NETWORK_BYTES, name)
    return SessionFile(state, network, results, int(state.get("version", SESSION_VERSION)))


def _member(zf: zipfile.ZipFile, member: str, limit: int, name: str) -> bytes | None:
    try:
        info = zf.getinfo(member)
    except KeyError:
        return None
    if info.file_size > limit:
        raise SessionError(f"{name}: {member} is {info.file_size / 2**20:,.0f} MB, more than "
                           f"a session holds ({limit / 2**20:,.0f} MB)")
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)  # the declared size can lie: never read past the limit
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise SessionError(f"{name} is damaged ({member}: {exc})") from None
    if len(data) > limit:
        raise SessionError(f"{name}: {member} is larger than a session holds")
    return data


def _parse_json(data: bytes, name: str) -> dict[str, Any]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SessionError(f"{name} is damaged ({STATE_MEMBER} is not UTF-8 text)") from None
    except RecursionError:
        raise SessionError(f"{name} is damaged ({STATE_MEMBER} is nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, and numbers too long to convert
        raise SessionError(f"{name} is damaged ({STATE_MEMBER}: {exc})") from None
    if not isinstance(doc, dict):
        raise SessionError(f"{name} is damaged ({STATE_MEMBER} is not an object)")
    return doc


def _check_version(doc: dict[str, Any], name: str) -> int:
    if doc.get("format") != SESSION_FORMAT:
        raise SessionError(f"{name} is not a LossViewer session (format "
                           f"{str(doc.get('format'))[:40]!r})")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise SessionError(f"{name} is damaged (its version is {str(version)[:20]!r})")
    if version > SESSION_VERSION:
        app = str(doc.get("app", "a newer version"))[:20]
        raise SessionError(f"{name} was saved by LossViewer {app} (session format {version}); "
                           f"this LossViewer {__version__} reads format {SESSION_VERSION} and "
                           "older. Update LossViewer to open it.")
    if version < 1 or (version < SESSION_VERSION and version not in MIGRATIONS):
        raise SessionError(f"{name} is damaged (unknown session format {version})")
    return version
