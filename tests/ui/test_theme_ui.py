"""Light and dark themes (Xvfb): views, plots and docks restyle together."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from lossviewer.ui import theme
from lossviewer.ui.offscreen import image_to_array

pytestmark = pytest.mark.gl


def _corner(image) -> np.ndarray:
    return image_to_array(image)[3, 3, :3].astype(int)


def test_light_and_dark_themes_restyle_everything(window, qtbot):
    assert window.theme_choice == "system"  # Xvfb has no colour scheme: dark
    assert theme.active is theme.DARK
    window.set_theme("light")
    qtbot.wait(100)
    pal = QApplication.instance().palette()
    assert pal.color(QPalette.ColorRole.Window).name() == theme.LIGHT.window
    assert (_corner(window.surface_view.grabFramebuffer()) > 245).all()
    assert (_corner(window.contour_view.grab().toImage()) > 245).all()
    axis = window.loss_plot.getPlotItem().getAxis("bottom")
    assert axis.textPen().color().name() == theme.LIGHT.text
    window.set_theme("dark")
    qtbot.wait(100)
    assert (_corner(window.surface_view.grabFramebuffer()) < 40).all()
    assert (_corner(window.contour_view.grab().toImage()) < 40).all()
    assert QApplication.instance().palette().color(
        QPalette.ColorRole.Window).name() == theme.DARK.window
    with pytest.raises(ValueError, match="unknown theme"):
        window.set_theme("sepia")


def test_every_control_in_the_docks_explains_itself(window):
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QDockWidget,
        QLineEdit,
        QSlider,
    )

    missing = []
    for dock in window.findChildren(QDockWidget):
        controls = [w for kind in (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit,
                                   QSlider) for w in dock.widget().findChildren(kind)]
        for w in controls:
            if w.objectName().startswith(("qt_", "Scroll")) or (
                    isinstance(w, QLineEdit)
                    and isinstance(w.parent(), (QAbstractSpinBox, QComboBox))):
                continue  # Qt's own parts: corner buttons, tab scrollers, inner editors
            # a tooltip shows for a control or, when it has none, for the nearest parent
            # that has one (Qt passes the event up): a slider inside a labelled field
            owner = w
            while owner is not None and owner is not dock and not owner.toolTip().strip():
                owner = owner.parentWidget()
            if owner is None or owner is dock:
                missing.append(f"{dock.windowTitle()}: {type(w).__name__} "
                               f"{w.objectName() or getattr(w, 'text', lambda: '')()!r}")
    assert not missing, "\n".join(missing)
