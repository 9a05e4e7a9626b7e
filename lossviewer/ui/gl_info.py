"""What OpenGL the app runs on (About, the software-GL hint, the MSAA choice)."""

from __future__ import annotations


def gl_renderer_name() -> str:
    """GL_RENDERER of a throw-away context (empty when GL is unavailable)."""
    from PySide6.QtGui import QOffscreenSurface, QOpenGLContext

    ctx = QOpenGLContext()
    if not ctx.create():
        return ""
    surface = QOffscreenSurface()
    surface.setFormat(ctx.format())
    surface.create()
    try:
        if not ctx.makeCurrent(surface):
            return ""
        gl_renderer = 0x1F01
        name = ctx.functions().glGetString(gl_renderer)
        ctx.doneCurrent()
        return name.decode() if isinstance(name, bytes) else str(name or "")
    finally:
        surface.destroy()
