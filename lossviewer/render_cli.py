"""``lossviewer render``: a session to an image or a video, headless.

    lossviewer render SESSION.lvs --out FILE.(png|svg|pdf|gif|mp4)
                      [--view 3d|contour|both|loss] [--size WxH] [--fps N] [--duration S]

Everything that can be checked without a window is checked first (one line on
stderr naming the argument, exit status 2); then the window opens off-screen (a
display is needed: Xvfb on a server), computes the scene and writes the file. A
session made from a model file is rendered from its stored grid: the file's code
is not run.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from typing import Any

from lossviewer.cli import PROG, CLIError, _check_writable, _number, _one_line

VIEWS = ("3d", "contour", "both", "loss")
IMAGE_EXTENSIONS = (".png", ".svg", ".pdf")
VIDEO_EXTENSIONS = (".gif", ".mp4")
DEFAULT_IMAGE_SIZE = (1920, 1080)
DEFAULT_VIDEO_SIZE = (1280, 720)
MAX_SIZE = (3840, 2160)


def add_render_command(sub: Any) -> None:
    r = sub.add_parser(
        "render",
        usage=f"{PROG} render SESSION.lvs --out FILE [--view 3d|contour|both|loss] "
              "[--size WxH] [--fps N] [--duration S]",
        help="render a saved session to PNG, SVG, PDF, GIF or MP4 (needs a display or Xvfb)",
        description=(
            "Open a session file off-screen, compute it, and write one view (or the 3D\n"
            "view and the map side by side) as an image, or the optimizer race as an\n"
            "animated GIF / MP4. SVG and PDF are vector output of the map or the loss plot."),
        epilog=(
            "examples:\n"
            "  lossviewer render talk.lvs --view both --out race.gif --size 1280x720\n"
            "  lossviewer render talk.lvs --view contour --out figure.pdf\n"
            "  xvfb-run -s '+extension GLX' lossviewer render talk.lvs --out surface.png"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("session", metavar="SESSION.lvs", help="a session saved with File → Save")
    r.add_argument("--out", metavar="FILE", help="output file; its extension picks the format "
                   "(required)")
    r.add_argument("--view", metavar="VIEW", default="both",
                   help="3d, contour, both (side by side) or loss (default both)")
    r.add_argument("--size", metavar="WxH", default=None,
                   help="pixels (default 1920x1080 for images, 1280x720 for videos; at most "
                        "3840x2160); for SVG/PDF the page size in points")
    r.add_argument("--fps", metavar="N", default=None, help="video frame rate (default 30)")
    r.add_argument("--duration", metavar="S", default=None,
                   help="video length in seconds; the whole race is spread over it "
                        "(default 6)")


def _size(text: str | None, default: tuple[int, int]) -> tuple[int, int]:
    if text is None:
        return default
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not m:
        raise CLIError("--size", f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}")
    w, h = int(m.group(1)), int(m.group(2))
    if not (16 <= w <= MAX_SIZE[0] and 16 <= h <= MAX_SIZE[1]):
        raise CLIError("--size", f"width must lie in [16, {MAX_SIZE[0]}] and height in "
                                 f"[16, {MAX_SIZE[1]}], got {w}x{h}")
    return (w, h)


def cmd_render(ns: argparse.Namespace) -> int:
    if not ns.out:
        raise CLIError("--out", "is required: the file to write (.png, .svg, .pdf, .gif, .mp4)")
    if not os.path.isfile(ns.session):
        raise CLIError("SESSION", f"no such file: {ns.session!r}")
    view = ns.view.strip().lower()
    if view not in VIEWS:
        raise CLIError("--view", f"unknown view {ns.view!r}; known: {', '.join(VIEWS)}")
    ext = os.path.splitext(ns.out)[1].lower()
    video = ext in VIDEO_EXTENSIONS
    if ext not in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS:
        raise CLIError("--out", f"unknown extension {ext or '(none)'}; use one of "
                                f"{', '.join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)}")
    if ext in (".svg", ".pdf") and view not in ("contour", "loss"):
        raise CLIError("--view", f"{ext} is vector output of the contour map or the loss "
                                 "plot: use --view contour or --view loss (or a .png)")
    if video and view == "loss":
        raise CLIError("--view", "videos show the 3d view, the contour map or both")
    if not video and (ns.fps is not None or ns.duration is not None):
        raise CLIError("--fps" if ns.fps is not None else "--duration",
                       "is for videos (.gif, .mp4)")
    size = _size(ns.size, DEFAULT_VIDEO_SIZE if video else DEFAULT_IMAGE_SIZE)
    _check_writable("--out", ns.out)
    options = None
    if video:
        from lossviewer.io.animation import check_animation_options

        fps = 30 if ns.fps is None else _number("--fps", ns.fps)
        duration = 6.0 if ns.duration is None else _number("--duration", ns.duration)
        if fps != int(fps):
            raise CLIError("--fps", f"must be a whole number, got {ns.fps!r}")
        try:
            check_animation_options(ns.out, int(fps), duration, size)
        except ImportError as exc:
            raise CLIError("--out", _one_line(exc)) from None
        except ValueError as exc:
            msg = _one_line(exc)
            flag = ("--fps" if "frame" in msg or "fps" in msg
                    else "--duration" if "duration" in msg else "--size")
            raise CLIError(flag, msg) from None
        options = (int(fps), duration)
    # the session itself: read and checked before any window opens
    from lossviewer.io.session_file import read_session
    from lossviewer.scene.session_state import parse_state

    try:
        parse_state(read_session(ns.session).state)
    except OSError as exc:
        raise CLIError("SESSION", f"cannot read {ns.session}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CLIError("SESSION", _one_line(exc)) from None
    from lossviewer.cli import _display_available, _no_display

    if not _display_available():
        return _no_display()
    return _render(ns.session, view, ns.out, size, options)


def _render(session: str, view: str, out: str, size: tuple[int, int],
            video: tuple[int, float] | None) -> int:
    from lossviewer.app import create_application

    app = create_application()
    from lossviewer.ui.animation_export import AnimationOptions
    from lossviewer.ui.main_window import MainWindow
    from lossviewer.ui.offscreen import READY_TIMEOUT_S, wait_until_ready

    window = MainWindow(persist_layout=False)  # never reads or writes the user's settings
    window.resize(1500, 900)
    try:
        if not window.session.open(session):
            print(f"{PROG}: error: SESSION: {window.status_label.text().lstrip('⚠ ')}",
                  file=sys.stderr)
            return 1
        window.show()
        if not wait_until_ready(app, window):
            print(f"{PROG}: error: the session did not finish computing in "
                  f"{READY_TIMEOUT_S:.0f} s", file=sys.stderr)
            return 1
        window._draw_frame()
        if video is None:
            ok = window.exports.export_image(out, view, *size)
            message = out if ok else window.status_label.text().lstrip("⚠ ")
            frames = ""
        else:
            fps, duration = video
            exports = window.exports
            ok = exports.export_animation(AnimationOptions(out, view, fps, duration, *size),
                                          show_progress=False)
            while ok and not exports.exporter.done:
                app.processEvents()
                time.sleep(0.002)
            app.processEvents()
            ok, message = exports.last_result if ok else (
                False, window.status_label.text().lstrip("⚠ "))
            frames = f", {len(exports.exporter.steps)} frames" if ok else ""
        if not ok:
            print(f"{PROG}: error: --out: {message}", file=sys.stderr)
            return 1
        print(f"wrote {out} ({size[0]}×{size[1]}{frames})")
        return 0
    finally:
        window.close()
