"""Shared test set-up: keep tests away from the user's real settings."""

import os
import tempfile

# Set before any QApplication/QSettings exists: tests never touch the real settings.
_HOME = tempfile.mkdtemp(prefix="lossviewer-tests-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_HOME, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_HOME, "data")
os.environ["XDG_CACHE_HOME"] = os.path.join(_HOME, "cache")
os.environ.pop("XDG_SESSION_TYPE", None)
os.environ.setdefault("PYOPENGL_PLATFORM", "glx")
