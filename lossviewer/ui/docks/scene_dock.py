"""SceneDock: what every dock that edits the scene shares.

A dock turns widget edits into scene changes; the scene validates them. A bad
value is reported to the user and the dock shows the scene's (last good)
values again. While a dock copies scene values into its widgets, the widgets'
change signals must not flow back into the scene: ``refreshing()`` guards that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from PySide6.QtWidgets import QDockWidget, QWidget

from lossviewer.scene.scene import Scene


class SceneDock(QDockWidget):
    def __init__(self, title: str, scene: Scene, report_error: Callable[[str], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.setObjectName(f"{title}Dock")
        self.scene = scene
        self.report_error = report_error
        self._refreshing = False

    @contextmanager
    def refreshing(self) -> Iterator[None]:
        """Copy scene values into widgets without their signals editing the scene."""
        self._refreshing = True
        try:
            yield
        finally:
            self._refreshing = False

    def apply(self, change: Callable[[], object]) -> None:
        """Run a scene edit from a widget; on bad input report it and show the scene again."""
        if self._refreshing:
            return
        try:
            change()
        except ValueError as exc:
            self.report_error(str(exc))
            self.refresh()

    def refresh(self) -> None:
        """Show the scene's current values (subclasses)."""
        raise NotImplementedError
